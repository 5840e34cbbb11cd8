// Watermarks at a source (per partition, idleness by the injected clock) and
// downstream (minimum over input channels). Time moves only by ManualClock.
#include "common/watermark.h"

#include <gtest/gtest.h>

#include "common/time.h"

namespace weir {
namespace {

TEST(PartitionWatermarks, IsTheMinimumOverPartitionsMinusTheDelay) {
  ManualClock clock(0);
  PartitionWatermarks wm(/*max_out_of_orderness_ms=*/100, /*idle_timeout_ms=*/0, &clock);
  wm.Resize(2);
  wm.Observe(0, 5'000);
  // Partition 1 has seen nothing yet: it holds event time back.
  EXPECT_EQ(wm.Current().watermark, kMinWatermark);
  wm.Observe(1, 3'000);
  EXPECT_EQ(wm.Current().watermark, 3'000 - 100 - 1);
  wm.Observe(1, 9'000);
  EXPECT_EQ(wm.Current().watermark, 5'000 - 100 - 1);
  EXPECT_FALSE(wm.Current().idle);
}

TEST(PartitionWatermarks, NeverGoesBackwards) {
  PartitionWatermarks wm(0, 0, nullptr);
  wm.Resize(1);
  wm.Observe(0, 1'000);
  EXPECT_EQ(wm.Current().watermark, 999);
  wm.Observe(0, 10);  // a late row does not move the maximum back
  EXPECT_EQ(wm.Current().watermark, 999);
  wm.Resize(2);  // a new partition with nothing seen cannot pull it back either
  EXPECT_EQ(wm.Current().watermark, 999);
}

TEST(PartitionWatermarks, AnIdlePartitionIsReleasedAfterTheTimeout) {
  ManualClock clock(0);
  PartitionWatermarks wm(0, /*idle_timeout_ms=*/1'000, &clock);
  wm.Resize(2);
  wm.Observe(0, 50'000);
  wm.Touch(0);
  wm.Observe(1, 10'000);
  wm.Touch(1);
  EXPECT_EQ(wm.Current().watermark, 9'999);

  // Partition 0 keeps delivering; partition 1 goes quiet.
  clock.Advance(999);
  wm.Touch(0);
  EXPECT_EQ(wm.Current().watermark, 9'999) << "not idle before the timeout";
  clock.Advance(1);
  wm.Touch(0);
  WatermarkStatus s = wm.Current();
  EXPECT_EQ(s.watermark, 49'999) << "the quiet partition no longer holds event time back";
  EXPECT_FALSE(s.idle);

  // Partition 1 wakes up with an older time: the watermark stays where it was.
  wm.Observe(1, 20'000);
  wm.Touch(1);
  EXPECT_EQ(wm.Current().watermark, 49'999);
}

TEST(PartitionWatermarks, AllPartitionsIdleMakesTheSubtaskIdle) {
  ManualClock clock(0);
  PartitionWatermarks wm(0, 500, &clock);
  wm.Resize(2);
  wm.Observe(0, 2'000);
  wm.Observe(1, 3'000);
  wm.Touch(0);
  wm.Touch(1);
  EXPECT_FALSE(wm.Current().idle);
  clock.Advance(500);
  WatermarkStatus s = wm.Current();
  EXPECT_TRUE(s.idle);
  EXPECT_EQ(s.watermark, 2'999) << "idle reports the largest partition watermark";
  wm.Touch(0);
  EXPECT_FALSE(wm.Current().idle);
}

TEST(PartitionWatermarks, EndedPartitionsAreIgnoredAndAllEndedIsTheEndOfTime) {
  PartitionWatermarks wm(0, 0, nullptr);
  wm.Resize(2);
  wm.Observe(0, 100);
  wm.Observe(1, 5'000);
  EXPECT_EQ(wm.Current().watermark, 99);
  wm.End(0);
  EXPECT_EQ(wm.Current().watermark, 4'999);
  wm.End(1);
  EXPECT_EQ(wm.Current().watermark, kMaxWatermark);
}

TEST(ChannelWatermarks, IsTheMinimumOverInputChannels) {
  ChannelWatermarks ch(3);
  EXPECT_FALSE(ch.Update(0, {1'000, false}));
  EXPECT_FALSE(ch.Update(1, {2'000, false}));
  EXPECT_TRUE(ch.Update(2, {500, false}));
  EXPECT_EQ(ch.current().watermark, 500);
  EXPECT_TRUE(ch.Update(2, {3'000, false}));
  EXPECT_EQ(ch.current().watermark, 1'000);
  // A channel's watermark never moves back, nor does the combined one.
  EXPECT_FALSE(ch.Update(0, {10, false}));
  EXPECT_EQ(ch.current().watermark, 1'000);
}

TEST(ChannelWatermarks, IdleChannelsDoNotHoldTimeBack) {
  ChannelWatermarks ch(2);
  ch.Update(0, {1'000, false});
  ch.Update(1, {8'000, false});
  EXPECT_EQ(ch.current().watermark, 1'000);
  EXPECT_TRUE(ch.Update(0, {1'000, true}));
  EXPECT_EQ(ch.current().watermark, 8'000);
  EXPECT_FALSE(ch.current().idle);
  // Every channel idle: the task is idle and keeps its watermark.
  EXPECT_TRUE(ch.Update(1, {8'000, true}));
  EXPECT_TRUE(ch.current().idle);
  EXPECT_EQ(ch.current().watermark, 8'000);
  // One wakes up behind: active again (forwarded), the watermark does not regress.
  EXPECT_TRUE(ch.Update(0, {2'000, false}));
  EXPECT_FALSE(ch.current().idle);
  EXPECT_EQ(ch.current().watermark, 8'000);
}

TEST(ChannelWatermarks, EndedChannelsAreIgnored) {
  ChannelWatermarks ch(2);
  ch.Update(0, {100, false});
  ch.Update(1, {900, false});
  EXPECT_EQ(ch.current().watermark, 100);
  EXPECT_TRUE(ch.End(0));
  EXPECT_EQ(ch.current().watermark, 900);
  EXPECT_FALSE(ch.all_ended());
  ch.End(1);
  EXPECT_TRUE(ch.all_ended());
}

}  // namespace
}  // namespace weir
