#!/usr/bin/env bash
# Validates deploy/k8s and deploy/docker offline (ctest: k8s_manifests_test).
#
#   tests/k8s/validate.sh [--bin-dir DIR | --coordinator BIN --worker BIN --cli BIN]
#
# 1. Renders the base and every overlay in deploy/k8s/overlays with
#    `kubectl kustomize` and validates every object against the Kubernetes
#    schemas of the npm package kubernetes-models, rejecting unknown fields,
#    plus consistency checks (tests/k8s/validate-manifests.js).
# 2. Negative case: tests/k8s/fixtures/typo-overlay (typo'd fields, a wrong
#    type) must be rejected with exactly the problems in its expected.txt.
# 3. With the binaries (--bin-dir: the build tree holding weir-coordinator,
#    weir-worker and weir; ctest passes each one): every rendered weir-config
#    ConfigMap is accepted by the real binaries (each starts on loopback with
#    it and is stopped), and the runtime stage of deploy/docker/Dockerfile
#    installs the Debian package of every shared library the binaries need.
#
# Needs kubectl (Debian: kubernetes-client), node and npm. The npm packages
# pinned in tests/k8s/package-lock.json are installed with `npm ci` into
# WEIR_K8S_NODE_DIR (default tests/k8s; ctest uses the build tree) when
# missing or out of date: that needs the npm registry once. KUBECTL overrides
# the kubectl used.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
coordinator="" worker="" cli=""
usage() { echo "usage: $0 [--bin-dir DIR | --coordinator BIN --worker BIN --cli BIN]" >&2; exit 2; }
while (($#)); do
  [[ $# -ge 2 ]] || usage
  case "$1" in
    --bin-dir) coordinator="$2/weir-coordinator" worker="$2/weir-worker" cli="$2/weir" ;;
    --coordinator) coordinator="$2" ;;
    --worker) worker="$2" ;;
    --cli) cli="$2" ;;
    *) usage ;;
  esac
  shift 2
done
if [[ -n "$coordinator$worker$cli" && ( -z "$coordinator" || -z "$worker" || -z "$cli" ) ]]; then usage; fi

passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
die() { echo "FAIL: $*"; echo "$passed passed, $((failed + 1)) failed"; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/weir-k8s.XXXXXX")"
running=""  # the pid of the process start_and_stop runs, while it runs
cleanup() {
  if [[ -n "$running" ]]; then kill -KILL "$running" 2>/dev/null; wait "$running" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- tools -------------------------------------------------------------------
kubectl="${KUBECTL:-kubectl}"
command -v "$kubectl" >/dev/null ||
  die "kubectl not found: install Debian's kubernetes-client (deploy/local/install-deps.sh --test)"
command -v node >/dev/null ||
  die "node not found: install Debian's nodejs (deploy/local/install-deps.sh --test)"
command -v npm >/dev/null ||
  die "npm not found: install Debian's npm (deploy/local/install-deps.sh --test)"
echo "kubectl: $("$kubectl" version --client 2>&1 | head -n 2 | tr '\n' ' ')"
echo "node: $(node --version)"

# --- npm packages (pinned by package-lock.json) ------------------------------
node_dir="${WEIR_K8S_NODE_DIR:-$here}"
mkdir -p "$node_dir"
if [[ ! -d "$node_dir/node_modules" ]] || ! cmp -s "$here/package-lock.json" "$node_dir/node_modules/.weir-lock"; then
  if [[ "$node_dir" != "$here" ]]; then cp "$here/package.json" "$here/package-lock.json" "$node_dir/"; fi
  echo "installing the npm packages of tests/k8s/package-lock.json into $node_dir (npm ci)"
  if ! (cd "$node_dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >"$work/npm.log" 2>&1); then
    cat "$work/npm.log" >&2
    die "npm ci failed in $node_dir: the npm registry is needed once to install tests/k8s/package-lock.json"
  fi
  cp "$here/package-lock.json" "$node_dir/node_modules/.weir-lock"
fi
export NODE_PATH="$node_dir/node_modules"
validator=(node "$here/validate-manifests.js")

# --- 1. render and validate the base and every overlay ------------------------
targets=("$root/deploy/k8s/base")
for k in "$root"/deploy/k8s/overlays/*/kustomization.yaml; do
  [[ -f "$k" ]] && targets+=("$(dirname "$k")")
done
for want in dev prod; do
  [[ -f "$root/deploy/k8s/overlays/$want/kustomization.yaml" ]] || fail "overlay $want is missing"
done
rendered=()
for t in "${targets[@]}"; do
  name="$(basename "$t")"
  out="$work/rendered/$name.yaml"
  mkdir -p "$work/rendered"
  if "$kubectl" kustomize "$t" >"$out" 2>"$work/kustomize-$name.err"; then
    rendered+=("$out")
  else
    cat "$work/kustomize-$name.err"
    fail "kubectl kustomize ${t#"$root"/}"
  fi
done
for f in "${rendered[@]}"; do
  name="$(basename "$f" .yaml)"
  if "${validator[@]}" --configs-to "$work/configs" "$f"; then
    pass "deploy/k8s $name: rendered objects valid"
  else
    fail "deploy/k8s $name: rendered objects invalid (above)"
  fi
done

# --- 2. the negative case: a typo'd manifest must be rejected -----------------
fixture="$here/fixtures/typo-overlay"
if "$kubectl" kustomize "$fixture" >"$work/typo.yaml" 2>"$work/typo.err"; then
  "${validator[@]}" "$work/typo.yaml" >"$work/typo.out" 2>&1
  rc=$?
  sed "s|^$work/typo.yaml: ||" "$work/typo.out" | sort >"$work/typo.got"
  sort "$fixture/expected.txt" >"$work/typo.want"
  if [[ $rc -eq 1 ]] && cmp -s "$work/typo.got" "$work/typo.want"; then
    pass "negative case: typo'd fields and a wrong type are rejected"
  else
    echo "exit status $rc (want 1); problems reported (-) versus expected (+):"
    diff "$work/typo.got" "$work/typo.want"
    fail "negative case: tests/k8s/fixtures/typo-overlay was not rejected as expected"
  fi
else
  cat "$work/typo.err"
  fail "kubectl kustomize tests/k8s/fixtures/typo-overlay"
fi

# --- 3. against the built binaries -------------------------------------------
# Starts "$@" with its stderr in $log and waits until $ready appears in it;
# fails if the process exits first or nothing appears within 20 s. Then stops
# it with SIGTERM (SIGKILL after 10 s).
start_and_stop() {
  local what="$1" ready="$2" log="$3"
  shift 3
  "$@" 2>"$log" >/dev/null &
  local pid=$! ok=0
  running=$pid
  for _ in $(seq 200); do
    if grep -qs "$ready" "$log"; then ok=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$pid" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  running=""
  if ((ok)); then
    pass "$what"
  else
    sed 's/^/    /' "$log"
    fail "$what: did not start (log above)"
  fi
}

if [[ -z "$coordinator" ]]; then
  echo "NOT CHECKED: config files against the binaries and the image's runtime packages (pass --bin-dir BUILD_DIR; ctest passes the binaries)"
else
  for b in "$coordinator" "$worker" "$cli"; do
    [[ -x "$b" ]] || die "$b is not an executable: build weir first"
  done

  # 3a. Each rendering's settings files start the real processes (on
  # loopback, free ports, data in the scratch directory). Binaries that serve
  # /metrics get a free port for it too rather than the default 9249/9250.
  coordinator_extra=() worker_extra=()
  grep -q -- --metrics-port <<<"$("$coordinator" --help 2>&1)" && coordinator_extra=(--metrics-port=0)
  grep -q -- --metrics-port <<<"$("$worker" --help 2>&1)" && worker_extra=(--metrics-port=0)
  for d in "$work"/configs/*/weir-config-*; do
    [[ -d "$d" ]] || continue
    name="$(basename "$(dirname "$d")")"
    if [[ ! -f "$d/coordinator.yaml" || ! -f "$d/worker.yaml" ]]; then
      fail "$name: weir-config lacks coordinator.yaml or worker.yaml"
      continue
    fi
    start_and_stop "$name: weir-coordinator starts with its coordinator.yaml" "serving on port" \
      "$work/$name-coordinator.log" \
      "$coordinator" --config "$d/coordinator.yaml" --port 0 --data-dir "$work/$name-coordinator" \
      "${coordinator_extra[@]}"
    # The worker serves its exchange before it reaches the coordinator, so
    # none is needed to check that its settings are accepted.
    start_and_stop "$name: weir-worker starts with its worker.yaml" "serving the exchange" \
      "$work/$name-worker.log" \
      "$worker" --config "$d/worker.yaml" --port 0 --data-dir "$work/$name-worker" \
      --coordinator 127.0.0.1:1 --advertise 127.0.0.1 --id check "${worker_extra[@]}"
  done
  ls "$work"/configs/*/weir-config-* >/dev/null 2>&1 || fail "no rendering has a weir-config ConfigMap"

  # 3b. The Dockerfile's runtime stage installs the package of every shared
  # library the three binaries need (libc6, libgcc-s1 and libstdc++6 are in
  # debian:bookworm-slim).
  dockerfile="$root/deploy/docker/Dockerfile"
  runtime_pkgs="$(awk '/^FROM .* AS runtime/{r=1} r' "$dockerfile" |
    sed -e ':a' -e '/\\$/N; s/\\\n//; ta' |
    grep -m1 'apt-get install' |
    sed -e 's/.*--no-install-recommends//' -e 's/&&.*//' | tr -s ' ' '\n' | grep -v '^$' | sort -u)"
  if [[ -z "$runtime_pkgs" ]]; then
    fail "deploy/docker/Dockerfile: no apt-get install --no-install-recommends in the runtime stage"
  else
    missing=""
    for b in "$coordinator" "$worker" "$cli"; do
      ldd_out="$(ldd "$b")"
      for lib in $(readelf -d "$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        file="$(awk -v l="$lib" '$1 == l && $2 == "=>" {print $3}' <<<"$ldd_out")"
        pkg=""
        if [[ "$file" == /* ]]; then
          # dpkg knows a file by the path its package ships (/lib or /usr/lib).
          for cand in "$file" "$(readlink -f "$file")" "/usr$file" "${file#/usr}"; do
            pkg="$(dpkg -S "$cand" 2>/dev/null | head -n 1 | cut -d: -f1)"
            [[ -n "$pkg" ]] && break
          done
        fi
        case "$pkg" in
          libc6 | libgcc-s1 | libstdc++6) continue ;;
          "") missing+=" $lib(not-from-a-Debian-package:${file:-not-found})" ;;
          *) grep -qx "$pkg" <<<"$runtime_pkgs" || missing+=" $pkg(for-$lib-of-$(basename "$b"))" ;;
        esac
      done
    done
    if [[ -z "$missing" ]]; then
      pass "deploy/docker/Dockerfile runtime stage installs every library the binaries link"
    else
      fail "deploy/docker/Dockerfile runtime stage lacks:$(tr ' ' '\n' <<<"$missing" | sort -u | tr '\n' ' ')"
    fi
  fi
fi

echo "$passed passed, $failed failed"
((failed == 0))
