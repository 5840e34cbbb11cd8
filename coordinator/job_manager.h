// JobManager: the coordinator's state and decisions. It keeps the workers
// (registered, alive, slots) and the jobs (their attempts, placements and
// checkpoints), and is driven by three inputs: admin requests, worker
// messages (control sessions) and Tick() (a timer: deployments, checkpoint
// triggers, timeouts, heartbeat deadlines). All state is under one mutex;
// messages to workers go through WorkerLink, which only queues them.
//
// A job's life:
//  PENDING: waiting for free slots (a job needs as many slots as its largest
//    vertex parallelism: slot i runs subtask i of every vertex, as Flink's
//    slot sharing).
//  RUNNING: an attempt is deployed. Once every worker of the attempt reports
//    READY, checkpoints are triggered every checkpoint.interval: the
//    coordinator sends TriggerCheckpoint to every worker of the attempt,
//    gathers their shares (task snapshots, database parts), writes the
//    metadata durably through checkpoint storage, and only then sends
//    CheckpointDone, upon which sinks commit. When every worker reports
//    FINISHED (bounded inputs ended), one more, final checkpoint; after it,
//    ReleaseAttempt lets the tasks exit, and the job is FINISHED. A
//    checkpoint pending longer than 5 intervals (at least 5 s) is logged
//    once with the subtasks it waits for; `weir describe` and the metrics
//    show the same at any time.
//  RESTARTING: a task failed, a worker was lost (its session ended or its
//    heartbeats stopped), or a checkpoint failed or timed out: the attempt is
//    cancelled everywhere, and once every live worker of it has EXITED, a new
//    attempt restores the latest completed checkpoint of this submission
//    after restart.delay, up to restart.attempts times (then FAILED).
//  CANCELLING -> CANCELLED: on request, optionally after a savepoint.
//  Rescale: a savepoint, then a new attempt with the new parallelism that
//    restores it (key groups move with their state).
// A restarted coordinator loads the registry and restarts every job that
// was not finished, from its latest checkpoint.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/checkpoint/storage.h"
#include "common/log.h"
#include "common/plan.h"
#include "common/time.h"
#include "coordinator/registry.h"
#include "weir/v1/admin.pb.h"
#include "weir/v1/control.pb.h"

namespace weir::coordinator {

// The way to one worker's session. Send only queues (never blocks).
class WorkerLink {
 public:
  virtual ~WorkerLink() = default;
  virtual void Send(const v1::CoordinatorMessage& m) = 0;
  // Ends the session (the worker is considered lost).
  virtual void Close() = 0;
};

struct ManagerOptions {
  std::string data_dir;
  std::string checkpoint_storage;  // default for jobs without checkpoint.storage
  // Besides checkpoint_storage, where a job's checkpoint.storage and the
  // savepoints it restores may lie (file:// URIs or absolute paths): the
  // coordinator opens no other path a job or a request names.
  std::vector<std::string> allow_storage;
  int64_t heartbeat_interval_ms = 500;
  int64_t heartbeat_timeout_ms = 5000;
  const Clock* clock = nullptr;
  // Where events go (common/log.h levels and fields: job, checkpoint,
  // worker): failures, restarts, lost workers and stuck checkpoints at warn.
  std::function<void(log::Level, const std::string&, const log::Fields&)> log;
};

class JobManager {
 public:
  static Result<std::unique_ptr<JobManager>> Create(ManagerOptions options);
  ~JobManager();

  // ---- admin (any thread). Errors carry the code the caller acts on.
  Result<v1::Job> Submit(const v1::SubmitJobRequest& req, std::vector<spec::Diagnostic>* diags);
  std::vector<v1::Job> List(bool include_finished) const;
  Result<v1::Job> Get(const std::string& id) const;
  // Waits (up to `timeout_ms`) for a savepoint when asked for one.
  Result<v1::CancelJobResponse> Cancel(const std::string& id, bool savepoint, int64_t timeout_ms);
  Result<v1::TriggerSavepointResponse> Savepoint(const std::string& id, int64_t timeout_ms);
  Result<v1::RescaleJobResponse> Rescale(const std::string& id, int parallelism,
                                         int64_t timeout_ms);
  Result<std::vector<v1::Checkpoint>> Checkpoints(const std::string& id) const;
  std::vector<v1::Worker> Workers() const;
  // Job events (state changes, checkpoints, restarts) after index `from`
  // (its own numbering); waits up to `wait_ms` for one.
  std::vector<v1::JobEvent> Events(const std::string& id, size_t* from, int64_t wait_ms) const;

  // ---- control (session threads)
  // A worker registered on a new session; the returned token identifies it.
  int64_t WorkerRegistered(const v1::RegisterWorker& r, std::shared_ptr<WorkerLink> link);
  void WorkerMessage(int64_t token, const v1::WorkerMessage& m);
  void WorkerGone(int64_t token, const std::string& why);

  // ---- timer
  void Tick();

  // Prometheus text: jobs (state, restarts, records, checkpoints: count,
  // failures, last duration and size) and workers (alive, slots).
  std::string RenderMetrics() const;

  int64_t heartbeat_interval_ms() const { return options_.heartbeat_interval_ms; }
  // Workers fence themselves (cancel their tasks) after this much silence:
  // well before the coordinator gives them up and redeploys elsewhere.
  int64_t fence_after_ms() const { return options_.heartbeat_timeout_ms * 3 / 5; }

 private:
  struct Job;
  struct Worker;
  enum class Then { kRestart, kCancel, kRescale, kFinish, kFail };

  JobManager(ManagerOptions options, std::unique_ptr<Registry> registry);
  Status Load();

  // With mu_ held.
  v1::Job ToProto(const Job& j) const;
  void SetState(Job& j, v1::JobState s, const std::string& message);
  void Persist(Job& j);
  void Event(Job& j, const std::string& message, log::Fields fields = {},
             log::Level level = log::Level::kInfo);
  void Log(const std::string& m, const log::Fields& fields = {},
           log::Level level = log::Level::kInfo) const;
  int FreeSlots(const std::string& worker) const;
  bool TryDeploy(Job& j);
  void StopAttempt(Job& j, Then then, const std::string& why);
  void AfterStop(Job& j);
  std::optional<int64_t> Trigger(Job& j, bool savepoint, const std::string& purpose);
  void CheckpointFailed(Job& j, const std::string& why);
  void OnAck(Job& j, const std::string& worker, const v1::CheckpointAck& ack);
  // The pending checkpoint (none: false): its age and the subtasks or
  // workers it waits for, from the workers' last heartbeats.
  bool DescribePending(const Job& j, v1::PendingCheckpoint* out) const;
  // Logs once a checkpoint that has been pending for a few intervals.
  void WarnIfStuck(Job& j, int64_t now);
  void OnTaskEvent(Job& j, const std::string& worker, const v1::TaskEvent& ev);
  void LoseWorker(Worker& w, const std::string& why);
  Job* Find(const std::string& id) const;
  Result<std::string> RestorePathFor(Job& j);
  // Asks for a savepoint (one at a time) and waits for it with `lock` on mu_.
  Status TakeSavepoint(std::unique_lock<std::mutex>& lock, Job& j, const std::string& purpose,
                       int rescale_to, int64_t timeout_ms);
  Status PlanJob(Job& j, int parallelism);
  // The roots a job's storage and savepoints must lie under, and the job's
  // checkpoint storage once its path is checked against them.
  std::vector<std::string> StorageRoots() const;
  Result<std::unique_ptr<checkpoint::CheckpointStorage>> OpenStorage(
      const spec::JobSpec& job) const;
  void SendTo(const std::string& worker, const v1::CoordinatorMessage& m);

  ManagerOptions options_;
  std::unique_ptr<Registry> registry_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::map<std::string, std::unique_ptr<Worker>> workers_;
  std::map<std::string, std::unique_ptr<Job>> jobs_;
  int64_t next_token_ = 1;
};

}  // namespace weir::coordinator
