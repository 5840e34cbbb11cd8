// The local files a job names, on the wire (weir.v1.JobFiles): a client
// sends them with the job it resolved; the coordinator stores them with the
// job and sends them to the workers with each deployment.
#pragma once

#include "common/spec/job_spec.h"
#include "common/status.h"
#include "weir/v1/job.pb.h"

namespace weir::rpc {

// Each distinct content once, under its SHA-256.
v1::JobFiles ToProto(const spec::JobFiles& files);

// The files, after checking what a receiver must not trust: every digest
// matches its content, every path has its blob, and the count and sizes are
// within spec::kMaxJobFileCount, kMaxJobFileBlobBytes and
// kMaxJobFilesTotalBytes. An error says which rule a file broke.
Result<spec::JobFiles> FromProto(const v1::JobFiles& files);

}  // namespace weir::rpc
