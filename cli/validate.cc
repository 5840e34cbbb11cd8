// `weir validate JOB.yaml`: every problem at once as file:line:col, exit 2
// when invalid; the job's graph when valid.
#include <cstdio>

#include "cli/commands.h"
#include "common/spec/job_spec.h"
#include "common/text.h"
#include "coordinator/planner.h"

namespace weir::cli {

int RunValidate(const GlobalOptions& g, const std::string& job_file) {
  spec::LoadResult r = spec::LoadJob(job_file);
  if (g.output == "json") {
    std::string out = "{\"file\": " + JsonQuote(job_file) +
                      ", \"valid\": " + (r.job ? "true" : "false") + ", \"diagnostics\": [";
    for (size_t i = 0; i < r.diagnostics.size(); ++i) {
      const auto& d = r.diagnostics[i];
      out += (i ? ", " : "") + std::string("{\"line\": ") + std::to_string(d.pos.line) +
             ", \"column\": " + std::to_string(d.pos.column) +
             ", \"message\": " + JsonQuote(d.message) + "}";
    }
    out += "]}\n";
    std::fputs(out.c_str(), stdout);
    return r.job ? kExitOk : kExitUsage;
  }
  if (!r.job) {
    std::fputs(spec::FormatDiagnostics(job_file, r.diagnostics).c_str(), stderr);
    std::fprintf(stderr, "%s: %zu problem%s\n", job_file.c_str(), r.diagnostics.size(),
                 r.diagnostics.size() == 1 ? "" : "s");
    return kExitUsage;
  }
  std::printf("%s: valid\n%s", job_file.c_str(), spec::DescribeGraph(*r.job).c_str());
  return kExitOk;
}

}  // namespace weir::cli

namespace weir::cli {

int RunExplain(const GlobalOptions& g, const std::string& job_file, int parallelism) {
  spec::LoadResult r = spec::LoadJob(job_file);
  if (!r.job) {
    std::fputs(spec::FormatDiagnostics(job_file, r.diagnostics).c_str(), stderr);
    return kExitUsage;
  }
  coordinator::PlanOptions opts;
  opts.parallelism_override = parallelism;
  auto plan = coordinator::Plan(*r.job, opts);
  if (!plan.ok()) {
    std::fprintf(stderr, "weir: %s\n", plan.status().message().c_str());
    return kExitUsage;
  }
  std::printf("%s", plan->Explain().c_str());
  return kExitOk;
}

}  // namespace weir::cli
