// Calendar functions of timestamps, in UTC or an IANA time zone of the
// system's zone database (/usr/share/zoneinfo, read by Abseil's time zones,
// which also apply each zone's rule for the years after its last listed
// transition):
//   date_trunc(unit, ts[, tz])        the local wall time truncated, mapped back
//   date_part(unit, ts[, tz])         a bigint field of the local wall time
//   format_timestamp(ts, fmt[, tz])   strftime-style text
// Mapping a local time back to an instant: one that occurs twice (autumn)
// takes the earlier instant, one that does not exist (spring) the first
// instant after the gap. Timestamps outside the years 0001..9999 give null.
#include <absl/time/civil_time.h>
#include <absl/time/time.h>

#include <sys/stat.h>

#include <array>
#include <cstdlib>
#include <optional>

#include "common/expr/functions.h"
#include "common/text.h"

namespace weir::expr::fn {
namespace {

constexpr int64_t kMinMs = -62135596800000;  // 0001-01-01T00:00:00Z
constexpr int64_t kMaxMs = 253402300799999;  // 9999-12-31T23:59:59.999Z

int64_t FloorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return q - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// ---- Zones -----------------------------------------------------------------

// The directory of the zone database, as Abseil reads it.
std::string ZoneDir() {
  const char* dir = std::getenv("TZDIR");
  return dir && *dir ? dir : "/usr/share/zoneinfo";
}

// A zone by IANA name, or nullopt with the reason. A name must be a file of
// the zone database (letters, digits, '_', '-', '+', '.' and '/' between
// parts, no "..", not "localtime"): a name from the data cannot reach
// another file or the worker's own zone, and since Abseil keeps every name
// it was asked for, only names of existing files get that far.
std::optional<absl::TimeZone> FindZone(std::string_view name, std::string* why = nullptr) {
  bool ok = !name.empty() && name.size() <= 64 && name.front() != '/' && name.back() != '/' &&
            name.find("..") == std::string_view::npos && name != "localtime";
  for (char c : name)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-' || c == '+' || c == '/' || c == '.');
  struct stat st;
  const std::string file = ZoneDir() + "/" + std::string(name);
  ok = ok && ::stat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode);
  absl::TimeZone tz;
  if (ok && absl::LoadTimeZone(std::string(name), &tz)) return tz;
  if (why) *why = "not a zone of the database " + ZoneDir();
  return std::nullopt;
}

// A zone's offsets, UTC by default.
class Zone {
 public:
  explicit Zone(absl::TimeZone tz = absl::UTCTimeZone()) : tz_(tz) {}

  absl::TimeZone::CivilInfo Info(int64_t ms) const { return tz_.At(absl::FromUnixMillis(ms)); }
  // The local wall time of an instant, as milliseconds of a UTC clock.
  int64_t ToLocal(int64_t ms) const { return ms + static_cast<int64_t>(Info(ms).offset) * 1000; }
  int64_t OffsetMs(int64_t ms) const { return static_cast<int64_t>(Info(ms).offset) * 1000; }
  // The instant of a local time: the earlier of two, or the end of a gap.
  int64_t FromLocal(int64_t local_ms) const {
    const int64_t sec = FloorDiv(local_ms, 1000), sub = local_ms - sec * 1000;
    const absl::CivilSecond cs = absl::CivilSecond(1970, 1, 1) + sec;
    const absl::TimeZone::TimeInfo ti = tz_.At(cs);
    switch (ti.kind) {
      case absl::TimeZone::TimeInfo::UNIQUE:
        return absl::ToUnixMillis(ti.pre) + sub;
      case absl::TimeZone::TimeInfo::REPEATED:
        return std::min(absl::ToUnixMillis(ti.pre), absl::ToUnixMillis(ti.post)) + sub;
      default:  // SKIPPED: the transition, the first instant after the gap
        return absl::ToUnixMillis(ti.trans);
    }
  }
  std::string_view Abbrev(int64_t ms) const { return Info(ms).zone_abbr; }

 private:
  absl::TimeZone tz_;
};

// The zone of argument `arg` at row i: UTC when absent, the literal's, or a
// name from the data looked up once per distinct name (bounded). nullptr
// when unknown.
class Zones {
 public:
  Zones(const Expr& call, size_t arg) : arg_(arg) {
    if (arg >= call.children.size()) {
      fixed_ = std::make_unique<Zone>();
      return;
    }
    const Expr& z = *call.children[arg];
    if (z.kind == NodeKind::kLiteral && z.literal.type == TypeId::kString) {
      if (auto tz = FindZone(z.literal.s)) fixed_ = std::make_unique<Zone>(*tz);
      literal_ = true;
    }
  }
  const Zone* Get(const Column* const* a, size_t i) {
    if (fixed_ || literal_) return fixed_.get();
    const std::string_view name = a[arg_]->GetString(i);
    if (auto* z = cache_.Get(name)) return z->has_value() ? &**z : nullptr;
    auto tz = FindZone(name);
    auto* z = cache_.Put(name, std::make_unique<std::optional<Zone>>(
                                   tz ? std::optional<Zone>(Zone(*tz)) : std::nullopt));
    return z->has_value() ? &**z : nullptr;
  }

 private:
  size_t arg_;
  bool literal_ = false;
  std::unique_ptr<Zone> fixed_;
  BoundedCache<std::optional<Zone>> cache_;
};

bool CheckZone(BindCall& c, size_t i) {
  if (!c.Expect(i, IsString, "a string time zone")) return false;
  const Literal* z = c.literal(i);
  std::string why;
  if (z && !FindZone(z->s, &why)) {
    c.Error(i, "unknown time zone '" + z->s + "' (" + why +
                   "); zones are IANA names such as 'Europe/Berlin' or 'UTC'");
    return false;
  }
  return true;
}

// ---- Civil time ----------------------------------------------------------------

struct Civil {
  int64_t year, month, day, hour, minute, second, milli;
  int64_t dow;  // 0 = Sunday
  int64_t doy;  // 1..366
};

// The fields of a local time given as milliseconds of a UTC clock.
Civil ToCivil(int64_t local_ms) {
  const int64_t sec = FloorDiv(local_ms, 1000);
  const absl::CivilSecond cs = absl::CivilSecond(1970, 1, 1) + sec;
  Civil c{};
  c.year = cs.year();
  c.month = cs.month();
  c.day = cs.day();
  c.hour = cs.hour();
  c.minute = cs.minute();
  c.second = cs.second();
  c.milli = local_ms - sec * 1000;
  // absl's weekdays start on Monday (0); ours on Sunday.
  c.dow = (static_cast<int>(absl::GetWeekday(cs)) + 1) % 7;
  c.doy = absl::GetYearDay(cs);
  return c;
}

// Milliseconds of a UTC clock at a local midnight.
int64_t LocalMs(absl::CivilDay d) {
  return (d - absl::CivilDay(1970, 1, 1)) * int64_t{86400000};
}

// ---- Units --------------------------------------------------------------------

enum class Unit { kSecond, kMinute, kHour, kDay, kWeek, kMonth, kYear, kDow, kDoy, kEpoch };

constexpr std::array<std::pair<std::string_view, Unit>, 10> kUnits = {{{"second", Unit::kSecond},
                                                                       {"minute", Unit::kMinute},
                                                                       {"hour", Unit::kHour},
                                                                       {"day", Unit::kDay},
                                                                       {"week", Unit::kWeek},
                                                                       {"month", Unit::kMonth},
                                                                       {"year", Unit::kYear},
                                                                       {"dow", Unit::kDow},
                                                                       {"doy", Unit::kDoy},
                                                                       {"epoch", Unit::kEpoch}}};

bool IsTruncUnit(Unit u) {
  return u <= Unit::kYear;
}
bool IsPartUnit(Unit u) {
  return u != Unit::kWeek;
}

// The unit named (case-insensitively), if it is one of the function's.
std::optional<Unit> ParseUnit(std::string_view name, bool trunc) {
  std::string lower(name);
  for (char& ch : lower) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  for (const auto& [n, u] : kUnits)
    if (n == lower && (trunc ? IsTruncUnit(u) : IsPartUnit(u))) return u;
  return std::nullopt;
}

bool CheckUnit(BindCall& c, size_t i, bool trunc) {
  if (!c.Expect(i, IsString, "a string unit")) return false;
  const Literal* u = c.literal(i);
  if (u && !ParseUnit(u->s, trunc)) {
    std::vector<std::string> names;
    for (const auto& [n, unit] : kUnits)
      if (trunc ? IsTruncUnit(unit) : IsPartUnit(unit)) names.emplace_back(n);
    c.Error(i, "unknown unit '" + u->s + "'" + DidYouMean(u->s, names) +
                   " (units: " + QuotedList(names, " and ") + ")");
    return false;
  }
  return true;
}

// The unit of argument 0 at row i: the literal's, parsed once, or the row's.
class Units {
 public:
  Units(const Expr& call, bool trunc) : trunc_(trunc) {
    const Expr& u = *call.children[0];
    if (u.kind == NodeKind::kLiteral && u.literal.type == TypeId::kString) {
      literal_ = true;
      fixed_ = ParseUnit(u.literal.s, trunc);
    }
  }
  std::optional<Unit> Get(const Column& units, size_t i) const {
    return literal_ ? fixed_ : ParseUnit(units.GetString(i), trunc_);
  }

 private:
  bool trunc_;
  bool literal_ = false;
  std::optional<Unit> fixed_;
};

// ---- date_trunc -------------------------------------------------------------

int64_t TruncLocal(int64_t local, Unit u) {
  switch (u) {
    case Unit::kSecond:
      return FloorDiv(local, 1000) * 1000;
    case Unit::kMinute:
      return FloorDiv(local, 60000) * 60000;
    case Unit::kHour:
      return FloorDiv(local, 3600000) * 3600000;
    case Unit::kDay:
      return FloorDiv(local, 86400000) * 86400000;
    case Unit::kWeek: {
      const Civil c = ToCivil(local);
      const absl::CivilDay day(c.year, static_cast<int>(c.month), static_cast<int>(c.day));
      return LocalMs(day - (c.dow + 6) % 7);  // back to Monday
    }
    case Unit::kMonth: {
      const Civil c = ToCivil(local);
      return LocalMs(absl::CivilDay(c.year, static_cast<int>(c.month), 1));
    }
    default: {  // year
      const Civil c = ToCivil(local);
      return LocalMs(absl::CivilDay(c.year, 1, 1));
    }
  }
}

bool BindTrunc(BindCall& c) {
  bool ok = CheckUnit(c, 0, true);
  ok = c.Expect(1, IsTimestampArg, "a timestamp") && ok;
  if (c.size() == 3) ok = CheckZone(c, 2) && ok;
  if (ok) c.SetType(TypeId::kTimestamp);
  return ok;
}

std::unique_ptr<Kernel> MakeTrunc(const Expr& call) {
  return MakeIntRows(call, [units = Units(call, true), zones = std::make_shared<Zones>(call, 2)](
                               const Column* const* a, size_t i, int64_t* v) {
    const int64_t ms = a[1]->GetInt(i);
    const std::optional<Unit> u = units.Get(*a[0], i);
    const Zone* z = zones->Get(a, i);
    if (!u || !z || ms < kMinMs || ms > kMaxMs) return false;
    *v = z->FromLocal(TruncLocal(z->ToLocal(ms), *u));
    return true;
  });
}

// ---- date_part --------------------------------------------------------------

bool BindPart(BindCall& c) {
  bool ok = CheckUnit(c, 0, false);
  ok = c.Expect(1, IsTimestampArg, "a timestamp") && ok;
  if (c.size() == 3) ok = CheckZone(c, 2) && ok;
  if (ok) c.SetType(TypeId::kBigint);
  return ok;
}

std::unique_ptr<Kernel> MakePart(const Expr& call) {
  return MakeIntRows(call, [units = Units(call, false), zones = std::make_shared<Zones>(call, 2)](
                               const Column* const* a, size_t i, int64_t* v) {
    const int64_t ms = a[1]->GetInt(i);
    const std::optional<Unit> u = units.Get(*a[0], i);
    const Zone* z = zones->Get(a, i);
    if (!u || !z || ms < kMinMs || ms > kMaxMs) return false;
    if (*u == Unit::kEpoch) {
      *v = FloorDiv(ms, 1000);
      return true;
    }
    const Civil c = ToCivil(z->ToLocal(ms));
    switch (*u) {
      case Unit::kSecond:
        *v = c.second;
        break;
      case Unit::kMinute:
        *v = c.minute;
        break;
      case Unit::kHour:
        *v = c.hour;
        break;
      case Unit::kDay:
        *v = c.day;
        break;
      case Unit::kMonth:
        *v = c.month;
        break;
      case Unit::kYear:
        *v = c.year;
        break;
      case Unit::kDow:
        *v = c.dow;
        break;
      case Unit::kDoy:
        *v = c.doy;
        break;
      default:
        return false;
    }
    return true;
  });
}

// ---- format_timestamp ---------------------------------------------------------

// The directives: %Y %m %d %H %M %S (whole seconds) %L (milliseconds, 3
// digits) %j %a %b %z %Z %F (%Y-%m-%d) %T (%H:%M:%S) %%.
constexpr std::string_view kDirectives = "YmdHMSLjabzZFT%";

// Checks a format; on failure the reason.
bool CheckFormat(std::string_view f, std::string* why) {
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%') continue;
    if (i + 1 == f.size()) {
      *why = "the format ends with a lone '%' (write %% for a percent sign)";
      return false;
    }
    if (kDirectives.find(f[++i]) == std::string_view::npos) {
      *why = "unknown directive '%" + std::string(1, f[i]) +
             "' (known: %Y %m %d %H %M %S %L %j %a %b %z %Z %F %T %%)";
      return false;
    }
  }
  return true;
}

void AppendNum(std::string* out, int64_t v, int width) {
  if (v < 0) {
    out->push_back('-');
    v = -v;
  }
  char buf[24];
  int len = 0;
  do {
    buf[len++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0);
  for (int k = len; k < width; ++k) out->push_back('0');
  while (len > 0) out->push_back(buf[--len]);
}

void Format(std::string_view f, int64_t ms, const Zone& z, std::string* out) {
  static constexpr std::string_view kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const int64_t offset = z.OffsetMs(ms);
  const Civil c = ToCivil(ms + offset);
  out->clear();
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%' || i + 1 == f.size()) {
      out->push_back(f[i]);
      continue;
    }
    switch (f[++i]) {
      case 'Y':
        AppendNum(out, c.year, 4);
        break;
      case 'm':
        AppendNum(out, c.month, 2);
        break;
      case 'd':
        AppendNum(out, c.day, 2);
        break;
      case 'H':
        AppendNum(out, c.hour, 2);
        break;
      case 'M':
        AppendNum(out, c.minute, 2);
        break;
      case 'S':
        AppendNum(out, c.second, 2);
        break;
      case 'L':
        AppendNum(out, c.milli, 3);
        break;
      case 'j':
        AppendNum(out, c.doy, 3);
        break;
      case 'a':
        out->append(kDays[c.dow]);
        break;
      case 'b':
        out->append(kMonths[c.month - 1]);
        break;
      case 'z': {
        const int64_t minutes = (offset < 0 ? -offset : offset) / 60000;
        out->push_back(offset < 0 ? '-' : '+');
        AppendNum(out, minutes / 60, 2);
        AppendNum(out, minutes % 60, 2);
        break;
      }
      case 'Z':
        out->append(z.Abbrev(ms));
        break;
      case 'F':
        AppendNum(out, c.year, 4);
        out->push_back('-');
        AppendNum(out, c.month, 2);
        out->push_back('-');
        AppendNum(out, c.day, 2);
        break;
      case 'T':
        AppendNum(out, c.hour, 2);
        out->push_back(':');
        AppendNum(out, c.minute, 2);
        out->push_back(':');
        AppendNum(out, c.second, 2);
        break;
      case '%':
        out->push_back('%');
        break;
      default:
        break;  // checked before: unreachable
    }
  }
}

bool BindFormat(BindCall& c) {
  bool ok = c.Expect(0, IsTimestampArg, "a timestamp");
  ok = c.Expect(1, IsString, "a string format") && ok;
  if (const Literal* f = c.literal(1); ok && f) {
    std::string why;
    if (!CheckFormat(f->s, &why)) {
      c.Error(1, why);
      ok = false;
    }
  }
  if (c.size() == 3) ok = CheckZone(c, 2) && ok;
  if (ok) c.SetType(TypeId::kString);
  return ok;
}

std::unique_ptr<Kernel> MakeFormat(const Expr& call) {
  return MakeStringRows(
      call, [zones = std::make_shared<Zones>(call, 2), buf = std::string(), why = std::string()](
                const Column* const* a, size_t i, Column* out) mutable {
        const int64_t ms = a[0]->GetInt(i);
        const std::string_view f = a[1]->GetString(i);
        const Zone* z = zones->Get(a, i);
        if (!z || ms < kMinMs || ms > kMaxMs || !CheckFormat(f, &why)) return out->AppendNull();
        Format(f, ms, *z, &buf);
        out->AppendString(buf);
      });
}

}  // namespace

const std::vector<Function>& TimeFunctions() {
  static const std::vector<Function> functions = {
      {"date_trunc", 2, 3, true, BindTrunc, MakeTrunc},
      {"date_part", 2, 3, true, BindPart, MakePart},
      {"format_timestamp", 2, 3, true, BindFormat, MakeFormat},
  };
  return functions;
}

}  // namespace weir::expr::fn
