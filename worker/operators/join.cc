// Joins: join: {left, right, on, within | window}. Input 0 is the left
// stream, input 1 the right one. Both are inner equi-joins on the keys
// extracted from `on` (op.join_left_keys[i] = op.join_right_keys[i], each
// evaluated on its own side; a bigint key compared with a double one is
// compared as double). A row with a null key value never matches (SQL), and
// is not buffered. Output rows: the left row's fields, then the right row's
// (as op.schema names them), plus window_start/window_end for a window join.
// Row times are event times in event-time jobs, the clock's time at arrival
// otherwise.
//
// Interval join (join_within_ms): left row l and right row r match when
// their keys are equal and |l.time - r.time| <= within (the boundary
// included). Every row is buffered per key; an arriving row probes the other
// side's buffer and emits its matches at once, with event time
// max(l.time, r.time). A buffered row expires when the watermark passes
// row.time + within (processing time: when the clock does), since no row
// that can still match it may come. A row with time < watermark is late
// (Flink's rule: matches it needs may have expired): dropped and counted
// (stats().late_dropped).
//
// Window join (op.window: tumbling, sliding or session): rows of both sides
// are assigned to windows per key as in window.cc (session windows merge
// across both sides); when a window fires (watermark >= end - 1; processing
// time: clock >= end), every (left, right) pair of its rows is emitted with
// the window's bounds and event time end - 1, and the window is dropped.
// There is no allowed lateness: a row all of whose windows have fired is
// dropped and counted. Finish() fires every remaining window.
//
// State (under the key's key group):
//  - interval: state "buffers", list state (worker/state/list_state.h) per
//    key bytes: one element per buffered row of either side, in arrival
//    order, element = u8 side (0 left, 1 right), zigzag event time, EncodeRow
//    bytes. A batch reads the key's list once (to probe the other side) and
//    appends its rows for the key in one AppendFramed (a RocksDB Merge: the
//    buffer is not rewritten); only expiry rewrites the list (Put of the rows
//    kept, or Delete when none is).
//  - windows, a side section being a sequence of entries (zigzag event time,
//    length-prefixed EncodeRow bytes):
//    - tumbling/sliding: state "windows", key bytes + window start -> varint
//      left section length, left section, right section;
//    - session: state "sessions", key bytes -> varint n, then n x (zigzag
//      start, varint end - start, length-prefixed left section,
//      length-prefixed right section).
//    Each batch reads and writes one entry per distinct key (and window).
// State "progress" (OperatorProgress): the watermark (processing time: the
// clock) that expiry and firing have reached.
// Timers (in memory): interval: per key, the earliest time a buffered row
// expires; windows: (key, window) at end - 1.
//
// Restore: Open reads back the progress and scans the state of its key
// groups: interval, a timer per key at the expiry of its earliest buffered
// row (of either side: the minimum time over its list's elements); windows, a timer per window (per
// session of an entry) at end - 1. Fired windows are deleted when they fire, so every window in the
// state is still to fire. Nothing else lives in memory between calls (output is flushed before each
// call returns).
#include <algorithm>
#include <map>
#include <unordered_map>

#include "common/watermark.h"
#include "worker/operators/stateful_internal.h"
#include "worker/state/typed_state.h"

namespace weir::operators {
namespace {

using runtime::Output;

std::vector<TypeId> JoinKeyTypes(const spec::OperatorSpec& op) {
  std::vector<TypeId> types;
  for (size_t i = 0; i < op.join_left_keys.size(); ++i) {
    TypeId l = op.join_left_keys[i].expr->type, r = op.join_right_keys[i].expr->type;
    types.push_back(l != r && IsNumeric(l) && IsNumeric(r) ? TypeId::kDouble : l);
  }
  return types;
}

// Splits "varint left length, left, right" into its sections.
bool SplitSides(std::string_view value, std::string_view* left, std::string_view* right) {
  ByteReader rd(value);
  uint64_t n = rd.GetVarint();
  if (!rd.ok() || n > rd.rest().size()) return false;
  *left = rd.rest().substr(0, n);
  *right = rd.rest().substr(n);
  return true;
}

void JoinSides(std::string_view left, std::string_view right, std::string* out) {
  out->clear();
  ByteWriter w(out);
  w.PutVarint(left.size());
  out->append(left);
  out->append(right);
}

// What both kinds of join share: keys, schemas, entry codec, pair output.
class JoinBase : public KeyedOperator {
 protected:
  JoinBase(const spec::OperatorSpec& op, const Schema& left, const Schema& right)
      : name_(op.name),
        left_keys_(op.join_left_keys, JoinKeyTypes(op)),
        right_keys_(op.join_right_keys, JoinKeyTypes(op)),
        schema_(std::make_shared<Schema>(op.schema)),
        left_schema_(std::make_shared<Schema>(left)),
        right_schema_(std::make_shared<Schema>(right)),
        num_left_(left.size()),
        num_right_(right.size()) {
    bufs_[0] = RecordBatch(left_schema_);
    bufs_[1] = RecordBatch(right_schema_);
  }

  Status OpenBase(const runtime::OperatorContext& ctx, const char* state_name) {
    if (!ctx.state) return Status::FailedPrecondition("join '" + name_ + "': no state backend");
    state_ = ctx.state;
    clock_ = ctx.clock;
    event_time_ = ctx.event_time;
    max_parallelism_ = ctx.max_parallelism;
    state_id_ = state_->Register(name_, state_name);
    main_ = OutputBuffer(schema_, 0, ctx.batch_size);
    WEIR_ASSIGN_OR_RETURN(limit_, progress_.Open(ctx, name_, state_id_));
    return Status::OK();
  }

  // Calls fn(key group, state key, value) for every entry of the state in
  // `range`; fn returns false for a malformed entry (kDataLoss).
  template <typename Fn>
  Status ScanState(KeyGroupRange range, Fn fn) {
    bool malformed = false;
    WEIR_RETURN_IF_ERROR(
        state_->Scan(state_id_, range, [&](int kg, std::string_view key, std::string_view value) {
          malformed = !fn(kg, key, value);
          return !malformed;
        }));
    return malformed ? Corrupt() : Status::OK();
  }

  // Groups the batch of `side` by its join key and sets times_.
  void Prepare(int side, const RecordBatch& batch) {
    const int64_t now = clock_ ? clock_->NowMillis() : 0;
    if (event_time_) {
      times_ = batch.event_time.data();
    } else {
      proc_times_.assign(batch.num_rows(), now);
      times_ = proc_times_.data();
    }
    Keys(side).Group(batch, max_parallelism_, now);
  }

  KeyGrouper& Keys(int side) { return side == 0 ? left_keys_ : right_keys_; }
  size_t NumColumns(int side) const { return side == 0 ? num_left_ : num_right_; }

  // Appends rows[0..n) of batch as entries to *section.
  void AppendEntries(const RecordBatch& batch, const uint32_t* rows, size_t n,
                     std::string* section) {
    ByteWriter w(section);
    for (size_t k = 0; k < n; ++k) {
      w.PutSigned(times_[rows[k]]);
      row_.clear();
      EncodeRow(batch.columns, rows[k], &row_);
      w.PutBytes(row_);
    }
  }

  // Decodes a section of `side` into bufs_[side] (rows and their times).
  Status DecodeSection(std::string_view section, int side) {
    RecordBatch& b = bufs_[side];
    b.Clear();
    ByteReader rd(section);
    while (!rd.done()) {
      int64_t t = rd.GetSigned();
      ByteReader row(rd.GetBytes());
      if (!rd.ok() || !DecodeRowInto(&row, NumColumns(side), &b.columns, 0)) return Corrupt();
      b.event_time.push_back(t);
    }
    return Status::OK();
  }

  void EmitPair(const RecordBatch& l, size_t li, const RecordBatch& r, size_t ri, int64_t time,
                const int64_t* window, Output& out) {
    RecordBatch& b = main_.batch();
    for (size_t c = 0; c < num_left_; ++c) b.columns[c].AppendFrom(l.columns[c], li);
    for (size_t c = 0; c < num_right_; ++c) b.columns[num_left_ + c].AppendFrom(r.columns[c], ri);
    if (window) {
      b.columns[num_left_ + num_right_].AppendInt(window[0]);
      b.columns[num_left_ + num_right_ + 1].AppendInt(window[1]);
    }
    b.event_time.push_back(time);
    ++stats_.join_matches;
    main_.RowAdded(out);
  }

  Status Corrupt() const { return Status::DataLoss("join '" + name_ + "': malformed state entry"); }

  const std::string name_;
  KeyGrouper left_keys_, right_keys_;
  std::shared_ptr<const Schema> schema_, left_schema_, right_schema_;
  const size_t num_left_, num_right_;
  state::KeyedStateBackend* state_ = nullptr;
  state::StateId state_id_ = 0;
  const Clock* clock_ = nullptr;
  bool event_time_ = true;
  int max_parallelism_ = 128;
  // Interval: rows with expiry timer <= limit_ are gone; windows: windows
  // with end - 1 <= limit_ have fired. The watermark, or (processing time)
  // the clock for interval joins and the clock - 1 for window joins.
  int64_t limit_ = kMinWatermark;
  OperatorProgress progress_;  // limit_ across restores
  OutputBuffer main_;

  const int64_t* times_ = nullptr;
  std::vector<int64_t> proc_times_;
  RecordBatch bufs_[2];  // decoded sections, per side
  std::vector<uint32_t> run_rows_;
  std::string row_, value_, section_, other_section_;
};

// ---- Interval join ----

class IntervalJoinOperator final : public JoinBase {
 public:
  IntervalJoinOperator(const spec::OperatorSpec& op, const Schema& left, const Schema& right)
      : JoinBase(op, left, right), within_(op.join_within_ms) {}

  Status Open(const runtime::OperatorContext& ctx) override {
    WEIR_RETURN_IF_ERROR(OpenBase(ctx, "buffers"));
    buffers_ = state::ListState(state_, state_id_);
    // A timer per key, at the expiry of its earliest buffered row.
    return ScanState(ctx.key_groups, [&](int kg, std::string_view key, std::string_view value) {
      int64_t min_t = kMaxWatermark;
      state::ListReader list(value);
      std::string_view element;
      while (list.Next(&element)) {
        int side = 0;
        int64_t t = 0;
        if (!ReadElementHead(element, &side, &t)) return false;
        min_t = std::min(min_t, t);
      }
      if (!list.ok()) return false;
      if (min_t != kMaxWatermark) AddTimer(key, kg, ExpiryTimer(min_t));
      return true;
    });
  }

  Status ProcessBatch(int input, RecordBatch& batch, Output& out) override {
    if (batch.num_rows() == 0) return Status::OK();
    const int side = input == 0 ? 0 : 1, other = 1 - side;
    Prepare(side, batch);
    KeyGrouper& keys = Keys(side);
    for (size_t g = 0; g < keys.num_groups(); ++g) {
      if (keys.has_null(g)) continue;
      const uint32_t* rows = keys.rows(g);
      run_rows_.clear();
      int64_t min_t = kMaxWatermark;
      for (size_t k = 0, m = keys.num_rows(g); k < m; ++k) {
        const int64_t t = times_[rows[k]];
        if (event_time_ && t < limit_) {
          ++stats_.late_dropped;
          continue;
        }
        run_rows_.push_back(rows[k]);
        min_t = std::min(min_t, t);
      }
      if (run_rows_.empty()) continue;
      const std::string_view key = keys.key(g);
      const int kg = keys.key_group(g);
      WEIR_ASSIGN_OR_RETURN(bool found, buffers_.GetRaw(kg, key, &value_));
      // Probe the other side's buffered rows, sorted by time.
      WEIR_RETURN_IF_ERROR(
          DecodeSide(found ? std::string_view(value_) : std::string_view(), other));
      const RecordBatch& buf = bufs_[other];
      if (buf.num_rows() > 0) {
        probe_.resize(buf.num_rows());
        for (size_t i = 0; i < probe_.size(); ++i) probe_[i] = static_cast<uint32_t>(i);
        std::sort(probe_.begin(), probe_.end(),
                  [&](uint32_t a, uint32_t b) { return buf.event_time[a] < buf.event_time[b]; });
        for (uint32_t r : run_rows_) {
          const int64_t t = times_[r];
          const int64_t lo = SaturatingAdd(t, -within_), hi = SaturatingAdd(t, within_);
          auto it = std::lower_bound(probe_.begin(), probe_.end(), lo,
                                     [&](uint32_t p, int64_t v) { return buf.event_time[p] < v; });
          for (; it != probe_.end() && buf.event_time[*it] <= hi; ++it) {
            const int64_t time = std::max(t, buf.event_time[*it]);
            if (side == 0)
              EmitPair(batch, r, buf, *it, time, nullptr, out);
            else
              EmitPair(buf, *it, batch, r, time, nullptr, out);
          }
        }
      }
      // Buffer the new rows: appended to the key's list in one write.
      section_.clear();
      for (uint32_t r : run_rows_) {
        element_.clear();
        element_.push_back(static_cast<char>(side));
        ByteWriter(&element_).PutSigned(times_[r]);
        EncodeRow(batch.columns, r, &element_);
        state::AppendListElement(element_, &section_);
      }
      WEIR_RETURN_IF_ERROR(buffers_.AddFramed(kg, key, section_));
      AddTimer(key, kg, ExpiryTimer(min_t));
    }
    main_.Flush(out);
    return Status::OK();
  }

  Status ProcessWatermark(int64_t watermark, Output& out) override {
    if (!event_time_ || watermark <= limit_) return Status::OK();
    limit_ = watermark;
    WEIR_RETURN_IF_ERROR(progress_.Store(limit_));
    return Expire();
  }

  Status ProcessTime(int64_t now_ms, Output& out) override {
    if (event_time_ || now_ms <= limit_) return Status::OK();
    limit_ = now_ms;
    WEIR_RETURN_IF_ERROR(progress_.Store(limit_));
    return Expire();
  }

 private:
  struct Timer {
    std::string key;
    int key_group;
  };

  // Reads the side and time at the head of a buffer element; false when
  // malformed.
  static bool ReadElementHead(std::string_view element, int* side, int64_t* t) {
    ByteReader rd(element);
    const uint8_t s = rd.GetU8();
    *t = rd.GetSigned();
    *side = s;
    return rd.ok() && s <= 1;
  }

  // Decodes the rows of `side` in a buffer list into bufs_[side] (rows and
  // their times), skipping the other side's.
  Status DecodeSide(std::string_view list, int side) {
    RecordBatch& b = bufs_[side];
    b.Clear();
    state::ListReader rd(list);
    std::string_view element;
    while (rd.Next(&element)) {
      ByteReader er(element);
      const uint8_t s = er.GetU8();
      if (!er.ok() || s > 1) return Corrupt();
      if (s != side) continue;
      const int64_t t = er.GetSigned();
      if (!er.ok()) return Corrupt();
      ByteReader row(er.rest());
      if (!DecodeRowInto(&row, NumColumns(side), &b.columns, 0)) return Corrupt();
      b.event_time.push_back(t);
    }
    return rd.ok() ? Status::OK() : Corrupt();
  }

  // The timer time at which a row of time t has expired: limit > t + within.
  int64_t ExpiryTimer(int64_t t) const { return SaturatingAdd(SaturatingAdd(t, within_), 1); }

  void AddTimer(std::string_view key, int kg, int64_t time) {
    auto it = pending_.find(key);
    if (it != pending_.end() && it->second <= time) return;  // an earlier one will come
    if (it == pending_.end())
      pending_.emplace(std::string(key), time);
    else
      it->second = time;
    timers_[time].push_back({std::string(key), kg});
  }

  // Rewrites the list of a key without its expired rows (deletes it when
  // none is left; leaves it alone when none expired) and sets the key's next
  // timer.
  Status ExpireKey(const Timer& timer) {
    WEIR_ASSIGN_OR_RETURN(bool found, buffers_.GetRaw(timer.key_group, timer.key, &value_));
    if (!found) return Status::OK();
    section_.clear();  // the frames of the rows kept, as they are
    int64_t min_t = kMaxWatermark;
    bool dropped = false;
    const std::string_view list = value_;
    state::ListReader rd(list);
    std::string_view element;
    for (size_t begin = rd.pos(); rd.Next(&element); begin = rd.pos()) {
      int side = 0;
      int64_t t = 0;
      if (!ReadElementHead(element, &side, &t)) return Corrupt();
      if (ExpiryTimer(t) <= limit_) {
        dropped = true;
        continue;
      }
      section_.append(list.substr(begin, rd.pos() - begin));
      min_t = std::min(min_t, t);
    }
    if (!rd.ok()) return Corrupt();
    if (dropped) WEIR_RETURN_IF_ERROR(buffers_.UpdateFramed(timer.key_group, timer.key, section_));
    if (min_t != kMaxWatermark) AddTimer(timer.key, timer.key_group, ExpiryTimer(min_t));
    return Status::OK();
  }

  Status Expire() {
    while (!timers_.empty() && timers_.begin()->first <= limit_) {
      auto node = timers_.extract(timers_.begin());
      for (const Timer& t : node.mapped()) {
        auto it = pending_.find(t.key);
        if (it == pending_.end() || it->second != node.key()) continue;  // superseded
        pending_.erase(it);
        WEIR_RETURN_IF_ERROR(ExpireKey(t));
      }
    }
    return Status::OK();
  }

  const int64_t within_;
  state::ListState buffers_;  // state "buffers" (state_id_)
  std::map<int64_t, std::vector<Timer>> timers_;
  // key -> its earliest timer; hashed: it holds every key with buffered rows
  std::unordered_map<std::string, int64_t, StringViewHash, std::equal_to<>> pending_;
  std::vector<uint32_t> probe_;
  std::string element_;
};

// ---- Window join ----

class WindowJoinOperator final : public JoinBase {
 public:
  WindowJoinOperator(const spec::OperatorSpec& op, const Schema& left, const Schema& right)
      : JoinBase(op, left, right), window_(*op.window) {}

  Status Open(const runtime::OperatorContext& ctx) override {
    const bool sessions = window_.kind == spec::WindowKind::kSession;
    WEIR_RETURN_IF_ERROR(OpenBase(ctx, sessions ? "sessions" : "windows"));
    // A timer per window still in the state: none of them has fired.
    return ScanState(
        ctx.key_groups, [&](int kg, std::string_view state_key, std::string_view value) {
          if (!sessions) {
            std::string_view key;
            int64_t start = 0;
            if (!SplitWindowKey(state_key, &key, &start)) return false;
            const int64_t end = SaturatingAdd(start, window_.size_ms);
            timers_[end - 1].push_back({std::string(key), kg, start, end});
            return true;
          }
          ByteReader rd(value);
          const uint64_t count = rd.GetVarint();
          for (uint64_t i = 0; i < count && rd.ok(); ++i) {
            const int64_t start = rd.GetSigned();
            const int64_t end = SaturatingAdd(start, static_cast<int64_t>(rd.GetVarint()));
            rd.GetBytes();  // left rows
            rd.GetBytes();  // right rows
            if (rd.ok()) timers_[end - 1].push_back({std::string(state_key), kg, start, end});
          }
          return rd.ok();
        });
  }

  Status ProcessBatch(int input, RecordBatch& batch, Output& out) override {
    if (batch.num_rows() == 0) return Status::OK();
    const int side = input == 0 ? 0 : 1;
    Prepare(side, batch);
    Status st = window_.kind == spec::WindowKind::kSession ? ProcessSessions(side, batch)
                                                           : ProcessTimeWindows(side, batch);
    WEIR_RETURN_IF_ERROR(st);
    main_.Flush(out);
    return Status::OK();
  }

  Status ProcessWatermark(int64_t watermark, Output& out) override {
    if (!event_time_ || watermark <= limit_) return Status::OK();
    limit_ = watermark;
    WEIR_RETURN_IF_ERROR(progress_.Store(limit_));
    return FireTimers(out);
  }

  Status ProcessTime(int64_t now_ms, Output& out) override {
    if (event_time_) return Status::OK();
    int64_t limit = SaturatingAdd(now_ms, -1);
    if (limit <= limit_) return Status::OK();
    limit_ = limit;
    WEIR_RETURN_IF_ERROR(progress_.Store(limit_));
    return FireTimers(out);
  }

  Status Finish(Output& out) override {
    limit_ = kMaxWatermark;
    return FireTimers(out);
  }

 private:
  struct Timer {
    std::string key;
    int key_group;
    int64_t start, end;
  };
  struct Item {
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
    int64_t start, end, orig_start, orig_end;
    bool alive, touched, is_new;
    std::string sides[2];
  };

  Status ProcessTimeWindows(int side, const RecordBatch& batch) {
    const int64_t size = window_.size_ms;
    const int64_t slide = window_.kind == spec::WindowKind::kSliding ? window_.slide_ms : size;
    KeyGrouper& keys = Keys(side);
    items_.clear();
    for (size_t g = 0; g < keys.num_groups(); ++g) {
      if (keys.has_null(g)) continue;
      const uint32_t* rows = keys.rows(g);
      for (size_t k = 0, m = keys.num_rows(g); k < m; ++k) {
        const uint32_t r = rows[k];
        const int64_t t = times_[r];
        bool any = false;
        for (int64_t s = FloorTo(t, slide); s > t - size; s -= slide) {
          if (SaturatingAdd(s, size) - 1 <= limit_) continue;  // fired already
          any = true;
          items_.push_back({static_cast<uint32_t>(g), s, r});
          if (s < std::numeric_limits<int64_t>::min() + slide) break;
        }
        if (!any) ++stats_.late_dropped;
      }
    }
    std::sort(items_.begin(), items_.end());
    for (size_t i = 0; i < items_.size();) {
      size_t j = i;
      run_rows_.clear();
      while (j < items_.size() && items_[j].group == items_[i].group &&
             items_[j].start == items_[i].start)
        run_rows_.push_back(items_[j++].row);
      const std::string_view key = keys.key(items_[i].group);
      const int kg = keys.key_group(items_[i].group);
      const int64_t start = items_[i].start;
      state_key_.assign(key);
      AppendTimeSuffix(start, &state_key_);
      WEIR_ASSIGN_OR_RETURN(bool found, state_->Get(state_id_, kg, state_key_, &value_));
      std::string_view sides[2];
      if (found && !SplitSides(value_, &sides[0], &sides[1])) return Corrupt();
      section_.assign(sides[side]);
      AppendEntries(batch, run_rows_.data(), run_rows_.size(), &section_);
      if (side == 0)
        JoinSides(section_, sides[1], &other_section_);
      else
        JoinSides(sides[0], section_, &other_section_);
      WEIR_RETURN_IF_ERROR(state_->Put(state_id_, kg, state_key_, other_section_));
      if (!found) {
        const int64_t end = SaturatingAdd(start, size);
        timers_[end - 1].push_back({std::string(key), kg, start, end});
      }
      i = j;
    }
    return Status::OK();
  }

  Status LoadSessions(int kg, std::string_view key, bool* found) {
    num_sessions_ = 0;
    WEIR_ASSIGN_OR_RETURN(*found, state_->Get(state_id_, kg, key, &value_));
    if (!*found) return Status::OK();
    ByteReader rd(value_);
    uint64_t count = rd.GetVarint();
    if (!rd.ok() || count > value_.size()) return Corrupt();
    for (uint64_t i = 0; i < count; ++i) {
      Session& s = NewSession();
      s.start = rd.GetSigned();
      s.end = SaturatingAdd(s.start, static_cast<int64_t>(rd.GetVarint()));
      s.orig_start = s.start;
      s.orig_end = s.end;
      s.is_new = false;
      s.sides[0].assign(rd.GetBytes());
      s.sides[1].assign(rd.GetBytes());
      if (!rd.ok()) return Corrupt();
    }
    return Status::OK();
  }

  Status StoreSessions(int kg, std::string_view key, bool found) {
    value_.clear();
    ByteWriter w(&value_);
    size_t alive = 0;
    for (size_t i = 0; i < num_sessions_; ++i) alive += sessions_[i].alive ? 1 : 0;
    if (alive == 0) return found ? state_->Delete(state_id_, kg, key) : Status::OK();
    w.PutVarint(alive);
    for (size_t i = 0; i < num_sessions_; ++i) {
      const Session& s = sessions_[i];
      if (!s.alive) continue;
      w.PutSigned(s.start);
      w.PutVarint(static_cast<uint64_t>(s.end - s.start));
      w.PutBytes(s.sides[0]);
      w.PutBytes(s.sides[1]);
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
    s.sides[0].clear();
    s.sides[1].clear();
    return s;
  }

  uint32_t Find(uint32_t s) {
    while (parent_[s] != s) s = parent_[s] = parent_[parent_[s]];
    return s;
  }

  Status ProcessSessions(int side, const RecordBatch& batch) {
    const int64_t gap = window_.gap_ms;
    KeyGrouper& keys = Keys(side);
    for (size_t g = 0; g < keys.num_groups(); ++g) {
      if (keys.has_null(g)) continue;
      const std::string_view key = keys.key(g);
      const int kg = keys.key_group(g);
      bool found = false;
      WEIR_RETURN_IF_ERROR(LoadSessions(kg, key, &found));
      const uint32_t* rows = keys.rows(g);
      session_rows_.clear();
      parent_.clear();
      for (size_t i = 0; i < num_sessions_; ++i) parent_.push_back(static_cast<uint32_t>(i));
      for (size_t k = 0, m = keys.num_rows(g); k < m; ++k) {
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
          Session& t = sessions_[static_cast<size_t>(target)];
          t.sides[0].append(s.sides[0]);
          t.sides[1].append(s.sides[1]);
          t.start = std::min(t.start, s.start);
          t.end = std::max(t.end, s.end);
          s.alive = false;
          parent_[j] = static_cast<uint32_t>(target);
        }
        if (target < 0) {
          if (we - 1 <= limit_) {  // its session would have fired already
            ++stats_.late_dropped;
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
      for (auto& sr : session_rows_) sr.first = Find(sr.first);
      std::sort(session_rows_.begin(), session_rows_.end());
      for (size_t i = 0; i < session_rows_.size();) {
        size_t j = i;
        run_rows_.clear();
        while (j < session_rows_.size() && session_rows_[j].first == session_rows_[i].first)
          run_rows_.push_back(session_rows_[j++].second);
        AppendEntries(batch, run_rows_.data(), run_rows_.size(),
                      &sessions_[session_rows_[i].first].sides[side]);
        i = j;
      }
      for (size_t j = 0; j < num_sessions_; ++j) {
        const Session& s = sessions_[j];
        if (s.alive && s.touched && (s.is_new || s.start != s.orig_start || s.end != s.orig_end))
          timers_[s.end - 1].push_back({std::string(key), kg, s.start, s.end});
      }
      WEIR_RETURN_IF_ERROR(StoreSessions(kg, key, found));
    }
    return Status::OK();
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
        if (s.start != t.start || s.end != t.end || !s.alive) continue;
        WEIR_RETURN_IF_ERROR(EmitWindow(s.sides[0], s.sides[1], t.start, t.end, out));
        s.alive = false;
        return StoreSessions(t.key_group, t.key, found);
      }
      return Status::OK();
    }
    state_key_.assign(t.key);
    AppendTimeSuffix(t.start, &state_key_);
    WEIR_ASSIGN_OR_RETURN(bool found, state_->Get(state_id_, t.key_group, state_key_, &value_));
    if (!found) return Status::OK();
    std::string_view sides[2];
    if (!SplitSides(value_, &sides[0], &sides[1])) return Corrupt();
    WEIR_RETURN_IF_ERROR(EmitWindow(sides[0], sides[1], t.start, t.end, out));
    return state_->Delete(state_id_, t.key_group, state_key_);
  }

  // Emits every (left, right) pair of a window's rows.
  Status EmitWindow(std::string_view left, std::string_view right, int64_t start, int64_t end,
                    Output& out) {
    if (left.empty() || right.empty()) return Status::OK();
    WEIR_RETURN_IF_ERROR(DecodeSection(left, 0));
    WEIR_RETURN_IF_ERROR(DecodeSection(right, 1));
    const int64_t window[2] = {start, end};
    for (size_t l = 0; l < bufs_[0].num_rows(); ++l)
      for (size_t r = 0; r < bufs_[1].num_rows(); ++r)
        EmitPair(bufs_[0], l, bufs_[1], r, end - 1, window, out);
    return Status::OK();
  }

  const spec::WindowSpec window_;
  std::map<int64_t, std::vector<Timer>> timers_;
  std::vector<Item> items_;
  std::vector<uint32_t> parent_;
  std::vector<std::pair<uint32_t, uint32_t>> session_rows_;
  std::vector<Session> sessions_;
  size_t num_sessions_ = 0;
  std::string state_key_;
};

}  // namespace

Result<std::unique_ptr<runtime::Operator>> MakeJoin(const spec::OperatorSpec& op,
                                                    const spec::JobSpec& job,
                                                    const std::vector<const Schema*>& inputs) {
  if (inputs.size() != 2 || !inputs[0] || !inputs[1])
    return Status::InvalidArgument("join '" + op.name + "' needs two inputs");
  if (op.join_left_keys.empty() || op.join_left_keys.size() != op.join_right_keys.size())
    return Status::InvalidArgument("join '" + op.name + "' has no equi-join keys");
  if (op.window) {
    if (op.window->kind == spec::WindowKind::kCount)
      return Status::InvalidArgument("join '" + op.name + "': count windows cannot join");
    return std::unique_ptr<runtime::Operator>(new WindowJoinOperator(op, *inputs[0], *inputs[1]));
  }
  return std::unique_ptr<runtime::Operator>(new IntervalJoinOperator(op, *inputs[0], *inputs[1]));
}

}  // namespace weir::operators
