#!/usr/bin/env bash
# TLS, mutual TLS and bearer tokens on a real cluster: openssl makes a CA,
# certificates for the processes and the CLI, and a rogue CA; the coordinator
# requires client certificates and tokens (stored hashed), the workers talk
# to it and to each other over mutual TLS. Checks that whoever lacks the
# right certificate or token is refused with the right exit code and that
# nothing changed, that a viewer cannot submit or cancel, that mutating calls
# are logged with who made them, and that a job still runs across the
# workers (exchange over TLS) to the expected output, and that a renewed
# certificate file is served without a restart. /metrics is HTTPS with the
# same certificate, on loopback only, and takes only scrapers whose client
# certificate the CA signed (curl, openssl s_client).
#
# Usage: security_test.sh BUILD_DIR
set -euo pipefail
build="$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)"
work="$(mktemp -d /tmp/weir-security-XXXXXX)"
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

# ---- certificates
ca() {  # name
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -days 2 \
    -subj "/CN=$1" >/dev/null 2>&1
}
leaf() {  # name ca
  openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$1" >/dev/null 2>&1
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -out "$1.pem" \
    -days 2 -extfile "$1.ext" >/dev/null 2>&1
}
ca ca
ca rogue-ca
leaf coordinator ca
leaf worker ca
leaf cli ca
leaf rogue rogue-ca

# ---- tokens, stored as SHA-256 only
viewer_token="viewer-$(openssl rand -hex 16)"
operator_token="operator-$(openssl rand -hex 16)"
{
  echo "# sha256(token) role name"
  echo "$(printf %s "$viewer_token" | sha256sum | cut -d' ' -f1) viewer alice"
  echo "$(printf %s "$operator_token" | sha256sum | cut -d' ' -f1) operator bob"
} >tokens
grep -q "$viewer_token" tokens && fail "the token file holds a token in clear"
echo "$viewer_token" >viewer.token
echo "$operator_token" >operator.token
echo "wrong-token" >wrong.token

# ---- cluster
port="$(free_port)"
health_port="$(free_port)"
addr="127.0.0.1:$port"
metrics_port="$(free_port)"
"$build/weir-coordinator" --port "$port" --data-dir "$work/coord" --metrics-port "$metrics_port" \
  --tls-cert coordinator.pem --tls-key coordinator.key --tls-ca ca.pem --tls-client-auth true \
  --auth-tokens tokens --heartbeat-timeout 3000 --health-port "$health_port" >coordinator.log 2>&1 &
pids+=($!)
for i in 1 2; do
  "$build/weir-worker" --coordinator "$addr" --port 0 --slots 2 --id "w$i" \
    --data-dir "$work/workers" --metrics-port -1 --tls-cert worker.pem --tls-key worker.key \
    --tls-ca ca.pem --tls-client-auth true >"worker-$i.log" 2>&1 &
  pids+=($!)
done
# A worker without a certificate must not get in.
"$build/weir-worker" --coordinator "$addr" --port 0 --slots 2 --id intruder \
  --data-dir "$work/workers" --metrics-port -1 >intruder.log 2>&1 &
pids+=($!)

cli=("$build/weir" --addr "$addr" --timeout 5 --tls-ca ca.pem --tls-cert cli.pem --tls-key cli.key)
wait_workers 2 "${cli[@]}" --token-file viewer.token
echo "ok   2 workers registered over mutual TLS"
# Probes (Kubernetes' gRPC probes) cannot present certificates: the
# plaintext health port answers grpc.health.v1 while the main port needs mTLS.
/usr/bin/python3 - "$health_port" <<'PY' || fail "plaintext health port"
import sys, grpc
ch = grpc.insecure_channel("127.0.0.1:" + sys.argv[1])
check = ch.unary_unary("/grpc.health.v1.Health/Check", request_serializer=lambda b: b,
                       response_deserializer=lambda b: b)
resp = check(b"", timeout=5)
assert resp == b"\x08\x01", resp  # HealthCheckResponse{status: SERVING}
# An unauthenticated port takes only small requests: a 1 MiB service name
# (HealthCheckRequest field 1) is refused, and the port goes on serving.
big = bytes([0x0A, 0x80, 0x80, 0x40]) + b"x" * (1 << 20)
try:
    check(big, timeout=5)
    raise SystemExit("a 1 MiB health check was accepted")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, (e.code(), e.details())
assert check(b"", timeout=5) == b"\x08\x01"
print("ok   grpc.health.v1 SERVING on the plaintext health port; a 1 MiB request refused")
PY

# ---- /metrics and /healthz: HTTPS with the coordinator's certificate, on
# loopback only (the default --metrics-address), and with --tls-client-auth
# true only for scrapers with a certificate the CA signed
grep -q "metrics on https://127.0.0.1:$metrics_port/metrics" coordinator.log ||
  fail "the coordinator does not log its HTTPS metrics URL: $(grep metrics coordinator.log)"
scrape() {  # expected-curl-exits(a|b) description curl-arguments...
  local want="$1" what="$2"
  shift 2
  set +e
  out="$(curl -sS --max-time 5 -o body.txt "$@" 2>&1)"
  local got=$?
  set -e
  [[ "$got" =~ ^($want)$ ]] || fail "$what: curl exit $got, expected $want: $out"
  if [[ "$want" == 0 ]]; then
    grep -q '^# TYPE weir_workers gauge' body.txt || [[ "$(cat body.txt)" == ok ]] ||
      fail "$what: not the metrics: $(head -3 body.txt)"
  else
    grep -q weir_ body.txt 2>/dev/null && fail "$what: got metrics all the same"
  fi
  rm -f body.txt
  echo "ok   $what: curl exit $got${out:+ ($(echo "$out" | head -1))}"
}
https_metrics="https://127.0.0.1:$metrics_port/metrics"
scrape 0 "scrape over HTTPS with the CA and a client certificate" \
  --cacert ca.pem --cert cli.pem --key cli.key "$https_metrics"
scrape 0 "/healthz likewise" --cacert ca.pem --cert cli.pem --key cli.key \
  "https://127.0.0.1:$metrics_port/healthz"
# The server's alert (certificate required, unknown CA) reaches curl while it
# sends (55), reads (56) or still shakes hands (35), as the timing falls.
scrape "35|55|56" "scrape without a client certificate" --cacert ca.pem "$https_metrics"
scrape "35|55|56" "scrape with a client certificate of another CA" \
  --cacert ca.pem --cert rogue.pem --key rogue.key "$https_metrics"
scrape 60 "scraper that trusts another CA" --cacert rogue-ca.pem --cert cli.pem --key cli.key \
  "$https_metrics"
scrape "52|56" "plain HTTP to the HTTPS metrics port" "http://127.0.0.1:$metrics_port/metrics"
scrape 7 "the metrics port at another loopback address (127.0.0.2)" \
  --cacert ca.pem --cert cli.pem --key cli.key "https://127.0.0.2:$metrics_port/metrics"

# ---- who is refused
expect 5 "plaintext client to a TLS coordinator" "$build/weir" --addr "$addr" --timeout 3 \
  --token-file operator.token list
expect 5 "TLS client without a client certificate" "$build/weir" --addr "$addr" --timeout 3 \
  --tls-ca ca.pem --token-file operator.token list
expect 5 "client certificate from another CA" "$build/weir" --addr "$addr" --timeout 3 \
  --tls-ca ca.pem --tls-cert rogue.pem --tls-key rogue.key --token-file operator.token list
expect 5 "client trusting another CA" "$build/weir" --addr "$addr" --timeout 3 \
  --tls-ca rogue-ca.pem --tls-cert cli.pem --tls-key cli.key --token-file operator.token list
expect 7 "no token" "${cli[@]}" list
expect 7 "wrong token" "${cli[@]}" --token-file wrong.token list

# ---- a token file that breaks refuses every call (fail closed: an edit
# that revokes a token must not leave it valid), says so in the log and the
# metrics, and calls resume once it is fixed
metric() {  # /metrics is HTTPS, and the scraper needs a certificate (--tls-client-auth true)
  curl -sS --max-time 5 --cacert ca.pem --cert cli.pem --key cli.key \
    "https://127.0.0.1:$metrics_port/metrics" | awk -v n="$1" '$1 == n {print $2}'
}
cp tokens tokens.good
echo "not-a-hash viewer mallory" >>tokens
expect 7 "operator token with a malformed token file" "${cli[@]}" --token-file operator.token list
grep -q "tokens:4: the first field must be" coordinator.log ||
  fail "the malformed token file is not in the coordinator's log"
[[ "$(metric weir_auth_token_file_ok)" == 0 ]] || fail "weir_auth_token_file_ok is not 0"
cp tokens.good tokens
expect 0 "operator token once the file is fixed" "${cli[@]}" --token-file operator.token list
[[ "$(metric weir_auth_token_file_ok)" == 1 ]] || fail "weir_auth_token_file_ok is not 1 again"
rm tokens
expect 7 "operator token with the token file deleted" "${cli[@]}" --token-file operator.token list
grep -q "cannot read the token file 'tokens'; refusing every admin call" coordinator.log ||
  fail "the deleted token file is not in the coordinator's log"
cp tokens.good tokens
expect 0 "operator token once the file is back" "${cli[@]}" --token-file operator.token list
[[ "$(metric weir_auth_token_file_errors_total)" == 2 ]] ||
  fail "weir_auth_token_file_errors_total is $(metric weir_auth_token_file_errors_total), not 2"
grep -q "is valid again" coordinator.log || fail "the recovery is not in the log"
echo "ok   a malformed or deleted token file refuses every call, logged and counted"

cat >job.yaml <<EOF
name: secure
parallelism: 2
checkpoint: {interval: 300ms, mode: exactly_once, timeout: 15s}
restart: {attempts: 5, delay: 200ms}
sources:
  events:
    type: file
    path: $work/in
    rate: 2000
    format: json
    schema: {k: string, ts: timestamp}
    event_time: {field: ts, max_out_of_orderness: 0s}
operators:
  - name: per_key
    from: events
    key_by: [k]
    window: {tumbling: 1s}
    aggregate: {n: count()}
sinks:
  out: {from: per_key, type: file, path: $work/out, format: json, delivery: exactly_once}
EOF
mkdir in
python3 -c '
import json
with open("in/a.jsonl", "w") as f:
    for i in range(6000):
        f.write(json.dumps({"k": "k%d" % (i % 10), "ts": 1700000000000 + i}) + "\n")'

expect 7 "viewer submits" "${cli[@]}" --token-file viewer.token submit job.yaml
[[ -z "$("${cli[@]}" --token-file viewer.token list -a --no-headers)" ]] ||
  fail "a refused submit left a job behind"
expect 0 "operator submits" "${cli[@]}" --token-file operator.token submit job.yaml
expect 7 "viewer cancels" "${cli[@]}" --token-file viewer.token cancel secure
state="$("${cli[@]}" --token-file viewer.token -o json describe secure | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')"
[[ "$state" == JOB_STATE_RUNNING || "$state" == JOB_STATE_FINISHED ]] ||
  fail "the refused cancel changed the job: $state"
echo "ok   the job is still $state"

# ---- the job runs across both workers, over TLS, to the expected output
for _ in $(seq 600); do
  state="$("${cli[@]}" --token-file viewer.token -o json describe secure | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')"
  [[ "$state" == JOB_STATE_FINISHED || "$state" == JOB_STATE_FAILED ]] && break
  sleep 0.2
done
if [[ "$state" != JOB_STATE_FINISHED ]]; then
  # Keep the evidence: every thread's stack of every process.
  for p in "${pids[@]}"; do
    gdb -p "$p" -batch -ex "thread apply all bt" >"stacks-$p.txt" 2>&1 || true
  done
  fail "job ended $state (stacks in $work/stacks-*.txt)"
fi
python3 - "$work/out" <<'PY' || fail "output"
import collections, glob, json, sys
got = collections.Counter()
for p in glob.glob(sys.argv[1] + "/part-*"):
    for line in open(p):
        r = json.loads(line)
        got[(r["k"], r["window_start"])] += r["n"]
assert sum(got.values()) == 6000 and len(got) == 60, (sum(got.values()), len(got))
print("ok   the job's 60 windows hold all 6000 rows, once")
PY
grep -q 'admin call SubmitJob.*user=bob' coordinator.log || fail "no log line of bob's submit"
grep -q 'denied CancelJob.*user=alice' coordinator.log || fail "no log line of alice's refused cancel"
echo "ok   mutating calls are logged with who made them"
grep -q "$operator_token" coordinator.log worker-*.log && fail "a token reached the logs"
[[ "$("${cli[@]}" --token-file viewer.token workers --no-headers | grep -c intruder)" == 0 ]] ||
  fail "a worker without a certificate registered"
echo "ok   the worker without a certificate never registered"

# ---- a renewed certificate is served without a restart
served_subject() {
  openssl s_client -connect "$addr" -CAfile ca.pem -cert cli.pem -key cli.key </dev/null 2>/dev/null |
    openssl x509 -noout -subject 2>/dev/null || true
}
grep -q "CN *= *coordinator$" <<<"$(served_subject)" || fail "the coordinator does not serve its certificate: $(served_subject)"
leaf coordinator-renewed ca
cp coordinator-renewed.key coordinator.key.new && mv coordinator.key.new coordinator.key
cp coordinator-renewed.pem coordinator.pem.new && mv coordinator.pem.new coordinator.pem
for _ in $(seq 60); do  # gRPC's file watcher reads the files every 10 s
  grep -q "CN *= *coordinator-renewed" <<<"$(served_subject)" && renewed=1 && break
  sleep 0.5
done
[[ "${renewed:-0}" == 1 ]] || fail "the renewed certificate was not served within 30 s: $(served_subject)"
metrics_subject() {
  openssl s_client -connect "127.0.0.1:$metrics_port" -CAfile ca.pem -cert cli.pem -key cli.key \
    </dev/null 2>/dev/null | openssl x509 -noout -subject 2>/dev/null || true
}
for _ in $(seq 60); do  # the metrics server reads the files every 10 s too
  grep -q "CN *= *coordinator-renewed" <<<"$(metrics_subject)" && metrics_renewed=1 && break
  sleep 0.5
done
[[ "${metrics_renewed:-0}" == 1 ]] ||
  fail "/metrics did not serve the renewed certificate within 30 s: $(metrics_subject)"
grep -q "HTTPS certificate reloaded from coordinator.pem" coordinator.log ||
  fail "the metrics server's reload is not in the log"
[[ "$(metric weir_auth_token_file_ok)" == 1 ]] || fail "no metrics over HTTPS after the renewal"
expect 0 "a client after the certificate was renewed" "${cli[@]}" --token-file viewer.token list
echo "ok   the coordinator serves the renewed certificate without a restart, on /metrics too"
ok=1
echo "PASS: TLS, mutual TLS, certificate reload, tokens and HTTPS metrics"
