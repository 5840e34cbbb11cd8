// Private to worker/operators: the accumulators of window aggregates and
// reduce.
//
// Aggregates holds the operator's aggregate list. Per batch, EvaluateArgs()
// evaluates every argument over the whole batch once; Update() then folds a
// run of rows (one key, one window) into that run's accumulators with the
// kind/type switch outside the row loop, so there is no per-row virtual call.
// Accumulators are decoded from state, updated and encoded back once per
// (key, window) per batch.
//
// Semantics (Flink SQL's): count() counts rows; every other aggregate ignores
// null inputs. sum of bigint wraps on overflow (two's complement), sum of
// double is a double; sum/min/max/first/last over no non-null value is null;
// avg is a double, null when there was no non-null input; min/max order
// numbers, strings and bytes (bytewise), timestamps and booleans; first/last
// are the first/last non-null value by arrival (FIRST_VALUE/LAST_VALUE);
// count_distinct is exact: the set of distinct values is part of the
// accumulator (and so of the state).
//
// Encoding of one accumulator (per kind, in aggregate order, no header):
//   count(), count(x):   varint n
//   sum:                 varint n (non-null inputs), then the sum (zigzag varint or 8-byte double)
//   min, max:            varint n, then the value when n > 0
//   avg:                 varint n, 8-byte double sum
//   first, last:         varint n (0 or 1), then the value and a zigzag varint arrival seq
//   count_distinct:      varint k, then k length-prefixed canonical values (sorted)
// Values: zigzag varint (boolean/bigint/timestamp), 8-byte double, or
// length-prefixed bytes (string/bytes).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/batch.h"
#include "common/expr/expr.h"
#include "common/spec/job_spec.h"
#include "worker/operators/stateful_internal.h"

namespace weir::operators {

// The running state of one aggregate for one (key, window). Which fields are
// used depends on the aggregate's kind and argument type.
struct Accumulator {
  int64_t n = 0;    // rows (count()), non-null inputs (others); first/last: 0 or 1
  int64_t i = 0;    // bigint sum; int-stored min/max/first/last
  double d = 0;     // double sum, avg sum; double min/max/first/last
  std::string s;    // string min/max/first/last
  int64_t seq = 0;  // first/last: arrival seq of the value (merging sessions)
  std::vector<std::string> distinct;  // count_distinct: sorted canonical values
  size_t distinct_size = 0;           // live entries of `distinct` (the rest are reusable)
};
using Accumulators = std::vector<Accumulator>;

class Aggregates {
 public:
  explicit Aggregates(const std::vector<spec::AggregateSpec>& specs);
  ~Aggregates();
  Aggregates(const Aggregates&) = delete;
  Aggregates& operator=(const Aggregates&) = delete;

  size_t size() const { return aggs_.size(); }
  TypeId result_type(size_t i) const { return aggs_[i].result_type; }

  // Evaluates every argument over `batch`; Update reads these columns.
  void EvaluateArgs(const RecordBatch& batch, int64_t now_ms);
  // Sets *accs to the empty accumulators (reusing their buffers).
  void Reset(Accumulators* accs) const;
  // Folds rows[0..n) of the last evaluated batch into *accs, in that order.
  // The arrival seq of row r is seq_base + r (first/last keep it so that
  // merged session windows still know which value came first).
  void Update(Accumulators* accs, const uint32_t* rows, size_t n, int64_t seq_base) const;
  // Folds `from` into *into (session windows merging).
  void Merge(Accumulators* into, const Accumulators& from) const;
  void Encode(const Accumulators& accs, ByteWriter* w) const;
  // Decodes into *accs (reusing its buffers); false when malformed.
  bool Decode(ByteReader* r, Accumulators* accs) const;
  // Appends one value per aggregate to columns[first...].
  void AppendResults(const Accumulators& accs, std::vector<Column>* columns, size_t first) const;

 private:
  enum class Storage : uint8_t { kInt, kDouble, kString };
  struct Agg {
    expr::AggKind kind;
    TypeId arg_type = TypeId::kNull;
    Storage storage = Storage::kInt;  // of the argument
    TypeId result_type;
    std::unique_ptr<expr::Evaluator> eval;  // null for count()
    const Column* arg = nullptr;            // the last evaluated argument
  };
  void UpdateOne(const Agg& a, Accumulator* acc, const uint32_t* rows, size_t n,
                 int64_t seq_base) const;
  static void InsertDistinct(Accumulator* acc, std::string_view v);

  std::vector<Agg> aggs_;
  mutable std::string scratch_;
};

}  // namespace weir::operators
