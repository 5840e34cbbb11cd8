// JobRunner: runs a job in this process through failures (what `weir local`
// uses; the distributed worker will drive the same Checkpointer protocol from
// the coordinator).
//
// With checkpointing (checkpoint.mode other than none):
//  - keyed state lives in a RocksDB instance in STATE_DIR/JOB/db-PID
//    (scratch: recreated on every attempt, removed at exit; directories left
//    by processes that no longer run are removed at start);
//  - checkpoints go to checkpoint.storage, by default
//    file://STATE_DIR/checkpoints; ids continue after the newest one stored,
//    so a new run never overwrites an older run's checkpoints;
//  - a checkpoint is triggered every checkpoint.interval, fails after
//    checkpoint.timeout, and a failed checkpoint fails the attempt;
//  - the end of a bounded job is one more checkpoint (the final one), after
//    which the sinks commit and the job ends;
//  - a failed attempt is retried restart.attempts times, restart.delay apart,
//    from the latest completed checkpoint (or from the beginning if there is
//    none yet): state restored, sources sought to their stored positions,
//    sinks finishing the commits the checkpoint promised.
// from_checkpoint: "" starts from the beginning; "latest" resumes from the
// newest completed checkpoint or savepoint of the job in its storage (from
// the beginning if there is none); a path resumes from that chk-N or
// savepoint-N directory.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/plan.h"
#include "common/status.h"
#include "worker/runtime/local_executor.h"

namespace weir::runtime {

struct RunnerOptions {
  std::string state_dir;        // required with checkpointing
  std::string from_checkpoint;  // "", "latest" or a path
  const Clock* clock = nullptr;
  int batch_size = 1024;
  // Messages for the person running the job (restarts, checkpoint failures,
  // and with verbose also completed checkpoints).
  std::function<void(const std::string&)> log;
  bool verbose = false;
};

class JobRunner {
 public:
  JobRunner(const plan::PhysicalPlan& plan, RunnerOptions options);
  ~JobRunner();

  // Runs until the job ends (OK), fails for good, or is cancelled
  // (kCancelled). Call once.
  Status Run();
  // Any thread.
  void Cancel();
  // Any thread: takes a savepoint as soon as possible; its path is logged.
  void RequestSavepoint();
  // Any thread: takes one more checkpoint, then cancels (SIGTERM). Without
  // checkpointing, cancels at once.
  void StopWithCheckpoint();
  // Any thread: progress of the current (else the last) attempt.
  Progress GetProgress() const;
  int restarts() const { return restarts_.load(); }
  int64_t checkpoints_completed() const { return checkpoints_completed_.load(); }
  int64_t last_checkpoint() const { return last_checkpoint_.load(); }

 private:
  Status RunAttempt(const std::string& restore_path, int64_t* last_completed);
  void Log(const std::string& m) const;

  const plan::PhysicalPlan& plan_;
  RunnerOptions options_;
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> savepoint_requested_{false};
  std::atomic<bool> stop_requested_{false};
  std::atomic<int> restarts_{0};
  std::atomic<int64_t> checkpoints_completed_{0};
  std::atomic<int64_t> last_checkpoint_{0};
  mutable std::mutex mu_;
  LocalExecutor* current_ = nullptr;  // guarded by mu_
  Progress last_progress_;            // guarded by mu_
};

}  // namespace weir::runtime
