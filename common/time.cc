#include "common/time.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace weir {

std::optional<int64_t> ParseDuration(std::string_view t) {
  if (t.empty()) return std::nullopt;
  int64_t total = 0;
  size_t i = 0;
  while (i < t.size()) {
    int64_t n = 0;
    auto [p, ec] = std::from_chars(t.data() + i, t.data() + t.size(), n);
    if (ec != std::errc() || n < 0) return std::nullopt;
    i = static_cast<size_t>(p - t.data());
    std::string_view rest = t.substr(i);
    int64_t unit;
    if (rest.starts_with("ms"))
      unit = 1, i += 2;
    else if (rest.starts_with("s"))
      unit = 1000, i += 1;
    else if (rest.starts_with("m"))
      unit = 60'000, i += 1;
    else if (rest.starts_with("h"))
      unit = 3'600'000, i += 1;
    else if (rest.starts_with("d"))
      unit = 86'400'000, i += 1;
    else
      return std::nullopt;
    if (n > (int64_t{1} << 50) / unit) return std::nullopt;
    total += n * unit;
  }
  return total;
}

std::string FormatDuration(int64_t ms) {
  if (ms == 0) return "0s";
  std::string s;
  const std::pair<int64_t, const char*> units[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (auto [u, name] : units) {
    if (ms >= u) {
      s += std::to_string(ms / u) + name;
      ms %= u;
    }
  }
  return s;
}

namespace {

bool Digits(std::string_view t, size_t pos, size_t n, int* out) {
  if (pos + n > t.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (t[i] < '0' || t[i] > '9') return false;
    v = v * 10 + (t[i] - '0');
  }
  *out = v;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace

std::optional<int64_t> ParseTimestamp(std::string_view t) {
  if (t.empty()) return std::nullopt;
  // Epoch millis: an optional sign and digits only.
  bool all_digits = true;
  for (size_t i = 0; i < t.size(); ++i)
    if (!((t[i] >= '0' && t[i] <= '9') || (i == 0 && t[i] == '-' && t.size() > 1)))
      all_digits = false;
  if (all_digits) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc() || p != t.data() + t.size()) return std::nullopt;
    return v;
  }
  int y, mo, d, h = 0, mi = 0, s = 0, ms = 0;
  if (!Digits(t, 0, 4, &y) || t.size() < 10 || t[4] != '-' || !Digits(t, 5, 2, &mo) ||
      t[7] != '-' || !Digits(t, 8, 2, &d))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return std::nullopt;
  size_t i = 10;
  int64_t offset_min = 0;
  if (i < t.size()) {
    if (t[i] != 'T' && t[i] != ' ' && t[i] != 't') return std::nullopt;
    if (!Digits(t, i + 1, 2, &h) || t.size() < i + 6 || t[i + 3] != ':' ||
        !Digits(t, i + 4, 2, &mi))
      return std::nullopt;
    i += 6;
    if (i < t.size() && t[i] == ':') {
      if (!Digits(t, i + 1, 2, &s)) return std::nullopt;
      i += 3;
      if (i < t.size() && (t[i] == '.' || t[i] == ',')) {
        ++i;
        int scale = 100;
        size_t start = i;
        while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
          ms += (t[i] - '0') * scale;
          scale /= 10;
          ++i;
        }
        if (i == start) return std::nullopt;
      }
    }
    if (h > 23 || mi > 59 || s > 60) return std::nullopt;
    if (i < t.size()) {
      if ((t[i] == 'Z' || t[i] == 'z') && i + 1 == t.size()) {
        i++;
      } else if (t[i] == '+' || t[i] == '-') {
        int oh, om = 0;
        if (!Digits(t, i + 1, 2, &oh)) return std::nullopt;
        size_t j = i + 3;
        if (j < t.size() && t[j] == ':') ++j;
        if (j < t.size()) {
          if (!Digits(t, j, 2, &om)) return std::nullopt;
          j += 2;
        }
        if (j != t.size()) return std::nullopt;
        offset_min = (oh * 60 + om) * (t[i] == '-' ? -1 : 1);
        i = j;
      } else {
        return std::nullopt;
      }
    }
  }
  if (i != t.size()) return std::nullopt;
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return ((days * 24 + h) * 60 + mi - offset_min) * 60'000 + int64_t{s} * 1000 + ms;
}

std::string FormatTimestamp(int64_t ms) {
  int64_t secs = ms / 1000;
  int64_t millis = ms % 1000;
  if (millis < 0) {
    millis += 1000;
    secs -= 1;
  }
  time_t tt = static_cast<time_t>(secs);
  struct tm tm;
  if (gmtime_r(&tt, &tm) == nullptr || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
    return std::to_string(ms);  // outside what ISO-8601 years can say: epoch millis
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

int64_t SystemClock::NowMillis() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

SystemClock* SystemClock::Get() {
  static SystemClock clock;
  return &clock;
}

}  // namespace weir
