#include "worker/runtime/checkpointer.h"

#include <filesystem>

#include "common/bytes.h"
#include "worker/runtime/crash_point.h"

namespace weir::runtime {

namespace fs = std::filesystem;

// ---------------------------------------------------------------- Checkpointer

struct Checkpointer::Pending {
  int64_t id = 0;
  bool savepoint = false;
  int64_t started_ms = 0;
  std::vector<std::optional<TaskSnapshot>> acks;
  int acked = 0;
  int running_acked = 0;  // acks of tasks that were running (they wait)
  bool state_taken = false;
  std::string local_dir;  // the database's local checkpoint
};

Checkpointer::Checkpointer(std::string job, int max_parallelism, int num_tasks,
                           state::RocksDbStore* store,
                           std::unique_ptr<checkpoint::CheckpointStorage> storage,
                           std::string scratch_dir, int64_t first_id, const Clock* clock)
    : job_(std::move(job)),
      max_parallelism_(max_parallelism),
      num_tasks_(num_tasks),
      store_(store),
      storage_(std::move(storage)),
      scratch_dir_(std::move(scratch_dir)),
      clock_(clock),
      next_id_(first_id),
      finished_(static_cast<size_t>(num_tasks), false),
      running_(num_tasks) {
  uploader_ = std::thread([this] { UploadLoop(); });
}

Checkpointer::~Checkpointer() {
  Shutdown();
  if (uploader_.joinable()) uploader_.join();
}

void Checkpointer::SetListener(std::function<void(const CheckpointEvent&)> listener) {
  std::lock_guard lock(mu_);
  listener_ = std::move(listener);
}

void Checkpointer::TaskReady(int task) {
  std::lock_guard lock(mu_);
  ++ready_;
}

std::optional<int64_t> Checkpointer::Trigger(bool savepoint) {
  std::lock_guard lock(mu_);
  if (shutdown_ || pending_ || ready_ < num_tasks_) return std::nullopt;
  // Uploads of earlier checkpoints may still run; their state was taken.
  StartPending(next_id_, savepoint);
  return pending_->id;
}

int64_t Checkpointer::triggered_id() const {
  std::lock_guard lock(mu_);
  return triggered_;
}

int64_t Checkpointer::completed_id() const {
  std::lock_guard lock(mu_);
  return completed_;
}

bool Checkpointer::pending() const {
  std::lock_guard lock(mu_);
  return pending_ != nullptr || !upload_queue_.empty();
}

bool Checkpointer::all_finished() const {
  std::lock_guard lock(mu_);
  return running_ == 0;
}

PendingStatus Checkpointer::InFlight() const {
  std::lock_guard lock(mu_);
  PendingStatus st;
  if (pending_) {
    st.id = pending_->id;
    st.started_ms = pending_->started_ms;
    for (size_t t = 0; t < pending_->acks.size(); ++t)
      if (!pending_->acks[t]) st.unacked.push_back(static_cast<int>(t));
  } else if (uploading_.id != 0) {
    st = uploading_;
  } else if (!upload_queue_.empty()) {
    st.id = upload_queue_.front()->id;
    st.started_ms = upload_queue_.front()->started_ms;
    st.uploading = true;
  }
  return st;
}

bool Checkpointer::any_finished() const {
  std::lock_guard lock(mu_);
  return running_ < num_tasks_;
}

bool Checkpointer::Ack(int task, int64_t id, TaskSnapshot snapshot, bool finished) {
  std::unique_lock lock(mu_);
  // On a cluster a barrier can overtake the trigger: a consumer whose local
  // inputs have ended aligns on the barriers of another worker's sources,
  // which got the coordinator's trigger first. Its ack belongs to `id`, which
  // this process has not started yet: wait for the trigger (the coordinator
  // sent it to every worker at once, and a cancel ends the wait).
  cv_.wait(lock, [&] { return shutdown_ || triggered_ >= id; });
  if (shutdown_) return false;
  if (!pending_ || pending_->id != id) return true;  // abandoned
  auto& slot = pending_->acks[static_cast<size_t>(task)];
  if (slot) return true;  // acked already
  slot = std::move(snapshot);
  ++pending_->acked;
  if (!finished) ++pending_->running_acked;
  MaybeSnapshotState();
  MaybeFinish();
  if (finished) return true;
  // A running task waits until the state snapshot of `id` has been taken.
  cv_.wait(lock,
           [&] { return shutdown_ || !pending_ || pending_->id != id || pending_->state_taken; });
  return !shutdown_;
}

void Checkpointer::TaskFinished(int task) {
  std::lock_guard lock(mu_);
  if (finished_[static_cast<size_t>(task)]) return;
  finished_[static_cast<size_t>(task)] = true;
  --running_;
  MaybeSnapshotState();
  MaybeFinish();
  cv_.notify_all();
}

void Checkpointer::MaybeSnapshotState() {
  if (!pending_ || pending_->state_taken) return;
  // Every task that is still running must have acked: the ones that acked
  // are waiting, and the finished ones write nothing.
  int running_acked = 0;
  for (size_t t = 0; t < pending_->acks.size(); ++t)
    if (pending_->acks[t] && !finished_[t]) ++running_acked;
  if (running_acked < running_) return;
  if (store_) {
    pending_->local_dir =
        (fs::path(scratch_dir_) / ("local-chk-" + std::to_string(pending_->id))).string();
    std::error_code ec;
    fs::remove_all(pending_->local_dir, ec);
    Status st = store_->CreateLocalCheckpoint(pending_->local_dir);
    if (!st.ok()) {
      pending_->state_taken = true;  // release the waiters
      cv_.notify_all();
      Fail(pending_->id, "snapshot of the keyed state failed: " + st.message());
      return;
    }
  }
  pending_->state_taken = true;
  cv_.notify_all();
}

void Checkpointer::MaybeFinish() {
  if (!pending_ || !pending_->state_taken || pending_->acked < num_tasks_) return;
  upload_queue_.push_back(std::move(pending_));
  pending_.reset();
  cv_.notify_all();
}

void Checkpointer::Fail(int64_t id, const std::string& why) {
  if (pending_ && pending_->id == id) {
    if (!pending_->local_dir.empty()) {
      std::error_code ec;
      fs::remove_all(pending_->local_dir, ec);
    }
    pending_.reset();
  }
  last_failed_ = std::max(last_failed_, id);
  cv_.notify_all();
  if (listener_) listener_({id, false, false, "", why, 0});
}

void Checkpointer::UploadLoop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return shutdown_ || !upload_queue_.empty(); });
    if (shutdown_) return;
    std::unique_ptr<Pending> p = std::move(upload_queue_.front());
    upload_queue_.pop_front();
    uploading_ = {p->id, p->started_ms, {}, true};
    lock.unlock();

    CheckpointMetadata meta;
    meta.id = p->id;
    meta.savepoint = p->savepoint;
    meta.job = job_;
    meta.max_parallelism = max_parallelism_;
    for (auto& a : p->acks) meta.tasks.push_back(std::move(*a));
    Status st;
    if (!p->local_dir.empty()) {
      auto manifest = storage_->UploadDb(p->id, p->savepoint, p->local_dir, part_);
      if (manifest.ok()) {
        std::vector<KeyGroupRange> kgs = part_key_groups_;
        if (!participant_) kgs = {{0, max_parallelism_ - 1}};
        meta.db_parts.push_back({part_, std::move(manifest).value(), std::move(kgs)});
      } else {
        st = manifest.status();
      }
      std::error_code ec;
      fs::remove_all(p->local_dir, ec);
    }
    if (participant_) {
      // The coordinator completes it (Confirm) once every worker's share is in.
      LocalCheckpoint share;
      share.id = p->id;
      share.savepoint = p->savepoint;
      share.status = st;
      share.tasks = std::move(meta.tasks);
      if (!meta.db_parts.empty()) share.db_part = std::move(meta.db_parts.front());
      lock.lock();
      started_ms_[p->id] = p->started_ms;
      auto on_local = on_local_;
      lock.unlock();
      on_local(std::move(share));
      lock.lock();
      uploading_ = {};
      continue;
    }
    meta.completed_ms = SystemClock::Get()->NowMillis();
    if (st.ok()) {
      CrashPoint("before-complete");
      st = storage_->Complete(p->id, p->savepoint, meta.Encode(), meta.completed_ms);
      if (st.ok()) CrashPoint("after-complete");
    }
    std::string path;
    if (st.ok()) {
      path = (fs::path(storage_->job_dir()) /
              ((p->savepoint ? "savepoint-" : "chk-") + std::to_string(p->id)))
                 .string();
    } else {
      storage_->Discard(p->id, p->savepoint);
    }

    lock.lock();
    uploading_ = {};
    CheckpointEvent ev{p->id,
                       p->savepoint,
                       st.ok(),
                       path,
                       st.ok() ? "" : st.message(),
                       clock_->NowMillis() - p->started_ms};
    if (st.ok()) {
      completed_ = std::max(completed_, p->id);
    } else {
      last_failed_ = std::max(last_failed_, p->id);
    }
    cv_.notify_all();
    if (listener_) listener_(ev);
  }
}

bool Checkpointer::WaitCompleted(int64_t id, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return shutdown_ || completed_ >= id || last_failed_ >= id; });
  return completed_ >= id;
}

void Checkpointer::WaitForChange(int64_t seen_triggered, int64_t seen_completed,
                                 std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] {
    return shutdown_ || triggered_ != seen_triggered || completed_ != seen_completed;
  });
}

void Checkpointer::CheckTimeout(int64_t timeout_ms) {
  std::lock_guard lock(mu_);
  if (!pending_ || timeout_ms <= 0) return;
  if (clock_->NowMillis() - pending_->started_ms < timeout_ms) return;
  pending_->state_taken = true;
  Fail(pending_->id, "timed out after " + std::to_string(timeout_ms) + " ms");
}

int64_t Checkpointer::failed_id() const {
  std::lock_guard lock(mu_);
  return last_failed_;
}

void Checkpointer::StartPending(int64_t id, bool savepoint) {
  pending_ = std::make_unique<Pending>();
  pending_->id = id;
  pending_->savepoint = savepoint;
  pending_->started_ms = clock_->NowMillis();
  pending_->acks.resize(static_cast<size_t>(num_tasks_));
  triggered_ = id;
  next_id_ = id + 1;
  cv_.notify_all();
}

void Checkpointer::SetParticipant(std::string part, std::vector<KeyGroupRange> key_groups,
                                  std::function<void(LocalCheckpoint)> on_local) {
  std::lock_guard lock(mu_);
  participant_ = true;
  part_ = std::move(part);
  part_key_groups_ = std::move(key_groups);
  on_local_ = std::move(on_local);
}

bool Checkpointer::TriggerAt(int64_t id, bool savepoint) {
  std::lock_guard lock(mu_);
  if (shutdown_ || id <= triggered_) return false;
  if (pending_) Fail(pending_->id, "superseded by checkpoint " + std::to_string(id));
  StartPending(id, savepoint);
  // Tasks that finished before the trigger ack from their finished loop; if
  // every task has finished already, nothing waits for the state snapshot.
  MaybeSnapshotState();
  MaybeFinish();
  cv_.notify_all();
  return true;
}

void Checkpointer::Confirm(int64_t id, bool ok, const std::string& path_or_reason) {
  std::lock_guard lock(mu_);
  int64_t started = clock_->NowMillis();
  if (auto it = started_ms_.find(id); it != started_ms_.end()) {
    started = it->second;
    started_ms_.erase(started_ms_.begin(), std::next(it));
  }
  if (ok) {
    completed_ = std::max(completed_, id);
  } else {
    if (pending_ && pending_->id == id) {
      pending_->state_taken = true;
      if (!pending_->local_dir.empty()) {
        std::error_code ec;
        fs::remove_all(pending_->local_dir, ec);
      }
      pending_.reset();
    }
    last_failed_ = std::max(last_failed_, id);
  }
  cv_.notify_all();
  if (listener_)
    listener_({id, false, ok, ok ? path_or_reason : "", ok ? "" : path_or_reason,
               clock_->NowMillis() - started});
}

bool Checkpointer::all_ready() const {
  std::lock_guard lock(mu_);
  return ready_ >= num_tasks_;
}

void Checkpointer::Shutdown() {
  std::lock_guard lock(mu_);
  shutdown_ = true;
  cv_.notify_all();
}

}  // namespace weir::runtime
