// Helpers of the expression tests (expr_test.cc, expr_functions_test.cc):
// batches written as literals, binding with the errors, and evaluation
// rendered as text ("null", "12", "1.5", "'abc'", "true").
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <charconv>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "common/batch.h"
#include "common/expr/expr.h"

namespace weir::expr::test {

using ::testing::SizeIs;

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// ---- Batches ----------------------------------------------------------------

// One cell: null, an integer (boolean/bigint/timestamp), a double or a string.
struct Val {
  enum Kind { kNull, kInt, kDouble, kStr } kind = kNull;
  int64_t i = 0;
  double d = 0;
  std::string s;
};
inline Val N() {
  return {};
}
inline Val I(int64_t v) {
  return {Val::kInt, v, 0, {}};
}
inline Val B(bool v) {
  return {Val::kInt, v ? 1 : 0, 0, {}};
}
inline Val D(double v) {
  return {Val::kDouble, 0, v, {}};
}
inline Val S(std::string v) {
  return {Val::kStr, 0, 0, std::move(v)};
}

struct ColSpec {
  std::string name;
  TypeId type;
  std::vector<Val> values;
};

inline RecordBatch MakeBatch(const std::vector<ColSpec>& cols) {
  auto schema = std::make_shared<Schema>();
  for (const auto& c : cols) schema->Add({c.name, c.type});
  RecordBatch batch(schema);
  size_t rows = cols.empty() ? 0 : cols[0].values.size();
  for (size_t k = 0; k < cols.size(); ++k) {
    Column& col = batch.columns[k];
    for (const Val& v : cols[k].values) {
      switch (v.kind) {
        case Val::kNull:
          col.AppendNull();
          break;
        case Val::kInt:
          col.AppendInt(v.i);
          break;
        case Val::kDouble:
          col.AppendDouble(v.d);
          break;
        case Val::kStr:
          col.AppendString(v.s);
          break;
      }
    }
  }
  batch.event_time.assign(rows, 0);
  return batch;
}

// The batch most tests evaluate over: four rows, row 2 mostly null.
inline RecordBatch DefaultBatch() {
  return MakeBatch({
      {"i", TypeId::kBigint, {I(1), I(-7), N(), I(kMax)}},
      {"j", TypeId::kBigint, {I(2), I(0), I(3), I(1)}},
      {"d", TypeId::kDouble, {D(1.5), D(-2.5), N(), D(0)}},
      {"s", TypeId::kString, {S("abc"), S("Hello"), N(), S("")}},
      {"b", TypeId::kBoolean, {B(true), B(false), N(), B(true)}},
      {"ts", TypeId::kTimestamp, {I(1000), I(0), N(), I(1714564800000)}},
      {"by", TypeId::kBytes, {S("xy"), S(""), N(), S("z")}},
      {"name", TypeId::kString, {S("amy"), S("bob"), S("cy"), N()}},
      {"amount", TypeId::kBigint, {I(10), I(20), I(30), N()}},
  });
}

inline const Schema& DefaultSchema() {
  static const RecordBatch batch = DefaultBatch();
  return *batch.schema;
}

// ---- Helpers ----------------------------------------------------------------

inline std::unique_ptr<Expr> MustParse(std::string_view text) {
  ExprError err;
  auto e = Parse(text, &err);
  EXPECT_NE(e, nullptr) << "parse of '" << text << "' failed at " << err.offset << ": "
                        << err.message;
  return e;
}

inline ExprError ParseError(std::string_view text) {
  ExprError err;
  auto e = Parse(text, &err);
  EXPECT_EQ(e, nullptr) << "'" << text << "' parsed as " << (e ? ToString(*e) : "");
  return err;
}

// Parses and binds against the default schema; the errors when it fails.
inline std::unique_ptr<Expr> BindText(std::string_view text, std::vector<ExprError>* errors,
                                      BindOptions options = {},
                                      const Schema* schema = &DefaultSchema()) {
  ExprError err;
  auto e = Parse(text, &err);
  if (!e) {
    errors->push_back(err);
    return nullptr;
  }
  std::vector<Input> inputs = {{"T", schema}};
  if (!Bind(e.get(), inputs, options, errors)) return nullptr;
  return e;
}

inline std::vector<ExprError> BindErrors(std::string_view text, BindOptions options = {}) {
  std::vector<ExprError> errors;
  auto e = BindText(text, &errors, options);
  EXPECT_EQ(e, nullptr) << "'" << text << "' bound without error";
  return errors;
}

// The single bind error of `text` (fails the test when there are more or none).
inline ExprError BindError(std::string_view text, BindOptions options = {}) {
  auto errors = BindErrors(text, options);
  EXPECT_THAT(errors, SizeIs(1)) << text;
  return errors.empty() ? ExprError{} : errors[0];
}

inline TypeId TypeOf(std::string_view text, BindOptions options = {}) {
  std::vector<ExprError> errors;
  auto e = BindText(text, &errors, options);
  EXPECT_NE(e, nullptr) << text << ": " << (errors.empty() ? "" : errors[0].message);
  return e ? e->type : TypeId::kNull;
}

inline std::string Render(const Column& c, size_t i) {
  if (c.IsNull(i)) return "null";
  switch (c.type()) {
    case TypeId::kNull:
      return "null";
    case TypeId::kBoolean:
      return c.GetBool(i) ? "true" : "false";
    case TypeId::kBigint:
    case TypeId::kTimestamp:
      return std::to_string(c.GetInt(i));
    case TypeId::kDouble: {
      char buf[64];
      auto [p, ec] = std::to_chars(buf, buf + sizeof buf, c.GetDouble(i));
      return std::string(buf, static_cast<size_t>(p - buf));
    }
    case TypeId::kString:
    case TypeId::kBytes:
      return "'" + std::string(c.GetString(i)) + "'";
  }
  return "?";
}

inline std::vector<std::string> RenderAll(const Column& c, size_t rows) {
  std::vector<std::string> out;
  for (size_t i = 0; i < rows; ++i) out.push_back(Render(c, i));
  return out;
}

// Evaluates `text` over `batch` (bound against the batch's schema) and
// renders every row: "null", "12", "1.5", "'abc'", "true". A parse or bind
// failure comes back as one "ERROR: ..." row so the assertion shows it.
inline std::vector<std::string> Eval(std::string_view text, const RecordBatch& batch,
                                     BindOptions options = {}, int64_t now_ms = 0) {
  std::vector<ExprError> errors;
  auto e = BindText(text, &errors, options, batch.schema.get());
  if (!e) return {"ERROR: " + (errors.empty() ? std::string() : errors[0].message)};
  Evaluator ev(e.get());
  const Column& c = ev.Evaluate(batch, now_ms);
  EXPECT_EQ(c.type(), e->type) << text;
  EXPECT_EQ(c.size(), batch.num_rows()) << text;
  return RenderAll(c, batch.num_rows());
}

inline std::vector<std::string> Eval(std::string_view text) {
  return Eval(text, DefaultBatch());
}

// Evaluates a constant expression over a one-row batch.
inline std::string Eval1(std::string_view text) {
  RecordBatch one = MakeBatch({{"x", TypeId::kBigint, {I(0)}}});
  auto rows = Eval(text, one);
  return rows.empty() ? "" : rows[0];
}

}  // namespace weir::expr::test
