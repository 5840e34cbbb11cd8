"""What the benchmark scripts share: the Nexmark options and job files,
their children's CPU time and the development broker. Imported by bench.py, kafka_e2e.py, latency.py and
state_growth.py (Python puts a script's own directory on its path)."""
import os
import re
import resource
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NEXMARK_DIR = os.path.join(ROOT, "config", "jobs", "nexmark")


def add_nexmark_args(ap):
    """The options every Nexmark script takes (bench.py, cluster_nexmark.py)."""
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--queries", default="q0,q1,q2,q3,q5,q7,q8,q11")
    ap.add_argument("--parallelism", default="1,2")
    ap.add_argument("--checkpoints", default="none,1s",
                    help="checkpoint settings: none and/or intervals such as 1s")


def nexmark_job_text(query, checkpoint):
    """config/jobs/nexmark/QUERY.yaml, with its one-line checkpoint block
    replaced by exactly-once checkpoints every `checkpoint` unless that is
    "none"."""
    src = os.path.join(NEXMARK_DIR, query + ".yaml")
    with open(src) as f:
        text = f.read()
    if checkpoint == "none":
        return text
    block = "checkpoint: {mode: exactly_once, interval: %s}" % checkpoint
    text, n = re.subn(r"(?m)^checkpoint:.*$", block, text)
    if n != 1:
        raise SystemExit("%s: expected one one-line `checkpoint:` entry" % src)
    return text


def children_cpu():
    """CPU seconds (user + system) of the children waited for so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def start_dev_broker(build, work, topics):
    """Starts build/weir-dev-broker with `topics` ("name:partitions");
    returns (process, bootstrap servers)."""
    addr = os.path.join(work, "brokers")
    cmd = [os.path.join(build, "weir-dev-broker"), "--address-file", addr]
    for t in topics:
        cmd += ["--topic", t]
    broker = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(work, "broker.log"), "w"))
    for _ in range(300):
        if os.path.exists(addr) and os.path.getsize(addr) > 0:
            return broker, open(addr).read().strip()
        if broker.poll() is not None:
            break
        time.sleep(0.05)
    raise SystemExit("the dev broker did not start (see %s/broker.log)" % work)


def stop(proc):
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
