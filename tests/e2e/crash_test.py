#!/usr/bin/env python3
"""Exactly-once through kill -9: the crash test of the checkpoint issue.

Real processes only: a PostgreSQL server (tests/e2e/postgres.sh), the
development broker (weir-dev-broker) holding the input topic, and
`weir local` running a job with keyed windows that writes to exactly-once
file and postgres sinks. The job is killed with SIGKILL again and again:
  - at random moments (anything can be going on: processing, a checkpoint's
    alignment, its upload, a sink commit, recovery itself);
  - at chosen crash points (WEIR_TEST_CRASH, see worker/runtime/crash_point.h):
    after a sink pre-committed (during a checkpoint), after the upload but
    before the metadata (during a checkpoint), after the metadata but before
    the sinks commit (between completion and commit), after a commit;
and restarted each time with `--from-checkpoint latest`. Then it runs to the
end. The outputs must equal a reference computed here from the input: every
window's count and sum exactly once in the file sink and in the table, and
every input row that passes the filter exactly once in the other file sink.
Zero lost, zero duplicated.

usage: crash_test.py WEIR WEIR_DEV_BROKER [--kills N] [--events N] [--seed N]
"""
import argparse
import collections
import datetime
import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
POSTGRES_SH = os.path.join(HERE, "postgres.sh")

CRASH_POINTS = ["after-precommit", "before-complete", "after-complete", "after-commit"]


def log(msg):
    print(msg, flush=True)


def parse_ts(v):
    """A timestamp as the json encoder writes it (ISO-8601) or epoch millis."""
    if isinstance(v, (int, float)):
        return int(v)
    d = datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
    return int(round(d.timestamp() * 1000))


def make_input(path, n, seed):
    """n events, event time non-decreasing in file order (so within every
    partition): no row is ever late, whatever the watermark, so results do not
    depend on how runs were cut."""
    rng = random.Random(seed)
    users = ["u%02d" % i for i in range(40)]
    t0 = 1_700_000_000_000
    rows = []
    t = t0
    with open(path, "w") as f:
        for i in range(n):
            t += rng.choice([0, 0, 1, 2, 3, 5, 10])
            r = {"uid": rng.choice(users), "amount": rng.randint(1, 1000), "ts": t, "seq": i}
            rows.append(r)
            f.write(json.dumps(r) + "\n")
    return rows


def reference(rows):
    windows = collections.Counter()
    agg = {}
    for r in rows:
        ws = r["ts"] // 1000 * 1000
        k = (r["uid"], ws)
        n, s = agg.get(k, (0, 0))
        agg[k] = (n + 1, s + r["amount"])
    for (uid, ws), (n, s) in agg.items():
        windows[(uid, ws, ws + 1000, n, s)] += 1
    big = collections.Counter((r["uid"], r["amount"], r["ts"], r["seq"]) for r in rows
                              if r["amount"] >= 500)
    return windows, big


JOB = """\
name: {name}
parallelism: {parallelism}
checkpoint:
  interval: {interval}
  mode: exactly_once
  storage: file://{work}/checkpoints
  retain: 2
restart: {restart}
sources:
  events:
    type: kafka
    brokers: {brokers}
    topic: events
    start: earliest
    end: latest
    rate: {rate}
    format: json
    schema: {{uid: string, amount: bigint, ts: timestamp, seq: bigint}}
    event_time: {{field: ts, max_out_of_orderness: 0s}}
operators:
  - name: per_user
    from: events
    key_by: [uid]
    window: {{tumbling: 1s}}
    aggregate: {{n: count(), total: sum(amount)}}
  - name: big
    from: events
    filter: "amount >= 500"
sinks:
  windows_file:
    from: per_user
    type: file
    path: {work}/out/windows
    format: json
    delivery: exactly_once
  windows_pg:
    from: per_user
    type: postgres
    dsn: "{dsn}"
    table: per_user_windows
    delivery: exactly_once
  big_file:
    from: big
    type: file
    path: {work}/out/big
    format: json
    delivery: exactly_once
"""


class Problem(Exception):
    pass


def job_yaml(work, brokers, dsn, rate, interval="150ms", name="crash-test", parallelism=2,
             restart="{attempts: 3, delay: 100ms}"):
    """The job: its paths under `work` (absolute, as a cluster needs)."""
    return JOB.format(interval=interval, work=os.path.abspath(work), brokers=brokers, dsn=dsn,
                      rate=rate, name=name, parallelism=parallelism, restart=restart)


def start_postgres(pg_dir, port):
    """Starts a throwaway server (tests/e2e/postgres.sh); returns its DSN."""
    return subprocess.run(["bash", POSTGRES_SH, "start", pg_dir, str(port)], check=True,
                          stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()[-1]


def stop_postgres(pg_dir):
    subprocess.run(["bash", POSTGRES_SH, "stop", pg_dir], stdout=subprocess.DEVNULL)


def start_broker(broker_bin, work, partitions=16):
    """Starts the development broker with the topic `events`; returns
    (process, bootstrap servers)."""
    addr_file = os.path.join(work, "broker.addr")
    broker = subprocess.Popen([broker_bin, "--topic", "events:%d" % partitions, "--address-file",
                               addr_file], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if os.path.exists(addr_file):
                break
            time.sleep(0.05)
        return broker, open(addr_file).read().strip()
    except OSError:
        broker.kill()
        broker.wait()
        raise


def load_input(brokers, rows, work):
    """Produces the rows to the topic `events` and checks they are all there."""
    # kcat in chunks of 50,000 lines: one call with many more loses some.
    chunk = os.path.join(work, "chunk.jsonl")
    for start in range(0, len(rows), 50_000):
        with open(chunk, "w") as f:
            for r in rows[start:start + 50_000]:
                f.write("%d\t%s\n" % (r["seq"], json.dumps(r)))
        # Keyed by seq, so the partitions fill evenly (the broker keeps at
        # most 5 MiB per partition).
        subprocess.run(["kcat", "-P", "-b", brokers, "-t", "events", "-X", "linger.ms=20",
                        "-K", "\t", "-l", chunk], check=True)
    # The development broker drops old data silently past its retention
    # (docs/dev-broker.md): make sure all the input is there.
    stored = subprocess.run(["kcat", "-C", "-b", brokers, "-t", "events", "-o", "beginning",
                             "-e", "-q"], check=True, stdout=subprocess.PIPE).stdout.count(b"\n")
    if stored != len(rows):
        raise Problem("the broker holds %d of the %d input events" % (stored, len(rows)))


def read_jsonl_dir(d):
    rows = []
    for p in sorted(glob.glob(os.path.join(d, "part-*"))):
        with open(p) as f:
            for line in f:
                if line.strip():
                    rows.append(json.loads(line))
    return rows


def compare(label, expected, actual):
    missing = expected - actual
    extra = actual - expected
    if missing or extra:
        raise Problem("%s: %d expected rows missing (e.g. %s), %d unexpected or duplicated "
                      "(e.g. %s); %d expected, %d found" % (
                          label, sum(missing.values()), list(missing)[:3], sum(extra.values()),
                          list(extra)[:3], sum(expected.values()), sum(actual.values())))
    log("ok   %s: %d rows, each exactly once" % (label, sum(expected.values())))


def check_outputs(work, dsn, rows):
    """The outputs of the job under `work` equal the reference of `rows`:
    every window exactly once in the file sink and the table, every filtered
    row exactly once in the other file sink, nothing left prepared or
    pending. dsn None: a job without the postgres sink."""
    exp_windows, exp_big = reference(rows)
    got_windows = collections.Counter(
        (r["uid"], parse_ts(r["window_start"]), parse_ts(r["window_end"]), r["n"], r["total"])
        for r in read_jsonl_dir(os.path.join(work, "out", "windows")))
    compare("windows in the file sink", exp_windows, got_windows)
    if dsn is not None:
        check_postgres(dsn, exp_windows)
    got_big = collections.Counter((r["uid"], r["amount"], parse_ts(r["ts"]), r["seq"])
                                  for r in read_jsonl_dir(os.path.join(work, "out", "big")))
    compare("filtered rows in the file sink", exp_big, got_big)
    leftovers = [f for d in ("windows", "big") for f in os.listdir(os.path.join(work, "out", d))
                 if f.startswith(".")]
    if leftovers:
        raise Problem("in-progress or pending files left behind: %s" % leftovers[:5])


def check_postgres(dsn, exp_windows):
    q = ("select uid, (extract(epoch from window_start) * 1000)::bigint, "
         "(extract(epoch from window_end) * 1000)::bigint, n, total from per_user_windows")
    out = subprocess.run(["psql", dsn, "-At", "-F", ",", "-c", q], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    got_pg = collections.Counter()
    for line in out.splitlines():
        uid, ws, we, n, total = line.split(",")
        got_pg[(uid, int(ws), int(we), int(n), int(total))] += 1
    compare("windows in postgres", exp_windows, got_pg)
    prepared = subprocess.run(["psql", dsn, "-At", "-c", "select count(*) from pg_prepared_xacts"],
                              check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    if prepared != "0":
        raise Problem("%s prepared transactions left behind" % prepared)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weir")
    ap.add_argument("broker")
    ap.add_argument("--kills", type=int, default=12)
    ap.add_argument("--events", type=int, default=450_000)
    ap.add_argument("--rate", type=int, default=30_000,
                    help="records/s the job reads (so kills land while it works)")
    ap.add_argument("--seed", type=int, default=int(os.environ.get("WEIR_CRASH_SEED", "0")) or
                    random.randrange(1 << 30))
    ap.add_argument("--pg-port", type=int, default=55433)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    log("crash test: seed %d (set WEIR_CRASH_SEED to repeat), %d events, %d kills" % (
        a.seed, a.events, a.kills))
    rng = random.Random(a.seed)
    work = tempfile.mkdtemp(prefix="weir-crash-")
    broker = None
    pg_dir = os.path.join(work, "pg")
    try:
        dsn = start_postgres(pg_dir, a.pg_port)
        broker, brokers = start_broker(a.broker, work)
        rows = make_input(os.path.join(work, "events.jsonl"), a.events, a.seed)
        load_input(brokers, rows, work)
        job = os.path.join(work, "job.yaml")
        with open(job, "w") as f:
            f.write(job_yaml(work, brokers, dsn, a.rate))
        env = dict(os.environ, XDG_STATE_HOME=os.path.join(work, "state"))
        cmd = [a.weir, "-q", "local", job, "--from-checkpoint", "latest"]

        # Kills: some at chosen crash points, the rest at random moments.
        plan = []
        for i in range(a.kills):
            if i % 2 == 1:
                plan.append(("point", CRASH_POINTS[(i // 2) % len(CRASH_POINTS)]))
            else:
                plan.append(("random", None))
        rng.shuffle(plan)
        kills = {"random": 0, "point": 0}
        attempts = 0
        runs_log = os.path.join(work, "runs.log")
        with open(runs_log, "w") as rl:
            # First a task failure inside a run: the process restarts the job
            # itself from its latest checkpoint (restart.attempts).
            rl.write("---- run 0: WEIR_TEST_FAIL=after-precommit:3\n")
            rl.flush()
            start = rl.tell()
            p = subprocess.Popen(cmd, env=dict(env, WEIR_TEST_FAIL="after-precommit:3"),
                                 stdout=subprocess.DEVNULL, stderr=rl)
            try:
                p.wait(timeout=1.5)
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGKILL)
                p.wait()
            rl.flush()
            with open(runs_log) as f:
                f.seek(start)
                if "injected failure" not in f.read() or p.returncode not in (0, -signal.SIGKILL):
                    raise Problem("the injected task failure did not restart the job in "
                                  "process (see %s)" % runs_log)
            log("in-process restart after a task failure: ok")
            while sum(kills.values()) < a.kills:
                attempts += 1
                if attempts > a.kills * 4:
                    raise Problem("could not place %d kills in %d runs: the job ends too soon "
                                  "(raise --events)" % (a.kills, attempts))
                kind, point = plan[sum(kills.values())]
                e = dict(env)
                if kind == "point":
                    e["WEIR_TEST_CRASH"] = "%s:%d" % (point, rng.randint(1, 4))
                rl.write("---- run %d: %s %s\n" % (attempts, kind, e.get("WEIR_TEST_CRASH", "")))
                rl.flush()
                p = subprocess.Popen(cmd, env=e, stdout=subprocess.DEVNULL, stderr=rl)
                if kind == "random":
                    delay = rng.uniform(0.1, 1.8)
                    try:
                        p.wait(timeout=delay)
                    except subprocess.TimeoutExpired:
                        p.send_signal(signal.SIGKILL)
                        p.wait()
                else:
                    try:
                        p.wait(timeout=120)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        raise Problem("a run with WEIR_TEST_CRASH=%s hung" % e["WEIR_TEST_CRASH"])
                if p.returncode == -signal.SIGKILL:
                    kills[kind] += 1
                    log("kill %2d: %s after run %d" % (
                        sum(kills.values()), point or "random moment", attempts))
                elif p.returncode != 0:
                    raise Problem("weir local exited %d (see %s)" % (p.returncode, runs_log))
                else:
                    # The job ended before the kill: start over on fresh output
                    # would hide nothing, but the kill did not happen; the next
                    # runs find the job complete. Keep going: they still test
                    # recovery from the final checkpoint.
                    log("run %d ended before its kill" % attempts)
            rl.write("---- final run\n")
            rl.flush()
            p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=rl, timeout=600)
        if p.returncode != 0:
            raise Problem("the final run exited %d (see %s)" % (p.returncode, runs_log))
        log("%d kills (%d at crash points, %d at random moments) in %d runs, then a clean run" % (
            sum(kills.values()), kills["point"], kills["random"], attempts))
        if kills["point"] < 1 or kills["random"] < 1:
            raise Problem("kills must include both crash points and random moments")

        check_outputs(work, dsn, rows)
        print("1 passed, 0 failed")
        return 0
    except (Problem, subprocess.CalledProcessError, OSError) as e:
        print("FAIL: %s" % e)
        print("work directory kept: %s" % work)
        a.keep = True
        print("0 passed, 1 failed")
        return 1
    finally:
        if broker:
            broker.terminate()
            broker.wait()
        stop_postgres(pg_dir)
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
