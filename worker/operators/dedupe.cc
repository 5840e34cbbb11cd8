// Dedupe: key_by + dedupe: {within}. Emits a row the first time its key is
// seen; a later row with the same key whose time t satisfies
// t <= first + within (the boundary included; also any row with t < first,
// which out-of-order event time can bring) is a duplicate and is dropped
// (stats().duplicates_dropped). A row past that horizon is emitted and
// becomes the key's new first. Times are event times in event-time jobs and
// the clock's time at arrival otherwise. The key is forgotten once no row
// inside its horizon can come: when the watermark reaches first + within
// (processing time: when the clock passes it), so the state does not grow
// forever. (A row later than the watermark for a forgotten key is emitted
// again: dedupe has no late stream.) Output: the input rows unchanged, in
// input order.
//
// State "seen" (under the key's key group): key bytes -> zigzag varint first
// time; one Get and at most one Put per distinct key per batch. State
// "progress" (OperatorProgress): the time keys were forgotten up to. Timers
// (in memory): time first + within -> keys to forget; a timer whose key got a
// newer first does nothing.
//
// Restore: Open reads back the progress and gives every key of its key
// groups in "seen" its timer at first + within. A timer at or below the
// progress (a key whose first came after the last watermark) fires at the
// next watermark, as it would have without the restore.
#include <algorithm>
#include <map>

#include "common/watermark.h"
#include "worker/operators/stateful_internal.h"

namespace weir::operators {
namespace {

using runtime::Output;

class DedupeOperator final : public KeyedOperator {
 public:
  explicit DedupeOperator(const spec::OperatorSpec& op)
      : name_(op.name),
        within_(op.dedupe_within_ms),
        grouper_(op.key_by),
        schema_(std::make_shared<Schema>(op.schema)) {}

  Status Open(const runtime::OperatorContext& ctx) override {
    if (!ctx.state) return Status::FailedPrecondition("dedupe '" + name_ + "': no state backend");
    state_ = ctx.state;
    clock_ = ctx.clock;
    event_time_ = ctx.event_time;
    max_parallelism_ = ctx.max_parallelism;
    state_id_ = state_->Register(name_, "seen");
    main_ = OutputBuffer(schema_, 0, ctx.batch_size);
    WEIR_ASSIGN_OR_RETURN(limit_, progress_.Open(ctx, name_, state_id_));
    return RebuildTimers(ctx.key_groups);
  }

  Status ProcessBatch(int, RecordBatch& batch, Output& out) override {
    const size_t n = batch.num_rows();
    if (n == 0) return Status::OK();
    const int64_t now = clock_ ? clock_->NowMillis() : 0;
    grouper_.Group(batch, max_parallelism_, now);
    kept_.clear();
    for (size_t g = 0; g < grouper_.num_groups(); ++g) {
      const std::string_view key = grouper_.key(g);
      const int kg = grouper_.key_group(g);
      WEIR_ASSIGN_OR_RETURN(bool seen, state_->Get(state_id_, kg, key, &value_));
      int64_t first = 0;
      if (seen) {
        ByteReader rd(value_);
        first = rd.GetSigned();
        if (!rd.ok()) return Status::DataLoss("dedupe '" + name_ + "': malformed state entry");
      }
      bool changed = false;
      const uint32_t* rows = grouper_.rows(g);
      for (size_t k = 0, m = grouper_.num_rows(g); k < m; ++k) {
        const int64_t t = event_time_ ? batch.event_time[rows[k]] : now;
        if (seen && t <= SaturatingAdd(first, within_)) {
          ++stats_.duplicates_dropped;
          continue;
        }
        kept_.push_back(rows[k]);
        first = t;
        seen = changed = true;
      }
      if (!changed) continue;
      value_.clear();
      ByteWriter(&value_).PutSigned(first);
      WEIR_RETURN_IF_ERROR(state_->Put(state_id_, kg, key, value_));
      timers_[SaturatingAdd(first, within_)].push_back({std::string(key), kg});
    }
    if (kept_.size() == n) {
      out.Emit(0, batch);  // nothing dropped: pass the batch on as it is
      return Status::OK();
    }
    std::sort(kept_.begin(), kept_.end());
    main_.AppendRows(batch, kept_.data(), kept_.size(), out);
    main_.Flush(out);
    return Status::OK();
  }

  Status ProcessWatermark(int64_t watermark, Output& out) override {
    if (!event_time_ || watermark <= limit_) return Status::OK();
    return AdvanceTo(watermark);
  }

  Status ProcessTime(int64_t now_ms, Output& out) override {
    const int64_t limit = SaturatingAdd(now_ms, -1);
    if (event_time_ || limit <= limit_) return Status::OK();
    return AdvanceTo(limit);
  }

 private:
  struct Timer {
    std::string key;
    int key_group;
  };

  Status AdvanceTo(int64_t limit) {
    limit_ = limit;
    WEIR_RETURN_IF_ERROR(progress_.Store(limit_));
    return Expire(limit_);
  }

  // A timer for every key in the state of `range` (Open, on restore).
  Status RebuildTimers(KeyGroupRange range) {
    bool malformed = false;
    WEIR_RETURN_IF_ERROR(
        state_->Scan(state_id_, range, [&](int kg, std::string_view key, std::string_view value) {
          ByteReader rd(value);
          const int64_t first = rd.GetSigned();
          if (!rd.ok()) {
            malformed = true;
            return false;
          }
          timers_[SaturatingAdd(first, within_)].push_back({std::string(key), kg});
          return true;
        }));
    if (malformed) return Status::DataLoss("dedupe '" + name_ + "': malformed state entry");
    return Status::OK();
  }

  // Forgets keys whose horizon first + within is <= limit.
  Status Expire(int64_t limit) {
    while (!timers_.empty() && timers_.begin()->first <= limit) {
      auto node = timers_.extract(timers_.begin());
      for (const Timer& t : node.mapped()) {
        WEIR_ASSIGN_OR_RETURN(bool seen, state_->Get(state_id_, t.key_group, t.key, &value_));
        if (!seen) continue;
        ByteReader rd(value_);
        int64_t first = rd.GetSigned();
        if (rd.ok() && SaturatingAdd(first, within_) > limit) continue;  // a newer first
        WEIR_RETURN_IF_ERROR(state_->Delete(state_id_, t.key_group, t.key));
      }
    }
    return Status::OK();
  }

  const std::string name_;
  const int64_t within_;
  KeyGrouper grouper_;
  std::shared_ptr<const Schema> schema_;
  state::KeyedStateBackend* state_ = nullptr;
  state::StateId state_id_ = 0;
  const Clock* clock_ = nullptr;
  bool event_time_ = true;
  int max_parallelism_ = 128;
  // Keys with first + within <= limit_ are forgotten: the watermark (or the
  // clock's time - 1).
  int64_t limit_ = kMinWatermark;
  OperatorProgress progress_;  // limit_ across restores
  std::map<int64_t, std::vector<Timer>> timers_;
  OutputBuffer main_;
  std::vector<uint32_t> kept_;
  std::string value_;
};

}  // namespace

Result<std::unique_ptr<runtime::Operator>> MakeDedupe(const spec::OperatorSpec& op,
                                                      const spec::JobSpec& job,
                                                      const std::vector<const Schema*>& inputs) {
  if (op.key_by.empty()) return Status::InvalidArgument("dedupe '" + op.name + "' needs key_by");
  return std::unique_ptr<runtime::Operator>(new DedupeOperator(op));
}

}  // namespace weir::operators
