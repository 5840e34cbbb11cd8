#include "worker/runtime/job_runner.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "common/checkpoint/storage.h"
#include "worker/runtime/checkpointer.h"
#include "worker/runtime/state_restore.h"
#include "worker/state/rocksdb_store.h"

namespace weir::runtime {

namespace fs = std::filesystem;

namespace {

// Removes db-PID / scratch-PID directories of processes that no longer run.
void RemoveStaleDirs(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    size_t dash = name.rfind('-');
    if (dash == std::string::npos) continue;
    const std::string prefix = name.substr(0, dash);
    if (prefix != "db" && prefix != "scratch") continue;
    char* end = nullptr;
    long pid = std::strtol(name.c_str() + dash + 1, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    if (pid == static_cast<long>(::getpid())) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    std::error_code ignored;
    fs::remove_all(entry.path(), ignored);
  }
}

std::string StorageUri(const spec::JobSpec& job, const std::string& state_dir) {
  if (!job.checkpoint.storage.empty()) return job.checkpoint.storage;
  return "file://" + (fs::path(state_dir) / "checkpoints").string();
}

}  // namespace

JobRunner::JobRunner(const plan::PhysicalPlan& plan, RunnerOptions options)
    : plan_(plan), options_(std::move(options)) {
  if (!options_.clock) options_.clock = SystemClock::Get();
}

JobRunner::~JobRunner() = default;

void JobRunner::Log(const std::string& m) const {
  if (options_.log) options_.log(m);
}

void JobRunner::Cancel() {
  cancelled_.store(true);
  std::lock_guard lock(mu_);
  if (current_) current_->Cancel();
}

void JobRunner::RequestSavepoint() {
  savepoint_requested_.store(true);
}

void JobRunner::StopWithCheckpoint() {
  if (plan_.job->checkpoint.mode == spec::CheckpointMode::kNone) return Cancel();
  stop_requested_.store(true);
}

Progress JobRunner::GetProgress() const {
  std::lock_guard lock(mu_);
  if (!current_) return last_progress_;
  return current_->GetProgress();
}

Status JobRunner::Run() {
  const spec::JobSpec& job = *plan_.job;
  const bool checkpointing = job.checkpoint.mode != spec::CheckpointMode::kNone;
  std::string restore_path;
  if (checkpointing) {
    std::error_code ec;
    fs::create_directories(fs::path(options_.state_dir) / job.name, ec);
    if (ec)
      return Status::Unavailable("cannot create the state directory '" +
                                 (fs::path(options_.state_dir) / job.name).string() +
                                 "': " + ec.message());
    RemoveStaleDirs(fs::path(options_.state_dir) / job.name);
  }
  if (!options_.from_checkpoint.empty()) {
    if (!checkpointing)
      return Status::InvalidArgument(
          "--from-checkpoint: the job has checkpoint.mode none, so it has no checkpoints");
    if (options_.from_checkpoint == "latest") {
      WEIR_ASSIGN_OR_RETURN(auto storage,
                            checkpoint::CheckpointStorage::Open(StorageUri(job, options_.state_dir),
                                                                job.name, job.checkpoint.retain));
      WEIR_ASSIGN_OR_RETURN(auto latest, storage->Latest());
      if (latest) {
        restore_path = latest->path;
      } else {
        Log("no checkpoint of job " + job.name + " yet: starting from the beginning");
      }
    } else {
      restore_path = options_.from_checkpoint;
    }
  }

  int failures = 0;
  while (true) {
    int64_t last_completed = 0;
    Status st = RunAttempt(restore_path, &last_completed);
    if (st.ok()) return st;
    if (cancelled_.load()) return Status::Cancelled("cancelled");
    // Problems with what the user asked for are not worth a restart.
    if (st.code() == StatusCode::kInvalidArgument || st.code() == StatusCode::kNotFound ||
        st.code() == StatusCode::kDataLoss || !checkpointing || failures >= job.restart.attempts)
      return st;
    ++failures;
    restarts_.fetch_add(1);
    // Resume from the newest completed checkpoint, whichever run wrote it.
    auto storage = checkpoint::CheckpointStorage::Open(StorageUri(job, options_.state_dir),
                                                       job.name, job.checkpoint.retain);
    if (storage.ok()) {
      auto latest = (*storage)->Latest();
      if (latest.ok() && *latest) restore_path = (*latest)->path;
    }
    Log("job " + job.name + " failed: " + st.message() + "; restarting " +
        (restore_path.empty() ? std::string("from the beginning") : "from " + restore_path) +
        " in " + FormatDuration(job.restart.delay_ms) + " (restart " + std::to_string(failures) +
        " of " + std::to_string(job.restart.attempts) + ")");
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(job.restart.delay_ms);
    while (std::chrono::steady_clock::now() < until && !cancelled_.load())
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (cancelled_.load()) return Status::Cancelled("cancelled");
  }
}

Status JobRunner::RunAttempt(const std::string& restore_path, int64_t* last_completed) {
  const spec::JobSpec& job = *plan_.job;
  const bool checkpointing = job.checkpoint.mode != spec::CheckpointMode::kNone;
  LocalOptions lo;
  lo.batch_size = options_.batch_size;
  lo.clock = options_.clock;

  std::optional<CheckpointMetadata> restore;
  std::unique_ptr<state::RocksDbStore> store;
  std::unique_ptr<Checkpointer> checkpointer;
  const fs::path job_dir = fs::path(options_.state_dir) / job.name;
  const std::string pid = std::to_string(::getpid());
  const fs::path db_dir = job_dir / ("db-" + pid);
  const fs::path scratch_dir = job_dir / ("scratch-" + pid);

  if (checkpointing) {
    if (!restore_path.empty()) {
      WEIR_ASSIGN_OR_RETURN(restore, checkpoint::ReadRestorePoint(restore_path, job));
    }
    WEIR_ASSIGN_OR_RETURN(
        store, OpenAttemptState(db_dir.string(), scratch_dir.string(), restore_path,
                                restore ? &*restore : nullptr, OwnedKeyGroups(plan_, nullptr)));
    WEIR_ASSIGN_OR_RETURN(auto storage,
                          checkpoint::CheckpointStorage::Open(StorageUri(job, options_.state_dir),
                                                              job.name, job.checkpoint.retain));
    int64_t first_id = 1;
    WEIR_ASSIGN_OR_RETURN(auto stored, storage->List());
    for (const auto& c : stored) first_id = std::max(first_id, c.id + 1);
    if (restore) first_id = std::max(first_id, restore->id + 1);
    checkpointer = std::make_unique<Checkpointer>(job.name, job.max_parallelism, CountTasks(plan_),
                                                  store.get(), std::move(storage),
                                                  scratch_dir.string(), first_id, options_.clock);
    checkpointer->SetListener([this](const CheckpointEvent& ev) {
      if (ev.ok) {
        checkpoints_completed_.fetch_add(1);
        last_checkpoint_.store(ev.id);
        if (options_.verbose || ev.savepoint)
          Log(std::string(ev.savepoint ? "savepoint " : "checkpoint ") + std::to_string(ev.id) +
              " complete in " + std::to_string(ev.duration_ms) + " ms: " + ev.path);
      } else {
        Log("checkpoint " + std::to_string(ev.id) + " failed: " + ev.message);
      }
    });
    lo.checkpointer = checkpointer.get();
    lo.store = store.get();
    lo.restore = restore ? &*restore : nullptr;
    if (restore)
      Log("restored job " + job.name + " from checkpoint " + std::to_string(restore->id) + " (" +
          restore_path + ")");
  }

  auto exec_owner = std::make_unique<LocalExecutor>(plan_, lo);
  LocalExecutor& exec = *exec_owner;
  {
    std::lock_guard lock(mu_);
    current_ = &exec;
  }
  auto cleanup = [&] {
    {
      std::lock_guard lock(mu_);
      last_progress_ = exec.GetProgress();
      current_ = nullptr;
    }
    // The executor first: its tasks use the checkpointer and the store.
    exec_owner.reset();
    checkpointer.reset();
    store.reset();
    std::error_code ec;
    fs::remove_all(db_dir, ec);
    fs::remove_all(scratch_dir, ec);
  };
  if (cancelled_.load()) exec.Cancel();
  Status st = exec.Start();
  if (!st.ok()) {
    exec.Cancel();
    (void)exec.Wait();
    cleanup();
    return st;
  }

  // Drive checkpoints until every task has exited.
  if (checkpointer) {
    const int64_t interval = job.checkpoint.interval_ms;
    int64_t last_trigger = options_.clock->NowMillis();
    int64_t final_id = 0;
    int64_t seen_failed = checkpointer->failed_id();
    int64_t stop_id = 0;
    while (!exec.GetProgress().finished) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      const int64_t now = options_.clock->NowMillis();
      checkpointer->CheckTimeout(job.checkpoint.timeout_ms);
      if (checkpointer->failed_id() > seen_failed) {
        seen_failed = checkpointer->failed_id();
        exec.Cancel();  // the attempt fails; Run restarts from the latest
        (void)exec.Wait();
        cleanup();
        return Status::Aborted("checkpoint " + std::to_string(seen_failed) + " failed");
      }
      if (stop_id != 0 && checkpointer->completed_id() >= stop_id && exec.Committed(stop_id)) {
        Log("stopped after checkpoint " + std::to_string(stop_id));
        Cancel();
        break;
      }
      if (final_id == 0 && stop_id == 0 && stop_requested_.load()) {
        if (auto id = checkpointer->Trigger(false)) stop_id = *id;
      } else if (final_id == 0 && checkpointer->all_finished()) {
        if (auto id = checkpointer->Trigger(false)) final_id = *id;
      } else if (final_id == 0 && stop_id == 0 && savepoint_requested_.load()) {
        if (checkpointer->Trigger(true)) {
          savepoint_requested_.store(false);
          last_trigger = now;
        }
      } else if (final_id == 0 && stop_id == 0 && interval > 0 && now - last_trigger >= interval) {
        if (checkpointer->Trigger(false)) last_trigger = now;
      }
      if (final_id != 0 && checkpointer->completed_id() >= final_id) exec.Release();
    }
    *last_completed = checkpointer->completed_id();
  }
  st = exec.Wait();
  cleanup();
  return st;
}

}  // namespace weir::runtime
