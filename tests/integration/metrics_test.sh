#!/usr/bin/env bash
# Metrics of a running cluster: a coordinator and 2 workers
# (deploy/local/cluster.sh) with the dev broker run a rate-limited job that
# reads Kafka; every process's /metrics must pass `promtool check metrics`
# (Debian's prometheus package) and show what operators watch: records,
# watermarks, busy/idle/backpressured time, checkpoints, Kafka lag per
# partition, state size, workers. /healthz answers ok. With
# WEIR_LOG_FORMAT=json every log line is a JSON object with job and
# checkpoint fields where they apply.
#
# Usage: metrics_test.sh BUILD_DIR
set -euo pipefail
build="$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
command -v promtool >/dev/null || { echo "FAIL: promtool missing (tests/run.sh installs prometheus)" >&2; exit 1; }
command -v kcat >/dev/null || { echo "FAIL: kcat missing" >&2; exit 1; }
work="$(mktemp -d /tmp/weir-metrics-XXXXXX)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cleanup() {
  WEIR_BIN_DIR="$build" bash "$root/deploy/local/cluster.sh" stop "$work/cluster" || true
  if [[ "${ok:-0}" == 1 ]]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -n 5 "$work"/cluster/*.log >&2 || true; exit 1; }

# JSON logs (WEIR_LOG_FORMAT) are checked at the end.
WEIR_LOG_FORMAT=json WEIR_BIN_DIR="$build" bash "$root/deploy/local/cluster.sh" start "$work/cluster" --workers 2 \
  --slots 2 --port "$port" --broker --topic metrics-in:4
brokers="$(cat "$work/cluster/brokers")"
python3 - "$work/in.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(60000):
        f.write(json.dumps({"k": "k%d" % (i % 97), "v": i, "ts": 1700000000000 + i}) + "\n")
PY
for p in 0 1 2 3; do  # a quarter of the rows into each partition
  awk -v p="$p" 'NR % 4 == p' "$work/in.jsonl" >"$work/in-$p.jsonl"
  kcat -P -b "$brokers" -t metrics-in -p "$p" -l "$work/in-$p.jsonl"
done
cat >"$work/job.yaml" <<JOB
name: metrics-test
parallelism: 2
checkpoint: {interval: 300ms, mode: exactly_once}
sources:
  in:
    type: kafka
    brokers: $brokers
    topic: metrics-in
    start: earliest
    end: latest
    rate: 3000
    format: json
    schema: {k: string, v: bigint, ts: timestamp}
    event_time: {field: ts, max_out_of_orderness: 0s, idle_timeout: 1s}
operators:
  - name: per_key
    from: in
    key_by: [k]
    window: {tumbling: 1s}
    aggregate: {n: count()}
sinks:
  out: {from: per_key, type: file, path: $work/out, format: json, delivery: exactly_once}
JOB
"$build/weir" --addr "127.0.0.1:$port" submit "$work/job.yaml" >/dev/null
sleep 4

scrape() { curl -sf "$1" || fail "cannot scrape $1"; }
all=""
while read -r name url; do
  body="$(scrape "$url")"
  echo "$body" | promtool check metrics || fail "promtool rejects the metrics of $name ($url)"
  [[ "$(curl -sf "${url%/metrics}/healthz")" == "ok" ]] || fail "$name /healthz"
  all+="$body"$'\n'
done <"$work/cluster/metrics"
[[ "$(wc -l <"$work/cluster/metrics")" -eq 3 ]] || fail "expected 3 metrics endpoints: $(cat "$work/cluster/metrics")"

value() {  # the sum of a family's samples matching a label filter
  echo "$all" | grep -E "^$1(\{[^}]*$2[^}]*\})? " | awk '{s += $2} END {print s + 0}'
}
positive() { awk -v v="$(value "$1" "${2:-}")" 'BEGIN {exit !(v > 0)}' || fail "$1 is not positive"; }
for family in weir_task_records_in_total weir_source_records_total weir_source_bytes_total \
  weir_task_busy_seconds_total weir_task_idle_seconds_total weir_checkpoints_completed_total \
  weir_state_size_bytes weir_job_records_in; do
  positive "$family"
done
for family in weir_task_backpressured_seconds_total \
  weir_task_checkpoint_alignment_seconds weir_kafka_consumer_lag weir_source_dead_letter_total \
  weir_checkpoint_failures_total weir_checkpoint_last_duration_seconds \
  weir_checkpoint_last_size_bytes weir_job_restarts_total weir_task_records_out_total; do
  # A here-string, not a pipe: with pipefail, grep -q leaving early would
  # fail the pipeline on echo's SIGPIPE although the family is there.
  grep -q "^$family" <<<"$all" || fail "no $family: $(grep -v "^#" <<<"$all" | cut -d{ -f1 | sort | uniq -c)"
done
[[ "$(value weir_workers 'status="alive"')" == 2 ]] || fail "weir_workers{status=alive} != 2"
[[ "$(value weir_job_state 'state="RUNNING"')" == 1 ]] || fail "the job is not RUNNING in weir_job_state"
lag_series="$(echo "$all" | grep -c '^weir_kafka_consumer_lag{.*topic="metrics-in"')"
[[ "$lag_series" -eq 4 ]] || fail "expected Kafka lag for 4 partitions, got $lag_series: $(echo "$all" | grep -E "lag|source_records")"
positive weir_kafka_consumer_lag  # rate-limited: the job is behind the topic's end
# Watermarks: a source's is the minimum over its partitions that are not
# idle. The consumer drains one partition before it reaches the next (its
# rows queue behind), so the next one counts as idle after the 1 s
# idle_timeout and the watermark appears then. At 3000 rows/s the 60,000
# rows keep the job running for 20 s: its tasks (and their metrics) are
# still there however slowly this script gets to the check.
for _ in $(seq 60); do
  if grep -q '^weir_task_watermark_seconds{.*vertex="per_key"' <<<"$(curl -sf $(cut -d' ' -f2 "$work/cluster/metrics"))"; then
    wm_ok=1; break
  fi
  sleep 0.5
done
[[ "${wm_ok:-0}" == 1 ]] || fail "no weir_task_watermark_seconds for the window tasks within 30 s"

# Structured logs: every line of every process is a JSON object, and the
# coordinator's checkpoint events name their job and checkpoint.
python3 - "$work"/cluster/coordinator.log "$work"/cluster/worker-*.log <<'PY' || fail "JSON logs"
import json, sys
checkpoints = 0
for path in sys.argv[1:]:
    for n, line in enumerate(open(path), 1):
        rec = json.loads(line)  # raises on a line that is not JSON
        assert {"ts", "level", "process", "msg"} <= rec.keys(), (path, n, rec)
        if rec["msg"].startswith("checkpoint ") and "completed" in rec["msg"]:
            assert rec.get("job") == "metrics-test" and rec.get("checkpoint", "").isdigit(), rec
            checkpoints += 1
assert checkpoints > 0, "no checkpoint event in the coordinator's log"
print("JSON logs: ok, %d checkpoint events" % checkpoints)
PY
ok=1
echo "PASS: 3 endpoints pass promtool; records, time, checkpoints, lag, state, workers present"
