#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for tests.
#
#   tests/e2e/postgres.sh start DIR PORT   # prints the DSN on stdout
#   tests/e2e/postgres.sh stop DIR
#
# start: initializes a fresh cluster, starts it listening on 127.0.0.1:PORT
# only (its unix socket stays inside the cluster's directory), with trust
# authentication, fsync off and max_prepared_transactions = 64 (the postgres
# sink's exactly-once mode prepares transactions), creates the database
# `weir` and prints `host=127.0.0.1 port=PORT dbname=weir user=postgres`.
#
# The cluster itself lives in a fresh directory /tmp/weir-pg.XXXXXX: PostgreSQL
# refuses to run as root, so as root the server runs as the `postgres` OS
# user, which owns that directory and may not be able to enter a build tree;
# /tmp also keeps the unix socket path short. DIR (created, owned by the
# caller) records where the cluster is (DIR/cluster) and keeps the logs.
#
# Idempotent for CI: start first stops a server left behind by a crashed run,
# on the same DIR or on the same PORT (any weir test cluster in /tmp whose
# postmaster.pid names that port); stop is a no-op when nothing runs.
# Uses Debian's binaries in /usr/lib/postgresql/15/bin (package postgresql,
# installed by deploy/local/install-deps.sh --test); PG_BIN overrides.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

die() {
  echo "postgres.sh: $*" >&2
  exit 1
}

usage() {
  echo "usage: $0 start DIR PORT | stop DIR" >&2
  exit 2
}

# Runs a command as the server's OS user: `postgres` when we are root.
# From /tmp, which that user can enter whatever our working directory is.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    (cd /tmp && runuser -u postgres -- "$@")
  else
    (cd /tmp && "$@")
  fi
}

# Stops the server of a cluster directory (if one runs) and removes it.
stop_cluster() {
  local cluster=$1
  [[ -n $cluster && -d $cluster ]] || return 0
  case $cluster in
    /tmp/weir-pg.*) ;;
    *) die "refusing to remove '$cluster': not a weir test cluster" ;;
  esac
  if [[ -f $cluster/data/postmaster.pid ]]; then
    as_pg "$PG_BIN/pg_ctl" -D "$cluster/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      as_pg "$PG_BIN/pg_ctl" -D "$cluster/data" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
      true
  fi
  rm -rf -- "$cluster"
}

# Stops what DIR describes and removes DIR.
stop_dir() {
  local dir=$1
  if [[ -f $dir/cluster ]]; then
    stop_cluster "$(cat "$dir/cluster")"
  fi
  rm -rf -- "$dir"
}

# Stops weir test clusters in /tmp whose server listens on PORT.
stop_port() {
  local port=$1 pidfile
  for pidfile in /tmp/weir-pg.*/data/postmaster.pid; do
    [[ -f $pidfile ]] || continue
    # postmaster.pid: pid, data directory, start time, port, socket dir, ...
    if [[ $(sed -n 4p "$pidfile" 2>/dev/null) == "$port" ]]; then
      echo "postgres.sh: stopping a stale server on port $port ($(dirname "$(dirname "$pidfile")"))" >&2
      stop_cluster "$(dirname "$(dirname "$pidfile")")"
    fi
  done
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
  local dir=$1 port=$2
  if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    die "bad port '$port'"
  fi
  [[ -x $PG_BIN/initdb && -x $PG_BIN/pg_ctl ]] ||
    die "no PostgreSQL 15 in $PG_BIN: install the package postgresql (deploy/local/install-deps.sh --test)"
  if [[ $(id -u) -eq 0 ]] && ! id -u postgres >/dev/null 2>&1; then
    die "running as root but there is no 'postgres' OS user to run the server"
  fi

  stop_dir "$dir"
  stop_port "$port"
  if port_in_use "$port"; then
    die "port $port on 127.0.0.1 is taken by another program; pick another port"
  fi

  mkdir -p -- "$dir"
  dir=$(cd "$dir" && pwd)
  local cluster
  cluster=$(mktemp -d /tmp/weir-pg.XXXXXX)
  echo "$cluster" >"$dir/cluster"
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres: "$cluster"
  fi
  chmod 700 "$cluster"

  if ! as_pg "$PG_BIN/initdb" -D "$cluster/data" -U postgres --auth=trust -E UTF8 \
    --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    die "initdb failed (log above)"
  fi
  cat >>"$cluster/data/postgresql.conf" <<EOF

# tests/e2e/postgres.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$cluster'
max_prepared_transactions = 64
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
EOF

  if ! as_pg "$PG_BIN/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w -t 60 start \
    >"$dir/pg_ctl.log" 2>&1; then
    cat "$dir/pg_ctl.log" "$cluster/server.log" >&2 || true
    stop_dir "$dir"
    die "the server did not start (logs above)"
  fi
  if ! as_pg "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -v ON_ERROR_STOP=1 -c 'CREATE DATABASE weir' >"$dir/createdb.log" 2>&1; then
    cat "$dir/createdb.log" >&2
    stop_dir "$dir"
    die "could not create the database weir (log above)"
  fi
  echo "host=127.0.0.1 port=$port dbname=weir user=postgres"
}

case ${1:-} in
  start)
    [[ $# -eq 3 ]] || usage
    start "$2" "$3"
    ;;
  stop)
    [[ $# -eq 2 ]] || usage
    stop_dir "$2"
    ;;
  *) usage ;;
esac
