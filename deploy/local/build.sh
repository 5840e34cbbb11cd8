#!/usr/bin/env bash
# Configures (once) and builds weir into build/ with CMake, Ninja and ccache.
# Re-running is incremental. BUILD_TYPE overrides RelWithDebInfo; arguments
# are passed to cmake (which then re-configures: quick when nothing changed).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${WEIR_BUILD_DIR:-$root/build}"
export CCACHE_DIR="${CCACHE_DIR:-$root/.cache/ccache}"
if [[ ! -f "$build/build.ninja" || $# -gt 0 ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
fi
ninja -C "$build" "${WEIR_TARGETS[@]:-all}"
