// What travels between tasks, and the bounded queue it travels in.
//
// Every consumer subtask has one InputQueue fed by all its input channels (a
// channel is one producer subtask on one edge); elements carry their channel
// index so the consumer can take the minimum watermark over channels and see
// each channel end. The queue is bounded: a full queue blocks the producer,
// which is how a slow consumer slows its producers (backpressure) instead of
// growing memory. Close() wakes everyone up; pushes then fail and pops return
// nothing, so tasks exit on cancellation.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>

#include "common/batch.h"
#include "common/watermark.h"

namespace weir::runtime {

struct Element {
  enum class Kind { kBatch, kWatermark, kBarrier, kEndOfInput };
  Kind kind = Kind::kBatch;
  int channel = 0;
  RecordBatch batch;          // kBatch
  WatermarkStatus watermark;  // kWatermark
  int64_t checkpoint_id = 0;  // kBarrier
};

// Where a producer sends elements: a consumer's InputQueue in this process,
// or a stream to the worker that runs the consumer (worker/cluster). One
// virtual call per batch, not per row.
class ElementSink {
 public:
  virtual ~ElementSink() = default;
  // Blocks while the consumer cannot take more (backpressure). False when
  // the job is being cancelled or the consumer has gone.
  virtual bool Push(Element&& e) = 0;
};

class InputQueue final : public ElementSink {
 public:
  explicit InputQueue(size_t capacity) : capacity_(capacity) {}

  // Blocks while full. False when the queue was closed.
  bool Push(Element&& e) override {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(e));
    not_empty_.notify_one();
    return true;
  }

  // Waits up to `timeout` for an element; nullopt on timeout or when closed.
  std::optional<Element> Pop(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (!not_empty_.wait_for(lock, timeout, [&] { return closed_ || !items_.empty(); }))
      return std::nullopt;
    if (items_.empty()) return std::nullopt;
    Element e = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return e;
  }

  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

  bool closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<Element> items_;
  size_t capacity_;
  bool closed_ = false;
};

}  // namespace weir::runtime
