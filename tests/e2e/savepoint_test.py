#!/usr/bin/env python3
"""Savepoints, stop with a checkpoint, and restores from a path or `latest`.

One `weir local` run of a rate-limited job with keyed windows and an
exactly-once file sink gets SIGUSR1 (take a savepoint) and later SIGTERM
(take a checkpoint, then stop). Then:
  - the savepoint directory outlives retention (retain: 1);
  - `--from-checkpoint latest` (the stop's checkpoint) into a fresh output
    directory: all of the first run's files plus this run's equal the
    reference, each window exactly once;
  - then `--from-checkpoint SAVEPOINT_DIR` into another fresh directory: the
    first run's files of epochs up to the savepoint plus this run's files
    equal the reference too.
The exactly-once file sink names its files by checkpoint epoch
(part-SUBTASK-EPOCH.jsonl), which is what lets the test cut the first run's
output at the savepoint.

usage: savepoint_test.py WEIR
"""
import collections
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crash_test import parse_ts  # noqa: E402

JOB = """\
name: savepoint-test
parallelism: 2
checkpoint: {{interval: 200ms, mode: exactly_once, storage: "file://{work}/checkpoints", retain: 1}}
sources:
  events:
    type: file
    path: {work}/in
    rate: 15000
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
    path: ${{OUT}}
    format: json
    delivery: exactly_once
"""


def epoch_of(path):
    return int(re.match(r"part-\d+-(\d+)\.jsonl$", os.path.basename(path)).group(1))


def read(paths):
    c = collections.Counter()
    for p in paths:
        with open(p) as f:
            for line in f:
                r = json.loads(line)
                c[(r["uid"], parse_ts(r["window_start"]), r["n"], r["total"])] += 1
    return c


def main():
    weir = sys.argv[1]
    work = tempfile.mkdtemp(prefix="weir-savepoint-")
    ok = False
    try:
        os.makedirs(os.path.join(work, "in"))
        ref = collections.Counter()
        agg = {}
        t = 1_700_000_000_000
        # Two files, each non-decreasing in time (one per source subtask).
        for part in range(2):
            with open(os.path.join(work, "in", "events-%d.jsonl" % part), "w") as f:
                t = 1_700_000_000_000
                for i in range(30_000):
                    t += (i * 7 + part) % 4
                    uid = "u%d" % ((i * 31 + part) % 17)
                    amount = (i * 13) % 100
                    f.write(json.dumps({"uid": uid, "amount": amount, "ts": t}) + "\n")
                    k = (uid, t // 1000 * 1000)
                    n, s = agg.get(k, (0, 0))
                    agg[k] = (n + 1, s + amount)
        for (uid, ws), (n, s) in agg.items():
            ref[(uid, ws, n, s)] += 1
        job = os.path.join(work, "job.yaml")
        with open(job, "w") as f:
            f.write(JOB.format(work=work))
        base_env = dict(os.environ, XDG_STATE_HOME=os.path.join(work, "state"))

        def run(out, extra, **kw):
            env = dict(base_env, OUT=os.path.join(work, out))
            return subprocess.Popen([weir, "local", job] + extra, env=env, stderr=subprocess.PIPE,
                                    stdout=subprocess.DEVNULL, text=True, **kw)

        p = run("out1", [])
        time.sleep(1.0)
        p.send_signal(signal.SIGUSR1)
        time.sleep(1.0)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
        if p.returncode != 130:
            raise AssertionError("SIGTERM: exit %d, expected 130:\n%s" % (p.returncode, err))
        m = re.search(r"savepoint (\d+) complete in \d+ ms: (\S+)", err)
        if not m:
            raise AssertionError("no savepoint reported:\n%s" % err)
        sp_id, sp_path = int(m.group(1)), m.group(2)
        if "stopped after checkpoint" not in err:
            raise AssertionError("SIGTERM did not stop after a checkpoint:\n%s" % err)
        chks = sorted(glob.glob(os.path.join(work, "checkpoints", "savepoint-test", "chk-*")))
        if len(chks) != 1:
            raise AssertionError("retain: 1 kept %d checkpoints: %s" % (len(chks), chks))
        if epoch_of_dir(chks[0]) <= sp_id:
            raise AssertionError("no checkpoint after the savepoint: %s" % chks)
        if not os.path.exists(os.path.join(sp_path, "_metadata")):
            raise AssertionError("the savepoint %s did not outlive retention" % sp_path)
        print("ok   savepoint %d taken and kept past retention; SIGTERM stopped after a "
              "checkpoint (exit 130)" % sp_id)

        first = sorted(glob.glob(os.path.join(work, "out1", "part-*")))
        if not first or max(epoch_of(f) for f in first) <= sp_id:
            raise AssertionError("the first run did not commit past the savepoint: %s" % first)
        if glob.glob(os.path.join(work, "out1", ".*.pending")):
            raise AssertionError("SIGTERM left uncommitted files: %s" %
                                 glob.glob(os.path.join(work, "out1", ".*.pending")))

        p = run("out3", ["--from-checkpoint", "latest"])
        _, err = p.communicate(timeout=120)
        if p.returncode != 0:
            raise AssertionError("restore from latest: exit %d:\n%s" % (p.returncode, err))
        got = read(glob.glob(os.path.join(work, "out1", "part-*")) +
                   glob.glob(os.path.join(work, "out3", "part-*")))
        if got != ref:
            raise AssertionError("from the stop's checkpoint: %d rows missing, %d extra" % (
                sum((ref - got).values()), sum((got - ref).values())))
        print("ok   restored from the stop's checkpoint: %d windows, each exactly once" %
              sum(ref.values()))
        p = run("out2", ["--from-checkpoint", sp_path])
        _, err = p.communicate(timeout=120)
        if p.returncode != 0:
            raise AssertionError("restore from the savepoint: exit %d:\n%s" % (p.returncode, err))
        got = read([f for f in first if epoch_of(f) <= sp_id] +
                   glob.glob(os.path.join(work, "out2", "part-*")))
        if got != ref:
            raise AssertionError("from the savepoint: %d rows missing, %d extra" % (
                sum((ref - got).values()), sum((got - ref).values())))
        print("ok   restored from %s: %d windows, each exactly once" % (
            os.path.basename(sp_path), sum(ref.values())))

        ok = True
    except (AssertionError, subprocess.TimeoutExpired, OSError) as e:
        print("FAIL: %s\nwork directory kept: %s" % (e, work))
    finally:
        if ok:
            shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (1 if ok else 0, 0 if ok else 1))
    return 0 if ok else 1


def epoch_of_dir(path):
    return int(os.path.basename(path).split("-")[1])


if __name__ == "__main__":
    sys.exit(main())
