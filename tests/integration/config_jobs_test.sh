#!/usr/bin/env bash
# Runs every example job under config/jobs with `weir local` (small inputs)
# and checks each finishes cleanly and writes what it should.
# usage: config_jobs_test.sh WEIR_BINARY
set -euo pipefail
weir="$1"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
failed=0 passed=0
check() {  # name, expected minimum rows out, command...
  local name="$1" min_out="$2"; shift 2
  local err; err=$(mktemp)
  if ! out=$(timeout 120 "$@" 2>"$err"); then
    echo "FAIL $name: exit $?: $(tail -3 "$err")"; failed=$((failed + 1)); return
  fi
  local summary rows
  summary=$(grep "finished in" "$err" || true)
  rows=$(sed -n 's/.* records in, \([0-9,]*\) out.*/\1/p' <<<"$summary" | tr -d ,)
  if [[ -z "$rows" || "$rows" -lt "$min_out" ]]; then
    echo "FAIL $name: expected at least $min_out rows out: $summary"; failed=$((failed + 1)); return
  fi
  echo "ok   $name: $summary"; passed=$((passed + 1))
  rm -f "$err"
}
# The README's quickstart: 400 valid orders, 2 malformed skipped, JSON lines out.
check quickstart 1 "$weir" -q local config/jobs/quickstart.yaml --produce orders=config/jobs/data/orders.jsonl
qs=$("$weir" -q local config/jobs/quickstart.yaml --produce orders=config/jobs/data/orders.jsonl 2>&1 >/dev/null | grep finished)
grep -q "400 records in, 57 out, 2 malformed" <<<"$qs" || { echo "FAIL quickstart summary: $qs"; failed=$((failed + 1)); }
# The function library on an access log: 40 requests of 41 lines, keyed by
# a secret from the environment.
WEIR_EXAMPLE_KEY=example check "access log" 40 "$weir" -q local config/jobs/access_log.yaml
for q in q0 q1 q2 q5 q7 q8 q11; do
  NEXMARK_EVENTS=50000 PARALLELISM=2 check "nexmark $q" 1 "$weir" -q local "config/jobs/nexmark/$q.yaml"
done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
