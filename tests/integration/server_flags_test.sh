#!/usr/bin/env bash
# The servers' numeric settings are typed and ranged the same way whether a
# flag, a WEIR_* variable or a --config key sets them: "7600abc", 70000 or
# "1e3" for a port, 0 slots, a heartbeat timeout below twice the interval
# all stop the process with exit 2 and a message naming the setting (and
# file:line:col for the config file), before anything listens; so does a
# --metrics-address that is not an IP address. A good config file applies
# (its metrics-address too), and a flag overrides it.
#
# Usage: server_flags_test.sh BUILD_DIR
set -euo pipefail
build="$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)"
work="$(mktemp -d /tmp/weir-flags-XXXXXX)"
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
n=0

refused() {  # what pattern command...   (env settings go through `env`)
  local what="$1" pattern="$2"
  shift 2
  set +e
  out="$(timeout 10 "$@" 2>&1)"
  local got=$?
  set -e
  [[ "$got" == 2 ]] || fail "$what: exit $got, expected 2: $out"
  grep -qE -- "$pattern" <<<"$out" || fail "$what: the message does not match '$pattern': $out"
  echo "ok   $what: $(head -1 <<<"$out" | sed 's/^.*weir-[a-z]*: //')"
  n=$((n + 1))
}

c=("$build/weir-coordinator" --data-dir "$work/c")
w=("$build/weir-worker" --data-dir "$work/w")
refused "coordinator --port 7600abc" "port" "${c[@]}" --port 7600abc
refused "coordinator --port 70000" "port.*70000|70000.*port|Value 70000" "${c[@]}" --port 70000
refused "coordinator --metrics-port 70000" "metrics-port" "${c[@]}" --metrics-port 70000
refused "coordinator --health-port 1e3" "health-port" "${c[@]}" --health-port 1e3
refused "coordinator --heartbeat-timeout -5" "heartbeat-timeout" "${c[@]}" --heartbeat-timeout -5
refused "coordinator timeout below twice the interval" "at least twice" \
  "${c[@]}" --heartbeat-timeout 500 --heartbeat-interval 400
refused "WEIR_PORT=12x for the coordinator" "port" env WEIR_PORT=12x "${c[@]}"
refused "WEIR_METRICS_PORT=99999 for the worker" "metrics-port" env WEIR_METRICS_PORT=99999 "${w[@]}"
refused "worker --slots 0" "slots" "${w[@]}" --slots 0
refused "worker --slots 4x" "slots" "${w[@]}" --slots 4x
refused "worker --port ''" "port" "${w[@]}" --port ""
refused "coordinator --log-format xml" "log-format" "${c[@]}" --log-format xml
refused "WEIR_LOG_LEVEL=verbose for the worker" "log-level" env WEIR_LOG_LEVEL=verbose "${w[@]}"
refused "coordinator --metrics-address localhost" "metrics-address.*'localhost' is not an IP address" \
  "${c[@]}" --metrics-address localhost
refused "WEIR_METRICS_ADDRESS=0.0.0.0:9250 for the worker" "metrics-address" \
  env WEIR_METRICS_ADDRESS=0.0.0.0:9250 "${w[@]}"

printf 'data-dir: %s\nport: 7600abc\n' "$work/c" >bad-port.yaml
refused "config port: 7600abc" "bad-port.yaml:2:7: 'port': '7600abc' is not a whole number" \
  "$build/weir-coordinator" --config bad-port.yaml
printf 'slots: 2000\n' >bad-slots.yaml
refused "config slots: 2000" "bad-slots.yaml:1:8: 'slots': 2000 is not in \[1 - 1024\]" \
  "$build/weir-worker" --config bad-slots.yaml
printf 'metrics-port: -2\n' >bad-metrics.yaml
refused "config metrics-port: -2" "bad-metrics.yaml:1:15: 'metrics-port'" \
  "$build/weir-coordinator" --config bad-metrics.yaml
printf 'tls-client-auth: yes\n' >bad-auth.yaml
refused "config tls-client-auth: yes" "bad-auth.yaml:1:18: 'tls-client-auth': 'yes' is not one of" \
  "$build/weir-coordinator" --config bad-auth.yaml
printf 'log-level: loud\n' >bad-level.yaml
refused "config log-level: loud" "bad-level.yaml:1:12: 'log-level': 'loud' is not one of debug, info, warn, error" \
  "$build/weir-worker" --config bad-level.yaml
printf 'metrics-address: example.com\n' >bad-address.yaml
refused "config metrics-address: example.com" \
  "bad-address.yaml:1:18: 'metrics-address': 'example.com' is not an IP address" \
  "$build/weir-worker" --config bad-address.yaml
printf 'prot: 7600\n' >unknown.yaml
refused "config with an unknown key" "unknown.yaml:1:1: unknown setting 'prot'" \
  "$build/weir-coordinator" --config unknown.yaml

# A good file applies; a flag overrides it.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port="$(free_port)"
printf 'data-dir: %s\nport: 1\nmetrics-port: -1\nheartbeat-timeout: 3000\n' "$work/c" >good.yaml
"$build/weir-coordinator" --config good.yaml --port "$port" >good.log 2>&1 &
pid=$!
for _ in $(seq 100); do
  grep -q "serving on port" good.log && break
  sleep 0.1
done
kill "$pid"
wait "$pid" || true
grep -q "serving on port $port," good.log || fail "the coordinator did not serve on --port $port: $(cat good.log)"
grep -q "metrics on" good.log && fail "metrics-port: -1 from the file was not applied"
echo "ok   a good config file applies and --port overrides it"
# metrics-address from the file applies: /metrics listens there (127.0.0.2
# is loopback too, but not 127.0.0.1, the default).
metrics_port="$(free_port)"
printf 'data-dir: %s\nmetrics-address: 127.0.0.2\nmetrics-port: %s\n' "$work/c" "$metrics_port" >addr.yaml
"$build/weir-coordinator" --config addr.yaml --port "$port" >addr.log 2>&1 &
pid=$!
for _ in $(seq 100); do
  grep -q "metrics on" addr.log && break
  sleep 0.1
done
ok_addr=0
if grep -q "metrics on http://127.0.0.2:$metrics_port/metrics" addr.log &&
  [[ "$(curl -s "http://127.0.0.2:$metrics_port/healthz")" == ok ]] &&
  ! curl -s -o /dev/null "http://127.0.0.1:$metrics_port/healthz"; then
  ok_addr=1
fi
kill "$pid"
wait "$pid" || true
((ok_addr)) || fail "metrics-address: 127.0.0.2 from the file was not applied: $(cat addr.log)"
echo "ok   metrics-address from the file applies: /metrics on 127.0.0.2, not 127.0.0.1"
# --log-level warn leaves out the info lines ("serving on port ...").
"$build/weir-coordinator" --config good.yaml --port "$port" --log-level warn >quiet.log 2>&1 &
pid=$!
sleep 1
kill "$pid"
wait "$pid" || true
grep -q "serving on port" quiet.log && fail "--log-level warn still wrote info lines: $(cat quiet.log)"
echo "ok   --log-level warn leaves out info lines"
echo "$((n + 3)) passed, 0 failed"
