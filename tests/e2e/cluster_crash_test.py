#!/usr/bin/env python3
"""Exactly-once through kill -9 on a cluster: crash_test.py's job and checks
on a weir-coordinator and three weir-workers.

Real processes only, as in crash_test.py (whose functions this test uses): a
PostgreSQL server, the development broker with the input topic (16
partitions), and a job with keyed tumbling windows and a filter writing to
two exactly-once file sinks and an exactly-once postgres sink, here with
parallelism 4 on 3 workers of 2 slots each (so its tasks exchange rows
between workers), submitted with `weir submit`. The source is rate-limited so
that the job lasts about 40 s, and during that time:
  - a random worker (one running tasks of the job, when known) is killed
    with SIGKILL at least 10 times, and started again with the same --id and
    --data-dir after a short random pause: the coordinator notices it gone,
    cancels the attempt on the others and restarts the job from its latest
    checkpoint (restart: {attempts: 100, delay: 200ms});
  - the coordinator is killed with SIGKILL at least 2 times and started again
    on the same --port and --data-dir: the workers lose it, cancel their
    tasks and register again, and the restarted coordinator resumes the job
    from its registry and its latest checkpoint.
The kills fall at random moments spread over the job's run. Then the job must
reach FINISHED, and its outputs equal the reference computed from the input:
every window's count and sum exactly once in the file sink and in the table,
every input row passing the filter exactly once in the other file sink, no
prepared transaction and no in-progress or pending file left behind.

Every process logs to a file in the work directory (coordinator.log,
worker-N.log, each line stamped with the time), and so does the test
(test.log): kills, restarts, the job's attempts. The work directory is kept
when the test fails (or with --keep).

usage: cluster_crash_test.py WEIR WEIR_COORDINATOR WEIR_WORKER WEIR_DEV_BROKER
           [--worker-kills N] [--coordinator-kills N] [--events N] [--rate N] [--seed N]
"""
import argparse
import ctypes
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crash_test import (Problem, check_outputs, job_yaml, load_input, make_input,  # noqa: E402
                        start_broker, start_postgres, stop_postgres)

JOB_NAME = "cluster-crash-test"
TERMINAL = ("JOB_STATE_FINISHED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED")

_log_file = None


def stamp():
    t = time.time()
    return time.strftime("%H:%M:%S", time.localtime(t)) + ".%03d" % int(t % 1 * 1000)


def log(msg):
    line = "%s %s" % (stamp(), msg)
    print(line, flush=True)
    if _log_file:
        _log_file.write(line + "\n")
        _log_file.flush()


def set_log_file(path):
    global _log_file
    _log_file = open(path, "a")


def free_port():
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def exit_on_sigterm():
    """SIGTERM (ctest's timeout, a CI cancel) unwinds like an error, so that
    the `finally` blocks stop processes and clean up."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, handler)


def _die_with_parent():
    """In the child before exec: SIGKILL when the test dies, even by SIGKILL
    (a ctest timeout), so that no worker outlives it retrying forever."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Proc:
    """A process whose stdout and stderr go, each line stamped with the time,
    to a log file (appended: restarts of the same process share it)."""

    def __init__(self, name, cmd, log_path, env=None):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "a")
        self.log.write("%s ==== %s: %s\n" % (stamp(), name, " ".join(cmd)))
        self.log.flush()
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=env,
                                  preexec_fn=_die_with_parent)
        self.pid = self.p.pid
        self.t = threading.Thread(target=self._copy, daemon=True)
        self.t.start()

    def _copy(self):
        for line in iter(self.p.stdout.readline, b""):
            self.log.write("%s %s" % (stamp(), line.decode(errors="replace")))
            self.log.flush()

    def alive(self):
        return self.p.poll() is None

    def kill(self):
        """SIGKILL; returns once it is gone."""
        if self.alive():
            self.p.send_signal(signal.SIGKILL)
        self.p.wait()
        self._done()

    def stop(self, timeout=10):
        """SIGTERM, then SIGKILL after `timeout` s."""
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.p.send_signal(signal.SIGKILL)
                self.p.wait()
        self._done()

    def _done(self):
        if self.t is None:
            return
        self.t.join(timeout=5)
        self.t = None
        self.log.write("%s ==== %s exited %s\n" % (stamp(), self.name, self.p.returncode))
        self.log.flush()


class Cluster:
    """A coordinator and workers as separate processes, each of which can be
    killed and started again on the same port / id / data directory.

    worker_prefix(i) gives a command prefix for worker i (e.g. `ip netns exec
    NS`), coordinator_host the address workers reach the coordinator at and
    advertise(i) the host worker i advertises."""

    def __init__(self, bins, work, workers=3, slots=2, hb_timeout_ms=1500, hb_interval_ms=150,
                 coordinator_host="127.0.0.1", worker_prefix=None, advertise=None):
        self.bins = bins
        self.work = work
        self.n = workers
        self.slots = slots
        self.hb_timeout_ms = hb_timeout_ms
        self.hb_interval_ms = hb_interval_ms
        self.port = free_port()
        self.addr = "127.0.0.1:%d" % self.port  # for the CLI
        self.coordinator_host = coordinator_host
        self.worker_prefix = worker_prefix or (lambda i: [])
        self.advertise = advertise
        self.coordinator = None
        self.workers = {}  # i -> Proc
        # Metrics endpoints on any free port: several processes here, and
        # other tests, would want the same default one.
        self.env = dict(os.environ, WEIR_METRICS_PORT="0")

    def worker_id(self, i):
        return "w%d" % i

    def start_coordinator(self):
        cmd = [self.bins["coordinator"], "--port", str(self.port),
               "--data-dir", os.path.join(self.work, "coordinator"),
               # The jobs here keep checkpoints under the work directory.
               "--allow-storage", "file://" + self.work,
               "--heartbeat-timeout", str(self.hb_timeout_ms),
               "--heartbeat-interval", str(self.hb_interval_ms)]
        # The port of the killed one may take a moment to be free again.
        for _ in range(50):
            self.coordinator = Proc("coordinator", cmd, os.path.join(self.work, "coordinator.log"),
                                    self.env)
            try:
                self.coordinator.p.wait(timeout=0.3)
            except subprocess.TimeoutExpired:
                return
            self.coordinator._done()
            time.sleep(0.2)
        raise Problem("the coordinator does not start (see coordinator.log)")

    def start_worker(self, i):
        cmd = self.worker_prefix(i) + [
            self.bins["worker"], "--coordinator", "%s:%d" % (self.coordinator_host, self.port),
            "--port", "0", "--slots", str(self.slots), "--id", self.worker_id(i),
            "--data-dir", os.path.join(self.work, "worker-%d" % i)]
        if self.advertise:
            cmd += ["--advertise", self.advertise(i)]
        self.workers[i] = Proc("worker %s" % self.worker_id(i), cmd,
                               os.path.join(self.work, "worker-%d.log" % i), self.env)

    def start(self):
        self.start_coordinator()
        for i in range(1, self.n + 1):
            self.start_worker(i)
        self.wait_workers(self.n)

    def stop(self):
        for w in self.workers.values():
            w.stop()
        if self.coordinator:
            self.coordinator.stop()

    def cli(self, *args, timeout=5):
        return subprocess.run([self.bins["weir"], "--addr", self.addr, "--timeout", "2"] +
                              list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=timeout)

    def alive_workers(self):
        try:
            p = self.cli("-o", "json", "workers")
        except subprocess.TimeoutExpired:
            return None
        if p.returncode != 0:
            return None
        return sorted(w["id"] for w in json.loads(p.stdout).get("workers", []) if w.get("alive"))

    def wait_workers(self, n, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            alive = self.alive_workers()
            if alive is not None and len(alive) >= n:
                return alive
            time.sleep(0.1)
        raise Problem("only %s of %d workers registered within %d s" % (alive, n, timeout))

    def submit(self, job_file):
        p = self.cli("submit", job_file, timeout=30)
        if p.returncode != 0:
            raise Problem("weir submit exited %d: %s" % (p.returncode, p.stderr.strip()))

    def describe(self, job):
        """The job as weir.v1.Job JSON, or None when the coordinator does not
        answer."""
        try:
            p = self.cli("-o", "json", "describe", job)
        except subprocess.TimeoutExpired:
            return None
        if p.returncode != 0:
            return None
        return json.loads(p.stdout)


class JobWatch:
    """Logs the job's state and attempt as they change (polled)."""

    def __init__(self, cluster, job):
        self.cluster = cluster
        self.job = job
        self.last = None
        self.state = None
        self.attempts = set()
        self.tasks_on = set()

    def poll(self):
        j = self.cluster.describe(self.job)
        if j is None:
            return None
        self.state = j.get("state")
        attempt = int(j.get("attempt", 0))
        self.attempts.add(attempt)
        self.tasks_on = {t.get("workerId") for t in j.get("tasks", [])}
        key = (self.state, attempt)
        if key != self.last:
            self.last = key
            log("job: %s, attempt %d, restarts %d, records in %s, last checkpoint %s%s" % (
                self.state, attempt, int(j.get("restarts", 0)), j.get("recordsIn", 0),
                j.get("lastCheckpointId", "-"),
                ("; last failure: " + j["failure"]) if j.get("failure") else ""))
        return j


def restarts_in_log(path):
    """The coordinator's log lines about the job's restarts."""
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            if (" RESTARTING" in line or "loaded " in line or " lost: " in line):
                out.append(line.rstrip())
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weir")
    ap.add_argument("coordinator")
    ap.add_argument("worker")
    ap.add_argument("broker")
    ap.add_argument("--worker-kills", type=int, default=12)
    ap.add_argument("--coordinator-kills", type=int, default=3)
    ap.add_argument("--events", type=int, default=240_000)
    ap.add_argument("--rate", type=int, default=6_000,
                    help="records/s the job reads (so kills land while it works)")
    ap.add_argument("--parallelism", type=int, default=4)
    ap.add_argument("--seed", type=int, default=int(os.environ.get("WEIR_CRASH_SEED", "0")) or
                    random.randrange(1 << 30))
    ap.add_argument("--pg-port", type=int, default=55434)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    exit_on_sigterm()
    rng = random.Random(a.seed)
    work = tempfile.mkdtemp(prefix="weir-cluster-crash-")
    set_log_file(os.path.join(work, "test.log"))
    log("cluster crash test: seed %d (set WEIR_CRASH_SEED to repeat), %d events at %d/s, "
        "%d worker kills, %d coordinator kills, work directory %s" % (
            a.seed, a.events, a.rate, a.worker_kills, a.coordinator_kills, work))
    broker = None
    cluster = None
    pg_dir = os.path.join(work, "pg")
    started = time.time()
    passed = False
    try:
        dsn = start_postgres(pg_dir, a.pg_port)
        broker, brokers = start_broker(a.broker, work)
        rows = make_input(os.path.join(work, "events.jsonl"), a.events, a.seed)
        load_input(brokers, rows, work)
        job = os.path.join(work, "job.yaml")
        with open(job, "w") as f:
            f.write(job_yaml(work, brokers, dsn, a.rate, interval="200ms", name=JOB_NAME,
                             parallelism=a.parallelism,
                             restart="{attempts: 100, delay: 200ms}"))
        bins = {"weir": a.weir, "coordinator": a.coordinator, "worker": a.worker}
        cluster = Cluster(bins, work)
        cluster.start()
        log("cluster up: coordinator on port %d, workers %s" % (
            cluster.port, ", ".join(cluster.alive_workers() or [])))

        # The kills, spread over the run the job would have without them
        # (each one makes it longer): one per slot of time, at a random
        # moment in its slot.
        expected = a.events / a.rate
        kinds = ["worker"] * a.worker_kills + ["coordinator"] * a.coordinator_kills
        rng.shuffle(kinds)
        first, last = 2.0, expected * 0.8
        width = (last - first) / len(kinds)
        plan = [(first + width * (k + rng.uniform(0.15, 0.85)), kind)
                for k, kind in enumerate(kinds)]

        cluster.submit(job)
        t0 = time.time()
        log("submitted %s (about %.0f s of input without kills)" % (JOB_NAME, expected))
        watch = JobWatch(cluster, JOB_NAME)
        down = {}  # what is down -> when it comes back: "coordinator" or worker number
        kills = {"worker": 0, "coordinator": 0}
        next_poll = 0.0
        while plan or down:
            now = time.time()
            if now >= next_poll:
                watch.poll()
                next_poll = now + 0.25
            for what, at in sorted(down.items(), key=lambda x: x[1]):
                if now < at:
                    continue
                del down[what]
                if what == "coordinator":
                    cluster.start_coordinator()
                    log("coordinator started again (pid %d)" % cluster.coordinator.pid)
                else:
                    cluster.start_worker(what)
                    log("worker w%d started again (pid %d)" % (what, cluster.workers[what].pid))
            if plan and now - t0 >= plan[0][0]:
                _, kind = plan.pop(0)
                if watch.state in TERMINAL:
                    raise Problem("the job was %s before kill %d of %d: it ends too soon "
                                  "(raise --events)" % (watch.state, sum(kills.values()) + 1,
                                                       a.worker_kills + a.coordinator_kills))
                if kind == "coordinator":
                    if "coordinator" in down:  # still down: next time
                        plan.insert(0, (now - t0 + 0.5, kind))
                        continue
                    pid = cluster.coordinator.pid
                    cluster.coordinator.kill()
                    pause = rng.uniform(0.2, 1.5)
                    down["coordinator"] = time.time() + pause
                    kills["coordinator"] += 1
                    log("KILL %2d: coordinator (pid %d) at %.1f s; back in %.1f s" % (
                        sum(kills.values()), pid, now - t0, pause))
                else:
                    up = [i for i in cluster.workers if i not in down]
                    busy = [i for i in up if cluster.worker_id(i) in watch.tasks_on]
                    i = rng.choice(busy or up)
                    pid = cluster.workers[i].pid
                    cluster.workers[i].kill()
                    pause = rng.uniform(0.2, 2.0)
                    down[i] = time.time() + pause
                    kills["worker"] += 1
                    log("KILL %2d: worker w%d (pid %d, %s) at %.1f s; back in %.1f s" % (
                        sum(kills.values()), i, pid,
                        "running tasks of the job" if i in busy else "idle", now - t0, pause))
            time.sleep(0.05)
        log("%d worker kills and %d coordinator kills done at %.1f s; waiting for the job "
            "to finish" % (kills["worker"], kills["coordinator"], time.time() - t0))

        deadline = time.time() + 600
        j = None
        while time.time() < deadline:
            j = watch.poll() or j
            if watch.state in TERMINAL:
                break
            time.sleep(0.25)
        if watch.state != "JOB_STATE_FINISHED":
            raise Problem("the job is %s, not FINISHED (last failure: %s)" % (
                watch.state, (j or {}).get("failure", "")))
        log("job FINISHED after %.1f s: %s restarts, attempts seen %s" % (
            time.time() - t0, j.get("restarts", 0), sorted(watch.attempts)))
        for line in restarts_in_log(os.path.join(work, "coordinator.log")):
            log("  coordinator: " + line)
        if kills["worker"] < a.worker_kills or kills["coordinator"] < a.coordinator_kills:
            raise Problem("only %d worker kills and %d coordinator kills" % (
                kills["worker"], kills["coordinator"]))
        cluster.stop()
        check_outputs(work, dsn, rows)
        log("passed in %.0f s" % (time.time() - started))
        passed = True
        print("1 passed, 0 failed")
        return 0
    except (Problem, subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
        log("FAIL: %s" % e)
        print("0 passed, 1 failed")
        return 1
    finally:
        if cluster:
            cluster.stop()
        if broker:
            broker.terminate()
            broker.wait()
        stop_postgres(pg_dir)
        if passed and not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("work directory kept: %s (test.log, coordinator.log, worker-N.log)" % work)


if __name__ == "__main__":
    sys.exit(main())
