// Key encoding and key-group hashing (common/keys.h): done for every row that
// crosses a hash edge and for every row a keyed operator touches.
#include <string>
#include <vector>

#include "common/keys.h"
#include "tests/bench/bench_util.h"

namespace weir::bench {
namespace {

// HashKey alone over keys of range(0) bytes.
void BM_HashKey(benchmark::State& state) {
  const size_t len = static_cast<size_t>(state.range(0));
  Rng rng(3);
  std::vector<std::string> keys(1024);
  for (auto& k : keys) {
    k.resize(len);
    for (auto& c : k) c = static_cast<char>('a' + rng.Uniform(26));
  }
  for (auto _ : state) {
    uint64_t acc = 0;
    for (const auto& k : keys) acc += HashKey(k);
    benchmark::DoNotOptimize(acc);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(keys.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(keys.size() * len));
}
BENCHMARK(BM_HashKey)->ArgName("bytes")->Arg(9)->Arg(32);

// What the hash edge does per row: encode the key columns, hash, key group,
// owning subtask. range(0) = 0: key by auction (bigint); 1: by (channel, url).
void BM_KeyGroupOfRows(benchmark::State& state) {
  Rng rng(5);
  RecordBatch batch = MakeBidBatch(rng, 0, 1024);
  std::vector<const Column*> cols;
  if (state.range(0) == 0) {
    cols = {&batch.columns[0]};
    state.SetLabel("auction");
  } else {
    cols = {&batch.columns[3], &batch.columns[4]};
    state.SetLabel("channel,url");
  }
  std::vector<int> target(batch.num_rows());
  std::string key;
  for (auto _ : state) {
    for (size_t r = 0; r < batch.num_rows(); ++r) {
      key.clear();
      EncodeKey(cols, r, &key);
      int kg = KeyGroupOf(key, 128);
      target[r] = SubtaskForKeyGroup(kg, 2, 128);
    }
    benchmark::DoNotOptimize(target.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch.num_rows()));
}
BENCHMARK(BM_KeyGroupOfRows)->ArgName("key")->Arg(0)->Arg(1);

}  // namespace
}  // namespace weir::bench
