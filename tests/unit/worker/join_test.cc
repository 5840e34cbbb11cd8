// Interval and window joins, driven directly with chosen event times, watermarks and a manual
// clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/spec/job_spec.h"
#include "common/time.h"
#include "tests/unit/worker/test_util.h"
#include "worker/operators/stateful_internal.h"
#include "worker/runtime/operator.h"

namespace weir::operators {
namespace {

using testutil::JoinJob;
using testutil::kNull;
using testutil::L;
using testutil::OperatorHarness;
using testutil::Row;
using testutil::Rt;

const char* kInterval = "{left: l, right: r, on: \"l.id = r.lid\", within: 10ms}";

using Rows = std::vector<std::string>;

class IntervalJoinTest : public OperatorHarness {
 protected:
  void Left(const std::vector<Row>& rows) { Feed(0, rows); }
  void Right(const std::vector<Row>& rows) { Feed(1, rows); }
};

TEST_F(IntervalJoinTest, OutputSchemaIsLeftThenRenamedRight) {
  Init(JoinJob(kInterval), "j");
  EXPECT_EQ(op_->schema.ToString(),
            "(id bigint, name string, ts timestamp, lid bigint, amount double, r_ts timestamp)");
}

TEST_F(IntervalJoinTest, MatchesWithinTheIntervalBoundariesIncluded) {
  Init(JoinJob(kInterval), "j");
  Left({L(int64_t{1}, "x", 100)});
  Right({Rt(int64_t{1}, 1.0, 110), Rt(int64_t{1}, 2.0, 111), Rt(int64_t{1}, 3.0, 90),
         Rt(int64_t{1}, 4.0, 89), Rt(int64_t{2}, 5.0, 100)});
  EXPECT_EQ(Take(), (Rows{"1|x|100|1|1|110@110", "1|x|100|1|3|90@100"}));
  // A new left row probes every buffered right row of its key.
  // y: 110 and 111 are within 10ms, 90 and 89 are not; z: 100 is exactly 10ms away.
  Left({L(int64_t{1}, "y", 105), L(int64_t{2}, "z", 110), L(int64_t{3}, "w", 100)});
  EXPECT_EQ(Take(), (Rows{"1|y|105|1|1|110@110", "1|y|105|1|2|111@111", "2|z|110|2|5|100@110"}));
  EXPECT_EQ(Stats().join_matches, 5);
}

TEST_F(IntervalJoinTest, RightFirstStillEmitsLeftFieldsFirst) {
  Init(JoinJob(kInterval), "j");
  Right({Rt(int64_t{3}, 7.5, 200)});
  EXPECT_EQ(Take(), Rows{});
  Left({L(int64_t{3}, "y", 195), L(int64_t{3}, "q", 189)});
  EXPECT_EQ(Take(), (Rows{"3|y|195|3|7.5|200@200"}));
}

TEST_F(IntervalJoinTest, BufferedRowsExpireAndLateRowsAreDropped) {
  Init(JoinJob(kInterval), "j");
  Left({L(int64_t{1}, "x", 100)});
  Watermark(110);
  Right({Rt(int64_t{1}, 1.0, 110)});  // not late (110 >= watermark); matches at the boundary
  EXPECT_EQ(Take(), (Rows{"1|x|100|1|1|110@110"}));
  Watermark(111);  // the left row (100 + 10 < 111) expires
  Right({Rt(int64_t{1}, 2.0, 111), Rt(int64_t{1}, 3.0, 105)});  // 105 < 111: late
  EXPECT_EQ(Take(), Rows{});
  EXPECT_EQ(Stats().late_dropped, 1);
  EXPECT_EQ(StateEntries("buffers"), 1u);  // key 1: the right rows 110 and 111
  Left({L(int64_t{1}, "z", 121)});         // matches 111 only: 110 is 11 away
  EXPECT_EQ(Take(), (Rows{"1|z|121|1|2|111@121"}));
  Watermark(200);
  EXPECT_EQ(StateEntries("buffers"), 0u);
}

TEST_F(IntervalJoinTest, NullKeysNeverMatch) {
  Init(JoinJob(kInterval), "j");
  Left({L(kNull, "n", 5), L(int64_t{1}, "x", 5)});
  Right({Rt(kNull, 1.0, 5), Rt(int64_t{1}, 2.0, 6)});
  EXPECT_EQ(Take(), (Rows{"1|x|5|1|2|6@6"}));
  EXPECT_EQ(StateEntries("buffers"), 1u);
}

TEST_F(IntervalJoinTest, BigintKeyJoinsADoubleKey) {
  Init(JoinJob("{left: l, right: r, on: \"l.id = r.amount\", within: 1s}"), "j");
  Left({L(int64_t{2}, "two", 1), L(int64_t{3}, "three", 1)});
  Right({Rt(int64_t{9}, 2.0, 2), Rt(int64_t{9}, 2.5, 2)});
  EXPECT_EQ(Take(), (Rows{"2|two|1|9|2|2@2"}));
}

TEST_F(IntervalJoinTest, MultiKeyCondition) {
  Init(JoinJob("{left: l, right: r, on: \"l.id = r.lid and l.ts = r.ts\", within: 1s}"), "j");
  Left({L(int64_t{1}, "a", 10), L(int64_t{1}, "b", 20)});
  Right({Rt(int64_t{1}, 1.0, 20), Rt(int64_t{2}, 2.0, 10)});
  EXPECT_EQ(Take(), (Rows{"1|b|20|1|1|20@20"}));
}

TEST_F(IntervalJoinTest, ProcessingTimeUsesTheClock) {
  Init(JoinJob(kInterval, /*processing_time=*/true), "j");
  clock_.Set(100);
  Left({L(int64_t{1}, "x", 0)});
  clock_.Set(110);
  Right({Rt(int64_t{1}, 1.0, 0)});  // 10ms after the left row: matches
  EXPECT_EQ(Take(), (Rows{"1|x|0|1|1|0@110"}));
  clock_.Set(111);
  Time(111);  // the left row (100 + 10 < 111) expires
  Right({Rt(int64_t{1}, 2.0, 0)});
  EXPECT_EQ(Take(), Rows{});
  Time(200);
  EXPECT_EQ(StateEntries("buffers"), 0u);
}

TEST_F(IntervalJoinTest, MatchesABruteForceReferenceWhileExpiring) {
  Init(JoinJob("{left: l, right: r, on: \"l.id = r.lid\", within: 15ms}"), "j");
  std::mt19937 rng(5);
  struct Ev {
    int64_t key, t, v;
  };
  std::vector<Ev> sides[2];
  for (int s = 0; s < 2; ++s) {
    for (int i = 0; i < 200; ++i)
      sides[s].push_back({static_cast<int64_t>(rng() % 3), static_cast<int64_t>(rng() % 500),
                          static_cast<int64_t>(i)});
    std::sort(sides[s].begin(), sides[s].end(), [](const Ev& a, const Ev& b) { return a.t < b.t; });
  }
  // Feed each side in time order, in random batches, the watermark just
  // below the earliest row not yet fed: no row is late, expiry runs.
  size_t next[2] = {0, 0};
  while (next[0] < sides[0].size() || next[1] < sides[1].size()) {
    int s = static_cast<int>(rng() % 2);
    if (next[s] == sides[s].size()) s = 1 - s;
    size_t n = std::min<size_t>(1 + rng() % 10, sides[s].size() - next[s]);
    std::vector<Row> batch;
    for (size_t i = next[s]; i < next[s] + n; ++i) {
      const Ev& e = sides[s][i];
      if (s == 0)
        batch.push_back(L(e.key, "l" + std::to_string(e.v), e.t));
      else
        batch.push_back(Rt(e.key, static_cast<double>(e.v), e.t));
    }
    Feed(s, batch);
    next[s] += n;
    int64_t wm = kMaxWatermark;
    for (int x = 0; x < 2; ++x)
      if (next[x] < sides[x].size()) wm = std::min(wm, sides[x][next[x]].t - 1);
    if (wm != kMaxWatermark) Watermark(wm);
  }
  EXPECT_EQ(Stats().late_dropped, 0);
  Rows expected;
  for (const Ev& l : sides[0])
    for (const Ev& r : sides[1])
      if (l.key == r.key && std::abs(l.t - r.t) <= 15)
        expected.push_back(std::to_string(l.key) + "|l" + std::to_string(l.v) + "|" +
                           std::to_string(l.t) + "|" + std::to_string(r.key) + "|" +
                           std::to_string(r.v) + "|" + std::to_string(r.t) + "@" +
                           std::to_string(std::max(l.t, r.t)));
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(Take(), expected);
  Watermark(kMaxWatermark);
  EXPECT_EQ(StateEntries("buffers"), 0u);
}

// ---- window joins ----

class WindowJoinTest : public OperatorHarness {
 protected:
  void Left(const std::vector<Row>& rows) { Feed(0, rows); }
  void Right(const std::vector<Row>& rows) { Feed(1, rows); }
};

TEST_F(WindowJoinTest, TumblingEmitsEveryPairOfAWindowWhenItFires) {
  Init(JoinJob("{left: l, right: r, on: \"l.id = r.lid\", window: {tumbling: 10ms}}"), "j");
  EXPECT_EQ(op_->schema.size(), 8u);
  Left({L(int64_t{1}, "a", 1), L(int64_t{1}, "b", 5), L(int64_t{2}, "c", 3)});
  Right({Rt(int64_t{1}, 1.5, 9), Rt(int64_t{1}, 2.5, 10), Rt(int64_t{3}, 9.0, 2)});
  Left({L(int64_t{1}, "d", 12)});
  Right({Rt(int64_t{1}, 0.5, 0)});
  Watermark(8);
  EXPECT_EQ(Take(), Rows{});
  Watermark(9);
  EXPECT_EQ(Take(), (Rows{"1|a|1|1|0.5|0|0|10@9", "1|a|1|1|1.5|9|0|10@9", "1|b|5|1|0.5|0|0|10@9",
                          "1|b|5|1|1.5|9|0|10@9"}));
  Left({L(int64_t{1}, "late", 5)});
  EXPECT_EQ(Stats().late_dropped, 1);
  Watermark(19);
  EXPECT_EQ(Take(), (Rows{"1|d|12|1|2.5|10|10|20@19"}));
  EXPECT_EQ(StateEntries("windows"), 0u);
}

TEST_F(WindowJoinTest, SlidingPairsOnlyShareOverlappingWindows) {
  Init(JoinJob("{left: l, right: r, on: \"l.id = r.lid\", "
               "window: {sliding: {size: 10ms, slide: 5ms}}}"),
       "j");
  Left({L(int64_t{1}, "a", 7)});     // [0,10), [5,15)
  Right({Rt(int64_t{1}, 1.0, 12)});  // [5,15), [10,20)
  Finish();
  EXPECT_EQ(Take(), (Rows{"1|a|7|1|1|12|5|15@14"}));
}

TEST_F(WindowJoinTest, SessionsMergeAcrossBothSides) {
  Init(JoinJob("{left: l, right: r, on: \"l.id = r.lid\", window: {session: {gap: 10ms}}}"), "j");
  Left({L(int64_t{1}, "a", 0), L(int64_t{2}, "k2", 0)});      // 1: [0,10)
  Right({Rt(int64_t{1}, 1.0, 15), Rt(int64_t{2}, 2.0, 30)});  // 1: [15,25); 2: apart
  Watermark(9);  // key 2's [0,10) has only a left row: nothing
  EXPECT_EQ(Take(), Rows{});
  // [8,18): key 1's [0,10) fired and is gone, but it overlaps [15,25): one
  // session [8,25) holding b and the right row.
  Left({L(int64_t{1}, "b", 8)});
  Watermark(24);
  EXPECT_EQ(Take(), (Rows{"1|b|8|1|1|15|8|25@24"}));
  EXPECT_EQ(StateEntries("sessions"), 1u);  // key 2: [30,40)
  Finish();
  EXPECT_EQ(Take(), Rows{});
  EXPECT_EQ(StateEntries("sessions"), 0u);
}

TEST_F(WindowJoinTest, SessionBridgingRowMergesLeftAndRightSessions) {
  Init(JoinJob("{left: l, right: r, on: \"l.id = r.lid\", window: {session: {gap: 10ms}}}"), "j");
  Left({L(int64_t{1}, "a", 0)});     // [0,10)
  Right({Rt(int64_t{1}, 1.0, 15)});  // [15,25)
  Right({Rt(int64_t{1}, 2.0, 8)});   // [8,18) bridges both: [0,25)
  Watermark(24);
  EXPECT_EQ(Take(), (Rows{"1|a|0|1|1|15|0|25@24", "1|a|0|1|2|8|0|25@24"}));
}

TEST_F(WindowJoinTest, ProcessingTimeTumbling) {
  Init(JoinJob("{left: l, right: r, on: \"l.id = r.lid\", window: {tumbling: 10ms}}",
               /*processing_time=*/true),
       "j");
  clock_.Set(1003);
  Left({L(int64_t{1}, "a", 0)});
  clock_.Set(1008);
  Right({Rt(int64_t{1}, 1.0, 0)});
  clock_.Set(1012);
  Right({Rt(int64_t{1}, 2.0, 0)});
  Time(1009);
  EXPECT_EQ(Take(), Rows{});
  Time(1010);
  EXPECT_EQ(Take(), (Rows{"1|a|0|1|1|0|1000|1010@1009"}));
  Finish();
  EXPECT_EQ(Take(), Rows{});
}

}  // namespace
}  // namespace weir::operators
