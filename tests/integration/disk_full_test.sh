#!/usr/bin/env bash
# A full disk under checkpoint storage is visible: a cluster (coordinator
# and one worker) runs a job with keyed state whose checkpoint storage is a
# 512 KiB tmpfs the test mounts; once it is full, checkpoints fail with the
# cause in the coordinator's log ("No space left on device") and in
# weir_checkpoint_failures_total, and weir describe names the failure.
# Needs root (mount); skipped otherwise.
#
# Usage: disk_full_test.sh BUILD_DIR
set -euo pipefail
build="$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)"
if [[ $(id -u) -ne 0 ]]; then echo "SKIP: needs root to mount a tmpfs"; exit 77; fi
work="$(mktemp -d /tmp/weir-diskfull-XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  umount "$work/chk" 2>/dev/null || true
  if [[ "${ok:-0}" == 1 ]]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -n 5 "$work"/*.log >&2 || true; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cd "$work"
mkdir chk
mount -t tmpfs -o size=512k tmpfs chk || { echo "SKIP: cannot mount a tmpfs here"; exit 77; }

port="$(free_port)"
metrics_port="$(free_port)"
"$build/weir-coordinator" --port "$port" --data-dir "$work/coord" --metrics-port "$metrics_port" \
  --allow-storage "file://$work/chk" \
  >coordinator.log 2>&1 &
pids+=($!)
"$build/weir-worker" --coordinator "127.0.0.1:$port" --port 0 --slots 1 --id w1 \
  --data-dir "$work/worker" --metrics-port -1 >worker.log 2>&1 &
pids+=($!)
cli=("$build/weir" --addr "127.0.0.1:$port" --timeout 5)
for _ in $(seq 100); do
  "${cli[@]}" workers --no-headers 2>/dev/null | grep -q ' alive ' && break
  sleep 0.1
done
# Many keys of state, so each checkpoint stores tens of KiB more.
cat >job.yaml <<JOB
name: disk-full
checkpoint: {interval: 200ms, mode: exactly_once, storage: "file://$work/chk", retain: 100}
restart: {attempts: 1000, delay: 200ms}
sources:
  g:
    type: datagen
    rate: 20000
    schema: {k: string, v: bigint}
operators:
  - {name: per_key, from: g, key_by: [k], reduce: {n: count()}}
sinks:
  out: {from: per_key, type: blackhole}
JOB
"${cli[@]}" submit job.yaml >/dev/null || fail "submit"
metric() {
  python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
    "http://127.0.0.1:$metrics_port/metrics" |
    awk -v n="$1" '$1 ~ "^"n"({|$)" {print $2}' | head -1
}
for _ in $(seq 300); do
  grep -q "No space left on device" coordinator.log && break
  sleep 0.1
done
grep "checkpoint [0-9]* failed" coordinator.log | grep -q "No space left on device" ||
  fail "no checkpoint failure naming the full disk in the coordinator's log"
echo "ok   the coordinator's log: $(grep -m1 'No space left on device' coordinator.log | cut -c1-200)"
failures="$(metric weir_checkpoint_failures_total)"
[[ -n "$failures" && "${failures%.*}" -ge 1 ]] ||
  fail "weir_checkpoint_failures_total is '${failures}', not >= 1"
echo "ok   weir_checkpoint_failures_total $failures"
"${cli[@]}" describe disk-full | grep -q "No space left on device" ||
  fail "weir describe does not name the full disk"
echo "ok   weir describe names the full disk"
ok=1
echo "3 passed, 0 failed"
