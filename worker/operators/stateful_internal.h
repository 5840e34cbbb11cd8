// Private to worker/operators: the keyed (stateful) operators' factories and
// the helpers they share.
//
// The keyed operators are window aggregates (window.cc), dedupe (dedupe.cc),
// reduce (reduce.cc) and joins (join.cc). All of them:
//  - evaluate their key expressions over a whole batch and group the batch's
//    rows by key (KeyGrouper), so that state is read and written once per
//    distinct key (and window) per batch, never per row;
//  - keep what they remember in the task's KeyedStateBackend under the key's
//    key group, in the compact encodings of ByteWriter/ByteReader and
//    EncodeRow (varints, length-prefixed strings); a state key is the key
//    bytes of common/keys.h, followed for per-window state by the window
//    start (8 bytes, big endian, sign bit flipped, so entries sort by key
//    then window);
//  - keep their timers (when a window fires, when a key expires) in memory,
//    and rebuild them in Open by scanning their state over ctx.key_groups:
//    on recovery Open finds the state the previous instance left (as of the
//    checkpoint) and the new instance goes on as if nothing had happened;
//  - keep how far time has gone for them (the watermark, or the clock) in
//    state "progress" (OperatorProgress), since it decides what has fired
//    and what is late;
//  - build output batches of at most ctx.batch_size rows (OutputBuffer),
//    flushed before each call returns, so nothing waits in memory between
//    two calls (where a checkpoint happens).
//
// Helpers are implemented in aggregates.cc, next to the accumulators, and
// in progress.cc (OperatorProgress, SplitWindowKey).
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/batch.h"
#include "common/bytes.h"
#include "common/expr/expr.h"
#include "common/keys.h"
#include "common/spec/job_spec.h"
#include "common/status.h"
#include "worker/runtime/operator.h"

namespace weir::operators {

// ---- Factories, called by runtime::MakeOperator (operators.cc) ----

Result<std::unique_ptr<runtime::Operator>> MakeWindowAggregate(
    const spec::OperatorSpec& op, const spec::JobSpec& job,
    const std::vector<const Schema*>& inputs);
Result<std::unique_ptr<runtime::Operator>> MakeDedupe(const spec::OperatorSpec& op,
                                                      const spec::JobSpec& job,
                                                      const std::vector<const Schema*>& inputs);
Result<std::unique_ptr<runtime::Operator>> MakeReduce(const spec::OperatorSpec& op,
                                                      const spec::JobSpec& job,
                                                      const std::vector<const Schema*>& inputs);
Result<std::unique_ptr<runtime::Operator>> MakeJoin(const spec::OperatorSpec& op,
                                                    const spec::JobSpec& job,
                                                    const std::vector<const Schema*>& inputs);

// ---- Counters ----

// What a keyed operator counts; read by metrics and tests.
struct KeyedOperatorStats {
  int64_t late_dropped = 0;        // late rows dropped (no late stream, or a join)
  int64_t late_emitted = 0;        // late rows sent to the late stream (port 1)
  int64_t windows_fired = 0;       // result rows of windows (re-firings included)
  int64_t duplicates_dropped = 0;  // dedupe
  int64_t join_matches = 0;        // joins: pairs emitted
};

// The base of every keyed operator, so its counters can be read through an
// Operator pointer: dynamic_cast<KeyedOperator*>(op)->stats().
class KeyedOperator : public runtime::Operator {
 public:
  const KeyedOperatorStats& stats() const { return stats_; }
  int64_t late_dropped() const override { return stats_.late_dropped; }

 protected:
  KeyedOperatorStats stats_;
};

// ---- Byte encoding of state values: common/bytes.h ----

using weir::AppendTimeSuffix;
using weir::ByteReader;
using weir::ByteWriter;

// a + b, clamped to the int64 range (window ends and cleanup times near the
// extremes of time must not wrap).
inline int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r))
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  return r;
}

// floor(t / d) * d for d > 0, correct for negative t.
inline int64_t FloorTo(int64_t t, int64_t d) {
  int64_t m = t % d;
  if (m < 0) m += d;
  return t - m;
}

// Row encoding: per column a null flag byte, then the value (zigzag varint
// for boolean/bigint/timestamp, 8 bytes for double, length + bytes for
// string/bytes). Columns of type null take only their flag.
void EncodeRow(const std::vector<Column>& columns, size_t row, std::string* out);
// Decodes one row written by EncodeRow and appends it to columns
// [first, first + n) of *out, whose types are those of the encoded columns.
// Returns false on malformed input.
bool DecodeRowInto(ByteReader* r, size_t n, std::vector<Column>* out, size_t first);
// Decodes a key written by EncodeKey (common/keys.h) and appends its values
// to columns [first, first + n) of *out.
bool DecodeKeyInto(std::string_view key, size_t n, std::vector<Column>* out, size_t first);

// Splits a per-window state key, key bytes followed by AppendTimeSuffix of
// the window start, into both. False when it is too short to hold a start.
bool SplitWindowKey(std::string_view state_key, std::string_view* key, int64_t* start);

// ---- Time across restores ----

// How far time has gone for a keyed operator: its watermark (processing
// time: the clock's time it last acted on). Windows whose end - 1 is at or
// below it have fired, rows behind it are late, so a restored instance must
// start from the value its predecessor had at the checkpoint, not from
// kMinWatermark. Stored in state "progress" of the operator as one entry,
// key empty, value u8 version (1) + zigzag time, at the first key group of
// the operator's range; Store rewrites it (one Put) whenever time advances.
class OperatorProgress {
 public:
  // Registers the state and returns the time a previous instance stored, or
  // kMinWatermark. Entries are looked for in ctx.key_groups. When there is
  // none there but the operator's state `data` has entries there, this is a
  // restore with another parallelism whose range holds no old range's first
  // key group: then anywhere (a fresh start must not look further: running
  // siblings' entries are not its own past). Several values (after a change
  // of parallelism): the lowest, so that no window is taken for fired that
  // had not (at worst one fires twice; with aligned checkpoints every subtask
  // of an operator has the same watermark anyway). Leaves a single entry,
  // this instance's, in its range. kDataLoss for a malformed entry.
  Result<int64_t> Open(const runtime::OperatorContext& ctx, const std::string& op_name,
                       state::StateId data);
  Status Store(int64_t time);

 private:
  state::KeyedStateBackend* state_ = nullptr;
  state::StateId id_ = 0;
  int key_group_ = -1;  // -1: the operator owns no key group, stores nothing
  std::string value_;
};

// ---- Grouping a batch by key ----

// Evaluates the key expressions over a batch and groups its rows by key.
// Groups come in order of first appearance; the rows of a group in arrival
// (batch) order. Buffers are reused across batches: no allocation per row in
// the steady state.
class KeyGrouper {
 public:
  // `keys`: key_by, or one side's join keys. `as_types`, when given, is the
  // type each key is encoded as: a bigint key is converted to double where it
  // says double (a join of a bigint key with a double one).
  explicit KeyGrouper(const std::vector<spec::NamedExpr>& keys, std::vector<TypeId> as_types = {});

  void Group(const RecordBatch& batch, int max_parallelism, int64_t now_ms);

  size_t num_groups() const { return group_first_.size(); }
  std::string_view key(size_t g) const {
    uint32_t r = group_first_[g];
    return std::string_view(key_bytes_)
        .substr(key_offsets_[r], key_offsets_[r + 1] - key_offsets_[r]);
  }
  int key_group(size_t g) const { return group_kg_[g]; }
  const uint32_t* rows(size_t g) const { return order_.data() + group_start_[g]; }
  size_t num_rows(size_t g) const { return group_start_[g + 1] - group_start_[g]; }
  // Whether any key value of group g is null (a join never matches it).
  bool has_null(size_t g) const { return group_null_[g] != 0; }
  size_t num_keys() const { return evals_.size(); }

 private:
  std::vector<std::unique_ptr<expr::Evaluator>> evals_;
  std::vector<TypeId> as_types_;
  std::vector<Column> converted_;  // per key: the double copy of a bigint key, if needed
  std::vector<const Column*> cols_;
  std::string key_bytes_;
  std::vector<uint32_t> key_offsets_;  // per row, plus one
  std::vector<uint64_t> hashes_;       // per row
  std::vector<int32_t> slots_;         // open addressing: group index or -1
  std::vector<uint32_t> row_group_;    // per row
  std::vector<uint32_t> group_first_;  // per group: its first row
  std::vector<int> group_kg_;          // per group: key group
  std::vector<uint8_t> group_null_;    // per group: a key value is null
  std::vector<uint32_t> group_start_;  // per group, plus one: offset into order_
  std::vector<uint32_t> order_;        // rows sorted by group, stable
};

// ---- Output ----

// Collects output rows of one schema and emits them in batches of at most
// batch_size rows.
class OutputBuffer {
 public:
  OutputBuffer() = default;
  OutputBuffer(std::shared_ptr<const Schema> schema, int port, int batch_size)
      : schema_(std::move(schema)), port_(port), batch_size_(batch_size < 1 ? 1 : batch_size) {
    batch_ = RecordBatch(schema_);
  }
  // The batch to append one row to (its columns and event_time); call
  // RowAdded after appending.
  RecordBatch& batch() { return batch_; }
  void RowAdded(runtime::Output& out) {
    if (batch_.num_rows() >= static_cast<size_t>(batch_size_)) Flush(out);
  }
  // Appends rows of `src` (same schema) in batch_size chunks.
  void AppendRows(const RecordBatch& src, const uint32_t* rows, size_t n, runtime::Output& out) {
    while (n > 0) {
      size_t room = static_cast<size_t>(batch_size_) - batch_.num_rows();
      size_t take = n < room ? n : room;
      batch_.AppendRows(src, rows, take);
      rows += take;
      n -= take;
      RowAdded(out);
    }
  }
  void Flush(runtime::Output& out) {
    if (batch_.num_rows() == 0) return;
    out.Emit(port_, batch_);
    if (batch_.columns.size() != schema_->size())
      batch_ = RecordBatch(schema_);
    else
      batch_.Clear();
  }

 private:
  std::shared_ptr<const Schema> schema_;
  int port_ = 0;
  int batch_size_ = 1024;
  RecordBatch batch_;
};

}  // namespace weir::operators
