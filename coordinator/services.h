// The coordinator's gRPC services over the JobManager: weir.v1.Admin (for
// the CLI and scripts) and weir.v1.Control (the workers' sessions). Errors
// map a Status code to the gRPC code (common/rpc/status.h), job file
// problems as INVALID_ARGUMENT with JobFileErrors details.
#pragma once

#include "common/rpc/security.h"
#include "coordinator/job_manager.h"
#include "weir/v1/admin.grpc.pb.h"
#include "weir/v1/control.grpc.pb.h"

namespace weir::coordinator {

class AdminService final : public v1::Admin::Service {
 public:
  // `auth` null: no tokens asked for (every caller may do everything).
  AdminService(JobManager* manager, rpc::TokenAuth* auth) : m_(manager), auth_(auth) {}

  grpc::Status SubmitJob(grpc::ServerContext*, const v1::SubmitJobRequest*,
                         v1::SubmitJobResponse*) override;
  grpc::Status ValidateJob(grpc::ServerContext*, const v1::ValidateJobRequest*,
                           v1::ValidateJobResponse*) override;
  grpc::Status ListJobs(grpc::ServerContext*, const v1::ListJobsRequest*,
                        v1::ListJobsResponse*) override;
  grpc::Status GetJob(grpc::ServerContext*, const v1::GetJobRequest*, v1::Job*) override;
  grpc::Status CancelJob(grpc::ServerContext*, const v1::CancelJobRequest*,
                         v1::CancelJobResponse*) override;
  grpc::Status TriggerSavepoint(grpc::ServerContext*, const v1::TriggerSavepointRequest*,
                                v1::TriggerSavepointResponse*) override;
  grpc::Status ListCheckpoints(grpc::ServerContext*, const v1::ListCheckpointsRequest*,
                               v1::ListCheckpointsResponse*) override;
  grpc::Status RescaleJob(grpc::ServerContext*, const v1::RescaleJobRequest*,
                          v1::RescaleJobResponse*) override;
  grpc::Status ListWorkers(grpc::ServerContext*, const v1::ListWorkersRequest*,
                           v1::ListWorkersResponse*) override;
  grpc::Status WatchJob(grpc::ServerContext*, const v1::WatchJobRequest*,
                        grpc::ServerWriter<v1::JobEvent>*) override;

 private:
  // The caller, when it may do what `needed` allows; mutating calls are
  // logged with who made them.
  Result<rpc::Principal> Allow(grpc::ServerContext* ctx, rpc::Role needed, const char* call,
                               const std::string& job);
  JobManager* m_;
  rpc::TokenAuth* auth_;
};

class ControlService final : public v1::Control::Service {
 public:
  explicit ControlService(JobManager* manager) : m_(manager) {}
  grpc::Status Session(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::WorkerMessage>* stream) override;

 private:
  JobManager* m_;
};

}  // namespace weir::coordinator
