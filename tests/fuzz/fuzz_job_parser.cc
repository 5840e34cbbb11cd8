// Fuzzes the job file reader and validator: any bytes give diagnostics or a
// job, never a crash. Also checks client-side resolution: a job the client
// accepts, resolved, is accepted by ParseResolvedJob (what the coordinator
// and the workers run) as the same graph; and the raw bytes given to
// ParseResolvedJob (a client that is not the CLI) never crash either.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "common/spec/job_spec.h"

namespace {
std::optional<std::string> Env(const std::string& name) {
  if (name == "WEIR_BROKERS") return "localhost:9092";
  if (name == "ODD") return "a: b # \"c\" 'd' \\ {e} [f], & *g !h | >";
  return std::nullopt;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = weir::spec::ParseJob(text, "fuzz.yaml", Env);
  if (r.job) {
    const std::string graph = weir::spec::DescribeGraph(*r.job);
    auto resolved = weir::spec::ParseResolvedJob(r.resolved_yaml, "fuzz.yaml", r.files);
    if (!resolved.job || weir::spec::DescribeGraph(*resolved.job) != graph) {
      std::fprintf(stderr, "fuzz_job_parser: the resolved job differs:\n%s\n%s",
                   weir::spec::FormatDiagnostics("fuzz.yaml", resolved.diagnostics).c_str(),
                   r.resolved_yaml.c_str());
      std::abort();
    }
  }
  (void)weir::spec::ParseResolvedJob(text, "fuzz.yaml", {});
  return 0;
}
