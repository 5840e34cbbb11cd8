// JSON decode (common/format): the Kafka and file sources' first step.
#include <string>
#include <string_view>
#include <vector>

#include "common/format/format.h"
#include "common/time.h"
#include "tests/bench/bench_util.h"

namespace weir::bench {
namespace {

// A bid as a producer would write it; `iso` writes date_time as ISO-8601 text
// instead of epoch milliseconds.
std::string BidJson(const Bid& b, bool iso) {
  std::string s = "{\"auction\":" + std::to_string(b.auction) +
                  ",\"bidder\":" + std::to_string(b.bidder) +
                  ",\"price\":" + std::to_string(b.price) + ",\"channel\":\"" + b.channel +
                  "\",\"url\":\"" + b.url + "\",\"date_time\":";
  if (iso)
    s += "\"" + FormatTimestamp(b.date_time) + "\"";
  else
    s += std::to_string(b.date_time);
  s += ",\"extra\":\"" + b.extra + "\"}";
  return s;
}

// Decodes batches of range(0) payloads; range(1) = 1 for ISO timestamps.
void BM_JsonDecodeBids(benchmark::State& state) {
  const size_t rows = static_cast<size_t>(state.range(0));
  const bool iso = state.range(1) != 0;
  Rng rng(7);
  std::vector<std::string> texts;
  size_t bytes = 0;
  for (size_t i = 0; i < rows; ++i) {
    texts.push_back(BidJson(MakeBid(rng, static_cast<int64_t>(i), 1000), iso));
    bytes += texts.back().size();
  }
  std::vector<std::string_view> payloads(texts.begin(), texts.end());
  auto made = format::MakeDecoder(spec::FormatSpec{}, *BidSchema(), {});
  if (!made.ok()) {
    state.SkipWithError(made.status().message().c_str());
    return;
  }
  auto decoder = std::move(made).value();
  RecordBatch batch(BidSchema());
  std::vector<format::DecodeError> errors;
  for (auto _ : state) {
    batch.Clear();
    errors.clear();
    decoder->Decode(payloads, &batch, &errors, nullptr);
    benchmark::DoNotOptimize(batch.columns[0].ints());
  }
  if (!errors.empty())
    state.SkipWithError(("decode failed: " + errors.front().reason).c_str());
  else if (batch.num_rows() != rows)
    state.SkipWithError("decode produced the wrong number of rows");
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(rows));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
}
BENCHMARK(BM_JsonDecodeBids)->ArgNames({"rows", "iso"})->Args({1024, 0})->Args({1024, 1});

// The other direction, for comparison: the JSON encoder of the sinks.
void BM_JsonEncodeBids(benchmark::State& state) {
  const size_t rows = static_cast<size_t>(state.range(0));
  Rng rng(7);
  RecordBatch batch = MakeBidBatch(rng, 0, rows);
  auto made = format::MakeEncoder(spec::FormatSpec{}, *BidSchema());
  if (!made.ok()) {
    state.SkipWithError(made.status().message().c_str());
    return;
  }
  auto encoder = std::move(made).value();
  std::string out;
  for (auto _ : state) {
    out.clear();
    for (size_t r = 0; r < rows; ++r) encoder->Encode(batch, r, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(rows));
}
BENCHMARK(BM_JsonEncodeBids)->ArgName("rows")->Arg(1024);

}  // namespace
}  // namespace weir::bench
