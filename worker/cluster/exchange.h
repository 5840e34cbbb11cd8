// The data exchange between workers (proto/weir/v1/exchange.proto).
//
// Sending: a producer subtask reaches each consumer subtask on another worker
// through a RemoteTarget, an ElementSink that writes to the ExchangeClient of
// (that producer, that worker): one Transfer stream, opened on first use,
// shared by every edge and consumer subtask of that worker. Send blocks until
// the receiver has granted a credit, so a slow consumer stops its producers
// with at most `credits` frames per stream in flight.
//
// Receiving: ExchangeService looks up the attempt a stream belongs to (it
// waits a little for the deployment, which may lag behind the producer's);
// a FrameHandler (frame_handler.h) checks each element against the plan,
// decodes it against the edge's schema and pushes it into the consumer
// subtask's InputQueue (which blocks when full), then a credit goes back. A
// frame that does not fit the plan ends the stream with INVALID_ARGUMENT and
// counts in refused_streams(); the sender's attempt then fails and restarts.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "weir/v1/exchange.grpc.pb.h"
#include "worker/cluster/frame_handler.h"
#include "worker/runtime/channel.h"

namespace weir::cluster {

constexpr int kExchangeCredits = 8;

class ExchangeService final : public v1::Exchange::Service {
 public:
  // deploy_wait: how long a stream waits for its receiving attempt to be
  // deployed here (deployments may lag behind the sender's).
  explicit ExchangeService(std::chrono::milliseconds deploy_wait = std::chrono::seconds(30))
      : deploy_wait_(deploy_wait) {}
  ~ExchangeService() override;

  // Makes an attempt reachable. Unregister stops its streams and returns
  // once no handler uses the receiver any more.
  void Register(const std::string& job, int64_t attempt, ExchangeReceiver* receiver);
  void Unregister(const std::string& job, int64_t attempt);
  // Ends every stream (server shutdown).
  void Shutdown();
  // Streams ended because a frame did not fit the plan (forged or corrupt).
  int64_t refused_streams() const { return refused_.load(std::memory_order_relaxed); }

  grpc::Status Transfer(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<v1::ExchangeCredit, v1::ExchangeFrame>* stream) override;

 private:
  using Key = std::pair<std::string, int64_t>;
  struct Entry {
    ExchangeReceiver* receiver = nullptr;
    int active = 0;
    std::set<grpc::ServerContext*> contexts;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<Key, Entry> entries_;
  bool shutdown_ = false;
  const std::chrono::milliseconds deploy_wait_;
  std::atomic<int64_t> refused_{0};
};

// One Transfer stream from a producer subtask to one worker.
class ExchangeClient {
 public:
  ExchangeClient(std::shared_ptr<grpc::Channel> channel, v1::StreamHeader header, std::string peer,
                 std::function<void(const std::string&)> on_error);
  ~ExchangeClient();

  // Sends one element (blocking for a credit). False when the stream broke
  // (on_error has been told why) or Cancel() was called.
  bool Send(v1::ExchangeElement&& element);
  // Ends the stream: waits for the receiver to take what was sent.
  void Close();
  // Any thread: unblocks Send and tears the stream down.
  void Cancel();

 private:
  bool Open();  // with mu_ not held
  void ReadCredits();

  std::shared_ptr<grpc::Channel> channel_;
  v1::StreamHeader header_;
  std::string peer_;
  std::function<void(const std::string&)> on_error_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::ExchangeFrame, v1::ExchangeCredit>> stream_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  int credits_ = 0;
  bool broken_ = false;
  bool cancelled_ = false;
  bool closed_ = false;
  bool sent_header_ = false;
  std::string batch_buf_;
};

// An ElementSink for a consumer subtask on another worker.
class RemoteTarget final : public runtime::ElementSink {
 public:
  RemoteTarget(ExchangeClient* client, int edge, int to_vertex, int to_subtask)
      : client_(client), edge_(edge), to_vertex_(to_vertex), to_subtask_(to_subtask) {}
  bool Push(runtime::Element&& e) override;

 private:
  ExchangeClient* client_;
  int edge_, to_vertex_, to_subtask_;
};

}  // namespace weir::cluster
