#!/usr/bin/env python3
"""A worker cut off from the network: it fences itself, the job restarts
without it, the worker rejoins, and the output is still exactly once.

Needs root (network namespaces). The coordinator runs in this network
namespace; each of the three workers (2 slots) in its own namespace, joined
to a bridge here by a veth pair:

  bridge wb<PID>  10.231.0.1/24 (coordinator: 10.231.0.1:PORT)
    veth wv<PID>x<i>  <->  eth0 in namespace weir<PID>w<i>: 10.231.0.1<i>/24

Workers reach the coordinator and each other (the exchange) through the
bridge only (`weir-worker --coordinator 10.231.0.1:PORT --advertise
10.231.0.1<i>`). The dev broker and PostgreSQL listen on loopback, out of the
namespaces' reach, so the job reads JSONL files (a rate-limited file
source) and writes exactly-once file sinks: crash_test.py's keyed tumbling
windows and filter, with parallelism 4.

While the job runs, the veth of a worker running tasks of the job is set
down for the heartbeat timeout (1500 ms) plus 2 s, then up again. Expected:
the worker hears nothing from the coordinator for fence_after_ms (3/5 of the
timeout) and cancels its tasks ("no word from the coordinator"); the
coordinator gives it up after the timeout ("worker wN lost") and restarts
the job from its latest checkpoint on the other two workers; once the link
is back the worker registers again; the job reaches FINISHED and its output
equals the reference exactly once, with no in-progress or pending file left.

Namespaces, bridge and processes are removed in every case (finally; SIGTERM
unwinds too); leftovers of an earlier run that was killed outright (names
carrying a PID that no longer runs) are removed at the start. The subnet is
10.231.0.0/24 unless that is routed already, then the next free 10.231.N.0.

usage: cluster_netns_test.py WEIR WEIR_COORDINATOR WEIR_WORKER [--events N] [--rate N]
Exits 77 (skipped) when not root.
"""
import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_crash_test import (TERMINAL, Cluster, JobWatch, exit_on_sigterm, log,  # noqa: E402
                                set_log_file)
from crash_test import Problem, check_outputs, make_input  # noqa: E402

JOB_NAME = "cluster-netns-test"
HB_TIMEOUT_MS = 1500
HB_INTERVAL_MS = 150
SKIP = 77

JOB = """\
name: {name}
parallelism: {parallelism}
checkpoint:
  interval: 200ms
  mode: exactly_once
  storage: file://{work}/checkpoints
  retain: 2
restart: {{attempts: 100, delay: 200ms}}
sources:
  events:
    type: file
    path: {work}/in
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
  big_file:
    from: big
    type: file
    path: {work}/out/big
    format: json
    delivery: exactly_once
"""


def ip(*args, check=True):
    p = subprocess.run(["ip"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if check and p.returncode != 0:
        raise Problem("ip %s: %s" % (" ".join(args), p.stderr.strip()))
    return p


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def remove_stale():
    """Namespaces and links of earlier runs whose test process is gone (killed
    outright), and the processes left in those namespaces."""
    for line in ip("netns", "list", check=False).stdout.splitlines():
        m = re.match(r"weir(\d+)w\d+\b", line)
        if m and not pid_alive(int(m.group(1))):
            ns = line.split()[0]
            for pid in ip("netns", "pids", ns, check=False).stdout.split():
                try:
                    os.kill(int(pid), 9)
                except (ProcessLookupError, ValueError):
                    pass
            ip("netns", "del", ns, check=False)
    for line in ip("-o", "link", "show", check=False).stdout.splitlines():
        m = re.match(r"\d+: (w[bv](\d+)[x0-9]*)[@:]", line)
        if m and not pid_alive(int(m.group(2))):
            ip("link", "del", m.group(1), check=False)


class Net:
    """The bridge, the namespaces and their veth pairs."""

    def __init__(self, n):
        tag = os.getpid()
        self.bridge = "wb%d" % tag
        self.ns = {i: "weir%dw%d" % (tag, i) for i in range(1, n + 1)}
        self.veth = {i: "wv%dx%d" % (tag, i) for i in range(1, n + 1)}
        self.peer = {i: "wp%dx%d" % (tag, i) for i in range(1, n + 1)}
        routes = ip("-4", "route", "show").stdout
        for k in range(0, 50):
            if "10.231.%d." % k not in routes:
                break
        self.net = "10.231.%d" % k
        self.host = self.net + ".1"
        self.addr = {i: "%s.1%d" % (self.net, i) for i in self.ns}
        self.made = []  # what to remove, in reverse

    def up(self):
        ip("link", "add", self.bridge, "type", "bridge")
        self.made.append(("link", self.bridge))
        ip("addr", "add", self.host + "/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for i, ns in self.ns.items():
            ip("netns", "add", ns)
            self.made.append(("netns", ns))
            ip("link", "add", self.veth[i], "type", "veth", "peer", "name", self.peer[i])
            self.made.append(("link", self.veth[i]))
            ip("link", "set", self.peer[i], "netns", ns)
            ip("link", "set", self.veth[i], "master", self.bridge)
            ip("link", "set", self.veth[i], "up")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "link", "set", self.peer[i], "name", "eth0")
            ip("-n", ns, "addr", "add", self.addr[i] + "/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
        # That the namespaces reach the coordinator shows when the workers
        # register, and that they reach each other when the job runs.

    def down(self):
        for kind, name in reversed(self.made):
            if kind == "netns":
                ip("netns", "del", name, check=False)
            else:
                ip("link", "del", name, check=False)
        self.made = []


def write_input(work, rows, files=8):
    """The rows in `files` JSONL files of consecutive rows, in name order: a
    subtask reads its files (k % P) one after the other, so each reads
    event times that never go back."""
    d = os.path.join(work, "in")
    os.makedirs(d)
    per = (len(rows) + files - 1) // files
    for k in range(files):
        with open(os.path.join(d, "events-%02d.jsonl" % k), "w") as f:
            for r in rows[k * per:(k + 1) * per]:
                f.write(json.dumps(r) + "\n")


def first_line(path, pattern, offset):
    """The first line matching `pattern` of a log from byte `offset` on, as
    (the byte offset after it, the line), or (None, None)."""
    with open(path, "rb") as f:
        f.seek(offset)
        while True:
            line = f.readline()
            if not line:
                return None, None
            text = line.decode(errors="replace").rstrip()
            if re.search(pattern, text):
                return f.tell(), text


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weir")
    ap.add_argument("coordinator")
    ap.add_argument("worker")
    ap.add_argument("--events", type=int, default=120_000)
    ap.add_argument("--rate", type=int, default=5_000)
    ap.add_argument("--parallelism", type=int, default=4)
    ap.add_argument("--cut-ms", type=int, default=HB_TIMEOUT_MS + 2000,
                    help="how long the worker's link stays down")
    ap.add_argument("--seed", type=int, default=int(os.environ.get("WEIR_CRASH_SEED", "0")) or
                    random.randrange(1 << 30))
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("skipped: network namespaces need root")
        return SKIP
    if not shutil.which("ip"):
        print("FAIL: no `ip` command (Debian package iproute2)")
        return 1
    exit_on_sigterm()
    rng = random.Random(a.seed)
    work = tempfile.mkdtemp(prefix="weir-cluster-netns-")
    set_log_file(os.path.join(work, "test.log"))
    log("cluster netns test: seed %d, %d events at %d/s, link cut for %d ms, work directory %s"
        % (a.seed, a.events, a.rate, a.cut_ms, work))
    remove_stale()
    net = Net(3)
    cluster = None
    passed = False
    started = time.time()
    try:
        try:
            net.up()
        except Problem as e:
            raise Problem("cannot set up network namespaces here: %s" % e)
        log("network: bridge %s %s/24; %s" % (net.bridge, net.host, ", ".join(
            "%s %s" % (net.ns[i], net.addr[i]) for i in net.ns)))
        rows = make_input(os.path.join(work, "events.jsonl"), a.events, a.seed)
        write_input(work, rows)
        job = os.path.join(work, "job.yaml")
        with open(job, "w") as f:
            f.write(JOB.format(name=JOB_NAME, parallelism=a.parallelism, work=work, rate=a.rate))
        bins = {"weir": a.weir, "coordinator": a.coordinator, "worker": a.worker}
        cluster = Cluster(bins, work, hb_timeout_ms=HB_TIMEOUT_MS, hb_interval_ms=HB_INTERVAL_MS,
                          coordinator_host=net.host,
                          worker_prefix=lambda i: ["ip", "netns", "exec", net.ns[i]],
                          advertise=lambda i: net.addr[i])
        cluster.start()
        log("cluster up: coordinator %s:%d, workers %s" % (
            net.host, cluster.port, ", ".join(cluster.alive_workers() or [])))
        cluster.submit(job)
        t0 = time.time()
        expected = a.events / a.rate
        log("submitted %s (about %.0f s of input)" % (JOB_NAME, expected))
        watch = JobWatch(cluster, JOB_NAME)

        # The cut, about a third of the way in, once the job runs with
        # completed checkpoints.
        cut_at = expected * rng.uniform(0.25, 0.4)
        j = None
        while True:
            j = watch.poll() or j
            if watch.state in TERMINAL:
                raise Problem("the job was %s before the cut (raise --events)" % watch.state)
            if (time.time() - t0 >= cut_at and watch.state == "JOB_STATE_RUNNING" and
                    int(j.get("lastCheckpointId", 0)) > 0):
                break
            time.sleep(0.2)
        attempt_before = int(j.get("attempt", 0))
        busy = sorted(i for i in net.ns if cluster.worker_id(i) in watch.tasks_on)
        victim = rng.choice(busy or sorted(net.ns))
        vid = cluster.worker_id(victim)
        wlog = os.path.join(work, "worker-%d.log" % victim)
        clog = os.path.join(work, "coordinator.log")
        wlog_at, clog_at = os.path.getsize(wlog), os.path.getsize(clog)
        log("CUT: %s (%s, %s) at %.1f s: ip link set %s down for %d ms; job attempt %d" % (
            vid, net.ns[victim], "running tasks of the job" if victim in busy else "idle",
            time.time() - t0, net.veth[victim], a.cut_ms, attempt_before))
        ip("link", "set", net.veth[victim], "down")
        cut_end = time.time() + a.cut_ms / 1000.0
        while time.time() < cut_end:
            watch.poll()
            time.sleep(0.2)
        ip("link", "set", net.veth[victim], "up")
        log("link of %s up again at %.1f s" % (vid, time.time() - t0))

        # It rejoins.
        deadline = time.time() + 30
        while time.time() < deadline:
            watch.poll()
            alive = cluster.alive_workers() or []
            if vid in alive:
                break
            time.sleep(0.2)
        else:
            raise Problem("%s did not register again within 30 s of its link coming back" % vid)
        log("%s registered again: workers alive %s" % (vid, ", ".join(alive)))

        deadline = time.time() + 300
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

        # What the logs say about the cut.
        _, fenced = first_line(wlog, r"no word from the coordinator|session .* ended", wlog_at)
        # "worker w1 lost: ..." or "worker lost: ... worker=w1"
        lost_at, lost = first_line(clog, r"worker %s lost|worker lost: .*worker=%s\b" % (vid, vid),
                                   clog_at)
        _, redeploy = first_line(clog, r"RUNNING: attempt", lost_at or clog_at)
        _, rejoin = first_line(
            clog, r"worker %s registered|worker registered: .*worker=%s\b" % (vid, vid), clog_at)
        for what, line in (("worker", fenced), ("coordinator", lost),
                           ("coordinator", redeploy), ("coordinator", rejoin)):
            log("  %s: %s" % (what, line))
        at = clog_at
        while True:
            at, line = first_line(clog, r"RESTARTING: (?!restart \d)", at)
            if line is None:
                break
            log("  coordinator: %s" % line)
        if not fenced:
            raise Problem("%s logged no fencing after its link went down (see %s)" % (vid, wlog))
        if not lost:
            raise Problem("the coordinator did not give %s up (see %s)" % (vid, clog))
        if not rejoin:
            raise Problem("the coordinator logged no new registration of %s (see %s)" % (vid, clog))
        if watch.attempts and max(watch.attempts) <= attempt_before:
            raise Problem("the job did not restart after the cut")
        if fenced[:12] > lost[:12]:
            log("note: %s fenced itself after the coordinator gave it up" % vid)
        cluster.stop()
        check_outputs(work, None, rows)
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
        net.down()
        if passed and not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("work directory kept: %s (test.log, coordinator.log, worker-N.log)" % work)


if __name__ == "__main__":
    sys.exit(main())
