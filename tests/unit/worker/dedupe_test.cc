// Dedupe, driven directly with chosen event times, watermarks and a manual clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
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

const char* kDedupe = "  - name: w\n    from: s\n    key_by: [k]\n    dedupe: {within: 10ms}\n";

Row R(const std::string& k, int64_t v, int64_t t) {
  return {t, {k, v, kNull, kNull, t, kNull}};
}

using Rows = std::vector<std::string>;

class DedupeTest : public OperatorHarness {};

TEST_F(DedupeTest, DropsRowsWithinTheWindowOfTheFirstBoundaryIncluded) {
  Init(Job(kDedupe), "w");
  Feed({R("a", 1, 0), R("a", 2, 5), R("b", 5, 6)});
  EXPECT_EQ(Take(), (Rows{"a|1|null|null|0|null@0", "b|5|null|null|6|null@6"}));
  // 10 is within 10ms of 0; 11 is not and becomes a's new first; 21 is within
  // 10ms of 11, 22 is not.
  Feed({R("a", 3, 10), R("a", 4, 11), R("a", 6, 21), R("a", 7, 22)});
  EXPECT_EQ(Take(), (Rows{"a|4|null|null|11|null@11", "a|7|null|null|22|null@22"}));
  EXPECT_EQ(Stats().duplicates_dropped, 3);
}

TEST_F(DedupeTest, OutOfOrderRowsBeforeTheFirstAreDuplicates) {
  Init(Job(kDedupe), "w");
  Feed({R("a", 1, 100)});
  Feed({R("a", 2, 50), R("a", 3, 110)});
  EXPECT_EQ(Take(), (Rows{"a|1|null|null|100|null@100"}));
  EXPECT_EQ(Stats().duplicates_dropped, 2);
}

TEST_F(DedupeTest, KeysExpireWhenTheWatermarkPassesTheirHorizon) {
  Init(Job(kDedupe), "w");
  Feed({R("a", 1, 0), R("b", 2, 3)});
  Feed({R("a", 3, 11)});  // a's new first is 11 (horizon 21); its old timer (10) is stale
  EXPECT_EQ(StateEntries("seen"), 2u);
  Watermark(12);
  EXPECT_EQ(StateEntries("seen"), 2u);
  Watermark(13);  // b: 3 + 10
  EXPECT_EQ(StateEntries("seen"), 1u);
  Watermark(20);
  EXPECT_EQ(StateEntries("seen"), 1u);
  Feed({R("a", 4, 21)});  // still within a's horizon
  Watermark(21);
  EXPECT_EQ(StateEntries("seen"), 0u);
  EXPECT_EQ(Take(),
            (Rows{"a|1|null|null|0|null@0", "a|3|null|null|11|null@11", "b|2|null|null|3|null@3"}));
  // Forgotten keys are emitted again (a late row included: dedupe has no late
  // stream).
  Feed({R("a", 5, 30), R("b", 6, 12)});
  EXPECT_EQ(Take(), (Rows{"a|5|null|null|30|null@30", "b|6|null|null|12|null@12"}));
  EXPECT_EQ(Stats().duplicates_dropped, 1);
}

TEST_F(DedupeTest, KeepsInputOrderAndPassesCleanBatchesThrough) {
  Init(Job(kDedupe), "w");
  Feed({R("a", 1, 1), R("b", 2, 2), R("c", 3, 3)});
  Feed({R("b", 4, 4), R("d", 5, 5), R("a", 6, 6), R("e", 7, 7), R("d", 8, 8)});
  ASSERT_EQ(out_.batches[0].size(), 2u);
  const RecordBatch& first = out_.batches[0][0];
  ASSERT_EQ(first.num_rows(), 3u);
  EXPECT_EQ(first.columns[0].GetString(0), "a");
  EXPECT_EQ(first.columns[0].GetString(2), "c");
  const RecordBatch& second = out_.batches[0][1];
  ASSERT_EQ(second.num_rows(), 2u);
  EXPECT_EQ(second.columns[0].GetString(0), "d");
  EXPECT_EQ(second.columns[1].GetInt(0), 5);
  EXPECT_EQ(second.columns[0].GetString(1), "e");
  EXPECT_EQ(second.event_time, (std::vector<int64_t>{5, 7}));
  EXPECT_EQ(*second.schema, op_->schema);
}

TEST_F(DedupeTest, MultiColumnKeysTreatNullAsAValue) {
  Init(Job("  - name: w\n    from: s\n    key_by: [k, b]\n    dedupe: {within: 1m}\n"), "w");
  Feed({{1, {std::string("a"), int64_t{1}, kNull, kNull, int64_t{1}, kNull}},
        {2, {std::string("a"), int64_t{2}, kNull, kNull, int64_t{2}, kNull}},
        {3, {std::string("a"), int64_t{3}, kNull, kNull, int64_t{3}, true}},
        {4, {kNull, int64_t{4}, kNull, kNull, int64_t{4}, kNull}},
        {5, {kNull, int64_t{5}, kNull, kNull, int64_t{5}, kNull}}});
  EXPECT_EQ(Take(), (Rows{"a|1|null|null|1|null@1", "a|3|null|null|3|true@3",
                          "null|4|null|null|4|null@4"}));
}

TEST_F(DedupeTest, ProcessingTimeUsesTheClock) {
  Init(Job(kDedupe, /*processing_time=*/true), "w");
  clock_.Set(100);
  Feed({R("a", 1, 0)});
  clock_.Set(110);
  Feed({R("a", 2, 0)});  // within 10ms of 100 (boundary)
  clock_.Set(111);
  Feed({R("a", 3, 0)});  // new first: 111
  EXPECT_EQ(Take(), (Rows{"a|1|null|null|0|null@0", "a|3|null|null|0|null@0"}));
  Watermark(kMaxWatermark);  // watermarks mean nothing here
  EXPECT_EQ(StateEntries("seen"), 1u);
  Time(121);
  EXPECT_EQ(StateEntries("seen"), 1u);
  Time(122);  // the clock passed 111 + 10
  EXPECT_EQ(StateEntries("seen"), 0u);
}

}  // namespace
}  // namespace weir::operators
