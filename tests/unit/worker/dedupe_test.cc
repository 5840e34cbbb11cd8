// Dedupe, driven directly with chosen event times, watermarks and a manual clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
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

std::string Job(const std::string& operators, bool processing_time = false) {
  return std::string(
             "name: t\n"
             "sources:\n"
             "  s:\n"
             "    type: datagen\n"
             "    schema: {k: string, v: bigint, d: double, s: string, ts: timestamp, "
             "b: boolean}\n") +
         (processing_time ? "" : "    event_time: {field: ts}\n") + "operators:\n" + operators +
         "sinks:\n"
         "  o: {from: w, type: blackhole}\n";
}

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
