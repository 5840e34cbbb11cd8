#!/usr/bin/env python3
"""A savepoint of an earlier weir restores; one of a newer weir is refused.

Upgrading weir goes savepoint, new binaries, resubmit. The fixture
(tests/fixtures/savepoint-baa98f9) is a savepoint that weir baa98f9 took, in
the hand-written _metadata format before the protobuf one, with the windows
that weir printed when it restored it. This weir:
  - restores a copy of it with `weir local --from-checkpoint` and prints
    exactly those windows, and its own final checkpoint is of this weir's
    format (major version 2);
  - refuses the same savepoint with its _metadata rewritten as a newer
    weir's (major version 3), naming both versions, before running anything.

usage: savepoint_compat_test.py WEIR FIXTURE_DIR
"""
import glob
import os
import shutil
import struct
import subprocess
import sys
import tempfile


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    return c ^ 0xFFFFFFFF


def run(weir, fixture, work, savepoint):
    env = dict(os.environ, CHECKPOINTS=os.path.join(work, "chk"),
               XDG_STATE_HOME=os.path.join(work, "state"))
    return subprocess.run([weir, "local", os.path.join(fixture, "job.yaml"),
                           "--from-checkpoint", savepoint],
                          env=env, capture_output=True, text=True, timeout=120)


def main():
    weir, fixture = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="weir-savepoint-compat-")
    failed, passed = [], 0
    try:
        # A copy: restoring hard-links the savepoint's files, and the source
        # tree stays untouched.
        old = os.path.join(work, "savepoint-3")
        shutil.copytree(os.path.join(fixture, "savepoint-3"), old)
        p = run(weir, fixture, work, old)
        with open(os.path.join(fixture, "restored-windows.jsonl")) as f:
            want = sorted(f.read().splitlines())
        got = sorted(p.stdout.splitlines())
        if p.returncode != 0:
            failed.append("restore: exit %d:\n%s" % (p.returncode, p.stderr))
        elif "restored job meta-fixture from checkpoint 3" not in p.stderr:
            failed.append("restore did not say it restored checkpoint 3:\n%s" % p.stderr)
        elif got != want:
            failed.append("restore printed %d windows, expected %d; missing %s, extra %s" % (
                len(got), len(want), sorted(set(want) - set(got))[:3],
                sorted(set(got) - set(want))[:3]))
        else:
            chks = glob.glob(os.path.join(work, "chk", "meta-fixture", "chk-*", "_metadata"))
            heads = [open(c, "rb").read(12) for c in chks]
            if not chks or any(h != b"WEIRMETA" + struct.pack("<I", 2) for h in heads):
                failed.append("the restored job's checkpoints are not of format 2: %s" %
                              list(zip(chks, heads)))
            else:
                passed += 1
                print("ok   restored savepoint-baa98f9: the same %d windows as weir baa98f9; "
                      "its checkpoints are of format 2" % len(want))

        # A newer weir's savepoint: header major 3, a valid CRC32C.
        newer = os.path.join(work, "savepoint-newer")
        shutil.copytree(os.path.join(fixture, "savepoint-3"), newer)
        head = b"WEIRMETA" + struct.pack("<I", 3) + b"\x10\x03"
        with open(os.path.join(newer, "_metadata"), "wb") as f:
            f.write(head + struct.pack("<I", crc32c(head)))
        p = run(weir, fixture, work, newer)
        expected = ("checkpoint metadata format 3.x is newer than this weir's (2.0): "
                    "restore it with a weir that reads format 3")
        if p.returncode == 0 or expected not in p.stderr or p.stdout:
            failed.append("a newer savepoint: exit %d, stdout %d bytes, stderr:\n%s" % (
                p.returncode, len(p.stdout), p.stderr))
        else:
            passed += 1
            print("ok   a newer weir's savepoint is refused: %s" % p.stderr.strip())
    except (subprocess.TimeoutExpired, OSError) as e:
        failed.append(str(e))
    for f in failed:
        print("FAIL: %s" % f)
    if failed:
        print("work directory kept: %s" % work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (passed, len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
