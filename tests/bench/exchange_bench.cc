// The exchange's batch serialization (common/batch_codec.h): what a record
// costs to cross a worker boundary, both ways, for Nexmark bids.
#include <benchmark/benchmark.h>

#include <string>

#include "common/batch_codec.h"
#include "tests/bench/bench_util.h"

namespace weir::bench {
namespace {

void BM_ExchangeEncodeBids(benchmark::State& state) {
  Rng rng(11);
  const RecordBatch batch =
      MakeBidBatch(rng, 0, static_cast<size_t>(state.range(0)), /*distinct_auctions=*/1000);
  std::string out;
  for (auto _ : state) {
    out.clear();
    EncodeBatch(batch, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(out.size()));
}
BENCHMARK(BM_ExchangeEncodeBids)->Arg(1024);

void BM_ExchangeDecodeBids(benchmark::State& state) {
  Rng rng(11);
  const RecordBatch batch =
      MakeBidBatch(rng, 0, static_cast<size_t>(state.range(0)), /*distinct_auctions=*/1000);
  std::string bytes;
  EncodeBatch(batch, &bytes);
  RecordBatch decoded(batch.schema);
  for (auto _ : state) {
    decoded.Clear();
    Status st = DecodeBatch(bytes, &decoded);
    if (!st.ok()) state.SkipWithError(st.message().c_str());
    benchmark::DoNotOptimize(decoded.num_rows());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes.size()));
}
BENCHMARK(BM_ExchangeDecodeBids)->Arg(1024);

}  // namespace
}  // namespace weir::bench
