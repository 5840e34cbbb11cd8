"""What the benchmark scripts share: their children's CPU time and the
development broker. Imported by bench.py, kafka_e2e.py, latency.py and
state_growth.py (Python puts a script's own directory on its path)."""
import os
import resource
import subprocess
import time


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
