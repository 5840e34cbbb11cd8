// Keyed operators resumed on the state of an earlier instance, as after a
// restore from a checkpoint: instance A runs part of a script of batches,
// watermarks and clock ticks on a memory state backend and is destroyed
// without Finish; instance B is opened on the same backend and runs the rest.
// The rows A and B emit together (both ports) and their counters summed must
// equal those of one instance that ran the whole script. Cuts are between two
// calls (a checkpoint is taken at a barrier, between two elements).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "common/spec/job_spec.h"
#include "common/time.h"
#include "common/watermark.h"
#include "tests/unit/worker/test_util.h"
#include "worker/operators/stateful_internal.h"
#include "worker/runtime/operator.h"
#include "worker/state/state_backend.h"

namespace weir::operators {
namespace {

using testutil::Collector;
using testutil::CountStateEntries;
using testutil::L;
using testutil::Row;
using testutil::Rt;

// One call on the operator. The clock reads `clock` during the call.
struct Step {
  enum class Kind { kBatch, kWatermark, kTime };
  Kind kind = Kind::kBatch;
  int input = 0;          // kBatch
  std::vector<Row> rows;  // kBatch
  int64_t watermark = 0;  // kWatermark
  int64_t clock = 0;
};
using Script = std::vector<Step>;

Step Batch(std::vector<Row> rows, int input = 0, int64_t clock = 0) {
  Step s;
  s.rows = std::move(rows);
  s.input = input;
  s.clock = clock;
  return s;
}
Step Watermark(int64_t wm) {
  Step s;
  s.kind = Step::Kind::kWatermark;
  s.watermark = wm;
  return s;
}
Step Tick(int64_t clock) {
  Step s;
  s.kind = Step::Kind::kTime;
  s.clock = clock;
  return s;
}

// What a run produced: rows per port (sorted: the order within a firing is
// unspecified) and the counters summed over its instances.
// and the entries left in its state (timers lost in a restore leave entries
// behind that should have been cleaned up).
struct Outcome {
  std::map<int, std::vector<std::string>> rows;
  int64_t late_dropped = 0, late_emitted = 0, windows_fired = 0, duplicates_dropped = 0,
          join_matches = 0;
  std::map<std::string, int> state_entries;
  bool operator==(const Outcome& o) const {
    return std::tie(rows, late_dropped, late_emitted, windows_fired, duplicates_dropped,
                    join_matches, state_entries) == std::tie(o.rows, o.late_dropped, o.late_emitted,
                                                             o.windows_fired, o.duplicates_dropped,
                                                             o.join_matches, o.state_entries);
  }
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  for (const auto& [port, rows] : o.rows) {
    os << "port " << port << ":";
    for (const std::string& r : rows) os << " " << r;
    os << "\n";
  }
  for (const auto& [name, n] : o.state_entries) os << "state " << name << ": " << n << "\n";
  return os << "late_dropped " << o.late_dropped << ", late_emitted " << o.late_emitted
            << ", windows_fired " << o.windows_fired << ", duplicates_dropped "
            << o.duplicates_dropped << ", join_matches " << o.join_matches;
}

// Every state name a keyed operator uses.
constexpr const char* kStateNames[] = {"windows",      "sessions", "count",   "seen",
                                       "accumulators", "buffers",  "progress"};

class OperatorRestoreTest : public testutil::OperatorTestBase {
 protected:
  void Init(const std::string& yaml, const std::string& name = "w") { LoadOperator(yaml, name); }

  std::unique_ptr<runtime::Operator> NewInstance(state::KeyedStateBackend* backend,
                                                 KeyGroupRange range = {0, 127}) {
    // batch_size 3: several output batches per firing
    auto opened = OpenInstance(backend, range, /*batch_size=*/3);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    return opened.ok() ? std::move(opened).value() : nullptr;
  }

  void RunStep(runtime::Operator* op, const Step& step, Collector* out) {
    clock_.Set(step.clock);
    Status st;
    switch (step.kind) {
      case Step::Kind::kBatch: {
        RecordBatch b = MakeBatch(step.input, step.rows);
        st = op->ProcessBatch(step.input, b, *out);
        break;
      }
      case Step::Kind::kWatermark:
        st = op->ProcessWatermark(step.watermark, *out);
        break;
      case Step::Kind::kTime:
        st = op->ProcessTime(step.clock, *out);
        break;
    }
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  static void AddStats(const runtime::Operator& op, Outcome* o) {
    const KeyedOperatorStats& s = dynamic_cast<const KeyedOperator&>(op).stats();
    o->late_dropped += s.late_dropped;
    o->late_emitted += s.late_emitted;
    o->windows_fired += s.windows_fired;
    o->duplicates_dropped += s.duplicates_dropped;
    o->join_matches += s.join_matches;
  }

  // Runs the script, replacing the instance by a new one on the same backend
  // before every step whose index is in `restores` (restores[i] ==
  // script.size(): before Finish), and then gives the new instance a
  // watermark older than the last one, as restored sources whose watermarks
  // start over do: it must change nothing. The last instance finishes.
  Outcome Run(const Script& script, const std::vector<size_t>& restores) {
    auto backend = state::MakeMemoryStateBackend();
    Collector out;
    Outcome o;
    std::unique_ptr<runtime::Operator> op = NewInstance(backend.get());
    int64_t last_watermark = kMinWatermark;
    for (size_t i = 0; i <= script.size(); ++i) {
      if (std::find(restores.begin(), restores.end(), i) != restores.end()) {
        AddStats(*op, &o);
        op.reset();  // destroyed without Finish
        op = NewInstance(backend.get());
        if (last_watermark != kMinWatermark) {
          Step older = Watermark(last_watermark - 3);
          older.clock = i > 0 ? script[i - 1].clock : 0;
          RunStep(op.get(), older, &out);
        }
      }
      if (i == script.size()) break;
      RunStep(op.get(), script[i], &out);
      if (script[i].kind == Step::Kind::kWatermark) last_watermark = script[i].watermark;
    }
    Status st = op->Finish(out);
    EXPECT_TRUE(st.ok()) << st.ToString();
    AddStats(*op, &o);
    o.rows = out.TakeAll();
    for (const char* name : kStateNames) {
      const int n = static_cast<int>(CountStateEntries(*backend, op_->name, name));
      if (n > 0) o.state_entries[name] = n;
    }
    return o;
  }

  // The whole script uninterrupted, then with one restore at every possible
  // cut, then with a restore before every step: all the same.
  void ExpectRestoresAreInvisible(const Script& script) {
    const Outcome whole = Run(script, {});
    ASSERT_FALSE(whole.rows.empty()) << "the script emits nothing: it proves nothing";
    for (size_t cut = 0; cut <= script.size(); ++cut) {
      EXPECT_EQ(Run(script, {cut}), whole) << "restored before step " << cut;
      if (HasFailure()) return;
    }
    std::vector<size_t> every(script.size() + 1);
    for (size_t i = 0; i < every.size(); ++i) every[i] = i;
    EXPECT_EQ(Run(script, every), whole) << "restored before every step";
  }
};

// ---- jobs and rows ----

// One datagen source s (k string, v bigint, ts timestamp), event time from
// ts unless processing_time, and operator w; a late stream `late_rows` may
// be named by w.
std::string KeyedJob(const std::string& op, bool processing_time = false) {
  return testutil::Job(
      "  - name: w\n    from: s\n    key_by: [k]\n" + op, processing_time,
      op.find("late_rows") != std::string::npos ? "  l: {from: late_rows, type: blackhole}\n" : "",
      "{k: string, v: bigint, ts: timestamp}");
}

// Left l (id bigint, name string, ts), right r (lid bigint, amount double,
// ts), joined by w.
std::string JoinJob(const std::string& join, bool processing_time = false) {
  return testutil::JoinJob(join, processing_time, "w");
}

Row R(const std::string& k, int64_t v, int64_t t) {
  return {t, {k, v, t}};
}

// A random event-time script: batches of 1-4 rows with keys a..c (ids 1..3
// for joins, on inputs 0 and 1) and times around the watermark, some behind
// it (late), interleaved with watermarks that rise by 1-8.
Script RandomScript(uint32_t seed, int steps, bool join) {
  std::mt19937 rng(seed);
  Script script;
  int64_t wm = -10;
  int serial = 0;
  for (int i = 0; i < steps; ++i) {
    if (rng() % 10 < 6) {
      std::vector<Row> rows;
      const int input = join ? static_cast<int>(rng() % 2) : 0;
      for (int n = 1 + static_cast<int>(rng() % 4); n > 0; --n) {
        const int64_t t = wm - 8 + static_cast<int64_t>(rng() % 30);
        const int key = static_cast<int>(rng() % 3);
        ++serial;
        if (!join)
          rows.push_back(R(std::string(1, static_cast<char>('a' + key)), serial, t));
        else if (input == 0)
          rows.push_back(L(key + 1, "n" + std::to_string(serial), t));
        else
          rows.push_back(Rt(key + 1, serial * 0.5, t));
      }
      script.push_back(Batch(std::move(rows), input));
    } else {
      wm += 1 + static_cast<int64_t>(rng() % 8);
      script.push_back(Watermark(wm));
    }
  }
  return script;
}

// A random processing-time script: the clock rises by 0-6 per step; batches
// (their rows take the clock's time) and ticks.
Script RandomClockScript(uint32_t seed, int steps, bool join) {
  std::mt19937 rng(seed);
  Script script;
  int64_t now = 1000;
  int serial = 0;
  for (int i = 0; i < steps; ++i) {
    now += static_cast<int64_t>(rng() % 7);
    if (rng() % 10 < 6) {
      std::vector<Row> rows;
      const int input = join ? static_cast<int>(rng() % 2) : 0;
      for (int n = 1 + static_cast<int>(rng() % 3); n > 0; --n) {
        const int key = static_cast<int>(rng() % 3);
        ++serial;
        if (!join)
          rows.push_back(R(std::string(1, static_cast<char>('a' + key)), serial, 0));
        else if (input == 0)
          rows.push_back(L(key + 1, "n" + std::to_string(serial), 0));
        else
          rows.push_back(Rt(key + 1, serial * 0.5, 0));
      }
      script.push_back(Batch(std::move(rows), input, now));
    } else {
      script.push_back(Tick(now));
    }
  }
  return script;
}

constexpr int kSteps = 40;
constexpr uint32_t kSeeds[] = {1, 2, 3};

// ---- windows ----

TEST_F(OperatorRestoreTest, TumblingWindowBetweenFireAndCleanup) {
  Init(
      KeyedJob("    window: {tumbling: 10ms, allowed_lateness: 5ms, late: late_rows}\n"
               "    aggregate: {n: count(), total: sum(v), f: first(v), l: last(v)}\n"));
  ExpectRestoresAreInvisible({
      Batch({R("a", 1, 1), R("a", 2, 2), R("b", 3, 12)}),
      Watermark(9),                             // [0,10) of a fires, kept until 14
      Batch({R("a", 4, 3)}),                    // re-fires at once
      Batch({R("c", 5, 5), R("b", 6, 15)}),     // a new window already past its end
      Watermark(13),                            //
      Batch({R("a", 7, 9)}),                    // re-fires again
      Watermark(14),                            // cleanup of [0,10)
      Batch({R("a", 8, 4), R("b", 9, 19)}),     // late -> late stream; b in [10,20)
      Watermark(19),                            // [10,20) fires
      Batch({R("b", 10, 11)}),                  // re-fires
      Watermark(30),                            // cleanup
      Batch({R("b", 11, 12), R("a", 12, 35)}),  // late; [30,40) left for Finish
  });
}

TEST_F(OperatorRestoreTest, TumblingWindowsWithoutLateness) {
  Init(
      KeyedJob("    window: {tumbling: 10ms}\n"
               "    aggregate: {n: count(), total: sum(v), lo: min(v)}\n"));
  for (uint32_t seed : kSeeds) ExpectRestoresAreInvisible(RandomScript(seed, kSteps, false));
}

TEST_F(OperatorRestoreTest, TumblingWindowsWithLatenessAndALateStream) {
  Init(
      KeyedJob("    window: {tumbling: 10ms, allowed_lateness: 6ms, late: late_rows}\n"
               "    aggregate: {n: count(), total: sum(v), f: first(v), l: last(v)}\n"));
  for (uint32_t seed : kSeeds) ExpectRestoresAreInvisible(RandomScript(seed, kSteps, false));
}

TEST_F(OperatorRestoreTest, SlidingWindowsWithLateness) {
  Init(
      KeyedJob("    window: {sliding: {size: 10ms, slide: 5ms}, allowed_lateness: 3ms}\n"
               "    aggregate: {n: count(), total: sum(v), d: count_distinct(v)}\n"));
  for (uint32_t seed : kSeeds) ExpectRestoresAreInvisible(RandomScript(seed, kSteps, false));
}

TEST_F(OperatorRestoreTest, SessionWindowsWithLatenessAndALateStream) {
  Init(
      KeyedJob("    window: {session: {gap: 5ms}, allowed_lateness: 4ms, late: late_rows}\n"
               "    aggregate: {n: count(), total: sum(v), f: first(v), l: last(v)}\n"));
  for (uint32_t seed : kSeeds) ExpectRestoresAreInvisible(RandomScript(seed, kSteps, false));
}

TEST_F(OperatorRestoreTest, SessionWindowsWithoutLateness) {
  Init(
      KeyedJob("    window: {session: {gap: 7ms}}\n"
               "    aggregate: {n: count(), f: first(v), l: last(v)}\n"));
  for (uint32_t seed : kSeeds) ExpectRestoresAreInvisible(RandomScript(seed, kSteps, false));
}

TEST_F(OperatorRestoreTest, CountWindows) {
  Init(
      KeyedJob("    window: {count: 3}\n"
               "    aggregate: {n: count(), total: sum(v), f: first(v), l: last(v)}\n"));
  for (uint32_t seed : kSeeds) ExpectRestoresAreInvisible(RandomScript(seed, kSteps, false));
}

TEST_F(OperatorRestoreTest, ProcessingTimeTumblingWindows) {
  Init(
      KeyedJob("    window: {tumbling: 10ms}\n"
               "    aggregate: {n: count(), total: sum(v)}\n",
               /*processing_time=*/true));
  for (uint32_t seed : kSeeds) ExpectRestoresAreInvisible(RandomClockScript(seed, kSteps, false));
}

TEST_F(OperatorRestoreTest, ProcessingTimeSessionWindows) {
  Init(
      KeyedJob("    window: {session: {gap: 4ms}}\n"
               "    aggregate: {n: count(), l: last(v)}\n",
               /*processing_time=*/true));
  for (uint32_t seed : kSeeds) ExpectRestoresAreInvisible(RandomClockScript(seed, kSteps, false));
}

// ---- dedupe and reduce ----

TEST_F(OperatorRestoreTest, Dedupe) {
  Init(KeyedJob("    dedupe: {within: 6ms}\n"));
  for (uint32_t seed : kSeeds) ExpectRestoresAreInvisible(RandomScript(seed, kSteps, false));
}

TEST_F(OperatorRestoreTest, DedupeKeyFirstSeenAfterTheLastWatermark) {
  Init(KeyedJob("    dedupe: {within: 5ms}\n"));
  ExpectRestoresAreInvisible({
      Batch({R("a", 1, 0)}),
      Watermark(20),          // a forgotten
      Batch({R("a", 2, 3)}),  // behind the watermark: emitted, expires at the next one
      Batch({R("a", 3, 4)}),  // duplicate until then
      Watermark(21), Batch({R("a", 4, 4)}),  // emitted again
  });
}

TEST_F(OperatorRestoreTest, ProcessingTimeDedupe) {
  Init(KeyedJob("    dedupe: {within: 5ms}\n", /*processing_time=*/true));
  for (uint32_t seed : kSeeds) ExpectRestoresAreInvisible(RandomClockScript(seed, kSteps, false));
}

TEST_F(OperatorRestoreTest, Reduce) {
  Init(
      KeyedJob("    reduce: {n: \"count()\", total: \"sum(v)\", f: \"first(v)\", "
               "l: \"last(v)\"}\n"));
  for (uint32_t seed : kSeeds) ExpectRestoresAreInvisible(RandomScript(seed, kSteps, false));
}

// ---- joins ----

TEST_F(OperatorRestoreTest, IntervalJoin) {
  Init(JoinJob("{left: l, right: r, on: \"l.id = r.lid\", within: 6ms}"));
  for (uint32_t seed : kSeeds) ExpectRestoresAreInvisible(RandomScript(seed, kSteps, true));
}

TEST_F(OperatorRestoreTest, ProcessingTimeIntervalJoin) {
  Init(JoinJob("{left: l, right: r, on: \"l.id = r.lid\", within: 5ms}",
               /*processing_time=*/true));
  for (uint32_t seed : kSeeds) ExpectRestoresAreInvisible(RandomClockScript(seed, kSteps, true));
}

TEST_F(OperatorRestoreTest, TumblingWindowJoin) {
  Init(JoinJob("{left: l, right: r, on: \"l.id = r.lid\", window: {tumbling: 10ms}}"));
  for (uint32_t seed : kSeeds) ExpectRestoresAreInvisible(RandomScript(seed, kSteps, true));
}

TEST_F(OperatorRestoreTest, SlidingWindowJoin) {
  Init(
      JoinJob("{left: l, right: r, on: \"l.id = r.lid\", "
              "window: {sliding: {size: 10ms, slide: 5ms}}}"));
  for (uint32_t seed : kSeeds) ExpectRestoresAreInvisible(RandomScript(seed, kSteps, true));
}

TEST_F(OperatorRestoreTest, SessionWindowJoin) {
  Init(JoinJob("{left: l, right: r, on: \"l.id = r.lid\", window: {session: {gap: 6ms}}}"));
  for (uint32_t seed : kSeeds) ExpectRestoresAreInvisible(RandomScript(seed, kSteps, true));
}

TEST_F(OperatorRestoreTest, ProcessingTimeWindowJoin) {
  Init(JoinJob("{left: l, right: r, on: \"l.id = r.lid\", window: {tumbling: 10ms}}",
               /*processing_time=*/true));
  for (uint32_t seed : kSeeds) ExpectRestoresAreInvisible(RandomClockScript(seed, kSteps, true));
}

// ---- the stored progress ----

TEST_F(OperatorRestoreTest, MalformedStateFailsOpenWithDataLoss) {
  Init(KeyedJob("    window: {tumbling: 10ms}\n    aggregate: {n: count()}\n"));
  auto backend = state::MakeMemoryStateBackend();
  ASSERT_TRUE(backend->Put(backend->Register("w", "windows"), 5, "abc", "").ok());
  auto made = runtime::MakeOperator(*op_, *job_, inputs_);
  ASSERT_TRUE(made.ok());
  runtime::OperatorContext ctx;
  ctx.state = backend.get();
  ctx.key_groups = {0, 127};
  Status st = (*made)->Open(ctx);
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
  EXPECT_NE(st.message().find("'w'"), std::string::npos) << st.message();

  auto backend2 = state::MakeMemoryStateBackend();
  ASSERT_TRUE(backend2->Put(backend2->Register("w", "progress"), 0, "", "\x07").ok());
  auto made2 = runtime::MakeOperator(*op_, *job_, inputs_);
  ASSERT_TRUE(made2.ok());
  ctx.state = backend2.get();
  st = (*made2)->Open(ctx);
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
}

TEST(OperatorProgress, SameRangeGetsItsOwnTimeBack) {
  auto backend = state::MakeMemoryStateBackend();
  const state::StateId data = backend->Register("op", "windows");
  runtime::OperatorContext ctx;
  ctx.state = backend.get();
  ctx.max_parallelism = 128;
  ctx.key_groups = {64, 127};
  OperatorProgress a;
  auto first = a.Open(ctx, "op", data);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, kMinWatermark);
  ASSERT_TRUE(a.Store(-42).ok());
  ASSERT_TRUE(a.Store(1234).ok());
  OperatorProgress b;
  auto restored = b.Open(ctx, "op", data);
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(*restored, 1234);
}

TEST(OperatorProgress, AFreshSubtaskIgnoresItsRunningSiblings) {
  auto backend = state::MakeMemoryStateBackend();  // shared, as the process's RocksDB
  const state::StateId data = backend->Register("op", "windows");
  runtime::OperatorContext ctx;
  ctx.state = backend.get();
  ctx.max_parallelism = 128;
  ctx.key_groups = {0, 63};
  OperatorProgress first;
  ASSERT_TRUE(first.Open(ctx, "op", data).ok());
  ASSERT_TRUE(first.Store(5000).ok());
  ASSERT_TRUE(backend->Put(data, 3, "k", "v").ok());
  ctx.key_groups = {64, 127};  // opens later, with nothing of its own yet
  OperatorProgress second;
  auto t = second.Open(ctx, "op", data);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, kMinWatermark);
}

TEST(OperatorProgress, AnotherRangeTakesTheLowestTimeAndKeepsOneEntry) {
  auto backend = state::MakeMemoryStateBackend();
  const state::StateId id = backend->Register("op", "progress");
  const state::StateId data = backend->Register("op", "windows");
  runtime::OperatorContext ctx;
  ctx.state = backend.get();
  ctx.max_parallelism = 128;
  // Two old subtasks of 4 ([0,31], [32,63], ...) stored 500 and 300.
  for (auto [range, time] :
       {std::pair{KeyGroupRange{0, 31}, 500}, std::pair{KeyGroupRange{32, 63}, 300}}) {
    ctx.key_groups = range;
    OperatorProgress p;
    ASSERT_TRUE(p.Open(ctx, "op", data).ok());
    ASSERT_TRUE(p.Store(time).ok());
  }
  // A new range holding both first key groups: the lower time, one entry left.
  ctx.key_groups = {0, 63};
  OperatorProgress merged;
  auto t = merged.Open(ctx, "op", data);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, 300);
  int entries = 0;
  ASSERT_TRUE(backend
                  ->Scan(id, {0, 127},
                         [&](int kg, std::string_view, std::string_view) {
                           EXPECT_EQ(kg, 0);
                           ++entries;
                           return true;
                         })
                  .ok());
  EXPECT_EQ(entries, 1);
  // A range holding state but no first key group looks anywhere.
  ASSERT_TRUE(backend->Put(data, 75, "k", "v").ok());
  ctx.key_groups = {70, 90};
  OperatorProgress elsewhere;
  t = elsewhere.Open(ctx, "op", data);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, 300);
  // No key groups: nothing stored, nothing read.
  ctx.key_groups = {5, 4};
  OperatorProgress none;
  t = none.Open(ctx, "op", data);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, kMinWatermark);
  EXPECT_TRUE(none.Store(7).ok());
}

}  // namespace
}  // namespace weir::operators
