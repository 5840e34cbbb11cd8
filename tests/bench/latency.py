#!/usr/bin/env python3
"""Latency from event creation to sink (issue 6, item 4).

weir_kafka_latency produces JSON records stamped with their creation time
(wall clock, microseconds) to a dev-broker topic at --rate records per
second; `weir local` runs a filter/map job from that topic to another
(checkpoints every --interval); the same tool reads the output topic
(read_committed) and takes each record's arrival time minus its creation
time. At-least-once shows the engine's own latency; exactly-once adds the
wait for the checkpoint whose transaction holds the record (bounded by the
interval plus the commit). Prints p50/p90/p99/max per mode, medians over
--runs.

Usage: latency.py --build-dir build-bench [--rate N] [--seconds S]
                  [--interval 1s] [--runs R] [--out FILE]
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time

from benchlib import start_dev_broker, stop

JOB = """name: latency-%(mode_name)s
checkpoint: {mode: %(mode)s, interval: %(interval)s}
sources:
  in:
    type: kafka
    brokers: %(b)s
    topic: %(in)s
    start: earliest
    format: json
    schema: {id: bigint, created_us: bigint}
    properties: {fetch.wait.max.ms: "5"}
operators:
  - {name: valid, from: in, filter: "id >= 0 and created_us > 0"}
  - name: shaped
    from: valid
    map: {id: id, created_us: created_us}
sinks:
  out:
    from: shaped
    type: kafka
    brokers: %(b)s
    topic: %(out)s
    format: json
    delivery: %(mode)s
    properties: {linger.ms: "1"}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--rate", type=int, default=100_000, help="records per second")
    ap.add_argument("--seconds", type=float, default=12)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--interval", default="1s", help="checkpoint interval")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    build = os.path.abspath(args.build_dir)
    weir = os.path.join(build, "weir")
    tool = os.path.join(build, "weir_kafka_latency")
    work = tempfile.mkdtemp(prefix="weir-latency.")
    broker = None
    modes = ["at_least_once", "exactly_once"]
    results = {m: [] for m in modes}
    try:
        topics = []
        for r in range(args.runs):
            for m in modes:
                topics += ["in-%s-%d:4" % (m, r), "out-%s-%d:4" % (m, r)]
        broker, bootstrap = start_dev_broker(build, work, topics)
        for r in range(args.runs):
            for m in modes:
                job = os.path.join(work, "job-%s-%d.yaml" % (m, r))
                with open(job, "w") as f:
                    f.write(JOB % {"mode": m, "mode_name": m.replace("_", "-"), "b": bootstrap,
                                   "in": "in-%s-%d" % (m, r), "out": "out-%s-%d" % (m, r),
                                   "interval": args.interval})
                log = open(os.path.join(work, "weir-%s-%d.log" % (m, r)), "w")
                proc = subprocess.Popen([weir, "local", job, "--state-dir",
                                         os.path.join(work, "state-%s-%d" % (m, r))],
                                        stdout=subprocess.DEVNULL, stderr=log)
                time.sleep(3)  # the job starts and its source is assigned
                t = subprocess.run([tool, bootstrap, "in-%s-%d" % (m, r), "out-%s-%d" % (m, r),
                                    str(args.rate), str(args.seconds), str(args.warmup)],
                                   capture_output=True, text=True)
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                got = dict(re.findall(r"(\w+) ([0-9.-]+)", t.stdout))
                if t.returncode != 0 or not got:
                    raise SystemExit("%s: the latency tool failed (%d): %s %s" %
                                     (m, t.returncode, t.stdout, t.stderr))
                results[m].append({k: float(v) for k, v in got.items()})
                print("round %d %-14s p50 %6.2f ms  p90 %6.2f ms  p99 %7.2f ms  max %7.2f ms" %
                      (r + 1, m, results[m][-1]["p50_ms"], results[m][-1]["p90_ms"],
                       results[m][-1]["p99_ms"], results[m][-1]["max_ms"]), flush=True)
        print("\nmedians at %d records/s, checkpoints every %s:" % (args.rate, args.interval))
        summary = {}
        for m in modes:
            summary[m] = {k: statistics.median(x[k] for x in results[m])
                          for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")}
            print("%-14s p50 %6.2f ms  p90 %6.2f ms  p99 %7.2f ms  max %7.2f ms" %
                  (m, summary[m]["p50_ms"], summary[m]["p90_ms"], summary[m]["p99_ms"],
                   summary[m]["max_ms"]))
        out = args.out or os.path.join(build, "latency.json")
        with open(out, "w") as f:
            json.dump({"rate": args.rate, "interval": args.interval, "runs": results,
                       "medians": summary}, f, indent=2)
        print("\nresults: %s" % out)
    finally:
        stop(broker)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
