#!/usr/bin/env bash
# weir's benchmarks in one command (docs/benchmarks.md): configures a Release
# build in build-bench/, builds weir and weir_bench, then runs the
# micro-benchmarks and the Nexmark queries (built-in generator, `weir local`)
# at parallelism 1 and 2, without checkpoints and with a checkpoint every
# second, several rounds each, and prints medians and ratios; then Kafka end
# to end on the dev broker against a plain librdkafka loop
# (tests/bench/kafka_e2e.py), latency from event creation to sink
# (tests/bench/latency.py), Nexmark on a coordinator and two workers
# (tests/bench/cluster_nexmark.py), and state growth: a keyed count over
# 10 k, 1 M and 10 M keys in RocksDB (tests/bench/state_growth.py, the
# longest part).
# Machine-readable results: build-bench/results.json, kafka_e2e.json,
# latency.json, cluster_nexmark.json and state_growth.json.
#
#   tests/bench/run.sh [--runs N] [--events N] [--queries q0,q1,...]
#                      [--parallelism 1,2] [--checkpoints none,1s]
#                      [--state-cache-mb 0,64] [--micro-filter REGEX] [--min-time SECONDS]
#                      [--skip-micro] [--skip-nexmark] [--skip-kafka] [--skip-latency]
#                      [--skip-cluster] [--skip-state]
#                      [--build-dir DIR] [--out FILE]
#
# Defaults: 3 runs, 2,000,000 events per Nexmark run, every query,
# 800,000 Kafka messages, results in build-bench/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$root/build-bench"
args=()
kafka=1
latency=1
state=1
cluster=1
runs=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build="$(realpath -m "$2")"; shift 2 ;;
    --skip-kafka) kafka=0; shift ;;
    --skip-state) state=0; shift ;;
    --skip-cluster) cluster=0; shift ;;
    --skip-latency) latency=0; shift ;;
    --runs) runs="$2"; args+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done

export CCACHE_DIR="${CCACHE_DIR:-$root/.cache/ccache}"
# -Wno-restrict: at -O3, g++ 12 reports a false -Wrestrict inside
# std::string's operator+ (GCC bug 105329) in common/expr/lexer.cc, which
# -Werror turns into a failed build. Only this build sees -O3.
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWEIR_BENCH=ON \
  -DCMAKE_CXX_FLAGS=-Wno-restrict >/dev/null
ninja -C "$build" weir weir_bench weir-dev-broker weir-coordinator weir-worker weir_kafka_loop \
  weir_kafka_latency >/dev/null

python3 "$root/tests/bench/bench.py" --build-dir "$build" "${args[@]}"
if [[ $kafka == 1 ]]; then
  python3 "$root/tests/bench/kafka_e2e.py" --build-dir "$build" --runs "$runs"
fi
if [[ $latency == 1 ]]; then
  python3 "$root/tests/bench/latency.py" --build-dir "$build" --runs "$runs"
fi
if [[ $cluster == 1 ]]; then
  python3 "$root/tests/bench/cluster_nexmark.py" --build-dir "$build" --runs "$runs"
fi
if [[ $state == 1 ]]; then
  python3 "$root/tests/bench/state_growth.py" --build-dir "$build" --runs "$runs"
fi
