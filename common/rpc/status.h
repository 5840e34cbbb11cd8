// Status <-> gRPC status. A weir Status keeps its code across the wire (the
// codes are gRPC's); INVALID_ARGUMENT for a job file also carries the
// file:line:col of every problem as weir.v1.JobFileErrors in the status
// details (an RpcStatus, wire-compatible with google.rpc.Status), and any
// error may carry a weir.v1.ErrorInfo with a stable reason and a hint.
#pragma once

#include <grpcpp/support/status.h>

#include <string>
#include <vector>

#include "common/spec/job_spec.h"
#include "common/status.h"
#include "weir/v1/errors.pb.h"

namespace weir::rpc {

grpc::StatusCode ToGrpcCode(StatusCode code);
StatusCode FromGrpcCode(grpc::StatusCode code);

// The status with an ErrorInfo detail when `reason` is not empty.
grpc::Status ToGrpc(const Status& st, const std::string& reason = "", const std::string& hint = "");
// INVALID_ARGUMENT listing the job file's problems, "file:line:col: message"
// lines as the message and JobFileErrors as the detail.
grpc::Status InvalidJob(const std::string& file, const std::vector<spec::Diagnostic>& diags);

Status FromGrpc(const grpc::Status& st);
// The details of a status (empty when it has none or they do not parse).
std::vector<v1::JobFileError> JobFileErrorsOf(const grpc::Status& st);
v1::ErrorInfo ErrorInfoOf(const grpc::Status& st);

}  // namespace weir::rpc
