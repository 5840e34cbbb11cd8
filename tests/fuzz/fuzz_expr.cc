// libFuzzer target for the expression language: parses the input; when it
// parses, checks that ToString() reads back to the same text, binds it
// against a small fixed schema and evaluates it (twice, and over an empty
// batch) on rows full of edge values: INT64_MIN, -1, 0, NaN, infinities,
// invalid UTF-8, nulls, JSON, a zone name, a pattern. hmac_sha256 has the
// keys 'k' and 'pii'. Also runs the text through ParseAggregate. Any crash,
// sanitizer report or broken invariant (abort) is a bug.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/batch.h"
#include "common/expr/expr.h"

namespace {

using weir::Column;
using weir::RecordBatch;
using weir::Schema;
using weir::TypeId;
namespace expr = weir::expr;

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr double kInf = std::numeric_limits<double>::infinity();

void Check(bool ok, const char* what, std::string_view input) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_expr: %s for input '%.*s'\n", what, static_cast<int>(input.size()),
               input.data());
  std::abort();
}

std::shared_ptr<const Schema> MakeSchema() {
  return std::make_shared<Schema>(std::vector<weir::Field>{{"i", TypeId::kBigint},
                                                           {"j", TypeId::kBigint},
                                                           {"d", TypeId::kDouble},
                                                           {"s", TypeId::kString},
                                                           {"b", TypeId::kBoolean},
                                                           {"ts", TypeId::kTimestamp},
                                                           {"by", TypeId::kBytes}});
}

// Eight rows of edge values, or (empty) none, of the schema above. The
// strings include JSON, a zone name and a pattern, for the functions that
// take those from the data.
RecordBatch MakeBatch(const std::shared_ptr<const Schema>& schema, bool empty) {
  RecordBatch batch(schema);
  if (empty) return batch;
  auto ints = [](Column& c, std::vector<std::optional<int64_t>> v) {
    for (auto x : v) x ? c.AppendInt(*x) : c.AppendNull();
  };
  ints(batch.columns[0], {0, -1, kMin, kMax, std::nullopt, 7, 1000001, -3});
  ints(batch.columns[1], {-1, 0, -1, 2, 3, std::nullopt, 1, 0});
  for (auto x : std::vector<std::optional<double>>{std::nan(""), kInf, -0.0, 1e308, std::nullopt,
                                                   2.5, -kInf, 5e-324}) {
    x ? batch.columns[2].AppendDouble(*x) : batch.columns[2].AppendNull();
  }
  for (auto x : std::vector<std::optional<std::string>>{
           "", "abc", "h\xC3\xA9llo", "2024-05-01T12:00:00Z", std::nullopt, " 12 ",
           R"({"a": [1, 2.50], "b": {"c": "\u00e9"}, "a": 2})", "Europe/Berlin"}) {
    x ? batch.columns[3].AppendString(*x) : batch.columns[3].AppendNull();
  }
  ints(batch.columns[4], {1, 0, std::nullopt, 1, 0, 1, 0, 1});
  ints(batch.columns[5],
       {0, kMin, kMax, 1714564800000, std::nullopt, -1, 1729992600000, 253402300800000});
  for (auto x : std::vector<std::optional<std::string>>{"", "\xFF\x80", std::nullopt, "z", "\x80",
                                                        "q", "(a+)+$", "\xE2\x82"}) {
    x ? batch.columns[6].AppendString(*x) : batch.columns[6].AppendNull();
  }
  batch.event_time.assign(8, 0);
  return batch;
}

void EvaluateOver(const expr::Expr& e, const RecordBatch& batch, std::string_view input) {
  expr::Evaluator ev(&e);
  for (int round = 0; round < 2; ++round) {
    const Column& c = ev.Evaluate(batch, /*now_ms=*/1714564800000 + round);
    Check(c.size() == batch.num_rows(), "result has the wrong number of rows", input);
    Check(c.type() == e.type, "result has the wrong type", input);
    for (size_t i = 0; i < c.size(); ++i) (void)c.ValueToString(i);
    if (e.type == TypeId::kBoolean || e.type == TypeId::kNull) {
      std::vector<uint32_t> selected;
      ev.Select(batch, &selected);
      Check(selected.size() <= batch.num_rows(), "selected more rows than the batch has", input);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::shared_ptr<const Schema> schema = MakeSchema();
  static const RecordBatch batch = MakeBatch(schema, false);
  static const RecordBatch empty = MakeBatch(schema, true);

  const std::string_view text(reinterpret_cast<const char*>(data), size);
  expr::ExprError err;
  std::unique_ptr<expr::Expr> e = expr::Parse(text, &err);
  if (!e) {
    Check(err.offset <= size, "parse error offset past the end", text);
    Check(!err.message.empty(), "parse error without a message", text);
    return 0;
  }

  // ToString reads back to itself (unless the parentheses it adds push a
  // deep expression over the nesting limit).
  const std::string printed = expr::ToString(*e);
  expr::ExprError err2;
  auto reparsed = expr::Parse(printed, &err2);
  if (reparsed) {
    Check(expr::ToString(*reparsed) == printed, "ToString does not round-trip", text);
  } else {
    Check(err2.message.find("too deeply nested") != std::string::npos,
          "ToString output does not parse", text);
  }

  const std::vector<expr::Input> inputs = {{"T", schema.get()}};
  static const std::shared_ptr<expr::KeyRing> keys = [] {
    auto k = std::make_shared<expr::KeyRing>();
    k->names = {"k", "pii"};
    k->values = {{"k", "key"}, {"pii", std::string(100, 'x')}};
    return k;
  }();
  expr::BindOptions options;
  options.allow_now = (size % 2) == 0;
  options.keys = keys;
  std::vector<expr::ExprError> errors;
  if (expr::Bind(e.get(), inputs, options, &errors)) {
    Check(errors.empty(), "Bind succeeded with errors", text);
    EvaluateOver(*e, batch, text);
    EvaluateOver(*e, empty, text);
  } else {
    Check(!errors.empty(), "Bind failed without an error", text);
    for (const auto& x : errors) {
      Check(x.offset <= size, "bind error offset past the end", text);
      Check(!x.message.empty(), "bind error without a message", text);
    }
  }

  expr::Aggregate agg;
  errors.clear();
  if (expr::ParseAggregate(text, inputs, options, &agg, &errors)) {
    if (agg.arg) EvaluateOver(*agg.arg, batch, text);
  } else {
    Check(!errors.empty(), "ParseAggregate failed without an error", text);
  }
  return 0;
}
