// Window aggregates and reduce, driven directly: batches with chosen event
// times in, watermarks and processing time by hand, emitted rows compared
// with results computed by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
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

using testutil::Job;
using testutil::kNull;
using testutil::OperatorHarness;
using testutil::Row;

// A row of the source with key k, value v at time t (other fields null).
Row R(const std::string& k, int64_t v, int64_t t) {
  return {t, {k, v, kNull, kNull, t, kNull}};
}

using Rows = std::vector<std::string>;

class WindowTest : public OperatorHarness {};

TEST_F(WindowTest, TumblingFiresEachKeyWhenWatermarkReachesEnd) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k]\n    window: {tumbling: 10ms}\n"
           "    aggregate: {n: count(), total: sum(v)}\n"),
       "w");
  Feed({R("a", 1, 0), R("a", 2, 9), R("a", 4, 10), R("b", 8, 5)});
  Watermark(8);
  EXPECT_EQ(Take(), Rows{});
  Watermark(9);
  EXPECT_EQ(Take(), (Rows{"a|0|10|2|3@9", "b|0|10|1|8@9"}));
  Feed({R("a", 16, 15)});
  Watermark(18);
  EXPECT_EQ(Take(), Rows{});
  Watermark(19);
  EXPECT_EQ(Take(), (Rows{"a|10|20|2|20@19"}));
  EXPECT_EQ(StateEntries("windows"), 0u);  // fired windows without lateness are dropped
  Finish();
  EXPECT_EQ(Take(), Rows{});
}

TEST_F(WindowTest, TumblingAccumulatesAcrossBatchesAndHandlesNegativeTimes) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k]\n    window: {tumbling: 10ms}\n"
           "    aggregate: {n: count(), total: sum(v)}\n"),
       "w");
  Feed({R("a", 1, -1)});
  Feed({R("a", 2, -10), R("a", 4, 0)});
  Feed({R("a", 8, -11)});
  EXPECT_EQ(StateEntries("windows"), 3u);
  Watermark(-1);
  EXPECT_EQ(Take(), (Rows{"a|-10|0|2|3@-1", "a|-20|-10|1|8@-11"}));
  Watermark(kMaxWatermark);
  EXPECT_EQ(Take(), (Rows{"a|0|10|1|4@9"}));
}

TEST_F(WindowTest, SlidingWindowsOverlap) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k]\n"
           "    window: {sliding: {size: 10ms, slide: 5ms}}\n"
           "    aggregate: {n: count(), total: sum(v)}\n"),
       "w");
  // t=7 is in [0,10) and [5,15); t=12 in [5,15) and [10,20); t=-2 in [-10,0), [-5,5).
  Feed({R("a", 1, 7), R("a", 2, 12), R("b", 4, -2)});
  Watermark(-1);
  EXPECT_EQ(Take(), (Rows{"b|-10|0|1|4@-1"}));
  Watermark(4);
  EXPECT_EQ(Take(), (Rows{"b|-5|5|1|4@4"}));
  Watermark(9);
  EXPECT_EQ(Take(), (Rows{"a|0|10|1|1@9"}));
  Watermark(14);
  EXPECT_EQ(Take(), (Rows{"a|5|15|2|3@14"}));
  Watermark(19);
  EXPECT_EQ(Take(), (Rows{"a|10|20|1|2@19"}));
  EXPECT_EQ(StateEntries("windows"), 0u);
}

TEST_F(WindowTest, SlidingWindowBoundaries) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k]\n"
           "    window: {sliding: {size: 10ms, slide: 5ms}}\n"
           "    aggregate: {n: count()}\n"),
       "w");
  // t=5 is in [0,10) and [5,15); t=9 is the last millisecond of [0,10);
  // t=10 is in [5,15) and [10,20), not in [0,10).
  Feed({R("a", 1, 5), R("a", 1, 9), R("a", 1, 10)});
  Finish();
  EXPECT_EQ(Take(), (Rows{"a|0|10|2@9", "a|10|20|1@19", "a|5|15|3@14"}));
}

TEST_F(WindowTest, SessionsMergeWhenARowBridgesThemAcrossBatches) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k]\n    window: {session: {gap: 10ms}}\n"
           "    aggregate: {n: count(), total: sum(v)}\n"),
       "w");
  Feed({R("a", 1, 0), R("a", 2, 5)});   // a: [0, 15)
  Feed({R("a", 4, 22)});                // a: [22, 32)
  Feed({R("b", 1, 0), R("b", 2, 10)});  // b: rows exactly gap apart: [0,10), [10,20)
  Watermark(13);
  EXPECT_EQ(Take(), (Rows{"b|0|10|1|1@9"}));
  EXPECT_EQ(StateEntries("sessions"), 2u);  // one entry per key
  Feed({R("a", 8, 14)});  // [14, 24) bridges [0,15) and [22,32): one session [0, 32)
  Watermark(14);
  EXPECT_EQ(Take(), Rows{});  // [0,15) no longer exists
  Watermark(19);
  EXPECT_EQ(Take(), (Rows{"b|10|20|1|2@19"}));
  Watermark(30);
  EXPECT_EQ(Take(), Rows{});
  Watermark(31);
  EXPECT_EQ(Take(), (Rows{"a|0|32|4|15@31"}));
  EXPECT_EQ(StateEntries("sessions"), 0u);
}

TEST_F(WindowTest, SessionFirstAndLastFollowArrivalThroughMerges) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k]\n    window: {session: {gap: 15ms}}\n"
           "    aggregate: {f: first(v), l: last(v), n: count()}\n"),
       "w");
  Feed({R("a", 2, 22)});  // [22, 37)
  Feed({R("a", 1, 0)});   // [0, 15)
  Feed({R("a", 3, 10)});  // [10, 25) merges both: first by arrival is 2, last is 3
  Finish();
  EXPECT_EQ(Take(), (Rows{"a|0|37|2|3|3@36"}));
}

TEST_F(WindowTest, SessionRowsInOneBatchMergeAndSplitByKey) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k]\n    window: {session: {gap: 10ms}}\n"
           "    aggregate: {n: count(), total: sum(v)}\n"),
       "w");
  // a: 0 and 18 open [0,10) and [18,28); 9 ([9,19)) bridges them within the
  // batch; 50 opens [50,60).
  Feed({R("a", 1, 0), R("a", 2, 18), R("b", 64, 30), R("a", 4, 9), R("a", 8, 50)});
  Watermark(26);
  EXPECT_EQ(Take(), Rows{});
  Watermark(27);
  EXPECT_EQ(Take(), (Rows{"a|0|28|3|7@27"}));
  Finish();
  EXPECT_EQ(Take(), (Rows{"a|50|60|1|8@59", "b|30|40|1|64@39"}));
}

TEST_F(WindowTest, SessionLateRowJoinsALiveSessionButAloneIsLate) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k]\n    window: {session: {gap: 10ms}}\n"
           "    aggregate: {n: count()}\n"),
       "w");
  Feed({R("a", 1, 0), R("a", 1, 8), R("a", 1, 16), R("b", 1, 0)});  // a: [0,26); b: [0,10)
  Watermark(20);
  EXPECT_EQ(Take(), (Rows{"b|0|10|1@9"}));
  // [5,15) alone would be past cleanup, but it merges into the live [0,26).
  Feed({R("a", 1, 5), R("b", 1, 3)});  // b: [3,13) is late and overlaps nothing
  EXPECT_EQ(Stats().late_dropped, 1);
  EXPECT_EQ(Take(), Rows{});
  Watermark(25);
  EXPECT_EQ(Take(), (Rows{"a|0|26|4@25"}));
}

TEST_F(WindowTest, CountWindowsEmitWhenFullAndDropPartialsAtFinish) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k]\n    window: {count: 3}\n"
           "    aggregate: {n: count(), total: sum(v)}\n"),
       "w");
  Feed({R("a", 1, 5), R("a", 2, 3), R("b", 10, 1)});
  EXPECT_EQ(Take(), Rows{});
  Feed({R("a", 4, 9), R("a", 8, 7), R("b", 20, 2)});
  EXPECT_EQ(Take(), (Rows{"a|3|10|3|7@9"}));
  Feed({R("a", 16, 8), R("a", 32, 6), R("b", 30, 0), R("a", 64, 100)});
  EXPECT_EQ(Take(), (Rows{"a|6|9|3|56@8", "b|0|3|3|60@2"}));
  Watermark(kMaxWatermark);
  Finish();
  EXPECT_EQ(Take(), Rows{});  // a's partial window (64) is discarded
}

TEST_F(WindowTest, CountWindowLargerBatchThanCount) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k]\n    window: {count: 2}\n"
           "    aggregate: {n: count(), total: sum(v)}\n"),
       "w");
  Feed({R("a", 1, 1), R("a", 2, 2), R("a", 4, 3), R("a", 8, 4), R("a", 16, 5)});
  EXPECT_EQ(Take(), (Rows{"a|1|3|2|3@2", "a|3|5|2|12@4"}));
  Feed({R("a", 32, 0)});
  EXPECT_EQ(Take(), (Rows{"a|0|6|2|48@5"}));
  EXPECT_EQ(StateEntries("count"), 0u);
}

TEST_F(WindowTest, AllowedLatenessRefiresAndThenSendsRowsToTheLateStream) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k]\n"
           "    window: {tumbling: 10ms, allowed_lateness: 5ms, late: late_rows}\n"
           "    aggregate: {n: count(), total: sum(v)}\n",
           false, "  l: {from: late_rows, type: blackhole}\n"),
       "w");
  Feed({R("a", 1, 1), R("a", 2, 2)});
  Watermark(9);
  EXPECT_EQ(Take(), (Rows{"a|0|10|2|3@9"}));
  Feed({R("a", 4, 3)});  // fired but kept: re-fires at once with the full result
  EXPECT_EQ(Take(), (Rows{"a|0|10|3|7@9"}));
  Watermark(13);
  EXPECT_EQ(Take(), Rows{});
  // A window that never existed, within lateness: fires at once too.
  Feed({R("a", 8, 9), R("c", 32, 5)});
  EXPECT_EQ(Take(), (Rows{"a|0|10|4|15@9", "c|0|10|1|32@9"}));
  Watermark(14);  // cleanup time of [0,10): 9 + 5
  EXPECT_EQ(Take(), Rows{});
  EXPECT_EQ(StateEntries("windows"), 0u);
  Feed({R("a", 16, 4), R("a", 64, 12), R("b", 128, 0)});
  EXPECT_EQ(Take(1), (Rows{"a|16|null|null|4|null@4", "b|128|null|null|0|null@0"}));
  EXPECT_EQ(Take(), Rows{});
  EXPECT_EQ(Stats().late_emitted, 2);
  EXPECT_EQ(Stats().late_dropped, 0);
  Watermark(19);
  EXPECT_EQ(Take(), (Rows{"a|10|20|1|64@19"}));
}

TEST_F(WindowTest, LateRowsWithoutLateStreamAreDroppedAndCounted) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k]\n    window: {tumbling: 10ms}\n"
           "    aggregate: {n: count()}\n"),
       "w");
  Feed({R("a", 1, 1)});
  Watermark(9);
  EXPECT_EQ(Take(), (Rows{"a|0|10|1@9"}));
  Feed({R("a", 1, 5), R("b", 1, 9), R("a", 1, 10)});
  EXPECT_EQ(Stats().late_dropped, 2);
  EXPECT_EQ(Take(), Rows{});
  EXPECT_EQ(Take(1), Rows{});
  Watermark(19);
  EXPECT_EQ(Take(), (Rows{"a|10|20|1@19"}));
}

TEST_F(WindowTest, EveryAggregateWithNulls) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k]\n    window: {tumbling: 100ms}\n"
           "    aggregate:\n"
           "      n: count()\n      nv: count(v)\n      sv: sum(v)\n      sd: sum(d)\n"
           "      minv: min(v)\n      maxv: max(v)\n      mins: min(s)\n      maxs: max(s)\n"
           "      avgv: avg(v)\n      avgd: avg(d)\n      fv: first(v)\n      lv: last(v)\n"
           "      fs: first(s)\n      ls: last(s)\n      cd: count_distinct(s)\n"
           "      mint: min(ts)\n      maxb: max(b)\n      minb: min(b)\n      maxd: max(d)\n"),
       "w");
  const std::string m = "m";
  Feed({{1, {std::string("a"), kNull, 1.5, m, int64_t{1}, true}},
        {2, {std::string("a"), int64_t{5}, kNull, kNull, int64_t{2}, false}},
        {3, {std::string("b"), kNull, kNull, kNull, int64_t{3}, kNull}}});
  Feed({{3, {std::string("a"), int64_t{-3}, 2.5, std::string("z"), int64_t{3}, kNull}},
        {4, {std::string("a"), int64_t{7}, kNull, std::string("a"), int64_t{4}, false}},
        {5, {std::string("a"), kNull, kNull, m, int64_t{5}, kNull}}});
  Watermark(99);
  EXPECT_EQ(Take(),
            (Rows{
                // n nv sv sd minv maxv mins maxs avgv avgd fv lv fs ls cd mint maxb minb maxd
                "a|0|100|5|3|9|4|-3|7|a|z|3|2|5|7|m|m|3|1|true|false|2.5@99",
                "b|0|100|1|0|null|null|null|null|null|null|null|null|null|null|null|null|0|"
                "3|null|null|null@99",
            }));
}

TEST_F(WindowTest, BigintSumWrapsOnOverflowAndMinMaxTakeExtremes) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k]\n    window: {tumbling: 100ms}\n"
           "    aggregate: {sv: sum(v), minv: min(v), maxv: max(v), cd: count_distinct(v)}\n"),
       "w");
  const int64_t max = std::numeric_limits<int64_t>::max();
  const int64_t min = std::numeric_limits<int64_t>::min();
  Feed({R("a", max, 1), R("a", 2, 2), R("b", min, 3), R("b", -1, 4), R("b", -1, 5)});
  Finish();
  // a: max + 2 wraps to min + 1; b: min - 2 wraps to max - 1.
  EXPECT_EQ(Take(), (Rows{"a|0|100|-9223372036854775807|2|9223372036854775807|2@99",
                          "b|0|100|9223372036854775806|-9223372036854775808|-1|2@99"}));
}

TEST_F(WindowTest, DoubleSumAndCountDistinctOfDoubles) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k]\n    window: {tumbling: 100ms}\n"
           "    aggregate: {sd: sum(d), cd: count_distinct(d), mind: min(d)}\n"),
       "w");
  Feed({{1, {std::string("a"), kNull, 0.5, kNull, int64_t{1}, kNull}},
        {2, {std::string("a"), kNull, -0.0, kNull, int64_t{2}, kNull}},
        {3, {std::string("a"), kNull, 0.0, kNull, int64_t{3}, kNull}},
        {4, {std::string("a"), kNull, 0.5, kNull, int64_t{4}, kNull}},
        {5, {std::string("a"), kNull, -2.25, kNull, int64_t{5}, kNull}}});
  Finish();
  EXPECT_EQ(Take(), (Rows{"a|0|100|-1.25|3|-2.25@99"}));
}

TEST_F(WindowTest, ProcessingTimeTumblingFiresOnTheClock) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k]\n    window: {tumbling: 10ms}\n"
           "    aggregate: {n: count(), total: sum(v)}\n",
           /*processing_time=*/true),
       "w");
  clock_.Set(1000);
  Feed({R("a", 1, 0), R("b", 2, 999999)});  // event times are ignored
  clock_.Set(1009);
  Feed({R("a", 4, 0)});
  clock_.Set(1010);
  Feed({R("a", 8, 0)});
  Watermark(kMaxWatermark);  // watermarks mean nothing to a processing-time window
  Time(1009);
  EXPECT_EQ(Take(), Rows{});
  Time(1010);
  EXPECT_EQ(Take(), (Rows{"a|1000|1010|2|5@1009", "b|1000|1010|1|2@1009"}));
  Time(1019);
  EXPECT_EQ(Take(), Rows{});
  Finish();
  EXPECT_EQ(Take(), (Rows{"a|1010|1020|1|8@1019"}));
}

TEST_F(WindowTest, FinishFiresEveryRemainingWindow) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k]\n"
           "    window: {tumbling: 10ms, allowed_lateness: 1m}\n"
           "    aggregate: {n: count()}\n"),
       "w");
  Feed({R("a", 1, 1), R("a", 1, 11), R("b", 1, 25)});
  Watermark(9);
  EXPECT_EQ(Take(), (Rows{"a|0|10|1@9"}));
  Finish();  // [0,10) already fired and is not emitted again
  EXPECT_EQ(Take(), (Rows{"a|10|20|1@19", "b|20|30|1@29"}));
}

TEST_F(WindowTest, OutputBatchesHoldAtMostBatchSizeRows) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k]\n    window: {tumbling: 10ms}\n"
           "    aggregate: {n: count()}\n"),
       "w", /*batch_size=*/2);
  Feed({R("a", 1, 1), R("b", 1, 1), R("c", 1, 1), R("d", 1, 1), R("e", 1, 1)});
  Watermark(9);
  std::vector<size_t> sizes;
  for (const RecordBatch& b : out_.batches[0]) {
    sizes.push_back(b.num_rows());
    EXPECT_EQ(*b.schema, op_->schema);
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{2, 2, 1}));
  EXPECT_EQ(Take().size(), 5u);
}

TEST_F(WindowTest, ExpressionAndMultiColumnKeys) {
  Init(Job("  - name: w\n    from: s\n    key_by: [{odd: \"v % 2\"}, b]\n"
           "    window: {tumbling: 10ms}\n"
           "    aggregate: {n: count(), total: sum(v)}\n"),
       "w");
  Feed({{1, {std::string("x"), int64_t{1}, kNull, kNull, int64_t{1}, true}},
        {2, {std::string("y"), int64_t{3}, kNull, kNull, int64_t{2}, true}},
        {3, {std::string("x"), int64_t{4}, kNull, kNull, int64_t{3}, kNull}},
        {4, {std::string("x"), int64_t{6}, kNull, kNull, int64_t{4}, kNull}},
        {5, {std::string("x"), int64_t{7}, kNull, kNull, int64_t{5}, false}}});
  Watermark(9);
  EXPECT_EQ(Take(), (Rows{"0|null|0|10|2|10@9", "1|false|0|10|1|7@9", "1|true|0|10|2|4@9"}));
}

TEST_F(WindowTest, FactoryExposesCountersThroughKeyedOperator) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k]\n    window: {tumbling: 10ms}\n"
           "    aggregate: {n: count()}\n"),
       "w");
  auto* keyed = dynamic_cast<KeyedOperator*>(oper_.get());
  ASSERT_NE(keyed, nullptr);
  Feed({R("a", 1, 1)});
  Watermark(20);
  Feed({R("a", 1, 1)});
  EXPECT_EQ(keyed->late_dropped(), 1);
  EXPECT_EQ(keyed->stats().windows_fired, 1);
}

// Random rows fed in a random order and random batch sizes, then Finish,
// against a brute-force computation.
struct RandomRow {
  std::string k;
  int64_t v;
  int64_t t;
};

std::vector<RandomRow> RandomRows(uint32_t seed, int n) {
  std::mt19937 rng(seed);
  std::vector<RandomRow> rows;
  for (int i = 0; i < n; ++i)
    rows.push_back({std::string(1, static_cast<char>('a' + rng() % 3)),
                    static_cast<int64_t>(rng() % 100), static_cast<int64_t>(rng() % 1000)});
  return rows;
}

template <typename FeedFn>
void FeedInRandomBatches(const std::vector<RandomRow>& rows, uint32_t seed, FeedFn feed) {
  std::mt19937 rng(seed);
  for (size_t i = 0; i < rows.size();) {
    size_t n = std::min<size_t>(1 + rng() % 20, rows.size() - i);
    std::vector<Row> batch;
    for (size_t j = i; j < i + n; ++j) batch.push_back(R(rows[j].k, rows[j].v, rows[j].t));
    feed(batch);
    i += n;
  }
}

TEST_F(WindowTest, SessionsMatchABruteForceReferenceInAnyArrivalOrder) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k]\n    window: {session: {gap: 20ms}}\n"
           "    aggregate: {n: count(), total: sum(v), f: first(v), l: last(v)}\n"),
       "w");
  const std::vector<RandomRow> rows = RandomRows(7, 400);
  FeedInRandomBatches(rows, 8, [&](const std::vector<Row>& b) { Feed(b); });
  Finish();
  // Reference: per key, rows sorted by time; a session ends where the next
  // row is gap or more later. first/last by arrival (index in `rows`).
  Rows expected;
  for (std::string key : {"a", "b", "c"}) {
    std::vector<size_t> idx;
    for (size_t i = 0; i < rows.size(); ++i)
      if (rows[i].k == key) idx.push_back(i);
    std::stable_sort(idx.begin(), idx.end(),
                     [&](size_t x, size_t y) { return rows[x].t < rows[y].t; });
    for (size_t i = 0; i < idx.size();) {
      size_t j = i + 1;
      while (j < idx.size() && rows[idx[j]].t - rows[idx[j - 1]].t < 20) ++j;
      int64_t total = 0;
      size_t first = idx[i], last = idx[i];
      for (size_t m = i; m < j; ++m) {
        total += rows[idx[m]].v;
        first = std::min(first, idx[m]);
        last = std::max(last, idx[m]);
      }
      int64_t start = rows[idx[i]].t, end = rows[idx[j - 1]].t + 20;
      expected.push_back(key + "|" + std::to_string(start) + "|" + std::to_string(end) + "|" +
                         std::to_string(j - i) + "|" + std::to_string(total) + "|" +
                         std::to_string(rows[first].v) + "|" + std::to_string(rows[last].v) + "@" +
                         std::to_string(end - 1));
      i = j;
    }
  }
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(Take(), expected);
  EXPECT_EQ(StateEntries("sessions"), 0u);
}

TEST_F(WindowTest, SlidingMatchesABruteForceReference) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k]\n"
           "    window: {sliding: {size: 30ms, slide: 10ms}}\n"
           "    aggregate: {n: count(), total: sum(v), lo: min(v)}\n"),
       "w");
  const std::vector<RandomRow> rows = RandomRows(11, 300);
  FeedInRandomBatches(rows, 12, [&](const std::vector<Row>& b) { Feed(b); });
  Finish();
  struct Acc {
    int64_t n = 0, total = 0, lo = 1000;
  };
  std::map<std::pair<std::string, int64_t>, Acc> windows;
  for (const RandomRow& r : rows) {
    for (int64_t s = 0; s <= r.t; s += 10) {
      if (r.t >= s + 30) continue;
      Acc& a = windows[{r.k, s}];
      ++a.n;
      a.total += r.v;
      a.lo = std::min(a.lo, r.v);
    }
    if (r.t < 20) {  // windows starting before 0
      for (int64_t s = -20; s < 0; s += 10) {
        if (r.t >= s + 30) continue;
        Acc& a = windows[{r.k, s}];
        ++a.n;
        a.total += r.v;
        a.lo = std::min(a.lo, r.v);
      }
    }
  }
  Rows expected;
  for (const auto& [w, a] : windows)
    expected.push_back(w.first + "|" + std::to_string(w.second) + "|" +
                       std::to_string(w.second + 30) + "|" + std::to_string(a.n) + "|" +
                       std::to_string(a.total) + "|" + std::to_string(a.lo) + "@" +
                       std::to_string(w.second + 29));
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(Take(), expected);
}

// ---- reduce ----

class ReduceTest : public OperatorHarness {};

TEST_F(ReduceTest, EmitsOneUpdatePerTouchedKeyPerBatch) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k]\n"
           "    reduce: {n: \"count()\", total: \"sum(v)\", latest: \"last(v)\", "
           "top: \"max(v)\"}\n"),
       "w");
  Feed({R("a", 1, 5), R("b", 2, 3), R("a", 3, 4)});
  EXPECT_EQ(Take(), (Rows{"a|2|4|3|3@5", "b|1|2|2|2@3"}));
  Feed({R("a", 10, 1)});
  EXPECT_EQ(Take(), (Rows{"a|3|14|10|10@1"}));
  Feed({R("c", -1, 7), R("b", -5, 9), R("b", 4, 8)});
  EXPECT_EQ(Take(), (Rows{"b|3|1|4|4@9", "c|1|-1|-1|-1@7"}));
  Watermark(kMaxWatermark);
  Finish();
  EXPECT_EQ(Take(), Rows{});
  EXPECT_EQ(StateEntries("accumulators"), 3u);
}

TEST_F(ReduceTest, NullValuesAreIgnoredButCounted) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k]\n"
           "    reduce: {n: \"count()\", nv: \"count(v)\", total: \"sum(v)\", "
           "f: \"first(v)\"}\n"),
       "w");
  Feed({{1, {std::string("a"), kNull, kNull, kNull, int64_t{1}, kNull}}});
  EXPECT_EQ(Take(), (Rows{"a|1|0|null|null@1"}));
  Feed({R("a", 6, 2), {3, {std::string("a"), kNull, kNull, kNull, int64_t{3}, kNull}}});
  EXPECT_EQ(Take(), (Rows{"a|3|1|6|6@3"}));
}

}  // namespace
}  // namespace weir::operators
