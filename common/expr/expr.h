// The expression language of job files (docs/job-spec.md, "Expressions").
//
//   filter: "amount > 10 and user_id != ''"
//   map:    {cents: "cast(amount * 100 as bigint)"}
//   aggregate: {revenue: "sum(cents)"}
//
// Lifecycle: Parse() text into an Expr tree; Bind() it against the schemas of
// its inputs, which resolves names, type-checks and sets Expr::type on every
// node (all errors are collected, each with its byte offset in the text, so
// the job validator can report file:line:col). A bound expression is then
// evaluated a whole batch at a time by an Evaluator, which owns scratch
// columns reused across batches: no per-row allocation or virtual call.
//
// Semantics (SQL-like, defined for every input, never a crash):
//  - null propagates through arithmetic, comparisons and functions; `and`/`or`
//    use three-valued logic (false and null = false, true or null = true);
//    a filter keeps a row only when its predicate is true (null drops it).
//  - bigint arithmetic wraps on overflow (two's complement, as Java/Flink);
//    x / 0 and x % 0 are null for bigint and double; bigint / bigint is
//    integer division truncating toward zero.
//  - mixing bigint and double promotes to double; timestamp +/- bigint is a
//    timestamp, timestamp - timestamp is bigint (ms).
//  - cast: a value that cannot be converted (bad number text, NaN or
//    out-of-range double to bigint) is null.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/batch.h"
#include "common/types.h"

namespace weir::expr {

enum class NodeKind {
  kLiteral,   // literal
  kColumn,    // [qualifier.]name
  kUnary,     // op: kNot, kNeg; children[0]
  kBinary,    // op; children[0], children[1]
  kFunction,  // function (lower case), children = args; also aggregates before ParseAggregate
  kCast,      // cast(children[0] as cast_type)
  kCase,      // case when c1 then v1 [when c2 then v2 ...] [else e] end:
              // children = c1, v1, c2, v2, ..., [e]; has_else says whether e is present
  kIn,        // children[0] [not] in (children[1..])
  kIsNull,    // children[0] is [not] null
};

enum class Op { kAdd, kSub, kMul, kDiv, kMod, kEq, kNe, kLt, kLe, kGt, kGe, kAnd, kOr, kNot, kNeg };

struct Literal {
  TypeId type = TypeId::kNull;  // kNull for the literal null
  int64_t i = 0;                // boolean (0/1), bigint
  double d = 0;
  std::string s;
};

// The keys of hmac_sha256(x, 'name'): the job's top-level `secrets:` map.
// The job's validator makes one with the names; a worker (or `weir local`)
// reads the values from their secret references before it makes evaluators,
// so the coordinator and the client never hold a key.
struct KeyRing {
  std::set<std::string> names;
  std::map<std::string, std::string> values;  // name -> key, once read
};

struct Expr {
  NodeKind kind = NodeKind::kLiteral;
  size_t offset = 0;  // byte offset of this node's first character in the text
  Literal literal;
  std::string qualifier;  // kColumn: "A" in A.x, else empty
  std::string name;       // kColumn
  Op op = Op::kAdd;
  std::string function;  // kFunction, lower case
  TypeId cast_type = TypeId::kNull;
  bool negated = false;   // kIn: not in; kIsNull: is not null
  bool has_else = false;  // kCase
  std::vector<std::unique_ptr<Expr>> children;

  // Set by Bind().
  TypeId type = TypeId::kNull;
  int input = -1;                       // kColumn: index into the inputs given to Bind()
  int column = -1;                      // kColumn: field index in that input's schema
  std::shared_ptr<const KeyRing> keys;  // hmac_sha256: where its key will be
};

struct ExprError {
  size_t offset = 0;  // byte offset in the expression text
  std::string message;
};

// Parses text; on failure returns nullptr and fills *error with the offset of
// the offending token and a message such as "expected ')' but found 'and'".
std::unique_ptr<Expr> Parse(std::string_view text, ExprError* error);

// One input stream visible to an expression. A join's condition sees two
// inputs with qualifiers (the stream names); other operators see one input
// whose qualifier is its stream name. An unqualified name resolves when
// exactly one input has it.
struct Input {
  std::string qualifier;
  const Schema* schema = nullptr;
};

struct BindOptions {
  bool allow_now = false;         // now() is allowed only in processing-time jobs
  std::shared_ptr<KeyRing> keys;  // the job's secrets (hmac_sha256); null: none
};

// Resolves column references, type-checks every node and sets Expr::type.
// Appends every error found (unknown column with a did-you-mean, wrong
// argument types, aggregate function used outside an aggregate, now() not
// allowed...) and returns true when there was none.
bool Bind(Expr* e, const std::vector<Input>& inputs, const BindOptions& options,
          std::vector<ExprError>* errors);

enum class AggKind { kCountAll, kCount, kSum, kMin, kMax, kAvg, kFirst, kLast, kCountDistinct };

struct Aggregate {
  AggKind kind = AggKind::kCountAll;
  std::unique_ptr<Expr> arg;  // bound; null for count()
  TypeId result_type = TypeId::kBigint;
};

// True when `name` (lower case) is an aggregate function name.
bool IsAggregateFunction(std::string_view name);

// Parses and binds an aggregate such as "count()", "count(x)", "sum(cents)",
// "avg(amount * 2)". The argument is an ordinary expression. Result types:
// count/count_distinct bigint; sum of bigint bigint, of double double;
// avg double; min/max/first/last the argument's type. sum/avg need numbers,
// min/max orderable types. Returns false and appends errors otherwise.
bool ParseAggregate(std::string_view text, const std::vector<Input>& inputs,
                    const BindOptions& options, Aggregate* out, std::vector<ExprError>* errors);

// Canonical text of an expression (for `weir explain` and messages).
std::string ToString(const Expr& e);

// Evaluates one bound expression over batches of its (single) input.
// Owns scratch columns for the intermediate nodes, reused across calls.
class Evaluator {
 public:
  explicit Evaluator(const Expr* e);
  ~Evaluator();
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  // Returns the result column (type e->type, batch.num_rows() rows). Valid
  // until the next call. now_ms is the value of now().
  const Column& Evaluate(const RecordBatch& batch, int64_t now_ms = 0);

  // For a boolean expression: fills *selected with the indices of the rows
  // for which it is true (false and null rows are dropped).
  void Select(const RecordBatch& batch, std::vector<uint32_t>* selected, int64_t now_ms = 0);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::expr
