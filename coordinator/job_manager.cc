#include "coordinator/job_manager.h"

#include <algorithm>
#include <filesystem>

#include "common/checkpoint/metadata.h"
#include "common/keys.h"
#include "common/metrics.h"
#include "common/rpc/graph.h"
#include "common/rpc/job_files.h"
#include "coordinator/job_manager_internal.h"
#include "coordinator/planner.h"

namespace weir::coordinator {

namespace fs = std::filesystem;

// ---------------------------------------------------------------- setup

JobManager::JobManager(ManagerOptions options, std::unique_ptr<Registry> registry)
    : options_(std::move(options)), registry_(std::move(registry)) {
  if (!options_.clock) options_.clock = SystemClock::Get();
}

JobManager::~JobManager() = default;

Result<std::unique_ptr<JobManager>> JobManager::Create(ManagerOptions options) {
  std::error_code ec;
  fs::create_directories(options.data_dir, ec);
  if (ec)
    return Status::Unavailable("cannot create the data directory " + options.data_dir + ": " +
                               ec.message());
  if (options.checkpoint_storage.empty())
    options.checkpoint_storage =
        "file://" + (fs::absolute(options.data_dir) / "checkpoints").string();
  WEIR_ASSIGN_OR_RETURN(auto registry,
                        Registry::Open((fs::path(options.data_dir) / "registry").string()));
  std::unique_ptr<JobManager> m(new JobManager(std::move(options), std::move(registry)));
  WEIR_RETURN_IF_ERROR(m->Load());
  return m;
}

void JobManager::Log(const std::string& m, const log::Fields& fields, log::Level level) const {
  if (options_.log) options_.log(level, m, fields);
}

Status JobManager::PlanJob(Job& j, int parallelism) {
  PlanOptions po;
  po.parallelism_override = parallelism;
  WEIR_ASSIGN_OR_RETURN(j.plan, Plan(*j.spec, po));
  j.graph = rpc::ToProto(j.plan);
  j.rec.set_parallelism(parallelism);
  return Status::OK();
}

Status JobManager::Load() {
  WEIR_ASSIGN_OR_RETURN(auto stored, registry_->LoadAll());
  const int64_t now = options_.clock->NowMillis();
  for (auto& rec : stored) {
    auto j = std::make_unique<Job>();
    j->rec = rec;
    if (rec.state() == v1::JOB_STATE_CANCELLING) {
      // Its tasks died with the old coordinator's sessions: the cancel is done.
      SetState(*j, v1::JOB_STATE_CANCELLED, "cancelled (completed after a coordinator restart)");
    } else if (!Terminal(rec.state())) {
      auto files = rpc::FromProto(rec.files());
      spec::LoadResult loaded;
      if (files.ok()) loaded = spec::ParseResolvedJob(rec.job_yaml(), rec.file_name(), *files);
      Status st =
          !files.ok() ? files.status()
          : loaded.job
              ? Status::OK()
              : Status::InvalidArgument(FormatDiagnostics(rec.file_name(), loaded.diagnostics));
      if (st.ok()) {
        j->spec = std::move(loaded.job);
        st = PlanJob(*j, rec.parallelism());
      }
      if (st.ok() && j->spec->checkpoint.mode != spec::CheckpointMode::kNone) {
        auto storage = OpenStorage(*j->spec);
        if (storage.ok())
          j->storage = std::move(storage).value();
        else
          st = storage.status();
      }
      if (!st.ok()) {
        j->rec.set_failure("cannot resume after a coordinator restart: " + st.message());
        SetState(*j, v1::JOB_STATE_FAILED, j->rec.failure());
      } else {
        j->restart_at_ms = now;
        if (j->storage) {
          auto latest = RestorePathFor(*j);
          if (latest.ok() && !latest->empty()) {
            auto id = checkpoint::CheckpointStorage::ReadId(*latest);
            if (id.ok()) {
              j->last_completed_id = *id;
              j->last_completed_path = *latest;
            }
          }
        }
        SetState(*j, v1::JOB_STATE_RESTARTING,
                 "coordinator restarted: resuming from the latest checkpoint");
      }
    }
    jobs_[rec.id()] = std::move(j);
  }
  if (!jobs_.empty()) Log("loaded " + std::to_string(jobs_.size()) + " job(s) from the registry");
  return Status::OK();
}

// ---------------------------------------------------------------- helpers

JobManager::Job* JobManager::Find(const std::string& id) const {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : it->second.get();
}

void JobManager::Event(Job& j, const std::string& message, log::Fields fields, log::Level level) {
  v1::JobEvent ev;
  ev.set_time_ms(options_.clock->NowMillis());
  ev.set_message(message);
  *ev.mutable_job() = ToProto(j);
  j.events.push_back(std::move(ev));
  while (j.events.size() > 1000) {
    j.events.pop_front();
    j.events_base++;
  }
  fields.insert(fields.begin(), {"job", j.rec.id()});
  fields.emplace_back("attempt", std::to_string(j.rec.attempt()));
  Log(message, fields, level);
  cv_.notify_all();
}

void JobManager::Persist(Job& j) {
  Status st = registry_->Put(j.rec);
  if (!st.ok()) Log("job " + j.rec.id() + ": " + st.message());
}

void JobManager::SetState(Job& j, v1::JobState s, const std::string& message) {
  j.rec.set_state(s);
  j.rec.set_state_changed_ms(options_.clock->NowMillis());
  Persist(j);
  const bool bad = s == v1::JOB_STATE_RESTARTING || s == v1::JOB_STATE_FAILED;
  Event(j, StateName(s) + (message.empty() ? "" : ": " + message), {},
        bad ? log::Level::kWarn : log::Level::kInfo);
}

void JobManager::SendTo(const std::string& worker, const v1::CoordinatorMessage& m) {
  auto it = workers_.find(worker);
  if (it != workers_.end() && it->second->alive && it->second->link) it->second->link->Send(m);
}

int JobManager::FreeSlots(const std::string& worker) const {
  auto it = workers_.find(worker);
  if (it == workers_.end() || !it->second->alive) return 0;
  int used = 0;
  for (const auto& [id, j] : jobs_)
    if (j->deployed)
      if (auto s = j->slots_on.find(worker); s != j->slots_on.end()) used += s->second;
  return it->second->slots - used;
}

v1::Job JobManager::ToProto(const Job& j) const {
  v1::Job p;
  p.set_id(j.rec.id());
  p.set_state(j.rec.state());
  p.set_parallelism(j.spec ? (j.rec.parallelism() > 0 ? j.rec.parallelism() : j.spec->parallelism)
                           : j.rec.parallelism());
  p.set_submitted_ms(j.rec.submitted_ms());
  p.set_state_changed_ms(j.rec.state_changed_ms());
  p.set_restarts(j.rec.restarts());
  p.set_attempt(j.rec.attempt());
  p.set_failure(j.rec.failure());
  p.set_last_checkpoint_id(j.last_completed_id);
  p.set_last_checkpoint_path(j.last_completed_path);
  p.set_file_name(j.rec.file_name());
  p.set_savepoint_path(j.rec.savepoint_path());
  *p.mutable_graph() = j.graph;
  for (const auto& t : j.placement) *p.add_tasks() = t;
  int64_t wm = 0;
  bool any_sink = false;
  for (const auto& [w, pr] : j.progress) {
    if (pr.attempt() != j.rec.attempt()) continue;
    p.set_records_in(p.records_in() + pr.records_in());
    p.set_records_out(p.records_out() + pr.records_out());
    p.set_skipped(p.skipped() + pr.skipped());
    if (pr.has_sinks()) {
      wm = any_sink ? std::min(wm, pr.watermark_ms()) : pr.watermark_ms();
      any_sink = true;
    }
  }
  p.set_watermark_ms(any_sink && wm > 0 ? wm : 0);
  DescribePending(j, p.mutable_pending_checkpoint());
  if (!j.pending) p.clear_pending_checkpoint();
  return p;
}

Result<std::string> JobManager::RestorePathFor(Job& j) {
  if (j.storage) {
    WEIR_ASSIGN_OR_RETURN(auto all, j.storage->List());
    for (auto it = all.rbegin(); it != all.rend(); ++it)
      if (it->id >= j.rec.first_checkpoint_id()) return it->path;
  }
  return j.rec.from_savepoint();
}

// ---------------------------------------------------------------- deploy

bool JobManager::TryDeploy(Job& j) {
  int need = 0;
  for (const auto& v : j.plan.vertices) need = std::max(need, v.parallelism);
  // Slots: round robin over the workers with free slots, most free first.
  std::vector<std::pair<std::string, int>> free;
  int total = 0;
  for (const auto& [id, w] : workers_) {
    int f = FreeSlots(id);
    if (f > 0) {
      free.push_back({id, f});
      total += f;
    }
  }
  if (total < need) {
    if (j.rec.state() != v1::JOB_STATE_PENDING && j.rec.state() != v1::JOB_STATE_RESTARTING)
      SetState(j, v1::JOB_STATE_PENDING, "");
    if (j.stop_reason != "slots") {
      j.stop_reason = "slots";
      Event(j, "waiting for " + std::to_string(need) + " free slots (" + std::to_string(total) +
                   " free)");
    }
    return false;
  }
  std::stable_sort(free.begin(), free.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<std::string> slot_worker;
  while (static_cast<int>(slot_worker.size()) < need) {
    for (auto& [id, f] : free) {
      if (f == 0 || static_cast<int>(slot_worker.size()) == need) continue;
      slot_worker.push_back(id);
      --f;
    }
  }
  auto restore = RestorePathFor(j);
  if (!restore.ok()) {
    j.rec.set_failure(restore.status().message());
    SetState(j, v1::JOB_STATE_FAILED, restore.status().message());
    return false;
  }
  j.stop_reason.clear();
  j.rec.set_attempt(j.rec.attempt() + 1);
  j.placement.clear();
  j.slots_on.clear();
  j.workers.clear();
  j.ready.clear();
  j.finished.clear();
  j.exited.clear();
  j.progress.clear();
  j.pending.reset();
  j.final_id = 0;
  j.released = false;
  const int maxp = j.spec->max_parallelism;
  std::set<std::pair<std::string, int>> slots_used;
  for (const auto& v : j.plan.vertices) {
    for (int s = 0; s < v.parallelism; ++s) {
      v1::TaskPlacement t;
      t.set_vertex(v.id);
      t.set_vertex_name(v.name);
      t.set_subtask(s);
      t.set_worker_id(slot_worker[static_cast<size_t>(s)]);
      if (v.keyed) {
        KeyGroupRange r = KeyGroupRangeFor(s, v.parallelism, maxp);
        t.set_key_group_first(r.start);
        t.set_key_group_last(r.end);
      }
      j.placement.push_back(t);
      j.workers.insert(t.worker_id());
      slots_used.insert({t.worker_id(), s});
    }
  }
  for (const auto& [w, s] : slots_used) j.slots_on[w]++;
  if (j.storage) {
    int64_t next = std::max<int64_t>(1, j.rec.first_checkpoint_id());
    auto all = j.storage->List();
    if (all.ok())
      for (const auto& c : *all) next = std::max(next, c.id + 1);
    j.next_checkpoint_id = next;
    // A checkpoint that a crashed coordinator left incomplete may hold this
    // id's directory, with parts of workers that are not in this attempt.
    j.storage->Discard(next, false);
    j.storage->Discard(next, true);
  }
  v1::CoordinatorMessage m;
  v1::DeployJob* d = m.mutable_deploy();
  d->set_job_id(j.rec.id());
  d->set_attempt(j.rec.attempt());
  d->set_job_yaml(j.rec.job_yaml());
  d->set_file_name(j.rec.file_name());
  *d->mutable_files() = j.rec.files();
  *d->mutable_graph() = j.graph;
  for (const auto& t : j.placement) *d->add_tasks() = t;
  for (const auto& w : j.workers) {
    v1::Peer* p = d->add_peers();
    p->set_worker_id(w);
    p->set_address(workers_.at(w)->address);
  }
  if (j.storage)
    d->set_checkpoint_storage(j.spec->checkpoint.storage.empty() ? options_.checkpoint_storage
                                                                 : j.spec->checkpoint.storage);
  d->set_restore_path(*restore);
  for (const auto& w : j.workers) SendTo(w, m);
  j.deployed = true;
  j.stopping = false;
  j.last_trigger_ms = options_.clock->NowMillis();
  j.deployed_ms = j.last_trigger_ms;
  std::string where;
  for (const auto& w : j.workers) where += (where.empty() ? "" : ", ") + w;
  SetState(j, v1::JOB_STATE_RUNNING,
           "attempt " + std::to_string(j.rec.attempt()) + " on " + where +
               (restore->empty() ? std::string(" from the beginning") : " restoring " + *restore));
  return true;
}

// ---------------------------------------------------------------- stopping

void JobManager::StopAttempt(Job& j, Then then, const std::string& why) {
  if (j.stopping) return;
  j.then = then;
  if (j.pending) {
    if (j.storage) j.storage->Discard(j.pending->id, j.pending->savepoint);
    j.pending.reset();
  }
  if (j.sp && !j.sp->done && then != Then::kCancel && then != Then::kRescale) {
    j.sp->done = true;
    j.sp->status = Status::Aborted("the job stopped before the savepoint completed: " + why);
    cv_.notify_all();
  }
  if (!j.deployed) {
    AfterStop(j);
    return;
  }
  j.stopping = true;
  const bool drain = then == Then::kCancel || then == Then::kRescale;
  v1::CoordinatorMessage m;
  m.mutable_cancel()->set_job_id(j.rec.id());
  m.mutable_cancel()->set_attempt(j.rec.attempt());
  if (drain) m.mutable_cancel()->set_drain_commits_ms(kDrainCommitsMs);
  for (const auto& w : j.workers)
    if (!j.exited.count(w)) SendTo(w, m);
  if (then == Then::kRestart) {
    j.rec.set_failure(why);
    SetState(j, v1::JOB_STATE_RESTARTING, why);
  } else if (then == Then::kFail) {
    j.rec.set_failure(why);
    Event(j, why + " (not worth a restart)");
  } else if (then == Then::kCancel) {
    SetState(j, v1::JOB_STATE_CANCELLING, why);
  } else {
    Event(j, why);
  }
}

void JobManager::AfterStop(Job& j) {
  j.deployed = false;
  j.stopping = false;
  j.slots_on.clear();
  const int64_t now = options_.clock->NowMillis();
  switch (j.then) {
    case Then::kRestart: {
      const auto& rs = j.spec->restart;
      if (!j.checkpointing()) {
        SetState(j, v1::JOB_STATE_FAILED,
                 j.rec.failure() + " (no restart: the job has checkpoint.mode none)");
        return;
      }
      if (j.rec.failures() >= rs.attempts) {
        SetState(
            j, v1::JOB_STATE_FAILED,
            j.rec.failure() + " (out of restart attempts: " + std::to_string(rs.attempts) + ")");
        return;
      }
      j.rec.set_failures(j.rec.failures() + 1);
      j.rec.set_restarts(j.rec.restarts() + 1);
      j.restart_at_ms = now + rs.delay_ms;
      SetState(j, v1::JOB_STATE_RESTARTING,
               "restart " + std::to_string(j.rec.failures()) + " of " +
                   std::to_string(rs.attempts) + " in " + std::to_string(rs.delay_ms) + " ms");
      return;
    }
    case Then::kCancel:
      SetState(j, v1::JOB_STATE_CANCELLED, "");
      return;
    case Then::kRescale: {
      Status st = PlanJob(j, j.rescale_to);
      if (!st.ok()) {
        j.rec.set_failure("rescale: " + st.message());
        SetState(j, v1::JOB_STATE_FAILED, j.rec.failure());
        return;
      }
      j.restart_at_ms = now;
      SetState(j, v1::JOB_STATE_RESTARTING,
               "rescaling to parallelism " + std::to_string(j.rescale_to));
      return;
    }
    case Then::kFinish:
      SetState(j, v1::JOB_STATE_FINISHED, "");
      return;
    case Then::kFail:
      SetState(j, v1::JOB_STATE_FAILED, j.rec.failure());
      return;
  }
}

void JobManager::OnTaskEvent(Job& j, const std::string& worker, const v1::TaskEvent& ev) {
  if (ev.attempt() != j.rec.attempt() || !j.deployed) return;
  if (ev.has_progress() && ev.progress().attempt() == j.rec.attempt())
    j.progress[worker] = ev.progress();
  switch (ev.kind()) {
    case v1::TaskEvent::KIND_READY:
      j.ready.insert(worker);
      return;
    case v1::TaskEvent::KIND_FINISHED:
      j.finished.insert(worker);
      return;
    case v1::TaskEvent::KIND_FAILED:
      StopAttempt(j, ev.permanent() ? Then::kFail : Then::kRestart,
                  "worker " + worker + ": " + ev.message());
      return;
    case v1::TaskEvent::KIND_EXITED:
      j.exited.insert(worker);
      if (j.stopping) return;  // Tick completes the stop
      if (j.exited.size() == j.workers.size() && (j.released || !j.checkpointing())) {
        j.then = Then::kFinish;
        j.stopping = true;
        return;
      }
      if (!j.released && j.checkpointing())
        StopAttempt(j, Then::kRestart, "worker " + worker + " ended its tasks unexpectedly");
      return;
    default:
      return;
  }
}

// ---------------------------------------------------------------- workers

int64_t JobManager::WorkerRegistered(const v1::RegisterWorker& r,
                                     std::shared_ptr<WorkerLink> link) {
  std::lock_guard lock(mu_);
  auto& w = workers_[r.worker_id()];
  if (!w) w = std::make_unique<Worker>();
  if (w->alive) LoseWorker(*w, "it registered again");
  const int64_t now = options_.clock->NowMillis();
  w->id = r.worker_id();
  w->address = r.address();
  w->slots = r.slots();
  w->alive = true;
  w->last_heartbeat_ms = now;
  w->registered_ms = now;
  w->token = next_token_++;
  w->link = std::move(link);
  v1::CoordinatorMessage m;
  m.mutable_registered()->set_heartbeat_interval_ms(options_.heartbeat_interval_ms);
  m.mutable_registered()->set_fence_after_ms(fence_after_ms());
  w->link->Send(m);
  Log("worker registered: " + w->address + ", " + std::to_string(w->slots) + " slots",
      {{"worker", w->id}});
  return w->token;
}

void JobManager::LoseWorker(Worker& w, const std::string& why) {
  if (!w.alive) return;
  w.alive = false;
  if (w.link) w.link->Close();
  w.link.reset();
  Log("worker lost: " + why, {{"worker", w.id}}, log::Level::kWarn);
  for (auto& [id, j] : jobs_) {
    if (!j->deployed || !j->workers.count(w.id)) continue;
    j->exited.insert(w.id);  // its tasks are gone (or fence themselves)
    if (!j->stopping) StopAttempt(*j, Then::kRestart, "worker " + w.id + " lost: " + why);
  }
}

void JobManager::WorkerMessage(int64_t token, const v1::WorkerMessage& m) {
  std::lock_guard lock(mu_);
  Worker* w = nullptr;
  for (auto& [id, x] : workers_)
    if (x->token == token && x->alive) w = x.get();
  if (!w) return;
  w->last_heartbeat_ms = options_.clock->NowMillis();
  switch (m.msg_case()) {
    case v1::WorkerMessage::kHeartbeat: {
      for (const auto& p : m.heartbeat().progress())
        if (Job* j = Find(p.job_id()); j && p.attempt() == j->rec.attempt()) j->progress[w->id] = p;
      v1::CoordinatorMessage ack;
      ack.mutable_heartbeat_ack()->set_time_ms(w->last_heartbeat_ms);
      w->link->Send(ack);
      return;
    }
    case v1::WorkerMessage::kTaskEvent:
      if (Job* j = Find(m.task_event().job_id())) OnTaskEvent(*j, w->id, m.task_event());
      return;
    case v1::WorkerMessage::kCheckpointAck:
      if (Job* j = Find(m.checkpoint_ack().job_id())) OnAck(*j, w->id, m.checkpoint_ack());
      return;
    default:
      return;
  }
}

void JobManager::WorkerGone(int64_t token, const std::string& why) {
  std::lock_guard lock(mu_);
  for (auto& [id, w] : workers_)
    if (w->token == token) LoseWorker(*w, why);
}

// ---------------------------------------------------------------- timer

void JobManager::Tick() {
  std::lock_guard lock(mu_);
  const int64_t now = options_.clock->NowMillis();
  for (auto& [id, w] : workers_)
    if (w->alive && now - w->last_heartbeat_ms > options_.heartbeat_timeout_ms)
      LoseWorker(*w, "no heartbeat for " + std::to_string(now - w->last_heartbeat_ms) + " ms");
  for (auto& [id, jp] : jobs_) {
    Job& j = *jp;
    if (Terminal(j.rec.state())) continue;
    if (j.stopping) {
      bool all = true;
      for (const auto& w : j.workers) {
        auto it = workers_.find(w);
        const bool gone = it == workers_.end() || !it->second->alive;
        if (!gone && !j.exited.count(w)) all = false;
      }
      if (all) AfterStop(j);
      continue;
    }
    if (!j.deployed) {
      if (now >= j.restart_at_ms) TryDeploy(j);
      continue;
    }
    if (j.ready.size() < j.workers.size() && now - j.deployed_ms > kStartTimeoutMs) {
      StopAttempt(j, Then::kRestart,
                  "the workers did not start attempt " + std::to_string(j.rec.attempt()) +
                      " within " + std::to_string(kStartTimeoutMs / 1000) + " s");
      continue;
    }
    if (!j.checkpointing()) continue;
    WarnIfStuck(j, now);
    if (j.pending && now - j.pending->started_ms > j.spec->checkpoint.timeout_ms) {
      CheckpointFailed(j,
                       "timed out after " + std::to_string(j.spec->checkpoint.timeout_ms) + " ms");
      continue;
    }
    if (j.pending || j.ready.size() < j.workers.size() || j.final_id != 0) continue;
    if (j.finished.size() == j.workers.size()) {
      if (auto cid = Trigger(j, false, "final")) j.final_id = *cid;
    } else if (j.sp && !j.sp->done && j.sp->checkpoint_id == 0) {
      if (auto cid = Trigger(j, true, j.sp->purpose)) j.sp->checkpoint_id = *cid;
    } else if (j.spec->checkpoint.interval_ms > 0 &&
               now - j.last_trigger_ms >= j.spec->checkpoint.interval_ms) {
      Trigger(j, false, "");
    }
  }
}

std::string JobManager::RenderMetrics() const {
  std::lock_guard lock(mu_);
  Metrics m;
  int alive = 0, lost = 0, slots = 0, used = 0;
  for (const auto& [id, w] : workers_) {
    if (w->alive) {
      ++alive;
      slots += w->slots;
      used += w->slots - FreeSlots(id);
    } else {
      ++lost;
    }
  }
  m.Gauge("weir_workers", "Registered workers by status", {{"status", "alive"}}, alive);
  m.Gauge("weir_workers", "Registered workers by status", {{"status", "lost"}}, lost);
  m.Gauge("weir_slots", "Task slots of the live workers", {{"use", "total"}}, slots);
  m.Gauge("weir_slots", "Task slots of the live workers", {{"use", "used"}}, used);
  m.Counter("weir_checkpoint_storage_errors_total",
            "Checkpoint storage housekeeping that failed (retention, garbage collection, "
            "removing an incomplete checkpoint); each is logged with its cause",
            {}, static_cast<double>(checkpoint::CheckpointStorage::HousekeepingErrors()));
  for (const auto& [id, jp] : jobs_) {
    const Job& j = *jp;
    const Labels l = {{"job", id}};
    for (int s = v1::JOB_STATE_PENDING; s <= v1::JOB_STATE_FAILED; ++s) {
      Labels sl = l;
      sl.emplace_back("state", StateName(static_cast<v1::JobState>(s)));
      m.Gauge("weir_job_state", "1 for the job's current state", sl, j.rec.state() == s ? 1 : 0);
    }
    m.Counter("weir_job_restarts_total", "Restarts of the job after failures", l, j.rec.restarts());
    const v1::Job p = ToProto(j);
    m.Gauge("weir_job_records_in", "Rows read by the current attempt's sources", l,
            static_cast<double>(p.records_in()));
    m.Gauge("weir_job_records_out", "Rows written by the current attempt's sinks", l,
            static_cast<double>(p.records_out()));
    if (!j.storage) continue;
    m.Counter("weir_checkpoints_completed_total", "Checkpoints and savepoints completed", l,
              static_cast<double>(j.checkpoints_completed));
    m.Counter("weir_checkpoint_failures_total", "Checkpoints that failed or timed out", l,
              static_cast<double>(j.checkpoint_failures));
    m.Gauge("weir_checkpoint_last_duration_seconds", "Trigger to completion of the last checkpoint",
            l, static_cast<double>(j.last_checkpoint_ms) / 1000.0);
    m.Gauge("weir_checkpoint_last_size_bytes", "Stored bytes the last checkpoint references", l,
            static_cast<double>(j.last_checkpoint_bytes));
    m.Gauge("weir_checkpoint_last_id", "Id of the last completed checkpoint", l,
            static_cast<double>(j.last_completed_id));
    v1::PendingCheckpoint pending;
    const bool in_flight = DescribePending(j, &pending);
    m.Gauge("weir_checkpoint_pending_seconds",
            "Age of the checkpoint in flight (0: none); one stuck shows long before "
            "checkpoint.timeout",
            l, in_flight ? static_cast<double>(pending.age_ms()) / 1000.0 : 0);
    m.Gauge("weir_checkpoint_pending_waiting",
            "Subtasks (or workers) that have not yet acknowledged the checkpoint in flight", l,
            static_cast<double>(pending.waiting_for_size()));
  }
  return m.Render();
}

}  // namespace weir::coordinator
