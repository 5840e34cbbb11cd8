#!/usr/bin/env bash
# Integration test of weir-dev-broker against an independent Kafka client
# (kcat): startup and --address-file, --topic partition counts, a keyed
# produce/consume round trip, topic auto-creation, flag errors, and a clean
# exit on SIGTERM.
#
# Usage: dev_broker_test.sh PATH/TO/weir-dev-broker
# Exit status: 0 pass, 1 fail.
set -euo pipefail

readonly BROKER_BIN="${1:?usage: $0 PATH/TO/weir-dev-broker}"
readonly TOPIC="weir-dev-broker-test"
readonly PARTITIONS=3
readonly BROKERS=3
readonly MESSAGES=1000
readonly START_TIMEOUT_S=10
readonly STOP_TIMEOUT_S=10
readonly KCAT_TIMEOUT_S=30

fail() {
  echo "FAIL: $*" >&2
  if [[ -n "${work_dir:-}" && -s "${work_dir}/broker.err" ]]; then
    echo "--- broker stderr:" >&2
    cat "${work_dir}/broker.err" >&2
  fi
  exit 1
}

command -v kcat >/dev/null 2>&1 || fail "kcat is not installed (tests/run.sh installs it)"
[[ -x "${BROKER_BIN}" ]] || fail "${BROKER_BIN} is not an executable"

work_dir="$(mktemp -d "${TMPDIR:-/tmp}/weir-dev-broker-test.XXXXXX")"
broker_pid=""
cleanup() {
  if [[ -n "${broker_pid}" ]] && kill -0 "${broker_pid}" 2>/dev/null; then
    kill -KILL "${broker_pid}" 2>/dev/null || true
    wait "${broker_pid}" 2>/dev/null || true
  fi
  rm -rf "${work_dir}"
}
trap cleanup EXIT

# --- Flag errors: one line on stderr, exit 2, no broker started.
set +e
"${BROKER_BIN}" --no-such-flag >/dev/null 2>"${work_dir}/flag.err"
rc=$?
set -e
[[ ${rc} -eq 2 ]] || fail "an unknown flag exited ${rc}, want 2"
[[ $(wc -l <"${work_dir}/flag.err") -eq 1 ]] ||
  fail "an unknown flag printed other than one line on stderr: $(cat "${work_dir}/flag.err")"

# --- Start and wait (bounded) for the address file.
address_file="${work_dir}/address"
"${BROKER_BIN}" --brokers "${BROKERS}" --topic "${TOPIC}:${PARTITIONS}" --address-file "${address_file}" \
  >"${work_dir}/broker.out" 2>"${work_dir}/broker.err" &
broker_pid=$!

deadline=$((SECONDS + START_TIMEOUT_S))
until [[ -s "${address_file}" ]]; do
  kill -0 "${broker_pid}" 2>/dev/null || fail "the broker exited during startup"
  ((SECONDS < deadline)) || fail "no address file after ${START_TIMEOUT_S}s"
  sleep 0.1
done
bootstrap="$(cat "${address_file}")"
[[ "${bootstrap}" =~ ^127\.0\.0\.1:[0-9]+(,127\.0\.0\.1:[0-9]+){$((BROKERS - 1))}$ ]] ||
  fail "unexpected address \"${bootstrap}\" for ${BROKERS} brokers"
# stdout carries the same single line (printed and flushed at startup).
until [[ -s "${work_dir}/broker.out" ]]; do
  ((SECONDS < deadline)) || fail "nothing on the broker's stdout after ${START_TIMEOUT_S}s"
  sleep 0.1
done
[[ "$(cat "${work_dir}/broker.out")" == "${bootstrap}" ]] ||
  fail "stdout \"$(cat "${work_dir}/broker.out")\" differs from the address file \"${bootstrap}\""

kcat_() { timeout "${KCAT_TIMEOUT_S}" kcat -b "${bootstrap}" -q "$@"; }

# --- --topic created the topic with the requested partition count. (All
# topics are listed: asking for one by name could auto-create it.)
kcat_ -L >"${work_dir}/metadata" || fail "kcat -L failed"
grep -q "^ ${BROKERS} brokers:" "${work_dir}/metadata" ||
  fail "metadata does not list ${BROKERS} brokers: $(cat "${work_dir}/metadata")"
grep -q "topic \"${TOPIC}\" with ${PARTITIONS} partitions" "${work_dir}/metadata" ||
  fail "topic ${TOPIC} does not have ${PARTITIONS} partitions: $(cat "${work_dir}/metadata")"

# --- Keyed round trip.
for ((i = 0; i < MESSAGES; i++)); do
  printf 'key-%d\tvalue-%d\n' "${i}" "${i}"
done >"${work_dir}/sent"
kcat_ -P -t "${TOPIC}" -K $'\t' -X acks=all <"${work_dir}/sent" || fail "kcat -P failed"
kcat_ -C -t "${TOPIC}" -o beginning -e -f '%p\t%k\t%s\n' >"${work_dir}/received" ||
  fail "kcat -C failed"

cut -f2,3 "${work_dir}/received" | sort >"${work_dir}/received.sorted"
sort "${work_dir}/sent" >"${work_dir}/sent.sorted"
received_count=$(wc -l <"${work_dir}/received")
[[ ${received_count} -eq ${MESSAGES} ]] ||
  fail "consumed ${received_count} messages, produced ${MESSAGES}"
cmp -s "${work_dir}/sent.sorted" "${work_dir}/received.sorted" ||
  fail "consumed messages differ from the produced ones: $(diff "${work_dir}/sent.sorted" \
    "${work_dir}/received.sorted" | head -5)"
used_partitions=$(cut -f1 "${work_dir}/received" | sort -u | wc -l)
[[ ${used_partitions} -eq ${PARTITIONS} ]] ||
  fail "keyed messages landed in ${used_partitions} partitions, want ${PARTITIONS}"
keys_in_two_partitions=$(cut -f1,2 "${work_dir}/received" | sort -u | cut -f2 | sort | uniq -d |
  wc -l)
[[ ${keys_in_two_partitions} -eq 0 ]] || fail "${keys_in_two_partitions} keys in several partitions"

# --- A topic that was never created is auto-created on first produce.
printf 'a\nb\nc\n' | kcat_ -P -t weir-dev-broker-auto || fail "producing to a new topic failed"
kcat_ -C -t weir-dev-broker-auto -o beginning -e -f '%s\n' | sort >"${work_dir}/auto" ||
  fail "consuming the auto-created topic failed"
[[ "$(cat "${work_dir}/auto")" == $'a\nb\nc' ]] ||
  fail "auto-created topic returned \"$(cat "${work_dir}/auto")\""

# --- SIGTERM: exit 0 within the bound.
kill -TERM "${broker_pid}"
deadline=$((SECONDS + STOP_TIMEOUT_S))
while kill -0 "${broker_pid}" 2>/dev/null; do
  ((SECONDS < deadline)) || fail "the broker did not exit within ${STOP_TIMEOUT_S}s of SIGTERM"
  sleep 0.1
done
set +e
wait "${broker_pid}"
rc=$?
set -e
broker_pid=""
[[ ${rc} -eq 0 ]] || fail "the broker exited ${rc} after SIGTERM, want 0"

echo "PASS: weir-dev-broker (${MESSAGES} messages over ${PARTITIONS} partitions)"
