// The vectorised evaluator. The constructor flattens a bound expression into
// a list of steps in post-order (children before parents); Evaluate() runs
// the steps over a whole batch, each a loop over the rows with the type and
// operator switch outside the loop. Every step owns a scratch Column that is
// Clear()ed, not reallocated, between batches. A step whose value is an input
// column, or equal to its child's (an identity cast, floor of a bigint),
// points at that column instead of copying it.
//
// Null rows of a result hold 0 (or an empty string) so consumers that hash or
// compare raw values see deterministic data. Every kernel is defined for all
// input values, including the garbage a producer may leave under a null flag:
// integer arithmetic wraps through uint64_t, divisions check for zero and -1.
#include <charconv>
#include <cmath>
#include <limits>

#include "common/expr/expr.h"
#include "common/expr/functions.h"
#include "common/status.h"
#include "common/time.h"

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
  kLower,
  kUpper,
  kConcat,
  kSubstr,
  kLength,
  kAbsInt,
  kAbsDouble,
  kRoundInt,
  kRoundDouble,
  kFloorDouble,
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
  TypeId from = TypeId::kNull;  // kCast: the operand's type
  Column out;
  const Column* result = nullptr;
  size_t literal_rows = SIZE_MAX;       // kLiteral: rows currently broadcast in `out`
  std::vector<int32_t> pick;            // kCase / kCoalesce: which source each row takes
  std::vector<uint8_t> flags;           // kIn: a null was seen in the list
  std::vector<const Column*> sources;   // kCase / kCoalesce
  std::string buf;                      // string kernels: one row's value
  std::unique_ptr<fn::Kernel> library;  // kLibrary (its arguments in `sources`)
};

// ---- Output helpers ---------------------------------------------------------

using fn::PrepDoubles;
using fn::PrepInts;

void FillNull(Column* c, size_t n) {
  switch (StorageOf(c->type())) {
    case Storage::kInt: {
      uint8_t* on;
      int64_t* o;
      PrepInts(c, n, &on, &o);
      for (size_t i = 0; i < n; ++i) on[i] = 1;
      return;
    }
    case Storage::kDouble: {
      uint8_t* on;
      double* o;
      PrepDoubles(c, n, &on, &o);
      for (size_t i = 0; i < n; ++i) on[i] = 1;
      return;
    }
    case Storage::kString:
      c->Clear();
      c->Reserve(n);
      for (size_t i = 0; i < n; ++i) c->AppendNull();
      return;
  }
}

// ---- Scalar helpers (all total functions) -------------------------------------

int64_t WrapAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
int64_t WrapSub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t WrapMul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}
int64_t WrapNeg(int64_t a) {
  return static_cast<int64_t>(uint64_t{0} - static_cast<uint64_t>(a));
}
// b != 0. INT64_MIN / -1 wraps to INT64_MIN.
int64_t SafeDiv(int64_t a, int64_t b) {
  return b == -1 ? WrapNeg(a) : a / b;
}
// b != 0. x % -1 is 0 (INT64_MIN % -1 would trap).
int64_t SafeMod(int64_t a, int64_t b) {
  return b == -1 ? 0 : a % b;
}

// Truncates toward zero; false for NaN and values outside int64.
bool DoubleToInt(double d, int64_t* out) {
  // -2^63 is exact in double; 2^63 is the first value above INT64_MAX.
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return false;
  *out = static_cast<int64_t>(d);
  return true;
}

std::string_view Trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// Drops one leading '+' (from_chars accepts only '-'); false for "+-1", "++1", "+".
bool StripPlus(std::string_view* s) {
  if (s->empty() || (*s)[0] != '+') return !s->empty();
  s->remove_prefix(1);
  return !s->empty() && (*s)[0] != '-' && (*s)[0] != '+';
}

bool ParseInt(std::string_view s, int64_t* out) {
  s = Trim(s);
  if (!StripPlus(&s)) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool ParseDouble(std::string_view s, double* out) {
  s = Trim(s);
  if (!StripPlus(&s)) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool ParseBool(std::string_view s, bool* out) {
  s = Trim(s);
  if (s.size() > 5) return false;
  char lower[6] = {};
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    lower[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  std::string_view l(lower, s.size());
  if (l == "true" || l == "t" || l == "yes" || l == "y" || l == "1" || l == "on") {
    *out = true;
    return true;
  }
  if (l == "false" || l == "f" || l == "no" || l == "n" || l == "0" || l == "off") {
    *out = false;
    return true;
  }
  return false;
}

// Shortest text that reads back as the same double: "1.5", "3.0", "1e+300",
// "NaN", "Infinity", "-Infinity" (all accepted by ParseDouble).
std::string_view FormatDouble(double d, char (&buf)[64]) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf - 2, d);
  if (ec != std::errc()) return "NaN";  // unreachable: 64 bytes fit any double
  size_t len = static_cast<size_t>(p - buf);
  if (std::string_view(buf, len).find_first_of(".e") == std::string_view::npos) {
    buf[len++] = '.';
    buf[len++] = '0';
  }
  return std::string_view(buf, len);
}

std::string_view FormatInt(int64_t v, char (&buf)[64]) {
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string_view(buf, ec == std::errc() ? static_cast<size_t>(p - buf) : 0);
}

// "2024-05-01T12:00:00.123Z" (the format of FormatTimestamp) for years
// 1..9999, written into buf without allocating; outside that range the epoch
// milliseconds, which ParseTimestamp reads back.
std::string_view FormatTimestampInto(int64_t ms, char (&buf)[64]) {
  constexpr int64_t kMin = -62135596800000;  // 0001-01-01T00:00:00Z
  constexpr int64_t kMax = 253402300799999;  // 9999-12-31T23:59:59.999Z
  if (ms < kMin || ms > kMax) return FormatInt(ms, buf);
  // Floor division into days and milliseconds of the day.
  int64_t days = ms / 86400000, rem = ms % 86400000;
  if (rem < 0) rem += 86400000, days -= 1;
  // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const int64_t fields[] = {y, m, d, rem / 3600000, rem / 60000 % 60, rem / 1000 % 60, rem % 1000};
  const int widths[] = {4, 2, 2, 2, 2, 2, 3};
  const char seps[] = {'-', '-', 'T', ':', ':', '.', 'Z'};
  size_t len = 0;
  for (size_t f = 0; f < 7; ++f) {
    int64_t v = fields[f];
    for (int w = widths[f] - 1; w >= 0; --w) {
      buf[len + static_cast<size_t>(w)] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
    len += static_cast<size_t>(widths[f]);
    buf[len++] = seps[f];
  }
  return std::string_view(buf, len);
}

// Number of UTF-8 code points (bytes that are not continuation bytes).
int64_t Utf8Length(std::string_view s) {
  int64_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// Byte offset of code point k (0-based), or s.size() when there are fewer.
size_t Utf8Offset(std::string_view s, int64_t k) {
  int64_t count = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (count == k) return i;
      ++count;
    }
  }
  return s.size();
}

// SQL substring: the characters at 1-based positions [start, start + len)
// that exist; empty when none do (or len < 0). Characters are code points for
// strings and bytes for bytes.
std::string_view Substr(std::string_view s, int64_t start, bool has_len, int64_t len, bool utf8) {
  const int64_t begin = std::max<int64_t>(start, 1);
  int64_t end = std::numeric_limits<int64_t>::max();  // exclusive
  if (has_len) {
    if (len < 0) return {};
    if (__builtin_add_overflow(start, len, &end)) end = std::numeric_limits<int64_t>::max();
  }
  if (end <= begin) return {};
  size_t b0, b1;
  if (utf8) {
    b0 = Utf8Offset(s, begin - 1);
    b1 = b0 + Utf8Offset(s.substr(b0), end - begin);
  } else {
    const auto size = static_cast<int64_t>(s.size());
    b0 = static_cast<size_t>(std::min(begin - 1, size));
    b1 = static_cast<size_t>(std::min(end - 1, size));
  }
  return s.substr(b0, b1 - b0);
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
        int i = Simple(e, Kernel::kCast, {a}, e->type);
        steps[static_cast<size_t>(i)].from = TypeOf(a);
        return i;
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
      const int i = Simple(e, Kernel::kLibrary, std::move(args), e->type);
      steps[static_cast<size_t>(i)].library = library->make(*e);
      return i;
    }
    if (AnyNullTyped(e)) return AllNull(e);
    std::vector<int> args;
    for (const auto& c : ch) args.push_back(Build(c.get()));
    const bool is_double = e->type == TypeId::kDouble;
    Kernel k = Kernel::kAllNull;
    if (f == "lower")
      k = Kernel::kLower;
    else if (f == "upper")
      k = Kernel::kUpper;
    else if (f == "concat")
      k = Kernel::kConcat;
    else if (f == "substr")
      k = Kernel::kSubstr;
    else if (f == "length")
      k = Kernel::kLength;
    else if (f == "abs")
      k = is_double ? Kernel::kAbsDouble : Kernel::kAbsInt;
    else if (f == "floor")
      k = is_double ? Kernel::kFloorDouble : Kernel::kPassThrough;
    else if (f == "round") {
      if (is_double)
        k = Kernel::kRoundDouble;
      else
        k = args.size() == 2 ? Kernel::kRoundInt : Kernel::kPassThrough;
    }
    if (k == Kernel::kAllNull) return AllNull(e);  // unbound or unknown: defined, not a crash
    return Simple(e, k, std::move(args), e->type);
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
  void RunCast(Step& s, size_t n);
  void RunString(Step& s, size_t n);
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
      return RunCast(s, n);
    case Kernel::kLower:
    case Kernel::kUpper:
    case Kernel::kConcat:
    case Kernel::kSubstr:
    case Kernel::kLength:
      return RunString(s, n);
    case Kernel::kNegInt:
    case Kernel::kNegDouble:
    case Kernel::kAbsInt:
    case Kernel::kAbsDouble:
    case Kernel::kRoundInt:
    case Kernel::kRoundDouble:
    case Kernel::kFloorDouble:
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

void Evaluator::Impl::RunCast(Step& s, size_t n) {
  const Column& a = Arg(s, 0);
  const uint8_t* xn = a.nulls();
  const TypeId from = s.from, to = s.type;
  Column& out = s.out;
  char buf[64];

  if (to == TypeId::kString || to == TypeId::kBytes) {
    out.Clear();
    out.Reserve(n);
    for (size_t i = 0; i < n; ++i) {
      if (xn[i]) {
        out.AppendNull();
        continue;
      }
      switch (from) {
        case TypeId::kBigint:
          out.AppendString(FormatInt(a.GetInt(i), buf));
          break;
        case TypeId::kDouble:
          out.AppendString(FormatDouble(a.GetDouble(i), buf));
          break;
        case TypeId::kBoolean:
          out.AppendString(a.GetBool(i) ? "true" : "false");
          break;
        case TypeId::kTimestamp:
          out.AppendString(FormatTimestampInto(a.GetInt(i), buf));
          break;
        case TypeId::kString:
        case TypeId::kBytes:
          out.AppendString(a.GetString(i));
          break;
        case TypeId::kNull:
          out.AppendNull();
          break;
      }
    }
    return;
  }

  if (from == TypeId::kString || from == TypeId::kBytes) {
    if (to == TypeId::kDouble) {
      uint8_t* on;
      double* o;
      PrepDoubles(&out, n, &on, &o);
      for (size_t i = 0; i < n; ++i) {
        double d = 0;
        on[i] = xn[i] || !ParseDouble(a.GetString(i), &d);
        o[i] = on[i] ? 0 : d;
      }
      return;
    }
    uint8_t* on;
    int64_t* o;
    PrepInts(&out, n, &on, &o);
    for (size_t i = 0; i < n; ++i) {
      if (xn[i]) {
        on[i] = 1;
        continue;
      }
      const std::string_view text = a.GetString(i);
      int64_t v = 0;
      bool ok = false;
      switch (to) {
        case TypeId::kBigint:
          ok = ParseInt(text, &v);
          break;
        case TypeId::kBoolean: {
          bool b = false;
          ok = ParseBool(text, &b);
          v = b;
          break;
        }
        case TypeId::kTimestamp: {
          auto t = ParseTimestamp(Trim(text));
          ok = t.has_value();
          v = t.value_or(0);
          break;
        }
        default:
          break;
      }
      on[i] = !ok;
      o[i] = ok ? v : 0;
    }
    return;
  }

  // Between number-like types (boolean, bigint, timestamp, double).
  if (to == TypeId::kDouble) {
    uint8_t* on;
    double* o;
    PrepDoubles(&out, n, &on, &o);
    if (StorageOf(from) == Storage::kInt) {
      const int64_t* x = a.ints();
      for (size_t i = 0; i < n; ++i) {
        on[i] = xn[i];
        o[i] = xn[i] ? 0 : static_cast<double>(from == TypeId::kBoolean ? x[i] != 0 : x[i]);
      }
    } else {
      FillNull(&out, n);
    }
    return;
  }
  uint8_t* on;
  int64_t* o;
  PrepInts(&out, n, &on, &o);
  if (from == TypeId::kDouble) {
    const double* x = a.doubles();
    if (to == TypeId::kBoolean) {
      for (size_t i = 0; i < n; ++i) {
        on[i] = xn[i] || std::isnan(x[i]);
        o[i] = !on[i] && x[i] != 0;
      }
    } else {  // bigint, timestamp: truncate; NaN and out of range -> null
      for (size_t i = 0; i < n; ++i) {
        int64_t v = 0;
        on[i] = xn[i] || !DoubleToInt(x[i], &v);
        o[i] = on[i] ? 0 : v;
      }
    }
    return;
  }
  const int64_t* x = a.ints();
  if (to == TypeId::kBoolean || from == TypeId::kBoolean) {
    for (size_t i = 0; i < n; ++i) {
      on[i] = xn[i];
      o[i] = !xn[i] && x[i] != 0;
    }
  } else {  // bigint <-> timestamp: epoch milliseconds
    for (size_t i = 0; i < n; ++i) {
      on[i] = xn[i];
      o[i] = xn[i] ? 0 : x[i];
    }
  }
}

void Evaluator::Impl::RunString(Step& s, size_t n) {
  Column& out = s.out;
  if (s.kernel == Kernel::kLength) {
    const Column& a = Arg(s, 0);
    const bool utf8 = a.type() == TypeId::kString;
    uint8_t* on;
    int64_t* o;
    PrepInts(&out, n, &on, &o);
    for (size_t i = 0; i < n; ++i) {
      on[i] = a.IsNull(i);
      if (on[i]) continue;
      const std::string_view v = a.GetString(i);
      o[i] = utf8 ? Utf8Length(v) : static_cast<int64_t>(v.size());
    }
    return;
  }
  out.Clear();
  out.Reserve(n);
  switch (s.kernel) {
    case Kernel::kLower:
    case Kernel::kUpper: {
      const Column& a = Arg(s, 0);
      const bool upper = s.kernel == Kernel::kUpper;
      for (size_t i = 0; i < n; ++i) {
        if (a.IsNull(i)) {
          out.AppendNull();
          continue;
        }
        s.buf.assign(a.GetString(i));
        for (char& c : s.buf) {
          if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
          if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        }
        out.AppendString(s.buf);
      }
      return;
    }
    case Kernel::kConcat:
      for (size_t i = 0; i < n; ++i) {
        bool any_null = false;
        s.buf.clear();
        for (size_t k = 0; k < s.args.size() && !any_null; ++k) {
          const Column& a = Arg(s, k);
          if (a.IsNull(i))
            any_null = true;
          else
            s.buf.append(a.GetString(i));
        }
        if (any_null)
          out.AppendNull();
        else
          out.AppendString(s.buf);
      }
      return;
    case Kernel::kSubstr: {
      const Column& a = Arg(s, 0);
      const Column& start = Arg(s, 1);
      const Column* len = s.args.size() > 2 ? &Arg(s, 2) : nullptr;
      const bool utf8 = a.type() == TypeId::kString;
      for (size_t i = 0; i < n; ++i) {
        if (a.IsNull(i) || start.IsNull(i) || (len && len->IsNull(i))) {
          out.AppendNull();
          continue;
        }
        out.AppendString(Substr(a.GetString(i), start.GetInt(i), len != nullptr,
                                len ? len->GetInt(i) : 0, utf8));
      }
      return;
    }
    default:
      FillNull(&out, n);
      return;
  }
}

namespace {

// out[i] = f(x[i]) for the non-null rows of a one-operand numeric kernel.
template <typename T, typename F>
void UnaryLoop(const T* x, const uint8_t* xn, size_t n, uint8_t* on, T* o, F f) {
  for (size_t i = 0; i < n; ++i) {
    on[i] = xn[i];
    o[i] = xn[i] ? T{0} : f(x[i]);
  }
}

// out[i] = f(x[i], digits[i]) for round(x, digits).
template <typename T, typename F>
void RoundLoop(const T* x, const uint8_t* xn, const Column& digits, size_t n, uint8_t* on, T* o,
               F f) {
  const int64_t* y = digits.ints();
  const uint8_t* yn = digits.nulls();
  for (size_t i = 0; i < n; ++i) {
    on[i] = xn[i] | yn[i];
    o[i] = on[i] ? T{0} : f(x[i], y[i]);
  }
}

}  // namespace

void Evaluator::Impl::RunNumeric(Step& s, size_t n) {
  const Column& a = Arg(s, 0);
  const uint8_t* xn = a.nulls();
  if (s.type == TypeId::kDouble) {
    const double* x = a.doubles();
    uint8_t* on;
    double* o;
    PrepDoubles(&s.out, n, &on, &o);
    switch (s.kernel) {
      case Kernel::kNegDouble:
        return UnaryLoop(x, xn, n, on, o, [](double v) { return -v; });
      case Kernel::kAbsDouble:
        return UnaryLoop(x, xn, n, on, o, [](double v) { return std::fabs(v); });
      case Kernel::kFloorDouble:
        return UnaryLoop(x, xn, n, on, o, [](double v) { return std::floor(v); });
      case Kernel::kRoundDouble:
        if (s.args.size() == 2) return RoundLoop(x, xn, Arg(s, 1), n, on, o, RoundDouble);
        return UnaryLoop(x, xn, n, on, o, [](double v) { return std::round(v); });
      default:
        FillNull(&s.out, n);
        return;
    }
  }
  const int64_t* x = a.ints();
  uint8_t* on;
  int64_t* o;
  PrepInts(&s.out, n, &on, &o);
  switch (s.kernel) {
    case Kernel::kNegInt:
      return UnaryLoop(x, xn, n, on, o, WrapNeg);
    case Kernel::kAbsInt:  // abs(INT64_MIN) wraps to INT64_MIN
      return UnaryLoop(x, xn, n, on, o, [](int64_t v) { return v < 0 ? WrapNeg(v) : v; });
    case Kernel::kRoundInt:
      return RoundLoop(x, xn, Arg(s, 1), n, on, o, RoundInt);
    default:
      FillNull(&s.out, n);
      return;
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
