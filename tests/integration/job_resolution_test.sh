#!/usr/bin/env bash
# A job is resolved once, on the client: the coordinator and the workers
# never substitute ${VAR} from their own environment or open a path a job
# names (docs/security.md, "Which process reads what"). On a real cluster
# (a coordinator with bearer tokens, one worker, the development broker):
#   - a viewer's ValidateJob, sent by a client that is not the CLI, cannot
#     read the coordinator's environment (`format: "${SECRET}"`) or its files
#     (`schema: /etc/passwd`, `/dev/zero`): the errors say the job was not
#     resolved and echo nothing;
#   - `weir submit` substitutes from the submitter's environment, although
#     the coordinator and the worker set the same variables otherwise, and
#     sends the Avro schema file the job names (the worker runs in a
#     directory without it); across a coordinator restart with yet another
#     environment the job resumes and writes every row once, where the
#     submitter said;
#   - the job's `secrets:` key for hmac_sha256 is read by the worker alone
#     (the client and the coordinator do not have it), and the rows are
#     pseudonymized with it;
#   - a savepoint or checkpoint storage outside the coordinator's storage
#     roots is refused, and --allow-storage admits one.
# On the code before client-side resolution, the first check fails (the
# secret comes back in the error) and so does the second (the rows go to
# the worker's ${OUT}).
#
# Usage: job_resolution_test.sh BUILD_DIR
set -euo pipefail
build="$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d /tmp/weir-resolution-XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ "${ok:-0}" == 1 ]]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -n 5 "$work"/*.log >&2 2>/dev/null || true; exit 1; }
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$work"
mkdir client coordinator-cwd worker-cwd

viewer_token="viewer-$(openssl rand -hex 16)"
operator_token="operator-$(openssl rand -hex 16)"
{
  echo "$(printf %s "$viewer_token" | sha256sum | cut -d' ' -f1) viewer alice"
  echo "$(printf %s "$operator_token" | sha256sum | cut -d' ' -f1) operator bob"
} >tokens
echo "$viewer_token" >viewer.token
echo "$operator_token" >operator.token

"$build/weir-dev-broker" --topic orders:2 --address-file brokers >broker.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do [[ -s brokers ]] && break; sleep 0.1; done
[[ -s brokers ]] || fail "the dev broker did not start"

port="$(free_port)"
addr="127.0.0.1:$port"
start_coordinator() {  # OUT value
  (cd coordinator-cwd && exec env WEIR_LEAK_SECRET=hunter2-of-the-coordinator OUT="$1" \
    IN=/nonexistent "$build/weir-coordinator" --port "$port" --data-dir "$work/coord" \
    --metrics-port -1 --auth-tokens "$work/tokens" --heartbeat-timeout 3000 \
    >>"$work/coordinator.log" 2>&1) &
  coordinator_pid=$!
  pids+=($coordinator_pid)
}
start_coordinator "$work/coordinator-out"
pii_key="pii-key-$(openssl rand -hex 8)"
(cd worker-cwd && exec env OUT="$work/worker-out" IN=/nonexistent WEIR_PII_KEY="$pii_key" \
  "$build/weir-worker" \
  --coordinator "$addr" --port 0 --slots 2 --id w1 --data-dir "$work/worker" --metrics-port -1 \
  >>"$work/worker.log" 2>&1) &
pids+=($!)

cli=("$build/weir" --addr "$addr" --timeout 5)
wait_workers 1 "${cli[@]}" --token-file viewer.token

# ---- a viewer's ValidateJob cannot read the coordinator's environment or files
mkdir gen
protoc -I "$root/proto" --python_out gen "$root"/proto/weir/v1/*.proto
/usr/bin/python3 - "$addr" "$viewer_token" <<'PY' || fail "ValidateJob leaks"
import sys, time
sys.path.insert(0, "gen")
import grpc
from weir.v1 import admin_pb2
addr, token = sys.argv[1:]
channel = grpc.insecure_channel(addr)
validate = channel.unary_unary("/weir.v1.Admin/ValidateJob",
                               request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=admin_pb2.ValidateJobResponse.FromString)
def errors(yaml):
    t0 = time.time()
    r = validate(admin_pb2.ValidateJobRequest(job_yaml=yaml, file_name="probe.yaml"),
                 metadata=[("authorization", "Bearer " + token)], timeout=10)
    if r.valid:
        raise SystemExit("a probe was valid: " + yaml)
    if time.time() - t0 > 5:
        raise SystemExit("a probe took %.1f s" % (time.time() - t0))
    return "\n".join("%d:%d: %s" % (e.line, e.column, e.message) for e in r.errors)
env_probe = ('name: probe\nsources:\n  x: {type: kafka, brokers: "b:9092", topic: t, '
             'format: "${WEIR_LEAK_SECRET}", schema: {a: string}}\n'
             'sinks:\n  out: {from: x, type: stdout}\n')
got = errors(env_probe)
if "hunter2" in got or "is not substituted here" not in got:
    raise SystemExit("the environment probe got: " + got)
print("ok   ValidateJob with ${WEIR_LEAK_SECRET}: " + got.splitlines()[0][:110])
for path in ("/etc/passwd", "/dev/zero"):
    probe = ('name: probe\nsources:\n  x:\n    type: kafka\n    brokers: b:9092\n    topic: t\n'
             '    format: {type: avro, schema: %s}\n    schema: {a: string}\n'
             'sinks:\n  out: {from: x, type: kafka, brokers: b:9092, topic: o, format: json}\n'
             % path)
    got = errors(probe)
    if "root:" in got or "was not sent with the job" not in got:
        raise SystemExit("the file probe %s got: %s" % (path, got))
    print("ok   ValidateJob with schema %s: %s" % (path, got.splitlines()[0][:110]))
PY

# ---- weir submit resolves on the client and sends the files
cd client
cat >order.avsc <<'AVSC'
{"type": "record", "name": "Row", "fields": [{"name": "uid", "type": "string"}, {"name": "n", "type": "long"}]}
AVSC
cat >job.yaml <<'YAML'
name: resolved
checkpoint: {interval: 200ms, mode: exactly_once}
secrets:
  pii: {env: WEIR_PII_KEY}
sources:
  events:
    type: file
    path: ${IN}
    rate: 1500
    format: json
    schema: {uid: string, n: bigint}
operators:
  - name: pseudonymized
    from: events
    map: {uid: "hmac_sha256(uid, 'pii')", n: n}
sinks:
  out:
    from: pseudonymized
    type: file
    path: ${OUT}
    format: json
    delivery: exactly_once
  avro:
    from: events
    type: kafka
    brokers: ${BROKERS}
    topic: orders
    format: {type: avro, schema: order.avsc}
YAML
mkdir "$work/in"
python3 -c '
import json
with open("'"$work"'/in/a.jsonl", "w") as f:
    for i in range(6000):
        f.write(json.dumps({"uid": "u%d" % (i % 7), "n": i}) + "\n")'
export IN="$work/in" OUT="$work/client-out" BROKERS="$(cat "$work/brokers")"
expect 0 "operator submits (resolved here)" "${cli[@]}" --token-file ../operator.token submit job.yaml
cd "$work"
for _ in $(seq 100); do
  [[ -n "$(ls client-out 2>/dev/null)" ]] && break
  sleep 0.1
done
[[ -n "$(ls client-out 2>/dev/null)" ]] || fail "no output where the submitter's \${OUT} points"

# ---- a coordinator restart with another environment: the job resumes as submitted
kill -TERM "$coordinator_pid"
wait "$coordinator_pid" 2>/dev/null || true
start_coordinator "$work/coordinator-out-2"
for _ in $(seq 600); do
  state="$("${cli[@]}" --token-file viewer.token -o json describe resolved 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null || true)"
  [[ "$state" == JOB_STATE_FINISHED || "$state" == JOB_STATE_FAILED ]] && break
  sleep 0.2
done
[[ "$state" == JOB_STATE_FINISHED ]] ||
  fail "the job is $state after the restart: $("${cli[@]}" --token-file viewer.token describe resolved 2>&1 | tail -5)"
echo "ok   the job resumed after a coordinator restart and finished"
for d in coordinator-out coordinator-out-2 worker-out; do
  [[ ! -e "$d" ]] || fail "output in $d: a process substituted \${OUT} from its own environment"
done
python3 - "$work/client-out" "$pii_key" <<'PY' || fail "output"
import collections, glob, hashlib, hmac, json, os, sys
rows = collections.Counter()
for p in glob.glob(os.path.join(sys.argv[1], "*.jsonl")):
    for line in open(p):
        if line.strip():
            row = json.loads(line)
            want = hmac.new(sys.argv[2].encode(), b"u%d" % (row["n"] % 7), hashlib.sha256)
            if row["uid"] != want.hexdigest():
                raise SystemExit("row %s: uid is not the HMAC under the worker's key" % row)
            rows[row["n"]] += 1
if sorted(rows) != list(range(6000)) or set(rows.values()) != {1}:
    raise SystemExit("rows: %d distinct, %d duplicated, want 0..5999 once each" % (
        len(rows), sum(1 for v in rows.values() if v > 1)))
print("ok   every row once, where the submitter's ${OUT} points, keyed by the worker's secret")
PY

# ---- storage outside the coordinator's roots
cd client
expect 7 "a savepoint outside the storage roots" \
  "${cli[@]}" --token-file ../operator.token submit --from-savepoint /etc job.yaml
cd "$work"
grep -q "outside the coordinator's checkpoint storage" <<<"$out" || fail "unclear: $out"
sed 's|mode: exactly_once}|mode: exactly_once, storage: "file://'"$work"'/elsewhere"}|; s|name: resolved|name: elsewhere|' \
  client/job.yaml >client/elsewhere.yaml
(cd client && expect 7 "checkpoint.storage outside the storage roots" \
  "${cli[@]}" --token-file ../operator.token submit elsewhere.yaml)
[[ ! -e "$work/elsewhere" ]] || fail "the refused job's storage was created"
kill -TERM "$coordinator_pid"
wait "$coordinator_pid" 2>/dev/null || true
(cd coordinator-cwd && exec "$build/weir-coordinator" --port "$port" --data-dir "$work/coord" \
  --metrics-port -1 --auth-tokens "$work/tokens" --allow-storage "file://$work/elsewhere" \
  >>"$work/coordinator.log" 2>&1) &
coordinator_pid=$!
pids+=($coordinator_pid)
for _ in $(seq 100); do
  "${cli[@]}" --token-file viewer.token list >/dev/null 2>&1 && break
  sleep 0.1
done
(cd client && expect 0 "checkpoint.storage under --allow-storage" \
  "${cli[@]}" --token-file ../operator.token submit elsewhere.yaml)
ok=1
echo "PASS job_resolution_test"
