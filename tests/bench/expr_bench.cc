// Expression evaluation (common/expr): filters, maps and aggregate arguments
// are evaluated a whole batch at a time.
#include <memory>
#include <string>
#include <vector>

#include "common/expr/expr.h"
#include "tests/bench/bench_util.h"

namespace weir::bench {
namespace {

// The expressions of the Nexmark job files and a few heavier ones.
const char* const kExpressions[] = {
    "auction % 123 = 0",                                    // q2 filter
    "price * 0.908",                                        // q1 map
    "price > 10000 and channel = 'Google'",                 // a conjunction with a string compare
    "case when price > 500000 then 'high' else 'low' end",  // a case producing strings
    "lower(channel) in ('google', 'apple', 'baidu')",       // a function and an IN list
};

std::unique_ptr<expr::Expr> ParseAndBind(const std::string& text, benchmark::State& state) {
  expr::ExprError error;
  auto e = expr::Parse(text, &error);
  if (!e) {
    state.SkipWithError(("parse: " + error.message).c_str());
    return nullptr;
  }
  std::vector<expr::ExprError> errors;
  if (!expr::Bind(e.get(), {expr::Input{"bids", BidSchema().get()}}, {}, &errors)) {
    state.SkipWithError(("bind: " + errors.front().message).c_str());
    return nullptr;
  }
  return e;
}

// Evaluate(): range(0) picks the expression, range(1) the batch size.
void BM_ExprEvaluate(benchmark::State& state) {
  const std::string text = kExpressions[state.range(0)];
  state.SetLabel(text);
  auto e = ParseAndBind(text, state);
  if (!e) return;
  Rng rng(11);
  RecordBatch batch = MakeBidBatch(rng, 0, static_cast<size_t>(state.range(1)));
  expr::Evaluator ev(e.get());
  for (auto _ : state) {
    const Column& out = ev.Evaluate(batch);
    benchmark::DoNotOptimize(out.nulls());
  }
  state.SetItemsProcessed(state.iterations() * state.range(1));
}
BENCHMARK(BM_ExprEvaluate)->ArgNames({"expr", "rows"})->ArgsProduct({{0, 1, 2, 3, 4}, {1024}});

// Select(): the filter operator's path (evaluate, then collect selected rows).
void BM_ExprSelect(benchmark::State& state) {
  const std::string text = kExpressions[state.range(0)];
  state.SetLabel(text);
  auto e = ParseAndBind(text, state);
  if (!e) return;
  Rng rng(11);
  RecordBatch batch = MakeBidBatch(rng, 0, static_cast<size_t>(state.range(1)));
  expr::Evaluator ev(e.get());
  std::vector<uint32_t> selected;
  for (auto _ : state) {
    selected.clear();
    ev.Select(batch, &selected);
    benchmark::DoNotOptimize(selected.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(1));
}
BENCHMARK(BM_ExprSelect)->ArgNames({"expr", "rows"})->ArgsProduct({{0, 2}, {1024}});

}  // namespace
}  // namespace weir::bench
