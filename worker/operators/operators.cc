// The operator factory and the stateless operators (filter, map, union).
// The keyed ones live in window.cc, dedupe.cc, reduce.cc and join.cc.
#include <memory>

#include "common/expr/expr.h"
#include "worker/operators/stateful_internal.h"
#include "worker/runtime/operator.h"

namespace weir::runtime {
namespace {

// Keeps the rows for which the condition is true (null drops the row).
class FilterOperator final : public Operator {
 public:
  explicit FilterOperator(const spec::OperatorSpec& op)
      : eval_(op.filter.expr.get()), schema_(std::make_shared<Schema>(op.schema)) {}

  Status Open(const OperatorContext& ctx) override {
    clock_ = ctx.clock;
    return Status::OK();
  }

  Status ProcessBatch(int, RecordBatch& batch, Output& out) override {
    eval_.Select(batch, &selected_, clock_ ? clock_->NowMillis() : 0);
    if (selected_.empty()) return Status::OK();
    if (selected_.size() == batch.num_rows()) {
      out.Emit(0, batch);
      return Status::OK();
    }
    RecordBatch kept(schema_);
    kept.AppendRows(batch, selected_.data(), selected_.size());
    out.Emit(0, kept);
    return Status::OK();
  }

 private:
  expr::Evaluator eval_;
  std::shared_ptr<const Schema> schema_;
  std::vector<uint32_t> selected_;
  const Clock* clock_ = nullptr;
};

// Computes every output field from the input row; the event time passes on.
class MapOperator final : public Operator {
 public:
  explicit MapOperator(const spec::OperatorSpec& op)
      : schema_(std::make_shared<Schema>(op.schema)) {
    for (const auto& m : op.map) evals_.push_back(std::make_unique<expr::Evaluator>(m.expr.get()));
  }

  Status Open(const OperatorContext& ctx) override {
    clock_ = ctx.clock;
    return Status::OK();
  }

  Status ProcessBatch(int, RecordBatch& batch, Output& out) override {
    if (batch.num_rows() == 0) return Status::OK();
    RecordBatch result(schema_);
    const int64_t now = clock_ ? clock_->NowMillis() : 0;
    for (size_t i = 0; i < evals_.size(); ++i) result.columns[i] = evals_[i]->Evaluate(batch, now);
    result.event_time = std::move(batch.event_time);
    out.Emit(0, result);
    return Status::OK();
  }

 private:
  std::shared_ptr<const Schema> schema_;
  std::vector<std::unique_ptr<expr::Evaluator>> evals_;
  const Clock* clock_ = nullptr;
};

// Merges its inputs, which the validator made sure have one schema.
class UnionOperator final : public Operator {
 public:
  Status ProcessBatch(int, RecordBatch& batch, Output& out) override {
    out.Emit(0, batch);
    return Status::OK();
  }
};

}  // namespace

Result<std::unique_ptr<Operator>> MakeOperator(const spec::OperatorSpec& op,
                                               const spec::JobSpec& job,
                                               const std::vector<const Schema*>& inputs) {
  switch (op.kind) {
    case spec::OperatorKind::kFilter:
      return std::unique_ptr<Operator>(new FilterOperator(op));
    case spec::OperatorKind::kMap:
      return std::unique_ptr<Operator>(new MapOperator(op));
    case spec::OperatorKind::kUnion:
      return std::unique_ptr<Operator>(new UnionOperator());
    case spec::OperatorKind::kWindowAggregate:
      return operators::MakeWindowAggregate(op, job, inputs);
    case spec::OperatorKind::kDedupe:
      return operators::MakeDedupe(op, job, inputs);
    case spec::OperatorKind::kReduce:
      return operators::MakeReduce(op, job, inputs);
    case spec::OperatorKind::kJoin:
      return operators::MakeJoin(op, job, inputs);
    case spec::OperatorKind::kUdf:
      break;
  }
  return Status(StatusCode::kUnimplemented, "operator '" + op.name + "': kind not supported");
}

}  // namespace weir::runtime
