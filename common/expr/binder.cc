// Bind(): name resolution and type checking of a parsed expression, and
// ParseAggregate(). Every error is collected with the offset of the node it
// is about; a node whose children failed reports nothing more itself, so one
// mistake produces one message.
#include <array>
#include <optional>

#include "common/expr/functions.h"
#include "common/expr/lexer_internal.h"
#include "common/text.h"

namespace weir::expr {
namespace {

constexpr std::array<std::string_view, 8> kAggregateFunctions = {
    "count", "sum", "min", "max", "avg", "first", "last", "count_distinct"};
// The scalar functions the binder and evaluator handle themselves; the rest
// are the library's (functions.h).
constexpr std::array<std::string_view, 2> kScalarFunctions = {"coalesce", "now"};

std::string Name(TypeId t) {
  return std::string(TypeName(t));
}

// The type both a and b convert to (case branches, coalesce), if any.
std::optional<TypeId> CommonType(TypeId a, TypeId b) {
  if (a == b) return a;
  if (a == TypeId::kNull) return b;
  if (b == TypeId::kNull) return a;
  if (IsNumeric(a) && IsNumeric(b)) return TypeId::kDouble;
  return std::nullopt;
}

// Whether values of a and b can be compared with = < ... and `in`.
bool Comparable(TypeId a, TypeId b) {
  if (a == TypeId::kNull || b == TypeId::kNull) return true;
  if (IsNumeric(a) && IsNumeric(b)) return true;
  return a == b;
}

bool IsNumericOrNull(TypeId t) {
  return IsNumeric(t) || t == TypeId::kNull;
}
bool IsStringOrNull(TypeId t) {
  return t == TypeId::kString || t == TypeId::kNull;
}

// Types a cast converts between as numbers (timestamp as epoch milliseconds).
bool IsNumberLike(TypeId t) {
  return t == TypeId::kBigint || t == TypeId::kDouble || t == TypeId::kBoolean ||
         t == TypeId::kTimestamp;
}

bool Castable(TypeId from, TypeId to) {
  if (from == to || from == TypeId::kNull || from == TypeId::kString || to == TypeId::kString) {
    return true;
  }
  if (IsNumberLike(from) && IsNumberLike(to)) {
    // boolean <-> timestamp makes no sense.
    return !((from == TypeId::kBoolean && to == TypeId::kTimestamp) ||
             (from == TypeId::kTimestamp && to == TypeId::kBoolean));
  }
  return false;
}

std::string Plural(size_t n, std::string_view word) {
  return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

class Binder {
 public:
  // `enclosing_aggregate` is the aggregate whose argument is being bound
  // (ParseAggregate), or empty.
  Binder(const std::vector<Input>& inputs, const BindOptions& options,
         std::vector<ExprError>* errors, std::string_view enclosing_aggregate = {})
      : inputs_(inputs),
        options_(options),
        errors_(errors),
        enclosing_aggregate_(enclosing_aggregate) {}

  // Types e and its subtree; false when an error was reported for it.
  bool Bind(Expr* e) {
    e->type = TypeId::kNull;
    for (const auto& c : e->children) {
      if (!c) {
        Error(e->offset, "malformed expression (missing operand)");
        return false;
      }
    }
    switch (e->kind) {
      case NodeKind::kLiteral:
        e->type = e->literal.type;
        return true;
      case NodeKind::kColumn:
        return BindColumn(e);
      case NodeKind::kUnary:
        return Shape(e, 1, 1) && BindUnary(e);
      case NodeKind::kBinary:
        return Shape(e, 2, 2) && BindBinary(e);
      case NodeKind::kFunction:
        return BindFunction(e);
      case NodeKind::kCast:
        return Shape(e, 1, 1) && BindCast(e);
      case NodeKind::kCase:
        return BindCase(e);
      case NodeKind::kIn:
        return Shape(e, 2, SIZE_MAX) && BindIn(e);
      case NodeKind::kIsNull:
        if (!Shape(e, 1, 1) || !Bind(e->children[0].get())) return false;
        e->type = TypeId::kBoolean;
        return true;
    }
    Error(e->offset, "malformed expression (unknown node kind)");
    return false;
  }

 private:
  void Error(size_t offset, std::string message) {
    errors_->push_back({offset, std::move(message)});
  }

  // Guards against hand-built trees with the wrong number of children.
  bool Shape(const Expr* e, size_t min, size_t max) {
    if (e->children.size() >= min && e->children.size() <= max) return true;
    Error(e->offset, "malformed expression (wrong number of operands)");
    return false;
  }

  bool BindChildren(Expr* e) {
    bool ok = true;
    for (auto& c : e->children) ok = Bind(c.get()) && ok;
    return ok;
  }

  bool BindColumn(Expr* e) {
    auto field_names = [](const Schema* s, std::vector<std::string>* out) {
      if (!s) return;
      for (const auto& f : s->fields()) out->push_back(f.name);
    };
    if (!e->qualifier.empty()) {
      std::vector<std::string> qualifiers;
      for (size_t i = 0; i < inputs_.size(); ++i) {
        qualifiers.push_back(inputs_[i].qualifier);
        if (inputs_[i].qualifier != e->qualifier || !inputs_[i].schema) continue;
        int col = inputs_[i].schema->IndexOf(e->name);
        if (col < 0) {
          std::vector<std::string> names;
          field_names(inputs_[i].schema, &names);
          Error(e->offset, "unknown field '" + e->name + "' in '" + e->qualifier + "'" +
                               DidYouMean(e->name, names));
          return false;
        }
        return Resolve(e, static_cast<int>(i), col);
      }
      Error(e->offset, "unknown input '" + e->qualifier + "' in '" + ToString(*e) + "'" +
                           DidYouMean(e->qualifier, qualifiers));
      return false;
    }
    int input = -1, col = -1;
    std::vector<std::string> matches;
    for (size_t i = 0; i < inputs_.size(); ++i) {
      if (!inputs_[i].schema) continue;
      int c = inputs_[i].schema->IndexOf(e->name);
      if (c < 0) continue;
      if (input < 0) input = static_cast<int>(i), col = c;
      Expr q;
      q.kind = NodeKind::kColumn;
      q.qualifier = inputs_[i].qualifier;
      q.name = e->name;
      matches.push_back(ToString(q));
    }
    if (matches.size() > 1) {
      Error(e->offset, "ambiguous field '" + e->name + "': write " + QuotedList(matches));
      return false;
    }
    if (input < 0) {
      std::vector<std::string> names;
      for (const auto& in : inputs_) field_names(in.schema, &names);
      Error(e->offset, "unknown field '" + e->name + "'" + DidYouMean(e->name, names));
      return false;
    }
    return Resolve(e, input, col);
  }

  bool Resolve(Expr* e, int input, int col) {
    e->input = input;
    e->column = col;
    e->type = inputs_[static_cast<size_t>(input)].schema->field(static_cast<size_t>(col)).type;
    return true;
  }

  bool BindUnary(Expr* e) {
    Expr* x = e->children[0].get();
    if (!Bind(x)) return false;
    if (e->op == Op::kNot) {
      if (x->type != TypeId::kBoolean && x->type != TypeId::kNull) {
        Error(x->offset, "operator 'not' needs a boolean operand, got " + Name(x->type));
        return false;
      }
      e->type = TypeId::kBoolean;
      return true;
    }
    if (e->op == Op::kNeg) {
      if (!IsNumericOrNull(x->type)) {
        Error(e->offset, "operator '-' cannot negate " + Name(x->type));
        return false;
      }
      e->type = x->type;
      return true;
    }
    Error(e->offset, "malformed expression (bad unary operator)");
    return false;
  }

  bool BindBinary(Expr* e) {
    Expr* l = e->children[0].get();
    Expr* r = e->children[1].get();
    switch (e->op) {
      case Op::kAnd:
      case Op::kOr: {
        // Check each operand on its own so both mistakes are reported.
        const char* name = e->op == Op::kAnd ? "and" : "or";
        bool ok = true;
        for (Expr* x : {l, r}) {
          if (!Bind(x)) {
            ok = false;
          } else if (x->type != TypeId::kBoolean && x->type != TypeId::kNull) {
            Error(x->offset, std::string("operator '") + name + "' needs boolean operands, got " +
                                 Name(x->type));
            ok = false;
          }
        }
        if (ok) e->type = TypeId::kBoolean;
        return ok;
      }
      case Op::kEq:
      case Op::kNe:
      case Op::kLt:
      case Op::kLe:
      case Op::kGt:
      case Op::kGe: {
        if (!BindChildren(e)) return false;
        if (!Comparable(l->type, r->type)) {
          std::string hint;
          if ((l->type == TypeId::kTimestamp && r->type == TypeId::kString) ||
              (l->type == TypeId::kString && r->type == TypeId::kTimestamp)) {
            hint = " (write cast('...' as timestamp))";
          }
          Error(e->offset, "operator '" + OpName(e->op) + "' cannot compare " + Name(l->type) +
                               " and " + Name(r->type) + hint);
          return false;
        }
        e->type = TypeId::kBoolean;
        return true;
      }
      case Op::kAdd:
      case Op::kSub:
      case Op::kMul:
      case Op::kDiv:
      case Op::kMod:
        if (!BindChildren(e)) return false;
        return BindArithmetic(e, l->type, r->type);
      case Op::kNot:
      case Op::kNeg:
        break;
    }
    Error(e->offset, "malformed expression (bad binary operator)");
    return false;
  }

  static std::string OpName(Op op) {
    switch (op) {
      case Op::kAdd:
        return "+";
      case Op::kSub:
        return "-";
      case Op::kMul:
        return "*";
      case Op::kDiv:
        return "/";
      case Op::kMod:
        return "%";
      case Op::kEq:
        return "=";
      case Op::kNe:
        return "!=";
      case Op::kLt:
        return "<";
      case Op::kLe:
        return "<=";
      case Op::kGt:
        return ">";
      case Op::kGe:
        return ">=";
      case Op::kAnd:
        return "and";
      case Op::kOr:
        return "or";
      case Op::kNot:
        return "not";
      case Op::kNeg:
        return "-";
    }
    return "?";
  }

  bool BindArithmetic(Expr* e, TypeId l, TypeId r) {
    constexpr TypeId kNull = TypeId::kNull, kBigint = TypeId::kBigint, kTs = TypeId::kTimestamp;
    std::optional<TypeId> result;
    if (IsNumericOrNull(l) && IsNumericOrNull(r)) {
      if (l == kNull)
        result = r;
      else if (r == kNull)
        result = l;
      else
        result = (l == kBigint && r == kBigint) ? kBigint : TypeId::kDouble;
    } else if (e->op == Op::kAdd) {
      // timestamp + bigint milliseconds, either way round.
      if ((l == kTs && (r == kBigint || r == kNull)) ||
          ((l == kBigint || l == kNull) && r == kTs)) {
        result = kTs;
      }
    } else if (e->op == Op::kSub) {
      if (l == kTs && (r == kBigint || r == kNull))
        result = kTs;
      else if ((l == kTs || l == kNull) && r == kTs)
        result = kBigint;
    }
    if (result) {
      e->type = *result;
      return true;
    }
    std::string l_name = Name(l), r_name = Name(r), what;
    switch (e->op) {
      case Op::kAdd:
        what = "add " + l_name + " and " + r_name;
        break;
      case Op::kSub:
        what = "subtract " + r_name + " from " + l_name;
        break;
      case Op::kMul:
        what = "multiply " + l_name + " and " + r_name;
        break;
      case Op::kDiv:
        what = "divide " + l_name + " by " + r_name;
        break;
      default:
        what = "take " + l_name + " modulo " + r_name;
        break;
    }
    std::string hint;
    if (e->op == Op::kAdd && IsStringOrNull(l) && IsStringOrNull(r)) {
      hint = " (use concat() to join strings)";
    } else if ((l == kTs || r == kTs) && (e->op == Op::kAdd || e->op == Op::kSub)) {
      hint = " (a timestamp takes a bigint number of milliseconds)";
    }
    Error(e->offset, "operator '" + OpName(e->op) + "' cannot " + what + hint);
    return false;
  }

  // Checks the argument count; reports "function 'f' expects ...".
  bool Arity(const Expr* e, size_t min, size_t max) {
    size_t n = e->children.size();
    if (n >= min && n <= max) return true;
    std::string expected;
    if (min == max)
      expected = Plural(min, "argument");
    else if (max == SIZE_MAX)
      expected = "at least " + Plural(min, "argument");
    else if (max == min + 1)
      expected = std::to_string(min) + " or " + Plural(max, "argument");
    else
      expected = std::to_string(min) + " to " + Plural(max, "argument");
    Error(e->offset,
          "function '" + e->function + "' expects " + expected + ", got " + std::to_string(n));
    return false;
  }

  // Checks argument i's type with `ok`; reports "function 'f' expects <what>, got <type>".
  template <typename Pred>
  bool ArgType(const Expr* e, size_t i, Pred ok, std::string_view what,
               std::string_view hint = {}) {
    const Expr* a = e->children[i].get();
    if (ok(a->type)) return true;
    Error(a->offset, "function '" + e->function + "' expects " + std::string(what) + ", got " +
                         Name(a->type) + std::string(hint));
    return false;
  }

  bool BindFunction(Expr* e) {
    const bool args_ok = BindChildren(e);
    const std::string& f = e->function;
    if (IsAggregateFunction(f)) {
      if (!enclosing_aggregate_.empty()) {
        Error(e->offset, "aggregate function '" + f +
                             "' cannot be used inside another aggregate ('" +
                             std::string(enclosing_aggregate_) + "')");
      } else {
        Error(e->offset,
              "aggregate function '" + f + "' is only allowed in an operator's aggregate list");
      }
      return false;
    }
    bool known = false;
    for (std::string_view s : kScalarFunctions) known = known || s == f;
    const fn::Function* library = fn::Find(f);
    if (!known && !library) {
      std::vector<std::string> names(kScalarFunctions.begin(), kScalarFunctions.end());
      names.insert(names.end(), kAggregateFunctions.begin(), kAggregateFunctions.end());
      for (std::string_view n : fn::Names()) names.emplace_back(n);
      Error(e->offset, "unknown function '" + f + "'" + DidYouMean(f, names));
      return false;
    }
    if (library) {
      if (!args_ok || !Arity(e, library->min_args, library->max_args)) return false;
      fn::BindCall call(e, options_, errors_);
      return library->bind(call);
    }
    if (f == "now") {
      if (!options_.allow_now) {
        Error(e->offset,
              "now() is only allowed in processing-time jobs (no source declares event_time)");
        return false;
      }
      if (!Arity(e, 0, 0)) return false;
      e->type = TypeId::kTimestamp;
      return true;
    }
    if (!args_ok) return false;
    const auto& args = e->children;
    if (f == "coalesce") {
      if (!Arity(e, 1, SIZE_MAX)) return false;
      TypeId t = TypeId::kNull;
      for (const auto& a : args) {
        auto c = CommonType(t, a->type);
        if (!c) {
          Error(a->offset, "function 'coalesce' needs arguments of one type, got " + Name(t) +
                               " and " + Name(a->type));
          return false;
        }
        t = *c;
      }
      e->type = t;
      return true;
    }
    Error(e->offset, "unknown function '" + f + "'");
    return false;
  }

  bool BindCast(Expr* e) {
    Expr* x = e->children[0].get();
    if (!Bind(x)) return false;
    if (e->cast_type == TypeId::kNull) {
      Error(e->offset, "cannot cast to null");
      return false;
    }
    if (!Castable(x->type, e->cast_type)) {
      Error(e->offset, "cannot cast " + Name(x->type) + " to " + Name(e->cast_type));
      return false;
    }
    e->type = e->cast_type;
    return true;
  }

  bool BindCase(Expr* e) {
    const size_t n = e->children.size();
    const size_t pairs = (n - (e->has_else ? 1 : 0)) / 2;
    if (pairs == 0 || pairs * 2 + (e->has_else ? 1 : 0) != n) {
      Error(e->offset, "malformed expression (case needs when/then pairs)");
      return false;
    }
    if (!BindChildren(e)) return false;
    bool ok = true;
    TypeId t = TypeId::kNull;
    for (size_t i = 0; i < n; ++i) {
      const Expr* c = e->children[i].get();
      const bool is_condition = i < pairs * 2 && i % 2 == 0;
      if (is_condition) {
        if (c->type != TypeId::kBoolean && c->type != TypeId::kNull) {
          Error(c->offset, "case condition must be boolean, got " + Name(c->type));
          ok = false;
        }
        continue;
      }
      auto merged = CommonType(t, c->type);
      if (!merged) {
        Error(c->offset,
              "case branches have incompatible types " + Name(t) + " and " + Name(c->type));
        ok = false;
        continue;
      }
      t = *merged;
    }
    if (ok) e->type = t;
    return ok;
  }

  bool BindIn(Expr* e) {
    if (!BindChildren(e)) return false;
    const TypeId l = e->children[0]->type;
    bool ok = true;
    for (size_t i = 1; i < e->children.size(); ++i) {
      const Expr* c = e->children[i].get();
      if (!Comparable(l, c->type)) {
        Error(c->offset,
              "'in' list value of type " + Name(c->type) + " cannot be compared with " + Name(l));
        ok = false;
      }
    }
    if (ok) e->type = TypeId::kBoolean;
    return ok;
  }

  const std::vector<Input>& inputs_;
  const BindOptions& options_;
  std::vector<ExprError>* errors_;
  std::string_view enclosing_aggregate_;
};

bool ContainsAggregate(const Expr& e) {
  if (e.kind == NodeKind::kFunction && IsAggregateFunction(e.function)) return true;
  for (const auto& c : e.children)
    if (c && ContainsAggregate(*c)) return true;
  return false;
}

}  // namespace

bool IsAggregateFunction(std::string_view name) {
  for (std::string_view a : kAggregateFunctions)
    if (a == name) return true;
  return false;
}

bool Bind(Expr* e, const std::vector<Input>& inputs, const BindOptions& options,
          std::vector<ExprError>* errors) {
  const size_t before = errors->size();
  Binder(inputs, options, errors).Bind(e);
  return errors->size() == before;
}

bool ParseAggregate(std::string_view text, const std::vector<Input>& inputs,
                    const BindOptions& options, Aggregate* out, std::vector<ExprError>* errors) {
  ExprError perr;
  std::unique_ptr<Expr> e = Parse(text, &perr);
  if (!e) {
    errors->push_back(std::move(perr));
    return false;
  }
  if (e->kind != NodeKind::kFunction || !IsAggregateFunction(e->function)) {
    bool scalar = false;
    for (std::string_view s : kScalarFunctions) scalar = scalar || s == e->function;
    scalar = scalar || fn::Find(e->function) != nullptr;
    if (e->kind == NodeKind::kFunction && !scalar && !ContainsAggregate(*e)) {
      std::vector<std::string> names(kAggregateFunctions.begin(), kAggregateFunctions.end());
      errors->push_back({e->offset, "unknown aggregate function '" + e->function + "'" +
                                        DidYouMean(e->function, names)});
    } else if (ContainsAggregate(*e)) {
      errors->push_back({e->offset, "an aggregate must be a single call such as sum(x); '" +
                                        ToString(*e) +
                                        "' computes on aggregates, which is not supported"});
    } else {
      errors->push_back({e->offset, "'" + ToString(*e) +
                                        "' is not an aggregate; expected count(), count(x), "
                                        "sum(x), min(x), max(x), avg(x), first(x), last(x) or "
                                        "count_distinct(x)"});
    }
    return false;
  }
  const std::string f = e->function;
  const size_t n = e->children.size();
  Aggregate agg;
  if (f == "count") {
    agg.kind = n == 0 ? AggKind::kCountAll : AggKind::kCount;
  } else if (f == "sum") {
    agg.kind = AggKind::kSum;
  } else if (f == "min") {
    agg.kind = AggKind::kMin;
  } else if (f == "max") {
    agg.kind = AggKind::kMax;
  } else if (f == "avg") {
    agg.kind = AggKind::kAvg;
  } else if (f == "first") {
    agg.kind = AggKind::kFirst;
  } else if (f == "last") {
    agg.kind = AggKind::kLast;
  } else {
    agg.kind = AggKind::kCountDistinct;
  }
  const bool count = f == "count";
  if (count ? n > 1 : n != 1) {
    errors->push_back({e->offset, "function '" + f + "' expects " +
                                      std::string(count ? "0 or 1 arguments" : "1 argument") +
                                      ", got " + std::to_string(n)});
    return false;
  }
  if (agg.kind == AggKind::kCountAll) {
    agg.result_type = TypeId::kBigint;
    *out = std::move(agg);
    return true;
  }
  std::unique_ptr<Expr> arg = std::move(e->children[0]);
  const size_t before = errors->size();
  Binder(inputs, options, errors, f).Bind(arg.get());
  if (errors->size() != before) return false;
  const TypeId t = arg->type;
  switch (agg.kind) {
    case AggKind::kSum:
    case AggKind::kAvg:
      if (!IsNumeric(t)) {
        errors->push_back(
            {arg->offset, "function '" + f + "' expects a numeric argument, got " + Name(t)});
        return false;
      }
      agg.result_type = agg.kind == AggKind::kAvg ? TypeId::kDouble : t;
      break;
    case AggKind::kMin:
    case AggKind::kMax:
      if (!IsOrderable(t)) {
        errors->push_back(
            {arg->offset, "function '" + f + "' expects a comparable argument, got " + Name(t)});
        return false;
      }
      agg.result_type = t;
      break;
    case AggKind::kFirst:
    case AggKind::kLast:
      agg.result_type = t;
      break;
    default:
      agg.result_type = TypeId::kBigint;
      break;
  }
  agg.arg = std::move(arg);
  *out = std::move(agg);
  return true;
}

}  // namespace weir::expr
