#!/usr/bin/env python3
"""Nexmark on the distributed runtime: a weir-coordinator and two
weir-workers of one slot each (deploy/local/cluster.sh), every query
submitted with `weir submit --wait` at parallelism 1 (one worker does it
all) and 2 (one subtask per worker: hash edges cross the gRPC exchange),
with checkpoints off and every second, several interleaved rounds, medians
(docs/benchmarks.md).

Per run: wall time of `submit --wait` (validation, scheduling, deployment
and the final checkpoint included) and the CPU time (user + system, from
/proc/PID/stat) that the coordinator and both workers used meanwhile;
events/s per core = events / those CPU seconds, as bench.py counts for
`weir local`. The job files are config/jobs/nexmark/QUERY.yaml with their
${PARALLELISM} and ${NEXMARK_EVENTS} filled in here (the CLI would
substitute them from its environment just the same).

    python3 tests/bench/cluster_nexmark.py --build-dir build-bench \
        [--runs 3] [--events 2000000] [--queries q0,q5] [--out FILE]
"""
import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import ROOT, add_nexmark_args, nexmark_job_text

CLUSTER = os.path.join(ROOT, "deploy", "local", "cluster.sh")
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pids):
    total = 0.0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
    return total


def job_text(query, parallelism, events, checkpoint):
    text = nexmark_job_text(query, checkpoint)
    text = re.sub(r"\$\{PARALLELISM(:-[^}]*)?\}", str(parallelism), text)
    return re.sub(r"\$\{NEXMARK_EVENTS(:-[^}]*)?\}", str(events), text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_nexmark_args(ap)
    ap.add_argument("--timeout", type=int, default=900, help="seconds per run")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    build = os.path.abspath(args.build_dir)
    weir = os.path.join(build, "weir")
    queries = args.queries.split(",")
    pars = [int(p) for p in args.parallelism.split(",")]
    chks = args.checkpoints.split(",")
    configs = [(q, p, c) for q in queries for p in pars for c in chks]

    work = tempfile.mkdtemp(prefix="cluster-nexmark-", dir=build)
    cdir = os.path.join(work, "cluster")
    env = dict(os.environ, WEIR_BIN_DIR=build)
    port = free_port()
    subprocess.run(["bash", CLUSTER, "start", cdir, "--workers", "2", "--slots", "1",
                    "--port", str(port)], env=env, check=True, stdout=subprocess.DEVNULL)
    samples = {cfg: [] for cfg in configs}
    errors = {}
    try:
        pids = [int(open(os.path.join(cdir, f)).read())
                for f in ("coordinator.pid", "worker-1.pid", "worker-2.pid")]
        for rnd in range(args.runs):
            for cfg in configs:
                if cfg in errors:
                    continue
                q, p, c = cfg
                job = os.path.join(work, "%s.yaml" % q)
                with open(job, "w") as f:
                    f.write(job_text(q, p, args.events, c))
                cpu0 = cpu_seconds(pids)
                t0 = time.monotonic()
                proc = subprocess.run([weir, "--addr", "127.0.0.1:%d" % port, "submit", job,
                                       "--wait"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, timeout=args.timeout)
                wall = time.monotonic() - t0
                cpu = cpu_seconds(pids) - cpu0
                if proc.returncode != 0:
                    errors[cfg] = "exit %d: %s" % (proc.returncode,
                                                   proc.stderr.decode(errors="replace")[-300:])
                    print("  %s p=%d checkpoint=%s: FAILED: %s" % (q, p, c, errors[cfg]),
                          flush=True)
                    continue
                samples[cfg].append({"wall_s": wall, "cpu_s": cpu})
                print("  round %d/%d %-4s p=%d checkpoint=%-4s wall %6.2fs cpu %6.2fs  %.0f ev/s/core"
                      % (rnd + 1, args.runs, q, p, c, wall, cpu, args.events / cpu), flush=True)
    finally:
        subprocess.run(["bash", CLUSTER, "stop", cdir], env=env, stdout=subprocess.DEVNULL)

    results = []
    print("Nexmark on a coordinator and 2 workers, %d events per run, medians of %d runs"
          % (args.events, args.runs))
    print("%-5s %2s %-5s %8s %8s %6s %12s %12s" % ("query", "p", "chk", "wall s", "cpu s",
                                                    "cores", "events/s", "ev/s/core"))
    for cfg in configs:
        q, p, c = cfg
        s = samples[cfg]
        if not s:
            results.append({"query": q, "parallelism": p, "checkpoint": c,
                            "error": errors.get(cfg, "no runs")})
            print("%-5s %2d %-5s FAILED" % (q, p, c))
            continue
        wall = statistics.median(x["wall_s"] for x in s)
        cpu = statistics.median(x["cpu_s"] for x in s)
        r = {"query": q, "parallelism": p, "checkpoint": c, "events": args.events,
             "runs": len(s), "wall_s_median": wall, "cpu_s_median": cpu,
             "cores_used": cpu / wall, "events_per_s": args.events / wall,
             "events_per_s_per_core": args.events / cpu, "samples": s}
        results.append(r)
        print("%-5s %2d %-5s %8.2f %8.2f %6.2f %12.0f %12.0f" % (
            q, p, c, wall, cpu, cpu / wall, r["events_per_s"], r["events_per_s_per_core"]))
    out = args.out or os.path.join(build, "cluster_nexmark.json")
    with open(out, "w") as f:
        json.dump({"events": args.events, "runs": args.runs, "results": results}, f, indent=1)
    print("results: %s" % out)
    subprocess.run(["rm", "-rf", work])
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
