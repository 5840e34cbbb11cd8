// Math functions: abs, floor, round and, with PostgreSQL's semantics, ceil
// and sign keep the type of their argument (bigint abs wraps: abs of the
// smallest bigint is itself); sqrt, power, ln, exp and log10 return double, and null where
// PostgreSQL raises an error (a domain error such as sqrt(-1) or ln(0), or a
// result beyond double's range); greatest, least and nullif.
#include <cmath>
#include <optional>

#include "common/expr/functions.h"

namespace weir::expr::fn {
namespace {

double AsDouble(const Column& c, size_t i) {
  return c.type() == TypeId::kDouble ? c.GetDouble(i) : static_cast<double>(c.GetInt(i));
}

bool BindKeepType(BindCall& c) {
  if (!c.Expect(0, IsNumber, "a numeric argument")) return false;
  c.SetType(c.type(0));
  return true;
}

bool BindDouble(BindCall& c) {
  bool ok = true;
  for (size_t i = 0; i < c.size(); ++i) ok = c.Expect(i, IsNumber, "numeric arguments") && ok;
  if (ok) c.SetType(TypeId::kDouble);
  return ok;
}

// sign(x): -1, 0 or 1 in x's type (NaN stays NaN).
std::unique_ptr<Kernel> MakeSign(const Expr& call) {
  if (call.type == TypeId::kDouble) {
    return MakeDoubleRows(call, [](const Column* const* a, size_t i, double* v) {
      const double x = a[0]->GetDouble(i);
      *v = x > 0 ? 1.0 : x < 0 ? -1.0 : x;  // keeps 0, -0 and NaN
      return true;
    });
  }
  return MakeIntRows(call, [](const Column* const* a, size_t i, int64_t* v) {
    const int64_t x = a[0]->GetInt(i);
    *v = (x > 0) - (x < 0);
    return true;
  });
}

// The value of a bigint floor, ceil or round(x) is x: no kernel.
bool IsIntIdentity(const Expr& call) {
  return call.type == TypeId::kBigint && call.children.size() == 1;
}

std::unique_ptr<Kernel> MakeAbs(const Expr& call) {
  if (call.type == TypeId::kDouble) {
    return MakeDoubleRows(call, [](const Column* const* a, size_t i, double* v) {
      *v = std::fabs(a[0]->GetDouble(i));
      return true;
    });
  }
  return MakeIntRows(call, [](const Column* const* a, size_t i, int64_t* v) {
    const int64_t x = a[0]->GetInt(i);
    *v = x < 0 ? WrapNeg(x) : x;
    return true;
  });
}

// floor and ceil of a double (of a bigint: IsIntIdentity).
template <double (*F)(double)>
std::unique_ptr<Kernel> MakeRounding(const Expr& call) {
  return MakeDoubleRows(call, [](const Column* const* a, size_t i, double* v) {
    *v = F(a[0]->GetDouble(i));
    return true;
  });
}

// round(x, digits) for bigint: digits >= 0 keeps x; digits < 0 rounds half
// away from zero to a multiple of 10^-digits (wrapping if that overflows).
int64_t RoundInt(int64_t x, int64_t digits) {
  if (digits >= 0) return x;
  if (digits <= -19) return 0;  // 10^19 > |x| * 2 for every int64
  int64_t p = 1;
  for (int64_t i = 0; i < -digits; ++i) p *= 10;
  int64_t q = x / p, r = x % p;
  if (r >= 0 ? r * 2 >= p : -r * 2 >= p) q += r >= 0 ? 1 : -1;
  return WrapMul(q, p);
}

// round(x, digits) for double, half away from zero. Values that already have
// no digits beyond `digits` come back unchanged.
double RoundDouble(double x, int64_t digits) {
  if (!std::isfinite(x)) return x;
  if (digits == 0) return std::round(x);
  if (digits > 0) {
    if (digits > 400) return x;
    const double p = std::pow(10.0, static_cast<double>(digits));
    const double y = x * p;
    if (!std::isfinite(y) || std::fabs(y) >= 4503599627370496.0) return x;  // >= 2^52: integral
    return std::round(y) / p;
  }
  if (digits < -400) return std::copysign(0.0, x);
  const double p = std::pow(10.0, static_cast<double>(-digits));
  if (!std::isfinite(p)) return std::copysign(0.0, x);
  return std::round(x / p) * p;
}

bool BindRound(BindCall& c) {
  bool ok = c.Expect(0, IsNumber, "a numeric argument");
  if (c.size() == 2) ok = c.Expect(1, IsBigint, "a bigint number of digits") && ok;
  if (ok) c.SetType(c.type(0));
  return ok;
}

// round(x[, digits]), half away from zero (bigint round(x): IsIntIdentity).
std::unique_ptr<Kernel> MakeRound(const Expr& call) {
  const bool digits = call.children.size() == 2;
  if (call.type == TypeId::kDouble) {
    return MakeDoubleRows(call, [digits](const Column* const* a, size_t i, double* v) {
      const double x = a[0]->GetDouble(i);
      *v = digits ? RoundDouble(x, a[1]->GetInt(i)) : std::round(x);
      return true;
    });
  }
  return MakeIntRows(call, [](const Column* const* a, size_t i, int64_t* v) {
    *v = RoundInt(a[0]->GetInt(i), a[1]->GetInt(i));
    return true;
  });
}

double Floor(double x) {
  return std::floor(x);
}
double Ceil(double x) {
  return std::ceil(x);
}

// A double function of one or two arguments. The result is null for a
// domain error (NaN from operands that are not NaN) and for an overflow
// (infinite from finite operands).
template <double (*F)(double, double)>
std::unique_ptr<Kernel> MakeDoubleFn(const Expr& call) {
  return MakeDoubleRows(
      call, [arity = call.children.size()](const Column* const* a, size_t i, double* v) {
        const double x = AsDouble(*a[0], i);
        const double y = arity > 1 ? AsDouble(*a[1], i) : 0;
        *v = F(x, y);
        if (std::isnan(*v) && !std::isnan(x) && !std::isnan(y)) return false;
        if (std::isinf(*v) && std::isfinite(x) && std::isfinite(y)) return false;
        return true;
      });
}

double Sqrt(double x, double) {
  return x < 0 ? NAN : std::sqrt(x);
}
double Ln(double x, double) {
  return x <= 0 ? NAN : std::log(x);  // log(0) would be -inf: a domain error
}
double Log10(double x, double) {
  return x <= 0 ? NAN : std::log10(x);
}
double Exp(double x, double) {
  return std::exp(x);
}
double Power(double x, double y) {
  if (x == 0 && y < 0) return NAN;  // zero to a negative power
  return std::pow(x, y);            // negative to a non-integer power: NaN
}

// greatest/least: arguments of one common type; nulls are ignored, the
// result is null only when every argument is.
bool BindExtreme(BindCall& c) {
  TypeId t = TypeId::kNull;
  for (size_t i = 0; i < c.size(); ++i) {
    const TypeId a = c.type(i);
    if (a == TypeId::kNull || a == t) continue;
    if (t == TypeId::kNull) {
      t = a;
    } else if (IsNumeric(a) && IsNumeric(t)) {
      t = TypeId::kDouble;
    } else {
      c.Error(i, "needs arguments of one type, got " + std::string(TypeName(t)) + " and " +
                     std::string(TypeName(a)));
      return false;
    }
  }
  c.SetType(t);
  return true;
}

template <bool kGreatest>
class ExtremeKernel final : public Kernel {
 public:
  explicit ExtremeKernel(size_t arity) : arity_(arity) {}
  void Run(const Column* const* a, size_t n, Column* out) override {
    const TypeId t = out->type();
    if (t == TypeId::kDouble) return Pick<double>(a, n, out, AsDouble);
    if (!IsStringStored(t)) {
      return Pick<int64_t>(a, n, out, [](const Column& c, size_t i) { return c.GetInt(i); });
    }
    out->Clear();
    out->Reserve(n);
    for (size_t i = 0; i < n; ++i) {
      auto best =
          Best<std::string_view>(a, i, [](const Column& c, size_t r) { return c.GetString(r); });
      if (best)
        out->AppendString(*best);
      else
        out->AppendNull();
    }
  }

 private:
  // The best non-null value of row i, if any.
  template <typename T, typename Get>
  std::optional<T> Best(const Column* const* a, size_t i, Get get) const {
    std::optional<T> best;
    for (size_t k = 0; k < arity_; ++k) {
      if (a[k]->IsNull(i)) continue;
      const T v = get(*a[k], i);
      if (!best || Better(v, *best)) best = v;
    }
    return best;
  }
  template <typename T, typename Get>
  void Pick(const Column* const* a, size_t n, Column* out, Get get) const {
    uint8_t* on;
    T* o;
    if constexpr (std::is_same_v<T, double>)
      PrepDoubles(out, n, &on, &o);
    else
      PrepInts(out, n, &on, &o);
    for (size_t i = 0; i < n; ++i) {
      const std::optional<T> best = Best<T>(a, i, get);
      on[i] = !best;
      o[i] = best.value_or(T{});
    }
  }
  // NaN is greater than every number, as in PostgreSQL.
  static bool Better(double v, double best) {
    if (std::isnan(v) || std::isnan(best)) return kGreatest ? std::isnan(v) : std::isnan(best);
    return kGreatest ? v > best : v < best;
  }
  template <typename T>
  static bool Better(const T& v, const T& best) {
    return kGreatest ? best < v : v < best;
  }
  size_t arity_;
};

template <bool kGreatest>
std::unique_ptr<Kernel> MakeExtreme(const Expr& call) {
  return std::make_unique<ExtremeKernel<kGreatest>>(call.children.size());
}

// nullif(a, b): null when a equals b, else a (so nullif(a, null) is a). The
// type is a's; b must compare with it.
bool BindNullif(BindCall& c) {
  const TypeId a = c.type(0), b = c.type(1);
  const bool comparable =
      a == TypeId::kNull || b == TypeId::kNull || a == b || (IsNumeric(a) && IsNumeric(b));
  if (!comparable) {
    c.Error(1, "cannot compare " + std::string(TypeName(a)) + " with " + std::string(TypeName(b)));
    return false;
  }
  c.SetType(a);
  return true;
}

class NullifKernel final : public Kernel {
 public:
  void Run(const Column* const* a, size_t n, Column* out) override {
    const Column& x = *a[0];
    const Column& y = *a[1];
    auto equal = [&](size_t i) {
      if (x.IsNull(i) || y.IsNull(i)) return false;
      if (IsStringStored(x.type())) return x.GetString(i) == y.GetString(i);
      if (x.type() == TypeId::kDouble || y.type() == TypeId::kDouble)
        return AsDouble(x, i) == AsDouble(y, i);
      return x.GetInt(i) == y.GetInt(i);
    };
    if (IsStringStored(x.type())) {
      out->Clear();
      out->Reserve(n);
      for (size_t i = 0; i < n; ++i) {
        if (x.IsNull(i) || equal(i))
          out->AppendNull();
        else
          out->AppendString(x.GetString(i));
      }
      return;
    }
    if (x.type() == TypeId::kDouble) {
      uint8_t* on;
      double* o;
      PrepDoubles(out, n, &on, &o);
      for (size_t i = 0; i < n; ++i) {
        on[i] = x.IsNull(i) || equal(i);
        o[i] = on[i] ? 0 : x.GetDouble(i);
      }
      return;
    }
    uint8_t* on;
    int64_t* o;
    PrepInts(out, n, &on, &o);
    for (size_t i = 0; i < n; ++i) {
      on[i] = x.IsNull(i) || equal(i);
      o[i] = on[i] ? 0 : x.GetInt(i);
    }
  }
};

}  // namespace

const std::vector<Function>& MathFunctions() {
  static const std::vector<Function> functions = {
      {"abs", 1, 1, true, BindKeepType, MakeAbs},
      {"floor", 1, 1, true, BindKeepType, MakeRounding<Floor>, IsIntIdentity},
      {"ceil", 1, 1, true, BindKeepType, MakeRounding<Ceil>, IsIntIdentity},
      {"round", 1, 2, true, BindRound, MakeRound, IsIntIdentity},
      {"sign", 1, 1, true, BindKeepType, MakeSign},
      {"sqrt", 1, 1, true, BindDouble, MakeDoubleFn<Sqrt>},
      {"power", 2, 2, true, BindDouble, MakeDoubleFn<Power>},
      {"ln", 1, 1, true, BindDouble, MakeDoubleFn<Ln>},
      {"exp", 1, 1, true, BindDouble, MakeDoubleFn<Exp>},
      {"log10", 1, 1, true, BindDouble, MakeDoubleFn<Log10>},
      {"greatest", 1, kVariadic, false, BindExtreme, MakeExtreme<true>},
      {"least", 1, kVariadic, false, BindExtreme, MakeExtreme<false>},
      {"nullif", 2, 2, false, BindNullif,
       [](const Expr&) -> std::unique_ptr<Kernel> { return std::make_unique<NullifKernel>(); }},
  };
  return functions;
}

}  // namespace weir::expr::fn
