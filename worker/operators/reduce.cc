// Reduce: key_by + reduce: {name: aggregate}. A running aggregate per key,
// without a window: each input batch folds its rows into their keys'
// accumulators and emits, for every key the batch touched, one row with the
// key fields and the aggregates' current values (an update stream: the last
// row of a key is its current result). The row's event time is the largest
// event time of that key's rows in the batch. Aggregate semantics are those
// of aggregates_internal.h. Nothing is emitted by watermarks, time or Finish,
// and keys are never forgotten (as Flink without state TTL).
//
// State "accumulators" (under the key's key group): key bytes -> the
// accumulators' encoding (aggregates_internal.h); one Get and one Put per
// distinct key per batch.
#include <algorithm>

#include "worker/operators/aggregates_internal.h"
#include "worker/operators/stateful_internal.h"

namespace weir::operators {
namespace {

using runtime::Output;

class ReduceOperator final : public KeyedOperator {
 public:
  explicit ReduceOperator(const spec::OperatorSpec& op)
      : name_(op.name),
        grouper_(op.key_by),
        aggs_(op.aggregates),
        schema_(std::make_shared<Schema>(op.schema)),
        num_keys_(op.key_by.size()) {}

  Status Open(const runtime::OperatorContext& ctx) override {
    if (!ctx.state) return Status::FailedPrecondition("reduce '" + name_ + "': no state backend");
    state_ = ctx.state;
    clock_ = ctx.clock;
    max_parallelism_ = ctx.max_parallelism;
    state_id_ = state_->Register(name_, "accumulators");
    main_ = OutputBuffer(schema_, 0, ctx.batch_size);
    return Status::OK();
  }

  Status ProcessBatch(int, RecordBatch& batch, Output& out) override {
    if (batch.num_rows() == 0) return Status::OK();
    const int64_t now = clock_ ? clock_->NowMillis() : 0;
    grouper_.Group(batch, max_parallelism_, now);
    aggs_.EvaluateArgs(batch, now);
    for (size_t g = 0; g < grouper_.num_groups(); ++g) {
      const std::string_view key = grouper_.key(g);
      const int kg = grouper_.key_group(g);
      WEIR_ASSIGN_OR_RETURN(bool found, state_->Get(state_id_, kg, key, &value_));
      if (found) {
        ByteReader rd(value_);
        if (!aggs_.Decode(&rd, &accs_))
          return Status::DataLoss("reduce '" + name_ + "': malformed state entry");
      } else {
        aggs_.Reset(&accs_);
      }
      const uint32_t* rows = grouper_.rows(g);
      const size_t m = grouper_.num_rows(g);
      aggs_.Update(&accs_, rows, m, 0);
      value_.clear();
      ByteWriter w(&value_);
      aggs_.Encode(accs_, &w);
      WEIR_RETURN_IF_ERROR(state_->Put(state_id_, kg, key, value_));

      int64_t time = batch.event_time[rows[0]];
      for (size_t k = 1; k < m; ++k) time = std::max(time, batch.event_time[rows[k]]);
      RecordBatch& b = main_.batch();
      DecodeKeyInto(key, num_keys_, &b.columns, 0);
      aggs_.AppendResults(accs_, &b.columns, num_keys_);
      b.event_time.push_back(time);
      main_.RowAdded(out);
    }
    main_.Flush(out);
    return Status::OK();
  }

 private:
  const std::string name_;
  KeyGrouper grouper_;
  Aggregates aggs_;
  std::shared_ptr<const Schema> schema_;
  const size_t num_keys_;
  state::KeyedStateBackend* state_ = nullptr;
  state::StateId state_id_ = 0;
  const Clock* clock_ = nullptr;
  int max_parallelism_ = 128;
  OutputBuffer main_;
  Accumulators accs_;
  std::string value_;
};

}  // namespace

Result<std::unique_ptr<runtime::Operator>> MakeReduce(const spec::OperatorSpec& op,
                                                      const spec::JobSpec& job,
                                                      const std::vector<const Schema*>& inputs) {
  if (op.key_by.empty()) return Status::InvalidArgument("reduce '" + op.name + "' needs key_by");
  return std::unique_ptr<runtime::Operator>(new ReduceOperator(op));
}

}  // namespace weir::operators
