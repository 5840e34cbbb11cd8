#include "tests/bench/bench_util.h"

#include <stdlib.h>

#include <filesystem>
#include <system_error>

namespace weir::bench {

ScratchDir::ScratchDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/weir-bench-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::perror("weir_bench: mkdtemp");
    std::abort();
  }
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace weir::bench
