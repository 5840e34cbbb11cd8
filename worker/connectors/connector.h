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
// Sink: one instance per sink subtask. Write() takes whole batches; Flush()
// makes written rows durable/visible (at-least-once at a checkpoint or the
// end); Close() after the last Flush().
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

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
};

enum class PollState { kOk, kEndOfInput };

class Source {
 public:
  virtual ~Source() = default;
  virtual Status Open(const SourceContext& ctx) = 0;
  virtual Result<PollState> Poll(RecordBatch* batch, int max_rows, int timeout_ms) = 0;
  virtual WatermarkStatus Watermark() = 0;
  virtual void Close() {}
  const ConnectorStats& stats() const { return stats_; }

 protected:
  ConnectorStats stats_;
};

struct SinkContext {
  std::string job;
  int subtask = 0;
  int parallelism = 1;
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual Status Open(const SinkContext& ctx) = 0;
  virtual Status Write(const RecordBatch& batch) = 0;
  virtual Status Flush() = 0;
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
