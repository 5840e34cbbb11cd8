// Time helpers: durations and timestamps as written in job files and data,
// and the Clock interface injected wherever the engine reads the time, so
// window, watermark and timeout tests drive time instead of sleeping.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weir {

// "250ms", "5s", "1m", "1h", "2d" -> milliseconds. nullopt when malformed.
std::optional<int64_t> ParseDuration(std::string_view text);
// 90000 -> "1m30s"
std::string FormatDuration(int64_t ms);

// ISO-8601 ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123+02:00",
// "2024-05-01 12:00:00", "2024-05-01") or epoch milliseconds ("1714564800000")
// -> epoch milliseconds, UTC. Times without a zone are UTC.
std::optional<int64_t> ParseTimestamp(std::string_view text);
// 1714564800123 -> "2024-05-01T12:00:00.123Z"
std::string FormatTimestamp(int64_t ms);

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMillis() const = 0;
};

// The wall clock (CLOCK_REALTIME).
class SystemClock final : public Clock {
 public:
  int64_t NowMillis() const override;
  static SystemClock* Get();
};

// A clock tests set by hand.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms = 0) : now_(start_ms) {}
  int64_t NowMillis() const override { return now_.load(); }
  void Set(int64_t ms) { now_.store(ms); }
  void Advance(int64_t ms) { now_.fetch_add(ms); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace weir
