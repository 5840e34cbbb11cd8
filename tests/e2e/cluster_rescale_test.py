#!/usr/bin/env python3
"""`weir rescale` on a cluster: results equal the reference, exactly once.

A coordinator and 3 workers (deploy/local/cluster.sh) run a rate-limited job
with keyed tumbling windows over four input files into an exactly-once file
sink, at parallelism 2. While it runs, `weir rescale JOB -p 3` and then
`weir rescale JOB -p 1`: each takes a savepoint, redistributes the key
groups (state moves with them, from several workers' database parts into
one) and the file positions, and resumes. When the job has finished, every
window's count and sum must be in the output exactly once.

usage: cluster_rescale_test.py BUILD_DIR
"""
import collections
import glob
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CLUSTER = os.path.join(ROOT, "deploy", "local", "cluster.sh")

JOB = """\
name: rescale-test
parallelism: 2
checkpoint: {{interval: 300ms, mode: exactly_once}}
restart: {{attempts: 20, delay: 200ms}}
sources:
  events:
    type: file
    path: {work}/in
    rate: 1500
    format: json
    schema: {{uid: string, amount: bigint, ts: timestamp}}
    event_time: {{field: ts, max_out_of_orderness: 0s}}
operators:
  - name: per_user
    from: events
    key_by: [uid]
    window: {{tumbling: 1s}}
    aggregate: {{n: count(), total: sum(amount)}}
sinks:
  out:
    from: per_user
    type: file
    path: {work}/out
    format: json
    delivery: exactly_once
"""


def log(m):
    print(m, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    build = os.path.abspath(sys.argv[1])
    weir = os.path.join(build, "weir")
    work = tempfile.mkdtemp(prefix="weir-rescale-")
    env = dict(os.environ, WEIR_BIN_DIR=build)
    cluster_dir = os.path.join(work, "cluster")
    ok = False
    try:
        rng = random.Random(7)
        os.makedirs(os.path.join(work, "in"))
        ref = collections.Counter()
        agg = {}
        t0 = 1_700_000_000_000
        for f in range(4):
            with open(os.path.join(work, "in", "part-%d.jsonl" % f), "w") as out:
                for i in range(5000):
                    uid = "u%02d" % rng.randrange(50)
                    amount = rng.randrange(1, 100)
                    ts = t0 + i * 4  # non-decreasing per file: nothing is late
                    out.write(json.dumps({"uid": uid, "amount": amount, "ts": ts}) + "\n")
                    k = (uid, ts // 1000 * 1000)
                    n, t = agg.get(k, (0, 0))
                    agg[k] = (n + 1, t + amount)
        for (uid, w), (n, t) in agg.items():
            ref[(uid, w, n, t)] += 1
        job = os.path.join(work, "job.yaml")
        with open(job, "w") as f:
            f.write(JOB.format(work=work))
        port = free_port()
        addr = "127.0.0.1:%d" % port
        subprocess.run(["bash", CLUSTER, "start", cluster_dir, "--workers", "3", "--slots", "2",
                        "--port", str(port), "--heartbeat-timeout", "3000"],
                       check=True, env=env)

        def cli(*args, check=True):
            r = subprocess.run([weir, "--addr", addr] + list(args), capture_output=True,
                               text=True, env=env)
            if check and r.returncode != 0:
                raise RuntimeError("weir %s: exit %d: %s" % (" ".join(args), r.returncode,
                                                              r.stderr))
            return r

        def describe():
            return json.loads(cli("-o", "json", "describe", "rescale-test").stdout)

        def wait_running(after_attempt=0, timeout=60):
            end = time.time() + timeout
            while time.time() < end:
                d = describe()
                if (d.get("state") == "JOB_STATE_RUNNING" and d.get("lastCheckpointId") and
                        int(d.get("attempt", 0)) > after_attempt):
                    return d
                if d.get("state") in ("JOB_STATE_FAILED", "JOB_STATE_FINISHED"):
                    raise RuntimeError("job ended early: %s" % d)
                time.sleep(0.2)
            raise RuntimeError("job not running: %s" % describe())

        cli("submit", job)
        d = wait_running()
        time.sleep(3)
        for p in (3, 1):
            attempt = int(d["attempt"])
            r = cli("-o", "json", "rescale", "rescale-test", "-p", str(p))
            sp = json.loads(r.stdout)["savepointPath"]
            log("rescaled to %d through %s" % (p, sp))
            assert os.path.isdir(sp), sp
            d = wait_running(attempt)
            assert d["parallelism"] == p, d
            tasks = {(t["vertexName"], t.get("subtask", 0)) for t in d["tasks"]}
            assert len([t for t in tasks if t[0] == "per_user"]) == p, tasks
            time.sleep(3)
        end = time.time() + 180
        while time.time() < end:
            d = describe()
            if d["state"] in ("JOB_STATE_FINISHED", "JOB_STATE_FAILED"):
                break
            time.sleep(0.3)
        assert d["state"] == "JOB_STATE_FINISHED", d
        got = collections.Counter()
        for path in glob.glob(os.path.join(work, "out", "part-*")):
            with open(path) as f:
                for line in f:
                    r = json.loads(line)
                    from crash_test import parse_ts  # noqa: E402
                    got[(r["uid"], parse_ts(r["window_start"]), r["n"], r["total"])] += 1
        missing = ref - got
        extra = got - ref
        log("windows: reference %d, output %d, missing %d, duplicated or wrong %d" %
            (sum(ref.values()), sum(got.values()), sum(missing.values()), sum(extra.values())))
        if missing or extra:
            log("missing: %s" % list(missing.items())[:5])
            log("extra: %s" % list(extra.items())[:5])
            raise SystemExit(1)
        ok = True
        log("PASS: two rescales, every window exactly once")
    finally:
        subprocess.run(["bash", CLUSTER, "stop", cluster_dir], env=env)
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log("kept %s for inspection" % work)


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
