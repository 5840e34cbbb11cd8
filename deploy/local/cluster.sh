#!/usr/bin/env bash
# A weir cluster on this machine: one weir-coordinator, N weir-workers and,
# with --broker, the development broker. For trying the cluster commands and
# for the integration tests; docs/operations.md shows it in use.
#
#   cluster.sh start DIR [--workers N] [--slots S] [--port P]
#                        [--heartbeat-timeout MS] [--broker] [--topic NAME:PARTS]...
#   cluster.sh stop DIR
#   cluster.sh status DIR
#
# start waits until every worker has registered, then prints the admin
# address (also in DIR/addr; `export WEIR_ADDR=$(cat DIR/addr)` points the
# CLI at it) and, with --broker, the bootstrap servers (DIR/brokers).
# DIR/metrics lists each process's /metrics URL (ports picked free).
# Everything lives under DIR: the coordinator's data (DIR/coordinator), the
# workers' state (DIR/workers), logs (DIR/*.log) and pid files. Binaries come
# from $WEIR_BIN_DIR, else the repository's build/ directory.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${WEIR_BIN_DIR:-$root/build}"

usage() { sed -n '5,9p' "$0" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
cmd="$1"; dir="$2"; shift 2

stop_pid() {  # TERM, then KILL after 10 s
  local f="$1"
  [[ -f "$f" ]] || return 0
  local pid; pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

case "$cmd" in
  start)
    workers=3 slots=2 port=7600 hb=5000 broker=0 topics=()
    while [[ $# -gt 0 ]]; do
      case "$1" in
        --workers) workers="$2"; shift 2 ;;
        --slots) slots="$2"; shift 2 ;;
        --port) port="$2"; shift 2 ;;
        --heartbeat-timeout) hb="$2"; shift 2 ;;
        --broker) broker=1; shift ;;
        --topic) topics+=(--topic "$2"); shift 2 ;;
        *) usage ;;
      esac
    done
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    if [[ -f "$dir/coordinator.pid" ]] && kill -0 "$(cat "$dir/coordinator.pid")" 2>/dev/null; then
      echo "cluster.sh: a cluster already runs in $dir (cluster.sh stop $dir)" >&2; exit 4
    fi
    if ((broker)); then
      rm -f "$dir/brokers"
      "$bin/weir-dev-broker" "${topics[@]}" --address-file "$dir/brokers" >"$dir/broker.log" 2>&1 &
      echo $! >"$dir/broker.pid"
      for _ in $(seq 100); do [[ -s "$dir/brokers" ]] && break; sleep 0.1; done
      [[ -s "$dir/brokers" ]] || { echo "cluster.sh: the dev broker did not start (see $dir/broker.log)" >&2; exit 5; }
    fi
    "$bin/weir-coordinator" --port "$port" --data-dir "$dir/coordinator" --metrics-port 0 \
      --heartbeat-timeout "$hb" --heartbeat-interval "$((hb / 10 < 50 ? 50 : hb / 10))" \
      >>"$dir/coordinator.log" 2>&1 &
    echo $! >"$dir/coordinator.pid"
    echo "127.0.0.1:$port" >"$dir/addr"
    for i in $(seq "$workers"); do
      "$bin/weir-worker" --coordinator "127.0.0.1:$port" --port 0 --slots "$slots" \
        --id "w$i" --data-dir "$dir/workers" --metrics-port 0 >>"$dir/worker-$i.log" 2>&1 &
      echo $! >"$dir/worker-$i.pid"
    done
    echo "$workers" >"$dir/workers.count"
    # Ready when every worker has registered.
    for _ in $(seq 200); do
      n="$("$bin/weir" --addr "127.0.0.1:$port" --timeout 1 workers --no-headers 2>/dev/null | grep -c ' alive ' || true)"
      [[ "$n" -ge "$workers" ]] && break
      sleep 0.1
    done
    if [[ "${n:-0}" -lt "$workers" ]]; then
      echo "cluster.sh: only ${n:-0} of $workers workers registered (see $dir/*.log)" >&2; exit 5
    fi
    # Where each process serves /metrics (ports picked free at start).
    : >"$dir/metrics"
    for log in "$dir/coordinator.log" "$dir"/worker-*.log; do
      url="$(grep -o 'metrics on https\?://[^ ]*/metrics' "$log" | tail -1 |
        sed 's/metrics on //; s/0\.0\.0\.0/127.0.0.1/; s/\[::\]/[::1]/')"
      [[ -n "$url" ]] && echo "$(basename "$log" .log) $url" >>"$dir/metrics"
    done
    echo "coordinator 127.0.0.1:$port, $workers workers x $slots slots"
    ((broker)) && echo "brokers $(cat "$dir/brokers")"
    exit 0
    ;;
  stop)
    [[ -d "$dir" ]] || exit 0
    for f in "$dir"/worker-*.pid; do stop_pid "$f"; done
    stop_pid "$dir/coordinator.pid"
    stop_pid "$dir/broker.pid"
    ;;
  status)
    for f in "$dir"/*.pid; do
      [[ -f "$f" ]] || continue
      name="$(basename "$f" .pid)"
      if kill -0 "$(cat "$f")" 2>/dev/null; then echo "$name running ($(cat "$f"))"; else echo "$name stopped"; fi
    done
    ;;
  *) usage ;;
esac
