// Helpers shared by the weir_bench micro-benchmarks (tests/bench/*.cc).
//
// Inputs are synthetic but shaped like Nexmark bids (the columns and value
// ranges the nexmark source produces), built by a tiny deterministic
// generator so every run measures the same work.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "common/batch.h"
#include "common/spec/job_spec.h"
#include "common/status.h"

namespace weir::bench {

// splitmix64: a small, fast, reproducible stream of pseudo-random numbers.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  int64_t Uniform(int64_t n) { return static_cast<int64_t>(Next() % static_cast<uint64_t>(n)); }

 private:
  uint64_t s_;
};

inline constexpr int64_t kBaseTimeMs = 1'704'067'200'000;  // 2024-01-01T00:00:00Z

// The schema of the nexmark source with `only: bid`.
inline const std::shared_ptr<const Schema>& BidSchema() {
  static const auto schema = std::make_shared<const Schema>(spec::NexmarkSchema("bid"));
  return schema;
}

// One synthetic bid's values.
struct Bid {
  int64_t auction, bidder, price;
  const char* channel;
  std::string url;
  int64_t date_time;
  std::string extra;
};

inline Bid MakeBid(Rng& rng, int64_t n, int64_t distinct_auctions) {
  static const char* kChannels[] = {"Google", "Facebook", "Baidu", "Apple"};
  Bid b;
  b.auction = 1000 + rng.Uniform(distinct_auctions);
  b.bidder = 1000 + rng.Uniform(10'000);
  b.price = 100 + rng.Uniform(1'000'000);
  b.channel = kChannels[rng.Uniform(4)];
  b.url = "https://www.nexmark.com/item.htm?query=" + std::to_string(rng.Uniform(100));
  b.date_time = kBaseTimeMs + n / 10;  // ten bids per millisecond of event time
  b.extra.assign(static_cast<size_t>(8 + rng.Uniform(24)), 'x');
  return b;
}

// `rows` bids numbered first, first+1, ... appended to a new batch.
inline RecordBatch MakeBidBatch(Rng& rng, int64_t first, size_t rows,
                                int64_t distinct_auctions = 1000) {
  RecordBatch batch(BidSchema());
  for (auto& c : batch.columns) c.Reserve(rows);
  for (size_t i = 0; i < rows; ++i) {
    Bid b = MakeBid(rng, first + static_cast<int64_t>(i), distinct_auctions);
    batch.columns[0].AppendInt(b.auction);
    batch.columns[1].AppendInt(b.bidder);
    batch.columns[2].AppendInt(b.price);
    batch.columns[3].AppendString(b.channel);
    batch.columns[4].AppendString(b.url);
    batch.columns[5].AppendInt(b.date_time);
    batch.columns[6].AppendString(b.extra);
    batch.event_time.push_back(b.date_time);
  }
  return batch;
}

// Parses a job given as YAML text (no ${VAR} substitution); aborts with the
// diagnostics when it does not validate, since a benchmark cannot run then.
inline std::unique_ptr<spec::JobSpec> ParseJobOrDie(const std::string& yaml) {
  spec::LoadResult r = spec::ParseJob(
      yaml, "bench.yaml", [](const std::string&) { return std::optional<std::string>(); });
  if (!r.job) {
    std::fputs(spec::FormatDiagnostics("bench.yaml", r.diagnostics).c_str(), stderr);
    std::abort();
  }
  return std::move(r.job);
}

inline void CheckOk(const Status& st, benchmark::State& state) {
  if (!st.ok()) state.SkipWithError(st.message().c_str());
}

// A fresh directory under $TMPDIR (or /tmp), removed with the object.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace weir::bench
