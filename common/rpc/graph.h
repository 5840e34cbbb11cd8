// The physical plan (common/plan.h) <-> weir.v1.JobGraph. The coordinator
// plans a job and sends the graph with the job file; a worker parses the
// same file and rebuilds the plan from the graph, resolving every step by its
// name, so both run exactly the plan the coordinator scheduled.
#pragma once

#include "common/plan.h"
#include "common/status.h"
#include "weir/v1/job.pb.h"

namespace weir::rpc {

v1::JobGraph ToProto(const plan::PhysicalPlan& plan);
// `job` must outlive the plan. kInvalidArgument when the graph does not fit
// the job (a step the job does not have, an edge out of range...).
Result<plan::PhysicalPlan> FromProto(const v1::JobGraph& graph, const spec::JobSpec& job);

}  // namespace weir::rpc
