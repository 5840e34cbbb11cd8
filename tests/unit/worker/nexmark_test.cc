// The nexmark and datagen sources.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "worker/connectors/connector.h"
#include "worker/connectors/nexmark_internal.h"

namespace weir::connectors {
namespace {

using nexmark::kBaseTimeMs;

spec::SourceSpec NexmarkSpec(std::string only, int64_t events, int64_t seed = 42) {
  spec::SourceSpec s;
  s.name = "nx";
  s.type = "nexmark";
  s.only = std::move(only);
  s.events = events;
  s.seed = seed;
  s.schema = spec::NexmarkSchema(s.only);
  s.event_time = spec::EventTimeSpec{"date_time", 0, 0};
  return s;
}

SourceContext Context(const Clock* clock, int subtask = 0, int parallelism = 1) {
  SourceContext ctx;
  ctx.job = "test";
  ctx.subtask = subtask;
  ctx.parallelism = parallelism;
  ctx.clock = clock;
  ctx.event_time = true;
  return ctx;
}

// Everything a bounded source generates, in one batch.
RecordBatch RunToEnd(const spec::SourceSpec& spec, const SourceContext& ctx, int max_rows = 1000) {
  auto source = MakeSource(spec, spec::JobSpec{});
  EXPECT_TRUE(source.ok());
  RecordBatch batch(std::make_shared<Schema>(spec.schema));
  Status open = (*source)->Open(ctx);
  EXPECT_TRUE(open.ok()) << open.ToString();
  for (int i = 0; i < 1'000'000; ++i) {
    auto state = (*source)->Poll(&batch, max_rows, 0);
    EXPECT_TRUE(state.ok()) << state.status().ToString();
    if (!state.ok() || *state == PollState::kEndOfInput) break;
  }
  EXPECT_EQ((*source)->Watermark().watermark, kMaxWatermark);
  EXPECT_EQ((*source)->stats().records, static_cast<int64_t>(batch.num_rows()));
  return batch;
}

std::string RowText(const RecordBatch& b, size_t r) {
  std::string s;
  for (const Column& c : b.columns) s += c.ValueToString(r) + "|";
  return s + std::to_string(b.event_time[r]);
}

std::vector<std::string> Rows(const RecordBatch& b) {
  std::vector<std::string> out;
  for (size_t r = 0; r < b.num_rows(); ++r) out.push_back(RowText(b, r));
  return out;
}

const Column& Col(const RecordBatch& b, const std::string& name) {
  int i = b.schema->IndexOf(name);
  EXPECT_GE(i, 0) << name;
  return b.columns[static_cast<size_t>(i)];
}

class NexmarkTest : public ::testing::Test {
 protected:
  ManualClock clock_{0};
};

TEST_F(NexmarkTest, DeterministicForASeed) {
  RecordBatch a = RunToEnd(NexmarkSpec("", 2000, 7), Context(&clock_));
  RecordBatch b = RunToEnd(NexmarkSpec("", 2000, 7), Context(&clock_));
  RecordBatch c = RunToEnd(NexmarkSpec("", 2000, 8), Context(&clock_));
  ASSERT_EQ(a.num_rows(), 2000u);
  EXPECT_EQ(Rows(a), Rows(b));
  EXPECT_NE(Rows(a), Rows(c));
}

TEST_F(NexmarkTest, KindsComeInTheProportions1To3To46) {
  RecordBatch batch = RunToEnd(NexmarkSpec("", 5000), Context(&clock_));
  ASSERT_EQ(batch.num_rows(), 5000u);
  std::map<std::string, int> counts;
  const Column& type = Col(batch, "event_type");
  for (size_t r = 0; r < batch.num_rows(); ++r) {
    std::string t(type.GetString(r));
    ++counts[t];
    std::string expected = r % 50 == 0 ? "person" : r % 50 < 4 ? "auction" : "bid";
    ASSERT_EQ(t, expected) << "event " << r;
    // The other kinds' columns are null.
    EXPECT_EQ(Col(batch, "person_id").IsNull(r), t != "person");
    EXPECT_EQ(Col(batch, "auction_id").IsNull(r), t != "auction");
    EXPECT_EQ(Col(batch, "bid_auction").IsNull(r), t != "bid");
  }
  EXPECT_EQ(counts["person"], 100);
  EXPECT_EQ(counts["auction"], 300);
  EXPECT_EQ(counts["bid"], 4600);
}

TEST_F(NexmarkTest, EventTimesFollowTheGeneratorTimeline) {
  RecordBatch batch = RunToEnd(NexmarkSpec("", 100), Context(&clock_));
  const Column& dt = Col(batch, "date_time");
  for (size_t n = 0; n < batch.num_rows(); ++n) {
    // No rate: Nexmark's default 10,000 events/s from the fixed base time.
    EXPECT_EQ(dt.GetInt(n), kBaseTimeMs + static_cast<int64_t>(n) / 10);
    EXPECT_EQ(batch.event_time[n], dt.GetInt(n));
  }
  // With a rate the timeline spaces events 1000 / rate ms apart.
  nexmark::GeneratorConfig config;
  config.rate = 100;
  nexmark::Generator generator(config);
  EXPECT_EQ(generator.Timestamp(7), kBaseTimeMs + 70);
  EXPECT_EQ(generator.Timestamp(150), kBaseTimeMs + 1500);
}

TEST_F(NexmarkTest, OnlyKeepsTheNumberingSoKindsJoin) {
  const int64_t events = 50'000;
  RecordBatch auctions = RunToEnd(NexmarkSpec("auction", events, 3), Context(&clock_));
  RecordBatch persons = RunToEnd(NexmarkSpec("person", events, 3), Context(&clock_));
  RecordBatch bids = RunToEnd(NexmarkSpec("bid", events, 3), Context(&clock_));
  ASSERT_EQ(auctions.num_rows(), 3000u);
  ASSERT_EQ(persons.num_rows(), 1000u);
  ASSERT_EQ(bids.num_rows(), 46'000u);
  EXPECT_EQ(auctions.schema->ToString(), spec::NexmarkSchema("auction").ToString());

  // Ids are dense from 1000.
  std::set<int64_t> auction_ids, person_ids;
  for (size_t r = 0; r < auctions.num_rows(); ++r)
    auction_ids.insert(Col(auctions, "id").GetInt(r));
  for (size_t r = 0; r < persons.num_rows(); ++r) person_ids.insert(Col(persons, "id").GetInt(r));
  EXPECT_EQ(*auction_ids.begin(), 1000);
  EXPECT_EQ(*auction_ids.rbegin(), 3999);
  EXPECT_EQ(auction_ids.size(), 3000u);
  EXPECT_EQ(*person_ids.rbegin(), 1999);

  // Each bid refers to an auction generated shortly before it (or at most
  // 10 ahead, as in Nexmark) and to a recent person. The bid's event number
  // is known from its time: n = (date_time - base) * 10 + [0, 10).
  int in_set = 0;
  for (size_t r = 0; r < bids.num_rows(); ++r) {
    int64_t auction = Col(bids, "auction").GetInt(r);
    int64_t bidder = Col(bids, "bidder").GetInt(r);
    int64_t n_min = (Col(bids, "date_time").GetInt(r) - kBaseTimeMs) * 10, n_max = n_min + 9;
    ASSERT_LE(auction - 1000, nexmark::LastBase0AuctionId(n_max) + 10) << r;
    ASSERT_GE(auction - 1000, nexmark::LastBase0AuctionId(n_min) - 100) << r;
    ASSERT_LE(bidder - 1000, nexmark::LastBase0PersonId(n_max) + 10) << r;
    ASSERT_GE(bidder, 1000);
    in_set += auction_ids.count(auction) ? 1 : 0;
  }
  EXPECT_GE(in_set, static_cast<int>(bids.num_rows()) - 20);
  // Hot auctions: with hot_auction_ratio 2, about half the bids go to the
  // first auction of the current block of 100.
  std::map<int64_t, int> per_auction;
  for (size_t r = 0; r < bids.num_rows(); ++r) ++per_auction[Col(bids, "auction").GetInt(r)];
  int hot = 0;
  for (auto [id, count] : per_auction) {
    if ((id - 1000) % 100 == 0) hot += count;
  }
  EXPECT_GT(hot, static_cast<int>(bids.num_rows()) * 4 / 10);

  // The combined stream holds the same auctions.
  RecordBatch all = RunToEnd(NexmarkSpec("", events, 3), Context(&clock_));
  std::vector<std::string> a1, a2;
  for (size_t r = 0; r < auctions.num_rows(); ++r) {
    a1.push_back(std::to_string(Col(auctions, "id").GetInt(r)) + "/" +
                 std::string(Col(auctions, "item_name").GetString(r)) + "/" +
                 std::to_string(Col(auctions, "seller").GetInt(r)));
  }
  for (size_t r = 0; r < all.num_rows(); ++r) {
    if (Col(all, "event_type").GetString(r) != "auction") continue;
    a2.push_back(std::to_string(Col(all, "auction_id").GetInt(r)) + "/" +
                 std::string(Col(all, "auction_item_name").GetString(r)) + "/" +
                 std::to_string(Col(all, "auction_seller").GetInt(r)));
  }
  EXPECT_EQ(a1, a2);
}

TEST_F(NexmarkTest, SplitAcrossSubtasksEqualsTheWhole) {
  for (std::string only : {"", "bid", "person"}) {
    RecordBatch whole = RunToEnd(NexmarkSpec(only, 3001), Context(&clock_));
    std::vector<std::string> parts;
    for (int subtask = 0; subtask < 2; ++subtask) {
      RecordBatch part = RunToEnd(NexmarkSpec(only, 3001), Context(&clock_, subtask, 2), 77);
      EXPECT_TRUE(std::is_sorted(part.event_time.begin(), part.event_time.end()));
      for (std::string& row : Rows(part)) parts.push_back(std::move(row));
    }
    std::vector<std::string> rows = Rows(whole);
    std::sort(rows.begin(), rows.end());
    std::sort(parts.begin(), parts.end());
    EXPECT_EQ(rows, parts) << only;
  }
}

TEST_F(NexmarkTest, FieldsHaveTheNexmarkShapes) {
  RecordBatch batch = RunToEnd(NexmarkSpec("", 10'000), Context(&clock_));
  const std::set<std::string> states = {"AZ", "CA", "ID", "OR", "WA", "WY"};
  const std::set<std::string> hot_channels = {"Google", "Facebook", "Baidu", "Apple"};
  int hot_channel_bids = 0, bids = 0;
  for (size_t r = 0; r < batch.num_rows(); ++r) {
    std::string_view type = Col(batch, "event_type").GetString(r);
    if (type == "person") {
      std::string email(Col(batch, "person_email_address").GetString(r));
      EXPECT_NE(email.find('@'), std::string::npos);
      EXPECT_TRUE(email.ends_with(".com")) << email;
      std::string card(Col(batch, "person_credit_card").GetString(r));
      ASSERT_EQ(card.size(), 19u) << card;
      EXPECT_EQ(card[4], ' ');
      EXPECT_TRUE(states.count(std::string(Col(batch, "person_state").GetString(r))));
      EXPECT_NE(Col(batch, "person_name").GetString(r).find(' '), std::string::npos);
    } else if (type == "auction") {
      int64_t initial = Col(batch, "auction_initial_bid").GetInt(r);
      EXPECT_GE(initial, 100);
      EXPECT_LE(initial, 100'000'000);
      EXPECT_GE(Col(batch, "auction_reserve").GetInt(r), initial);
      EXPECT_GT(Col(batch, "auction_expires").GetInt(r), Col(batch, "date_time").GetInt(r));
      int64_t category = Col(batch, "auction_category").GetInt(r);
      EXPECT_TRUE(category >= 10 && category < 15) << category;
      EXPECT_FALSE(Col(batch, "auction_item_name").GetString(r).empty());
    } else {
      ++bids;
      int64_t price = Col(batch, "bid_price").GetInt(r);
      EXPECT_GE(price, 100);
      EXPECT_LE(price, 100'000'000);
      std::string channel(Col(batch, "bid_channel").GetString(r));
      if (hot_channels.count(channel)) {
        ++hot_channel_bids;
      } else {
        EXPECT_TRUE(channel.starts_with("channel-")) << channel;
      }
      EXPECT_TRUE(Col(batch, "bid_url").GetString(r).starts_with("https://www.nexmark.com/"));
      // extra pads a bid to about 100 bytes: 68 +- 20%.
      size_t extra = Col(batch, "bid_extra").GetString(r).size();
      EXPECT_TRUE(extra >= 54 && extra <= 82) << extra;
    }
  }
  EXPECT_GT(hot_channel_bids, bids * 95 / 100);
  EXPECT_LT(hot_channel_bids, bids);
}

TEST_F(NexmarkTest, WatermarkTrailsTheLatestEventTime) {
  spec::SourceSpec spec = NexmarkSpec("bid", 1000);
  spec.event_time->max_out_of_orderness_ms = 500;
  auto source = MakeSource(spec, spec::JobSpec{});
  ASSERT_TRUE(source.ok());
  ASSERT_TRUE((*source)->Open(Context(&clock_)).ok());
  EXPECT_EQ((*source)->Watermark().watermark, kMinWatermark);
  RecordBatch batch(std::make_shared<Schema>(spec.schema));
  ASSERT_TRUE((*source)->Poll(&batch, 100, 0).ok());
  ASSERT_EQ(batch.num_rows(), 100u);
  int64_t max_time = *std::max_element(batch.event_time.begin(), batch.event_time.end());
  EXPECT_EQ((*source)->Watermark().watermark, max_time - 501);
}

TEST_F(NexmarkTest, RateFollowsTheInjectedClock) {
  spec::SourceSpec spec = NexmarkSpec("", 10'000);
  spec.rate = 100;
  ManualClock clock(50'000);
  auto source = MakeSource(spec, spec::JobSpec{});
  ASSERT_TRUE(source.ok());
  ASSERT_TRUE((*source)->Open(Context(&clock)).ok());
  RecordBatch batch(std::make_shared<Schema>(spec.schema));
  ASSERT_TRUE((*source)->Poll(&batch, 1000, 0).ok());
  EXPECT_EQ(batch.num_rows(), 1u);  // event 0 is due at once
  clock.Advance(1000);
  ASSERT_TRUE((*source)->Poll(&batch, 1000, 0).ok());
  EXPECT_EQ(batch.num_rows(), 101u);  // events 1..100
  clock.Advance(5);
  auto state = (*source)->Poll(&batch, 1000, 0);  // event 101 is due at +1010 ms
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(*state, PollState::kOk);
  EXPECT_EQ(batch.num_rows(), 101u);
  // Event times stay on the generator's timeline, not the clock's.
  EXPECT_EQ(batch.event_time[100], kBaseTimeMs + 1000);

  // Two subtasks share the rate.
  ManualClock clock2(0);
  auto sub = MakeSource(spec, spec::JobSpec{});
  ASSERT_TRUE((*sub)->Open(Context(&clock2, 1, 2)).ok());
  clock2.Advance(1000);
  RecordBatch half(std::make_shared<Schema>(spec.schema));
  ASSERT_TRUE((*sub)->Poll(&half, 1000, 0).ok());
  EXPECT_EQ(half.num_rows(), 50u);  // events 1, 3, ..., 99
}

TEST_F(NexmarkTest, ProcessingTimeRowsTakeTheClock) {
  ManualClock clock(123'456);
  SourceContext ctx = Context(&clock);
  ctx.event_time = false;
  RecordBatch batch(std::make_shared<Schema>(spec::NexmarkSchema("person")));
  auto source = MakeSource(NexmarkSpec("person", 500), spec::JobSpec{});
  ASSERT_TRUE((*source)->Open(ctx).ok());
  ASSERT_TRUE((*source)->Poll(&batch, 1000, 0).ok());
  ASSERT_EQ(batch.num_rows(), 10u);
  for (int64_t t : batch.event_time) EXPECT_EQ(t, 123'456);
  EXPECT_EQ((*source)->Watermark().watermark, kMinWatermark);
}

TEST_F(NexmarkTest, UnboundedWithoutEvents) {
  spec::SourceSpec spec = NexmarkSpec("bid", 0);
  spec.events.reset();
  auto source = MakeSource(spec, spec::JobSpec{});
  ASSERT_TRUE((*source)->Open(Context(&clock_)).ok());
  RecordBatch batch(std::make_shared<Schema>(spec.schema));
  for (int i = 0; i < 10; ++i) {
    auto state = (*source)->Poll(&batch, 500, 0);
    ASSERT_TRUE(state.ok());
    EXPECT_EQ(*state, PollState::kOk);
  }
  EXPECT_EQ(batch.num_rows(), 5000u);
}

// ---- positions (checkpoints) ----

// Polls a source `polls` times (or to the end) into *batch.
void PollInto(Source* source, int polls, int max_rows, RecordBatch* batch) {
  for (int i = 0; i < polls; ++i) {
    auto state = source->Poll(batch, max_rows, 0);
    ASSERT_TRUE(state.ok()) << state.status().ToString();
    if (*state == PollState::kEndOfInput) return;
  }
}

// Every subtask of `spec` (parallelism 2) cut after 0, 1, 3 and 7 polls and
// restored: what it emitted before and after the cut is exactly what it
// emits uninterrupted, and its watermark goes on where it was.
void ExpectRestoredRunsEqualTheWhole(const spec::SourceSpec& spec, const Clock* clock) {
  constexpr int kParallelism = 2;
  for (int cut : {0, 1, 3, 7}) {
    SCOPED_TRACE("only '" + spec.only + "', cut after " + std::to_string(cut) + " polls");
    std::vector<std::string> positions;
    std::vector<RecordBatch> before;
    std::vector<int64_t> watermarks;
    for (int sub = 0; sub < kParallelism; ++sub) {
      auto source = MakeSource(spec, spec::JobSpec{});
      ASSERT_TRUE(source.ok());
      ASSERT_TRUE((*source)->Open(Context(clock, sub, kParallelism)).ok());
      before.emplace_back(std::make_shared<Schema>(spec.schema));
      PollInto(source->get(), cut, 37, &before.back());
      watermarks.push_back((*source)->Watermark().watermark);
      auto pos = (*source)->SnapshotPosition();
      ASSERT_TRUE(pos.ok()) << pos.status().ToString();
      positions.push_back(std::move(pos).value());
    }
    for (int sub = 0; sub < kParallelism; ++sub) {
      const SourceContext ctx = Context(clock, sub, kParallelism);
      std::vector<std::string> whole = Rows(RunToEnd(spec, ctx, 37));
      auto source = MakeSource(spec, spec::JobSpec{});
      ASSERT_TRUE((*source)->RestorePositions(positions).ok());
      ASSERT_TRUE((*source)->Open(ctx).ok());
      EXPECT_EQ((*source)->Watermark().watermark, watermarks[static_cast<size_t>(sub)]);
      RecordBatch after(std::make_shared<Schema>(spec.schema));
      PollInto(source->get(), 1'000'000, 37, &after);
      std::vector<std::string> got = Rows(before[static_cast<size_t>(sub)]);
      for (std::string& row : Rows(after)) got.push_back(std::move(row));
      EXPECT_EQ(got, whole);
      EXPECT_EQ((*source)->Watermark().watermark, kMaxWatermark);
    }
  }
}

TEST_F(NexmarkTest, RestoredSubtasksGoOnWithTheSameEvents) {
  for (const char* only : {"", "bid", "person"}) {
    spec::SourceSpec spec = NexmarkSpec(only, 1500);
    spec.event_time->max_out_of_orderness_ms = 50;
    ExpectRestoredRunsEqualTheWhole(spec, &clock_);
  }
}

TEST_F(NexmarkTest, RestoredRateGoesOnFromTheRestoredEvent) {
  spec::SourceSpec spec = NexmarkSpec("", 10'000);
  spec.rate = 100;
  ManualClock clock(50'000);
  std::string position;
  {
    auto source = MakeSource(spec, spec::JobSpec{});
    ASSERT_TRUE((*source)->Open(Context(&clock)).ok());
    clock.Advance(1000);
    RecordBatch batch(std::make_shared<Schema>(spec.schema));
    ASSERT_TRUE((*source)->Poll(&batch, 1000, 0).ok());
    ASSERT_EQ(batch.num_rows(), 101u);  // events 0..100
    position = (*source)->SnapshotPosition().value();
  }
  clock.Advance(60'000);  // the restart took a minute: no burst of a minute's events
  auto source = MakeSource(spec, spec::JobSpec{});
  ASSERT_TRUE((*source)->RestorePositions({position}).ok());
  ASSERT_TRUE((*source)->Open(Context(&clock)).ok());
  RecordBatch batch(std::make_shared<Schema>(spec.schema));
  ASSERT_TRUE((*source)->Poll(&batch, 1000, 0).ok());
  ASSERT_EQ(batch.num_rows(), 1u);  // event 101, due at once
  EXPECT_EQ(batch.event_time[0], kBaseTimeMs + 1010);
  clock.Advance(100);
  ASSERT_TRUE((*source)->Poll(&batch, 1000, 0).ok());
  EXPECT_EQ(batch.num_rows(), 11u);  // events 102..111
}

TEST_F(NexmarkTest, RestoreRejectsAnotherParallelismAndMalformedPositions) {
  spec::SourceSpec spec = NexmarkSpec("bid", 100);
  std::vector<std::string> positions;
  for (int sub = 0; sub < 2; ++sub) {
    auto source = MakeSource(spec, spec::JobSpec{});
    EXPECT_EQ((*source)->SnapshotPosition().status().code(), StatusCode::kFailedPrecondition);
    ASSERT_TRUE((*source)->Open(Context(&clock_, sub, 2)).ok());
    positions.push_back((*source)->SnapshotPosition().value());
    EXPECT_EQ((*source)->RestorePositions(positions).code(), StatusCode::kFailedPrecondition);
  }
  {
    auto source = MakeSource(spec, spec::JobSpec{});
    ASSERT_TRUE((*source)->RestorePositions(positions).ok());
    Status st = (*source)->Open(Context(&clock_, 0, 3));
    EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
    EXPECT_NE(st.message().find("nexmark source 'nx'"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("parallelism 2"), std::string::npos) << st.message();
  }
  for (const std::string& bad :
       {std::string(), std::string("\x05"), positions[0].substr(0, 2), positions[0] + "x"}) {
    auto source = MakeSource(spec, spec::JobSpec{});
    Status st = (*source)->RestorePositions({bad, positions[1]});
    EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
    EXPECT_NE(st.message().find("nexmark source 'nx'"), std::string::npos) << st.message();
  }
  // Positions swapped: subtask 0's bytes say subtask 1.
  auto source = MakeSource(spec, spec::JobSpec{});
  EXPECT_EQ((*source)->RestorePositions({positions[1], positions[0]}).code(),
            StatusCode::kDataLoss);
}

// ---- datagen ----

spec::SourceSpec DatagenSpec(int64_t events) {
  spec::SourceSpec s;
  s.name = "gen";
  s.type = "datagen";
  s.events = events;
  s.seed = 9;
  s.schema = Schema({{"id", TypeId::kBigint},
                     {"name", TypeId::kString},
                     {"score", TypeId::kDouble},
                     {"ok", TypeId::kBoolean},
                     {"ts", TypeId::kTimestamp}});
  return s;
}

TEST(DatagenSource, BoundedRowsSplitAcrossSubtasks) {
  ManualClock clock(1'000'000);
  spec::SourceSpec spec = DatagenSpec(101);
  RecordBatch whole = RunToEnd(spec, Context(&clock));
  ASSERT_EQ(whole.num_rows(), 101u);
  std::vector<std::string> parts;
  for (int subtask = 0; subtask < 2; ++subtask) {
    RecordBatch part = RunToEnd(spec, Context(&clock, subtask, 2), 7);
    EXPECT_EQ(part.num_rows(), subtask == 0 ? 51u : 50u);
    for (std::string& row : Rows(part)) parts.push_back(std::move(row));
  }
  std::vector<std::string> rows = Rows(whole);
  std::sort(rows.begin(), rows.end());
  std::sort(parts.begin(), parts.end());
  EXPECT_EQ(rows, parts);
  std::set<std::string> names;
  for (size_t r = 0; r < whole.num_rows(); ++r) {
    EXPECT_GE(whole.columns[0].GetInt(r), 0);
    EXPECT_LT(whole.columns[0].GetInt(r), 1000);
    names.insert(std::string(whole.columns[1].GetString(r)));
    EXPECT_GE(whole.columns[2].GetDouble(r), 0.0);
    EXPECT_LT(whole.columns[2].GetDouble(r), 1000.0);
    EXPECT_EQ(whole.columns[4].GetInt(r), 1'000'000);
    EXPECT_EQ(whole.event_time[r], 1'000'000);
  }
  EXPECT_GT(names.size(), 5u);
}

TEST(DatagenSource, RateFollowsTheClockAndEventTimeFieldLags) {
  ManualClock clock(10'000);
  spec::SourceSpec spec = DatagenSpec(1000);
  spec.rate = 10;
  spec.event_time = spec::EventTimeSpec{"ts", 200, 0};
  auto source = MakeSource(spec, spec::JobSpec{});
  ASSERT_TRUE(source.ok());
  ASSERT_TRUE((*source)->Open(Context(&clock)).ok());
  RecordBatch batch(std::make_shared<Schema>(spec.schema));
  ASSERT_TRUE((*source)->Poll(&batch, 100, 0).ok());
  EXPECT_EQ(batch.num_rows(), 1u);
  clock.Advance(1000);
  ASSERT_TRUE((*source)->Poll(&batch, 100, 0).ok());
  EXPECT_EQ(batch.num_rows(), 11u);
  for (size_t r = 1; r < batch.num_rows(); ++r) {
    int64_t ts = batch.columns[4].GetInt(r);
    EXPECT_GE(ts, 11'000 - 200);
    EXPECT_LE(ts, 11'000);
    EXPECT_EQ(batch.event_time[r], ts);
  }
  WatermarkStatus wm = (*source)->Watermark();
  int64_t max_ts = *std::max_element(batch.event_time.begin(), batch.event_time.end());
  EXPECT_EQ(wm.watermark, max_ts - 201);
}

TEST(DatagenSource, RestoredSubtasksGoOnWithTheSameRows) {
  ManualClock clock(1'000'000);
  spec::SourceSpec spec = DatagenSpec(500);
  spec.event_time = spec::EventTimeSpec{"ts", 300, 0};
  ExpectRestoredRunsEqualTheWhole(spec, &clock);
}

TEST(DatagenSource, RestoreRejectsAnotherParallelismAndMalformedPositions) {
  ManualClock clock(0);
  spec::SourceSpec spec = DatagenSpec(100);
  auto first = MakeSource(spec, spec::JobSpec{});
  ASSERT_TRUE((*first)->Open(Context(&clock)).ok());
  const std::string position = (*first)->SnapshotPosition().value();
  auto wider = MakeSource(spec, spec::JobSpec{});
  ASSERT_TRUE((*wider)->RestorePositions({position}).ok());
  Status st = (*wider)->Open(Context(&clock, 1, 2));
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("datagen source 'gen'"), std::string::npos) << st.message();
  auto bad = MakeSource(spec, spec::JobSpec{});
  st = (*bad)->RestorePositions({position.substr(1)});
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
  EXPECT_NE(st.message().find("datagen source 'gen'"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace weir::connectors
