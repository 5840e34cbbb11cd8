// Status <-> grpc::Status (common/rpc/status.h): codes, messages and the
// details (ErrorInfo, JobFileErrors) survive the mapping.
#include "common/rpc/status.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace weir::rpc {
namespace {

// Every weir code and the gRPC code of the same name.
const std::pair<StatusCode, grpc::StatusCode> kCodes[] = {
    {StatusCode::kOk, grpc::StatusCode::OK},
    {StatusCode::kCancelled, grpc::StatusCode::CANCELLED},
    {StatusCode::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT},
    {StatusCode::kNotFound, grpc::StatusCode::NOT_FOUND},
    {StatusCode::kAlreadyExists, grpc::StatusCode::ALREADY_EXISTS},
    {StatusCode::kPermissionDenied, grpc::StatusCode::PERMISSION_DENIED},
    {StatusCode::kUnauthenticated, grpc::StatusCode::UNAUTHENTICATED},
    {StatusCode::kFailedPrecondition, grpc::StatusCode::FAILED_PRECONDITION},
    {StatusCode::kAborted, grpc::StatusCode::ABORTED},
    {StatusCode::kOutOfRange, grpc::StatusCode::OUT_OF_RANGE},
    {StatusCode::kUnimplemented, grpc::StatusCode::UNIMPLEMENTED},
    {StatusCode::kInternal, grpc::StatusCode::INTERNAL},
    {StatusCode::kUnavailable, grpc::StatusCode::UNAVAILABLE},
    {StatusCode::kDeadlineExceeded, grpc::StatusCode::DEADLINE_EXCEEDED},
    {StatusCode::kResourceExhausted, grpc::StatusCode::RESOURCE_EXHAUSTED},
    {StatusCode::kDataLoss, grpc::StatusCode::DATA_LOSS},
};

TEST(RpcStatus, EveryCodeMapsToItsNamesakeAndBack) {
  for (const auto& [c, g] : kCodes) {
    SCOPED_TRACE(StatusCodeName(c));
    EXPECT_EQ(ToGrpcCode(c), g);
    EXPECT_EQ(FromGrpcCode(g), c);
  }
  // gRPC's UNKNOWN has no weir code: it is an internal error.
  EXPECT_EQ(FromGrpcCode(grpc::StatusCode::UNKNOWN), StatusCode::kInternal);
}

TEST(RpcStatus, StatusRoundTripsWithItsMessage) {
  for (const auto& [c, g0] : kCodes) {
    if (c == StatusCode::kOk) continue;
    SCOPED_TRACE(StatusCodeName(c));
    const Status st(c, std::string("why: ") + StatusCodeName(c));
    grpc::Status g = ToGrpc(st);
    EXPECT_EQ(g.error_code(), g0);
    EXPECT_EQ(g.error_message(), st.message());
    EXPECT_TRUE(g.error_details().empty());
    Status back = FromGrpc(g);
    EXPECT_EQ(back.code(), c);
    EXPECT_EQ(back.message(), st.message());
  }
  EXPECT_TRUE(ToGrpc(Status::OK()).ok());
  EXPECT_TRUE(ToGrpc(Status::OK(), "REASON", "hint").ok());
  EXPECT_TRUE(FromGrpc(grpc::Status::OK).ok());
}

TEST(RpcStatus, ErrorInfoTravelsInTheDetails) {
  grpc::Status g =
      ToGrpc(Status::FailedPrecondition("job x is FAILED"), "JOB_TERMINAL", "submit it again");
  EXPECT_EQ(g.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(g.error_message(), "job x is FAILED");
  v1::ErrorInfo info = ErrorInfoOf(g);
  EXPECT_EQ(info.reason(), "JOB_TERMINAL");
  EXPECT_EQ(info.hint(), "submit it again");
  EXPECT_TRUE(JobFileErrorsOf(g).empty());
  Status back = FromGrpc(g);
  EXPECT_EQ(back.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(back.message(), "job x is FAILED");
  // No details, or details that do not parse: nothing, no crash.
  EXPECT_EQ(ErrorInfoOf(grpc::Status(grpc::StatusCode::INTERNAL, "x")).reason(), "");
  grpc::Status junk(grpc::StatusCode::INTERNAL, "x", std::string("\xff\xff\xff\x01", 4));
  EXPECT_EQ(ErrorInfoOf(junk).reason(), "");
  EXPECT_TRUE(JobFileErrorsOf(junk).empty());
}

TEST(RpcStatus, InvalidJobCarriesEveryDiagnosticWithItsPosition) {
  // Two problems at known places: an unknown top-level key and a bad duration.
  const std::string yaml =
      "name: bad-job\n"
      "paralelism: 2\n"
      "checkpoint: {interval: 5 seconds}\n"
      "sources:\n"
      "  s: {type: nexmark, events: 10}\n"
      "sinks:\n"
      "  out: {from: s, type: blackhole}\n";
  auto loaded = spec::ParseJob(yaml, "bad.yaml");
  ASSERT_EQ(loaded.job, nullptr);
  ASSERT_GE(loaded.diagnostics.size(), 2u);

  grpc::Status g = InvalidJob("bad.yaml", loaded.diagnostics);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::string want = spec::FormatDiagnostics("bad.yaml", loaded.diagnostics);
  while (!want.empty() && want.back() == '\n') want.pop_back();
  EXPECT_EQ(g.error_message(), want);
  EXPECT_NE(g.error_message().find("bad.yaml:2:1:"), std::string::npos) << g.error_message();

  auto errors = JobFileErrorsOf(g);
  ASSERT_EQ(errors.size(), loaded.diagnostics.size());
  bool saw_line2 = false, saw_line3 = false;
  for (size_t i = 0; i < errors.size(); ++i) {
    EXPECT_EQ(errors[i].file(), "bad.yaml");
    EXPECT_EQ(errors[i].line(), loaded.diagnostics[i].pos.line);
    EXPECT_EQ(errors[i].column(), loaded.diagnostics[i].pos.column);
    EXPECT_EQ(errors[i].message(), loaded.diagnostics[i].message);
    EXPECT_GT(errors[i].line(), 0);
    EXPECT_GT(errors[i].column(), 0);
    saw_line2 |= errors[i].line() == 2 && errors[i].column() == 1;
    saw_line3 |= errors[i].line() == 3;
  }
  EXPECT_TRUE(saw_line2);
  EXPECT_TRUE(saw_line3);
  EXPECT_EQ(ErrorInfoOf(g).reason(), "");
  EXPECT_EQ(FromGrpc(g).code(), StatusCode::kInvalidArgument);

  // The details survive a copy through the wire representation.
  grpc::Status copy(g.error_code(), g.error_message(), g.error_details());
  EXPECT_EQ(JobFileErrorsOf(copy).size(), errors.size());
}

TEST(RpcStatus, InvalidJobWithoutDiagnosticsHasNoErrors) {
  grpc::Status g = InvalidJob("x.yaml", {});
  EXPECT_EQ(g.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(JobFileErrorsOf(g).empty());
}

}  // namespace
}  // namespace weir::rpc
