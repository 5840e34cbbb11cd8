// The Nexmark generator (nexmark_internal.h) and the nexmark source.
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "worker/connectors/connectors_internal.h"
#include "worker/connectors/nexmark_internal.h"

namespace weir::connectors {
namespace nexmark {
namespace {

constexpr int64_t kPersonIdLead = 10;   // ids a bit ahead of the last person
constexpr int64_t kAuctionIdLead = 10;  // ... and auction
constexpr int64_t kHotSellerRatio = 100;
constexpr int64_t kHotAuctionRatio = 100;
constexpr int64_t kHotBidderRatio = 100;
constexpr int64_t kHotChannelsRatio = 100;
constexpr int64_t kChannels = 10'000;
constexpr int64_t kCategories = 5;
constexpr int kMinStringLength = 3;

constexpr std::array<std::string_view, 6> kStates = {"AZ", "CA", "ID", "OR", "WA", "WY"};
constexpr std::array<std::string_view, 10> kCities = {
    "Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland",
    "Bend",    "Redmond",     "Seattle",       "Kent",  "Cheyenne"};
constexpr std::array<std::string_view, 11> kFirstNames = {
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"};
constexpr std::array<std::string_view, 9> kLastNames = {
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"};
constexpr std::array<std::string_view, 4> kHotChannels = {"Google", "Facebook", "Baidu", "Apple"};
constexpr std::array<std::string_view, 4> kHotUrls = {
    "https://www.nexmark.com/googl/item.htm?query=1",
    "https://www.nexmark.com/meta/item.htm?query=1",
    "https://www.nexmark.com/bidu/item.htm?query=1",
    "https://www.nexmark.com/aapl/item.htm?query=1"};

using Random = SeededRandom;

constexpr uint64_t kEventStream = 1;
constexpr uint64_t kChannelStream = 2;

// A lowercase string of 3..max_length-1 characters, about 1 in 13 of them
// spaces, trimmed.
void NextString(Random& rng, int max_length, std::string* out) {
  out->clear();
  int64_t len = kMinStringLength + rng.Uniform(max_length - kMinStringLength);
  for (int64_t i = 0; i < len; ++i) {
    if (rng.Uniform(13) == 0) {
      out->push_back(' ');
    } else {
      out->push_back(static_cast<char>('a' + rng.Uniform(26)));
    }
  }
  size_t first = out->find_first_not_of(' ');
  if (first == std::string::npos) {
    out->clear();
    return;
  }
  size_t last = out->find_last_not_of(' ');
  out->erase(last + 1);
  out->erase(0, first);
}

// Exactly `length` random lowercase letters, six per random draw.
void NextExactString(Random& rng, int64_t length, std::string* out) {
  out->clear();
  uint64_t bits = 0;
  int left = 0;
  for (int64_t i = 0; i < length; ++i) {
    if (left == 0) {
      bits = rng.Next();
      left = 12;  // 26^12 < 2^64
    }
    out->push_back(static_cast<char>('a' + bits % 26));
    bits /= 26;
    --left;
  }
}

// Padding so that current_size + its length averages desired_average.
void NextExtra(Random& rng, int64_t current_size, int64_t desired_average, std::string* out) {
  if (current_size > desired_average) {
    out->clear();
    return;
  }
  int64_t desired = desired_average - current_size;
  auto delta = static_cast<int64_t>(std::llround(static_cast<double>(desired) * 0.2));
  int64_t size = desired - delta + (delta == 0 ? 0 : rng.Uniform(2 * delta));
  NextExactString(rng, size, out);
}

int64_t NextPrice(Random& rng) {
  return std::llround(std::pow(10.0, rng.NextDouble() * 6.0) * 100.0);
}

int64_t NextBase0PersonId(Random& rng, int64_t n, const GeneratorConfig& c) {
  // One of the active people, or a few ids ahead (as if a new person and
  // this event were swapped in time).
  int64_t people = LastBase0PersonId(n) + 1;
  int64_t active = std::min(people, c.num_active_people);
  return people - active + rng.Uniform(active + kPersonIdLead);
}

int64_t NextBase0AuctionId(Random& rng, int64_t n, const GeneratorConfig& c) {
  // One of the auctions likely still in flight, or a few ahead.
  int64_t max_auction = LastBase0AuctionId(n);
  int64_t min_auction = std::max<int64_t>(max_auction - c.num_in_flight_auctions, 0);
  return min_auction + rng.Uniform(max_auction - min_auction + 1 + kAuctionIdLead);
}

void AppendDecimal(uint64_t v, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

uint32_t ReverseBits(uint32_t v) {
  uint32_t r = 0;
  for (int i = 0; i < 32; ++i) {
    r = (r << 1) | (v & 1);
    v >>= 1;
  }
  return r;
}

}  // namespace

int64_t LastBase0PersonId(int64_t n) {
  int64_t epoch = n / kProportionDenominator;
  int64_t offset = n % kProportionDenominator;
  if (offset >= kPersonProportion) offset = kPersonProportion - 1;
  return epoch * kPersonProportion + offset;
}

int64_t LastBase0AuctionId(int64_t n) {
  int64_t epoch = n / kProportionDenominator;
  int64_t offset = n % kProportionDenominator;
  if (offset < kPersonProportion) {
    // A person: the last auction is the previous block's last.
    --epoch;
    offset = kAuctionProportion - 1;
  } else if (offset >= kPersonProportion + kAuctionProportion) {
    offset = kAuctionProportion - 1;  // a bid: this block's last auction
  } else {
    offset -= kPersonProportion;
  }
  return epoch * kAuctionProportion + offset;
}

int64_t Generator::Timestamp(int64_t n) const {
  const int64_t rate = config_.rate;
  return config_.base_time_ms + (n / rate) * 1000 + (n % rate) * 1000 / rate;
}

void Generator::MakePerson(int64_t n, Person* out) const {
  Random rng(config_.seed, kEventStream, n);
  out->id = LastBase0PersonId(n) + kFirstPersonId;
  out->name.assign(kFirstNames[static_cast<size_t>(rng.Uniform(kFirstNames.size()))]);
  out->name += ' ';
  out->name += kLastNames[static_cast<size_t>(rng.Uniform(kLastNames.size()))];
  std::string& email = out->email_address;
  NextString(rng, 7, &email);
  email += '@';
  // The domain is generated into `extra` first, which is overwritten below.
  NextString(rng, 5, &out->extra);
  email += out->extra;
  email += ".com";
  out->credit_card.clear();
  for (int i = 0; i < 4; ++i) {
    if (i > 0) out->credit_card += ' ';
    auto digits = static_cast<int>(rng.Uniform(10'000));
    char buf[5] = {
        static_cast<char>('0' + digits / 1000), static_cast<char>('0' + digits / 100 % 10),
        static_cast<char>('0' + digits / 10 % 10), static_cast<char>('0' + digits % 10), 0};
    out->credit_card += buf;
  }
  out->city = kCities[static_cast<size_t>(rng.Uniform(kCities.size()))];
  out->state = kStates[static_cast<size_t>(rng.Uniform(kStates.size()))];
  out->date_time = Timestamp(n);
  int64_t size =
      8 + static_cast<int64_t>(out->name.size() + email.size() + out->credit_card.size() +
                               out->city.size() + out->state.size());
  NextExtra(rng, size, config_.avg_person_bytes, &out->extra);
}

void Generator::MakeAuction(int64_t n, Auction* out) const {
  Random rng(config_.seed, kEventStream, n);
  out->id = LastBase0AuctionId(n) + kFirstAuctionId;
  int64_t seller;
  if (rng.Uniform(config_.hot_sellers_ratio) > 0) {
    // The first person of the last block of kHotSellerRatio people.
    seller = (LastBase0PersonId(n) / kHotSellerRatio) * kHotSellerRatio;
  } else {
    seller = NextBase0PersonId(rng, n, config_);
  }
  out->seller = seller + kFirstPersonId;
  out->category = kFirstCategoryId + rng.Uniform(kCategories);
  out->initial_bid = NextPrice(rng);
  out->date_time = Timestamp(n);
  // Auctions last on average as long as it takes to generate
  // num_in_flight_auctions more of them.
  int64_t events_ahead =
      config_.num_in_flight_auctions * kProportionDenominator / kAuctionProportion;
  int64_t horizon = Timestamp(n + events_ahead) - out->date_time;
  out->expires = out->date_time + 1 + rng.Uniform(std::max<int64_t>(horizon * 2, 1));
  NextString(rng, 20, &out->item_name);
  NextString(rng, 100, &out->description);
  out->reserve = out->initial_bid + NextPrice(rng);
  int64_t size = 8 + static_cast<int64_t>(out->item_name.size() + out->description.size()) + 40;
  NextExtra(rng, size, config_.avg_auction_bytes, &out->extra);
}

void Generator::MakeBid(int64_t n, Bid* out) const {
  Random rng(config_.seed, kEventStream, n);
  int64_t auction;
  if (rng.Uniform(config_.hot_auction_ratio) > 0) {
    auction = (LastBase0AuctionId(n) / kHotAuctionRatio) * kHotAuctionRatio;
  } else {
    auction = NextBase0AuctionId(rng, n, config_);
  }
  out->auction = auction + kFirstAuctionId;
  int64_t bidder;
  if (rng.Uniform(config_.hot_bidders_ratio) > 0) {
    // The second person of the block (hot bidders and sellers differ).
    bidder = (LastBase0PersonId(n) / kHotBidderRatio) * kHotBidderRatio + 1;
  } else {
    bidder = NextBase0PersonId(rng, n, config_);
  }
  out->bidder = bidder + kFirstPersonId;
  out->price = NextPrice(rng);
  int64_t channel = rng.Uniform(kChannels);
  if (rng.Uniform(kHotChannelsRatio) == kHotChannelsRatio - 1) {
    // A cold channel: its URL is a function of the channel number alone.
    Random crng(config_.seed, kChannelStream, channel);
    out->channel.assign("channel-");
    AppendDecimal(static_cast<uint64_t>(channel), &out->channel);
    out->url.assign("https://www.nexmark.com/");
    NextString(crng, 5, &out->extra);
    out->url += out->extra;
    out->url += "/item.htm?query=1";
    if (crng.Uniform(10) != 9) {
      out->url += "&channel_id=";
      AppendDecimal(ReverseBits(static_cast<uint32_t>(channel)), &out->url);
    }
  } else {
    auto hot = static_cast<size_t>(rng.Uniform(kHotChannels.size()));
    out->channel.assign(kHotChannels[hot]);
    out->url.assign(kHotUrls[hot]);
  }
  out->date_time = Timestamp(n);
  NextExtra(rng, 32, config_.avg_bid_bytes, &out->extra);
}

}  // namespace nexmark

// ---- GeneratorPosition ----

namespace {
constexpr uint8_t kGeneratorPositionVersion = 1;
}  // namespace

std::string GeneratorPosition::Encode() const {
  std::string out;
  ByteWriter w(&out);
  w.PutU8(kGeneratorPositionVersion);
  w.PutVarint(static_cast<uint64_t>(subtask));
  w.PutVarint(static_cast<uint64_t>(next));
  w.PutSigned(max_time);
  return out;
}

Result<GeneratorPositions> GeneratorPositions::Decode(const std::string& what,
                                                      const std::vector<std::string>& positions) {
  GeneratorPositions out;
  for (size_t sub = 0; sub < positions.size(); ++sub) {
    const std::string where = what + ": position of subtask " + std::to_string(sub);
    ByteReader r(positions[sub]);
    const uint8_t version = r.GetU8();
    if (r.ok() && version != kGeneratorPositionVersion) {
      return Status::DataLoss(where + " has unknown version " + std::to_string(version));
    }
    const uint64_t subtask = r.GetVarint();
    const uint64_t next = r.GetVarint();
    GeneratorPosition p;
    p.max_time = r.GetSigned();
    if (!r.ok() || !r.done() || subtask != sub || next < subtask ||
        next > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Status::DataLoss(where + " is malformed");
    }
    p.subtask = static_cast<int64_t>(subtask);
    p.next = static_cast<int64_t>(next);
    out.positions_.push_back(p);
  }
  return out;
}

Result<GeneratorPosition> GeneratorPositions::For(const std::string& what,
                                                  const SourceContext& ctx) const {
  const size_t parallelism = static_cast<size_t>(ctx.parallelism > 0 ? ctx.parallelism : 1);
  if (positions_.empty()) {
    return Status::FailedPrecondition(what + ": the checkpoint holds no position for it");
  }
  if (positions_.size() != parallelism) {
    return Status::FailedPrecondition(
        what + ": the checkpoint was taken with parallelism " + std::to_string(positions_.size()) +
        " and the source now runs with " + std::to_string(parallelism) +
        "; a generated source resumes only with the parallelism of its checkpoint");
  }
  const GeneratorPosition& p = positions_[static_cast<size_t>(ctx.subtask)];
  if ((p.next - p.subtask) % static_cast<int64_t>(parallelism) != 0) {
    return Status::DataLoss(what + ": position of subtask " + std::to_string(ctx.subtask) +
                            " is not one of its numbers");
  }
  return p;
}

namespace {

using nexmark::EventKind;

// NexmarkSource: the generator as a source (see nexmark_internal.h).
// - Subtask i of P generates events i, i+P, i+2P... below `events` (all
//   kinds counted; unbounded without it), keeping those of kind `only` (all
//   kinds when empty: the combined schema, event_type plus prefixed columns,
//   the other kinds' columns null).
// - rate: event n is due at open time + n * 1000 / rate by the injected
//   clock; Poll waits (at most timeout_ms) for the next due event. Without a
//   rate it generates max_rows per Poll.
// - Event time = date_time (or the clock's time in a processing-time job);
//   one watermark partition with the event_time spec's out-of-orderness.
// - Position: the next event number this subtask looks at (so the events it
//   emitted are those below it) and the largest event time it emitted.
//   Restoring resumes the same sequence (events are pure functions of their
//   number) with the same watermark; with a rate, pacing goes on from the
//   restored event. The parallelism cannot change (kFailedPrecondition).
//   Encoding: u8 version (1), varint subtask, varint next event, zigzag max
//   event time (kMinWatermark: none yet).
class NexmarkSource final : public Source {
 public:
  explicit NexmarkSource(spec::SourceSpec spec)
      : spec_(std::move(spec)), generator_(MakeConfig(spec_)) {}

  Status Open(const SourceContext& ctx) override {
    ctx_ = ctx;
    const std::string what = "nexmark source '" + spec_.name + "'";
    if (!spec_.only.empty() && spec_.only != "bid" && spec_.only != "auction" &&
        spec_.only != "person") {
      return Status::InvalidArgument(what + ": only must be bid, auction or person, not '" +
                                     spec_.only + "'");
    }
    schema_ = spec::NexmarkSchema(spec_.only);
    if (spec_.schema.size() > 0 && !(spec_.schema == schema_)) {
      return Status::InvalidArgument(what + ": schema " + spec_.schema.ToString() +
                                     " is not the nexmark schema " + schema_.ToString());
    }
    step_ = ctx.parallelism > 0 ? ctx.parallelism : 1;
    next_ = ctx.subtask;
    limit_ = spec_.events.value_or(std::numeric_limits<int64_t>::max());
    start_ms_ = NowOr0(ctx.clock);
    const spec::EventTimeSpec et = spec_.event_time.value_or(spec::EventTimeSpec{});
    watermarks_.emplace(et.max_out_of_orderness_ms, et.idle_timeout_ms, ctx.clock);
    watermarks_->Resize(1);
    if (restored_) {
      WEIR_ASSIGN_OR_RETURN(GeneratorPosition pos, restored_->For(what, ctx));
      next_ = pos.next;
      max_time_ = pos.max_time;
      if (max_time_ != kMinWatermark) watermarks_->Observe(0, max_time_);
      // Pacing resumes with the restored event due now.
      if (spec_.rate) start_ms_ -= DueOffsetMs(next_, *spec_.rate);
    }
    if (next_ >= limit_) watermarks_->End(0);
    const std::string p = spec_.only.empty() ? "person_" : "";
    const std::string a = spec_.only.empty() ? "auction_" : "";
    const std::string b = spec_.only.empty() ? "bid_" : "";
    auto idx = [&](const std::string& name) { return schema_.IndexOf(name); };
    person_ = {idx(p + "id"),   idx(p + "name"),  idx(p + "email_address"), idx(p + "credit_card"),
               idx(p + "city"), idx(p + "state"), idx("date_time"),         idx(p + "extra")};
    auction_ = {idx(a + "id"),          idx(a + "item_name"), idx(a + "description"),
                idx(a + "initial_bid"), idx(a + "reserve"),   idx("date_time"),
                idx(a + "expires"),     idx(a + "seller"),    idx(a + "category"),
                idx(a + "extra")};
    bid_ = {idx(b + "auction"), idx(b + "bidder"), idx(b + "price"), idx(b + "channel"),
            idx(b + "url"),     idx("date_time"),  idx(b + "extra")};
    event_type_ = idx("event_type");
    opened_ = true;
    return Status::OK();
  }

  Result<PollState> Poll(RecordBatch* batch, int max_rows, int timeout_ms) override {
    if (!opened_) return Status::FailedPrecondition("nexmark source polled before Open");
    if (next_ >= limit_) return PollState::kEndOfInput;
    if (batch->columns.size() != schema_.size()) {
      return Status::InvalidArgument("nexmark source '" + spec_.name + "': batch has " +
                                     std::to_string(batch->columns.size()) +
                                     " columns, the schema " + std::to_string(schema_.size()));
    }
    // Events numbered below due_limit are due (all of them without a rate).
    int64_t due_limit = limit_;
    const int64_t now = NowOr0(ctx_.clock);
    if (spec_.rate) {
      due_limit = std::min(due_limit, DueCount(now - start_ms_, *spec_.rate));
    }
    int rows = 0;
    // Bounds the work of a Poll that finds none of its kind (e.g. persons on
    // a subtask whose numbers never hit a block start).
    int64_t scan_budget = int64_t{std::max(max_rows, 1)} * nexmark::kProportionDenominator;
    int64_t max_time = nexmark::kBaseTimeMs;
    while (rows < max_rows && next_ < due_limit && scan_budget-- > 0) {
      const int64_t n = next_;
      next_ += step_;
      EventKind kind = nexmark::KindOf(n);
      if (!Wanted(kind)) continue;
      AppendEvent(kind, n, batch);
      int64_t ts = ctx_.event_time ? generator_.Timestamp(n) : now;
      batch->event_time.push_back(ts);
      max_time = std::max(max_time, ts);
      ++rows;
    }
    if (rows > 0) {
      watermarks_->Observe(0, max_time);
      watermarks_->Touch(0);
      max_time_ = std::max(max_time_, max_time);
      stats_.records += rows;
    }
    if (next_ >= limit_) {
      watermarks_->End(0);
      return rows > 0 ? PollState::kOk : PollState::kEndOfInput;
    }
    if (rows == 0 && spec_.rate && next_ >= due_limit) {
      // Wait for the next event's due time (next_ * 1000 / rate).
      SleepAtMost(start_ms_ + DueOffsetMs(next_, *spec_.rate) - now, timeout_ms);
    }
    return PollState::kOk;
  }

  WatermarkStatus Watermark() override {
    if (!ctx_.event_time || !watermarks_) return WatermarkStatus{};
    return watermarks_->Current();
  }

  Result<std::string> SnapshotPosition() override {
    if (!opened_) {
      return Status::FailedPrecondition("nexmark source '" + spec_.name +
                                        "': position asked before Open");
    }
    return GeneratorPosition{ctx_.subtask, next_, max_time_}.Encode();
  }

  Status RestorePositions(const std::vector<std::string>& positions) override {
    const std::string what = "nexmark source '" + spec_.name + "'";
    if (opened_) return Status::FailedPrecondition(what + ": positions restored after Open");
    WEIR_ASSIGN_OR_RETURN(restored_, GeneratorPositions::Decode(what, positions));
    return Status::OK();
  }

 private:
  static nexmark::GeneratorConfig MakeConfig(const spec::SourceSpec& spec) {
    nexmark::GeneratorConfig c;
    c.seed = spec.seed;
    if (spec.rate && *spec.rate > 0) c.rate = *spec.rate;
    return c;
  }

  bool Wanted(EventKind kind) const {
    if (spec_.only.empty()) return true;
    switch (kind) {
      case EventKind::kPerson:
        return spec_.only == "person";
      case EventKind::kAuction:
        return spec_.only == "auction";
      case EventKind::kBid:
        return spec_.only == "bid";
    }
    return false;
  }

  // Appends one row; columns of the other kinds (combined schema) get nulls.
  void AppendEvent(EventKind kind, int64_t n, RecordBatch* batch) {
    auto& cols = batch->columns;
    auto set_int = [&](int c, int64_t v) { cols[static_cast<size_t>(c)].AppendInt(v); };
    auto set_str = [&](int c, std::string_view v) { cols[static_cast<size_t>(c)].AppendString(v); };
    if (event_type_ >= 0) {
      set_str(event_type_, kind == EventKind::kPerson    ? "person"
                           : kind == EventKind::kAuction ? "auction"
                                                         : "bid");
    }
    switch (kind) {
      case EventKind::kPerson: {
        generator_.MakePerson(n, &person_row_);
        const Person& p = person_row_;
        set_int(person_[0], p.id);
        set_str(person_[1], p.name);
        set_str(person_[2], p.email_address);
        set_str(person_[3], p.credit_card);
        set_str(person_[4], p.city);
        set_str(person_[5], p.state);
        set_int(person_[6], p.date_time);
        set_str(person_[7], p.extra);
        break;
      }
      case EventKind::kAuction: {
        generator_.MakeAuction(n, &auction_row_);
        const Auction& a = auction_row_;
        set_int(auction_[0], a.id);
        set_str(auction_[1], a.item_name);
        set_str(auction_[2], a.description);
        set_int(auction_[3], a.initial_bid);
        set_int(auction_[4], a.reserve);
        set_int(auction_[5], a.date_time);
        set_int(auction_[6], a.expires);
        set_int(auction_[7], a.seller);
        set_int(auction_[8], a.category);
        set_str(auction_[9], a.extra);
        break;
      }
      case EventKind::kBid: {
        generator_.MakeBid(n, &bid_row_);
        const Bid& b = bid_row_;
        set_int(bid_[0], b.auction);
        set_int(bid_[1], b.bidder);
        set_int(bid_[2], b.price);
        set_str(bid_[3], b.channel);
        set_str(bid_[4], b.url);
        set_int(bid_[5], b.date_time);
        set_str(bid_[6], b.extra);
        break;
      }
    }
    if (spec_.only.empty()) {
      // Null-fill the other kinds' columns.
      auto fill = [&](const auto& indices, EventKind of) {
        if (of == kind) return;
        for (int c : indices) {
          if (c != date_time_column()) cols[static_cast<size_t>(c)].AppendNull();
        }
      };
      fill(person_, EventKind::kPerson);
      fill(auction_, EventKind::kAuction);
      fill(bid_, EventKind::kBid);
    }
  }

  int date_time_column() const { return person_[6]; }

  using Person = nexmark::Person;
  using Auction = nexmark::Auction;
  using Bid = nexmark::Bid;

  spec::SourceSpec spec_;
  nexmark::Generator generator_;
  SourceContext ctx_;
  Schema schema_;
  bool opened_ = false;
  int64_t next_ = 0, step_ = 1, limit_ = 0, start_ms_ = 0;
  int64_t max_time_ = kMinWatermark;  // the largest event time emitted
  std::optional<GeneratorPositions> restored_;
  std::optional<PartitionWatermarks> watermarks_;
  std::array<int, 8> person_{};
  std::array<int, 10> auction_{};
  std::array<int, 7> bid_{};
  int event_type_ = -1;
  Person person_row_;
  Auction auction_row_;
  Bid bid_row_;
};

}  // namespace

Result<std::unique_ptr<Source>> MakeNexmarkSource(const spec::SourceSpec& spec) {
  return std::unique_ptr<Source>(new NexmarkSource(spec));
}

}  // namespace weir::connectors
