#!/usr/bin/env python3
"""Kafka end to end on the development broker (issue 6, item 3).

One topic of JSON records (--messages over --partitions, sized within the
dev broker's per-partition retention), read to its end offsets by:
  loop         weir_kafka_loop: a plain librdkafka consume-and-produce loop,
               the physical limit on this broker and machine;
  passthrough  `weir local`: kafka json source -> kafka json sink,
               at-least-once checkpoints every second;
  count        `weir local`: a keyed tumbling 1 s count over the same
               records -> kafka, at-least-once.
Each round runs the three side by side in turn (interleaved, so the shared
machine's noise spreads over all of them); the medians over --runs rounds
and the ratios to the loop are printed, by wall time and by CPU time.

Usage: kafka_e2e.py --build-dir build-bench [--messages N] [--partitions P]
                    [--runs R] [--out FILE]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import children_cpu, start_dev_broker, stop


def run(cmd, env=None, timeout=900):
    cpu0, t0 = children_cpu(), time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    wall, cpu = time.monotonic() - t0, children_cpu() - cpu0
    if r.returncode != 0:
        raise SystemExit("%s failed (%d):\n%s\n%s" % (cmd[0], r.returncode, r.stdout, r.stderr))
    return wall, cpu, r


PASSTHROUGH = """name: kafka-passthrough
checkpoint: {mode: at_least_once, interval: 1s}
sources:
  in:
    type: kafka
    brokers: %(b)s
    topic: in
    end: latest
    format: json
    schema: {user: string, amount: double, ts: timestamp}
sinks:
  out: {from: in, type: kafka, brokers: %(b)s, topic: %(out)s, format: json}
"""

COUNT = """name: kafka-count
checkpoint: {mode: at_least_once, interval: 1s}
sources:
  in:
    type: kafka
    brokers: %(b)s
    topic: in
    end: latest
    format: json
    schema: {user: string, amount: double, ts: timestamp}
    event_time: {field: ts, max_out_of_orderness: 1s}
operators:
  - name: per_user
    from: in
    key_by: [user]
    window: {tumbling: 1s}
    aggregate: {n: count(), total: sum(amount)}
sinks:
  out: {from: per_user, type: kafka, brokers: %(b)s, topic: %(out)s, format: json}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--messages", type=int, default=800_000)
    ap.add_argument("--partitions", type=int, default=16)
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    build = os.path.abspath(args.build_dir)
    weir = os.path.join(build, "weir")
    loop = os.path.join(build, "weir_kafka_loop")
    for b in (weir, loop, os.path.join(build, "weir-dev-broker")):
        if not os.path.exists(b):
            raise SystemExit("missing %s (tests/bench/run.sh builds it)" % b)
    work = tempfile.mkdtemp(prefix="weir-kafka-e2e.")
    broker = None
    try:
        topics = ["in:%d" % args.partitions]
        for r in range(args.runs):
            for kind in ("loop", "passthrough", "count"):
                topics.append("%s-%d:%d" % (kind, r, args.partitions))
        broker, bootstrap = start_dev_broker(build, work, topics)

        # Input: records round robin over the partitions, ~60 bytes each,
        # event time advancing 1 ms per record.
        files = [open(os.path.join(work, "in-%d.jsonl" % p), "w")
                 for p in range(args.partitions)]
        for i in range(args.messages):
            files[i % args.partitions].write(
                '{"user":"u%d","amount":%d.5,"ts":%d}\n'
                % (i * 7919 % args.users, i % 1000, 1_700_000_000_000 + i))
        for f in files:
            f.close()
        for p in range(args.partitions):
            subprocess.run(["kcat", "-P", "-b", bootstrap, "-t", "in", "-p", str(p), "-l",
                            os.path.join(work, "in-%d.jsonl" % p)], check=True)
        size = sum(os.path.getsize(f.name) for f in files)
        print("input: %d messages, %.1f MB, %d partitions" %
              (args.messages, size / 1e6, args.partitions))

        results = {"loop": [], "passthrough": [], "count": []}
        env = dict(os.environ)
        for r in range(args.runs):
            wall, cpu, out = run([loop, bootstrap, "in", "loop-%d" % r])
            n = int(re.search(r"messages (\d+)", out.stdout).group(1))
            if n != args.messages:
                raise SystemExit("the loop moved %d messages, not %d" % (n, args.messages))
            results["loop"].append({"wall_s": wall, "cpu_s": cpu})
            for kind, template in (("passthrough", PASSTHROUGH), ("count", COUNT)):
                job = os.path.join(work, "%s-%d.yaml" % (kind, r))
                with open(job, "w") as f:
                    f.write(template % {"b": bootstrap, "out": "%s-%d" % (kind, r)})
                state = os.path.join(work, "state-%s-%d" % (kind, r))
                wall, cpu, out = run([weir, "-q", "local", job, "--state-dir", state], env=env)
                m = re.search(r"([0-9,]+) records in, ([0-9,]+) out", out.stderr)
                got = int(m.group(1).replace(",", "")) if m else -1
                if got != args.messages:
                    raise SystemExit("%s read %d records, not %d:\n%s" %
                                     (kind, got, args.messages, out.stderr[-500:]))
                results[kind].append({"wall_s": wall, "cpu_s": cpu})
                shutil.rmtree(state, ignore_errors=True)
            print("round %d: %s" % (r + 1, ", ".join(
                "%s %.2fs wall %.2fs cpu" % (k, v[-1]["wall_s"], v[-1]["cpu_s"])
                for k, v in results.items())))

        def med(kind, key):
            return statistics.median(x[key] for x in results[kind])

        print("\n%-12s %14s %14s %16s %10s %10s" %
              ("run", "msgs/s (wall)", "msgs/s/cpu-s", "cpu cores used", "vs loop", "vs loop"))
        print("%-12s %14s %14s %16s %10s %10s" % ("", "", "", "", "(wall)", "(per cpu)"))
        summary = {}
        for kind in ("loop", "passthrough", "count"):
            w, c = med(kind, "wall_s"), med(kind, "cpu_s")
            rate, per_cpu = args.messages / w, args.messages / c
            summary[kind] = {"wall_s": w, "cpu_s": c, "msgs_per_s": rate,
                             "msgs_per_cpu_s": per_cpu}
            lw = summary["loop"]
            print("%-12s %14.0f %14.0f %16.2f %10.2f %10.2f" %
                  (kind, rate, per_cpu, c / w, rate / lw["msgs_per_s"],
                   per_cpu / lw["msgs_per_cpu_s"]))
        out = args.out or os.path.join(build, "kafka_e2e.json")
        with open(out, "w") as f:
            json.dump({"messages": args.messages, "partitions": args.partitions,
                       "runs": results, "medians": summary}, f, indent=2)
        print("\nresults: %s" % out)
    finally:
        stop(broker)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
