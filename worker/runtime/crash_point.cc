#include "worker/runtime/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace weir::runtime {
namespace {

struct Config {
  std::string name;
  long target = 0;
  std::atomic<long> hits{0};
};

// Leaked on purpose: crash points may be reached until the process ends.
Config* Parse(const char* var) {
  const char* env = std::getenv(var);
  if (!env || !*env) return nullptr;
  std::string s(env);
  size_t colon = s.rfind(':');
  auto* c = new Config;
  c->name = s.substr(0, colon);
  c->target = colon == std::string::npos ? 1 : std::strtol(s.c_str() + colon + 1, nullptr, 10);
  if (c->target < 1) c->target = 1;
  return c;
}

Config* Load() {
  static Config* config = Parse("WEIR_TEST_CRASH");
  return config;
}

}  // namespace

void CrashPoint(std::string_view name) {
  Config* c = Load();
  if (!c || name != c->name) return;
  if (c->hits.fetch_add(1) + 1 != c->target) return;
  std::fprintf(stderr, "weir: WEIR_TEST_CRASH: killing the process at %.*s (hit %ld)\n",
               static_cast<int>(name.size()), name.data(), c->target);
  std::fflush(stderr);
  ::kill(::getpid(), SIGKILL);
}

Status FailPoint(std::string_view name) {
  static Config* c = Parse("WEIR_TEST_FAIL");
  if (!c || name != c->name) return Status::OK();
  if (c->hits.fetch_add(1) + 1 != c->target) return Status::OK();
  return Status::Internal("WEIR_TEST_FAIL: injected failure at " + std::string(name));
}

}  // namespace weir::runtime
