// Agent: a worker's side of the control API (proto/weir/v1/control.proto).
// It keeps one Session stream to the coordinator: registers with its slots
// and exchange address, sends a heartbeat (with each attempt's progress)
// every interval, runs what the coordinator deploys, forwards checkpoint
// triggers and completions to the attempts, and reports their events.
//
// When the session ends, or the coordinator has been silent longer than it
// asked (Registered.fence_after_ms), the worker cancels every attempt it
// runs (the coordinator restarts them, here or elsewhere) and registers
// again, retrying with a growing delay until the coordinator answers.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "weir/v1/control.grpc.pb.h"
#include "worker/cluster/attempt.h"
#include "worker/cluster/exchange.h"

namespace weir::cluster {

struct AgentOptions {
  std::string worker_id;
  std::string coordinator;  // host:port
  std::string address;      // this worker's exchange address, as peers reach it
  int slots = 4;
  std::string data_dir;
  // For the coordinator and the other workers (TLS or plaintext).
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
};

class Agent {
 public:
  Agent(AgentOptions options, ExchangeService* exchange);
  ~Agent();

  // Runs sessions until Stop().
  void Run();
  void Stop();
  // The worker's metrics: its slots, its session, every attempt's tasks.
  std::string RenderMetrics();

 private:
  bool RunSession();  // false when it never registered
  void Handle(const v1::CoordinatorMessage& m);
  void Send(v1::WorkerMessage m);
  void CancelAll();  // cancels every attempt and waits for them to exit
  void Reap();       // destroys attempts that exited
  std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address);
  void Log(const std::string& m) const;

  AgentOptions options_;
  ExchangeService* exchange_;
  std::atomic<bool> stop_{false};
  std::mutex stream_mu_;  // guards stream_ and serialises writes
  grpc::ClientReaderWriter<v1::WorkerMessage, v1::CoordinatorMessage>* stream_ = nullptr;
  grpc::ClientContext* ctx_ = nullptr;
  std::mutex mu_;  // guards attempts_ and channels_
  std::map<std::pair<std::string, int64_t>, std::shared_ptr<Attempt>> attempts_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
  std::atomic<int64_t> last_heard_ms_{0};
  std::atomic<int64_t> heartbeat_ms_{500};
  std::atomic<int64_t> fence_ms_{3000};
  std::atomic<bool> connected_{false};
};

}  // namespace weir::cluster
