// Tests of the expression language: lexer and parser (precedence, errors with
// offsets), ToString, the binder (types, errors), ParseAggregate, and the
// vectorised evaluator (null semantics, overflow, casts, functions).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "common/batch.h"
#include "common/expr/expr.h"
#include "common/time.h"
#include "tests/unit/expr_test_util.h"

namespace weir::expr {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using namespace weir::expr::test;

// ---- Parsing ----------------------------------------------------------------

TEST(ExprParse, Literals) {
  auto e = MustParse("12");
  EXPECT_EQ(e->kind, NodeKind::kLiteral);
  EXPECT_EQ(e->literal.type, TypeId::kBigint);
  EXPECT_EQ(e->literal.i, 12);

  e = MustParse("1.5");
  EXPECT_EQ(e->literal.type, TypeId::kDouble);
  EXPECT_EQ(e->literal.d, 1.5);
  e = MustParse("1e3");
  EXPECT_EQ(e->literal.type, TypeId::kDouble);
  EXPECT_EQ(e->literal.d, 1000);
  e = MustParse("2.5E-1");
  EXPECT_EQ(e->literal.d, 0.25);

  e = MustParse("'it''s'");
  EXPECT_EQ(e->literal.type, TypeId::kString);
  EXPECT_EQ(e->literal.s, "it's");
  EXPECT_EQ(MustParse("''")->literal.s, "");

  EXPECT_EQ(MustParse("TRUE")->literal.type, TypeId::kBoolean);
  EXPECT_EQ(MustParse("True")->literal.i, 1);
  EXPECT_EQ(MustParse("false")->literal.i, 0);
  EXPECT_EQ(MustParse("NULL")->literal.type, TypeId::kNull);
}

TEST(ExprParse, NegativeNumberLiteralsAreFolded) {
  auto e = MustParse("-9223372036854775808");
  ASSERT_EQ(e->kind, NodeKind::kLiteral);
  EXPECT_EQ(e->literal.i, kMin);
  e = MustParse("-1.5");
  ASSERT_EQ(e->kind, NodeKind::kLiteral);
  EXPECT_EQ(e->literal.d, -1.5);
  // A minus before anything else is a unary operator.
  e = MustParse("-x");
  EXPECT_EQ(e->kind, NodeKind::kUnary);
  EXPECT_EQ(e->op, Op::kNeg);
}

TEST(ExprParse, MultiplicationBindsTighterThanAddition) {
  auto e = MustParse("1 + 2 * 3");
  ASSERT_EQ(e->kind, NodeKind::kBinary);
  EXPECT_EQ(e->op, Op::kAdd);
  EXPECT_EQ(e->children[1]->op, Op::kMul);
  e = MustParse("a % b - c / d");
  EXPECT_EQ(e->op, Op::kSub);
  EXPECT_EQ(e->children[0]->op, Op::kMod);
  EXPECT_EQ(e->children[1]->op, Op::kDiv);
}

TEST(ExprParse, BinaryOperatorsAreLeftAssociative) {
  auto e = MustParse("a - b - c");
  EXPECT_EQ(ToString(*e), "a - b - c");
  ASSERT_EQ(e->children[0]->kind, NodeKind::kBinary);
  EXPECT_EQ(e->children[0]->children[0]->name, "a");
  EXPECT_EQ(e->children[1]->name, "c");
  e = MustParse("a / b * c");
  EXPECT_EQ(e->op, Op::kMul);
  EXPECT_EQ(e->children[0]->op, Op::kDiv);
}

TEST(ExprParse, UnaryMinusBindsTighterThanMultiplication) {
  auto e = MustParse("-a * b");
  EXPECT_EQ(e->op, Op::kMul);
  EXPECT_EQ(e->children[0]->kind, NodeKind::kUnary);
  EXPECT_EQ(e->children[0]->op, Op::kNeg);
}

TEST(ExprParse, ComparisonBindsLooserThanArithmetic) {
  auto e = MustParse("a + 1 >= b * 2");
  EXPECT_EQ(e->op, Op::kGe);
  EXPECT_EQ(e->children[0]->op, Op::kAdd);
  EXPECT_EQ(e->children[1]->op, Op::kMul);
}

TEST(ExprParse, AndBindsTighterThanOr) {
  auto e = MustParse("a or b and c");
  EXPECT_EQ(e->op, Op::kOr);
  EXPECT_EQ(e->children[1]->op, Op::kAnd);
  e = MustParse("a and b or c");
  EXPECT_EQ(e->op, Op::kOr);
  EXPECT_EQ(e->children[0]->op, Op::kAnd);
}

TEST(ExprParse, NotBindsLooserThanComparisonAndTighterThanAnd) {
  auto e = MustParse("not a = b and c");
  EXPECT_EQ(e->op, Op::kAnd);
  const Expr& n = *e->children[0];
  EXPECT_EQ(n.kind, NodeKind::kUnary);
  EXPECT_EQ(n.op, Op::kNot);
  EXPECT_EQ(n.children[0]->op, Op::kEq);
  EXPECT_EQ(ToString(*MustParse("not not a")), "not not a");
}

TEST(ExprParse, AllComparisonOperators) {
  const std::pair<const char*, Op> cases[] = {
      {"a = b", Op::kEq}, {"a == b", Op::kEq}, {"a != b", Op::kNe}, {"a <> b", Op::kNe},
      {"a < b", Op::kLt}, {"a <= b", Op::kLe}, {"a > b", Op::kGt},  {"a >= b", Op::kGe}};
  for (const auto& [text, op] : cases) EXPECT_EQ(MustParse(text)->op, op) << text;
}

TEST(ExprParse, KeywordsAreCaseInsensitive) {
  EXPECT_EQ(ToString(*MustParse("a AND b Or NOT c")), "a and b or not c");
  EXPECT_EQ(ToString(*MustParse("x IS NOT NULL")), "x is not null");
  EXPECT_EQ(ToString(*MustParse("x NOT IN (1)")), "x not in (1)");
  EXPECT_EQ(ToString(*MustParse("CASE WHEN a THEN 1 ELSE 2 END")), "case when a then 1 else 2 end");
  EXPECT_EQ(ToString(*MustParse("CAST(x AS BIGINT)")), "cast(x as bigint)");
}

TEST(ExprParse, InAndNotIn) {
  auto e = MustParse("x in (1, 2, 3)");
  ASSERT_EQ(e->kind, NodeKind::kIn);
  EXPECT_FALSE(e->negated);
  EXPECT_THAT(e->children, SizeIs(4));
  e = MustParse("x not in ('a')");
  ASSERT_EQ(e->kind, NodeKind::kIn);
  EXPECT_TRUE(e->negated);
  EXPECT_THAT(e->children, SizeIs(2));
  // `in` binds tighter than `and`.
  e = MustParse("x in (1) and y");
  EXPECT_EQ(e->op, Op::kAnd);
  EXPECT_EQ(e->children[0]->kind, NodeKind::kIn);
}

TEST(ExprParse, IsNullAndIsNotNull) {
  auto e = MustParse("a + 1 is null");
  ASSERT_EQ(e->kind, NodeKind::kIsNull);
  EXPECT_FALSE(e->negated);
  EXPECT_EQ(e->children[0]->op, Op::kAdd);
  e = MustParse("a is not null");
  ASSERT_EQ(e->kind, NodeKind::kIsNull);
  EXPECT_TRUE(e->negated);
}

TEST(ExprParse, CaseWithAndWithoutElse) {
  auto e = MustParse("case when a then 1 when b then 2 else 3 end");
  ASSERT_EQ(e->kind, NodeKind::kCase);
  EXPECT_TRUE(e->has_else);
  EXPECT_THAT(e->children, SizeIs(5));
  e = MustParse("case when a then 1 end");
  EXPECT_FALSE(e->has_else);
  EXPECT_THAT(e->children, SizeIs(2));
}

TEST(ExprParse, CastAcceptsTypeAliases) {
  auto e = MustParse("cast(x as int)");
  ASSERT_EQ(e->kind, NodeKind::kCast);
  EXPECT_EQ(e->cast_type, TypeId::kBigint);
  EXPECT_EQ(MustParse("cast(x as TEXT)")->cast_type, TypeId::kString);
  EXPECT_EQ(MustParse("cast(x as float)")->cast_type, TypeId::kDouble);
  EXPECT_EQ(MustParse("cast(x as timestamp)")->cast_type, TypeId::kTimestamp);
  EXPECT_EQ(MustParse("cast(x as bool)")->cast_type, TypeId::kBoolean);
}

TEST(ExprParse, FunctionCallsAreLowerCased) {
  auto e = MustParse("CONCAT(a, 'x', b)");
  ASSERT_EQ(e->kind, NodeKind::kFunction);
  EXPECT_EQ(e->function, "concat");
  EXPECT_THAT(e->children, SizeIs(3));
  e = MustParse("now()");
  EXPECT_EQ(e->function, "now");
  EXPECT_THAT(e->children, IsEmpty());
  e = MustParse("count(*)");
  EXPECT_EQ(e->function, "count");
  EXPECT_THAT(e->children, IsEmpty());
}

TEST(ExprParse, QualifiedAndBackquotedNames) {
  auto e = MustParse("orders.amount");
  ASSERT_EQ(e->kind, NodeKind::kColumn);
  EXPECT_EQ(e->qualifier, "orders");
  EXPECT_EQ(e->name, "amount");
  e = MustParse("`weird name`");
  EXPECT_EQ(e->qualifier, "");
  EXPECT_EQ(e->name, "weird name");
  e = MustParse("`orders-v2`.`a``b`");
  EXPECT_EQ(e->qualifier, "orders-v2");
  EXPECT_EQ(e->name, "a`b");
  e = MustParse("`end` + 1");
  EXPECT_EQ(e->children[0]->name, "end");
  // Unreserved function names are ordinary field names without parentheses.
  EXPECT_EQ(MustParse("count")->kind, NodeKind::kColumn);
}

TEST(ExprParse, NodeOffsetsPointAtTheirFirstCharacter) {
  auto e = MustParse("a + lower(b) * -c");
  EXPECT_EQ(e->offset, 0u);
  const Expr& mul = *e->children[1];
  EXPECT_EQ(mul.offset, 4u);
  EXPECT_EQ(mul.children[0]->offset, 4u);                // lower
  EXPECT_EQ(mul.children[0]->children[0]->offset, 10u);  // b
  EXPECT_EQ(mul.children[1]->offset, 15u);               // -c
  EXPECT_EQ(mul.children[1]->children[0]->offset, 16u);  // c
  EXPECT_EQ(MustParse("  (a)")->offset, 2u);
}

// ---- Parse errors -------------------------------------------------------------

TEST(ExprParseError, MissingOperandAtEndPointsAtEnd) {
  auto err = ParseError("amount >");
  EXPECT_EQ(err.offset, 8u);
  EXPECT_THAT(err.message, HasSubstr("expected an expression"));
  EXPECT_THAT(err.message, HasSubstr("end of input"));
}

TEST(ExprParseError, UnclosedParenthesis) {
  auto err = ParseError("(a + b");
  EXPECT_EQ(err.offset, 6u);
  EXPECT_EQ(err.message, "expected ')' but found end of input");
  err = ParseError("(a + b and");
  EXPECT_EQ(err.offset, 10u);
  err = ParseError("(a + b c");
  EXPECT_EQ(err.offset, 7u);
  EXPECT_EQ(err.message, "expected ')' but found 'c'");
}

TEST(ExprParseError, UnexpectedTokenHasItsOffset) {
  auto err = ParseError("a + * b");
  EXPECT_EQ(err.offset, 4u);
  EXPECT_EQ(err.message, "expected an expression but found '*'");
  err = ParseError("a b");
  EXPECT_EQ(err.offset, 2u);
  EXPECT_THAT(err.message, HasSubstr("found 'b'"));
  err = ParseError("a)");
  EXPECT_EQ(err.offset, 1u);
  EXPECT_THAT(err.message, HasSubstr("')'"));
}

TEST(ExprParseError, LexicalErrors) {
  auto err = ParseError("name = 'abc");
  EXPECT_EQ(err.offset, 7u);
  EXPECT_EQ(err.message, "unterminated string");
  err = ParseError("a # b");
  EXPECT_EQ(err.offset, 2u);
  EXPECT_EQ(err.message, "unexpected character '#'");
  err = ParseError("name = \"x\"");
  EXPECT_EQ(err.offset, 7u);
  EXPECT_THAT(err.message, HasSubstr("single quotes"));
  err = ParseError("x = 12abc");
  EXPECT_EQ(err.offset, 4u);
  EXPECT_EQ(err.message, "malformed number '12abc'");
  err = ParseError("`unterminated");
  EXPECT_EQ(err.offset, 0u);
  err = ParseError("a \x01");
  EXPECT_EQ(err.offset, 2u);
  EXPECT_THAT(err.message, HasSubstr("0x01"));
}

TEST(ExprParseError, EmptyExpression) {
  EXPECT_EQ(ParseError("").message, "empty expression");
  EXPECT_EQ(ParseError("   ").message, "empty expression");
}

TEST(ExprParseError, NumbersOutOfRange) {
  auto err = ParseError("x + 9223372036854775808");
  EXPECT_EQ(err.offset, 4u);
  EXPECT_THAT(err.message, HasSubstr("out of range for bigint"));
  EXPECT_THAT(ParseError("1e999").message, HasSubstr("out of range for double"));
}

TEST(ExprParseError, MalformedConstructs) {
  auto err = ParseError("cast(x as decimal)");
  EXPECT_EQ(err.offset, 10u);
  EXPECT_EQ(err.message,
            "unknown type 'decimal' in cast (expected boolean, bigint, double, string, bytes or "
            "timestamp)");
  err = ParseError("cast(amount as strin)");
  EXPECT_EQ(err.offset, 15u);
  EXPECT_EQ(err.message, "unknown type 'strin' in cast (did you mean 'string'?)");
  err = ParseError("cast(x bigint)");
  EXPECT_EQ(err.offset, 7u);
  EXPECT_THAT(err.message, HasSubstr("'as'"));
  err = ParseError("case when a then 1");
  EXPECT_EQ(err.offset, 18u);
  EXPECT_THAT(err.message, HasSubstr("'end'"));
  err = ParseError("case a end");
  EXPECT_EQ(err.offset, 5u);
  err = ParseError("x is 1");
  EXPECT_EQ(err.offset, 5u);
  EXPECT_THAT(err.message, HasSubstr("'null'"));
  err = ParseError("x in 1");
  EXPECT_EQ(err.offset, 5u);
  err = ParseError("x in ()");
  EXPECT_EQ(err.offset, 6u);
  err = ParseError("f(a,)");
  EXPECT_EQ(err.offset, 4u);
  err = ParseError("sum(*)");
  EXPECT_THAT(err.message, HasSubstr("count(*)"));
  err = ParseError("a.");
  EXPECT_EQ(err.offset, 2u);
}

TEST(ExprParseError, ReservedWordAsFieldNeedsBackquotes) {
  auto err = ParseError("end + 1");
  EXPECT_EQ(err.offset, 0u);
  EXPECT_THAT(err.message, HasSubstr("backquotes"));
  err = ParseError("t.case");
  EXPECT_EQ(err.offset, 2u);
}

TEST(ExprParseError, DeepNestingIsAnErrorNotACrash) {
  std::string deep = std::string(100000, '(') + "1" + std::string(100000, ')');
  EXPECT_THAT(ParseError(deep).message, HasSubstr("too deeply nested"));
  EXPECT_THAT(ParseError(std::string(100000, '-') + "x").message, HasSubstr("too deeply nested"));
  std::string nots;
  for (int i = 0; i < 50000; ++i) nots += "not ";
  EXPECT_THAT(ParseError(nots + "x").message, HasSubstr("too deeply nested"));
  std::string chain = "x";
  for (int i = 0; i < 5000; ++i) chain += " + x";
  EXPECT_THAT(ParseError(chain).message, HasSubstr("too deeply nested"));
  // Moderate nesting is fine.
  EXPECT_NE(MustParse(std::string(50, '(') + "1" + std::string(50, ')')), nullptr);
}

// ---- ToString -------------------------------------------------------------------

TEST(ExprToString, CanonicalForm) {
  EXPECT_EQ(ToString(*MustParse("a+b*c")), "a + b * c");
  EXPECT_EQ(ToString(*MustParse("(a+b)*c")), "(a + b) * c");
  EXPECT_EQ(ToString(*MustParse("a-(b-c)")), "a - (b - c)");
  EXPECT_EQ(ToString(*MustParse("((a))")), "a");
  EXPECT_EQ(ToString(*MustParse("NOT (a AND b) OR c")), "not (a and b) or c");
  EXPECT_EQ(ToString(*MustParse("x <> 1")), "x != 1");
  EXPECT_EQ(ToString(*MustParse("- -x")), "-(-x)");
  EXPECT_EQ(ToString(*MustParse("a - -5")), "a - -5");
  EXPECT_EQ(ToString(*MustParse("-(a + b)")), "-(a + b)");
  EXPECT_EQ(ToString(*MustParse("-(5)")), "-(5)");
  EXPECT_EQ(ToString(*MustParse("--0")), "-(0)");
  EXPECT_EQ(ToString(*MustParse("1e3")), "1000.0");
  EXPECT_EQ(ToString(*MustParse("0.5")), "0.5");
  EXPECT_EQ(ToString(*MustParse("'it''s'")), "'it''s'");
  EXPECT_EQ(ToString(*MustParse("count(*)")), "count()");
  EXPECT_EQ(ToString(*MustParse("`weird name` = 1")), "`weird name` = 1");
  EXPECT_EQ(ToString(*MustParse("`end`")), "`end`");
  EXPECT_EQ(ToString(*MustParse("`orders-v2`.x")), "`orders-v2`.x");
  EXPECT_EQ(ToString(*MustParse("cast(x as int)")), "cast(x as bigint)");
  EXPECT_EQ(ToString(*MustParse("x in (1,2)")), "x in (1, 2)");
  EXPECT_EQ(ToString(*MustParse("case when a then 'x' else 'y' end")),
            "case when a then 'x' else 'y' end");
  EXPECT_EQ(ToString(*MustParse("(a = b) = c")), "a = b = c");
  EXPECT_EQ(ToString(*MustParse("a = (b = c)")), "a = (b = c)");
}

TEST(ExprToString, ReparsesToTheSameText) {
  const char* cases[] = {
      "a + b * c - d / e % f",
      "not (a or b) and c",
      "-(-x) * -3.25",
      "x in (1, 2.5, null) or y not in ('a', 'b')",
      "(a + b) is not null",
      "case when a > 1 then lower(s) when b then 'x' else concat(s, 't') end",
      "cast(cast(x as string) as timestamp) - ts",
      "substr(s, -9223372036854775808, 9223372036854775807)",
      "`a b`.`c``d` = T.x",
      "coalesce(a, b, 0) <= round(d, 2)",
      "1.5e-07 + 1e+300",
      "not a = b",
      "(not a) = b",
      "a - (b + c)",
      "a * (b / c)",
  };
  for (const char* text : cases) {
    std::string once = ToString(*MustParse(text));
    auto again = MustParse(once);
    ASSERT_NE(again, nullptr) << once;
    EXPECT_EQ(ToString(*again), once) << text;
  }
}

// ---- Binding ----------------------------------------------------------------------

TEST(ExprBind, SetsTypeAndColumnOnEveryNode) {
  std::vector<ExprError> errors;
  auto e = BindText("amount * 2 > d and s is not null", &errors);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->type, TypeId::kBoolean);
  const Expr& gt = *e->children[0];
  EXPECT_EQ(gt.type, TypeId::kBoolean);
  EXPECT_EQ(gt.children[0]->type, TypeId::kBigint);
  const Expr& amount = *gt.children[0]->children[0];
  EXPECT_EQ(amount.input, 0);
  EXPECT_EQ(amount.column, 8);
  EXPECT_EQ(amount.type, TypeId::kBigint);
  EXPECT_EQ(gt.children[1]->type, TypeId::kDouble);
  EXPECT_EQ(gt.children[1]->column, 2);
}

TEST(ExprBind, UnknownFieldSuggestsTheClosestName) {
  auto err = BindError("amout > 10");
  EXPECT_EQ(err.offset, 0u);
  EXPECT_EQ(err.message, "unknown field 'amout' (did you mean 'amount'?)");
  err = BindError("1 + zzzzzz");
  EXPECT_EQ(err.offset, 4u);
  EXPECT_EQ(err.message, "unknown field 'zzzzzz'");
}

TEST(ExprBind, CollectsAllErrors) {
  auto errors = BindErrors("amout + 1 > 0 and nme = 'x' or lowr(s) = 1");
  ASSERT_THAT(errors, SizeIs(3));
  EXPECT_EQ(errors[0].offset, 0u);
  EXPECT_THAT(errors[0].message, HasSubstr("'amout'"));
  EXPECT_EQ(errors[1].offset, 18u);
  EXPECT_EQ(errors[1].message, "unknown field 'nme' (did you mean 'name'?)");
  EXPECT_EQ(errors[2].offset, 31u);
  EXPECT_EQ(errors[2].message, "unknown function 'lowr' (did you mean 'lower'?)");
}

TEST(ExprBind, ArithmeticTypeErrorsNameTheTypes) {
  auto err = BindError("x_plus + name + 1");
  EXPECT_THAT(err.message, HasSubstr("x_plus"));
  err = BindError("name + 1");
  EXPECT_EQ(err.offset, 0u);
  EXPECT_EQ(err.message, "operator '+' cannot add string and bigint");
  EXPECT_EQ(BindError("s + name").message,
            "operator '+' cannot add string and string (use concat() to join strings)");
  EXPECT_EQ(BindError("1 - b").message, "operator '-' cannot subtract boolean from bigint");
  EXPECT_EQ(BindError("s * 2").message, "operator '*' cannot multiply string and bigint");
  EXPECT_EQ(BindError("ts / 2").message, "operator '/' cannot divide timestamp by bigint");
  EXPECT_EQ(BindError("ts % 2").message, "operator '%' cannot take timestamp modulo bigint");
  EXPECT_THAT(BindError("ts + 1.5").message, HasSubstr("cannot add timestamp and double"));
  EXPECT_THAT(BindError("ts + ts").message, HasSubstr("cannot add timestamp and timestamp"));
  EXPECT_THAT(BindError("1 - ts").message, HasSubstr("cannot subtract timestamp from bigint"));
  EXPECT_EQ(BindError("-s").message, "operator '-' cannot negate string");
  // The error is about the innermost wrong node: its offset.
  err = BindError("1 + (2 * 's')");
  EXPECT_EQ(err.offset, 4u);
}

TEST(ExprBind, ArithmeticResultTypes) {
  EXPECT_EQ(TypeOf("i + j"), TypeId::kBigint);
  EXPECT_EQ(TypeOf("i / j"), TypeId::kBigint);
  EXPECT_EQ(TypeOf("i + d"), TypeId::kDouble);
  EXPECT_EQ(TypeOf("d % i"), TypeId::kDouble);
  EXPECT_EQ(TypeOf("ts + 1000"), TypeId::kTimestamp);
  EXPECT_EQ(TypeOf("1000 + ts"), TypeId::kTimestamp);
  EXPECT_EQ(TypeOf("ts - 1000"), TypeId::kTimestamp);
  EXPECT_EQ(TypeOf("ts - ts"), TypeId::kBigint);
  EXPECT_EQ(TypeOf("-d"), TypeId::kDouble);
  EXPECT_EQ(TypeOf("null + 1"), TypeId::kBigint);
  EXPECT_EQ(TypeOf("null * null"), TypeId::kNull);
  EXPECT_EQ(TypeOf("ts + null"), TypeId::kTimestamp);
}

TEST(ExprBind, ComparisonsNeedCompatibleTypes) {
  EXPECT_EQ(TypeOf("i < d"), TypeId::kBoolean);
  EXPECT_EQ(TypeOf("s = name"), TypeId::kBoolean);
  EXPECT_EQ(TypeOf("ts >= ts"), TypeId::kBoolean);
  EXPECT_EQ(TypeOf("b = true"), TypeId::kBoolean);
  EXPECT_EQ(TypeOf("s = null"), TypeId::kBoolean);
  EXPECT_EQ(TypeOf("null = ts"), TypeId::kBoolean);
  auto err = BindError("name = 1");
  EXPECT_EQ(err.message, "operator '=' cannot compare string and bigint");
  err = BindError("ts > '2024-01-01'");
  EXPECT_THAT(err.message, HasSubstr("operator '>' cannot compare timestamp and string"));
  EXPECT_THAT(err.message, HasSubstr("cast("));
  EXPECT_EQ(BindError("b < 1").message, "operator '<' cannot compare boolean and bigint");
  EXPECT_EQ(BindError("s <> by").message, "operator '!=' cannot compare string and bytes");
}

TEST(ExprBind, LogicalOperatorsNeedBooleans) {
  auto err = BindError("i and b");
  EXPECT_EQ(err.offset, 0u);
  EXPECT_EQ(err.message, "operator 'and' needs boolean operands, got bigint");
  auto errors = BindErrors("s or i");
  ASSERT_THAT(errors, SizeIs(2));
  EXPECT_EQ(errors[1].offset, 5u);
  EXPECT_EQ(errors[1].message, "operator 'or' needs boolean operands, got bigint");
  err = BindError("not s");
  EXPECT_EQ(err.offset, 4u);
  EXPECT_EQ(err.message, "operator 'not' needs a boolean operand, got string");
  EXPECT_EQ(TypeOf("b and null"), TypeId::kBoolean);
  EXPECT_EQ(TypeOf("not null"), TypeId::kBoolean);
}

TEST(ExprBind, FunctionArgumentErrors) {
  auto err = BindError("lower(i)");
  EXPECT_EQ(err.offset, 6u);
  EXPECT_EQ(err.message, "function 'lower' expects a string argument, got bigint");
  err = BindError("lower(s, s)");
  EXPECT_EQ(err.offset, 0u);
  EXPECT_EQ(err.message, "function 'lower' expects 1 argument, got 2");
  EXPECT_EQ(BindError("substr(s)").message, "function 'substr' expects 2 or 3 arguments, got 1");
  EXPECT_EQ(BindError("concat()").message, "function 'concat' expects at least 1 argument, got 0");
  EXPECT_THAT(BindError("concat(s, i)").message,
              HasSubstr("function 'concat' expects string arguments, got bigint"));
  EXPECT_EQ(BindError("substr(s, 1.5)").message,
            "function 'substr' expects a bigint start position, got double");
  EXPECT_EQ(BindError("length(i)").message,
            "function 'length' expects a string or bytes argument, got bigint");
  EXPECT_EQ(BindError("abs(s)").message, "function 'abs' expects a numeric argument, got string");
  EXPECT_EQ(BindError("round(d, 1.5)").message,
            "function 'round' expects a bigint number of digits, got double");
  EXPECT_EQ(BindError("coalesce(i, s)").message,
            "function 'coalesce' needs arguments of one type, got bigint and string");
  EXPECT_EQ(BindError("uper(s)").message, "unknown function 'uper' (did you mean 'upper'?)");
  EXPECT_EQ(BindError("frobnicate(s)").message, "unknown function 'frobnicate'");
}

TEST(ExprBind, FunctionResultTypes) {
  EXPECT_EQ(TypeOf("lower(s)"), TypeId::kString);
  EXPECT_EQ(TypeOf("upper(null)"), TypeId::kString);
  EXPECT_EQ(TypeOf("concat(s, name, 'x')"), TypeId::kString);
  EXPECT_EQ(TypeOf("substr(s, 1, 2)"), TypeId::kString);
  EXPECT_EQ(TypeOf("substr(by, 1)"), TypeId::kBytes);
  EXPECT_EQ(TypeOf("length(by)"), TypeId::kBigint);
  EXPECT_EQ(TypeOf("coalesce(i, d)"), TypeId::kDouble);
  EXPECT_EQ(TypeOf("coalesce(null, s)"), TypeId::kString);
  EXPECT_EQ(TypeOf("abs(i)"), TypeId::kBigint);
  EXPECT_EQ(TypeOf("abs(d)"), TypeId::kDouble);
  EXPECT_EQ(TypeOf("round(i)"), TypeId::kBigint);
  EXPECT_EQ(TypeOf("round(d, 2)"), TypeId::kDouble);
  EXPECT_EQ(TypeOf("floor(i)"), TypeId::kBigint);
  EXPECT_EQ(TypeOf("floor(d)"), TypeId::kDouble);
}

TEST(ExprBind, AggregateOutsideAggregateListIsAnError) {
  auto err = BindError("sum(amount) > 10");
  EXPECT_EQ(err.offset, 0u);
  EXPECT_EQ(err.message,
            "aggregate function 'sum' is only allowed in an operator's aggregate list");
  err = BindError("1 + COUNT(*)");
  EXPECT_EQ(err.offset, 4u);
  EXPECT_THAT(err.message, HasSubstr("'count'"));
}

TEST(ExprBind, NowOnlyInProcessingTimeJobs) {
  auto err = BindError("ts < now()");
  EXPECT_EQ(err.offset, 5u);
  EXPECT_EQ(err.message,
            "now() is only allowed in processing-time jobs (no source declares event_time)");
  BindOptions allow;
  allow.allow_now = true;
  EXPECT_EQ(TypeOf("now()", allow), TypeId::kTimestamp);
  EXPECT_EQ(TypeOf("now() - ts", allow), TypeId::kBigint);
  EXPECT_THAT(BindError("now(1)", allow).message, HasSubstr("expects 0 arguments"));
}

TEST(ExprBind, CaseBranchesNeedACommonType) {
  EXPECT_EQ(TypeOf("case when b then 1 else 2.5 end"), TypeId::kDouble);
  EXPECT_EQ(TypeOf("case when b then null when i > 0 then 's' end"), TypeId::kString);
  EXPECT_EQ(TypeOf("case when b then null end"), TypeId::kNull);
  auto err = BindError("case when b then 1 else 'x' end");
  EXPECT_EQ(err.offset, 24u);
  EXPECT_EQ(err.message, "case branches have incompatible types bigint and string");
  err = BindError("case when i then 1 end");
  EXPECT_EQ(err.offset, 10u);
  EXPECT_EQ(err.message, "case condition must be boolean, got bigint");
}

TEST(ExprBind, InListElementsMustBeComparable) {
  EXPECT_EQ(TypeOf("i in (1, 2.5, null)"), TypeId::kBoolean);
  EXPECT_EQ(TypeOf("s not in ('a', name)"), TypeId::kBoolean);
  auto err = BindError("i in (1, 'two')");
  EXPECT_EQ(err.offset, 9u);
  EXPECT_EQ(err.message, "'in' list value of type string cannot be compared with bigint");
}

TEST(ExprBind, CastRules) {
  for (const char* ok :
       {"cast(i as string)", "cast(d as string)", "cast(b as string)", "cast(ts as string)",
        "cast(by as string)", "cast(s as bigint)", "cast(s as double)", "cast(s as boolean)",
        "cast(s as timestamp)", "cast(s as bytes)", "cast(i as double)", "cast(d as bigint)",
        "cast(b as bigint)", "cast(i as boolean)", "cast(ts as bigint)", "cast(i as timestamp)",
        "cast(d as timestamp)", "cast(null as bigint)"}) {
    std::vector<ExprError> errors;
    EXPECT_NE(BindText(ok, &errors), nullptr) << ok;
  }
  EXPECT_EQ(TypeOf("cast(null as timestamp)"), TypeId::kTimestamp);
  auto err = BindError("cast(b as timestamp)");
  EXPECT_EQ(err.offset, 0u);
  EXPECT_EQ(err.message, "cannot cast boolean to timestamp");
  EXPECT_EQ(BindError("cast(i as bytes)").message, "cannot cast bigint to bytes");
  EXPECT_EQ(BindError("cast(by as bigint)").message, "cannot cast bytes to bigint");
}

TEST(ExprBind, QualifiedNamesWithTwoInputs) {
  Schema a({{"id", TypeId::kBigint}, {"x", TypeId::kBigint}});
  Schema b({{"id", TypeId::kBigint}, {"y", TypeId::kString}});
  std::vector<Input> inputs = {{"A", &a}, {"B", &b}};
  auto bind = [&](std::string_view text, std::vector<ExprError>* errors) {
    auto e = MustParse(text);
    return Bind(e.get(), inputs, {}, errors) ? std::move(e) : nullptr;
  };
  std::vector<ExprError> errors;
  auto e = bind("A.id = B.id and x > 1 and y = 'k'", &errors);
  ASSERT_NE(e, nullptr) << errors[0].message;
  const Expr& eq = *e->children[0]->children[0];
  EXPECT_EQ(eq.children[0]->input, 0);
  EXPECT_EQ(eq.children[0]->column, 0);
  EXPECT_EQ(eq.children[1]->input, 1);
  EXPECT_EQ(eq.children[1]->column, 0);
  const Expr& y = *e->children[1]->children[0];
  EXPECT_EQ(y.input, 1);
  EXPECT_EQ(y.column, 1);

  errors.clear();
  EXPECT_EQ(bind("id = 1", &errors), nullptr);
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_EQ(errors[0].message, "ambiguous field 'id': write 'A.id' or 'B.id'");
  errors.clear();
  EXPECT_EQ(bind("C.id = 1", &errors), nullptr);
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_EQ(errors[0].message, "unknown input 'C' in 'C.id' (did you mean 'A'?)");
  errors.clear();
  EXPECT_EQ(bind("A.yy = 1", &errors), nullptr);
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_EQ(errors[0].offset, 0u);
  EXPECT_THAT(errors[0].message, HasSubstr("unknown field 'yy' in 'A'"));
}

TEST(ExprBind, QualifierMayNeedBackquotes) {
  Schema s({{"amount", TypeId::kBigint}});
  std::vector<Input> inputs = {{"orders-v2", &s}};
  auto e = MustParse("`orders-v2`.amount + amount");
  std::vector<ExprError> errors;
  ASSERT_TRUE(Bind(e.get(), inputs, {}, &errors));
  EXPECT_EQ(e->type, TypeId::kBigint);
  EXPECT_EQ(ToString(*e), "`orders-v2`.amount + amount");
}

// ---- Aggregates --------------------------------------------------------------------

Aggregate MustAggregate(std::string_view text) {
  std::vector<Input> inputs = {{"T", &DefaultSchema()}};
  Aggregate agg;
  std::vector<ExprError> errors;
  EXPECT_TRUE(ParseAggregate(text, inputs, {}, &agg, &errors))
      << text << ": " << (errors.empty() ? "" : errors[0].message);
  return agg;
}

std::vector<ExprError> AggregateErrors(std::string_view text) {
  std::vector<Input> inputs = {{"T", &DefaultSchema()}};
  Aggregate agg;
  std::vector<ExprError> errors;
  EXPECT_FALSE(ParseAggregate(text, inputs, {}, &agg, &errors)) << text;
  EXPECT_THAT(errors, SizeIs(1)) << text;
  return errors;
}

TEST(ExprAggregate, KindsAndResultTypes) {
  struct Case {
    const char* text;
    AggKind kind;
    TypeId result;
  };
  const Case cases[] = {
      {"count()", AggKind::kCountAll, TypeId::kBigint},
      {"count(*)", AggKind::kCountAll, TypeId::kBigint},
      {"COUNT(name)", AggKind::kCount, TypeId::kBigint},
      {"sum(amount)", AggKind::kSum, TypeId::kBigint},
      {"sum(d)", AggKind::kSum, TypeId::kDouble},
      {"avg(amount)", AggKind::kAvg, TypeId::kDouble},
      {"min(s)", AggKind::kMin, TypeId::kString},
      {"max(ts)", AggKind::kMax, TypeId::kTimestamp},
      {"first(b)", AggKind::kFirst, TypeId::kBoolean},
      {"last(d)", AggKind::kLast, TypeId::kDouble},
      {"count_distinct(name)", AggKind::kCountDistinct, TypeId::kBigint},
      {"sum(amount * 2 + i)", AggKind::kSum, TypeId::kBigint},
  };
  for (const Case& c : cases) {
    Aggregate agg = MustAggregate(c.text);
    EXPECT_EQ(agg.kind, c.kind) << c.text;
    EXPECT_EQ(agg.result_type, c.result) << c.text;
    if (c.kind == AggKind::kCountAll) {
      EXPECT_EQ(agg.arg, nullptr);
    } else {
      ASSERT_NE(agg.arg, nullptr) << c.text;
      EXPECT_NE(agg.arg->kind == NodeKind::kColumn ? agg.arg->column : 0, -1) << c.text;
    }
  }
  Aggregate agg = MustAggregate("sum(amount * 2)");
  EXPECT_EQ(agg.arg->type, TypeId::kBigint);
  EXPECT_EQ(ToString(*agg.arg), "amount * 2");
}

TEST(ExprAggregate, ArgumentTypeErrors) {
  auto errors = AggregateErrors("sum(s)");
  EXPECT_EQ(errors[0].offset, 4u);
  EXPECT_EQ(errors[0].message, "function 'sum' expects a numeric argument, got string");
  EXPECT_EQ(AggregateErrors("avg(ts)")[0].message,
            "function 'avg' expects a numeric argument, got timestamp");
  EXPECT_THAT(AggregateErrors("min(null)")[0].message, HasSubstr("got null"));
  EXPECT_EQ(AggregateErrors("sum(amout)")[0].message,
            "unknown field 'amout' (did you mean 'amount'?)");
}

TEST(ExprAggregate, ShapeErrors) {
  auto errors = AggregateErrors("sum(sum(amount))");
  EXPECT_EQ(errors[0].offset, 4u);
  EXPECT_EQ(errors[0].message,
            "aggregate function 'sum' cannot be used inside another aggregate ('sum')");
  EXPECT_THAT(AggregateErrors("amount + 1")[0].message, HasSubstr("is not an aggregate"));
  EXPECT_THAT(AggregateErrors("lower(s)")[0].message, HasSubstr("is not an aggregate"));
  EXPECT_EQ(AggregateErrors("summ(amount)")[0].message,
            "unknown aggregate function 'summ' (did you mean 'sum'?)");
  EXPECT_THAT(AggregateErrors("sum(amount) * 2")[0].message, HasSubstr("not supported"));
  EXPECT_EQ(AggregateErrors("sum()")[0].message, "function 'sum' expects 1 argument, got 0");
  EXPECT_EQ(AggregateErrors("count(i, j)")[0].message,
            "function 'count' expects 0 or 1 arguments, got 2");
  errors = AggregateErrors("avg(");
  EXPECT_EQ(errors[0].offset, 4u);
}

TEST(ExprAggregate, IsAggregateFunction) {
  for (const char* f : {"count", "sum", "min", "max", "avg", "first", "last", "count_distinct"})
    EXPECT_TRUE(IsAggregateFunction(f)) << f;
  for (const char* f : {"lower", "concat", "coalesce", "now", "SUM", ""})
    EXPECT_FALSE(IsAggregateFunction(f)) << f;
}

// ---- Evaluation ----------------------------------------------------------------------

TEST(ExprEval, PlainColumnIsReturnedWithoutCopy) {
  RecordBatch batch = DefaultBatch();
  std::vector<ExprError> errors;
  auto e = BindText("s", &errors);
  ASSERT_NE(e, nullptr);
  Evaluator ev(e.get());
  EXPECT_EQ(&ev.Evaluate(batch), &batch.columns[3]);
  // An identity cast and floor of a bigint also pass the column through.
  auto c = BindText("cast(floor(i) as bigint)", &errors);
  ASSERT_NE(c, nullptr);
  Evaluator ev2(c.get());
  EXPECT_EQ(&ev2.Evaluate(batch), &batch.columns[0]);
}

TEST(ExprEval, LiteralsBroadcast) {
  EXPECT_THAT(Eval("42"), ElementsAre("42", "42", "42", "42"));
  EXPECT_THAT(Eval("'x'"), ElementsAre("'x'", "'x'", "'x'", "'x'"));
  EXPECT_THAT(Eval("2.5"), ElementsAre("2.5", "2.5", "2.5", "2.5"));
  EXPECT_THAT(Eval("true"), ElementsAre("true", "true", "true", "true"));
  EXPECT_THAT(Eval("null"), ElementsAre("null", "null", "null", "null"));
}

TEST(ExprEval, BigintArithmeticPropagatesNull) {
  EXPECT_THAT(Eval("i + j"), ElementsAre("3", "-7", "null", std::to_string(kMin)));
  EXPECT_THAT(Eval("i - j"), ElementsAre("-1", "-7", "null", std::to_string(kMax - 1)));
  EXPECT_THAT(Eval("i * j"), ElementsAre("2", "0", "null", std::to_string(kMax)));
  EXPECT_THAT(Eval("-i"), ElementsAre("-1", "7", "null", std::to_string(-kMax)));
  EXPECT_THAT(Eval("amount - 1"), ElementsAre("9", "19", "29", "null"));
}

TEST(ExprEval, BigintOverflowWraps) {
  EXPECT_EQ(Eval1("9223372036854775807 + 1"), std::to_string(kMin));
  EXPECT_EQ(Eval1("-9223372036854775808 - 1"), std::to_string(kMax));
  EXPECT_EQ(Eval1("9223372036854775807 * 2"), "-2");
  EXPECT_EQ(Eval1("-(-9223372036854775808)"), std::to_string(kMin));
  EXPECT_EQ(Eval1("abs(-9223372036854775808)"), std::to_string(kMin));
  EXPECT_EQ(Eval1("4611686018427387904 * 4"), "0");
}

TEST(ExprEval, IntegerDivisionTruncatesTowardZero) {
  EXPECT_EQ(Eval1("7 / 2"), "3");
  EXPECT_EQ(Eval1("-7 / 2"), "-3");
  EXPECT_EQ(Eval1("7 / -2"), "-3");
  EXPECT_EQ(Eval1("-7 % 2"), "-1");
  EXPECT_EQ(Eval1("7 % -2"), "1");
  EXPECT_THAT(Eval("i / j"), ElementsAre("0", "null", "null", std::to_string(kMax)));
}

TEST(ExprEval, IntegerDivisionByZeroIsNull) {
  EXPECT_EQ(Eval1("1 / 0"), "null");
  EXPECT_EQ(Eval1("-9223372036854775808 / 0"), "null");
  EXPECT_THAT(Eval("amount / (j - j)"), ElementsAre("null", "null", "null", "null"));
}

TEST(ExprEval, IntegerModuloByZeroIsNull) {
  EXPECT_EQ(Eval1("5 % 0"), "null");
  EXPECT_THAT(Eval("i % j"), ElementsAre("1", "null", "null", "0"));
}

TEST(ExprEval, MinimumDividedByMinusOneWraps) {
  EXPECT_EQ(Eval1("-9223372036854775808 / -1"), std::to_string(kMin));
  EXPECT_EQ(Eval1("-9223372036854775808 % -1"), "0");
  EXPECT_EQ(Eval1("5 % -1"), "0");
}

TEST(ExprEval, DoubleDivisionAndModuloByZeroAreNull) {
  EXPECT_EQ(Eval1("1.0 / 0"), "null");
  EXPECT_EQ(Eval1("1.0 / 0.0"), "null");
  EXPECT_EQ(Eval1("1.0 / -0.0"), "null");
  EXPECT_EQ(Eval1("1.5 % 0.0"), "null");
  EXPECT_THAT(Eval("d / 0"), ElementsAre("null", "null", "null", "null"));
}

TEST(ExprEval, DoubleModuloIsFmod) {
  EXPECT_THAT(Eval("d % 2"), ElementsAre("1.5", "-0.5", "null", "0"));
  EXPECT_EQ(Eval1("7.5 % -2"), "1.5");
}

TEST(ExprEval, MixingBigintAndDoublePromotesToDouble) {
  EXPECT_THAT(Eval("i + d"), ElementsAre("2.5", "-9.5", "null", "9223372036854775808"));
  EXPECT_EQ(Eval1("7 / 2.0"), "3.5");
  EXPECT_EQ(Eval1("1 - 0.25"), "0.75");
}

TEST(ExprEval, NaNAndInfinityFlowThroughArithmetic) {
  EXPECT_EQ(Eval1("cast('NaN' as double) + 1"), "nan");
  EXPECT_EQ(Eval1("cast(cast('Infinity' as double) * 0 as string)"), "'NaN'");
  EXPECT_EQ(Eval1("1e308 * 10"), "inf");
  EXPECT_EQ(Eval1("cast('NaN' as double) = cast('NaN' as double)"), "false");
  EXPECT_EQ(Eval1("cast('NaN' as double) / 0"), "null");
}

TEST(ExprEval, TimestampArithmetic) {
  EXPECT_THAT(Eval("ts + 500"), ElementsAre("1500", "500", "null", "1714564800500"));
  EXPECT_THAT(Eval("ts - 1000"), ElementsAre("0", "-1000", "null", "1714564799000"));
  EXPECT_THAT(Eval("ts - ts"), ElementsAre("0", "0", "null", "0"));
  EXPECT_THAT(Eval("ts - cast(0 as timestamp)"), ElementsAre("1000", "0", "null", "1714564800000"));
}

TEST(ExprEval, ComparisonsWithNullAreNull) {
  EXPECT_THAT(Eval("i > j"), ElementsAre("false", "false", "null", "true"));
  EXPECT_THAT(Eval("i = 1"), ElementsAre("true", "false", "null", "false"));
  EXPECT_THAT(Eval("i = null"), ElementsAre("null", "null", "null", "null"));
  EXPECT_THAT(Eval("null <> s"), ElementsAre("null", "null", "null", "null"));
  EXPECT_THAT(Eval("b = true"), ElementsAre("true", "false", "null", "true"));
}

TEST(ExprEval, ComparesAcrossNumericTypes) {
  EXPECT_THAT(Eval("d > i"), ElementsAre("true", "true", "null", "false"));
  EXPECT_THAT(Eval("i <= 1.0"), ElementsAre("true", "true", "null", "false"));
  EXPECT_THAT(Eval("d != 0"), ElementsAre("true", "true", "null", "false"));
  EXPECT_THAT(Eval("ts >= cast(1000 as timestamp)"), ElementsAre("true", "false", "null", "true"));
}

TEST(ExprEval, StringComparisonsAreBytewise) {
  EXPECT_THAT(Eval("s < 'b'"), ElementsAre("true", "true", "null", "true"));
  EXPECT_THAT(Eval("s = 'abc'"), ElementsAre("true", "false", "null", "false"));
  EXPECT_THAT(Eval("s >= name"), ElementsAre("false", "false", "null", "null"));
  EXPECT_THAT(Eval("by = cast('xy' as bytes)"), ElementsAre("true", "false", "null", "false"));
}

TEST(ExprEval, ThreeValuedLogic) {
  RecordBatch batch = MakeBatch({
      {"p", TypeId::kBoolean, {B(1), B(1), B(1), B(0), B(0), B(0), N(), N(), N()}},
      {"q", TypeId::kBoolean, {B(1), B(0), N(), B(1), B(0), N(), B(1), B(0), N()}},
  });
  EXPECT_THAT(Eval("p and q", batch), ElementsAre("true", "false", "null", "false", "false",
                                                  "false", "null", "false", "null"));
  EXPECT_THAT(Eval("p or q", batch),
              ElementsAre("true", "true", "true", "true", "false", "null", "true", "null", "null"));
  EXPECT_THAT(Eval("not p", batch), ElementsAre("false", "false", "false", "true", "true", "true",
                                                "null", "null", "null"));
  EXPECT_THAT(Eval("p and null", batch), ElementsAre("null", "null", "null", "false", "false",
                                                     "false", "null", "null", "null"));
  EXPECT_THAT(Eval("null or q", batch),
              ElementsAre("true", "null", "null", "true", "null", "null", "true", "null", "null"));
}

TEST(ExprEval, InListWithNulls) {
  EXPECT_THAT(Eval("i in (1, 2)"), ElementsAre("true", "false", "null", "false"));
  EXPECT_THAT(Eval("i not in (1, 2)"), ElementsAre("false", "true", "null", "true"));
  // No match and a null in the list: unknown.
  EXPECT_THAT(Eval("i in (1, null)"), ElementsAre("true", "null", "null", "null"));
  EXPECT_THAT(Eval("i not in (1, null)"), ElementsAre("false", "null", "null", "null"));
  EXPECT_THAT(Eval("j in (amount, 3)"), ElementsAre("false", "false", "true", "null"));
  EXPECT_THAT(Eval("s in ('abc', '')"), ElementsAre("true", "false", "null", "true"));
}

TEST(ExprEval, InListPromotesMixedNumbers) {
  EXPECT_THAT(Eval("d in (1.5, 0)"), ElementsAre("true", "false", "null", "true"));
  EXPECT_THAT(Eval("i in (1.0, -7)"), ElementsAre("true", "true", "null", "false"));
}

TEST(ExprEval, IsNullIsNeverNull) {
  EXPECT_THAT(Eval("i is null"), ElementsAre("false", "false", "true", "false"));
  EXPECT_THAT(Eval("s is not null"), ElementsAre("true", "true", "false", "true"));
  EXPECT_THAT(Eval("null is null"), ElementsAre("true", "true", "true", "true"));
  EXPECT_THAT(Eval("i / j is null"), ElementsAre("false", "true", "true", "false"));
}

TEST(ExprEval, CaseTakesTheFirstTrueBranch) {
  EXPECT_THAT(Eval("case when i > 0 then 'pos' when i < 0 then 'neg' end"),
              ElementsAre("'pos'", "'neg'", "null", "'pos'"));
  EXPECT_THAT(Eval("case when j > 0 then 'a' when j > 1 then 'b' else 'c' end"),
              ElementsAre("'a'", "'c'", "'a'", "'a'"));
  // A null condition is not true: the row falls through to else.
  EXPECT_THAT(Eval("case when b then 1 else 2.5 end"), ElementsAre("1", "2.5", "2.5", "1"));
  EXPECT_THAT(Eval("case when b then i end"),
              ElementsAre("1", "null", "null", std::to_string(kMax)));
  EXPECT_THAT(Eval("case when b then null else amount end"),
              ElementsAre("null", "20", "30", "null"));
  EXPECT_THAT(Eval("case when b then null end"), ElementsAre("null", "null", "null", "null"));
}

TEST(ExprEval, CoalesceTakesTheFirstNonNull) {
  EXPECT_THAT(Eval("coalesce(i, j, 0)"), ElementsAre("1", "-7", "3", std::to_string(kMax)));
  EXPECT_THAT(Eval("coalesce(null, name, 'x')"), ElementsAre("'amy'", "'bob'", "'cy'", "'x'"));
  EXPECT_THAT(Eval("coalesce(d, i)"), ElementsAre("1.5", "-2.5", "null", "0"));
  EXPECT_THAT(Eval("coalesce(amount, d)"), ElementsAre("10", "20", "30", "0"));
  EXPECT_THAT(Eval("coalesce(null, null)"), ElementsAre("null", "null", "null", "null"));
}

TEST(ExprEval, LowerUpperLength) {
  EXPECT_THAT(Eval("lower(s)"), ElementsAre("'abc'", "'hello'", "null", "''"));
  EXPECT_THAT(Eval("upper(name)"), ElementsAre("'AMY'", "'BOB'", "'CY'", "null"));
  EXPECT_THAT(Eval("length(s)"), ElementsAre("3", "5", "null", "0"));
  EXPECT_THAT(Eval("length(by)"), ElementsAre("2", "0", "null", "1"));
  // Length counts characters (UTF-8 code points) of a string, bytes of bytes.
  EXPECT_EQ(Eval1("length('h\xC3\xA9llo')"), "5");
  EXPECT_EQ(Eval1("length(cast('h\xC3\xA9llo' as bytes))"), "6");
  EXPECT_EQ(Eval1("upper('h\xC3\xA9llo')"), "'H\xC3\xA9LLO'");
  EXPECT_EQ(Eval1("length(null)"), "null");
}

TEST(ExprEval, ConcatIsNullWhenAnyArgumentIsNull) {
  EXPECT_THAT(Eval("concat(name, '-', s)"),
              ElementsAre("'amy-abc'", "'bob-Hello'", "null", "null"));
  EXPECT_THAT(Eval("concat(name)"), ElementsAre("'amy'", "'bob'", "'cy'", "null"));
  EXPECT_THAT(Eval("concat(name, null)"), ElementsAre("null", "null", "null", "null"));
}

TEST(ExprEval, SubstrIsOneBasedLikeSql) {
  EXPECT_EQ(Eval1("substr('hello', 2, 3)"), "'ell'");
  EXPECT_EQ(Eval1("substr('hello', 2)"), "'ello'");
  EXPECT_EQ(Eval1("substr('hello', 1, 100)"), "'hello'");
  EXPECT_EQ(Eval1("substr('hello', 5, 1)"), "'o'");
  EXPECT_EQ(Eval1("substr('h\xC3\xA9llo', 2, 2)"), "'\xC3\xA9l'");
  EXPECT_THAT(Eval("substr(s, j, 1)"), ElementsAre("'b'", "''", "null", "''"));
}

TEST(ExprEval, SubstrOutOfRangeIsEmptyOrClipped) {
  // Positions before 1 count but hold nothing (as in PostgreSQL).
  EXPECT_EQ(Eval1("substr('hello', 0, 2)"), "'h'");
  EXPECT_EQ(Eval1("substr('hello', -1, 3)"), "'h'");
  EXPECT_EQ(Eval1("substr('hello', -5)"), "'hello'");
  EXPECT_EQ(Eval1("substr('hello', 10)"), "''");
  EXPECT_EQ(Eval1("substr('hello', 3, 0)"), "''");
  EXPECT_EQ(Eval1("substr('hello', 3, -1)"), "''");
  EXPECT_EQ(Eval1("substr('hello', -9223372036854775808, 9223372036854775807)"), "''");
  EXPECT_EQ(Eval1("substr('hello', 2, 9223372036854775807)"), "'ello'");
  EXPECT_EQ(Eval1("substr('hello', 9223372036854775807, 9223372036854775807)"), "''");
  EXPECT_EQ(Eval1("substr('hello', null)"), "null");
  EXPECT_EQ(Eval1("substr(cast('abc' as bytes), 2)"), "'bc'");
}

TEST(ExprEval, AbsAndFloor) {
  EXPECT_THAT(Eval("abs(i)"), ElementsAre("1", "7", "null", std::to_string(kMax)));
  EXPECT_THAT(Eval("abs(d)"), ElementsAre("1.5", "2.5", "null", "0"));
  EXPECT_THAT(Eval("floor(d)"), ElementsAre("1", "-3", "null", "0"));
  EXPECT_THAT(Eval("floor(i)"), ElementsAre("1", "-7", "null", std::to_string(kMax)));
}

TEST(ExprEval, RoundHalfAwayFromZero) {
  EXPECT_EQ(Eval1("round(2.5)"), "3");
  EXPECT_EQ(Eval1("round(-2.5)"), "-3");
  EXPECT_EQ(Eval1("round(1.2345, 2)"), "1.23");
  EXPECT_EQ(Eval1("round(123.456, -1)"), "120");
  EXPECT_EQ(Eval1("round(7)"), "7");
  EXPECT_EQ(Eval1("round(1234, 2)"), "1234");
  EXPECT_EQ(Eval1("round(1234, -2)"), "1200");
  EXPECT_EQ(Eval1("round(1250, -2)"), "1300");
  EXPECT_EQ(Eval1("round(-1250, -2)"), "-1300");
  EXPECT_EQ(Eval1("round(2.5, null)"), "null");
  EXPECT_THAT(Eval("round(d)"), ElementsAre("2", "-3", "null", "0"));
}

TEST(ExprEval, RoundWithExtremeDigitsIsDefined) {
  EXPECT_EQ(Eval1("round(1.5, 400)"), "1.5");
  EXPECT_EQ(Eval1("round(1.5, 9223372036854775807)"), "1.5");
  EXPECT_EQ(Eval1("round(1.5, -400)"), "0");
  EXPECT_EQ(Eval1("round(1.5, -9223372036854775808)"), "0");
  EXPECT_EQ(Eval1("round(1e300, 10)"), "1e+300");
  EXPECT_EQ(Eval1("round(5, -19)"), "0");
  EXPECT_EQ(Eval1("round(5, -9223372036854775808)"), "0");
  EXPECT_EQ(Eval1("round(-9223372036854775808, -18)"), "-9000000000000000000");
  // Rounding up past the maximum wraps like other bigint arithmetic.
  EXPECT_EQ(Eval1("round(9223372036854775807, -1)"), "-9223372036854775806");
  EXPECT_EQ(Eval1("round(cast('NaN' as double), 2)"), "nan");
}

TEST(ExprEval, NowIsTheGivenTime) {
  BindOptions allow;
  allow.allow_now = true;
  EXPECT_THAT(Eval("now()", DefaultBatch(), allow, 1234),
              ElementsAre("1234", "1234", "1234", "1234"));
  EXPECT_THAT(Eval("now() - ts", DefaultBatch(), allow, 5000),
              ElementsAre("4000", "5000", "null", std::to_string(5000 - 1714564800000)));
}

TEST(ExprEval, NullTypedOperandsGiveAllNullColumns) {
  EXPECT_THAT(Eval("null + 1"), ElementsAre("null", "null", "null", "null"));
  EXPECT_THAT(Eval("lower(null)"), ElementsAre("null", "null", "null", "null"));
  EXPECT_THAT(Eval("-null"), ElementsAre("null", "null", "null", "null"));
  EXPECT_THAT(Eval("cast(null as string)"), ElementsAre("null", "null", "null", "null"));
  EXPECT_THAT(Eval("i in (null)"), ElementsAre("null", "null", "null", "null"));
  EXPECT_THAT(Eval("null in (1)"), ElementsAre("null", "null", "null", "null"));
}

// ---- Casts ---------------------------------------------------------------------------

TEST(ExprCast, StringToNumbers) {
  EXPECT_EQ(Eval1("cast('12' as bigint)"), "12");
  EXPECT_EQ(Eval1("cast(' -42 ' as bigint)"), "-42");
  EXPECT_EQ(Eval1("cast('+5' as bigint)"), "5");
  EXPECT_EQ(Eval1("cast('-9223372036854775808' as bigint)"), std::to_string(kMin));
  EXPECT_EQ(Eval1("cast('1.5' as double)"), "1.5");
  EXPECT_EQ(Eval1("cast('1e3' as double)"), "1000");
  EXPECT_EQ(Eval1("cast('-.5' as double)"), "-0.5");
  EXPECT_EQ(Eval1("cast('NaN' as double)"), "nan");
  EXPECT_EQ(Eval1("cast('-Infinity' as double)"), "-inf");
}

TEST(ExprCast, BadNumberTextIsNull) {
  for (const char* text : {"abc", "12.5", "", " ", "1 2", "+-1", "++1", "+", "0x10", "12abc",
                           "99999999999999999999"}) {
    EXPECT_EQ(Eval1("cast('" + std::string(text) + "' as bigint)"), "null") << text;
  }
  for (const char* text : {"abc", "", "1.5.5", "1e", "--1", "1e999"}) {
    EXPECT_EQ(Eval1("cast('" + std::string(text) + "' as double)"), "null") << text;
  }
}

TEST(ExprCast, DoubleToBigintTruncatesAndNullsWhatDoesNotFit) {
  EXPECT_EQ(Eval1("cast(1.9 as bigint)"), "1");
  EXPECT_EQ(Eval1("cast(-1.9 as bigint)"), "-1");
  EXPECT_EQ(Eval1("cast(-9223372036854775808.0 as bigint)"), std::to_string(kMin));
  EXPECT_EQ(Eval1("cast(9223372036854775808.0 as bigint)"), "null");
  EXPECT_EQ(Eval1("cast(1e300 as bigint)"), "null");
  EXPECT_EQ(Eval1("cast(-1e300 as timestamp)"), "null");
  EXPECT_EQ(Eval1("cast(cast('NaN' as double) as bigint)"), "null");
  EXPECT_EQ(Eval1("cast(cast('Infinity' as double) as bigint)"), "null");
  EXPECT_EQ(Eval1("cast(2.5 as timestamp)"), "2");
}

TEST(ExprCast, NumbersToStringReadBack) {
  EXPECT_THAT(Eval("cast(i as string)"),
              ElementsAre("'1'", "'-7'", "null", "'9223372036854775807'"));
  EXPECT_THAT(Eval("cast(d as string)"), ElementsAre("'1.5'", "'-2.5'", "null", "'0.0'"));
  EXPECT_EQ(Eval1("cast(3.0 as string)"), "'3.0'");
  EXPECT_EQ(Eval1("cast(0.1 as string)"), "'0.1'");
  EXPECT_EQ(Eval1("cast(1e300 as string)"), "'1e+300'");
  EXPECT_EQ(Eval1("cast(cast('nan' as double) as string)"), "'NaN'");
  EXPECT_EQ(Eval1("cast(-1e308 * 10 as string)"), "'-Infinity'");
  EXPECT_EQ(Eval1("cast(cast(cast(0.1 as string) as double) = 0.1 as string)"), "'true'");
}

TEST(ExprCast, BooleanConversions) {
  EXPECT_THAT(Eval("cast(b as string)"), ElementsAre("'true'", "'false'", "null", "'true'"));
  EXPECT_THAT(Eval("cast(b as bigint)"), ElementsAre("1", "0", "null", "1"));
  EXPECT_THAT(Eval("cast(b as double)"), ElementsAre("1", "0", "null", "1"));
  EXPECT_THAT(Eval("cast(j as boolean)"), ElementsAre("true", "false", "true", "true"));
  EXPECT_THAT(Eval("cast(d as boolean)"), ElementsAre("true", "true", "null", "false"));
  EXPECT_EQ(Eval1("cast(cast('NaN' as double) as boolean)"), "null");
  for (const char* t : {"true", "TRUE", "t", "yes", "1", "on", " True "})
    EXPECT_EQ(Eval1("cast('" + std::string(t) + "' as boolean)"), "true") << t;
  for (const char* t : {"false", "F", "no", "0", "off"})
    EXPECT_EQ(Eval1("cast('" + std::string(t) + "' as boolean)"), "false") << t;
  for (const char* t : {"", "nope", "2", "truest"})
    EXPECT_EQ(Eval1("cast('" + std::string(t) + "' as boolean)"), "null") << t;
}

TEST(ExprCast, IsoStringsToTimestamp) {
  EXPECT_EQ(Eval1("cast('2024-05-01T12:00:00Z' as timestamp)"), "1714564800000");
  EXPECT_EQ(Eval1("cast('2024-05-01' as timestamp)"), "1714521600000");
  EXPECT_EQ(Eval1("cast('2024-05-01 12:00:00' as timestamp)"), "1714564800000");
  EXPECT_EQ(Eval1("cast('2024-05-01T12:00:00.123+02:00' as timestamp)"), "1714557600123");
  EXPECT_EQ(Eval1("cast('1714564800000' as timestamp)"), "1714564800000");
  EXPECT_EQ(Eval1("cast(' 2024-05-01T12:00:00Z ' as timestamp)"), "1714564800000");
  for (const char* bad : {"yesterday", "", "2024-13-01", "2024-05-01T25:00:00Z", "2024-05"}) {
    EXPECT_EQ(Eval1("cast('" + std::string(bad) + "' as timestamp)"), "null") << bad;
  }
}

TEST(ExprCast, TimestampToIsoString) {
  EXPECT_THAT(Eval("cast(ts as string)"),
              ElementsAre("'1970-01-01T00:00:01.000Z'", "'1970-01-01T00:00:00.000Z'", "null",
                          "'2024-05-01T12:00:00.000Z'"));
  EXPECT_EQ(Eval1("cast(cast(-1 as timestamp) as string)"), "'1969-12-31T23:59:59.999Z'");
  // The same text as FormatTimestamp over the range it supports.
  for (int64_t ms : {int64_t{0}, int64_t{-1}, int64_t{951782400123}, int64_t{-62135596800000},
                     int64_t{253402300799999}, int64_t{4102444800000}, int64_t{-86400001}}) {
    EXPECT_EQ(Eval1("cast(cast(" + std::to_string(ms) + " as timestamp) as string)"),
              "'" + FormatTimestamp(ms) + "'")
        << ms;
  }
  // Outside years 1..9999: epoch milliseconds, which read back.
  EXPECT_EQ(Eval1("cast(cast(-9223372036854775808 as timestamp) as string)"),
            "'-9223372036854775808'");
  EXPECT_EQ(Eval1("cast(cast(cast(cast(9223372036854775807 as timestamp) as string) as "
                  "timestamp) as bigint)"),
            "9223372036854775807");
}

TEST(ExprCast, TimestampAndBigintAreEpochMilliseconds) {
  EXPECT_THAT(Eval("cast(ts as bigint)"), ElementsAre("1000", "0", "null", "1714564800000"));
  EXPECT_THAT(Eval("cast(ts as double)"), ElementsAre("1000", "0", "null", "1714564800000"));
  EXPECT_EQ(Eval1("cast(1000 as timestamp)"), "1000");
}

TEST(ExprCast, BytesAndStringsConvertRaw) {
  EXPECT_THAT(Eval("cast(by as string)"), ElementsAre("'xy'", "''", "null", "'z'"));
  EXPECT_THAT(Eval("cast(s as bytes)"), ElementsAre("'abc'", "'Hello'", "null", "''"));
}

// ---- Select and batches ------------------------------------------------------------------

TEST(ExprSelect, KeepsOnlyTrueRows) {
  RecordBatch batch = DefaultBatch();
  auto select = [&](std::string_view text) {
    std::vector<ExprError> errors;
    auto e = BindText(text, &errors);
    EXPECT_NE(e, nullptr) << text;
    std::vector<uint32_t> selected = {99};  // replaced, not appended to
    if (!e) return selected;
    Evaluator ev(e.get());
    ev.Select(batch, &selected);
    return selected;
  };
  EXPECT_THAT(select("i > 0"), ElementsAre(0u, 3u));
  EXPECT_THAT(select("b"), ElementsAre(0u, 3u));
  EXPECT_THAT(select("not b"), ElementsAre(1u));
  EXPECT_THAT(select("b or i is null"), ElementsAre(0u, 2u, 3u));
  EXPECT_THAT(select("i = null"), IsEmpty());
  EXPECT_THAT(select("null"), IsEmpty());
  EXPECT_THAT(select("true"), ElementsAre(0u, 1u, 2u, 3u));
}

TEST(ExprEval, ScratchColumnsAreReusedAcrossBatchesOfDifferentSizes) {
  std::vector<ExprError> errors;
  Schema schema({{"x", TypeId::kBigint}, {"s", TypeId::kString}});
  auto e = BindText("case when x > 1 then concat(s, '!') else upper(s) end", &errors, {}, &schema);
  ASSERT_NE(e, nullptr);
  Evaluator ev(e.get());
  RecordBatch big = MakeBatch({{"x", TypeId::kBigint, {I(1), I(2), I(3), N()}},
                               {"s", TypeId::kString, {S("a"), S("b"), N(), S("d")}}});
  RecordBatch small = MakeBatch({{"x", TypeId::kBigint, {I(5)}}, {"s", TypeId::kString, {S("z")}}});
  RecordBatch empty = MakeBatch({{"x", TypeId::kBigint, {}}, {"s", TypeId::kString, {}}});
  for (int round = 0; round < 3; ++round) {
    EXPECT_THAT(RenderAll(ev.Evaluate(big), 4), ElementsAre("'A'", "'b!'", "null", "'D'"));
    EXPECT_EQ(ev.Evaluate(small).size(), 1u);
    EXPECT_THAT(RenderAll(ev.Evaluate(small), 1), ElementsAre("'z!'"));
    EXPECT_EQ(ev.Evaluate(empty).size(), 0u);
  }
}

TEST(ExprEval, LiteralBroadcastFollowsTheBatchSize) {
  std::vector<ExprError> errors;
  Schema schema({{"x", TypeId::kBigint}});
  auto e = BindText("x + 1", &errors, {}, &schema);
  ASSERT_NE(e, nullptr);
  Evaluator ev(e.get());
  RecordBatch two = MakeBatch({{"x", TypeId::kBigint, {I(1), I(2)}}});
  RecordBatch three = MakeBatch({{"x", TypeId::kBigint, {I(1), I(2), I(3)}}});
  EXPECT_THAT(RenderAll(ev.Evaluate(two), 2), ElementsAre("2", "3"));
  EXPECT_THAT(RenderAll(ev.Evaluate(three), 3), ElementsAre("2", "3", "4"));
  EXPECT_THAT(RenderAll(ev.Evaluate(two), 2), ElementsAre("2", "3"));
}

TEST(ExprEval, OneSideOfAJoinEvaluatesOverItsOwnBatch) {
  Schema a({{"id", TypeId::kBigint}});
  Schema b({{"name", TypeId::kString}, {"id", TypeId::kBigint}});
  std::vector<Input> inputs = {{"A", &a}, {"B", &b}};
  auto e = MustParse("B.id * 10");
  std::vector<ExprError> errors;
  ASSERT_TRUE(Bind(e.get(), inputs, {}, &errors));
  EXPECT_EQ(e->children[0]->input, 1);
  EXPECT_EQ(e->children[0]->column, 1);
  RecordBatch batch = MakeBatch(
      {{"name", TypeId::kString, {S("x"), S("y")}}, {"id", TypeId::kBigint, {I(4), N()}}});
  Evaluator ev(e.get());
  EXPECT_THAT(RenderAll(ev.Evaluate(batch), 2), ElementsAre("40", "null"));
}

TEST(ExprEval, GarbageUnderNullFlagsIsHarmless) {
  // Producers may leave any value under a null flag; kernels must not trap on it.
  RecordBatch batch =
      MakeBatch({{"x", TypeId::kBigint, {I(0), I(0)}}, {"y", TypeId::kBigint, {I(0), I(0)}}});
  batch.columns[0].mutable_ints()[0] = kMin;
  batch.columns[1].mutable_ints()[0] = -1;
  batch.columns[1].mutable_nulls()[0] = 1;
  EXPECT_THAT(Eval("x / y", batch), ElementsAre("null", "null"));
  EXPECT_THAT(Eval("x % y", batch), ElementsAre("null", "null"));
}

TEST(ExprEval, MaximallyNestedExpressionEvaluates) {
  std::string text = "x";
  for (int i = 0; i < 150; ++i) text += " + 1";
  RecordBatch batch = MakeBatch({{"x", TypeId::kBigint, {I(0), N()}}});
  EXPECT_THAT(Eval(text, batch), ElementsAre("150", "null"));
}

}  // namespace
}  // namespace weir::expr
