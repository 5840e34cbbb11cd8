#!/usr/bin/env python3
"""Runs weir's benchmarks and summarises them; tests/bench/run.sh calls it
after building the Release tree (see docs/benchmarks.md).

- micro: weir_bench (Google Benchmark) with --benchmark_repetitions=RUNS;
  the medians Google Benchmark computes are reported, plus the RocksDB /
  memory ratios of the benchmarks that have both.
- nexmark: `weir local` on config/jobs/nexmark/QUERY.yaml for every query,
  parallelism and checkpoint setting, RUNS rounds. Each round runs every
  configuration once, so configurations compared with each other were
  measured side by side under the same background load. Per run: wall time
  (monotonic clock around the process) and CPU time (user + sys of the
  child, from getrusage(RUSAGE_CHILDREN) before and after). Reported: medians; events/s = events / wall;
  cores = CPU / wall; events/s per core = events / CPU seconds.

--state-cache-mb 0,64 runs every checkpointed configuration once per value of
WEIR_STATE_CACHE_MB (0: state calls go straight to RocksDB), side by side,
and reports the ratio of events/s per core with the cache to without.

"events" is NEXMARK_EVENTS: the generator's event numbers covered, all kinds
counted as Nexmark does, even when a source keeps one kind (`only: bid`
emits the 92 % of them that are bids).
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import NEXMARK_DIR, add_nexmark_args, children_cpu, nexmark_job_text


def machine_info():
    info = {"nproc": os.cpu_count(), "kernel": platform.release()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    info["mem_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                    break
    except OSError:
        pass
    info["loadavg_at_start"] = os.getloadavg()[0]
    return info


def fmt_rate(x):
    if x is None:
        return "-"
    if x >= 1e6:
        return "%.2f M" % (x / 1e6)
    if x >= 1e3:
        return "%.1f k" % (x / 1e3)
    return "%.0f" % x


def print_table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(headers)]
    line = "  ".join(str(h).ljust(w) for h, w in zip(headers, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    print()


# ---------------------------------------------------------------- micro

def run_micro(args):
    out = os.path.join(args.build_dir, "micro.json")
    cmd = [os.path.join(args.build_dir, "weir_bench"),
           "--benchmark_repetitions=%d" % args.runs,
           "--benchmark_report_aggregates_only=true",
           "--benchmark_out=" + out, "--benchmark_out_format=json"]
    if args.micro_filter:
        cmd.append("--benchmark_filter=" + args.micro_filter)
    if args.min_time:
        cmd.append("--benchmark_min_time=%s" % args.min_time)
    env = dict(os.environ, TMPDIR=args.build_dir)
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    with open(out) as f:
        data = json.load(f)
    results = []
    for b in data["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        name = b["run_name"]
        results.append({
            "name": name,
            "label": b.get("label", ""),
            "time": b["real_time"], "time_unit": b.get("time_unit", "ns"),
            "items_per_second": b.get("items_per_second"),
        })
    by_name = {r["name"]: r for r in results}
    # rocksdb:1 is RocksDB itself (written through), rocksdb:2 (windows) the
    # same behind the task's write-back cache; rocksdb:0 the memory backend.
    ratios = []
    for r in results:
        for mine, base, what in (("rocksdb:1", "rocksdb:0", "rocksdb/memory"),
                                 ("rocksdb:2", "rocksdb:0", "rocksdb+cache/memory"),
                                 ("rocksdb:2", "rocksdb:1", "rocksdb+cache/rocksdb")):
            if mine not in r["name"]:
                continue
            other = by_name.get(r["name"].replace(mine, base))
            if other and other.get("items_per_second") and r.get("items_per_second"):
                ratios.append({"what": r["name"].replace(mine, what),
                               "ratio": r["items_per_second"] / other["items_per_second"]})
    print("Micro-benchmarks (median of %d repetitions)" % args.runs)
    print_table(["benchmark", "label", "time/iter", "items/s"],
                [[r["name"], r["label"], "%.0f %s" % (r["time"], r["time_unit"]),
                  fmt_rate(r["items_per_second"])] for r in results])
    if ratios:
        print("RocksDB / memory backend, RocksDB with / without the task cache (items/s)")
        print_table(["benchmark", "ratio"], [[x["what"], "%.2f" % x["ratio"]] for x in ratios])
    return {"runs": args.runs, "results": results, "rocksdb_vs_memory": ratios,
            "raw": os.path.relpath(out, args.build_dir)}


# ---------------------------------------------------------------- nexmark

def job_file(query, checkpoint, tmp):
    """The job file to run: the original, or a copy whose checkpoint block is
    replaced by exactly-once checkpoints every `checkpoint`."""
    if checkpoint == "none":
        return os.path.join(NEXMARK_DIR, query + ".yaml")
    text = nexmark_job_text(query, checkpoint)
    dst = os.path.join(tmp, "%s-chk-%s.yaml" % (query, checkpoint))
    with open(dst, "w") as f:
        f.write(text)
    return dst


def run_once(weir, job, parallelism, events, state_dir, timeout, state_cache_mb=None):
    env = dict(os.environ, NEXMARK_EVENTS=str(events), PARALLELISM=str(parallelism))
    if state_cache_mb is not None:
        env["WEIR_STATE_CACHE_MB"] = str(state_cache_mb)
    cmd = [weir, "-q", "local", job, "--state-dir", state_dir]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"error": "timed out after %d s" % timeout}
    wall = time.monotonic() - t0
    # The child's CPU time: the caller reads RUSAGE_CHILDREN before and after
    # (communicate() has reaped it, so it is counted there now).
    err = err.decode(errors="replace")
    if proc.returncode != 0:
        return {"error": "exit %d: %s" % (proc.returncode, err.strip()[-500:])}
    m = re.search(r"finished in [0-9.]+s: ([0-9,]+) records in, ([0-9,]+) out", err)
    res = {"wall_s": wall}
    if m:
        res["records_in"] = int(m.group(1).replace(",", ""))
        res["records_out"] = int(m.group(2).replace(",", ""))
    return res


def cache_label(state_cache_mb):
    return "" if state_cache_mb is None else " cache=%dM" % state_cache_mb


def run_nexmark(args):
    weir = os.path.join(args.build_dir, "weir")
    # The state cache only matters with checkpoints (RocksDB state).
    configs = [(q, p, c, sc) for q in args.queries for p in args.parallelism
               for c in args.checkpoints
               for sc in (args.state_cache_mb if c != "none" else [None])]
    samples = {cfg: [] for cfg in configs}
    errors = {}
    tmp = tempfile.mkdtemp(prefix="nexmark-", dir=args.build_dir)
    try:
        jobs = {(q, c): job_file(q, c, tmp) for q in args.queries for c in args.checkpoints}
        for rnd in range(args.runs):
            for cfg in configs:
                q, p, c, sc = cfg
                if cfg in errors:
                    continue
                state_dir = os.path.join(tmp, "state")
                shutil.rmtree(state_dir, ignore_errors=True)
                cpu0 = children_cpu()
                r = run_once(weir, jobs[(q, c)], p, args.events, state_dir, args.timeout, sc)
                r["cpu_s"] = children_cpu() - cpu0
                shutil.rmtree(state_dir, ignore_errors=True)
                if "error" in r:
                    errors[cfg] = r["error"]
                    print("  %s p=%d checkpoint=%s%s: FAILED: %s"
                          % (q, p, c, cache_label(sc), r["error"]), flush=True)
                    continue
                samples[cfg].append(r)
                print("  round %d/%d %-4s p=%d checkpoint=%-4s%s wall %6.2fs cpu %6.2fs  "
                      "%s ev/s/core" % (rnd + 1, args.runs, q, p, c, cache_label(sc), r["wall_s"],
                                        r["cpu_s"], fmt_rate(args.events / r["cpu_s"])),
                      flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    results = []
    for cfg in configs:
        q, p, c, sc = cfg
        s = samples[cfg]
        if not s:
            results.append({"query": q, "parallelism": p, "checkpoint": c, "state_cache_mb": sc,
                            "error": errors.get(cfg, "no runs")})
            continue
        wall = statistics.median(x["wall_s"] for x in s)
        cpu = statistics.median(x["cpu_s"] for x in s)
        results.append({
            "query": q, "parallelism": p, "checkpoint": c, "state_cache_mb": sc,
            "events": args.events,
            "runs": len(s), "wall_s_median": wall, "cpu_s_median": cpu,
            "cores_used": cpu / wall,
            "events_per_s": args.events / wall,
            "events_per_s_per_core": args.events / cpu,
            "records_in": s[0].get("records_in"), "records_out": s[0].get("records_out"),
            "samples": [{"wall_s": x["wall_s"], "cpu_s": x["cpu_s"]} for x in s],
            "error": errors.get(cfg),
        })

    by = {(r["query"], r["parallelism"], r["checkpoint"], r["state_cache_mb"]): r
          for r in results}
    for r in results:
        if "events_per_s" not in r:
            continue
        base = by.get((r["query"], r["parallelism"], "none", None))
        if r["checkpoint"] != "none" and base and "events_per_s" in base:
            r["vs_no_checkpoint"] = r["events_per_s"] / base["events_per_s"]
        p1 = by.get((r["query"], 1, r["checkpoint"], r["state_cache_mb"]))
        if r["parallelism"] != 1 and p1 and "events_per_s" in p1:
            r["speedup_vs_p1"] = r["events_per_s"] / p1["events_per_s"]
        if r["state_cache_mb"] not in (None, 0):
            off = by.get((r["query"], r["parallelism"], r["checkpoint"], 0))
            if off and "events_per_s_per_core" in off:
                r["vs_no_state_cache"] = (r["events_per_s_per_core"]
                                          / off["events_per_s_per_core"])

    print("Nexmark, %d events per run, median of %d runs (ev/s/core = events / CPU seconds)"
          % (args.events, args.runs))
    rows = []
    for r in results:
        chk = r["checkpoint"] + cache_label(r["state_cache_mb"])
        if "events_per_s" not in r:
            rows.append([r["query"], r["parallelism"], chk, "FAILED", "", "", "",
                         "", "", "", ""])
            continue
        rows.append([r["query"], r["parallelism"], chk,
                     "%.2f" % r["wall_s_median"], "%.2f" % r["cpu_s_median"],
                     "%.2f" % r["cores_used"], fmt_rate(r["events_per_s"]),
                     fmt_rate(r["events_per_s_per_core"]),
                     "%.2f" % r["vs_no_checkpoint"] if "vs_no_checkpoint" in r else "",
                     "%.2f" % r["speedup_vs_p1"] if "speedup_vs_p1" in r else "",
                     "%.2f" % r["vs_no_state_cache"] if "vs_no_state_cache" in r else ""])
    print_table(["query", "p", "checkpoint", "wall s", "cpu s", "cores", "events/s",
                 "ev/s/core", "vs no chk", "vs p=1", "vs no cache"], rows)
    return {"events": args.events, "runs": args.runs, "results": results}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_nexmark_args(ap)
    ap.add_argument("--state-cache-mb", default="",
                    help="WEIR_STATE_CACHE_MB values for the checkpointed runs, e.g. 0,64 "
                         "(default: not set, the engine's default)")
    ap.add_argument("--micro-filter", default="", help="--benchmark_filter for weir_bench")
    ap.add_argument("--min-time", default="", help="--benchmark_min_time for weir_bench")
    ap.add_argument("--skip-micro", action="store_true")
    ap.add_argument("--skip-nexmark", action="store_true")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per Nexmark run")
    ap.add_argument("--out", default="", help="results file (default BUILD_DIR/results.json)")
    args = ap.parse_args()
    args.build_dir = os.path.abspath(args.build_dir)
    args.queries = [q for q in args.queries.split(",") if q]
    args.parallelism = [int(p) for p in args.parallelism.split(",") if p]
    args.checkpoints = [c for c in args.checkpoints.split(",") if c]
    args.state_cache_mb = ([int(x) for x in args.state_cache_mb.split(",") if x]
                           or [None])

    report = {"machine": machine_info(),
              "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    m = report["machine"]
    print("machine: %s, %s cores, %s GiB, load average %.2f at start\n"
          % (m.get("cpu", "?"), m["nproc"], m.get("mem_gib", "?"), m["loadavg_at_start"]))
    if not args.skip_micro:
        report["micro"] = run_micro(args)
    if not args.skip_nexmark:
        report["nexmark"] = run_nexmark(args)
    report["loadavg_at_end"] = os.getloadavg()[0]
    out = args.out or os.path.join(args.build_dir, "results.json")
    with open(out, "w") as f:
        json.dump(report, f, indent=2)
    print("results: " + out)
    failed = [r for r in report.get("nexmark", {}).get("results", []) if r.get("error")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
