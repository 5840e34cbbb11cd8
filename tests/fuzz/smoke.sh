#!/usr/bin/env bash
# Runs one libFuzzer target for a few seconds from its seed corpus.
# usage: smoke.sh BINARY SECONDS WORKDIR [SEED_CORPUS_DIR]
set -euo pipefail
bin="$1" seconds="$2" work="$3" seeds="${4:-}"
mkdir -p "$work"
dirs=("$work")
if [[ -n "$seeds" && -d "$seeds" ]]; then dirs+=("$seeds"); fi
exec "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${dirs[@]}"
