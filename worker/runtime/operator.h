// Operator: one step of a job (filter, map, window, join...), run by a task.
//
// Implementation rules:
//  - All calls for one operator instance come from its task's thread, one at
//    a time; an operator needs no locking.
//  - Operators in a chain are opened tail to head and finished head to tail.
//  - ProcessBatch may emit zero or more batches on its output ports; port 0 is
//    the main output, port 1 the window's `late` stream. Emitted batches must
//    have the port's schema and an event time per row.
//  - Watermarks: ProcessWatermark(wm) is called when the minimum watermark
//    over the operator's inputs advances to wm, meaning no more rows with
//    event time <= wm are expected (rows that still come are late). The
//    operator fires what wm completes, then the task forwards wm downstream.
//    kMaxWatermark means the inputs have ended for event time.
//  - Processing time: ProcessTime(now) is called periodically with the task
//    clock's time (an injected Clock; tests drive it by hand). Processing-time
//    windows fire here.
//  - Finish(): every input has ended; emit what remains (a bounded job's last
//    windows). No call follows Finish except destruction.
//  - A non-OK Status fails the task (and so the job, or a restart). A bad
//    record is never a reason: records were validated at the source.
//  - No per-row virtual call or allocation on the hot path.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/batch.h"
#include "common/keys.h"
#include "common/spec/job_spec.h"
#include "common/status.h"
#include "common/time.h"
#include "common/watermark.h"
#include "worker/state/state_backend.h"

namespace weir::runtime {

class Output {
 public:
  virtual ~Output() = default;
  // Hands rows on. The callee may move from or clear *batch.
  virtual void Emit(int port, RecordBatch& batch) = 0;
};

struct OperatorContext {
  std::string job;
  int subtask = 0;
  int parallelism = 1;
  int max_parallelism = 128;
  KeyGroupRange key_groups;  // keyed operators: the key groups this subtask owns
  const Clock* clock = nullptr;
  bool event_time = true;  // false: a processing-time job
  state::KeyedStateBackend* state = nullptr;
  int batch_size = 1024;  // preferred rows per emitted batch
};

class Operator {
 public:
  virtual ~Operator() = default;
  virtual Status Open(const OperatorContext& ctx) { return Status::OK(); }
  // `input` is 0, or 1 for the right side of a join (union: which input).
  virtual Status ProcessBatch(int input, RecordBatch& batch, Output& out) = 0;
  virtual Status ProcessWatermark(int64_t watermark, Output& out) { return Status::OK(); }
  virtual Status ProcessTime(int64_t now_ms, Output& out) { return Status::OK(); }
  virtual Status Finish(Output& out) { return Status::OK(); }
  // Late rows dropped so far (windows without a late stream, joins). Read by
  // the task thread after each element, never per row.
  virtual int64_t late_dropped() const { return 0; }
};

// Builds the operator for a validated spec. `inputs` are the schemas of
// op.from in order.
Result<std::unique_ptr<Operator>> MakeOperator(const spec::OperatorSpec& op,
                                               const spec::JobSpec& job,
                                               const std::vector<const Schema*>& inputs);

}  // namespace weir::runtime
