// The receiving side of one exchange stream, without the network: checks
// every element of the frames another worker sends against the plan and
// puts it into the consumer subtask's input queue (worker/cluster/exchange.h
// runs it for each Transfer stream; tests/fuzz/fuzz_exchange_frame.cc feeds
// it arbitrary frames).
//
// Nothing in a frame is trusted. The stream's header names the producer
// (vertex, subtask); each element names an edge, a consumer (vertex,
// subtask) and the channel the producer believes it has there. An element is
// delivered only when the edge leads from the header's vertex to the named
// consumer, that consumer runs here, and the channel is exactly the one the
// plan gives that (edge, producer subtask) at that consumer: a task indexes
// its per-channel state with it, and a wrong one would write out of bounds,
// or deliver another channel's barriers or end of input, or put rows on the
// port of another edge (the other side of a join).
#pragma once

#include <map>
#include <memory>
#include <tuple>

#include "common/status.h"
#include "common/types.h"
#include "weir/v1/exchange.pb.h"
#include "worker/runtime/channel.h"

namespace weir::cluster {

// Where the elements of one (edge, producer subtask, consumer subtask) go.
struct ExchangeRoute {
  runtime::InputQueue* queue = nullptr;
  std::shared_ptr<const Schema> schema;  // of the rows the edge carries
  int channel = -1;                      // the consumer's input channel for this producer
};

// What a receiving attempt offers the exchange.
class ExchangeReceiver {
 public:
  virtual ~ExchangeReceiver() = default;
  // The route of `edge` from subtask `from_subtask` of `from_vertex` to
  // subtask `to_subtask` of `to_vertex`, or INVALID_ARGUMENT saying why the
  // plan has no such route here.
  virtual Result<ExchangeRoute> Route(int edge, int from_vertex, int from_subtask, int to_vertex,
                                      int to_subtask) = 0;
};

class FrameHandler {
 public:
  FrameHandler(v1::StreamHeader header, ExchangeReceiver* receiver)
      : header_(std::move(header)), receiver_(receiver) {}

  // Checks and delivers the elements of `frame` in order. INVALID_ARGUMENT
  // at the first element that does not fit the plan (those before it are
  // delivered, none after); CANCELLED when a queue was closed (the
  // receiving attempt is going away).
  Status Deliver(v1::ExchangeFrame& frame);

 private:
  Result<const ExchangeRoute*> RouteOf(const v1::ExchangeElement& el);
  Status Bad(const std::string& why) const;

  const v1::StreamHeader header_;
  ExchangeReceiver* receiver_;
  std::map<std::tuple<int, int, int>, ExchangeRoute> routes_;  // (edge, to_vertex, to_subtask)
};

}  // namespace weir::cluster
