// Fuzzes the job file reader and validator: any bytes give diagnostics or a
// job, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/spec/job_spec.h"

namespace {
std::optional<std::string> Env(const std::string& name) {
  if (name == "WEIR_BROKERS") return "localhost:9092";
  return std::nullopt;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = weir::spec::ParseJob(text, "fuzz.yaml", Env);
  if (r.job) (void)weir::spec::DescribeGraph(*r.job);
  return 0;
}
