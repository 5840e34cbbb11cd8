// Turns a validated JobSpec into a PhysicalPlan (common/plan.h): one vertex
// per source, keyed or multi-input operator, with stateless single-input
// steps (filter, map) and sinks chained into their producer when the producer
// has no other consumer and the same parallelism (as Flink's operator
// chaining). Parallelism: a step's own, else the job's; keyed steps and joins
// are fed by hash edges on their key expressions.
#pragma once

#include "common/plan.h"
#include "common/status.h"

namespace weir::coordinator {

struct PlanOptions {
  int parallelism_override = 0;  // weir local -p N: replaces the job's default
};

Result<plan::PhysicalPlan> Plan(const spec::JobSpec& job, const PlanOptions& options = {});

}  // namespace weir::coordinator
