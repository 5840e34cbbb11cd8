// A plaintext gRPC server that serves only grpc.health.v1.Health, for probes
// that cannot present TLS certificates (Kubernetes' gRPC probes) while the
// main port requires them (--health-port on both servers).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "common/status.h"

namespace weir::rpc {

// Binds 0.0.0.0:port. grpc::EnableDefaultHealthCheckService(true) must have
// been called.
Result<std::unique_ptr<grpc::Server>> StartHealthServer(int port);

}  // namespace weir::rpc
