#include <gtest/gtest.h>

#include <limits>

#include "common/time.h"

namespace weir {
namespace {

TEST(Duration, ParsesUnitsAndCompounds) {
  EXPECT_EQ(ParseDuration("250ms"), 250);
  EXPECT_EQ(ParseDuration("5s"), 5000);
  EXPECT_EQ(ParseDuration("1m"), 60'000);
  EXPECT_EQ(ParseDuration("1h"), 3'600'000);
  EXPECT_EQ(ParseDuration("1m30s"), 90'000);
  EXPECT_EQ(ParseDuration("0s"), 0);
}

TEST(Duration, RejectsMalformedText) {
  for (const char* t : {"", "5", "5 s", "s", "-1s", "5sec", "1.5s", "99999999999999999999d"})
    EXPECT_EQ(ParseDuration(t), std::nullopt) << t;
}

TEST(Duration, FormatsCompactly) {
  EXPECT_EQ(FormatDuration(90'000), "1m30s");
  EXPECT_EQ(FormatDuration(250), "250ms");
  EXPECT_EQ(FormatDuration(0), "0s");
}

TEST(Timestamp, ParsesIsoAndEpochMillis) {
  EXPECT_EQ(ParseTimestamp("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseTimestamp("2024-05-01T12:00:00Z"), 1714564800000);
  EXPECT_EQ(ParseTimestamp("2024-05-01T12:00:00.123Z"), 1714564800123);
  EXPECT_EQ(ParseTimestamp("2024-05-01T14:00:00+02:00"), 1714564800000);
  EXPECT_EQ(ParseTimestamp("2024-05-01 12:00:00"), 1714564800000);
  EXPECT_EQ(ParseTimestamp("2024-05-01"), 1714521600000);
  EXPECT_EQ(ParseTimestamp("1714564800123"), 1714564800123);
  EXPECT_EQ(ParseTimestamp("1969-12-31T23:59:59.999Z"), -1);
}

TEST(Timestamp, RejectsMalformedText) {
  for (const char* t : {"", "2024-13-01", "2024-05-01T25:00:00Z", "yesterday", "2024-05-01T12:00Zq",
                        "2024-05-01T12:00:00+2", "12abc"})
    EXPECT_EQ(ParseTimestamp(t), std::nullopt) << t;
}

TEST(Timestamp, FormatRoundTrips) {
  for (int64_t ms : {int64_t{0}, int64_t{1714564800123}, int64_t{-1}, int64_t{253402300799999}})
    EXPECT_EQ(ParseTimestamp(FormatTimestamp(ms)), ms) << ms;
}

TEST(Timestamp, ExtremeValuesFormatAsMillisAndReadBack) {
  for (int64_t ms : {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}) {
    std::string s = FormatTimestamp(ms);
    EXPECT_EQ(ParseTimestamp(s), ms) << s;
  }
}

TEST(ManualClock, MovesOnlyWhenTold) {
  ManualClock c(100);
  EXPECT_EQ(c.NowMillis(), 100);
  c.Advance(50);
  EXPECT_EQ(c.NowMillis(), 150);
  c.Set(7);
  EXPECT_EQ(c.NowMillis(), 7);
}

}  // namespace
}  // namespace weir
