#!/usr/bin/env python3
"""A restored job runs to its end: the scenario of issue 18, repeated.

One machine: a weir-coordinator, three weir-workers of two slots each
(heartbeat timeout 3 s), the development broker with a 4-partition topic, and
a job at parallelism 3 reading N JSON records at a fixed `rate` with `end:
latest`, keyed 1 s tumbling windows and a filter, exactly-once checkpoints
every 400 ms and two exactly-once file sinks, submitted with `weir submit`.
Each run makes one fault a few seconds into the job:
  coordinator-kill  the coordinator killed with SIGKILL and started again on
                    its data directory (the job resumes as attempt 2);
  worker-pause      one worker running tasks of the job stopped with SIGSTOP
                    for longer than the heartbeat timeout, then resumed (the
                    coordinator restarts the job without it);
and the restored attempt must reach FINISHED with every window and every
filtered row exactly once, and `weir submit --wait` (which follows the job
through the fault, reconnecting after a coordinator restart) must exit 0. A run fails as soon as the job makes no
checkpoint for --stall-after seconds while RUNNING (the stall of issue 18),
naming the pending checkpoint and the subtasks that have not acknowledged it.

--trigger-delay-ms D places the race behind the stall: a worker some of whose
tasks have finished (its sources ended) gets each TriggerCheckpoint D ms late
(WEIR_TEST_DELAY=trigger-after-finish), so a consumer there whose local
inputs have ended aligns on the barriers of the other workers' sources before
its worker knows of the checkpoint. CPU load only sometimes gives that order;
before the fix, the consumer's acknowledgement then went to no pending
checkpoint and was never sent again.

usage: cluster_restore_test.py WEIR WEIR_COORDINATOR WEIR_WORKER WEIR_DEV_BROKER
           [--fault coordinator-kill|worker-pause|both] [--runs N]
           [--events N] [--rate N] [--trigger-delay-ms D] [--seed N] [--keep]
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crash_test import (Problem, check_outputs, load_input, make_input,  # noqa: E402
                        start_broker)
from cluster_crash_test import (Cluster, JobWatch, exit_on_sigterm, log,  # noqa: E402
                                set_log_file)

JOB_NAME = "restore-test"
TERMINAL = ("JOB_STATE_FINISHED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED")

JOB = """\
name: {name}
parallelism: 3
checkpoint:
  interval: 400ms
  mode: exactly_once
  storage: file://{work}/checkpoints
  retain: 2
restart: {{attempts: 20, delay: 200ms}}
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
  big_file:
    from: big
    type: file
    path: {work}/out/big
    format: json
    delivery: exactly_once
"""


def pending_text(j):
    p = j.get("pendingCheckpoint") or {}
    if not p:
        return "no pending checkpoint"
    return "checkpoint %s pending for %s ms, not acknowledged by %s" % (
        p.get("id"), p.get("ageMs", "?"), ", ".join(p.get("waitingFor", [])) or "-")


def one_run(a, run, fault, rng, rows, input_file):
    work = tempfile.mkdtemp(prefix="weir-restore-%d-" % run)
    set_log_file(os.path.join(work, "test.log"))
    log("run %d: %s, work directory %s" % (run, fault, work))
    broker = None
    cluster = None
    paused = None
    waiter = None
    ok = False
    try:
        broker, brokers = start_broker(a.broker, work, partitions=4)
        load_input(brokers, rows, work)
        job = os.path.join(work, "job.yaml")
        with open(job, "w") as f:
            f.write(JOB.format(name=JOB_NAME, work=os.path.abspath(work), brokers=brokers,
                               rate=a.rate))
        bins = {"weir": a.weir, "coordinator": a.coordinator, "worker": a.worker}
        cluster = Cluster(bins, work, workers=3, slots=2, hb_timeout_ms=3000, hb_interval_ms=500)
        if a.trigger_delay_ms:
            cluster.env = dict(cluster.env, WEIR_TEST_DELAY="trigger-after-finish:1:%d" %
                               a.trigger_delay_ms)
        cluster.start()
        # Submitted with --wait, as an operator would: the CLI must follow the
        # job through the fault (reconnecting after a coordinator restart)
        # and exit 0 when it finishes.
        waiter_out = open(os.path.join(work, "submit-wait.log"), "w")
        waiter = subprocess.Popen([a.weir, "--addr", cluster.addr, "submit", job, "--wait"],
                                  stdout=waiter_out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)
        t0 = time.time()
        watch = JobWatch(cluster, JOB_NAME)
        fault_at = rng.uniform(3.0, 5.0)
        faulted = False
        last_chk, last_chk_at = None, time.time()
        deadline = time.time() + a.events / a.rate + 90
        j = None
        while time.time() < deadline:
            now = time.time()
            if not faulted and now - t0 >= fault_at:
                faulted = True
                if watch.state in TERMINAL:
                    raise Problem("the job was %s before the fault: raise --events" % watch.state)
                if fault == "coordinator-kill":
                    cluster.coordinator.kill()
                    log("KILL coordinator at %.1f s" % (now - t0))
                    time.sleep(rng.uniform(0.2, 1.0))
                    cluster.start_coordinator()
                    log("coordinator started again")
                else:
                    busy = [i for i in cluster.workers
                            if cluster.worker_id(i) in watch.tasks_on] or list(cluster.workers)
                    paused = cluster.workers[rng.choice(busy)]
                    os.kill(paused.pid, signal.SIGSTOP)
                    log("SIGSTOP %s at %.1f s for %.0f s" % (paused.name, now - t0, a.pause_s))
                    pause_until = now + a.pause_s
            if paused is not None and now >= pause_until:
                os.kill(paused.pid, signal.SIGCONT)
                log("SIGCONT %s at %.1f s" % (paused.name, now - t0))
                paused = None
            j = watch.poll() or j
            if watch.state in TERMINAL:
                break
            if j is not None and watch.state == "JOB_STATE_RUNNING":
                chk = j.get("lastCheckpointId")
                if chk != last_chk:
                    last_chk, last_chk_at = chk, now
                elif now - last_chk_at > a.stall_after:
                    raise Problem("STALL: attempt %s made no checkpoint for %.0f s (last %s); %s" %
                                  (j.get("attempt"), now - last_chk_at, last_chk,
                                   pending_text(j)))
            else:
                last_chk_at = now
            time.sleep(0.25)
        if paused is not None:
            os.kill(paused.pid, signal.SIGCONT)
        if watch.state != "JOB_STATE_FINISHED":
            raise Problem("the job is %s, not FINISHED (last failure: %s)" % (
                watch.state, (j or {}).get("failure", "")))
        if not faulted:
            raise Problem("the job finished before the fault: raise --events")
        try:
            rc = waiter.wait(timeout=60)
        except subprocess.TimeoutExpired:
            waiter.kill()
            raise Problem("weir submit --wait did not end after the job finished")
        with open(os.path.join(work, "submit-wait.log")) as f:
            said = f.read()
        if rc != 0:
            raise Problem("weir submit --wait exited %d: %s" % (rc, said.strip()[-300:]))
        if fault == "coordinator-kill" and "reconnected to the coordinator" not in said:
            raise Problem("weir submit --wait did not say it reconnected: %s" % said.strip()[-300:])
        attempts = int(j.get("attempt", 0))
        if attempts < 2:
            raise Problem("the fault did not restore the job (attempt %d)" % attempts)
        cluster.stop()
        check_outputs(work, None, rows)
        log("run %d passed: %s, attempt %d, finished %.1f s after submit" % (
            run, fault, attempts, time.time() - t0))
        ok = True
        return True
    except (Problem, subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
        log("run %d FAILED (%s): %s" % (run, fault, e))
        return False
    finally:
        if waiter is not None and waiter.poll() is None:
            waiter.kill()
            waiter.wait()
        if paused is not None:
            try:
                os.kill(paused.pid, signal.SIGCONT)
            except OSError:
                pass
        if cluster:
            cluster.stop()
        if broker:
            broker.terminate()
            broker.wait()
        if ok and not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log("work directory kept: %s (test.log, coordinator.log, worker-N.log)" % work)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weir")
    ap.add_argument("coordinator")
    ap.add_argument("worker")
    ap.add_argument("broker")
    ap.add_argument("--fault", choices=["coordinator-kill", "worker-pause", "both"],
                    default="both")
    ap.add_argument("--runs", type=int, default=2, help="runs per fault")
    ap.add_argument("--events", type=int, default=30_000)
    ap.add_argument("--rate", type=int, default=3_000)
    ap.add_argument("--pause-s", type=float, default=8.0)
    ap.add_argument("--stall-after", type=float, default=20.0,
                    help="seconds without a checkpoint while RUNNING that count as a stall")
    ap.add_argument("--trigger-delay-ms", type=int, default=0)
    ap.add_argument("--seed", type=int, default=int(os.environ.get("WEIR_CRASH_SEED", "0")) or
                    random.randrange(1 << 30))
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    exit_on_sigterm()
    rng = random.Random(a.seed)
    faults = ["coordinator-kill", "worker-pause"] if a.fault == "both" else [a.fault]
    log("restore test: seed %d (WEIR_CRASH_SEED), %d runs of %s, %d events at %d/s%s" % (
        a.seed, a.runs, " and ".join(faults), a.events, a.rate,
        ", triggers delayed %d ms after a finish" % a.trigger_delay_ms if a.trigger_delay_ms else ""))
    tmp = tempfile.mkdtemp(prefix="weir-restore-input-")
    try:
        input_file = os.path.join(tmp, "events.jsonl")
        rows = make_input(input_file, a.events, a.seed)
        passed = failed = 0
        for run in range(a.runs):
            for fault in faults:
                if one_run(a, run * len(faults) + faults.index(fault) + 1, fault, rng, rows,
                           input_file):
                    passed += 1
                else:
                    failed += 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log("%d runs passed, %d failed" % (passed, failed))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
