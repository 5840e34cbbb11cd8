#!/usr/bin/env bash
# Kafka security passthrough: weir reads and writes Kafka over mutual TLS
# and over SASL (SCRAM-SHA-512 and PLAIN), with every secret read from the
# environment or a file on the worker, never in the job file, the
# coordinator's registry, checkpoints, logs or `weir describe`.
#
# The dev broker (librdkafka's mock cluster) speaks neither TLS nor SASL, so
# it runs in its own network namespace, where its advertised address
# 127.0.0.1:PORT is its own loopback; socat bridges it to a unix socket. In
# the test's namespace the same 127.0.0.1:PORT is served, in turn, by
#  - socat terminating TLS with a client certificate required (OpenSSL), and
#  - tests/integration/kafka_sasl_proxy.py, which plays the broker's side of
#    SASL PLAIN and SCRAM (it checks the SCRAM proof against the password)
#    and then passes bytes through.
# Both fronts refuse a client without the right credentials, which the test
# shows too: the job fails with an error that says why.
#
# Usage: kafka_security_test.sh BUILD_DIR   (root: it makes a network namespace)
set -euo pipefail
build="$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [[ $EUID -ne 0 ]]; then
  echo "SKIP: needs root for a network namespace" >&2
  exit 77
fi
for tool in socat kcat openssl; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool missing (tests/run.sh installs it)" >&2; exit 1; }
done
weir="$build/weir"
work="$(mktemp -d /tmp/weir-kafka-security-XXXXXX)"
ns="weir-ksec-$$"
pids=()
cleanup() {
  WEIR_BIN_DIR="$build" bash "$root/deploy/local/cluster.sh" stop "$work/cluster" >/dev/null 2>&1 || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  if [[ "${ok:-0}" == 1 ]]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  tail -n 20 "$work"/*.log "$work"/cluster/*.log 2>/dev/null >&2 || true
  exit 1
}
cd "$work"
in_ns() { ip netns exec "$ns" "$@"; }

# --- the broker in its namespace, with input ------------------------------
ip netns add "$ns"
in_ns ip link set lo up
in_ns "$build/weir-dev-broker" --topic in:2 --topic out:2 --address-file "$work/brokers" \
  >broker.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do [[ -s brokers ]] && break; sleep 0.1; done
[[ -s brokers ]] || fail "the dev broker did not start"
brokers="$(cat brokers)"
port="${brokers##*:}"
in_ns socat "UNIX-LISTEN:$work/broker.sock,fork" "TCP:127.0.0.1:$port" >bridge.log 2>&1 &
pids+=($!)
rows=2000
/usr/bin/python3 - "$rows" <<'PY'
import json, sys
n = int(sys.argv[1])
for p in (0, 1):
    with open("in-%d.jsonl" % p, "w") as f:
        for i in range(p, n, 2):
            f.write(json.dumps({"id": i, "user": "u%d" % (i % 37)}) + "\n")
PY
for p in 0 1; do in_ns kcat -P -b "$brokers" -t in -p "$p" -l "in-$p.jsonl"; done

# Secrets: random, so that a grep for them means something.
mkdir -m 700 secrets
key_password="keypw-$RANDOM$RANDOM$RANDOM"
kafka_password="kafkapw-$RANDOM$RANDOM$RANDOM"
printf '%s\n' "$key_password" >secrets/client-key-password
printf '%s\n' "$kafka_password" >secrets/kafka-password
printf 'wrong-%s\n' "$kafka_password" >secrets/wrong-password

# --- mutual TLS --------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=weir-test-ca \
  -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout server.key -out server.csr 2>/dev/null
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
  -copy_extensions copy -out server.pem 2>/dev/null
openssl req -newkey rsa:2048 -subj /CN=weir-client -passout "pass:$key_password" \
  -keyout client.key -out client.csr 2>/dev/null
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
  -out client.pem 2>/dev/null
socat "OPENSSL-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,cert=server.pem,key=server.key,cafile=ca.pem,verify=1" \
  "UNIX-CONNECT:$work/broker.sock" >tls.log 2>&1 &
tls_pid=$!
pids+=($tls_pid)
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done

tls_job() {  # tls_job NAME SSL_BLOCK
  cat >"$1.yaml" <<JOB
name: $1
checkpoint: {mode: none}
restart: {attempts: 0}
sources:
  in:
    type: kafka
    brokers: 127.0.0.1:$port
    topic: in
    end: latest
    format: json
    schema: {id: bigint, user: string}
    security:
      ssl: $2
sinks:
  out: {from: in, type: file, path: $work/$1-out, format: json}
JOB
}
tls_job tls "{ca: $work/ca.pem, certificate: $work/client.pem, key: $work/client.key, key_password: {file: $work/secrets/client-key-password}}"
XDG_STATE_HOME="$work/state" "$weir" local tls.yaml >tls-job.log 2>&1 || fail "the TLS job failed"
got="$(cat tls-out/*.json* 2>/dev/null | wc -l)"
[[ "$got" == "$rows" ]] || fail "the TLS job wrote $got rows, not $rows"
echo "ok: mutual TLS: $got rows read through the TLS front"

tls_job tls-no-cert "{ca: $work/ca.pem}"
if XDG_STATE_HOME="$work/state" timeout 120 "$weir" local tls-no-cert.yaml >tls-no-cert.log 2>&1; then
  fail "a client without a certificate read the topic"
fi
grep -q "cannot read the metadata of Kafka brokers '127.0.0.1:$port'.*last client error" tls-no-cert.log ||
  fail "the refused TLS client's error does not say why: $(tail -3 tls-no-cert.log)"
echo "ok: without a client certificate: $(grep -o 'last client error: [^)]*' tls-no-cert.log | head -1)"
kill "$tls_pid"
wait "$tls_pid" 2>/dev/null || true

# --- SASL on a cluster -------------------------------------------------------
/usr/bin/python3 "$root/tests/integration/kafka_sasl_proxy.py" "$port" "$work/broker.sock" weir \
  "$kafka_password" >sasl.log 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q listening sasl.log 2>/dev/null && break; sleep 0.1; done
coord_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
# The worker gets KAFKA_PASSWORD from its environment; the CLI does not.
KAFKA_PASSWORD="$kafka_password" WEIR_BIN_DIR="$build" bash "$root/deploy/local/cluster.sh" \
  start "$work/cluster" --workers 1 --slots 2 --port "$coord_port" >cluster.out 2>&1 ||
  fail "the cluster did not start: $(cat cluster.out)"
cli=("$weir" --addr "$(cat cluster/addr)")

sasl_job() {  # sasl_job NAME SINK_PASSWORD_FILE
  cat >"$1.yaml" <<JOB
name: $1
parallelism: 2
checkpoint: {interval: 300ms, mode: exactly_once}
restart: {attempts: 0}
sources:
  in:
    type: kafka
    brokers: 127.0.0.1:$port
    topic: in
    end: latest
    format: json
    schema: {id: bigint, user: string}
    security:
      sasl: {mechanism: SCRAM-SHA-512, username: weir, password: "\${KAFKA_PASSWORD}"}
sinks:
  out:
    from: in
    type: kafka
    brokers: 127.0.0.1:$port
    topic: out
    format: json
    delivery: exactly_once
    security:
      protocol: sasl_plaintext
      sasl: {mechanism: PLAIN, username: weir, password: {file: $2}}
JOB
}
sasl_job sasl "$work/secrets/kafka-password"
env -u KAFKA_PASSWORD "${cli[@]}" submit --wait sasl.yaml >submit.log 2>&1 ||
  fail "the SASL job did not finish: $(tail -5 submit.log)"
got="$(in_ns kcat -C -b "$brokers" -t out -e -q -X isolation.level=read_committed | wc -l)"
[[ "$got" == "$rows" ]] || fail "the SASL job wrote $got rows to topic out, not $rows"
grep -q "auth SCRAM-SHA-512 weir ok" sasl.log || fail "no SCRAM-SHA-512 authentication: $(cat sasl.log)"
grep -q "auth PLAIN weir ok" sasl.log || fail "no PLAIN authentication: $(cat sasl.log)"
echo "ok: SASL SCRAM-SHA-512 source and PLAIN exactly-once sink: $got rows"

"${cli[@]}" describe sasl >describe.txt
grep -q "sasl.password=\*\*\*\*\*\* (env KAFKA_PASSWORD)" describe.txt ||
  fail "describe does not show the source's password redacted: $(cat describe.txt)"
grep -q "sasl.password=\*\*\*\*\*\* (file $work/secrets/kafka-password)" describe.txt ||
  fail "describe does not show the sink's password redacted"
"${cli[@]}" -o json describe sasl >describe.json
/usr/bin/python3 - <<'PY' || fail "describe -o json lacks the endpoints"
import json
job = json.load(open("describe.json"))
eps = {(e["name"], e["role"]): e for e in job["endpoints"]}
assert eps[("in", "source")]["settings"]["sasl.mechanism"] == "SCRAM-SHA-512", eps
assert eps[("out", "sink")]["settings"]["sasl.password"].startswith("******"), eps
PY
echo "ok: weir describe shows where secrets come from, redacted"

# Wrong credentials: the job fails, and says why.
sasl_job sasl-wrong "$work/secrets/wrong-password"
set +e
env -u KAFKA_PASSWORD "${cli[@]}" submit --wait sasl-wrong.yaml >submit-wrong.log 2>&1
code=$?
set -e
[[ $code == 6 ]] || fail "a job with a wrong password: exit $code, not 6 (job failed)"
"${cli[@]}" describe sasl-wrong >describe-wrong.txt
grep -q "Last failure:.*Authentication failed for user weir" describe-wrong.txt ||
  fail "the failure does not name the authentication error: $(grep 'Last failure' describe-wrong.txt)"
grep -q "auth PLAIN weir failed" sasl.log || fail "the proxy saw no failed PLAIN authentication"
echo "ok: a wrong password fails the job: $(grep -o 'last client error: [^)]*' describe-wrong.txt | head -1)"

# No secret in clear anywhere weir wrote: registry, checkpoints, logs, output.
WEIR_BIN_DIR="$build" bash "$root/deploy/local/cluster.sh" stop "$work/cluster" >/dev/null 2>&1 || true
for secret in "$kafka_password" "$key_password"; do
  if grep -rlaF -- "$secret" cluster state tls-out ./*.log ./*.txt ./*.json ./*.yaml 2>/dev/null |
    grep -v '^sasl.log$'; then
    fail "a secret is stored in clear in the files above"
  fi
done
echo "ok: no secret in the registry, checkpoints, logs or describe output"
echo "1 passed, 0 failed"
ok=1
