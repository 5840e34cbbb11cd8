// Interval and window joins, driven directly with chosen event times, watermarks and a manual
// clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "common/spec/job_spec.h"
#include "common/time.h"
#include "worker/operators/stateful_internal.h"
#include "worker/runtime/operator.h"
#include "worker/state/state_backend.h"

namespace weir::operators {
namespace {

// The harness below is the same as window_test.cc's.
using Value = std::variant<std::monostate, int64_t, double, std::string, bool>;
const Value kNull{};

struct Row {
  int64_t time;
  std::vector<Value> values;
};

class Collector final : public runtime::Output {
 public:
  void Emit(int port, RecordBatch& b) override { batches[port].push_back(std::move(b)); }
  // "v1|v2|...@event_time" per row emitted on `port`, sorted (the order of
  // rows within a firing is unspecified); forgets them.
  std::vector<std::string> Take(int port = 0) {
    std::vector<std::string> rows;
    for (const RecordBatch& b : batches[port]) {
      for (size_t r = 0; r < b.num_rows(); ++r) {
        std::string s;
        for (size_t c = 0; c < b.columns.size(); ++c)
          s += (c ? "|" : "") + b.columns[c].ValueToString(r);
        rows.push_back(s + "@" + std::to_string(b.event_time[r]));
      }
    }
    batches[port].clear();
    std::sort(rows.begin(), rows.end());
    return rows;
  }
  std::map<int, std::vector<RecordBatch>> batches;
};

// Parses a job, builds one operator through the factory and opens it with a
// manual clock and a memory state backend.
class OperatorHarness : public ::testing::Test {
 protected:
  void Init(const std::string& yaml, const std::string& name, int batch_size = 1024) {
    spec::LoadResult r = spec::ParseJob(
        yaml, "t.yaml", [](const std::string&) { return std::optional<std::string>(); });
    ASSERT_NE(r.job, nullptr) << spec::FormatDiagnostics("t.yaml", r.diagnostics);
    job_ = std::move(r.job);
    for (const auto& o : job_->operators)
      if (o.name == name) op_ = &o;
    ASSERT_NE(op_, nullptr);
    for (const auto& f : op_->from) inputs_.push_back(job_->StreamSchema(f));
    auto made = runtime::MakeOperator(*op_, *job_, inputs_);
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    oper_ = std::move(made).value();
    runtime::OperatorContext ctx;
    ctx.job = "t";
    ctx.clock = &clock_;
    ctx.event_time = job_->event_time;
    ctx.state = state_.get();
    ctx.max_parallelism = 128;
    ctx.key_groups = {0, 127};
    ctx.batch_size = batch_size;
    Status st = oper_->Open(ctx);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  RecordBatch MakeBatch(int input, const std::vector<Row>& rows) {
    RecordBatch b(std::make_shared<Schema>(*inputs_[static_cast<size_t>(input)]));
    for (const Row& row : rows) {
      EXPECT_EQ(row.values.size(), b.columns.size());
      for (size_t c = 0; c < b.columns.size() && c < row.values.size(); ++c) {
        Column& col = b.columns[c];
        const Value& v = row.values[c];
        if (std::holds_alternative<std::monostate>(v))
          col.AppendNull();
        else if (auto* i = std::get_if<int64_t>(&v))
          col.AppendInt(*i);
        else if (auto* d = std::get_if<double>(&v))
          col.AppendDouble(*d);
        else if (auto* s = std::get_if<std::string>(&v))
          col.AppendString(*s);
        else
          col.AppendBool(std::get<bool>(v));
      }
      b.event_time.push_back(row.time);
    }
    return b;
  }

  void Feed(int input, const std::vector<Row>& rows) {
    RecordBatch b = MakeBatch(input, rows);
    Status st = oper_->ProcessBatch(input, b, out_);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  void Feed(const std::vector<Row>& rows) { Feed(0, rows); }
  void Watermark(int64_t wm) { ASSERT_TRUE(oper_->ProcessWatermark(wm, out_).ok()); }
  void Time(int64_t now) { ASSERT_TRUE(oper_->ProcessTime(now, out_).ok()); }
  void Finish() { ASSERT_TRUE(oper_->Finish(out_).ok()); }
  std::vector<std::string> Take(int port = 0) { return out_.Take(port); }
  const KeyedOperatorStats& Stats() { return dynamic_cast<KeyedOperator&>(*oper_).stats(); }

  // Entries of the operator's named state.
  size_t StateEntries(const std::string& state_name) {
    state::StateId id = state_->Register(op_->name, state_name);
    size_t n = 0;
    Status st = state_->Scan(id, {0, 127}, [&](int, std::string_view, std::string_view) {
      ++n;
      return true;
    });
    EXPECT_TRUE(st.ok());
    return n;
  }

  std::unique_ptr<spec::JobSpec> job_;
  const spec::OperatorSpec* op_ = nullptr;
  std::vector<const Schema*> inputs_;
  ManualClock clock_{0};
  std::unique_ptr<state::KeyedStateBackend> state_ = state::MakeMemoryStateBackend();
  std::unique_ptr<runtime::Operator> oper_;
  Collector out_;
};

// Left stream l (id bigint, name string, ts timestamp), right stream r
// (lid bigint, amount double, ts timestamp); the join output is
// id|name|ts|lid|amount|r_ts[|window_start|window_end].
std::string Job(const std::string& join, bool processing_time = false) {
  const std::string et = processing_time ? "" : "    event_time: {field: ts}\n";
  return "name: t\n"
         "sources:\n"
         "  l:\n"
         "    type: datagen\n"
         "    schema: {id: bigint, name: string, ts: timestamp}\n" +
         et +
         "  r:\n"
         "    type: datagen\n"
         "    schema: {lid: bigint, amount: double, ts: timestamp}\n" +
         et +
         "operators:\n"
         "  - name: j\n"
         "    join: " +
         join +
         "\n"
         "sinks:\n"
         "  o: {from: j, type: blackhole}\n";
}

const char* kInterval = "{left: l, right: r, on: \"l.id = r.lid\", within: 10ms}";

Row L(Value id, const std::string& name, int64_t t) {
  return {t, {id, name, t}};
}
Row Rt(Value lid, double amount, int64_t t) {
  return {t, {lid, amount, t}};
}

using Rows = std::vector<std::string>;

class IntervalJoinTest : public OperatorHarness {
 protected:
  void Left(const std::vector<Row>& rows) { Feed(0, rows); }
  void Right(const std::vector<Row>& rows) { Feed(1, rows); }
};

TEST_F(IntervalJoinTest, OutputSchemaIsLeftThenRenamedRight) {
  Init(Job(kInterval), "j");
  EXPECT_EQ(op_->schema.ToString(),
            "(id bigint, name string, ts timestamp, lid bigint, amount double, r_ts timestamp)");
}

TEST_F(IntervalJoinTest, MatchesWithinTheIntervalBoundariesIncluded) {
  Init(Job(kInterval), "j");
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
  Init(Job(kInterval), "j");
  Right({Rt(int64_t{3}, 7.5, 200)});
  EXPECT_EQ(Take(), Rows{});
  Left({L(int64_t{3}, "y", 195), L(int64_t{3}, "q", 189)});
  EXPECT_EQ(Take(), (Rows{"3|y|195|3|7.5|200@200"}));
}

TEST_F(IntervalJoinTest, BufferedRowsExpireAndLateRowsAreDropped) {
  Init(Job(kInterval), "j");
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
  Init(Job(kInterval), "j");
  Left({L(kNull, "n", 5), L(int64_t{1}, "x", 5)});
  Right({Rt(kNull, 1.0, 5), Rt(int64_t{1}, 2.0, 6)});
  EXPECT_EQ(Take(), (Rows{"1|x|5|1|2|6@6"}));
  EXPECT_EQ(StateEntries("buffers"), 1u);
}

TEST_F(IntervalJoinTest, BigintKeyJoinsADoubleKey) {
  Init(Job("{left: l, right: r, on: \"l.id = r.amount\", within: 1s}"), "j");
  Left({L(int64_t{2}, "two", 1), L(int64_t{3}, "three", 1)});
  Right({Rt(int64_t{9}, 2.0, 2), Rt(int64_t{9}, 2.5, 2)});
  EXPECT_EQ(Take(), (Rows{"2|two|1|9|2|2@2"}));
}

TEST_F(IntervalJoinTest, MultiKeyCondition) {
  Init(Job("{left: l, right: r, on: \"l.id = r.lid and l.ts = r.ts\", within: 1s}"), "j");
  Left({L(int64_t{1}, "a", 10), L(int64_t{1}, "b", 20)});
  Right({Rt(int64_t{1}, 1.0, 20), Rt(int64_t{2}, 2.0, 10)});
  EXPECT_EQ(Take(), (Rows{"1|b|20|1|1|20@20"}));
}

TEST_F(IntervalJoinTest, ProcessingTimeUsesTheClock) {
  Init(Job(kInterval, /*processing_time=*/true), "j");
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
  Init(Job("{left: l, right: r, on: \"l.id = r.lid\", within: 15ms}"), "j");
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
  Init(Job("{left: l, right: r, on: \"l.id = r.lid\", window: {tumbling: 10ms}}"), "j");
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
  Init(Job("{left: l, right: r, on: \"l.id = r.lid\", "
           "window: {sliding: {size: 10ms, slide: 5ms}}}"),
       "j");
  Left({L(int64_t{1}, "a", 7)});     // [0,10), [5,15)
  Right({Rt(int64_t{1}, 1.0, 12)});  // [5,15), [10,20)
  Finish();
  EXPECT_EQ(Take(), (Rows{"1|a|7|1|1|12|5|15@14"}));
}

TEST_F(WindowJoinTest, SessionsMergeAcrossBothSides) {
  Init(Job("{left: l, right: r, on: \"l.id = r.lid\", window: {session: {gap: 10ms}}}"), "j");
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
  Init(Job("{left: l, right: r, on: \"l.id = r.lid\", window: {session: {gap: 10ms}}}"), "j");
  Left({L(int64_t{1}, "a", 0)});     // [0,10)
  Right({Rt(int64_t{1}, 1.0, 15)});  // [15,25)
  Right({Rt(int64_t{1}, 2.0, 8)});   // [8,18) bridges both: [0,25)
  Watermark(24);
  EXPECT_EQ(Take(), (Rows{"1|a|0|1|1|15|0|25@24", "1|a|0|1|2|8|0|25@24"}));
}

TEST_F(WindowJoinTest, ProcessingTimeTumbling) {
  Init(Job("{left: l, right: r, on: \"l.id = r.lid\", window: {tumbling: 10ms}}",
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
