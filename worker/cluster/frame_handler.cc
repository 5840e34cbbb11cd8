#include "worker/cluster/frame_handler.h"

#include "common/batch_codec.h"

namespace weir::cluster {

Status FrameHandler::Bad(const std::string& why) const {
  return Status::InvalidArgument("exchange frame from " + header_.job_id() + " vertex " +
                                 std::to_string(header_.from_vertex()) + " subtask " +
                                 std::to_string(header_.from_subtask()) + ": " + why);
}

Result<const ExchangeRoute*> FrameHandler::RouteOf(const v1::ExchangeElement& el) {
  const auto key = std::make_tuple(el.edge(), el.to_vertex(), el.to_subtask());
  auto it = routes_.find(key);
  if (it == routes_.end()) {
    auto route = receiver_->Route(el.edge(), header_.from_vertex(), header_.from_subtask(),
                                  el.to_vertex(), el.to_subtask());
    if (!route.ok()) return Bad(route.status().message());
    it = routes_.emplace(key, std::move(route).value()).first;
  }
  if (el.channel() != it->second.channel)
    return Bad("channel " + std::to_string(el.channel()) + " is not this producer's (" +
               std::to_string(it->second.channel) + ") at subtask " +
               std::to_string(el.to_subtask()) + " of vertex " + std::to_string(el.to_vertex()));
  return &it->second;
}

Status FrameHandler::Deliver(v1::ExchangeFrame& frame) {
  for (auto& el : *frame.mutable_elements()) {
    WEIR_ASSIGN_OR_RETURN(const ExchangeRoute* route, RouteOf(el));
    runtime::Element e;
    e.channel = route->channel;
    switch (el.kind()) {
      case v1::ExchangeElement::KIND_BATCH: {
        e.kind = runtime::Element::Kind::kBatch;
        e.batch = RecordBatch(route->schema);
        Status st = DecodeBatch(el.batch(), &e.batch);
        if (!st.ok()) return Bad(st.message());
        break;
      }
      case v1::ExchangeElement::KIND_WATERMARK:
        e.kind = runtime::Element::Kind::kWatermark;
        e.watermark.watermark = el.watermark_ms();
        e.watermark.idle = el.idle();
        break;
      case v1::ExchangeElement::KIND_BARRIER:
        if (el.checkpoint_id() <= 0)
          return Bad("barrier of checkpoint " + std::to_string(el.checkpoint_id()));
        e.kind = runtime::Element::Kind::kBarrier;
        e.checkpoint_id = el.checkpoint_id();
        break;
      case v1::ExchangeElement::KIND_END_OF_INPUT:
        e.kind = runtime::Element::Kind::kEndOfInput;
        break;
      default:
        return Bad("element without a kind");
    }
    if (!route->queue->Push(std::move(e)))
      return Status::Cancelled("the receiving attempt was cancelled");
  }
  return Status::OK();
}

}  // namespace weir::cluster
