#include "worker/runtime/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace weir::runtime {
namespace {

struct Config {
  std::string name;
  long target = 0;
  long delay_ms = 0;  // WEIR_TEST_DELAY only
  std::atomic<long> hits{0};
};

// Leaked on purpose: crash points may be reached until the process ends.
Config* Parse(const char* var) {
  const char* env = std::getenv(var);
  if (!env || !*env) return nullptr;
  std::string s(env);
  auto* c = new Config;
  if (std::string_view(var) == "WEIR_TEST_DELAY") {
    size_t last = s.rfind(':');
    if (last != std::string::npos) {
      c->delay_ms = std::strtol(s.c_str() + last + 1, nullptr, 10);
      s.resize(last);
    }
  }
  size_t colon = s.rfind(':');
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

void DelayPoint(std::string_view name) {
  static Config* c = Parse("WEIR_TEST_DELAY");
  if (!c || name != c->name || c->delay_ms <= 0) return;
  if (c->hits.fetch_add(1) + 1 < c->target) return;
  std::this_thread::sleep_for(std::chrono::milliseconds(c->delay_ms));
}

}  // namespace weir::runtime
