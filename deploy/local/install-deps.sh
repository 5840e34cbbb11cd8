#!/usr/bin/env bash
# Installs the Debian 12 packages weir needs to build, run and test.
# Idempotent and quick when everything is already there. Needs root (or sudo).
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build ccache pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librocksdb-dev librdkafka-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  libsimdjson-dev libcli11-dev libpq-dev libavro-dev libprotoc-dev libssl-dev
  libcurl4-openssl-dev libcpp-httplib-dev libre2-dev libabsl-dev tzdata
)
TEST_PKGS=(
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  kcat python3 python3-kafka python3-avro python3-protobuf python3-grpcio postgresql
  python3-confluent-kafka python3-requests
  prometheus iproute2 openssl socat
)

want=("${BUILD_PKGS[@]}")
if [[ "${1:-}" == "--test" ]]; then
  want+=("${TEST_PKGS[@]}")
  # tests/k8s/validate.sh: kubectl (kustomize) and node/npm. Some machine
  # images ship their own kubectl, or a NodeSource nodejs that bundles npm
  # and conflicts with Debian's npm: install only what is missing.
  command -v kubectl >/dev/null || want+=(kubernetes-client)
  command -v node >/dev/null || want+=(nodejs)
  command -v npm >/dev/null || want+=(npm)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then exit 0; fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "weir: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
