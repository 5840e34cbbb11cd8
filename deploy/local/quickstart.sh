#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run the
# quickstart job with `weir local` against the embedded development broker.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bash "$root/deploy/local/install-deps.sh"
bash "$root/deploy/local/build.sh" >/dev/null
cd "$root"
exec build/weir local config/jobs/quickstart.yaml --produce orders=config/jobs/data/orders.jsonl "$@"
