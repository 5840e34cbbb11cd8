// Window aggregation (worker/operators, made by runtime::MakeOperator) on the
// memory state backend and on RocksDB, fed bid batches with advancing event
// time and a watermark after every batch, so windows open, fill and fire as
// in Nexmark q5 and q7.
#include <memory>
#include <string>
#include <vector>

#include "common/time.h"
#include "tests/bench/bench_util.h"
#include "worker/runtime/operator.h"
#include "worker/state/rocksdb_store.h"
#include "worker/state/state_backend.h"

namespace weir::bench {
namespace {

class CountingOutput final : public runtime::Output {
 public:
  void Emit(int port, RecordBatch& batch) override { rows += batch.num_rows(); }
  size_t rows = 0;
};

std::string WindowJob(int kind) {
  const char* window = kind == 0 ? "{tumbling: 10s}" : "{sliding: {size: 10s, slide: 2s}}";
  return std::string(
             "name: bench-window\n"
             "sources:\n"
             "  bids: {type: nexmark, only: bid, events: 1000, seed: 1}\n"
             "operators:\n"
             "  - name: per_auction\n"
             "    from: bids\n"
             "    key_by: [auction]\n"
             "    window: ") +
         window +
         "\n"
         "    aggregate: {num: count(), top: max(price)}\n"
         "sinks:\n"
         "  out: {from: per_auction, type: blackhole}\n";
}

// range(0): 0 = memory backend, 1 = RocksDB written through (every state
// call reaches RocksDB), 2 = RocksDB behind the task's write-back cache,
// flushed every 10 batches (1 s of event time: a checkpoint every second);
// range(1): 0 = tumbling 10 s, 1 = sliding 10 s every 2 s; range(2):
// distinct auctions (keys).
void BM_WindowAggregate(benchmark::State& state) {
  const int backend_kind = static_cast<int>(state.range(0));
  const bool rocks = backend_kind != 0;
  const int kind = static_cast<int>(state.range(1));
  const int64_t keys = state.range(2);
  static const char* const kBackends[] = {"memory", "rocksdb", "rocksdb+cache"};
  state.SetLabel(std::string(kBackends[backend_kind]) + (kind == 0 ? " tumbling" : " sliding"));

  auto job = ParseJobOrDie(WindowJob(kind));
  const spec::OperatorSpec& op = job->operators.front();
  std::vector<const Schema*> inputs = {job->StreamSchema("bids")};

  ScratchDir dir;
  std::unique_ptr<state::RocksDbStore> store;
  std::unique_ptr<state::KeyedStateBackend> backend;
  if (rocks) {
    state::RocksDbOptions ro;
    ro.dir = dir.path() + "/db";
    ro.task_cache_bytes = backend_kind == 2 ? ro.task_cache_bytes : 0;
    auto opened = state::RocksDbStore::Open(ro);
    if (!opened.ok()) {
      state.SkipWithError(opened.status().message().c_str());
      return;
    }
    store = std::move(opened).value();
    backend = store->NewBackend();
  } else {
    backend = state::MakeMemoryStateBackend();
  }

  auto made = runtime::MakeOperator(op, *job, inputs);
  if (!made.ok()) {
    state.SkipWithError(made.status().message().c_str());
    return;
  }
  std::unique_ptr<runtime::Operator> oper = std::move(made).value();
  ManualClock clock(0);
  runtime::OperatorContext ctx;
  ctx.job = "bench";
  ctx.clock = &clock;
  ctx.event_time = true;
  ctx.state = backend.get();
  ctx.max_parallelism = 128;
  ctx.key_groups = KeyGroupRangeFor(0, 1, 128);
  Status st = oper->Open(ctx);
  if (!st.ok()) {
    state.SkipWithError(st.message().c_str());
    return;
  }

  // One template batch (1024 bids, ~100 ms of event time); each iteration
  // processes a copy shifted to the next stretch of the timeline.
  constexpr size_t kRows = 1024;
  Rng rng(13);
  const RecordBatch tmpl = MakeBidBatch(rng, 0, kRows, keys);
  const int64_t span = tmpl.event_time.back() - tmpl.event_time.front() + 1;
  CountingOutput out;
  int64_t shift = 0;
  int64_t batches = 0;
  for (auto _ : state) {
    state.PauseTiming();
    RecordBatch batch = tmpl;
    for (auto& t : batch.event_time) t += shift;
    for (auto& t : batch.columns[5].mutable_ints()) t += shift;
    shift += span;
    state.ResumeTiming();
    st = oper->ProcessBatch(0, batch, out);
    if (st.ok()) st = oper->ProcessWatermark(batch.event_time.back() - 1, out);
    if (st.ok() && ++batches % 10 == 0) st = backend->Flush();
    if (!st.ok()) {
      state.SkipWithError(st.message().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kRows));
  state.counters["rows_out"] = static_cast<double>(out.rows);
  oper.reset();
  backend.reset();
  store.reset();
}
BENCHMARK(BM_WindowAggregate)
    ->ArgNames({"rocksdb", "sliding", "keys"})
    ->ArgsProduct({{0, 1, 2}, {0, 1}, {1000}});

}  // namespace
}  // namespace weir::bench
