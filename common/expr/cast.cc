// cast(x as T): text to and from numbers, booleans and timestamps, and
// between the number-like types (cast.h). Every conversion is defined for
// every input, including the garbage a producer may leave under a null flag.
#include "common/expr/cast.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "common/expr/functions.h"
#include "common/time.h"

namespace weir::expr {
namespace {

using fn::FillNull;
using fn::PrepDoubles;
using fn::PrepInts;

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

}  // namespace

void CastColumn(const Column& a, TypeId to, size_t n, Column* result) {
  const uint8_t* xn = a.nulls();
  const TypeId from = a.type();
  Column& out = *result;
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
    if (IsIntStored(from) || from == TypeId::kNull) {
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

}  // namespace weir::expr
