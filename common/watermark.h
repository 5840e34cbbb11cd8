// Event-time watermarks at the sources (shared/design/architecture.md, Time).
//
// PartitionWatermarks tracks, per input partition of a source subtask, the
// largest event time seen; a partition's watermark is that minus
// max_out_of_orderness minus 1 ms. The subtask's watermark is the minimum over
// partitions that are neither idle (no record for idle_timeout, by the
// injected clock) nor ended. When every remaining partition is idle the
// subtask reports itself idle: downstream then ignores it when taking the
// minimum over its inputs, so a quiet partition cannot stall event time.
// Watermarks never go backwards.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "common/time.h"

namespace weir {

constexpr int64_t kMinWatermark = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxWatermark = std::numeric_limits<int64_t>::max();

struct WatermarkStatus {
  int64_t watermark = kMinWatermark;
  bool idle = false;
};

class PartitionWatermarks {
 public:
  PartitionWatermarks(int64_t max_out_of_orderness_ms, int64_t idle_timeout_ms, const Clock* clock)
      : delay_(max_out_of_orderness_ms), idle_timeout_(idle_timeout_ms), clock_(clock) {}

  // Partitions are numbered 0..n-1 in this subtask's own numbering.
  void Resize(int partitions) {
    parts_.resize(static_cast<size_t>(partitions),
                  Part{kMinWatermark, clock_ ? clock_->NowMillis() : 0, false});
  }
  int partitions() const { return static_cast<int>(parts_.size()); }

  // Per row; cheap. The clock is read once per call of Touch, not per row.
  void Observe(int partition, int64_t event_time) {
    Part& p = parts_[static_cast<size_t>(partition)];
    if (event_time > p.max_ts) p.max_ts = event_time;
  }
  // The partition delivered something at the clock's current time.
  void Touch(int partition) {
    if (clock_) parts_[static_cast<size_t>(partition)].last_active = clock_->NowMillis();
  }
  void End(int partition) { parts_[static_cast<size_t>(partition)].ended = true; }

  WatermarkStatus Current() {
    int64_t now = clock_ ? clock_->NowMillis() : 0;
    int64_t min_active = kMaxWatermark, max_any = kMinWatermark;
    bool any_active = false, all_ended = true;
    for (const Part& p : parts_) {
      if (p.ended) continue;
      all_ended = false;
      int64_t wm = PartitionWatermark(p);
      max_any = std::max(max_any, wm);
      bool idle = idle_timeout_ > 0 && now - p.last_active >= idle_timeout_;
      if (!idle) {
        any_active = true;
        min_active = std::min(min_active, wm);
      }
    }
    WatermarkStatus s;
    if (all_ended) {
      s.watermark = kMaxWatermark;
    } else if (any_active) {
      s.watermark = min_active;
    } else {
      s.watermark = max_any;
      s.idle = true;
    }
    if (s.watermark < emitted_) s.watermark = emitted_;
    emitted_ = s.watermark;
    return s;
  }

 private:
  struct Part {
    int64_t max_ts;
    int64_t last_active;
    bool ended;
  };
  int64_t PartitionWatermark(const Part& p) const {
    if (p.max_ts == kMinWatermark) return kMinWatermark;
    if (p.max_ts < kMinWatermark + delay_ + 1) return kMinWatermark;
    return p.max_ts - delay_ - 1;
  }

  int64_t delay_;
  int64_t idle_timeout_;
  const Clock* clock_;
  std::vector<Part> parts_;
  int64_t emitted_ = kMinWatermark;
};

// ChannelWatermarks combines the watermarks arriving on a task's input
// channels: the task's watermark is the minimum over channels that are
// neither idle nor ended. When every open channel is idle the task reports
// itself idle (keeping its last watermark). Update returns true when the
// combined status changed and must be forwarded downstream.
class ChannelWatermarks {
 public:
  explicit ChannelWatermarks(size_t channels) : channels_(channels) {}

  bool Update(size_t channel, const WatermarkStatus& wm) {
    Channel& ch = channels_[channel];
    ch.watermark = std::max(ch.watermark, wm.watermark);
    ch.idle = wm.idle;
    return Recompute();
  }
  // The channel delivered its last element; returns as Update.
  bool End(size_t channel) {
    Channel& ch = channels_[channel];
    if (!ch.ended) {
      ch.ended = true;
      ++ended_;
    }
    return Recompute();
  }
  bool all_ended() const { return ended_ == channels_.size(); }
  WatermarkStatus current() const { return current_; }

 private:
  struct Channel {
    int64_t watermark = kMinWatermark;
    bool idle = false;
    bool ended = false;
  };
  bool Recompute() {
    int64_t min_active = kMaxWatermark;
    bool any_active = false;
    for (const Channel& ch : channels_) {
      if (ch.ended || ch.idle) continue;
      any_active = true;
      min_active = std::min(min_active, ch.watermark);
    }
    if (any_active && min_active > current_.watermark) {
      current_ = {min_active, false};
      return true;
    }
    if (!any_active && !current_.idle) {
      current_.idle = true;
      return true;
    }
    if (any_active && current_.idle) {
      current_.idle = false;  // downstream must count this task again
      return true;
    }
    return false;
  }

  std::vector<Channel> channels_;
  size_t ended_ = 0;
  WatermarkStatus current_;
};

}  // namespace weir
