#!/usr/bin/env bash
# Runs one libFuzzer target for a fixed number of executions (10 M unless
# told) or a fixed time, the way docs/security.md records its long runs: from the grown corpus
# in WORKDIR plus the seed corpus, with a timeout long enough that a machine
# busy with other work does not report a false one. Progress goes to
# WORKDIR/TARGET.log (libFuzzer's "#N ... exec/s" lines); a finding is left as
# WORKDIR/crash-*, leak-*, timeout-* or oom-*, and the exit status is not 0.
# The last lines of each log, headed by the command, commit and machine, are
# copied to docs/fuzz-runs/TARGET-DATE.log, next to docs/security.md's table
# of long runs, to be committed with the row that cites them.
#
# usage: long_run.sh TARGET [RUNS] [WORKDIR]
#   TARGET   a target of tests/fuzz, e.g. fuzz_json_decoder
#   RUNS     executions (default 10000000), or a time such as 20m or 2h: then
#            the run stops after that long and the log says how many it did
#   WORKDIR  corpus, log and findings (default /tmp/weir-fuzz)
# Environment:
#   WEIR_FUZZ_BUILD  the clang fuzz build (default build-fuzz, the one
#                    tests/run.sh makes)
#   WEIR_FUZZ_JOBS   parallel workers (default 1). With N > 1 the run is N
#                    libFuzzer processes (-jobs=N -workers=N) that share the
#                    corpus directory, each doing RUNS/N executions: N cores
#                    finish the same number of executions N times as fast.
#                    Their logs are WORKDIR/TARGET.K.log, K = 0..N-1.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
target="${1:?usage: long_run.sh TARGET [RUNS] [WORKDIR]}"
runs="${2:-10000000}"
work="${3:-/tmp/weir-fuzz}"
bin="${WEIR_FUZZ_BUILD:-$root/build-fuzz}/tests/fuzz/$target"
if [[ ! -x "$bin" ]]; then
  echo "long_run.sh: no $bin; build it with: bash tests/run.sh (or ninja -C build-fuzz)" >&2
  exit 2
fi
name="${target#fuzz_}"
mkdir -p "$work/$name"
seeds=()
if [[ -d "$root/tests/fuzz/corpus/$name" ]]; then seeds+=("$root/tests/fuzz/corpus/$name"); fi
# Protobuf and json payloads of these targets' schemas are small: a 512-byte
# input holds a few of them, reaches the coverage of 4096-byte ones and runs
# faster (protobuf about 1.6 times).
extra=()
if [[ "$name" == protobuf_decoder || "$name" == json_decoder ]]; then extra+=(-max_len=512); fi
# Shorter allocation stacks in ASan reports (what is detected is unchanged):
# about 13 % faster for fuzz_job_parser. Rerun a finding with
# the default to see whole stacks.
export ASAN_OPTIONS="${ASAN_OPTIONS:-malloc_context_size=2}"
jobs="${WEIR_FUZZ_JOBS:-1}"
if ! [[ "$jobs" =~ ^[1-9][0-9]*$ ]]; then
  echo "long_run.sh: WEIR_FUZZ_JOBS=$jobs must be a positive number" >&2
  exit 2
fi
# Each worker's limit: RUNS/jobs executions, or the time budget (every worker
# runs for that long) with no limit on executions.
if [[ "$runs" =~ ^([1-9][0-9]*)([mh])$ ]]; then
  unit=60
  if [[ "${BASH_REMATCH[2]}" == h ]]; then unit=3600; fi
  limit=(-runs=-1 -max_total_time=$((BASH_REMATCH[1] * unit)))
elif [[ "$runs" =~ ^[1-9][0-9]*$ ]] && ((runs % jobs == 0)); then
  limit=(-runs=$((runs / jobs)))
else
  echo "long_run.sh: RUNS=$runs must be a number of executions that WEIR_FUZZ_JOBS=$jobs divides, or a time such as 20m or 2h" >&2
  exit 2
fi
cp "$bin" "$work/$target"  # a rebuild during the run does not change it
record="$root/docs/fuzz-runs/$target-$(date -u +%F).log"
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
started="$(date -u +%FT%TZ)"
# keep_tail LOG...: the record of this run (see above).
keep_tail() {
  mkdir -p "$(dirname "$record")"
  {
    echo "# tests/fuzz/long_run.sh $target $runs (WEIR_FUZZ_JOBS=$jobs), commit $commit"
    echo "# $(nproc) cores, $(uname -srm), started $started, ended $(date -u +%FT%TZ), exit $1"
    shift
    for log in "$@"; do
      echo "# --- last lines of $(basename "$log")"
      tail -n 12 "$log"
    done
  } >"$record"
  echo "long_run.sh: the log's last lines are in $record" >&2
}
cd "$work"
flags=(-timeout=600 -rss_limit_mb=2048 -print_final_stats=1 ${extra[@]+"${extra[@]}"})
if ((jobs == 1)); then
  echo "long_run.sh: $target, $runs, log $work/$name.log" >&2
  status=0
  "./$target" "${limit[@]}" "${flags[@]}" "$work/$name" ${seeds[@]+"${seeds[@]}"} \
    >"$work/$name.log" 2>&1 || status=$?
  keep_tail "$status" "$work/$name.log"
  exit "$status"
fi
echo "long_run.sh: $target, $runs in $jobs workers, logs $work/$name.K.log" >&2
rm -f fuzz-*.log
status=0
"./$target" -jobs="$jobs" -workers="$jobs" "${limit[@]}" "${flags[@]}" "$work/$name" \
  ${seeds[@]+"${seeds[@]}"} >"$work/$name.log" 2>&1 || status=$?
for ((k = 0; k < jobs; k++)); do
  if [[ -f "fuzz-$k.log" ]]; then mv "fuzz-$k.log" "$name.$k.log"; fi
  if ! grep -q "^Done [0-9]* runs" "$name.$k.log" 2>/dev/null; then
    echo "long_run.sh: worker $k did not finish: see $work/$name.$k.log" >&2
    status=1
  fi
done
logs=()
for ((k = 0; k < jobs; k++)); do logs+=("$work/$name.$k.log"); done
keep_tail "$status" "${logs[@]}"
exit "$status"
