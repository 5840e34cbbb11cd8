# Shell helpers the cluster integration tests share. The sourcing script
# defines fail MESSAGE (how it reports a failure) before calling these.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# expect EXIT DESCRIPTION COMMAND...: runs the command, fails unless it exits
# EXIT; its output is left in $out.
expect() {
  local want="$1" what="$2"
  shift 2
  set +e
  out="$("$@" 2>&1)"
  local got=$?
  set -e
  [[ "$got" == "$want" ]] || fail "$what: exit $got, expected $want: $out"
  echo "ok   $what: exit $got${out:+ ($(echo "$out" | head -1))}"
}

# wait_workers N CLI...: waits up to 10 s until `CLI workers` lists N alive
# workers; fails otherwise.
wait_workers() {
  local want="$1" n=0
  shift
  for _ in $(seq 100); do
    n="$("$@" workers --no-headers 2>/dev/null | grep -c ' alive ' || true)"
    [[ "$n" -ge "$want" ]] && break
    sleep 0.1
  done
  [[ "$n" -eq "$want" ]] || fail "expected $want workers, got $n"
}
