// LocalExecutor: runs the subtasks of a PhysicalPlan that belong to this
// process, one thread per subtask, wired with bounded in-memory queues. For
// `weir local` that is the whole plan; a worker of a cluster runs its share
// (LocalOptions::is_local) and reaches the other subtasks through
// LocalOptions::remote (worker/cluster/exchange.h). Channel numbers are
// computed from the whole plan, so every process numbers them alike.
//
// Start() builds every task (a connector or operator that cannot be made
// fails here) and starts the threads; Wait() joins them and returns the first
// failure (the others are cancelled) or OK when every sink has finished.
// Cancel() may be called from any thread (e.g. a signal watcher).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "common/plan.h"
#include "worker/runtime/task.h"

namespace weir::runtime {

struct LocalOptions {
  int batch_size = 1024;
  size_t queue_capacity = 16;    // batches per consumer subtask
  const Clock* clock = nullptr;  // default: the system clock
  // Checkpointing (all null: none). Tasks are numbered in plan order
  // (vertex by vertex, subtask by subtask), as the checkpointer counts them.
  Checkpointer* checkpointer = nullptr;
  state::RocksDbStore* store = nullptr;         // keyed state; null: in memory
  const CheckpointMetadata* restore = nullptr;  // the checkpoint to resume from
  // A cluster worker: which subtasks run here (null: all of them), and the
  // sink for a consumer subtask that runs elsewhere (edge, producer subtask,
  // consumer subtask); it must outlive the executor.
  std::function<bool(int vertex, int subtask)> is_local;
  std::function<ElementSink*(const plan::Edge& edge, int producer, int consumer)> remote;
};

// The input channels of subtask `consumer` of vertex `vertex`, in channel
// order, as the input of the vertex's head each one feeds: one channel per
// (input edge, producer subtask that sends to it), edges in the vertex's
// input order, producers ascending; forward edges connect subtask i to
// subtask i only. A channel's index means the same on every worker (the
// exchange checks senders against it).
std::vector<int> ChannelInputs(const plan::PhysicalPlan& plan, int vertex, int consumer);
// The channel of (edge, producer) at subtask `consumer` of the edge's
// consumer vertex, as ChannelInputs orders them; -1 when there is no such
// edge, producer or consumer, or that producer does not send to it.
int ChannelOf(const plan::PhysicalPlan& plan, int edge, int producer, int consumer);

// The number of tasks (subtasks of all vertices) of a plan, or of those
// `is_local` selects.
int CountTasks(const plan::PhysicalPlan& plan,
               const std::function<bool(int vertex, int subtask)>& is_local = nullptr);

struct Progress {
  int64_t records_in = 0;             // rows read by all sources
  int64_t records_out = 0;            // rows written by all sinks
  int64_t skipped = 0;                // malformed records skipped or dead-lettered
  int64_t late_dropped = 0;           // rows too late for their window or join, dropped
  int64_t watermark = kMinWatermark;  // the lowest watermark at the sinks
  bool finished = false;
};

class LocalExecutor {
 public:
  LocalExecutor(const plan::PhysicalPlan& plan, LocalOptions options);
  ~LocalExecutor();

  Status Start();
  Status Wait();
  void Cancel();
  // With checkpointing: lets finished tasks exit (after the final checkpoint).
  void Release();
  // Every sink has committed checkpoint `id`.
  bool Committed(int64_t id) const;
  Progress GetProgress() const;
  // The input queue of a subtask that runs here (null otherwise), for
  // elements that arrive from other workers. Valid after Start().
  InputQueue* Input(int vertex, int subtask) const;
  // "vertex[subtask]" of the task with checkpoint index `index`.
  std::string TaskName(int index) const;
  // The task whose failure failed the run (vertex name, subtask), after
  // Wait(); subtask -1 when none did.
  std::pair<std::string, int> FailedTask() const;
  // Sinks that run here (for progress: a worker without sinks has no
  // watermark at its sinks).
  bool has_sinks() const;
  // Per-task metrics (records, bytes, watermark, busy/idle/backpressured
  // time, alignment, malformed and dead-lettered records, Kafka lag), with
  // `base` labels (the job) plus vertex and subtask.
  void CollectMetrics(Metrics& m, const Labels& base) const;

 private:
  const plan::PhysicalPlan& plan_;
  LocalOptions options_;
  std::atomic<bool> cancelled_{false};
  std::atomic<int> running_{0};
  std::vector<std::unique_ptr<Task>> tasks_;
  std::vector<std::vector<Task*>> by_vertex_;  // [vertex][subtask], null when remote
  std::vector<std::thread> threads_;
  std::vector<Status> results_;
  mutable std::mutex mu_;
  Status first_failure_;
  std::string failed_vertex_;  // of first_failure_
  int failed_subtask_ = -1;
};

}  // namespace weir::runtime
