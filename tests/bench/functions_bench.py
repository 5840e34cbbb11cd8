#!/usr/bin/env python3
"""The cost of the function library in a job (docs/benchmarks.md, "Functions").

Usage: functions_bench.py --build-dir build-bench [--runs 5] [--rows 200000]
                          [--out build-bench/functions.json]

Writes ROWS JSON lines of about 1 KB (an order with a user, items and an
access log line inside), then runs five `weir local` jobs over them, which
read the file as raw lines, cast each to a string and map it:
  none      1                                          what reading costs
  lower     lower(s)                                   the baseline
  extract   regexp_extract(s, '"ip": "([0-9.]+)"', 1), json_value(s, '$.items[0].sku')
  regex     regexp_extract only
  json      json_value only
The sink discards rows (`blackhole`). Rounds are interleaved (each round runs
every job once), and the script reports per job the median over the rounds
of rows per CPU-second (rows / (user + system CPU of the process)) and of
wall time, and each job's ratio to `lower` within a round, median over the
rounds. Standard library only.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

MAPS = {
    "none": {"one": "1"},
    "lower": {"low": "lower(s)"},
    "extract": {"ip": """regexp_extract(s, '"ip": "([0-9.]+)"', 1)""",
                "sku": "json_value(s, '$.items[0].sku')"},
    "regex": {"ip": """regexp_extract(s, '"ip": "([0-9.]+)"', 1)"""},
    "json": {"sku": "json_value(s, '$.items[0].sku')"},
}


def line(rng, i):
    items = [{"sku": "SKU-%06d" % rng.randint(0, 999999), "qty": rng.randint(1, 5),
              "price": round(rng.uniform(1, 500), 2),
              "title": "".join(rng.choice("abcdefghij ") for _ in range(40))}
             for _ in range(rng.randint(3, 6))]
    doc = {
        "order_id": i,
        "user": {"id": "u-%d" % rng.randint(0, 99999), "email": "user%d@example.com" % i,
                 "ip": "10.%d.%d.%d" % (rng.randint(0, 255), rng.randint(0, 255),
                                        rng.randint(0, 255)),
                 "agent": "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0"},
        "items": items,
        "log": "GET /checkout/%d HTTP/1.1 200 %d" % (i, rng.randint(100, 99999)),
    }
    text = json.dumps(doc)
    return text + " " * max(0, 1000 - len(text))  # about 1 KB each


def job_yaml(name, path, exprs):
    mapped = "\n".join("      %s: %s" % (k, json.dumps(v)) for k, v in exprs.items())
    return """name: functions-%s
sources:
  lines: {type: file, path: %s, format: raw}
operators:
  - name: text
    from: lines
    map: {s: "cast(value as string)"}
  - name: mapped
    from: text
    map:
%s
sinks:
  discard: {from: mapped, type: blackhole}
""" % (name, path, mapped)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--out")
    args = ap.parse_args()
    weir = os.path.join(os.path.abspath(args.build_dir), "weir")
    work = tempfile.mkdtemp(prefix="weir-functions-bench-")
    data = os.path.join(work, "lines.jsonl")
    rng = random.Random(7)
    with open(data, "w") as f:
        for i in range(args.rows):
            f.write(line(rng, i) + "\n")
    size = os.path.getsize(data)
    jobs = {}
    for name, exprs in MAPS.items():
        jobs[name] = os.path.join(work, name + ".yaml")
        with open(jobs[name], "w") as f:
            f.write(job_yaml(name, data, exprs))
    samples = {name: [] for name in MAPS}
    for r in range(args.runs):
        for name in MAPS:
            cpu0, t0 = benchlib.children_cpu(), time.monotonic()
            subprocess.run([weir, "-q", "local", "-p", "1", jobs[name]], check=True,
                           stdout=subprocess.DEVNULL, cwd=work)
            wall, cpu = time.monotonic() - t0, benchlib.children_cpu() - cpu0
            samples[name].append({"wall_s": wall, "cpu_s": cpu, "rows_per_cpu_s": args.rows / cpu})
        print("round %d/%d: %s" % (r + 1, args.runs, ", ".join(
            "%s %.0f rows/CPU-s" % (n, samples[n][-1]["rows_per_cpu_s"]) for n in MAPS)),
            flush=True)
    print("\n%d rows of %.0f bytes (%.0f MB), %d rounds, medians:" % (
        args.rows, size / args.rows, size / 1e6, args.runs))
    print("%-8s %14s %10s %16s" % ("job", "rows/CPU-s", "wall s", "vs lower (ratio)"))
    result = {"rows": args.rows, "bytes": size, "runs": args.runs, "jobs": {}}
    for name in MAPS:
        s = samples[name]
        ratios = [s[k]["rows_per_cpu_s"] / samples["lower"][k]["rows_per_cpu_s"]
                  for k in range(args.runs)]
        med = statistics.median(x["rows_per_cpu_s"] for x in s)
        print("%-8s %14.0f %10.2f %16.2f" % (name, med, statistics.median(x["wall_s"] for x in s),
                                             statistics.median(ratios)))
        result["jobs"][name] = {"exprs": MAPS[name], "samples": s,
                                "median_rows_per_cpu_s": med,
                                "median_ratio_to_lower": statistics.median(ratios)}
    out = args.out or os.path.join(args.build_dir, "functions.json")
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print("results: " + out)


if __name__ == "__main__":
    main()
