#!/usr/bin/env python3
"""State growth (issue 6, item 5): a keyed running count (`reduce`) over
--keys distinct keys (default 10 k, 1 M and 10 M) of --events generated rows,
state in RocksDB, through `weir local`. With many keys the state outgrows
the block cache (256 MiB) and the memtables, so reads go to SST files.
Rounds interleave the key counts; prints the medians of events/s by wall
and per CPU second, the state's size on disk, and the ratio of the largest
key count's throughput to the smallest's (target >= 0.5).

Usage: state_growth.py --build-dir build-bench [--events N] [--keys 10000,...]
                       [--runs R] [--out FILE]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time

from benchlib import children_cpu

JOB = """name: state-growth
# RocksDB state (a job without checkpoints keeps state in memory); no
# checkpoint is taken in a run this short.
checkpoint: {mode: at_least_once, interval: 1h}
sources:
  rows:
    type: datagen
    events: %(events)d
    seed: 7
    schema: {a: bigint, b: bigint, c: bigint}
operators:
  - name: keyed
    from: rows
    map: {k: "(a * 1000000 + b * 1000 + c) %% %(keys)d"}
  - name: counts
    from: keyed
    key_by: [k]
    reduce: {n: count()}
sinks:
  out: {from: counts, type: blackhole}
"""


def dir_size(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--events", type=int, default=20_000_000)
    ap.add_argument("--keys", default="10000,1000000,10000000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    weir = os.path.join(os.path.abspath(args.build_dir), "weir")
    keys = [int(k) for k in args.keys.split(",")]
    work = tempfile.mkdtemp(prefix="weir-state-growth.")
    results = {k: [] for k in keys}
    try:
        for r in range(args.runs):
            for k in keys:
                job = os.path.join(work, "job-%d.yaml" % k)
                with open(job, "w") as f:
                    f.write(JOB % {"events": args.events, "keys": k})
                state = os.path.join(work, "state")
                shutil.rmtree(state, ignore_errors=True)
                cpu0, t0 = children_cpu(), time.monotonic()
                # The state stays on disk after the run for its size; weir local
                # keeps it under --state-dir.
                p = subprocess.run([weir, "-q", "local", job, "--state-dir", state],
                                   capture_output=True, text=True, timeout=3600)
                wall, cpu = time.monotonic() - t0, children_cpu() - cpu0
                if p.returncode != 0:
                    raise SystemExit("keys %d: weir local exited %d: %s" %
                                     (k, p.returncode, p.stderr[-500:]))
                m = re.search(r"([0-9,]+) records in", p.stderr)
                if m and int(m.group(1).replace(",", "")) != args.events:
                    raise SystemExit("keys %d: %s records, not %d" % (k, m.group(1), args.events))
                size = dir_size(state)
                results[k].append({"wall_s": wall, "cpu_s": cpu, "state_bytes": size})
                print("round %d, %d keys: %.1f s wall, %.1f s cpu, state %.0f MB on disk" %
                      (r + 1, k, wall, cpu, size / 1e6), flush=True)
        print("\n%12s %14s %14s %14s %12s" % ("keys", "events/s", "events/s/cpu", "state MB",
                                               "vs fewest"))
        summary = {}
        base = None
        for k in keys:
            w = statistics.median(x["wall_s"] for x in results[k])
            c = statistics.median(x["cpu_s"] for x in results[k])
            s = statistics.median(x["state_bytes"] for x in results[k])
            summary[k] = {"events_per_s": args.events / w, "events_per_cpu_s": args.events / c,
                          "state_bytes": s}
            if base is None:
                base = summary[k]["events_per_cpu_s"]
            print("%12d %14.0f %14.0f %14.0f %12.2f" %
                  (k, args.events / w, args.events / c, s / 1e6,
                   summary[k]["events_per_cpu_s"] / base))
        out = args.out or os.path.join(os.path.abspath(args.build_dir), "state_growth.json")
        with open(out, "w") as f:
            json.dump({"events": args.events, "runs": {str(k): v for k, v in results.items()},
                       "medians": {str(k): v for k, v in summary.items()}}, f, indent=2)
        print("\nresults: %s" % out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
