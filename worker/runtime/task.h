// Task: runs one subtask of a vertex on its own thread.
//
// Lifecycle: the executor builds every Task, wires queues and edge writers,
// then calls Run() on a thread per task. Run() opens the chain (tail to head),
// then loops:
//  - a source task polls its Source, pushes batches through the chain and
//    forwards the source's watermark whenever it advances;
//  - any other task pops elements from its InputQueue: batches go to the head
//    operator with their input index; watermarks update that channel's
//    watermark and, when the minimum over non-idle, non-ended channels
//    advances, every step of the chain processes it in order and it is
//    forwarded on every outgoing edge (after the rows before it);
//  - processing time ticks call ProcessTime on every operator.
// When all inputs have ended (or the source is exhausted), the chain finishes
// head to tail: event-time operators see kMaxWatermark, then Finish(), then
// every outgoing edge gets end-of-input. Run() returns the task's status; a
// failed task makes the executor cancel the job.
//
// Checkpoints (checkpointer.h has the protocol): a source task emits barrier
// N between two polls once N is triggered; a consumer aligns (holds the
// elements of channels that delivered barrier N until all open channels
// have), then snapshots, forwards the barrier and acks. A task whose chain
// ends in a sink commits it when a checkpoint it pre-committed completes.
// With checkpointing, a task that has finished stays in a finished loop:
// it acks later checkpoints (the final one included) and commits, until the
// executor releases it.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "common/plan.h"
#include "common/status.h"
#include "worker/connectors/connector.h"
#include "worker/runtime/channel.h"
#include "worker/runtime/checkpointer.h"
#include "worker/runtime/operator.h"

namespace weir::runtime {

// Sends one step's output port on one edge, for one producer subtask.
class EdgeWriter {
 public:
  struct Target {
    ElementSink* queue;
    int channel;  // this producer's channel index at that consumer
  };
  EdgeWriter(const plan::Edge& edge, int subtask, std::vector<Target> targets,
             std::shared_ptr<const Schema> schema, int max_parallelism, int batch_size);

  bool Write(RecordBatch& batch);  // false when the job is being cancelled
  bool SendWatermark(const WatermarkStatus& wm);
  bool SendBarrier(int64_t checkpoint_id);
  bool SendEnd();

 private:
  bool Flush();
  bool Send(size_t target, RecordBatch&& batch);
  bool Push(const Target& t, Element&& e);  // times the push as backpressure

  plan::Partitioning partitioning_;
  int subtask_;
  std::vector<Target> targets_;
  std::shared_ptr<const Schema> schema_;
  int max_parallelism_;
  int batch_size_;
  size_t next_ = 0;  // rebalance: round robin
  std::vector<std::unique_ptr<expr::Evaluator>> key_evals_;
  std::vector<RecordBatch> builders_;            // hash: one per target
  std::vector<std::vector<uint32_t>> rows_for_;  // hash: rows per target (reused)
  std::vector<const Column*> cols_;
  std::string key_;
  std::atomic<int64_t>* backpressured_ns_ = nullptr;
  friend class Task;
};

struct TaskStats {
  std::atomic<int64_t> rows_in{0};
  std::atomic<int64_t> watermark{kMinWatermark};
  std::atomic<int64_t> late_dropped{0};  // over the chain's operators
  // Where the task's time goes (steady clock, ns), for the busy /
  // backpressured / idle metrics: waiting for input (or a throttled or empty
  // source), blocked pushing into a full consumer (backpressure).
  std::atomic<int64_t> started_ns{0};
  std::atomic<int64_t> idle_ns{0};
  std::atomic<int64_t> backpressured_ns{0};
  std::atomic<int64_t> last_alignment_ms{0};  // the last barrier alignment's duration
};

// Steady-clock nanoseconds, for the time accounting above.
int64_t SteadyNanos();

class Task {
 public:
  Task(const plan::PhysicalPlan& plan, const plan::Vertex& vertex, int subtask, const Clock* clock,
       int batch_size, std::atomic<bool>* cancelled);
  ~Task();

  // Checkpointing, set before Build(): the task's index for the
  // checkpointer, the keyed state backend (else one in memory) and the
  // checkpoint being restored (or null).
  void SetCheckpointing(Checkpointer* checkpointer, int index,
                        std::unique_ptr<state::KeyedStateBackend> backend,
                        const CheckpointMetadata* restore);
  // Lets a finished task exit once the final checkpoint has completed.
  void Release() { released_.store(true); }
  // True when this task has no sink or its sink committed checkpoint `id`.
  bool Committed(int64_t id) const { return !sink_ || committed_through_.load() >= id; }

  // Built by the executor before Run().
  Status Build();
  void SetInput(std::unique_ptr<InputQueue> queue, std::vector<int> channel_inputs);
  void AddEdgeWriter(int step, int port, std::unique_ptr<EdgeWriter> writer);
  InputQueue* input() { return input_.get(); }

  Status Run();

  std::string name() const;
  const std::string& vertex_name() const { return vertex_.name; }
  int subtask() const { return subtask_; }
  const TaskStats& stats() const { return stats_; }
  const connectors::Source* source() const { return source_.get(); }
  const connectors::Sink* sink() const { return sink_; }

 private:
  class StepOutput;
  Status RunSource();
  Status RunConsumer();
  Status AdvanceWatermark(const WatermarkStatus& wm);
  Status Tick();
  Status FinishChain();
  Status RunFinished();
  Status Snapshot(int64_t id, bool finished);
  Status CommitCompleted();
  void PublishCounters();
  Status Failed() const { return failure_; }

  const plan::PhysicalPlan& plan_;
  const plan::Vertex& vertex_;
  int subtask_;
  const Clock* clock_;
  int batch_size_;
  std::atomic<bool>* cancelled_;
  std::unique_ptr<connectors::Source> source_;
  connectors::Sink* sink_ = nullptr;
  std::vector<std::unique_ptr<Operator>> ops_;  // per step; null for the source step
  std::vector<std::unique_ptr<StepOutput>> outputs_;
  std::unique_ptr<state::KeyedStateBackend> state_;
  std::unique_ptr<InputQueue> input_;
  std::vector<int> channel_inputs_;
  Status failure_;
  TaskStats stats_;
  int64_t last_tick_ = 0;
  bool event_time_ = true;
  Checkpointer* checkpointer_ = nullptr;
  int index_ = 0;
  const CheckpointMetadata* restore_ = nullptr;
  int64_t last_barrier_ = 0;
  std::deque<int64_t> precommitted_;  // sink: checkpoints pre-committed, not yet committed
  std::atomic<bool> released_{false};
  std::atomic<int64_t> committed_through_{0};  // sink: checkpoints committed
};

}  // namespace weir::runtime
