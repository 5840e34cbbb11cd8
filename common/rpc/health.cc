#include "common/rpc/health.h"

namespace weir::rpc {

Result<std::unique_ptr<grpc::Server>> StartHealthServer(int port) {
  grpc::ServerBuilder builder;
  // A HealthCheckRequest is a service name: nothing legitimate comes near this.
  builder.SetMaxReceiveMessageSize(64 << 10);
  int bound = 0;
  builder.AddListeningPort("0.0.0.0:" + std::to_string(port), grpc::InsecureServerCredentials(),
                           &bound);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound == 0)
    return Status::Unavailable("cannot serve health checks on port " + std::to_string(port) +
                               " (in use?)");
  return server;
}

}  // namespace weir::rpc
