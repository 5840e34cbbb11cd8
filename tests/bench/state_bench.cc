// Keyed state access through a backend view: RocksDB (worker/state/
// rocksdb_store.h), with the memory backend beside it as the reference.
#include <memory>
#include <string>
#include <vector>

#include "common/keys.h"
#include "tests/bench/bench_util.h"
#include "worker/state/rocksdb_store.h"
#include "worker/state/state_backend.h"

namespace weir::bench {
namespace {

// A backend of the kind range(0) picks (0 memory, 1 RocksDB) in a scratch dir.
struct Fixture {
  ScratchDir dir;
  std::unique_ptr<state::RocksDbStore> store;
  std::unique_ptr<state::KeyedStateBackend> backend;
  std::vector<std::string> keys;
  std::vector<int> groups;

  bool Open(benchmark::State& state) {
    if (state.range(0) != 0) {
      state::RocksDbOptions ro;
      ro.dir = dir.path() + "/db";
      ro.task_cache_bytes = 0;  // RocksDB's own cost of each call (window_bench has the cache)
      auto opened = state::RocksDbStore::Open(ro);
      if (!opened.ok()) {
        state.SkipWithError(opened.status().message().c_str());
        return false;
      }
      store = std::move(opened).value();
      backend = store->NewBackend();
      state.SetLabel("rocksdb");
    } else {
      backend = state::MakeMemoryStateBackend();
      state.SetLabel("memory");
    }
    // Keys as a keyed operator stores them: the encoded bigint key.
    const size_t n = static_cast<size_t>(state.range(1));
    Column col(TypeId::kBigint);
    for (size_t i = 0; i < n; ++i) col.AppendInt(static_cast<int64_t>(1000 + i));
    std::vector<const Column*> cols = {&col};
    keys.resize(n);
    groups.resize(n);
    for (size_t i = 0; i < n; ++i) {
      EncodeKey(cols, i, &keys[i]);
      groups[i] = KeyGroupOf(keys[i], 128);
    }
    return true;
  }
  ~Fixture() {
    backend.reset();
    store.reset();
  }
};

const std::string kValue(24, 'v');  // about a count + max accumulator

// Put over range(1) distinct keys, in a shuffled order.
void BM_StatePut(benchmark::State& state) {
  Fixture f;
  if (!f.Open(state)) return;
  const state::StateId id = f.backend->Register("bench", "put");
  Rng rng(17);
  const size_t n = f.keys.size();
  for (auto _ : state) {
    size_t i = static_cast<size_t>(rng.Uniform(static_cast<int64_t>(n)));
    Status st = f.backend->Put(id, f.groups[i], f.keys[i], kValue);
    if (!st.ok()) {
      state.SkipWithError(st.message().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

// Get of present keys among range(1), random order.
void BM_StateGet(benchmark::State& state) {
  Fixture f;
  if (!f.Open(state)) return;
  const state::StateId id = f.backend->Register("bench", "get");
  for (size_t i = 0; i < f.keys.size(); ++i)
    CheckOk(f.backend->Put(id, f.groups[i], f.keys[i], kValue), state);
  Rng rng(19);
  std::string value;
  const int64_t n = static_cast<int64_t>(f.keys.size());
  for (auto _ : state) {
    size_t i = static_cast<size_t>(rng.Uniform(n));
    auto got = f.backend->Get(id, f.groups[i], f.keys[i], &value);
    if (!got.ok() || !got.value()) {
      state.SkipWithError("Get failed or missed a present key");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

// Get then Put of the same key: an aggregate's read-modify-write.
void BM_StateUpdate(benchmark::State& state) {
  Fixture f;
  if (!f.Open(state)) return;
  const state::StateId id = f.backend->Register("bench", "update");
  Rng rng(23);
  std::string value;
  const int64_t n = static_cast<int64_t>(f.keys.size());
  for (auto _ : state) {
    size_t i = static_cast<size_t>(rng.Uniform(n));
    auto got = f.backend->Get(id, f.groups[i], f.keys[i], &value);
    if (!got.ok()) {
      state.SkipWithError(got.status().message().c_str());
      break;
    }
    if (!got.value()) value = kValue;
    value[0] = static_cast<char>(value[0] + 1);
    Status st = f.backend->Put(id, f.groups[i], f.keys[i], value);
    if (!st.ok()) {
      state.SkipWithError(st.message().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

#define WEIR_STATE_ARGS ArgNames({"rocksdb", "keys"})->ArgsProduct({{0, 1}, {10'000, 200'000}})
BENCHMARK(BM_StatePut)->WEIR_STATE_ARGS;
BENCHMARK(BM_StateGet)->WEIR_STATE_ARGS;
BENCHMARK(BM_StateUpdate)->WEIR_STATE_ARGS;
#undef WEIR_STATE_ARGS

}  // namespace
}  // namespace weir::bench
