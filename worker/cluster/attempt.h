// Attempt: this worker's share of one attempt of a job (a DeployJob from the
// coordinator): the subtasks placed here, run by a LocalExecutor whose
// consumers on other workers are reached through the exchange, with a
// Checkpointer in participant mode and one RocksDB for the attempt's keyed
// state (restored from the coordinator's checkpoint, key groups from
// whichever parts hold them).
//
// It reports to the coordinator through `send`: READY once every local task
// runs, FINISHED once every local task has finished its input, FAILED with
// the first failure (a task, the exchange, a checkpoint share), EXITED when
// all its tasks have exited; checkpoint shares as CheckpointAck.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/plan.h"
#include "weir/v1/control.pb.h"
#include "worker/cluster/exchange.h"
#include "worker/runtime/checkpointer.h"
#include "worker/runtime/local_executor.h"
#include "worker/state/rocksdb_store.h"

namespace weir::cluster {

struct AttemptEnv {
  std::string worker_id;
  std::string data_dir;  // the attempt's state goes to DATA_DIR/JOB/attempt-N
  ExchangeService* exchange = nullptr;
  // A channel to another worker (cached by the caller).
  std::function<std::shared_ptr<grpc::Channel>(const std::string& address)> channel_to;
  std::function<void(v1::WorkerMessage)> send;  // to the coordinator
  const Clock* clock = nullptr;
};

// Failures that a restart cannot fix (the job file or the checkpoint is at
// fault), as the single-process runner decides.
bool IsPermanent(const Status& st);

class Attempt final : public ExchangeReceiver {
 public:
  Attempt(v1::DeployJob deploy, AttemptEnv env);
  ~Attempt() override;

  // Builds and starts the local tasks; on error nothing runs (the caller
  // reports FAILED and EXITED).
  Status Start();

  void Trigger(int64_t id, bool savepoint);
  void CheckpointDone(int64_t id, bool ok);
  void Release();
  void Cancel();
  // Cancels once the sinks have committed the last completed checkpoint (a
  // cancel or rescale after a savepoint), or after `wait_ms`.
  void CancelAfterCommits(int64_t wait_ms);
  // Fails the attempt (first failure wins) and cancels it.
  void Fail(const std::string& why);

  bool exited() const { return exited_.load(); }
  v1::TaskProgress Progress() const;
  void CollectMetrics(Metrics& m) const;
  const std::string& job_id() const { return deploy_.job_id(); }
  int64_t attempt() const { return deploy_.attempt(); }
  int slots_used() const { return slots_; }

  Result<ExchangeRoute> Route(int edge, int from_vertex, int from_subtask, int to_vertex,
                              int to_subtask) override;

 private:
  void Monitor();
  void Report(v1::TaskEvent::Kind kind, const std::string& message, bool permanent = false);
  runtime::ElementSink* Remote(const plan::Edge& edge, int producer, int consumer);

  v1::DeployJob deploy_;
  AttemptEnv env_;
  std::unique_ptr<spec::JobSpec> job_;
  plan::PhysicalPlan plan_;
  std::set<std::pair<int, int>> local_;                   // (vertex, subtask) placed here
  std::map<std::pair<int, int>, std::string> worker_of_;  // (vertex, subtask) -> worker id
  std::map<std::string, std::string> address_of_;         // worker id -> exchange address
  std::vector<std::shared_ptr<const Schema>> edge_schemas_;
  int slots_ = 0;
  std::string dir_;
  std::optional<runtime::CheckpointMetadata> restore_;
  std::unique_ptr<state::RocksDbStore> store_;
  std::unique_ptr<runtime::Checkpointer> checkpointer_;
  std::map<std::string, std::unique_ptr<ExchangeClient>> clients_;  // "v/s/worker"; guarded by mu_
  std::vector<std::unique_ptr<RemoteTarget>> targets_;              // guarded by mu_
  std::unique_ptr<runtime::LocalExecutor> exec_;
  std::thread monitor_;
  std::thread drainer_;
  mutable std::mutex mu_;
  std::string failure_;  // guarded by mu_
  std::atomic<bool> started_{false};
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> exited_{false};
  std::atomic<bool> registered_{false};
  std::atomic<bool> released_{false};
};

}  // namespace weir::cluster
