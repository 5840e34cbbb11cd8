#!/usr/bin/env bash
# The README's second command: install what is missing, build weir, its fuzz
# targets and its sanitized unit tests, and run the whole suite with ctest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash deploy/local/install-deps.sh --test
export CCACHE_DIR="${CCACHE_DIR:-$root/.cache/ccache}"
# The side builds are quiet unless they fail: then the end of their output.
quiet() {  # log command...
  local log="$1"
  shift
  "$@" >"$log" 2>&1 || {
    echo "FAILED: $* (the end of $log:)" >&2
    tail -n 40 "$log" >&2
    return 1
  }
}

# The libFuzzer targets need clang: a separate build that only has them.
fuzz="$root/build-fuzz"
if [[ ! -f "$fuzz/build.ninja" ]]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$fuzz" -G Ninja -DWEIR_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
quiet "$fuzz/ninja.log" ninja -C "$fuzz"

# Every C++ test binary again with AddressSanitizer and UndefinedBehaviorSanitizer.
asan="$root/build-asan"
if [[ ! -f "$asan/build.ninja" ]]; then
  cmake -S "$root" -B "$asan" -G Ninja -DWEIR_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    >/dev/null
fi
quiet "$asan/ninja.log" ninja -C "$asan" common_test http_test worker_test coordinator_test \
  cluster_test rpc_test postgres_test

# The unit and cluster tests again with ThreadSanitizer: a data race in the
# exchange, the checkpointer or the job manager is a correctness bug.
tsan="$root/build-tsan"
if [[ ! -f "$tsan/build.ninja" ]]; then
  cmake -S "$root" -B "$tsan" -G Ninja -DWEIR_TSAN=ON -DWEIR_BENCH=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
quiet "$tsan/ninja.log" ninja -C "$tsan" common_test worker_test coordinator_test cluster_test

bash deploy/local/build.sh -DWEIR_FUZZ_BIN_DIR="$fuzz/tests/fuzz" \
  -DWEIR_SANITIZED_BIN_DIR="$asan/tests/unit" -DWEIR_TSAN_BIN_DIR="$tsan/tests/unit"
cd build
ctest --output-on-failure -j "$(nproc)" --timeout 600 "$@"
