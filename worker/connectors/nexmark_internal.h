// Private to worker/connectors: the Nexmark event generator.
//
// It follows the structure and distributions of the standard Nexmark
// generator (Apache Beam's sdks/java/testing/nexmark and its Flink port
// nexmark/nexmark: GeneratorConfig, PersonGenerator, AuctionGenerator,
// BidGenerator), written anew:
// - Events are numbered 0, 1, 2... In every block of 50 numbers the first is a
//   person, the next 3 are auctions and the other 46 bids (1:3:46).
// - Person and auction ids are dense and follow the numbering: the k-th
//   person has id 1000 + k, the k-th auction 1000 + k. A bid refers to a
//   recent auction (hot: the first of the last block of 100 auctions, with
//   probability 1 - 1/hot_auction_ratio; else one of the last 100 in-flight
//   auctions or up to 10 ahead) and a recent person (hot bidders likewise).
//   Auctions pick hot sellers the same way.
// - Event time: base_time + n * 1000 / rate ms: a deterministic timeline that
//   does not depend on when or how fast events are generated.
// - Prices: 100 * 10^(6u) cents, u uniform in [0, 1). Strings: lowercase
//   words with spaces; `extra` pads each event to the average sizes
//   (person 200, auction 500, bid 100 bytes) like the original.
// - Bids carry a channel and a URL as in the Flink port: 99% one of four hot
//   channels, else "channel-<k>" with a URL derived from k.
// Each event is a pure function of (seed, n): Generator has no state, so
// subtasks can generate disjoint subsequences that together equal the whole,
// and two sources with the same seed agree.
//
// GeneratorPosition (below) is the checkpoint position of the generated
// sources, nexmark and datagen, which both give subtask i of P the numbers
// i, i+P, i+2P...
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/watermark.h"
#include "worker/connectors/connector.h"

namespace weir::connectors {

// Where a generated source's subtask stands: `next` is the next number it
// looks at (it emitted the wanted ones below), max_time the largest event
// time it emitted (kMinWatermark: none yet). Encoding: u8 version (1),
// varint subtask, varint next, zigzag max_time.
struct GeneratorPosition {
  int64_t subtask = 0;
  int64_t next = 0;
  int64_t max_time = kMinWatermark;
  std::string Encode() const;
};

// The positions of every old subtask, as RestorePositions received them.
class GeneratorPositions {
 public:
  // kDataLoss naming `what` (e.g. "nexmark source 'bids'") for bytes that do
  // not decode.
  static Result<GeneratorPositions> Decode(const std::string& what,
                                           const std::vector<std::string>& positions);
  // The position of subtask ctx.subtask; kFailedPrecondition when the
  // parallelism is not the one of the checkpoint.
  Result<GeneratorPosition> For(const std::string& what, const SourceContext& ctx) const;

 private:
  std::vector<GeneratorPosition> positions_;
};

}  // namespace weir::connectors

namespace weir::connectors::nexmark {

inline constexpr int64_t kFirstPersonId = 1000;
inline constexpr int64_t kFirstAuctionId = 1000;
inline constexpr int64_t kFirstCategoryId = 10;
inline constexpr int64_t kPersonProportion = 1;
inline constexpr int64_t kAuctionProportion = 3;
inline constexpr int64_t kBidProportion = 46;
inline constexpr int64_t kProportionDenominator =
    kPersonProportion + kAuctionProportion + kBidProportion;
// 2024-01-01T00:00:00Z: the timeline's start, fixed so runs are reproducible.
inline constexpr int64_t kBaseTimeMs = 1'704'067'200'000;
// Events per second of the timeline when the source has no rate (Nexmark's
// default first event rate).
inline constexpr int64_t kDefaultRate = 10'000;

struct GeneratorConfig {
  int64_t seed = 0;
  int64_t rate = kDefaultRate;  // events per second of the timeline
  int64_t base_time_ms = kBaseTimeMs;
  int64_t num_active_people = 1000;
  int64_t num_in_flight_auctions = 100;
  int64_t hot_auction_ratio = 2;
  int64_t hot_sellers_ratio = 4;
  int64_t hot_bidders_ratio = 4;
  int64_t avg_person_bytes = 200;
  int64_t avg_auction_bytes = 500;
  int64_t avg_bid_bytes = 100;
};

enum class EventKind : uint8_t { kPerson, kAuction, kBid };

inline EventKind KindOf(int64_t n) {
  int64_t r = n % kProportionDenominator;
  if (r < kPersonProportion) return EventKind::kPerson;
  if (r < kPersonProportion + kAuctionProportion) return EventKind::kAuction;
  return EventKind::kBid;
}

// Base-0 id of the last person generated at or before event n.
int64_t LastBase0PersonId(int64_t n);
// Base-0 id of the last auction generated at or before event n (-1 if none).
int64_t LastBase0AuctionId(int64_t n);

struct Person {
  int64_t id = 0;
  std::string name, email_address, credit_card;
  std::string_view city, state;
  int64_t date_time = 0;
  std::string extra;
};

struct Auction {
  int64_t id = 0;
  std::string item_name, description;
  int64_t initial_bid = 0, reserve = 0, date_time = 0, expires = 0, seller = 0, category = 0;
  std::string extra;
};

struct Bid {
  int64_t auction = 0, bidder = 0, price = 0;
  std::string channel, url;
  int64_t date_time = 0;
  std::string extra;
};

class Generator {
 public:
  explicit Generator(const GeneratorConfig& config) : config_(config) {}

  // The event time of event n.
  int64_t Timestamp(int64_t n) const;

  // Event n, which must be of the kind (KindOf(n)). The strings of *out are
  // overwritten in place (their capacity is reused).
  void MakePerson(int64_t n, Person* out) const;
  void MakeAuction(int64_t n, Auction* out) const;
  void MakeBid(int64_t n, Bid* out) const;

  const GeneratorConfig& config() const { return config_; }

 private:
  GeneratorConfig config_;
};

}  // namespace weir::connectors::nexmark
