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

// The function library over 1024 lines of about 1 KB of JSON (an order with
// a user, items and a log line), against lower() of the same lines: what a
// map with regexp_extract and json_value costs per row (docs/benchmarks.md,
// "Functions").
const char* const kLineFunctions[] = {
    "lower(line)",
    "regexp_extract(line, '\"ip\": \"([0-9.]+)\"', 1)",
    "json_value(line, '$.items[0].sku')",
    "json_value(line, '$.items[1].price')",  // a number: read again as written
    "regexp_like(line, 'Firefox/1[0-9]{2}')",
    "sha256(line)",
};

RecordBatch MakeJsonLines(size_t rows) {
  auto schema = std::make_shared<Schema>(std::vector<Field>{{"line", TypeId::kString}});
  RecordBatch batch(schema);
  Rng rng(5);
  std::string line;
  for (size_t i = 0; i < rows; ++i) {
    line = "{\"order_id\": " + std::to_string(i) + ", \"user\": {\"id\": \"u-" +
           std::to_string(rng.Uniform(100000)) + "\", \"ip\": \"10." +
           std::to_string(rng.Uniform(256)) + "." + std::to_string(rng.Uniform(256)) + "." +
           std::to_string(rng.Uniform(256)) +
           "\", \"agent\": \"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0\"}, "
           "\"items\": [";
    for (int k = 0; k < 5; ++k) {
      line += std::string(k ? ", " : "") + "{\"sku\": \"SKU-" +
              std::to_string(rng.Uniform(1000000)) +
              "\", \"qty\": " + std::to_string(1 + rng.Uniform(5)) +
              ", \"price\": " + std::to_string(rng.Uniform(50000)) + ".25, \"title\": \"" +
              std::string(40, static_cast<char>('a' + k)) + "\"}";
    }
    line += "], \"log\": \"GET /checkout/" + std::to_string(i) + " HTTP/1.1 200\"}";
    line.resize(std::max<size_t>(line.size(), 1000), ' ');
    batch.columns[0].AppendString(line);
  }
  batch.event_time.assign(rows, 0);
  return batch;
}

void BM_FunctionsOnJsonLines(benchmark::State& state) {
  const std::string text = kLineFunctions[state.range(0)];
  state.SetLabel(text);
  RecordBatch batch = MakeJsonLines(1024);
  expr::ExprError error;
  auto e = expr::Parse(text, &error);
  std::vector<expr::ExprError> errors;
  if (!e || !expr::Bind(e.get(), {expr::Input{"lines", batch.schema.get()}}, {}, &errors)) {
    state.SkipWithError("parse or bind failed");
    return;
  }
  expr::Evaluator ev(e.get());
  if (ev.Evaluate(batch).IsNull(0)) {
    state.SkipWithError("the function gave null on the benchmark's data");
    return;
  }
  for (auto _ : state) {
    const Column& out = ev.Evaluate(batch);
    benchmark::DoNotOptimize(out.nulls());
  }
  state.SetItemsProcessed(state.iterations() * 1024);
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(batch.columns[0].GetString(0).size()) * 1024);
}
BENCHMARK(BM_FunctionsOnJsonLines)->ArgName("expr")->DenseRange(0, 5);

}  // namespace
}  // namespace weir::bench
