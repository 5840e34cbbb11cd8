#!/usr/bin/env python3
"""Correctness tests of the weir engine, end to end.

Usage: run_engine_tests.py PATH/TO/weir [-k SUBSTRING] [--keep] [-v]

Each case writes input files into a temporary directory, writes a job file,
runs `weir local` on it (bounded file sources, so the job ends by itself),
reads what the file sinks wrote and compares it with the output computed here
by a small reference implementation written from the semantics in
docs/job-spec.md (Flink's): it never calls the engine.

Comparisons are multisets of rows (JSON objects) wherever the semantics do not
fix an order: doubles compare with a relative tolerance of 1e-9, timestamps as
the ISO-8601 strings the sinks write ("2024-05-01T12:00:00.000Z").

Watermarks and lateness. Whether a row is late depends on the watermark when it
arrives, hence on arrival order. The lateness cases therefore read a single
file with parallelism 1, and the reference simulates the watermark row by row
(max event time seen so far - max_out_of_orderness - 1 ms). An engine may
advance the watermark less often than every row (Flink emits watermarks
periodically; weir once per source batch), which is allowed: the watermark
can only lag. The generators make the data robust to that lag: every row gets
the same verdict (on time / in the allowed lateness (re-fires the window) /
late) whether the watermark is the exact one or the one of LAG_ROWS rows
earlier, and the test checks this property of its own data before running.
The other cases use parallelism 2 and inputs in which no row is ever late
(every row is within max_out_of_orderness of the largest event time before it
in its file), so their results do not depend on timing at all.

Prints one line per case and ends with "N passed, M failed"; exits 1 when a
case failed. Standard library only.
"""

import argparse
import collections
import datetime
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

RUN_TIMEOUT_S = 120
BASE = 1714564800000  # 2024-05-01T12:00:00.000Z
NEG_INF = float("-inf")
# The watermark may lag the exact one by up to this many rows (weir: 1024 per
# source batch); the lateness data is checked to be insensitive to that.
LAG_ROWS = 2500


class CaseFailure(Exception):
    pass


# ---------------------------------------------------------------------------
# Time and formatting helpers


def iso(ms):
    """Epoch millis -> ISO-8601 UTC with milliseconds, as the sinks write."""
    sec, milli = divmod(ms, 1000)
    dt = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=sec)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % milli


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"))


def arrival_order(rng, rows, delay, field="ts"):
    """Orders rows for arrival so that no row is late: sorting by ts + U[0, delay]
    makes every row's time >= (max time before it) - delay, and so does any
    subsequence of the result (a file of a split)."""
    keyed = [(r[field] + rng.randint(0, delay), i, r) for i, r in enumerate(rows)]
    keyed.sort(key=lambda x: (x[0], x[1]))
    return [r for _, _, r in keyed]


def check_in_bound(rows, delay, field="ts"):
    mx = NEG_INF
    for r in rows:
        if r[field] < mx - delay:
            raise AssertionError("test data error: row out of the out-of-orderness bound")
        mx = max(mx, r[field])


def split_files(rng, rows, n):
    """Splits rows (already in arrival order) into n files, keeping order."""
    files = [[] for _ in range(n)]
    for r in rows:
        files[rng.randrange(n)].append(r)
    return files


# ---------------------------------------------------------------------------
# A tiny YAML writer (block style, every string double-quoted)


def yaml_scalar(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(str(v))


def to_yaml(obj, indent=0):
    pad = "  " * indent
    lines = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict) and v:
                lines.append("%s%s:" % (pad, k))
                lines.append(to_yaml(v, indent + 1))
            elif isinstance(v, list) and v and any(isinstance(x, dict) for x in v):
                lines.append("%s%s:" % (pad, k))
                lines.append(to_yaml(v, indent + 1))
            elif isinstance(v, list):
                lines.append("%s%s: [%s]" % (pad, k, ", ".join(yaml_scalar(x) for x in v)))
            else:
                lines.append("%s%s: %s" % (pad, k, yaml_scalar(v)))
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, dict):
                body = to_yaml(item, indent + 1)
                inner = "  " * (indent + 1)
                assert body.startswith(inner)
                lines.append(pad + "- " + body[len(inner):])
            else:
                lines.append("%s- %s" % (pad, yaml_scalar(item)))
    else:
        raise TypeError(obj)
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Aggregates (reference). A spec is (output name, kind, field or None, is_ts).

AGG_TEXT = {
    "count_all": "count()",
    "count": "count({f})",
    "sum": "sum({f})",
    "min": "min({f})",
    "max": "max({f})",
    "avg": "avg({f})",
    "first": "first({f})",
    "last": "last({f})",
    "count_distinct": "count_distinct({f})",
}


def agg_yaml(specs):
    return {name: AGG_TEXT[kind].format(f=field) for name, kind, field, *_ in specs}


def compute_aggs(rows, specs):
    """rows in arrival order; nulls are ignored by every aggregate but count()."""
    out = {}
    for spec in specs:
        name, kind, field = spec[0], spec[1], spec[2]
        is_ts = len(spec) > 3 and spec[3]
        if kind == "count_all":
            out[name] = len(rows)
            continue
        vals = [r.get(field) for r in rows]
        nn = [v for v in vals if v is not None]
        if kind == "count":
            v = len(nn)
        elif kind == "sum":
            v = sum(nn) if nn else None
        elif kind == "min":
            v = min(nn) if nn else None
        elif kind == "max":
            v = max(nn) if nn else None
        elif kind == "avg":
            v = (sum(nn) / len(nn)) if nn else None
        elif kind == "first":
            v = nn[0] if nn else None
        elif kind == "last":
            v = nn[-1] if nn else None
        elif kind == "count_distinct":
            v = len(set(nn))
        else:
            raise ValueError(kind)
        if is_ts and v is not None:
            v = iso(v)
        out[name] = v
    return out


def window_row(keys, start, end, aggs):
    row = dict(keys)
    row["window_start"] = iso(start)
    row["window_end"] = iso(end)
    row.update(aggs)
    return row


def tumbling_start(t, size):
    return t - (t % size)


def sliding_starts(t, size, slide):
    last = t - (t % slide)
    out = []
    s = last
    while s > t - size:
        out.append(s)
        s -= slide
    return out


def ref_time_windows(rows, key_fields, assign, specs):
    """Windowed aggregate when no row is late: group by (key, window)."""
    groups = collections.OrderedDict()
    for r in rows:
        k = tuple(r.get(f) for f in key_fields)
        for (s, e) in assign(r["ts"]):
            groups.setdefault((k, s, e), []).append(r)
    out = []
    for (k, s, e), rs in groups.items():
        out.append(window_row(zip(key_fields, k), s, e, compute_aggs(rs, specs)))
    return out


def ref_sessions(rows, key_fields, gap, specs):
    """Session windows: rows of a key closer than `gap` share a session
    [first ts, last ts + gap). Valid when no row is late."""
    by_key = collections.OrderedDict()
    for r in rows:
        by_key.setdefault(tuple(r.get(f) for f in key_fields), []).append(r)
    out = []
    for k, rs in by_key.items():
        # Session membership does not depend on arrival order; aggregates that
        # do (first/last) are not used with sessions.
        srt = sorted(rs, key=lambda r: r["ts"])
        cur = [srt[0]]
        for r in srt[1:]:
            if r["ts"] - cur[-1]["ts"] < gap:
                cur.append(r)
            else:
                out.append((k, cur))
                cur = [r]
        out.append((k, cur))
    res = []
    for k, cur in out:
        start = cur[0]["ts"]
        end = max(r["ts"] for r in cur) + gap
        res.append(window_row(zip(key_fields, k), start, end, compute_aggs(cur, specs)))
    return res


def ref_count_windows(rows, key_fields, n, specs):
    """Count windows: every n rows of a key in arrival order; a partial
    window at the end is discarded."""
    by_key = collections.OrderedDict()
    out = []
    for r in rows:
        k = tuple(r.get(f) for f in key_fields)
        buf = by_key.setdefault(k, [])
        buf.append(r)
        if len(buf) == n:
            row = dict(zip(key_fields, k))
            # As weir documents it (window.cc): the rows' min time and max + 1.
            row["window_start"] = iso(min(x["ts"] for x in buf))
            row["window_end"] = iso(max(x["ts"] for x in buf) + 1)
            row.update(compute_aggs(buf, specs))
            out.append(row)
            by_key[k] = []
    return out


def verdict(end, allowed, wm):
    """What a row of the window ending at `end` gets when the watermark is wm."""
    if end - 1 + allowed <= wm:
        return "late"
    if end - 1 <= wm:
        return "refire"  # the window has fired; the row updates and re-fires it
    return "ontime"


def watermarks(rows, delay):
    """wm_after[i]: the exact watermark after row i."""
    out = []
    mx = NEG_INF
    for r in rows:
        mx = max(mx, r["ts"])
        out.append(mx - delay - 1)
    return out


def wm_seen(wm_after, i, lag):
    j = i - lag
    return wm_after[j] if j >= 0 else NEG_INF


def check_lag_robust(rows, delay, size, allowed):
    """The data must give every row the same verdict with the exact watermark
    and with one lagging LAG_ROWS rows behind (see the module doc)."""
    wa = watermarks(rows, delay)
    for i, r in enumerate(rows):
        end = tumbling_start(r["ts"], size) + size
        a = verdict(end, allowed, wm_seen(wa, i, 1))
        b = verdict(end, allowed, wm_seen(wa, i, LAG_ROWS))
        if a != b:
            raise AssertionError("test data error: row %d is %s with the exact watermark but %s "
                                 "with a lagging one" % (i, a, b))


def simulate_tumbling(rows, key_fields, size, delay, allowed, specs):
    """Row-by-row simulation of an event-time tumbling window with allowed
    lateness over one input in arrival order. Returns (outputs, late rows)."""
    wa = watermarks(rows, delay)
    state = {}  # (key, start) -> rows
    fired = set()
    outputs, late = [], []
    wm = NEG_INF
    for i, r in enumerate(rows):
        k = tuple(r.get(f) for f in key_fields)
        start = tumbling_start(r["ts"], size)
        end = start + size
        v = verdict(end, allowed, wm)
        if v == "late":
            late.append(r)
        else:
            state.setdefault((k, start), []).append(r)
            if v == "refire":
                outputs.append(window_row(zip(key_fields, k), start, end,
                                          compute_aggs(state[(k, start)], specs)))
                fired.add((k, start))
        new_wm = wa[i]
        if new_wm > wm:
            wm = new_wm
            for (kk, s) in list(state):
                if (kk, s) not in fired and s + size - 1 <= wm:
                    outputs.append(window_row(zip(key_fields, kk), s, s + size,
                                              compute_aggs(state[(kk, s)], specs)))
                    fired.add((kk, s))
            for (kk, s) in list(state):
                if s + size - 1 + allowed <= wm:
                    del state[(kk, s)]  # cleaned up: later rows for it are late
    # End of input: the final watermark fires what has not fired.
    for (kk, s), rs in state.items():
        if (kk, s) not in fired:
            outputs.append(window_row(zip(key_fields, kk), s, s + size, compute_aggs(rs, specs)))
    return outputs, late


# ---------------------------------------------------------------------------
# Comparison


def canon_value(v):
    if isinstance(v, bool):
        return ("b", v)
    if isinstance(v, int):
        return ("n", v)
    if isinstance(v, float):
        if math.isfinite(v) and v.is_integer() and abs(v) < 2 ** 53:
            return ("n", int(v))
        return ("f", float("%.12g" % v))
    if v is None:
        return ("z", None)
    if isinstance(v, (list, dict)):
        return ("j", dumps(v))
    return ("s", v)


def canon_row(row, ignore=()):
    return tuple(sorted((k, canon_value(v)) for k, v in row.items() if k not in ignore))


def close_rows(a, b):
    """Same fields, equal non-float values, floats within tolerance."""
    if len(a) != len(b):
        return False
    for (ka, va), (kb, vb) in zip(a, b):
        if ka != kb:
            return False
        if va == vb:
            continue
        if va[0] in ("n", "f") and vb[0] in ("n", "f"):
            if math.isclose(va[1], vb[1], rel_tol=1e-9, abs_tol=1e-9):
                continue
        return False
    return True


def show_row(c):
    return "{" + ", ".join("%s: %s" % (k, json.dumps(v[1])) for k, v in c) + "}"


def compare_multiset(label, expected, actual, ignore=(), field_order=None, max_show=8):
    """Returns a list of problem strings (empty when equal)."""
    problems = []
    exp = collections.Counter(canon_row(r, ignore) for r in expected)
    act = collections.Counter(canon_row(r, ignore) for r in actual)
    missing = exp - act
    unexpected = act - exp
    if missing and unexpected:
        # Pair up rows that differ only by float rounding.
        miss_list = list(missing.elements())
        unexp_list = list(unexpected.elements())
        still_missing = []
        for m in miss_list:
            for j, u in enumerate(unexp_list):
                if close_rows(m, u):
                    del unexp_list[j]
                    break
            else:
                still_missing.append(m)
        missing = collections.Counter(still_missing)
        unexpected = collections.Counter(unexp_list)
    if missing or unexpected:
        problems.append("%s: expected %d rows, got %d; %d missing, %d unexpected" % (
            label, len(expected), len(actual), sum(missing.values()), sum(unexpected.values())))
        for what, c in (("missing", missing), ("unexpected", unexpected)):
            items = sorted(c.elements())
            for row in items[:max_show]:
                problems.append("  %s: %s" % (what, show_row(row)))
            if len(items) > max_show:
                problems.append("  ... and %d more %s" % (len(items) - max_show, what))
    if field_order is not None:
        order = [f for f in field_order if f not in ignore]
        for r in actual:
            got = [f for f in r.keys() if f not in ignore]
            if got != order:
                problems.append("%s: output fields are %s, expected %s" % (label, got, order))
                break
    return problems


# ---------------------------------------------------------------------------
# Running weir


class Case:
    def __init__(self, runner, name):
        self.runner = runner
        self.name = name
        self.dir = os.path.join(runner.tmp, name)
        os.makedirs(self.dir)
        self.problems = []
        self.rng = random.Random("weir-" + name)
        self.note = ""
        self.elapsed = 0.0
        self.stderr = ""

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def write_lines(self, rel, lines):
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w", encoding="utf-8") as f:
            for line in lines:
                f.write(line + "\n")
        return p

    def write_rows(self, rel, rows, encode):
        return self.write_lines(rel, [dumps(encode(r)) for r in rows])

    def write_split(self, rel_dir, files, encode):
        for i, rows in enumerate(files):
            self.write_rows(os.path.join(rel_dir, "part-%02d.jsonl" % i), rows, encode)
        return self.path(rel_dir)

    def job(self, parallelism, sources, operators, sinks):
        return {
            "name": "it-" + self.name.replace("_", "-"),
            "parallelism": parallelism,
            "checkpoint": {"interval": "1s", "storage": "file://" + self.path("checkpoints")},
            "sources": sources,
            "operators": operators,
            "sinks": sinks,
        }

    def file_sink(self, stream, rel):
        return {"from": stream, "type": "file", "path": self.path(rel), "format": "json"}

    def run(self, job, expect_rc=0):
        text = to_yaml(job) + "\n"
        job_path = self.path("job.yaml")
        with open(job_path, "w") as f:
            f.write(text)
        weir = self.runner.weir
        v = subprocess.run([weir, "validate", job_path], capture_output=True, text=True,
                           timeout=RUN_TIMEOUT_S)
        if v.returncode != 0:
            raise CaseFailure("weir validate exited %d:\n%s" % (v.returncode, indent(v.stderr + v.stdout)))
        t0 = time.monotonic()
        try:
            p = subprocess.run([weir, "-q", "local", job_path], capture_output=True, text=True,
                               timeout=RUN_TIMEOUT_S, cwd=self.dir)
        except subprocess.TimeoutExpired as e:
            raise CaseFailure("weir local did not finish within %ds (stderr: %s)" % (
                RUN_TIMEOUT_S, (e.stderr or b"")[-2000:]))
        self.elapsed = time.monotonic() - t0
        self.stderr = p.stderr
        if self.runner.verbose:
            sys.stdout.write(indent(p.stderr))
        if p.returncode != expect_rc:
            raise CaseFailure("weir local exited %d, expected %d; stderr:\n%s" % (
                p.returncode, expect_rc, indent(p.stderr[-4000:])))
        return p

    def read_sink(self, rel):
        """Rows of every visible file of a sink directory, in file order."""
        d = self.path(rel)
        rows = []
        if not os.path.isdir(d):
            self.problems.append("sink directory %s was not created" % d)
            return rows
        hidden = []
        for name in sorted(os.listdir(d)):
            if name.startswith("."):
                hidden.append(name)
                continue
            with open(os.path.join(d, name), encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        rows.append(json.loads(line))
                    except ValueError as e:
                        self.problems.append("%s:%d is not JSON (%s): %r" % (name, n, e, line[:200]))
        if hidden:
            self.problems.append("note: %s left hidden (uncommitted?) files %s" % (rel, hidden))
        return rows

    def read_sink_files(self, rel):
        """{file name: [rows in order]} of a sink directory."""
        d = self.path(rel)
        out = {}
        if os.path.isdir(d):
            for name in sorted(os.listdir(d)):
                if name.startswith("."):
                    continue
                with open(os.path.join(d, name), encoding="utf-8") as f:
                    out[name] = [json.loads(line) for line in f if line.strip()]
        return out

    def expect(self, label, expected, actual, **kw):
        self.problems.extend(compare_multiset(label, expected, actual, **kw))

    def check(self, cond, message):
        if not cond:
            self.problems.append(message)


def indent(text, pad="    "):
    return "".join(pad + line + "\n" for line in text.splitlines())


CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def ts_encoder(fields, ts_format="iso"):
    """Encodes an internal row (ts in epoch ms) as an input JSON object."""
    def enc(r):
        o = {}
        for f in fields:
            if f not in r:
                continue
            v = r[f]
            if f == "ts" and v is not None:
                v = iso(v) if ts_format == "iso" else v
            o[f] = v
        return o
    return enc


def out_rows(rows, fields, ts_fields=("ts",)):
    """Internal rows -> the rows a sink writes (timestamps as ISO)."""
    res = []
    for r in rows:
        o = {}
        for f in fields:
            v = r.get(f)
            if f in ts_fields and v is not None:
                v = iso(v)
            o[f] = v
        res.append(o)
    return res


def source(path, schema, delay="2s", **extra):
    s = {"type": "file", "path": path, "format": "json", "schema": schema,
         "event_time": {"field": "ts", "max_out_of_orderness": delay}}
    s.update(extra)
    return s


def gen_sales(rng, n, users, step_ms, delay_ms, null_amount=0.1, null_qty=0.05, start=BASE):
    rows = []
    t = start
    for _ in range(n):
        t += rng.randint(0, 2 * step_ms)
        u = rng.choice(users)
        r = {"user": u, "ts": t}
        x = rng.random()
        if u == "ghost" or x < null_amount / 2:
            r["amount"] = None  # explicit null
        elif x < null_amount:
            pass  # absent: null
        else:
            r["amount"] = rng.randint(-40, 800) / 4  # exact in binary: sums are exact
        if rng.random() >= null_qty:
            r["qty"] = rng.randint(-5, 50)
        rows.append(r)
    return arrival_order(rng, rows, delay_ms)


SALES_SCHEMA = {"user": "string", "amount": "double", "qty": "bigint", "ts": "timestamp"}
SALES_FIELDS = ["user", "amount", "qty", "ts"]


# ---------------------------------------------------------------------------
# The cases


@case
def tumbling_aggregates(c):
    """Tumbling 10s windows per user: count(), count(x), sum, min, max, avg."""
    users = ["alice", "bob", "carol", "dave", "erin", "frank", "ghost"]
    rows = gen_sales(c.rng, 3000, users, 40, 2000)
    files = split_files(c.rng, rows, 3)
    for f in files:
        check_in_bound(f, 2000)
    src = c.write_split("in/sales", files, ts_encoder(SALES_FIELDS))
    specs = [("n", "count_all", None), ("n_amount", "count", "amount"), ("total", "sum", "amount"),
             ("lo", "min", "amount"), ("hi", "max", "amount"), ("mean", "avg", "amount"),
             ("qty_sum", "sum", "qty"), ("qty_max", "max", "qty"), ("qty_avg", "avg", "qty")]
    job = c.job(2, {"sales": source(src, SALES_SCHEMA)},
                [{"name": "per_user", "from": "sales", "key_by": ["user"],
                  "window": {"tumbling": "10s"}, "aggregate": agg_yaml(specs)}],
                {"out": c.file_sink("per_user", "out")})
    c.run(job)
    exp = ref_time_windows(rows, ["user"], lambda t: [(tumbling_start(t, 10000),
                                                       tumbling_start(t, 10000) + 10000)], specs)
    c.expect("per_user", exp, c.read_sink("out"),
             field_order=["user", "window_start", "window_end"] + [s[0] for s in specs])


@case
def sliding_windows(c):
    """Sliding windows (size 9s, slide 3s): each row counts in three windows."""
    users = ["u%d" % i for i in range(6)]
    rows = gen_sales(c.rng, 2000, users, 30, 1500, null_amount=0.05, null_qty=0.0)
    files = split_files(c.rng, rows, 3)
    src = c.write_split("in/sales", files, ts_encoder(SALES_FIELDS))
    specs = [("n", "count_all", None), ("qty_total", "sum", "qty"), ("hi", "max", "amount"),
             ("earliest", "min", "ts", True), ("latest", "max", "ts", True)]
    # Two keys, one of them an expression (bigint % keeps the dividend's sign).
    job = c.job(2, {"sales": source(src, SALES_SCHEMA, delay="1500ms")},
                [{"name": "sliding", "from": "sales", "key_by": ["user", {"tier": "qty % 3"}],
                  "window": {"sliding": {"size": "9s", "slide": "3s"}},
                  "aggregate": agg_yaml(specs)}],
                {"out": c.file_sink("sliding", "out")})
    c.run(job)
    for r in rows:
        r["tier"] = int_mod(r["qty"], 3)
    exp = ref_time_windows(rows, ["user", "tier"],
                           lambda t: [(s, s + 9000) for s in sliding_starts(t, 9000, 3000)], specs)
    c.expect("sliding", exp, c.read_sink("out"),
             field_order=["user", "tier", "window_start", "window_end"] + [s[0] for s in specs])


@case
def session_windows(c):
    """Session windows (gap 5s) over out-of-order rows: rows of a key closer
    than the gap share a session, which a late-arriving row in between can
    bridge. Some rows are exactly `gap` apart: they are not closer than the
    gap, so they start a new session (Flink would merge sessions that touch;
    weir and docs say strictly closer)."""
    rng = c.rng
    gap = 5000
    users = ["s%d" % i for i in range(8)]
    rows = []
    for u in users:
        t = BASE + rng.randint(0, 20000)
        for _ in range(rng.randint(8, 20)):  # sessions
            for i in range(rng.randint(1, 12)):  # rows in a session
                if i:
                    t += rng.choice([rng.randint(0, 4900), rng.randint(4900, 4999)])
                rows.append({"user": u, "ts": t, "qty": rng.randint(1, 9),
                             "amount": rng.randint(0, 400) / 4})
            t += rng.choice([gap, gap, rng.randint(5001, 30000)])
    exact = 0
    by_user = collections.defaultdict(list)
    for r in rows:
        by_user[r["user"]].append(r["ts"])
    for ts in by_user.values():
        ts.sort()
        exact += sum(1 for a, b in zip(ts, ts[1:]) if b - a == gap)
    c.check(exact >= 10, "test data error: only %d rows exactly a gap after the previous" % exact)
    rows = arrival_order(rng, rows, 3000)
    files = split_files(rng, rows, 3)
    src = c.write_split("in/events", files, ts_encoder(SALES_FIELDS))
    specs = [("n", "count_all", None), ("qty_total", "sum", "qty"), ("first_ts", "min", "ts", True),
             ("last_ts", "max", "ts", True), ("hi", "max", "amount")]
    job = c.job(2, {"events": source(src, SALES_SCHEMA, delay="3s")},
                [{"name": "sessions", "from": "events", "key_by": ["user"],
                  "window": {"session": {"gap": "5s"}}, "aggregate": agg_yaml(specs)}],
                {"out": c.file_sink("sessions", "out")})
    c.run(job)
    exp = ref_sessions(rows, ["user"], gap, specs)
    merged = sum(1 for r in exp if r["n"] > 1)
    c.check(merged > 20, "test data error: too few multi-row sessions")
    c.expect("sessions", exp, c.read_sink("out"),
             field_order=["user", "window_start", "window_end"] + [s[0] for s in specs])


def csv_quote(v):
    if v is None:
        return ""
    v = str(v)
    if any(ch in v for ch in ',"\n') or v == "":
        return '"' + v.replace('"', '""') + '"'
    return v


@case
def csv_input(c):
    """format csv with a header line: RFC 4180 quoting (delimiters and quotes
    inside quoted fields), an empty unquoted field is null, a quoted empty
    field is the empty string; tumbling 10s windows over it."""
    rng = c.rng
    users = ["plain", "smith, j", 'say "hi"', "o'neil", ""]
    rows = gen_sales(rng, 1500, users, 40, 2000, null_amount=0.15, null_qty=0.0)
    files = split_files(rng, rows, 2)
    for i, rs in enumerate(files):
        lines = ["user,amount,qty,ts"]
        for r in rs:
            lines.append(",".join([csv_quote(r["user"]), csv_quote(r.get("amount")),
                                   csv_quote(r["qty"]), iso(r["ts"])]))
        c.write_lines("in/sales/part-%02d.csv" % i, lines)
    specs = [("n", "count_all", None), ("n_amount", "count", "amount"), ("total", "sum", "amount"),
             ("qty_total", "sum", "qty")]
    src = source(c.path("in/sales"), SALES_SCHEMA)
    src["format"] = {"type": "csv", "header": True}
    job = c.job(2, {"sales": src},
                [{"name": "per_user", "from": "sales", "key_by": ["user"],
                  "window": {"tumbling": "10s"}, "aggregate": agg_yaml(specs)}],
                {"out": c.file_sink("per_user", "out")})
    c.run(job)
    exp = ref_time_windows(rows, ["user"], lambda t: [(tumbling_start(t, 10000),
                                                       tumbling_start(t, 10000) + 10000)], specs)
    c.expect("per_user", exp, c.read_sink("out"),
             field_order=["user", "window_start", "window_end"] + [s[0] for s in specs])


@case
def count_windows(c):
    """Count windows of 7 rows per key in arrival order (one input file, so
    arrival order per key is the file's); partial windows are discarded.
    window_start/window_end of a count window: the min and max + 1 of its
    rows' event times (weir's choice; Flink's GlobalWindow has none)."""
    rng = c.rng
    users = ["c%d" % i for i in range(5)]
    rows = gen_sales(rng, 1500, users, 20, 2000, null_amount=0.0, null_qty=0.0)
    for i, r in enumerate(rows):
        r["seq"] = i + 1
    schema = dict(SALES_SCHEMA, seq="bigint")
    src = c.write_rows("in/events.jsonl", rows, ts_encoder(SALES_FIELDS + ["seq"]))
    specs = [("n", "count_all", None), ("qty_total", "sum", "qty"), ("first_seq", "min", "seq"),
             ("last_seq", "max", "seq"), ("hi", "max", "amount")]
    job = c.job(2, {"events": source(src, schema, parallelism=1)},
                [{"name": "every7", "from": "events", "key_by": ["user"],
                  "window": {"count": 7}, "aggregate": agg_yaml(specs)}],
                {"out": c.file_sink("every7", "out")})
    c.run(job)
    exp = ref_count_windows(rows, ["user"], 7, specs)
    act = c.read_sink("out")
    c.expect("every7", exp, act,
             field_order=["user", "window_start", "window_end"] + [s[0] for s in specs])


def gen_lateness(rng, n_base, users, size, delay, allowed, n_special):
    """One input in arrival order: an on-time stream (about one row per ms of
    event time) with late rows and, when allowed > 0, rows within the allowed
    lateness of windows that have fired (some of them two in a row), placed so
    that their verdicts do not depend on a watermark lag of LAG_ROWS rows."""
    base = []
    t = BASE
    for _ in range(n_base):
        t += rng.choice((0, 1, 1, 2))
        base.append({"user": rng.choice(users), "amount": rng.randint(1, 400) / 4,
                     "ts": t - rng.randint(0, delay)})
    start_special = LAG_ROWS + 3 * size
    special_at = set(rng.sample(range(start_special, n_base), n_special))
    rows, wm_after = [], []
    mx = NEG_INF

    def add(r):
        nonlocal mx
        mx = max(mx, r["ts"])
        rows.append(r)
        wm_after.append(mx - delay - 1)

    for i, r in enumerate(base):
        if i in special_at:
            n = len(rows)
            wm_exact = wm_after[n - 1]
            wm_lag = wm_seen(wm_after, n, LAG_ROWS)
            kind = "refire" if allowed > 0 and rng.random() < 0.6 else "late"
            if kind == "late":
                end_max = wm_lag + 1 - allowed  # end - 1 + allowed <= wm_lag
                end = end_max - (end_max % size) - size * rng.randint(0, 2)
                start = end - size
                if start >= BASE:
                    add({"user": rng.choice(users), "amount": rng.randint(1, 400) / 4,
                         "ts": start + rng.randint(0, size - 1), "special": "late"})
            else:
                # end - 1 <= wm_lag and end - 1 + allowed > wm_exact
                ends = [e for e in range((wm_lag + 1) - ((wm_lag + 1) % size), BASE, -size)
                        if e - 1 + allowed > wm_exact]
                if ends:
                    end = rng.choice(ends)
                    u = rng.choice(users)
                    for _ in range(2 if rng.random() < 0.35 else 1):
                        add({"user": u, "amount": rng.randint(1, 400) / 4,
                             "ts": end - size + rng.randint(0, size - 1), "special": "refire"})
        add(r)
    check_lag_robust(rows, delay, size, allowed)
    return rows


LATE_SCHEMA = {"user": "string", "amount": "double", "ts": "timestamp"}
LATE_SPECS = [("n", "count_all", None), ("total", "sum", "amount"), ("hi", "max", "amount")]


def lateness_case(c, allowed_ms, late_stream):
    size, delay = 1000, 300
    users = ["l%d" % i for i in range(5)]
    rows = gen_lateness(c.rng, 12000, users, size, delay, allowed_ms, 60)
    src = c.write_rows("in/events.jsonl", rows, ts_encoder(["user", "amount", "ts"], "millis"))
    window = {"tumbling": "1s"}
    if allowed_ms:
        window["allowed_lateness"] = "%dms" % allowed_ms
    if late_stream:
        window["late"] = "too_late"
    sinks = {"out": c.file_sink("per_second", "out")}
    if late_stream:
        sinks["late_out"] = c.file_sink("too_late", "late")
    job = c.job(1, {"events": source(src, LATE_SCHEMA, delay="300ms")},
                [{"name": "per_second", "from": "events", "key_by": ["user"], "window": window,
                  "aggregate": agg_yaml(LATE_SPECS)}], sinks)
    c.run(job)
    exp, late = simulate_tumbling(rows, ["user"], size, delay, allowed_ms, LATE_SPECS)
    n_late = len(late)
    c.check(n_late >= 10, "test data error: only %d late rows" % n_late)
    c.expect("per_second", exp, c.read_sink("out"),
             field_order=["user", "window_start", "window_end", "n", "total", "hi"])
    if late_stream:
        c.expect("too_late", out_rows(late, ["user", "amount", "ts"]), c.read_sink("late"),
                 field_order=["user", "amount", "ts"])
    m = re.search(r"([\d,]+) late dropped", c.stderr)
    if late_stream:
        c.check(m is None, "late rows went to the late stream, yet weir reports them dropped")
    elif not m:
        c.problems.append("weir's summary does not count the %d late rows dropped" % n_late)
    elif int(m.group(1).replace(",", "")) != n_late:
        c.problems.append("weir reports %s late rows dropped, expected %d" % (m.group(1), n_late))
    return exp, late


@case
def late_rows_dropped(c):
    """No allowed lateness and no late stream: rows for windows that have
    already fired are dropped; every window fires exactly once."""
    exp, late = lateness_case(c, 0, False)
    c.note = "%d windows, %d late rows dropped" % (len(exp), len(late))


@case
def late_rows_to_late_stream(c):
    """window.late: the rows too late for their window go, unchanged, to a
    named stream that a sink reads."""
    exp, late = lateness_case(c, 0, True)
    c.note = "%d windows, %d late rows" % (len(exp), len(late))


@case
def allowed_lateness_refires(c):
    """allowed_lateness 5s: a row for a fired window within the lateness
    updates it and re-fires it (one more output row with the updated result);
    later rows go to the late stream."""
    exp, late = lateness_case(c, 5000, True)
    keys = collections.Counter((r["user"], r["window_start"]) for r in exp)
    refired = sum(n - 1 for n in keys.values())
    c.check(refired >= 10, "test data error: only %d re-firings" % refired)
    c.note = "%d window results (%d re-firings), %d late rows" % (len(exp), refired, len(late))


def gen_orders_payments(rng):
    users = ["p%d" % i for i in range(15)]
    orders, payments = [], []
    for i in range(700):
        t = BASE + rng.randint(0, 600000)
        u = rng.choice(users)
        orders.append({"order_id": i + 1, "user": u, "amount": rng.randint(4, 2000) / 4, "ts": t})
        if rng.random() < 0.7:
            d = rng.choice([rng.randint(-7000, 7000), 5000, -5000, 5001, -5001, 0])
            payments.append({"pay_id": len(payments) + 1, "user": u, "paid": rng.random() < 0.8,
                             "ts": t + d})
    for _ in range(300):
        payments.append({"pay_id": len(payments) + 1, "user": rng.choice(users),
                         "paid": rng.random() < 0.5, "ts": BASE + rng.randint(0, 600000)})
    return arrival_order(rng, orders, 2000), arrival_order(rng, payments, 2000)


ORDER_SCHEMA = {"order_id": "bigint", "user": "string", "amount": "double", "ts": "timestamp"}
PAY_SCHEMA = {"pay_id": "bigint", "user": "string", "paid": "boolean", "ts": "timestamp"}
JOIN_FIELDS = ["order_id", "user", "amount", "ts", "pay_id", "payments_user", "paid", "payments_ts"]


def join_row(o, p):
    return {"order_id": o["order_id"], "user": o["user"], "amount": o["amount"], "ts": iso(o["ts"]),
            "pay_id": p["pay_id"], "payments_user": p["user"], "paid": p["paid"],
            "payments_ts": iso(p["ts"])}


def join_job(c, join):
    orders, payments = gen_orders_payments(c.rng)
    osrc = c.write_split("in/orders", split_files(c.rng, orders, 2),
                         ts_encoder(list(ORDER_SCHEMA)))
    psrc = c.write_split("in/payments", split_files(c.rng, payments, 3),
                         ts_encoder(list(PAY_SCHEMA), "millis"))
    job = c.job(2, {"orders": source(osrc, ORDER_SCHEMA), "payments": source(psrc, PAY_SCHEMA)},
                [{"name": "matched", "join": join}], {"out": c.file_sink("matched", "out")})
    c.run(job)
    return orders, payments


@case
def interval_join(c):
    """Interval join within 5s (inclusive): pairs with equal users and
    |t_order - t_payment| <= 5s; a right field whose name collides is renamed
    payments_<field>."""
    orders, payments = join_job(c, {"left": "orders", "right": "payments",
                                     "on": "orders.user = payments.user", "within": "5s"})
    by_user = collections.defaultdict(list)
    for p in payments:
        by_user[p["user"]].append(p)
    exp = [join_row(o, p) for o in orders for p in by_user[o["user"]]
           if abs(o["ts"] - p["ts"]) <= 5000]
    c.check(sum(1 for o in orders for p in by_user[o["user"]]
                if abs(o["ts"] - p["ts"]) == 5000) > 5, "test data error: no boundary pairs")
    c.expect("matched", exp, c.read_sink("out"), field_order=JOIN_FIELDS)
    c.note = "%d pairs" % len(exp)


@case
def window_join(c):
    """Window join on tumbling 10s windows: pairs with equal users in the same
    window, plus window_start and window_end."""
    orders, payments = join_job(c, {"left": "orders", "right": "payments",
                                     "on": "orders.user = payments.user",
                                     "window": {"tumbling": "10s"}})
    by_key = collections.defaultdict(list)
    for p in payments:
        by_key[(p["user"], tumbling_start(p["ts"], 10000))].append(p)
    exp = []
    for o in orders:
        s = tumbling_start(o["ts"], 10000)
        for p in by_key[(o["user"], s)]:
            r = join_row(o, p)
            r["window_start"] = iso(s)
            r["window_end"] = iso(s + 10000)
            exp.append(r)
    c.expect("matched", exp, c.read_sink("out"),
             field_order=JOIN_FIELDS + ["window_start", "window_end"])
    c.note = "%d pairs" % len(exp)


@case
def dedupe(c):
    """dedupe within 10s: the first row (in arrival order) of each burst of a
    key is emitted, the repeats within 10s of it dropped; bursts of a key are
    40s or more apart, so each starts afresh. One input file, so arrival order
    per key is the file's; the dedupe operator runs with parallelism 2."""
    rng = c.rng
    rows = []
    seq = 0
    for k in range(40):
        key = "evt-%03d" % k
        t = BASE + rng.randint(0, 30000)
        for _ in range(rng.randint(1, 6)):  # bursts
            for _ in range(rng.randint(1, 5)):  # copies within 2.5s
                seq += 1
                rows.append({"event_id": key, "ts": t + rng.randint(0, 2500), "seq": seq,
                             "payload": rng.choice(["a", "b", "c", None])})
            t += rng.randint(40000, 90000)
    rows = arrival_order(rng, rows, 2000)
    schema = {"event_id": "string", "ts": "timestamp", "seq": "bigint", "payload": "string"}
    src = c.write_rows("in/events.jsonl", rows, ts_encoder(list(schema)))
    job = c.job(2, {"events": source(src, schema, parallelism=1)},
                [{"name": "unique", "from": "events", "key_by": ["event_id"],
                  "dedupe": {"within": "10s"}}],
                {"out": c.file_sink("unique", "out")})
    c.run(job)
    exp, first = [], {}
    for r in rows:
        f = first.get(r["event_id"])
        if f is not None and abs(r["ts"] - f) <= 10000:
            continue
        assert f is None or r["ts"] - f > 30000, "test data error: bursts too close"
        first[r["event_id"]] = r["ts"]
        exp.append(r)
    c.check(len(exp) < len(rows) * 0.6, "test data error: too few duplicates")
    c.expect("unique", out_rows(exp, list(schema)), c.read_sink("out"), field_order=list(schema))
    c.note = "%d of %d rows kept" % (len(exp), len(rows))


@case
def aliases_and_defaults(c):
    """Schema aliases (the same field under other names), defaults for
    missing fields, explicit null stays null, unknown fields ignored, and the
    timestamp and number encodings the json format accepts."""
    rng = c.rng
    schema = {
        "user_id": {"type": "string", "aliases": ["userId", "CustID"]},
        "amount": {"type": "double", "aliases": ["amt"], "default": "0.5"},
        "qty": {"type": "bigint", "aliases": ["quantity"], "default": "1"},
        "country": {"type": "string", "default": "unknown"},
        "vip": {"type": "boolean", "default": "false"},
        "note": "string",
        "ts": {"type": "timestamp", "aliases": ["time", "eventTime"]},
    }
    fields = list(schema)
    lines, exp = [], []
    t = BASE
    for i in range(600):
        t += rng.randint(0, 500)
        e = {}
        o = {}
        uid = "user-%d" % rng.randint(1, 30)
        name = rng.choice(["user_id", "userId", "CustID"])
        if rng.random() < 0.1:
            o[name] = rng.randint(100, 999)  # a number for a string field: its text
            e["user_id"] = str(o[name])
        else:
            o[name] = uid
            e["user_id"] = uid
        x = rng.random()
        amount = rng.randint(0, 4000) / 8
        if x < 0.3:
            o["amount"] = amount
            e["amount"] = amount
        elif x < 0.5:
            o["amt"] = amount
            e["amount"] = amount
        elif x < 0.6:
            o["amount"] = int(amount)  # an integral number for a double
            e["amount"] = float(int(amount))
        elif x < 0.7:
            o["amount"] = str(amount)  # a numeric string for a double
            e["amount"] = amount
        elif x < 0.8:
            o["amount"] = None  # explicit null: null, not the default
            e["amount"] = None
        else:
            e["amount"] = 0.5  # absent: the default
        x = rng.random()
        q = rng.randint(-100, 100)
        if x < 0.3:
            o["qty"] = q
            e["qty"] = q
        elif x < 0.5:
            o["quantity"] = q
            e["qty"] = q
        elif x < 0.6:
            o["qty"] = str(q)  # an integer string for a bigint
            e["qty"] = q
        else:
            e["qty"] = 1
        if rng.random() < 0.5:
            o["country"] = rng.choice(["DE", "FR", "US"])
            e["country"] = o["country"]
        else:
            e["country"] = "unknown"
        if rng.random() < 0.5:
            o["vip"] = rng.random() < 0.5
            e["vip"] = o["vip"]
        else:
            e["vip"] = False
        if rng.random() < 0.4:
            o["note"] = "n%d" % i
            e["note"] = o["note"]
        else:
            e["note"] = None  # no default: null
        ts_name = rng.choice(["ts", "time", "eventTime"])
        form = rng.randrange(5)
        if form == 0:
            o[ts_name] = iso(t)
            e["ts"] = t
        elif form == 1:
            o[ts_name] = t  # epoch millis
            e["ts"] = t
        elif form == 2:
            o[ts_name] = str(t)  # epoch millis as a digit string
            e["ts"] = t
        elif form == 3:
            # +02:00 offset
            local = iso(t + 2 * 3600 * 1000)
            o[ts_name] = local[:-1] + "+02:00"
            e["ts"] = t
        else:
            whole = t - t % 1000
            o[ts_name] = iso(whole)[:19].replace("T", " ")  # no zone: UTC
            e["ts"] = whole
        if rng.random() < 0.3:
            o["extra_%d" % rng.randint(0, 3)] = {"nested": [1, 2]}  # unknown: ignored
        keys = list(o)
        rng.shuffle(keys)
        lines.append(dumps({k: o[k] for k in keys}))
        exp.append(e)
    src = c.write_lines("in/people.jsonl", lines)
    job = c.job(2, {"people": {"type": "file", "path": src, "format": "json", "schema": schema}},
                [{"name": "people_out", "from": "people",
                  "map": {f: f for f in fields}}],
                {"out": c.file_sink("people_out", "out")})
    c.run(job)
    c.expect("people", out_rows(exp, fields), c.read_sink("out"), field_order=fields)


MALFORMED = [
    "this is not json",
    '{"user":"m1","amount":1.5,"qty":3,"ts":"2024-05-01T12:00:01.000Z"',
    '{"user":"m2","amount":"abc","qty":3,"ts":"2024-05-01T12:00:01.000Z"}',
    '{"user":"m3","amount":2.0,"qty":3,"ts":"yesterday"}',
    '{"user":"m4","amount":2.0,"qty":3,"ts":null}',
    '{"user":"m5","amount":2.0,"qty":3}',
    "[1,2,3]",
    '{"user":"m6","amount":2.0,"qty":1.5,"ts":"2024-05-01T12:00:01.000Z"}',
    '{"user":"m7","amount":true,"qty":3,"ts":"2024-05-01T12:00:01.000Z"}',
    '{"user":"m8","amount":2.0,"qty":"many","ts":"2024-05-01T12:00:01.000Z"}',
    '{"user":"m\\u00e9","amount":2.0,"qty":3,"ts":"2024-13-01T12:00:00.000Z"}',
]


def malformed_input(c):
    """Two files of valid rows with malformed lines mixed in. Returns (the
    source dir, valid rows, [(file name, line, payload)] of the malformed)."""
    rng = c.rng
    rows = gen_sales(rng, 1200, ["d%d" % i for i in range(6)], 50, 2000)
    files = split_files(rng, rows, 2)
    enc = ts_encoder(SALES_FIELDS)
    bad = []
    for i, rs in enumerate(files):
        lines = [dumps(enc(r)) for r in rs]
        for m in MALFORMED:
            pos = rng.randint(0, len(lines))
            lines.insert(pos, m)
        name = "part-%02d.jsonl" % i
        for n, line in enumerate(lines, 1):
            if line in MALFORMED:
                bad.append((name, n, line))
        c.write_lines(os.path.join("in/sales", name), lines)
    return c.path("in/sales"), rows, bad


def passthrough_job(c, src_extra):
    src, rows, bad = malformed_input(c)
    job = c.job(2, {"sales": source(src, SALES_SCHEMA, **src_extra)},
                [{"name": "valid", "from": "sales", "filter": "user is not null or user is null"}],
                {"out": c.file_sink("valid", "out")})
    return job, rows, bad


@case
def dead_letters(c):
    """on_error: dead_letter: each malformed line goes to the dead-letter
    target with its original payload, file and line; every valid row still
    reaches the sink."""
    dl = c.path("dead")
    job, rows, bad = passthrough_job(c, {"on_error": "dead_letter",
                                         "dead_letter": {"type": "file", "path": dl}})
    c.run(job)
    c.expect("valid rows", out_rows(rows, SALES_FIELDS), c.read_sink("out"), field_order=SALES_FIELDS)
    # The dead-letter target: a file, or a directory of files.
    got = []
    paths = [dl] if os.path.isfile(dl) else (
        [os.path.join(dl, n) for n in sorted(os.listdir(dl)) if not n.startswith(".")]
        if os.path.isdir(dl) else [])
    c.check(paths, "no dead-letter output at %s" % dl)
    for p in paths:
        with open(p, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    got.append(json.loads(line))
    for d in got:
        if not d.get("error"):
            c.problems.append("dead letter without an error message: %s" % d)
            break
    exp = [{"payload": p, "line": n, "file": f} for f, n, p in bad]
    act = [{"payload": d.get("payload"), "line": d.get("line"),
            "file": os.path.basename(str(d.get("file")))} for d in got]
    c.expect("dead letters", exp, act)
    c.note = "%d valid rows, %d dead letters" % (len(rows), len(bad))


@case
def on_error_skip(c):
    """on_error: skip: malformed lines are skipped (and counted); every valid
    row still reaches the sink."""
    job, rows, bad = passthrough_job(c, {"on_error": "skip"})
    c.run(job)
    c.expect("valid rows", out_rows(rows, SALES_FIELDS), c.read_sink("out"), field_order=SALES_FIELDS)
    m = re.search(r"([\d,]+) malformed", c.stderr)
    if m and int(m.group(1).replace(",", "")) != len(bad):
        c.problems.append("weir reports %s malformed records, expected %d" % (m.group(1), len(bad)))


@case
def on_error_fail(c):
    """on_error: fail (the default): the job fails (exit 6) with a message
    naming the file and line of the malformed record."""
    rng = c.rng
    rows = gen_sales(rng, 300, ["f1", "f2"], 50, 2000)
    lines = [dumps(ts_encoder(SALES_FIELDS)(r)) for r in rows]
    lines.insert(36, '{"user":"f3","amount":"twelve","qty":1,"ts":"2024-05-01T12:00:00Z"}')
    src = c.write_lines("in/sales/orders-2024.jsonl", lines)
    job = c.job(1, {"sales": source(c.path("in/sales"), SALES_SCHEMA)},
                [{"name": "valid", "from": "sales", "filter": "qty >= 0 or qty < 0"}],
                {"out": c.file_sink("valid", "out")})
    p = c.run(job, expect_rc=6)
    c.check(re.search(r"orders-2024\.jsonl:37\b", p.stderr),
            "the error does not name orders-2024.jsonl:37: %r" % p.stderr[-1000:])
    c.check("amount" in p.stderr, "the error does not name the field 'amount': %r" % p.stderr[-1000:])
    assert os.path.exists(src)


@case
def union_of_sources(c):
    """union of two sources with the same schema feeding a tumbling window."""
    rng = c.rng
    users = ["w%d" % i for i in range(6)]
    web = gen_sales(rng, 900, users, 60, 2000, null_qty=0)
    app = gen_sales(rng, 700, users, 80, 2000, null_qty=0)
    wsrc = c.write_split("in/web", split_files(rng, web, 2), ts_encoder(SALES_FIELDS))
    asrc = c.write_split("in/app", split_files(rng, app, 2), ts_encoder(SALES_FIELDS, "millis"))
    specs = [("n", "count_all", None), ("total", "sum", "amount"), ("qty_total", "sum", "qty")]
    job = c.job(2, {"web": source(wsrc, SALES_SCHEMA), "app": source(asrc, SALES_SCHEMA)},
                [{"name": "all_sales", "union": ["web", "app"]},
                 {"name": "per_user", "from": "all_sales", "key_by": ["user"],
                  "window": {"tumbling": "15s"}, "aggregate": agg_yaml(specs)}],
                {"out": c.file_sink("per_user", "out")})
    c.run(job)
    exp = ref_time_windows(web + app, ["user"],
                           lambda t: [(tumbling_start(t, 15000), tumbling_start(t, 15000) + 15000)],
                           specs)
    c.expect("per_user", exp, c.read_sink("out"),
             field_order=["user", "window_start", "window_end"] + [s[0] for s in specs])


@case
def first_last_count_distinct(c):
    """first, last (ignoring nulls) and count_distinct in tumbling windows.
    Per user the rows arrive in event-time order (one file), so first/last
    mean the same by arrival and by event time; users interleave out of order."""
    rng = c.rng
    users = ["f%d" % i for i in range(6)]
    items = ["apple", "pear", "plum", "fig", "kiwi", "lime", "date"]
    rows = []
    last_t = {}
    t = BASE
    for _ in range(2500):
        t += rng.randint(0, 40)
        u = rng.choice(users)
        ts = max(t - rng.randint(0, 1500), last_t.get(u, 0) + 1)
        last_t[u] = ts
        rows.append({"user": u, "ts": ts,
                     "item": rng.choice(items) if rng.random() < 0.85 else None,
                     "amount": rng.randint(0, 100) / 4 if rng.random() < 0.9 else None})
    check_in_bound(rows, 2000)
    schema = {"user": "string", "item": "string", "amount": "double", "ts": "timestamp"}
    src = c.write_rows("in/baskets.jsonl", rows, ts_encoder(list(schema)))
    specs = [("n", "count_all", None), ("first_item", "first", "item"),
             ("last_item", "last", "item"), ("items", "count_distinct", "item"),
             ("first_amount", "first", "amount"), ("last_amount", "last", "amount"),
             ("amounts", "count_distinct", "amount")]
    job = c.job(2, {"baskets": source(src, schema, parallelism=1)},
                [{"name": "per_user", "from": "baskets", "key_by": ["user"],
                  "window": {"tumbling": "5s"}, "aggregate": agg_yaml(specs)}],
                {"out": c.file_sink("per_user", "out")})
    c.run(job)
    exp = ref_time_windows(rows, ["user"],
                           lambda t: [(tumbling_start(t, 5000), tumbling_start(t, 5000) + 5000)], specs)
    c.expect("per_user", exp, c.read_sink("out"),
             field_order=["user", "window_start", "window_end"] + [s[0] for s in specs])


def sql_not(a):
    return None if a is None else (not a)


def sql_and(*xs):
    if any(x is False for x in xs):
        return False
    if any(x is None for x in xs):
        return None
    return True


def sql_or(*xs):
    if any(x is True for x in xs):
        return True
    if any(x is None for x in xs):
        return None
    return False


def cmp(a, op, b):
    if a is None or b is None:
        return None
    return {"=": a == b, "!=": a != b, ">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]


def int_div(a, b):
    if a is None or b is None or b == 0:
        return None
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def int_mod(a, b):
    if a is None or b is None or b == 0:
        return None
    return a - b * int_div(a, b)


def cast_bigint(s):
    if s is None:
        return None
    s = s.strip()
    if re.fullmatch(r"[+-]?\d+", s):
        return int(s)
    return None


@case
def filter_map_chain(c):
    """filter -> map -> filter with SQL null semantics: is null, in, and/or/not
    (three-valued), case (a null condition is not true), cast, coalesce,
    integer / and % (toward zero), division by zero (null), string functions,
    timestamp arithmetic."""
    rng = c.rng
    rows = []
    t = BASE
    for _ in range(2000):
        t += rng.randint(0, 50)
        r = {"ts": t}
        if rng.random() < 0.9:
            r["user"] = rng.choice(["ann", "Bob", "cy", "DANA", "ed"])
        if rng.random() < 0.85:
            r["amount"] = rng.randint(-40, 400) / 4
        if rng.random() < 0.9:
            r["qty"] = rng.choice([0, 13, 666] + list(range(-9, 10)))
        if rng.random() < 0.7:
            r["tag"] = rng.choice(["test", "VIP", "promo", "Std"])
        if rng.random() < 0.8:
            r["code"] = rng.choice(["12", "-7", "0042", "x7", "", "99999"])
        rows.append(r)
    rows = arrival_order(rng, rows, 1000)
    schema = {"user": "string", "amount": "double", "qty": "bigint", "tag": "string",
              "code": "string", "ts": "timestamp"}
    src = c.write_split("in/rows", split_files(rng, rows, 3), ts_encoder(list(schema)))
    first = "(amount is null or amount > 2.5) and coalesce(tag, '') != 'test' and not (qty in (13, 666))"
    mapping = {
        "who": "coalesce(upper(user), 'ANON')",
        "cents": "cast(amount * 100 as bigint)",
        "bucket": "case when amount >= 50 then 'high' when amount >= 10 then 'mid' else 'low' end",
        "half": "qty / 2",
        "rem": "qty % 3",
        "ratio": "amount / qty",
        "big": "amount > 20",
        "label": "concat(lower(coalesce(tag, 'none')), ':', cast(qty as string))",
        "code_num": "cast(code as bigint)",
        "name_len": "length(user)",
        "flo": "floor(amount)",
        "mag": "abs(qty)",
        "ts": "ts",
        "later": "ts + 1000",
    }
    second = "cents is null or cents % 2 = 0 or bucket = 'high'"
    job = c.job(2, {"rows": source(src, schema, delay="1s")},
                [{"name": "kept", "from": "rows", "filter": first},
                 {"name": "shaped", "from": "kept", "map": mapping},
                 {"name": "final", "from": "shaped", "filter": second}],
                {"out": c.file_sink("final", "out")})
    c.run(job)
    exp = []
    for r in rows:
        user, amount, qty, tag, code, ts = (r.get(k) for k in ("user", "amount", "qty", "tag", "code", "ts"))
        tag_c = tag if tag is not None else ""
        in_list = None if qty is None else qty in (13, 666)
        keep = sql_and(sql_or(amount is None, cmp(amount, ">", 2.5)), cmp(tag_c, "!=", "test"),
                       sql_not(in_list))
        if keep is not True:
            continue
        if amount is None:
            bucket = "low"
        elif amount >= 50:
            bucket = "high"
        elif amount >= 10:
            bucket = "mid"
        else:
            bucket = "low"
        cents = None if amount is None else int(amount * 100)
        o = {
            "who": user.upper() if user is not None else "ANON",
            "cents": cents,
            "bucket": bucket,
            "half": int_div(qty, 2),
            "rem": int_mod(qty, 3),
            "ratio": None if amount is None or qty is None or qty == 0 else amount / qty,
            "big": cmp(amount, ">", 20),
            "label": None if qty is None else (tag if tag is not None else "none").lower() + ":" + str(qty),
            "code_num": cast_bigint(code),
            "name_len": None if user is None else len(user),
            "flo": None if amount is None else math.floor(amount),
            "mag": None if qty is None else abs(qty),
            "ts": iso(ts),
            "later": iso(ts + 1000),
        }
        keep2 = sql_or(cents is None, cmp(int_mod(cents, 2), "=", 0), bucket == "high")
        if keep2 is True:
            exp.append(o)
    c.expect("final", exp, c.read_sink("out"), field_order=list(mapping))
    c.note = "%d of %d rows kept" % (len(exp), len(rows))


@case
def rename_and_cast(c):
    """rename and cast: every field passes through in its place, some under a
    new name, some converted by cast's rules (text that is no number becomes
    null), then a second entry casts a timestamp to bigint (epoch ms)."""
    rng = c.rng
    rows = []
    t = BASE
    for _ in range(800):
        t += rng.randint(0, 40)
        r = {"ts": t, "userId": rng.choice(["ann", "bo", "cy"])}
        if rng.random() < 0.9:
            r["amount"] = rng.choice(["12.5", "-3", "x", "", "7.25", " 4"])
        if rng.random() < 0.9:
            r["n"] = rng.choice(["12", "-7", "0042", "x7", "", "99999"])
        r["note"] = rng.choice(["a", "b", None])
        rows.append(r)
    rows = arrival_order(rng, rows, 1000)
    schema = {"userId": "string", "amount": "string", "n": "string", "note": "string",
              "ts": "timestamp"}
    src = c.write_split("in/rows", split_files(rng, rows, 2), ts_encoder(list(schema)))
    job = c.job(2, {"rows": source(src, schema, delay="1s")},
                [{"name": "fixed", "from": "rows", "rename": {"userId": "user_id", "n": "count"},
                  "cast": {"amount": "double", "count": "bigint"}},
                 {"name": "epoch", "from": "fixed", "cast": {"ts": "bigint"}}],
                {"out": c.file_sink("epoch", "out")})
    c.run(job)

    def cast_double(v):
        if v is None:
            return None
        try:
            return float(v.strip()) if v.strip() else None
        except ValueError:
            return None

    exp = [{"user_id": r["userId"], "amount": cast_double(r.get("amount")),
            "count": cast_bigint(r.get("n")), "note": r.get("note"), "ts": r["ts"]}
           for r in rows]
    c.expect("epoch", exp, c.read_sink("out"),
             field_order=["user_id", "amount", "count", "note", "ts"])


@case
def reduce_running(c):
    """reduce: a running aggregate per key, emitting updates. What is fixed:
    every emitted row is the aggregate of a prefix (in arrival order) of its
    key's rows, a key's updates come in order (its rows are in one sink file),
    and its last update covers all its rows. How many updates (one per row as
    Flink's reduce, or fewer) is not fixed and only reported. One input file,
    so arrival order per key is the file's."""
    rng = c.rng
    users = ["r%d" % i for i in range(7)]
    rows = gen_sales(rng, 1500, users, 30, 2000, null_amount=0.0, null_qty=0.0)
    for r in rows:
        r["qty"] = rng.randint(1, 20)  # positive: running sums strictly increase
    src = c.write_rows("in/sales.jsonl", rows, ts_encoder(SALES_FIELDS))
    specs = [("n", "count_all", None), ("qty_total", "sum", "qty"), ("qty_max", "max", "qty"),
             ("spent", "sum", "amount")]
    job = c.job(2, {"sales": source(src, SALES_SCHEMA, parallelism=1)},
                [{"name": "running", "from": "sales", "key_by": ["user"], "reduce": agg_yaml(specs)}],
                {"out": c.file_sink("running", "out")})
    c.run(job)
    prefixes, seen = {}, collections.defaultdict(list)
    for r in rows:
        seen[r["user"]].append(r)
        o = {"user": r["user"]}
        o.update(compute_aggs(seen[r["user"]], specs))
        prefixes[(r["user"], o["n"])] = o
    finals = [prefixes[(u, len(rs))] for u, rs in seen.items()]
    files = c.read_sink_files("out")
    act = [r for rs in files.values() for r in rs]
    c.check(act, "no output")
    last = {}
    for name, rs in files.items():
        for r in rs:
            u = r.get("user")
            p = prefixes.get((u, r.get("n")))
            if p is None or compare_multiset("update", [p], [r]):
                c.problems.append("%s: %s is not a running aggregate of %s's rows (expected %s)"
                                  % (name, r, u, p))
                return
            if r["n"] <= last.get(u, 0):
                c.problems.append("%s: updates of %s out of order (n %s after %s)" % (
                    name, u, r["n"], last[u]))
                return
            last[u] = r["n"]
    last_rows = {}
    for rs in files.values():
        for r in rs:
            last_rows[r.get("user")] = r
    c.expect("last update per key", finals, list(last_rows.values()),
             field_order=["user"] + [s[0] for s in specs])
    c.note = "%d updates for %d rows" % (len(act), len(rows))


# ---------------------------------------------------------------------------


class Runner:
    def __init__(self, weir, tmp, verbose):
        self.weir = weir
        self.tmp = tmp
        self.verbose = verbose


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("weir", help="path of the weir binary")
    ap.add_argument("-k", action="append", default=[], help="run the cases whose name contains this")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("-v", "--verbose", action="store_true", help="show weir's stderr")
    args = ap.parse_args()
    weir = os.path.abspath(args.weir)
    if not os.access(weir, os.X_OK):
        print("not an executable: %s" % weir)
        return 2
    tmp = tempfile.mkdtemp(prefix="weir-engine-tests-")
    runner = Runner(weir, tmp, args.verbose)
    passed = failed = 0
    selected = [f for f in CASES if not args.k or any(k in f.__name__ for k in args.k)]
    for fn in selected:
        c = Case(runner, fn.__name__)
        t0 = time.monotonic()
        try:
            fn(c)
        except CaseFailure as e:
            c.problems.insert(0, str(e))
        except Exception:
            c.problems.insert(0, "exception in the test:\n" + indent(traceback.format_exc()))
        real = [p for p in c.problems if not p.startswith("note:")]
        took = time.monotonic() - t0
        if real:
            failed += 1
            print("FAIL %-28s (%.1fs)" % (fn.__name__, took))
            for p in c.problems:
                print(indent(p, "     "), end="")
            print("     files: %s" % c.dir)
        else:
            passed += 1
            print("ok   %-28s (%.1fs, weir %.1fs)%s" % (fn.__name__, took, c.elapsed,
                                                        "  " + c.note if c.note else ""))
            for p in c.problems:
                print(indent(p, "     "), end="")
        sys.stdout.flush()
    if args.keep or failed:
        print("inputs, jobs and outputs kept in %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
