#include "common/rpc/status.h"

namespace weir::rpc {

grpc::StatusCode ToGrpcCode(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return grpc::StatusCode::OK;
    case StatusCode::kCancelled:
      return grpc::StatusCode::CANCELLED;
    case StatusCode::kInvalidArgument:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case StatusCode::kNotFound:
      return grpc::StatusCode::NOT_FOUND;
    case StatusCode::kAlreadyExists:
      return grpc::StatusCode::ALREADY_EXISTS;
    case StatusCode::kPermissionDenied:
      return grpc::StatusCode::PERMISSION_DENIED;
    case StatusCode::kUnauthenticated:
      return grpc::StatusCode::UNAUTHENTICATED;
    case StatusCode::kFailedPrecondition:
      return grpc::StatusCode::FAILED_PRECONDITION;
    case StatusCode::kAborted:
      return grpc::StatusCode::ABORTED;
    case StatusCode::kOutOfRange:
      return grpc::StatusCode::OUT_OF_RANGE;
    case StatusCode::kUnimplemented:
      return grpc::StatusCode::UNIMPLEMENTED;
    case StatusCode::kInternal:
      return grpc::StatusCode::INTERNAL;
    case StatusCode::kUnavailable:
      return grpc::StatusCode::UNAVAILABLE;
    case StatusCode::kDeadlineExceeded:
      return grpc::StatusCode::DEADLINE_EXCEEDED;
    case StatusCode::kResourceExhausted:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case StatusCode::kDataLoss:
      return grpc::StatusCode::DATA_LOSS;
  }
  return grpc::StatusCode::UNKNOWN;
}

StatusCode FromGrpcCode(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return StatusCode::kOk;
    case grpc::StatusCode::CANCELLED:
      return StatusCode::kCancelled;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return StatusCode::kInvalidArgument;
    case grpc::StatusCode::NOT_FOUND:
      return StatusCode::kNotFound;
    case grpc::StatusCode::ALREADY_EXISTS:
      return StatusCode::kAlreadyExists;
    case grpc::StatusCode::PERMISSION_DENIED:
      return StatusCode::kPermissionDenied;
    case grpc::StatusCode::UNAUTHENTICATED:
      return StatusCode::kUnauthenticated;
    case grpc::StatusCode::FAILED_PRECONDITION:
      return StatusCode::kFailedPrecondition;
    case grpc::StatusCode::ABORTED:
      return StatusCode::kAborted;
    case grpc::StatusCode::OUT_OF_RANGE:
      return StatusCode::kOutOfRange;
    case grpc::StatusCode::UNIMPLEMENTED:
      return StatusCode::kUnimplemented;
    case grpc::StatusCode::UNAVAILABLE:
      return StatusCode::kUnavailable;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return StatusCode::kDeadlineExceeded;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return StatusCode::kResourceExhausted;
    case grpc::StatusCode::DATA_LOSS:
      return StatusCode::kDataLoss;
    default:
      return StatusCode::kInternal;
  }
}

grpc::Status ToGrpc(const Status& st, const std::string& reason, const std::string& hint) {
  if (st.ok()) return grpc::Status::OK;
  if (reason.empty()) return grpc::Status(ToGrpcCode(st.code()), st.message());
  v1::RpcStatus details;
  details.set_code(static_cast<int>(ToGrpcCode(st.code())));
  details.set_message(st.message());
  v1::ErrorInfo info;
  info.set_reason(reason);
  info.set_hint(hint);
  details.add_details()->PackFrom(info);
  return grpc::Status(ToGrpcCode(st.code()), st.message(), details.SerializeAsString());
}

grpc::Status InvalidJob(const std::string& file, const std::vector<spec::Diagnostic>& diags) {
  v1::RpcStatus details;
  details.set_code(static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  std::string message = FormatDiagnostics(file, diags);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  details.set_message(message);
  v1::JobFileErrors errors;
  for (const auto& d : diags) {
    v1::JobFileError* e = errors.add_errors();
    e->set_file(file);
    e->set_line(d.pos.line);
    e->set_column(d.pos.column);
    e->set_message(d.message);
  }
  details.add_details()->PackFrom(errors);
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message, details.SerializeAsString());
}

Status FromGrpc(const grpc::Status& st) {
  if (st.ok()) return Status::OK();
  return Status(FromGrpcCode(st.error_code()), st.error_message());
}

namespace {
bool ParseDetails(const grpc::Status& st, v1::RpcStatus* out) {
  return !st.error_details().empty() && out->ParseFromString(st.error_details());
}
}  // namespace

std::vector<v1::JobFileError> JobFileErrorsOf(const grpc::Status& st) {
  std::vector<v1::JobFileError> out;
  v1::RpcStatus details;
  if (!ParseDetails(st, &details)) return out;
  for (const auto& any : details.details()) {
    v1::JobFileErrors errors;
    if (any.UnpackTo(&errors))
      for (const auto& e : errors.errors()) out.push_back(e);
  }
  return out;
}

v1::ErrorInfo ErrorInfoOf(const grpc::Status& st) {
  v1::ErrorInfo info;
  v1::RpcStatus details;
  if (!ParseDetails(st, &details)) return info;
  for (const auto& any : details.details())
    if (any.UnpackTo(&info)) break;
  return info;
}

}  // namespace weir::rpc
