// The job manager's checkpoints: triggering, gathering the workers' shares,
// completing or failing (coordinator/job_manager.h for the protocol).
#include <filesystem>

#include "common/checkpoint/metadata.h"
#include "coordinator/job_manager_internal.h"

namespace weir::coordinator {

namespace fs = std::filesystem;

// ---------------------------------------------------------------- checkpoints

std::optional<int64_t> JobManager::Trigger(Job& j, bool savepoint, const std::string& purpose) {
  if (!j.storage || j.pending || !j.deployed || j.stopping) return std::nullopt;
  Job::Pending p;
  p.id = j.next_checkpoint_id++;
  p.savepoint = savepoint;
  p.started_ms = options_.clock->NowMillis();
  p.purpose = purpose;
  j.pending = p;
  j.last_trigger_ms = p.started_ms;
  v1::CoordinatorMessage m;
  auto* t = m.mutable_trigger();
  t->set_job_id(j.rec.id());
  t->set_attempt(j.rec.attempt());
  t->set_checkpoint_id(p.id);
  t->set_savepoint(savepoint);
  for (const auto& w : j.workers) SendTo(w, m);
  return p.id;
}

void JobManager::CheckpointFailed(Job& j, const std::string& why) {
  if (!j.pending) return;
  j.checkpoint_failures++;
  const int64_t id = j.pending->id;
  j.storage->Discard(id, j.pending->savepoint);
  v1::CoordinatorMessage m;
  auto* d = m.mutable_checkpoint_done();
  d->set_job_id(j.rec.id());
  d->set_attempt(j.rec.attempt());
  d->set_checkpoint_id(id);
  d->set_ok(false);
  for (const auto& w : j.workers) SendTo(w, m);
  j.pending.reset();
  if (j.sp && !j.sp->done && j.sp->checkpoint_id == id) {
    j.sp->done = true;
    j.sp->status = Status::Aborted("savepoint " + std::to_string(id) + " failed: " + why);
    cv_.notify_all();
  }
  // As with one process: a failed checkpoint fails the attempt, so no sink
  // holds prepared data that no checkpoint will commit.
  StopAttempt(j, Then::kRestart, "checkpoint " + std::to_string(id) + " failed: " + why);
}

void JobManager::OnAck(Job& j, const std::string& worker, const v1::CheckpointAck& ack) {
  if (ack.attempt() != j.rec.attempt() || !j.pending || j.pending->id != ack.checkpoint_id() ||
      j.stopping)
    return;
  if (!ack.ok()) {
    CheckpointFailed(j, "worker " + worker + ": " + ack.error());
    return;
  }
  j.pending->shares[worker] = ack.share();
  if (j.pending->shares.size() < j.workers.size()) return;

  // Every share is in: the metadata, then completion.
  Job::Pending p = std::move(*j.pending);
  checkpoint::CheckpointMetadata meta;
  meta.id = p.id;
  meta.savepoint = p.savepoint;
  meta.job = j.spec->name;
  meta.max_parallelism = j.spec->max_parallelism;
  for (const auto& [w, bytes] : p.shares) {
    auto share = checkpoint::CheckpointMetadata::Decode(bytes);
    if (!share.ok()) {
      CheckpointFailed(j, "worker " + w + " sent a malformed share: " + share.status().message());
      return;
    }
    for (auto& t : share->tasks) meta.tasks.push_back(std::move(t));
    for (auto& d : share->db_parts) meta.db_parts.push_back(std::move(d));
  }
  meta.completed_ms = SystemClock::Get()->NowMillis();
  Status st = j.storage->Complete(p.id, p.savepoint, meta.Encode(), meta.completed_ms);
  if (!st.ok()) {
    CheckpointFailed(j, st.message());
    return;
  }
  j.pending.reset();
  const std::string path = (fs::path(j.storage->job_dir()) /
                            ((p.savepoint ? "savepoint-" : "chk-") + std::to_string(p.id)))
                               .string();
  j.last_completed_id = p.id;
  j.last_completed_path = path;
  j.checkpoints_completed++;
  j.last_checkpoint_ms = options_.clock->NowMillis() - p.started_ms;
  if (auto all = j.storage->List(); all.ok())
    for (const auto& c : *all)
      if (c.id == p.id) j.last_checkpoint_bytes = c.bytes;
  v1::CoordinatorMessage m;
  auto* d = m.mutable_checkpoint_done();
  d->set_job_id(j.rec.id());
  d->set_attempt(j.rec.attempt());
  d->set_checkpoint_id(p.id);
  d->set_ok(true);
  for (const auto& w : j.workers) SendTo(w, m);
  if (p.savepoint) {
    j.rec.set_savepoint_path(path);
    Persist(j);
  }
  Event(j,
        std::string(p.savepoint ? "savepoint " : "checkpoint ") + std::to_string(p.id) +
            " completed in " + std::to_string(options_.clock->NowMillis() - p.started_ms) +
            " ms: " + path,
        {{"checkpoint", std::to_string(p.id)}});
  if (j.sp && !j.sp->done && j.sp->checkpoint_id == p.id) {
    j.sp->done = true;
    j.sp->path = path;
    cv_.notify_all();
  }
  if (p.purpose == "final") {
    v1::CoordinatorMessage r;
    r.mutable_release()->set_job_id(j.rec.id());
    r.mutable_release()->set_attempt(j.rec.attempt());
    for (const auto& w : j.workers) SendTo(w, r);
    j.released = true;
  } else if (p.purpose == "cancel") {
    StopAttempt(j, Then::kCancel, "cancelled after savepoint " + std::to_string(p.id));
  } else if (p.purpose == "rescale") {
    j.rescale_to = j.sp ? j.sp->rescale_to : j.rescale_to;
    StopAttempt(j, Then::kRescale, "savepoint " + std::to_string(p.id) + " taken for the rescale");
  }
}

bool JobManager::DescribePending(const Job& j, v1::PendingCheckpoint* out) const {
  if (!j.pending) return false;
  const Job::Pending& p = *j.pending;
  out->set_id(p.id);
  out->set_age_ms(options_.clock->NowMillis() - p.started_ms);
  out->set_savepoint(p.savepoint);
  for (const auto& w : j.workers) {
    if (p.shares.count(w)) continue;
    auto it = j.progress.find(w);
    if (it == j.progress.end() || it->second.checkpoint_pending() != p.id) {
      out->add_waiting_for(w + " (no report yet)");
    } else if (it->second.checkpoint_unacked_size() == 0) {
      out->add_waiting_for(w + " (uploading state)");
    } else {
      for (const auto& t : it->second.checkpoint_unacked()) out->add_waiting_for(t + " on " + w);
    }
  }
  return true;
}

void JobManager::WarnIfStuck(Job& j, int64_t now) {
  if (!j.pending || j.pending->warned) return;
  const int64_t after = std::max<int64_t>(5'000, 5 * j.spec->checkpoint.interval_ms);
  if (now - j.pending->started_ms < after) return;
  j.pending->warned = true;
  v1::PendingCheckpoint p;
  DescribePending(j, &p);
  std::string who;
  for (const auto& w : p.waiting_for()) who += (who.empty() ? "" : ", ") + w;
  Log("checkpoint " + std::to_string(p.id()) + " pending for " + std::to_string(p.age_ms()) +
          " ms (interval " + std::to_string(j.spec->checkpoint.interval_ms) + " ms, timeout " +
          std::to_string(j.spec->checkpoint.timeout_ms) + " ms), waiting for " +
          (who.empty() ? "nothing" : who),
      {{"job", j.rec.id()}, {"checkpoint", std::to_string(p.id())}}, log::Level::kWarn);
}

}  // namespace weir::coordinator
