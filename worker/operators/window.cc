// Window aggregate: key_by + window + aggregate, with Flink's semantics.
//
// Each row is assigned, per key, to windows by its time (its event time in an
// event-time job; the task clock's time at arrival in a processing-time job):
//  - tumbling: [floor(t / size) * size, + size);
//  - sliding: every window of `size` starting at a multiple of `slide` that
//    contains t;
//  - session: [t, t + gap), merged with the key's sessions it overlaps, so
//    rows closer than `gap` (strictly) end up in one session
//    [first, last + gap); a row that bridges two sessions merges them. (Flink
//    also merges sessions that merely touch, distance == gap; here they stay
//    apart, so a session's extent never depends on when rows arrive.)
//  - count: every `count` rows of a key form a window, emitted as soon as it
//    is full; window_start/window_end are the min and max + 1 of the rows'
//    times. A partial count window is discarded at Finish, as Flink's
//    countWindow does (no time ever completes it).
// Time windows fire when the watermark reaches end - 1 (processing time: when
// the clock reaches end, in ProcessTime). A fired window is kept until the
// watermark reaches end - 1 + allowed_lateness; a row for a fired-but-kept
// window updates it and re-fires it at once (the full updated result again).
// A row is late when all its windows' cleanup times (end - 1 + lateness) are
// <= the watermark (a session row: when it overlaps no live session and its
// own [t, t + gap) is past cleanup); a late row goes unchanged to port 1 when
// the window has a `late` stream, else it is dropped and counted
// (stats().late_dropped). Processing-time windows have no lateness. Finish()
// fires every remaining time window. Output rows: key fields, window_start,
// window_end, aggregates; event time window_end - 1; any order.
//
// State (ctx.state, under the key's key group):
//  - tumbling/sliding: state "windows", key = key bytes + window start
//    (AppendTimeSuffix), value = the accumulators (aggregates_internal.h);
//    one Get and one Put per (key, window) per batch.
//  - session: state "sessions", key = key bytes, value = varint next arrival
//    seq, varint n, then n x (zigzag start, varint end - start,
//    accumulators); one Get and one Put (or Delete) per key per batch.
//  - count: state "count", key = key bytes, value = varint rows so far, then
//    zigzag min time, zigzag max time and the accumulators when rows > 0.
//  - time windows: state "progress" (OperatorProgress): the watermark (or
//    the clock's time - 1) the windows were fired up to.
// Timers (in memory): a map from time to the (key, window) to fire at
// end - 1 and to clean up at end - 1 + lateness. Session timers that a merge
// made stale find no session with their exact bounds and do nothing.
//
// Restore: Open reads back the progress and scans the state of its key
// groups, giving every window (every session of an entry) its timers as
// AddTimers does for a new one: a fire timer unless end - 1 <= progress (it
// has fired, and is only waiting for its cleanup), and a cleanup timer.
// Nothing else lives in memory between calls: output buffers are flushed
// before each call returns, the arrival seq of sessions is in their entry,
// count windows have no timers. (The counters of stats() restart at zero.)
#include <algorithm>
#include <limits>
#include <map>

#include "common/watermark.h"
#include "worker/operators/aggregates_internal.h"
#include "worker/operators/stateful_internal.h"

namespace weir::operators {
namespace {

using runtime::Output;

class WindowAggregateOperator final : public KeyedOperator {
 public:
  WindowAggregateOperator(const spec::OperatorSpec& op, const Schema& input)
      : name_(op.name),
        window_(*op.window),
        grouper_(op.key_by),
        aggs_(op.aggregates),
        schema_(std::make_shared<Schema>(op.schema)),
        input_schema_(std::make_shared<Schema>(input)),
        num_keys_(op.key_by.size()) {}

  Status Open(const runtime::OperatorContext& ctx) override {
    if (!ctx.state) return Status::FailedPrecondition("window '" + name_ + "': no state backend");
    state_ = ctx.state;
    clock_ = ctx.clock;
    event_time_ = ctx.event_time;
    max_parallelism_ = ctx.max_parallelism;
    lateness_ = event_time_ ? std::max<int64_t>(0, window_.allowed_lateness_ms) : 0;
    const char* state_name = window_.kind == spec::WindowKind::kSession ? "sessions"
                             : window_.kind == spec::WindowKind::kCount ? "count"
                                                                        : "windows";
    state_id_ = state_->Register(name_, state_name);
    main_ = OutputBuffer(schema_, 0, ctx.batch_size);
    late_ = OutputBuffer(input_schema_, 1, ctx.batch_size);
    if (window_.kind == spec::WindowKind::kCount) return Status::OK();  // no timers
    WEIR_ASSIGN_OR_RETURN(limit_, progress_.Open(ctx, name_, state_id_));
    return RebuildTimers(ctx.key_groups);
  }

  Status ProcessBatch(int, RecordBatch& batch, Output& out) override {
    const size_t n = batch.num_rows();
    if (n == 0) return Status::OK();
    const int64_t now = clock_ ? clock_->NowMillis() : 0;
    if (event_time_) {
      times_ = batch.event_time.data();
    } else {
      proc_times_.assign(n, now);
      times_ = proc_times_.data();
    }
    grouper_.Group(batch, max_parallelism_, now);
    aggs_.EvaluateArgs(batch, now);
    late_rows_.clear();
    Status st;
    switch (window_.kind) {
      case spec::WindowKind::kTumbling:
      case spec::WindowKind::kSliding:
        st = ProcessTimeWindows(out);
        break;
      case spec::WindowKind::kSession:
        st = ProcessSessions(batch, out);
        break;
      case spec::WindowKind::kCount:
        st = ProcessCount(out);
        break;
    }
    WEIR_RETURN_IF_ERROR(st);
    if (!late_rows_.empty()) {
      std::sort(late_rows_.begin(), late_rows_.end());
      if (window_.late.empty()) {
        stats_.late_dropped += static_cast<int64_t>(late_rows_.size());
      } else {
        stats_.late_emitted += static_cast<int64_t>(late_rows_.size());
        late_.AppendRows(batch, late_rows_.data(), late_rows_.size(), out);
        late_.Flush(out);
      }
    }
    main_.Flush(out);
    return Status::OK();
  }

  Status ProcessWatermark(int64_t watermark, Output& out) override {
    if (!event_time_ || watermark <= limit_) return Status::OK();
    return AdvanceTo(watermark, out);
  }

  Status ProcessTime(int64_t now_ms, Output& out) override {
    if (event_time_) return Status::OK();
    int64_t limit = SaturatingAdd(now_ms, -1);  // windows with end <= now
    if (limit <= limit_) return Status::OK();
    return AdvanceTo(limit, out);
  }

  Status Finish(Output& out) override {
    // Count windows: partial windows are discarded (Flink's countWindow).
    limit_ = kMaxWatermark;
    return FireTimers(out);
  }

 private:
  enum TimerFlags : uint8_t { kFire = 1, kCleanup = 2 };
  struct Timer {
    std::string key;  // key bytes
    int key_group;
    int64_t start;
    int64_t end;
    uint8_t flags;
  };
  struct Item {  // one row in one window
    uint32_t group;
    int64_t start;
    uint32_t row;
    bool operator<(const Item& o) const {
      if (group != o.group) return group < o.group;
      if (start != o.start) return start < o.start;
      return row < o.row;
    }
  };
  struct Session {
    int64_t start, end;
    int64_t orig_start, orig_end;  // as loaded (is_new: none)
    bool alive, touched, is_new;
    Accumulators accs;
  };

  int64_t CleanupTime(int64_t end) const { return SaturatingAdd(end - 1, lateness_); }

  // ---- tumbling and sliding ----

  Status ProcessTimeWindows(Output& out) {
    const int64_t size = window_.size_ms;
    const int64_t slide = window_.kind == spec::WindowKind::kSliding ? window_.slide_ms : size;
    items_.clear();
    for (size_t g = 0; g < grouper_.num_groups(); ++g) {
      const uint32_t* rows = grouper_.rows(g);
      for (size_t k = 0, m = grouper_.num_rows(g); k < m; ++k) {
        const uint32_t r = rows[k];
        const int64_t t = times_[r];
        bool any = false;
        // Windows [s, s + size) with s a multiple of slide and s <= t < s + size.
        for (int64_t s = FloorTo(t, slide); s > t - size; s -= slide) {
          if (CleanupTime(SaturatingAdd(s, size)) <= limit_) continue;  // passed: late here
          any = true;
          items_.push_back({static_cast<uint32_t>(g), s, r});
          if (s < std::numeric_limits<int64_t>::min() + slide) break;  // no wrap below
        }
        if (!any) late_rows_.push_back(r);
      }
    }
    std::sort(items_.begin(), items_.end());
    for (size_t i = 0; i < items_.size();) {
      size_t j = i;
      run_rows_.clear();
      while (j < items_.size() && items_[j].group == items_[i].group &&
             items_[j].start == items_[i].start)
        run_rows_.push_back(items_[j++].row);
      const size_t g = items_[i].group;
      const int64_t start = items_[i].start, end = SaturatingAdd(start, size);
      const std::string_view key = grouper_.key(g);
      const int kg = grouper_.key_group(g);
      state_key_.assign(key);
      AppendTimeSuffix(start, &state_key_);
      WEIR_ASSIGN_OR_RETURN(bool found, state_->Get(state_id_, kg, state_key_, &value_));
      if (found) {
        ByteReader rd(value_);
        if (!aggs_.Decode(&rd, &accs_)) return Corrupt();
      } else {
        aggs_.Reset(&accs_);
      }
      if (end - 1 <= limit_) {
        // Fired already, kept for allowed lateness: every late row updates the
        // window and re-fires it, as in Flink (rows are in arrival order).
        for (uint32_t r : run_rows_) {
          aggs_.Update(&accs_, &r, 1, 0);
          EmitWindow(key, start, end, accs_, out);
        }
      } else {
        aggs_.Update(&accs_, run_rows_.data(), run_rows_.size(), 0);
      }
      value_.clear();
      ByteWriter w(&value_);
      aggs_.Encode(accs_, &w);
      WEIR_RETURN_IF_ERROR(state_->Put(state_id_, kg, state_key_, value_));
      if (!found) AddTimers(key, kg, start, end);
      i = j;
    }
    return Status::OK();
  }

  // ---- session ----

  Status LoadSessions(int kg, std::string_view key, bool* found) {
    num_sessions_ = 0;
    next_seq_ = 0;
    WEIR_ASSIGN_OR_RETURN(*found, state_->Get(state_id_, kg, key, &value_));
    if (!*found) return Status::OK();
    ByteReader rd(value_);
    next_seq_ = static_cast<int64_t>(rd.GetVarint());
    uint64_t count = rd.GetVarint();
    if (!rd.ok() || count > value_.size()) return Corrupt();
    for (uint64_t i = 0; i < count; ++i) {
      Session& s = NewSession();
      s.start = rd.GetSigned();
      s.end = SaturatingAdd(s.start, static_cast<int64_t>(rd.GetVarint()));
      s.orig_start = s.start;
      s.orig_end = s.end;
      s.is_new = false;
      if (!aggs_.Decode(&rd, &s.accs)) return Corrupt();
    }
    return Status::OK();
  }

  Status StoreSessions(int kg, std::string_view key, bool found) {
    value_.clear();
    ByteWriter w(&value_);
    size_t alive = 0;
    for (size_t i = 0; i < num_sessions_; ++i) alive += sessions_[i].alive ? 1 : 0;
    if (alive == 0) return found ? state_->Delete(state_id_, kg, key) : Status::OK();
    w.PutVarint(static_cast<uint64_t>(next_seq_));
    w.PutVarint(alive);
    for (size_t i = 0; i < num_sessions_; ++i) {
      const Session& s = sessions_[i];
      if (!s.alive) continue;
      w.PutSigned(s.start);
      w.PutVarint(static_cast<uint64_t>(s.end - s.start));
      aggs_.Encode(s.accs, &w);
    }
    return state_->Put(state_id_, kg, key, value_);
  }

  Session& NewSession() {
    if (num_sessions_ == sessions_.size()) sessions_.emplace_back();
    Session& s = sessions_[num_sessions_++];
    s.alive = true;
    s.touched = false;
    s.is_new = true;
    s.orig_start = s.orig_end = 0;
    aggs_.Reset(&s.accs);
    return s;
  }

  uint32_t Find(uint32_t s) {
    while (parent_[s] != s) s = parent_[s] = parent_[parent_[s]];
    return s;
  }

  Status ProcessSessions(const RecordBatch& batch, Output& out) {
    const int64_t gap = window_.gap_ms;
    for (size_t g = 0; g < grouper_.num_groups(); ++g) {
      const std::string_view key = grouper_.key(g);
      const int kg = grouper_.key_group(g);
      bool found = false;
      WEIR_RETURN_IF_ERROR(LoadSessions(kg, key, &found));
      const uint32_t* rows = grouper_.rows(g);
      const size_t m = grouper_.num_rows(g);
      session_rows_.clear();  // (session, row) of every non-late row
      parent_.clear();
      for (size_t i = 0; i < num_sessions_; ++i) parent_.push_back(static_cast<uint32_t>(i));
      for (size_t k = 0; k < m; ++k) {
        const uint32_t r = rows[k];
        const int64_t ws = times_[r], we = SaturatingAdd(times_[r], gap);
        int target = -1;
        for (size_t j = 0; j < num_sessions_; ++j) {
          Session& s = sessions_[j];
          if (!s.alive || !(s.start < we && ws < s.end)) continue;
          if (target < 0) {
            target = static_cast<int>(j);
            continue;
          }
          // The row bridges two sessions: merge j into target.
          Session& t = sessions_[static_cast<size_t>(target)];
          aggs_.Merge(&t.accs, s.accs);
          t.start = std::min(t.start, s.start);
          t.end = std::max(t.end, s.end);
          s.alive = false;
          parent_[j] = static_cast<uint32_t>(target);
        }
        if (target < 0) {
          if (CleanupTime(we) <= limit_) {
            late_rows_.push_back(r);
            continue;
          }
          Session& s = NewSession();
          s.start = ws;
          s.end = we;
          parent_.push_back(static_cast<uint32_t>(num_sessions_ - 1));
          target = static_cast<int>(num_sessions_ - 1);
        }
        Session& t = sessions_[static_cast<size_t>(target)];
        t.start = std::min(t.start, ws);
        t.end = std::max(t.end, we);
        t.touched = true;
        session_rows_.push_back({static_cast<uint32_t>(target), r});
      }
      // Rows of sessions merged later in the batch belong to the survivor.
      for (auto& sr : session_rows_) sr.first = Find(sr.first);
      std::sort(session_rows_.begin(), session_rows_.end());
      for (size_t i = 0; i < session_rows_.size();) {
        size_t j = i;
        run_rows_.clear();
        while (j < session_rows_.size() && session_rows_[j].first == session_rows_[i].first)
          run_rows_.push_back(session_rows_[j++].second);
        aggs_.Update(&sessions_[session_rows_[i].first].accs, run_rows_.data(), run_rows_.size(),
                     next_seq_);
        i = j;
      }
      next_seq_ += static_cast<int64_t>(batch.num_rows());
      for (size_t j = 0; j < num_sessions_; ++j) {
        Session& s = sessions_[j];
        if (!s.alive || !s.touched) continue;
        if (s.is_new || s.start != s.orig_start || s.end != s.orig_end)
          AddTimers(key, kg, s.start, s.end);
        if (s.end - 1 <= limit_) EmitWindow(key, s.start, s.end, s.accs, out);
      }
      WEIR_RETURN_IF_ERROR(StoreSessions(kg, key, found));
    }
    return Status::OK();
  }

  // ---- count ----

  Status ProcessCount(Output& out) {
    const int64_t count = window_.count;
    for (size_t g = 0; g < grouper_.num_groups(); ++g) {
      const std::string_view key = grouper_.key(g);
      const int kg = grouper_.key_group(g);
      WEIR_ASSIGN_OR_RETURN(bool found, state_->Get(state_id_, kg, key, &value_));
      int64_t filled = 0, min_t = 0, max_t = 0;
      if (found) {
        ByteReader rd(value_);
        filled = static_cast<int64_t>(rd.GetVarint());
        if (filled > 0) {
          min_t = rd.GetSigned();
          max_t = rd.GetSigned();
          if (!aggs_.Decode(&rd, &accs_)) return Corrupt();
        }
        if (!rd.ok()) return Corrupt();
      }
      if (filled == 0) aggs_.Reset(&accs_);
      const uint32_t* rows = grouper_.rows(g);
      const size_t m = grouper_.num_rows(g);
      for (size_t pos = 0; pos < m;) {
        size_t take = std::min<size_t>(static_cast<size_t>(count - filled), m - pos);
        aggs_.Update(&accs_, rows + pos, take, 0);
        for (size_t k = pos; k < pos + take; ++k) {
          const int64_t t = times_[rows[k]];
          if (filled == 0 && k == pos) min_t = max_t = t;
          min_t = std::min(min_t, t);
          max_t = std::max(max_t, t);
        }
        filled += static_cast<int64_t>(take);
        pos += take;
        if (filled == count) {
          EmitWindow(key, min_t, SaturatingAdd(max_t, 1), accs_, out);
          aggs_.Reset(&accs_);
          filled = 0;
        }
      }
      if (filled == 0) {
        if (found) WEIR_RETURN_IF_ERROR(state_->Delete(state_id_, kg, key));
        continue;
      }
      value_.clear();
      ByteWriter w(&value_);
      w.PutVarint(static_cast<uint64_t>(filled));
      w.PutSigned(min_t);
      w.PutSigned(max_t);
      aggs_.Encode(accs_, &w);
      WEIR_RETURN_IF_ERROR(state_->Put(state_id_, kg, key, value_));
    }
    return Status::OK();
  }

  // ---- timers and output ----

  Status AdvanceTo(int64_t limit, Output& out) {
    limit_ = limit;
    if (window_.kind != spec::WindowKind::kCount) WEIR_RETURN_IF_ERROR(progress_.Store(limit_));
    return FireTimers(out);
  }

  // The timers of every window in the state of `range` (Open, on restore).
  Status RebuildTimers(KeyGroupRange range) {
    const bool sessions = window_.kind == spec::WindowKind::kSession;
    bool malformed = false;
    auto visit = [&](int kg, std::string_view state_key, std::string_view value) {
      if (!sessions) {
        std::string_view key;
        int64_t start = 0;
        if (!SplitWindowKey(state_key, &key, &start)) {
          malformed = true;
          return false;
        }
        AddTimers(key, kg, start, SaturatingAdd(start, window_.size_ms));
        return true;
      }
      ByteReader rd(value);
      rd.GetVarint();  // the next arrival seq
      const uint64_t count = rd.GetVarint();
      if (!rd.ok() || count > value.size()) {
        malformed = true;
        return false;
      }
      for (uint64_t i = 0; i < count; ++i) {
        const int64_t start = rd.GetSigned();
        const int64_t end = SaturatingAdd(start, static_cast<int64_t>(rd.GetVarint()));
        if (!aggs_.Decode(&rd, &accs_)) {
          malformed = true;
          return false;
        }
        AddTimers(state_key, kg, start, end);
      }
      return true;
    };
    WEIR_RETURN_IF_ERROR(state_->Scan(state_id_, range, visit));
    return malformed ? Corrupt() : Status::OK();
  }

  // Timers of a window just created (or whose bounds a merge changed).
  void AddTimers(std::string_view key, int kg, int64_t start, int64_t end) {
    const int64_t fire = end - 1, cleanup = CleanupTime(end);
    if (fire > limit_ && fire == cleanup) {
      timers_[fire].push_back({std::string(key), kg, start, end, kFire | kCleanup});
      return;
    }
    if (fire > limit_) timers_[fire].push_back({std::string(key), kg, start, end, kFire});
    timers_[cleanup].push_back({std::string(key), kg, start, end, kCleanup});
  }

  Status FireTimers(Output& out) {
    while (!timers_.empty() && timers_.begin()->first <= limit_) {
      auto node = timers_.extract(timers_.begin());
      for (const Timer& t : node.mapped()) WEIR_RETURN_IF_ERROR(OnTimer(t, out));
    }
    main_.Flush(out);
    return Status::OK();
  }

  Status OnTimer(const Timer& t, Output& out) {
    if (window_.kind == spec::WindowKind::kSession) {
      bool found = false;
      WEIR_RETURN_IF_ERROR(LoadSessions(t.key_group, t.key, &found));
      for (size_t i = 0; i < num_sessions_; ++i) {
        Session& s = sessions_[i];
        if (s.start != t.start || s.end != t.end) continue;
        if (t.flags & kFire) EmitWindow(t.key, s.start, s.end, s.accs, out);
        if (t.flags & kCleanup) {
          s.alive = false;
          WEIR_RETURN_IF_ERROR(StoreSessions(t.key_group, t.key, found));
        }
        break;
      }
      return Status::OK();
    }
    state_key_.assign(t.key);
    AppendTimeSuffix(t.start, &state_key_);
    if (t.flags & kFire) {
      WEIR_ASSIGN_OR_RETURN(bool found, state_->Get(state_id_, t.key_group, state_key_, &value_));
      if (found) {
        ByteReader rd(value_);
        if (!aggs_.Decode(&rd, &accs_)) return Corrupt();
        EmitWindow(t.key, t.start, t.end, accs_, out);
      }
    }
    if (t.flags & kCleanup)
      WEIR_RETURN_IF_ERROR(state_->Delete(state_id_, t.key_group, state_key_));
    return Status::OK();
  }

  void EmitWindow(std::string_view key, int64_t start, int64_t end, const Accumulators& accs,
                  Output& out) {
    RecordBatch& b = main_.batch();
    DecodeKeyInto(key, num_keys_, &b.columns, 0);
    b.columns[num_keys_].AppendInt(start);
    b.columns[num_keys_ + 1].AppendInt(end);
    aggs_.AppendResults(accs, &b.columns, num_keys_ + 2);
    b.event_time.push_back(end - 1);
    ++stats_.windows_fired;
    main_.RowAdded(out);
  }

  Status Corrupt() const {
    return Status::DataLoss("window '" + name_ + "': malformed state entry");
  }

  const std::string name_;
  const spec::WindowSpec window_;
  KeyGrouper grouper_;
  Aggregates aggs_;
  std::shared_ptr<const Schema> schema_, input_schema_;
  const size_t num_keys_;

  state::KeyedStateBackend* state_ = nullptr;
  state::StateId state_id_ = 0;
  const Clock* clock_ = nullptr;
  bool event_time_ = true;
  int max_parallelism_ = 128;
  int64_t lateness_ = 0;
  // Windows with end - 1 <= limit_ have fired: the watermark, or the
  // processing time - 1.
  int64_t limit_ = kMinWatermark;
  OperatorProgress progress_;  // limit_ across restores (time windows)
  std::map<int64_t, std::vector<Timer>> timers_;
  OutputBuffer main_, late_;

  // Scratch, reused across batches.
  const int64_t* times_ = nullptr;
  std::vector<int64_t> proc_times_;
  std::vector<Item> items_;
  std::vector<uint32_t> run_rows_, late_rows_, parent_;
  std::vector<std::pair<uint32_t, uint32_t>> session_rows_;
  std::vector<Session> sessions_;
  size_t num_sessions_ = 0;
  int64_t next_seq_ = 0;
  Accumulators accs_;
  std::string state_key_, value_;
};

}  // namespace

Result<std::unique_ptr<runtime::Operator>> MakeWindowAggregate(
    const spec::OperatorSpec& op, const spec::JobSpec& job,
    const std::vector<const Schema*>& inputs) {
  if (!op.window || inputs.size() != 1 || !inputs[0])
    return Status::InvalidArgument("window '" + op.name + "' needs a window and one input");
  return std::unique_ptr<runtime::Operator>(new WindowAggregateOperator(op, *inputs[0]));
}

}  // namespace weir::operators
