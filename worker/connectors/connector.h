// Sources and sinks: where records enter and leave a job.
//
// Source: one instance per source subtask, called by its task thread only.
//  - Open() assigns the subtask its share of the input (Kafka partitions
//    i, i+P, i+2P... of P subtasks; files likewise; generators split the
//    sequence) and connects.
//  - Poll() appends up to max_rows rows to *batch, each with its event time
//    (the event_time field, or the clock's time in a processing-time job),
//    waiting at most timeout_ms for input. It returns kEndOfInput once a
//    bounded source has nothing more (and will return it again).
//  - Watermark() is the source subtask's current watermark: per partition,
//    max event time seen - max_out_of_orderness - 1; then the minimum over
//    partitions that are not idle (no record for idle_timeout by the clock);
//    idle when all are (common/watermark.h, PartitionWatermarks, does this).
//    kMaxWatermark once at end of input. Processing-time jobs: kMinWatermark.
//  - Malformed records follow on_error: fail -> Poll returns an error Status
//    naming topic/partition/offset (or file:line) and the reason; skip ->
//    counted in stats; dead_letter -> original bytes + reason + position
//    written to the dead-letter target, and counted.
//  - Checkpoints: SnapshotPosition() (task thread, between two Polls, at a
//    barrier) returns where the source stands: after the last row Poll
//    returned, as opaque bytes. RestorePositions(), called before Open(),
//    gives the positions that every subtask of the same source stored in the
//    checkpoint being restored (index = old subtask); the source resumes from
//    the part that concerns it (Kafka: its partitions' offsets, wherever they
//    were stored), so a restore may change the parallelism where the source
//    can (Kafka); others reject a change with kFailedPrecondition.
// Sink: one instance per sink subtask. Write() takes whole batches; Flush()
// makes written rows durable/visible (at-least-once at a checkpoint or the
// end); Close() after the last Flush().
//  - Checkpoints (shared/design/architecture.md, exactly-once): PreCommit(N)
//    at barrier N makes every row written so far part of checkpoint N: an
//    at-least-once sink flushes; an exactly-once sink prepares (a pending
//    file, a prepared transaction) without publishing, and returns the state
//    recovery will need, stored in checkpoint N. Commit(N) once N is complete
//    (its metadata durable) publishes what PreCommit(N) prepared; it is
//    called in checkpoint order and must be idempotent. On recovery from
//    checkpoint N, SinkContext::restore carries N and the state PreCommit(N)
//    returned: Open() first finishes what N promised (commit) and discards
//    what later, uncompleted checkpoints prepared (abort), then starts anew.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/batch.h"
#include "common/spec/job_spec.h"
#include "common/status.h"
#include "common/time.h"
#include "common/watermark.h"

namespace weir::connectors {

struct SourceContext {
  std::string job;
  int subtask = 0;
  int parallelism = 1;
  const Clock* clock = nullptr;
  bool event_time = true;  // false: a processing-time job (rows take the clock's time)
};

// Counters a connector updates; read by other threads for progress/metrics.
struct ConnectorStats {
  std::atomic<int64_t> records{0};
  std::atomic<int64_t> bytes{0};
  std::atomic<int64_t> skipped{0};        // malformed, on_error: skip
  std::atomic<int64_t> dead_lettered{0};  // malformed, on_error: dead_letter
  // Kafka sources: (partition, messages behind the partition's end), from
  // the offsets the consumer already knows (no broker round trip); refreshed
  // about once a second.
  mutable std::mutex lag_mu;
  std::string lag_topic;
  std::vector<std::pair<int32_t, int64_t>> lag;
};

enum class PollState { kOk, kEndOfInput };

class Source {
 public:
  virtual ~Source() = default;
  virtual Status Open(const SourceContext& ctx) = 0;
  virtual Result<PollState> Poll(RecordBatch* batch, int max_rows, int timeout_ms) = 0;
  virtual WatermarkStatus Watermark() = 0;
  // Positions start with a version byte; bytes that do not decode make
  // RestorePositions fail with kDataLoss naming the source.
  virtual Result<std::string> SnapshotPosition() = 0;
  virtual Status RestorePositions(const std::vector<std::string>& positions) = 0;
  virtual void Close() {}
  const ConnectorStats& stats() const { return stats_; }

 protected:
  ConnectorStats stats_;
};

struct SinkRestore {
  int64_t checkpoint_id = 0;
  std::string state;  // what PreCommit(checkpoint_id) returned
};

struct SinkContext {
  std::string job;
  int subtask = 0;
  int parallelism = 1;
  std::optional<SinkRestore> restore;  // set when recovering from a checkpoint
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual Status Open(const SinkContext& ctx) = 0;
  virtual Status Write(const RecordBatch& batch) = 0;
  virtual Status Flush() = 0;
  virtual Result<std::string> PreCommit(int64_t checkpoint_id) {
    WEIR_RETURN_IF_ERROR(Flush());
    return std::string();
  }
  virtual Status Commit(int64_t checkpoint_id) { return Status::OK(); }
  virtual Status Close() { return Flush(); }
  const ConnectorStats& stats() const { return stats_; }

 protected:
  ConnectorStats stats_;
};

// `brokers: embedded` is replaced by the runner before these are called.
Result<std::unique_ptr<Source>> MakeSource(const spec::SourceSpec& spec, const spec::JobSpec& job);
Result<std::unique_ptr<Sink>> MakeSink(const spec::SinkSpec& spec, const spec::JobSpec& job,
                                       const Schema& schema);

}  // namespace weir::connectors
