// Private to worker/connectors: what the sources and sinks share.
//
// - RecordPosition: where a payload came from (Kafka topic/partition/offset or
//   file:line), for error messages and dead-letter records.
// - DeadLetterWriter: the target of on_error: dead_letter (dead_letter.cc).
// - SourceIngest: payloads -> rows: decodes a batch of payloads with the
//   source's format, sets each row's event time, feeds the source's
//   PartitionWatermarks and applies on_error to malformed payloads. Used by the
//   Kafka and file sources, each calling it once per Poll.
// - CheckSnapshotReady, CheckPositionVersion: what the Kafka and file
//   sources' SnapshotPosition and RestorePositions share.
// - Factories of the connectors without a public header (datagen, stdout,
//   blackhole).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/format/format.h"
#include "worker/connectors/connector.h"

namespace weir::connectors {

struct RecordPosition {
  enum class Kind { kKafka, kFile };
  Kind kind = Kind::kKafka;
  std::string_view name;   // topic, or the file's path
  int32_t partition = -1;  // kafka only
  int64_t offset = 0;      // kafka offset, or 1-based line number of a file

  // "topic orders partition 2 offset 57" or "in/orders.jsonl:3"
  std::string ToString() const;
};

// Receives the original bytes of malformed records with the reason and their
// position. Belongs to one source subtask (its task thread).
class DeadLetterWriter {
 public:
  virtual ~DeadLetterWriter() = default;
  virtual Status Write(std::string_view payload, const RecordPosition& pos,
                       std::string_view error) = 0;
  // Makes everything written so far durable (kafka: acknowledged).
  virtual Status Flush() = 0;
};

// kafka: produces the payload to dead_letter.topic with the headers
// weir.error, weir.topic, weir.partition, weir.offset (file origins:
// weir.error, weir.file, weir.line). file: appends one JSON line per record,
// {"error", "topic", "partition", "offset", "payload"} (file origins: "file"
// and "line" instead of topic/partition/offset), to dead_letter.path; the
// payload is a JSON string when it is valid UTF-8, else "payload_base64".
Result<std::unique_ptr<DeadLetterWriter>> MakeDeadLetterWriter(const spec::SourceSpec& source,
                                                               const SourceContext& ctx);

// The JSON line the file dead-letter target writes for one record (no newline).
std::string DeadLetterJson(std::string_view payload, const RecordPosition& pos,
                           std::string_view error);

class SourceIngest {
 public:
  // Makes the decoder for spec.format and, for on_error: dead_letter, the
  // dead-letter writer. `stats` is the source's.
  static Result<std::unique_ptr<SourceIngest>> Make(const spec::SourceSpec& spec,
                                                    const SourceContext& ctx,
                                                    ConnectorStats* stats);

  // Decodes payloads[i] and appends the valid ones as rows to *batch.
  // partition_of[i] is the payload's partition in `watermarks` (which may be
  // null in a processing-time job); position(i) is asked only for malformed
  // payloads. Returns an error only for on_error: fail (naming the first
  // malformed payload's position and reason) or when the dead-letter target
  // fails.
  // `metadata` appends, for payload i, the value of the source's metadata
  // field m (spec.metadata[m]) to `out`; it is called only when the source
  // has metadata fields.
  using MetadataFill = std::function<void(size_t i, size_t m, Column* out)>;
  Status Ingest(const std::vector<std::string_view>& payloads,
                const std::vector<int32_t>& partition_of,
                const std::function<RecordPosition(size_t)>& position, RecordBatch* batch,
                PartitionWatermarks* watermarks, const MetadataFill& metadata = {});

  Status Flush() { return dead_letters_ ? dead_letters_->Flush() : Status::OK(); }

 private:
  SourceIngest() = default;
  // Sets the event times of rows [first_row, end); drops (and reports in
  // errors_) rows whose event-time field is null.
  void SetEventTimes(size_t first_row, RecordBatch* batch);

  std::unique_ptr<format::Decoder> decoder_;
  // With metadata fields: the payload's fields are decoded into
  // payload_batch_, then moved into the output beside the metadata.
  size_t metadata_fields_ = 0;
  std::optional<RecordBatch> payload_batch_;
  std::unique_ptr<DeadLetterWriter> dead_letters_;
  spec::OnError on_error_ = spec::OnError::kFail;
  size_t max_record_bytes_ = 0;  // larger payloads go to on_error undecoded
  ConnectorStats* stats_ = nullptr;
  const Clock* clock_ = nullptr;
  bool event_time_job_ = false;
  int time_column_ = -1;  // the event_time field; -1: the clock's time
  std::string time_field_;
  // Reused per call.
  std::vector<format::DecodeError> errors_;
  std::vector<uint32_t> rows_of_;
  std::vector<uint8_t> touched_;
  std::vector<uint32_t> keep_;
  std::vector<std::string_view> kept_;  // payloads within max_record_bytes_
  std::vector<uint32_t> kept_index_;    // their indexes in the input
  std::vector<uint32_t> oversize_;
};

// The start of a source's SnapshotPosition: a position exists only after Open,
// and the dead letters of the records behind it must be out first (`ingest`
// may be null). `what` names the source: "kafka source 'orders'".
Status CheckSnapshotReady(const std::string& what, bool opened, SourceIngest* ingest);

// Reads the version byte a source position starts with: DataLoss "<where>
// has unknown version N" when it is not `version`. A short read only leaves
// r->ok() false, for the caller's check of the rest.
Status CheckPositionVersion(ByteReader* r, uint8_t version, const std::string& where);

// The time a source gives the rows of a processing-time job (or of a source
// without an event_time field in an event-time job).
inline int64_t NowOr0(const Clock* clock) {
  return clock ? clock->NowMillis() : 0;
}

// Sleeps (real time) for min(ms, max_ms) when positive. Generators use it to
// wait for their next row's due time without exceeding a Poll's timeout.
void SleepAtMost(int64_t ms, int max_ms);

// The key of a row for the kafka sink: one key field -> its text; several ->
// a JSON array of the values. Nulls: a single null field -> no key (*is_null).
void EncodeMessageKey(const RecordBatch& batch, const std::vector<int>& key_columns, size_t row,
                      std::string* out, bool* is_null);

// Appends the JSON text of a value (strings quoted, timestamps as ISO-8601).
void AppendJsonValue(const Column& column, size_t row, std::string* out);

// A small, fast random generator (SplitMix64) seeded by (seed, stream, n), so
// the generated sources make row n as a pure function of their seed and n.
class SeededRandom {
 public:
  SeededRandom(int64_t seed, uint64_t stream, int64_t n)
      : state_(Mix(static_cast<uint64_t>(seed) ^ Mix(stream + Mix(static_cast<uint64_t>(n))))) {}

  uint64_t Next() {
    state_ += 0x9E3779B97F4A7C15ULL;
    return Mix(state_);
  }
  // Uniform in [0, bound); bound > 0.
  int64_t Uniform(int64_t bound) {
    auto b = static_cast<uint64_t>(bound);
    if (b <= 0xFFFFFFFFULL) return static_cast<int64_t>(((Next() >> 32) * b) >> 32);
    return static_cast<int64_t>(Next() % b);
  }
  // Uniform in [0, 1).
  double NextDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  static uint64_t Mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

// The number of events numbered below which are due `elapsed_ms` after a
// generator started at `rate` events per second (event n is due at
// n * 1000 / rate ms), and the due time of event n.
inline int64_t DueCount(int64_t elapsed_ms, int64_t rate) {
  if (elapsed_ms < 0) return 0;
  return (elapsed_ms / 1000) * rate + ((elapsed_ms % 1000) * rate) / 1000 + 1;
}
inline int64_t DueOffsetMs(int64_t n, int64_t rate) {
  return (n / rate) * 1000 + (n % rate) * 1000 / rate;
}

Result<std::unique_ptr<Source>> MakeNexmarkSource(const spec::SourceSpec& spec);
Result<std::unique_ptr<Source>> MakeDatagenSource(const spec::SourceSpec& spec);
Result<std::unique_ptr<Sink>> MakeStdoutSink(const spec::SinkSpec& spec, const Schema& schema);
Result<std::unique_ptr<Sink>> MakeBlackholeSink();

}  // namespace weir::connectors
