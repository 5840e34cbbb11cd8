// The vectorised evaluator. The constructor flattens a bound expression into
// a list of steps in post-order (children before parents); Evaluate() runs
// the steps over a whole batch, each a loop over the rows with the type and
// operator switch outside the loop. Every step owns a scratch Column that is
// Clear()ed, not reallocated, between batches. A step whose value is an input
// column, or equal to its child's (an identity cast, floor of a bigint),
// points at that column instead of copying it. Casts are in cast.cc, and
// every function but coalesce and now() is a kernel of the library
// (functions.h), one virtual call per batch.
//
// Null rows of a result hold 0 (or an empty string) so consumers that hash or
// compare raw values see deterministic data. Every kernel is defined for all
// input values, including the garbage a producer may leave under a null flag:
// integer arithmetic wraps through uint64_t, divisions check for zero and -1.
#include <cmath>

#include "common/expr/cast.h"
#include "common/expr/expr.h"
#include "common/expr/functions.h"
#include "common/status.h"

namespace weir::expr {
namespace {

enum class Kernel {
  kInputColumn,  // result = the batch's column
  kPassThrough,  // result = args[0]'s result
  kLiteral,      // broadcast (kept while the row count does not change)
  kNow,
  kAllNull,   // a null-propagating node with a null-typed operand
  kToDouble,  // bigint -> double, for mixed arithmetic and comparisons
  kArithInt,
  kArithDouble,
  kNegInt,
  kNegDouble,
  kCompareInt,
  kCompareDouble,
  kCompareString,
  kAnd,
  kOr,
  kNot,
  kIsNull,
  kIn,
  kCase,
  kCoalesce,
  kCast,
  kLibrary,  // a function of functions.h: its kernel
};

// How values of a type are stored in a Column.
enum class Storage { kInt, kDouble, kString };

Storage StorageOf(TypeId t) {
  if (t == TypeId::kDouble) return Storage::kDouble;
  if (IsStringStored(t)) return Storage::kString;
  return Storage::kInt;  // boolean, bigint, timestamp and null
}

struct Step {
  Kernel kernel = Kernel::kAllNull;
  const Expr* e = nullptr;
  TypeId type = TypeId::kNull;  // result type
  std::vector<int> args;        // step indices; -1 = a null-typed operand (in, case, coalesce)
  int input_column = -1;        // kInputColumn
  Column out;
  const Column* result = nullptr;
  size_t literal_rows = SIZE_MAX;       // kLiteral: rows currently broadcast in `out`
  std::vector<int32_t> pick;            // kCase / kCoalesce: which source each row takes
  std::vector<uint8_t> flags;           // kIn: a null was seen in the list
  std::vector<const Column*> sources;   // kCase / kCoalesce
  std::unique_ptr<fn::Kernel> library;  // kLibrary (its arguments in `sources`)
};

// ---- Output helpers ---------------------------------------------------------

using fn::PrepDoubles;
using fn::PrepInts;

using fn::FillNull;

// ---- Scalar helpers (all total functions) -------------------------------------

using fn::WrapAdd;
using fn::WrapMul;
using fn::WrapNeg;
using fn::WrapSub;

// b != 0. INT64_MIN / -1 wraps to INT64_MIN.
int64_t SafeDiv(int64_t a, int64_t b) {
  return b == -1 ? WrapNeg(a) : a / b;
}
// b != 0. x % -1 is 0 (INT64_MIN % -1 would trap).
int64_t SafeMod(int64_t a, int64_t b) {
  return b == -1 ? 0 : a % b;
}

template <typename T, typename Cmp>
void CompareLoop(const T* a, const T* b, const uint8_t* an, const uint8_t* bn, size_t n,
                 uint8_t* on, int64_t* o, Cmp cmp) {
  for (size_t i = 0; i < n; ++i) {
    const uint8_t nul = an[i] | bn[i];
    on[i] = nul;
    o[i] = !nul && cmp(a[i], b[i]);
  }
}

template <typename T>
void CompareOp(Op op, const T* a, const T* b, const uint8_t* an, const uint8_t* bn, size_t n,
               uint8_t* on, int64_t* o) {
  switch (op) {
    case Op::kEq:
      return CompareLoop(a, b, an, bn, n, on, o, [](T x, T y) { return x == y; });
    case Op::kNe:
      return CompareLoop(a, b, an, bn, n, on, o, [](T x, T y) { return x != y; });
    case Op::kLt:
      return CompareLoop(a, b, an, bn, n, on, o, [](T x, T y) { return x < y; });
    case Op::kLe:
      return CompareLoop(a, b, an, bn, n, on, o, [](T x, T y) { return x <= y; });
    case Op::kGt:
      return CompareLoop(a, b, an, bn, n, on, o, [](T x, T y) { return x > y; });
    case Op::kGe:
      return CompareLoop(a, b, an, bn, n, on, o, [](T x, T y) { return x >= y; });
    default:
      break;
  }
}

bool CompareResult(Op op, int c) {
  switch (op) {
    case Op::kEq:
      return c == 0;
    case Op::kNe:
      return c != 0;
    case Op::kLt:
      return c < 0;
    case Op::kLe:
      return c <= 0;
    case Op::kGt:
      return c > 0;
    case Op::kGe:
      return c >= 0;
    default:
      return false;
  }
}

// Copies row i of sources[pick[i]] (null when pick < 0 or the source is null).
void Gather(const std::vector<const Column*>& sources, const std::vector<int32_t>& pick, size_t n,
            Column* out) {
  auto source = [&](size_t i) -> const Column* {
    const int32_t p = pick[i];
    const Column* s = p >= 0 ? sources[static_cast<size_t>(p)] : nullptr;
    return s && !s->IsNull(i) ? s : nullptr;
  };
  switch (StorageOf(out->type())) {
    case Storage::kInt: {
      uint8_t* on;
      int64_t* o;
      PrepInts(out, n, &on, &o);
      for (size_t i = 0; i < n; ++i) {
        const Column* s = source(i);
        on[i] = s == nullptr;
        o[i] = s ? s->ints()[i] : 0;
      }
      return;
    }
    case Storage::kDouble: {
      uint8_t* on;
      double* o;
      PrepDoubles(out, n, &on, &o);
      for (size_t i = 0; i < n; ++i) {
        const Column* s = source(i);
        on[i] = s == nullptr;
        o[i] = s ? s->doubles()[i] : 0;
      }
      return;
    }
    case Storage::kString:
      out->Clear();
      out->Reserve(n);
      for (size_t i = 0; i < n; ++i) {
        const Column* s = source(i);
        if (s)
          out->AppendString(s->GetString(i));
        else
          out->AppendNull();
      }
      return;
  }
}

}  // namespace

// ---- Evaluator --------------------------------------------------------------

struct Evaluator::Impl {
  std::vector<Step> steps;

  int Add(Step s) {
    s.out = Column(s.type);
    steps.push_back(std::move(s));
    return static_cast<int>(steps.size()) - 1;
  }
  int AllNull(const Expr* e) {
    Step s;
    s.kernel = Kernel::kAllNull;
    s.e = e;
    s.type = e->type;
    return Add(std::move(s));
  }
  int Simple(const Expr* e, Kernel k, std::vector<int> args, TypeId type) {
    Step s;
    s.kernel = k;
    s.e = e;
    s.type = type;
    s.args = std::move(args);
    return Add(std::move(s));
  }
  // Step i as a double (inserts a conversion for a bigint).
  int AsDouble(int i) {
    if (steps[static_cast<size_t>(i)].type != TypeId::kBigint) return i;
    return Simple(steps[static_cast<size_t>(i)].e, Kernel::kToDouble, {i}, TypeId::kDouble);
  }
  TypeId TypeOf(int i) const { return steps[static_cast<size_t>(i)].type; }

  static bool AnyNullTyped(const Expr* e) {
    for (const auto& c : e->children)
      if (c->type == TypeId::kNull) return true;
    return false;
  }

  int Build(const Expr* e) {
    const auto& ch = e->children;
    switch (e->kind) {
      case NodeKind::kLiteral: {
        Step s;
        s.kernel = Kernel::kLiteral;
        s.e = e;
        s.type = e->literal.type;
        return Add(std::move(s));
      }
      case NodeKind::kColumn: {
        Step s;
        s.kernel = Kernel::kInputColumn;
        s.e = e;
        s.type = e->type;
        s.input_column = e->column;
        return Add(std::move(s));
      }
      case NodeKind::kUnary: {
        if (e->op == Op::kNot) return Simple(e, Kernel::kNot, {Build(ch[0].get())}, e->type);
        if (AnyNullTyped(e)) return AllNull(e);
        int a = Build(ch[0].get());
        return Simple(e, e->type == TypeId::kDouble ? Kernel::kNegDouble : Kernel::kNegInt, {a},
                      e->type);
      }
      case NodeKind::kBinary:
        return BuildBinary(e);
      case NodeKind::kIsNull:
        return Simple(e, Kernel::kIsNull, {Build(ch[0].get())}, e->type);
      case NodeKind::kCast: {
        if (AnyNullTyped(e)) return AllNull(e);
        int a = Build(ch[0].get());
        if (TypeOf(a) == e->type) return Simple(e, Kernel::kPassThrough, {a}, e->type);
        return Simple(e, Kernel::kCast, {a}, e->type);
      }
      case NodeKind::kIn:
        return BuildIn(e);
      case NodeKind::kCase:
        return BuildCase(e);
      case NodeKind::kFunction:
        return BuildFunction(e);
    }
    return AllNull(e);
  }

  int BuildBinary(const Expr* e) {
    const Expr* l = e->children[0].get();
    const Expr* r = e->children[1].get();
    if (e->op == Op::kAnd || e->op == Op::kOr) {
      // Null-typed operands are int-stored all-null columns: the kernel handles them.
      return Simple(e, e->op == Op::kAnd ? Kernel::kAnd : Kernel::kOr, {Build(l), Build(r)},
                    e->type);
    }
    if (AnyNullTyped(e)) return AllNull(e);
    int a = Build(l), b = Build(r);
    switch (e->op) {
      case Op::kEq:
      case Op::kNe:
      case Op::kLt:
      case Op::kLe:
      case Op::kGt:
      case Op::kGe: {
        Kernel k;
        if (TypeOf(a) != TypeOf(b) && IsNumeric(TypeOf(a)) && IsNumeric(TypeOf(b))) {
          a = AsDouble(a);
          b = AsDouble(b);
          k = Kernel::kCompareDouble;
        } else {
          switch (StorageOf(TypeOf(a))) {
            case Storage::kInt:
              k = Kernel::kCompareInt;
              break;
            case Storage::kDouble:
              k = Kernel::kCompareDouble;
              break;
            default:
              k = Kernel::kCompareString;
              break;
          }
        }
        return Simple(e, k, {a, b}, e->type);
      }
      default:
        if (e->type == TypeId::kDouble) {
          return Simple(e, Kernel::kArithDouble, {AsDouble(a), AsDouble(b)}, e->type);
        }
        return Simple(e, Kernel::kArithInt, {a, b}, e->type);
    }
  }

  int BuildIn(const Expr* e) {
    const auto& ch = e->children;
    if (ch[0]->type == TypeId::kNull) return AllNull(e);
    bool as_double = false;
    for (const auto& c : ch) as_double = as_double || c->type == TypeId::kDouble;
    as_double = as_double && IsNumeric(ch[0]->type);
    std::vector<int> args;
    for (const auto& c : ch) {
      if (c->type == TypeId::kNull) {
        args.push_back(-1);
        continue;
      }
      int i = Build(c.get());
      args.push_back(as_double ? AsDouble(i) : i);
    }
    return Simple(e, Kernel::kIn, std::move(args), e->type);
  }

  int BuildCase(const Expr* e) {
    if (e->type == TypeId::kNull) return AllNull(e);
    const auto& ch = e->children;
    const size_t pairs = (ch.size() - (e->has_else ? 1 : 0)) / 2;
    std::vector<int> args;
    for (size_t i = 0; i < ch.size(); ++i) {
      const bool is_value = i >= pairs * 2 || i % 2 == 1;
      if (is_value && ch[i]->type == TypeId::kNull) {
        args.push_back(-1);
        continue;
      }
      int a = Build(ch[i].get());
      args.push_back(is_value && e->type == TypeId::kDouble ? AsDouble(a) : a);
    }
    return Simple(e, Kernel::kCase, std::move(args), e->type);
  }

  int BuildFunction(const Expr* e) {
    const std::string& f = e->function;
    const auto& ch = e->children;
    if (f == "now") return Simple(e, Kernel::kNow, {}, TypeId::kTimestamp);
    if (f == "coalesce") {
      if (e->type == TypeId::kNull) return AllNull(e);
      std::vector<int> args;
      for (const auto& c : ch) {
        if (c->type == TypeId::kNull) continue;  // never picked
        int a = Build(c.get());
        args.push_back(e->type == TypeId::kDouble ? AsDouble(a) : a);
      }
      return Simple(e, Kernel::kCoalesce, std::move(args), e->type);
    }
    if (const fn::Function* library = fn::Find(f)) {
      if (e->type == TypeId::kNull || (library->strict && AnyNullTyped(e))) return AllNull(e);
      std::vector<int> args;
      for (const auto& c : ch) args.push_back(Build(c.get()));
      if (library->identity && library->identity(*e))
        return Simple(e, Kernel::kPassThrough, {args[0]}, e->type);
      const int i = Simple(e, Kernel::kLibrary, std::move(args), e->type);
      steps[static_cast<size_t>(i)].library = library->make(*e);
      return i;
    }
    return AllNull(e);  // unbound or unknown: defined, not a crash
  }

  const Column& Arg(const Step& s, size_t k) const {
    return *steps[static_cast<size_t>(s.args[k])].result;
  }

  void Run(Step& s, const RecordBatch& batch, size_t n, int64_t now_ms);
  void RunLiteral(Step& s, size_t n);
  void RunArithInt(Step& s, size_t n);
  void RunArithDouble(Step& s, size_t n);
  void RunCompare(Step& s, size_t n);
  void RunLogic(Step& s, size_t n);
  void RunIn(Step& s, size_t n);
  void RunCase(Step& s, size_t n);
  void RunCoalesce(Step& s, size_t n);
  void RunNumeric(Step& s, size_t n);
};

void Evaluator::Impl::Run(Step& s, const RecordBatch& batch, size_t n, int64_t now_ms) {
  s.result = &s.out;
  switch (s.kernel) {
    case Kernel::kInputColumn: {
      const auto col = static_cast<size_t>(s.input_column);
      WEIR_ASSERT(s.input_column >= 0 && col < batch.columns.size(),
                  "expression column " + std::to_string(s.input_column) + " not in the batch");
      const Column& c = batch.columns[col];
      WEIR_ASSERT(c.type() == s.type && c.size() >= n,
                  "batch column " + std::to_string(col) + " does not match the bound schema");
      s.result = &c;
      return;
    }
    case Kernel::kPassThrough:
      s.result = &Arg(s, 0);
      return;
    case Kernel::kLiteral:
      return RunLiteral(s, n);
    case Kernel::kNow: {
      uint8_t* on;
      int64_t* o;
      PrepInts(&s.out, n, &on, &o);
      for (size_t i = 0; i < n; ++i) o[i] = now_ms;
      return;
    }
    case Kernel::kAllNull:
      return FillNull(&s.out, n);
    case Kernel::kLibrary: {
      s.sources.clear();
      for (size_t k = 0; k < s.args.size(); ++k) s.sources.push_back(&Arg(s, k));
      return s.library->Run(s.sources.data(), n, &s.out);
    }
    case Kernel::kToDouble: {
      const Column& a = Arg(s, 0);
      uint8_t* on;
      double* o;
      PrepDoubles(&s.out, n, &on, &o);
      const int64_t* x = a.ints();
      const uint8_t* xn = a.nulls();
      for (size_t i = 0; i < n; ++i) {
        on[i] = xn[i];
        o[i] = static_cast<double>(x[i]);
      }
      return;
    }
    case Kernel::kArithInt:
      return RunArithInt(s, n);
    case Kernel::kArithDouble:
      return RunArithDouble(s, n);
    case Kernel::kCompareInt:
    case Kernel::kCompareDouble:
    case Kernel::kCompareString:
      return RunCompare(s, n);
    case Kernel::kAnd:
    case Kernel::kOr:
    case Kernel::kNot:
    case Kernel::kIsNull:
      return RunLogic(s, n);
    case Kernel::kIn:
      return RunIn(s, n);
    case Kernel::kCase:
      return RunCase(s, n);
    case Kernel::kCoalesce:
      return RunCoalesce(s, n);
    case Kernel::kCast:
      return CastColumn(Arg(s, 0), s.type, n, &s.out);
    case Kernel::kNegInt:
    case Kernel::kNegDouble:
      return RunNumeric(s, n);
  }
}

void Evaluator::Impl::RunLiteral(Step& s, size_t n) {
  if (s.literal_rows == n) return;  // the broadcast from the last batch still holds
  const Literal& lit = s.e->literal;
  const bool is_null = lit.type == TypeId::kNull;
  switch (StorageOf(s.type)) {
    case Storage::kInt: {
      uint8_t* on;
      int64_t* o;
      PrepInts(&s.out, n, &on, &o);
      for (size_t i = 0; i < n; ++i) {
        on[i] = is_null;
        o[i] = is_null ? 0 : lit.i;
      }
      break;
    }
    case Storage::kDouble: {
      uint8_t* on;
      double* o;
      PrepDoubles(&s.out, n, &on, &o);
      for (size_t i = 0; i < n; ++i) o[i] = lit.d;
      break;
    }
    case Storage::kString:
      s.out.Clear();
      s.out.Reserve(n);
      for (size_t i = 0; i < n; ++i) s.out.AppendString(lit.s);
      break;
  }
  s.literal_rows = n;
}

void Evaluator::Impl::RunArithInt(Step& s, size_t n) {
  const Column& a = Arg(s, 0);
  const Column& b = Arg(s, 1);
  const int64_t* x = a.ints();
  const int64_t* y = b.ints();
  const uint8_t* xn = a.nulls();
  const uint8_t* yn = b.nulls();
  uint8_t* on;
  int64_t* o;
  PrepInts(&s.out, n, &on, &o);
  switch (s.e->op) {
    case Op::kAdd:
      for (size_t i = 0; i < n; ++i) {
        on[i] = xn[i] | yn[i];
        o[i] = on[i] ? 0 : WrapAdd(x[i], y[i]);
      }
      return;
    case Op::kSub:
      for (size_t i = 0; i < n; ++i) {
        on[i] = xn[i] | yn[i];
        o[i] = on[i] ? 0 : WrapSub(x[i], y[i]);
      }
      return;
    case Op::kMul:
      for (size_t i = 0; i < n; ++i) {
        on[i] = xn[i] | yn[i];
        o[i] = on[i] ? 0 : WrapMul(x[i], y[i]);
      }
      return;
    case Op::kDiv:
      for (size_t i = 0; i < n; ++i) {
        on[i] = xn[i] | yn[i] | (y[i] == 0);
        o[i] = on[i] ? 0 : SafeDiv(x[i], y[i]);
      }
      return;
    case Op::kMod:
      for (size_t i = 0; i < n; ++i) {
        on[i] = xn[i] | yn[i] | (y[i] == 0);
        o[i] = on[i] ? 0 : SafeMod(x[i], y[i]);
      }
      return;
    default:
      FillNull(&s.out, n);
      return;
  }
}

void Evaluator::Impl::RunArithDouble(Step& s, size_t n) {
  const Column& a = Arg(s, 0);
  const Column& b = Arg(s, 1);
  const double* x = a.doubles();
  const double* y = b.doubles();
  const uint8_t* xn = a.nulls();
  const uint8_t* yn = b.nulls();
  uint8_t* on;
  double* o;
  PrepDoubles(&s.out, n, &on, &o);
  switch (s.e->op) {
    case Op::kAdd:
      for (size_t i = 0; i < n; ++i) {
        on[i] = xn[i] | yn[i];
        o[i] = on[i] ? 0 : x[i] + y[i];
      }
      return;
    case Op::kSub:
      for (size_t i = 0; i < n; ++i) {
        on[i] = xn[i] | yn[i];
        o[i] = on[i] ? 0 : x[i] - y[i];
      }
      return;
    case Op::kMul:
      for (size_t i = 0; i < n; ++i) {
        on[i] = xn[i] | yn[i];
        o[i] = on[i] ? 0 : x[i] * y[i];
      }
      return;
    case Op::kDiv:
      for (size_t i = 0; i < n; ++i) {
        on[i] = xn[i] | yn[i] | (y[i] == 0);
        o[i] = on[i] ? 0 : x[i] / y[i];
      }
      return;
    case Op::kMod:
      for (size_t i = 0; i < n; ++i) {
        on[i] = xn[i] | yn[i] | (y[i] == 0);
        o[i] = on[i] ? 0 : std::fmod(x[i], y[i]);
      }
      return;
    default:
      FillNull(&s.out, n);
      return;
  }
}

void Evaluator::Impl::RunCompare(Step& s, size_t n) {
  const Column& a = Arg(s, 0);
  const Column& b = Arg(s, 1);
  const Op op = s.e->op;
  uint8_t* on;
  int64_t* o;
  PrepInts(&s.out, n, &on, &o);
  switch (s.kernel) {
    case Kernel::kCompareInt:
      return CompareOp(op, a.ints(), b.ints(), a.nulls(), b.nulls(), n, on, o);
    case Kernel::kCompareDouble:
      return CompareOp(op, a.doubles(), b.doubles(), a.nulls(), b.nulls(), n, on, o);
    default:
      for (size_t i = 0; i < n; ++i) {
        const bool nul = a.IsNull(i) || b.IsNull(i);
        on[i] = nul;
        o[i] = !nul && CompareResult(op, a.GetString(i).compare(b.GetString(i)));
      }
      return;
  }
}

void Evaluator::Impl::RunLogic(Step& s, size_t n) {
  const Column& a = Arg(s, 0);
  const int64_t* x = a.ints();
  const uint8_t* xn = a.nulls();
  uint8_t* on;
  int64_t* o;
  PrepInts(&s.out, n, &on, &o);
  switch (s.kernel) {
    case Kernel::kNot:
      for (size_t i = 0; i < n; ++i) {
        on[i] = xn[i];
        o[i] = !xn[i] && x[i] == 0;
      }
      return;
    case Kernel::kIsNull: {
      const uint8_t want = s.e->negated ? 0 : 1;
      for (size_t i = 0; i < n; ++i) o[i] = xn[i] == want;
      return;
    }
    case Kernel::kAnd: {
      // false wins over null; null wins over true.
      const Column& b = Arg(s, 1);
      const int64_t* y = b.ints();
      const uint8_t* yn = b.nulls();
      for (size_t i = 0; i < n; ++i) {
        const bool any_false = (!xn[i] && x[i] == 0) || (!yn[i] && y[i] == 0);
        on[i] = !any_false && (xn[i] | yn[i]);
        o[i] = !any_false && !on[i];
      }
      return;
    }
    default: {  // kOr: true wins over null; null wins over false.
      const Column& b = Arg(s, 1);
      const int64_t* y = b.ints();
      const uint8_t* yn = b.nulls();
      for (size_t i = 0; i < n; ++i) {
        const bool any_true = (!xn[i] && x[i] != 0) || (!yn[i] && y[i] != 0);
        on[i] = !any_true && (xn[i] | yn[i]);
        o[i] = any_true;
      }
      return;
    }
  }
}

// x in (v1, ...): true when some vi = x; else null when x or some vi is null;
// else false. `not in` negates (null stays null).
void Evaluator::Impl::RunIn(Step& s, size_t n) {
  const Column& left = Arg(s, 0);
  uint8_t* on;
  int64_t* found;
  PrepInts(&s.out, n, &on, &found);
  s.flags.assign(n, 0);
  uint8_t* saw_null = s.flags.data();
  const Storage storage = StorageOf(left.type());
  for (size_t k = 1; k < s.args.size(); ++k) {
    if (s.args[k] < 0) {  // the literal null
      for (size_t i = 0; i < n; ++i) saw_null[i] = 1;
      continue;
    }
    const Column& v = Arg(s, k);
    const uint8_t* vn = v.nulls();
    switch (storage) {
      case Storage::kInt: {
        const int64_t* x = left.ints();
        const int64_t* y = v.ints();
        for (size_t i = 0; i < n; ++i) {
          saw_null[i] |= vn[i];
          found[i] |= !vn[i] && x[i] == y[i];
        }
        break;
      }
      case Storage::kDouble: {
        const double* x = left.doubles();
        const double* y = v.doubles();
        for (size_t i = 0; i < n; ++i) {
          saw_null[i] |= vn[i];
          found[i] |= !vn[i] && x[i] == y[i];
        }
        break;
      }
      case Storage::kString:
        for (size_t i = 0; i < n; ++i) {
          saw_null[i] |= vn[i];
          found[i] |= !vn[i] && left.GetString(i) == v.GetString(i);
        }
        break;
    }
  }
  const uint8_t* ln = left.nulls();
  const int64_t negated = s.e->negated ? 1 : 0;
  for (size_t i = 0; i < n; ++i) {
    on[i] = ln[i] | ((found[i] == 0) & saw_null[i]);
    found[i] = on[i] ? 0 : (found[i] ^ negated);
  }
}

void Evaluator::Impl::RunCase(Step& s, size_t n) {
  const size_t pairs = (s.args.size() - (s.e->has_else ? 1 : 0)) / 2;
  s.pick.assign(n, -1);
  int32_t* pick = s.pick.data();
  s.sources.clear();
  for (size_t j = 0; j < pairs; ++j) {
    const int cond_step = s.args[2 * j];
    const int value_step = s.args[2 * j + 1];
    s.sources.push_back(value_step < 0 ? nullptr : steps[static_cast<size_t>(value_step)].result);
    if (cond_step < 0) continue;
    const Column& c = *steps[static_cast<size_t>(cond_step)].result;
    const int64_t* x = c.ints();
    const uint8_t* xn = c.nulls();
    const auto branch = static_cast<int32_t>(j);
    for (size_t i = 0; i < n; ++i) {
      if (pick[i] < 0 && !xn[i] && x[i] != 0) pick[i] = branch;
    }
  }
  // No condition held: the else value (source `pairs`), or null.
  const int else_step = s.e->has_else ? s.args.back() : -1;
  s.sources.push_back(else_step < 0 ? nullptr : steps[static_cast<size_t>(else_step)].result);
  const auto otherwise = static_cast<int32_t>(pairs);
  for (size_t i = 0; i < n; ++i)
    if (pick[i] < 0) pick[i] = otherwise;
  Gather(s.sources, s.pick, n, &s.out);
}

void Evaluator::Impl::RunCoalesce(Step& s, size_t n) {
  s.pick.assign(n, -1);
  int32_t* pick = s.pick.data();
  s.sources.clear();
  for (size_t j = 0; j < s.args.size(); ++j) {
    const Column& c = Arg(s, j);
    s.sources.push_back(&c);
    const uint8_t* cn = c.nulls();
    const auto branch = static_cast<int32_t>(j);
    for (size_t i = 0; i < n; ++i)
      if (pick[i] < 0 && !cn[i]) pick[i] = branch;
  }
  Gather(s.sources, s.pick, n, &s.out);
}

// -x, wrapping for bigint (-INT64_MIN is INT64_MIN).
void Evaluator::Impl::RunNumeric(Step& s, size_t n) {
  const Column& a = Arg(s, 0);
  const uint8_t* xn = a.nulls();
  uint8_t* on;
  if (s.kernel == Kernel::kNegDouble) {
    const double* x = a.doubles();
    double* o;
    PrepDoubles(&s.out, n, &on, &o);
    for (size_t i = 0; i < n; ++i) {
      on[i] = xn[i];
      o[i] = xn[i] ? 0 : -x[i];
    }
    return;
  }
  const int64_t* x = a.ints();
  int64_t* o;
  PrepInts(&s.out, n, &on, &o);
  for (size_t i = 0; i < n; ++i) {
    on[i] = xn[i];
    o[i] = xn[i] ? 0 : WrapNeg(x[i]);
  }
}

Evaluator::Evaluator(const Expr* e) : impl_(std::make_unique<Impl>()) {
  impl_->Build(e);
}

Evaluator::~Evaluator() = default;

const Column& Evaluator::Evaluate(const RecordBatch& batch, int64_t now_ms) {
  const size_t n = batch.num_rows();
  for (Step& s : impl_->steps) impl_->Run(s, batch, n, now_ms);
  return *impl_->steps.back().result;
}

void Evaluator::Select(const RecordBatch& batch, std::vector<uint32_t>* selected, int64_t now_ms) {
  const Column& c = Evaluate(batch, now_ms);
  selected->clear();
  WEIR_ASSERT(StorageOf(c.type()) == Storage::kInt, "Select() needs a boolean expression");
  const size_t n = batch.num_rows();
  const uint8_t* nulls = c.nulls();
  const int64_t* v = c.ints();
  for (size_t i = 0; i < n; ++i)
    if (!nulls[i] && v[i] != 0) selected->push_back(static_cast<uint32_t>(i));
}

}  // namespace weir::expr
