#!/usr/bin/env python3
"""The function library end to end, against a reference computed here.

Usage: functions_test.py PATH/TO/weir [--rows N] [--keep]

Generates a JSON-lines file of log-like rows (request lines, JSON payloads,
e-mail addresses, timestamps around daylight-saving changes and leap days,
numbers with nulls, zone names and patterns taken from the data), runs a job
that calls every function of docs/job-spec.md's library with `weir local`,
and compares each output row with what Python's own libraries give: `re`
(with patterns on which Python and RE2 agree), `json`, `hashlib`, `hmac` and
`zoneinfo`. The HMAC key comes from the job's `secrets:` through the
environment of `weir local`.

Prints one line per checked column and ends with "N passed, M failed";
exits 1 on a failure. Standard library only.
"""

import argparse
import datetime
import hashlib
import hmac
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import zoneinfo

KEY = "correct horse battery staple"
UTC = datetime.timezone.utc
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
ZONES = ["Europe/Berlin", "America/Havana", "Asia/Kolkata", "UTC", "Australia/Lord_Howe",
         "Not/AZone"]
PATTERNS = [r"^GET ", r"/api/v[0-9]+/", r"[aeiou]{2}", r"((", r"é", ""]

JOB = r"""
name: functions-it
secrets:
  pii: {env: WEIR_IT_PII_KEY}
sources:
  rows:
    type: file
    path: %(input)s
    format: json
    schema:
      id: bigint
      line: string
      payload: string
      email: string
      ts: timestamp
      amount: double
      n: bigint
      zone: string
      pat: string
operators:
  - name: mapped
    from: rows
    map:
      id: id
      method: "regexp_extract(line, '^(\\w+) (\\S+)', 1)"
      path: "regexp_extract(line, '^(\\w+) (\\S+)', 2)"
      whole: "regexp_extract(line, '[0-9]{3}$')"
      is_api: "regexp_like(line, ' /api/')"
      row_like: "regexp_like(line, pat)"
      masked: "regexp_replace(line, '[0-9]+', '#')"
      swapped: "regexp_replace(email, '^ *([^@ ]+)@([^ ]+) *$', '\\2:\\1')"
      user_id: "json_value(payload, '$.user.id')"
      sku: "json_value(payload, '$.items[0].sku')"
      price: "json_value(payload, '$.items[0].price')"
      flag: "json_value(payload, '$[''flag'']')"
      dup: "json_value(payload, '$.dup')"
      name: "json_value(payload, '$.user.name')"
      sha: "sha256(line)"
      md: "md5(payload)"
      pseudo: "hmac_sha256(lower(trim(email)), 'pii')"
      day_berlin: "date_trunc('day', ts, 'Europe/Berlin')"
      hour_zone: "date_trunc('hour', ts, zone)"
      week: "date_trunc('week', ts)"
      month_ny: "date_trunc('month', ts, 'America/New_York')"
      year: "date_trunc('year', ts)"
      minute: "date_trunc('minute', ts, 'Europe/Berlin')"
      hour_berlin: "date_part('hour', ts, 'Europe/Berlin')"
      dow: "date_part('dow', ts)"
      doy_zone: "date_part('doy', ts, zone)"
      epoch: "date_part('epoch', ts)"
      stamp: "format_timestamp(ts, '%%Y-%%m-%%d %%H:%%M:%%S.%%L %%z %%Z %%a %%b %%j', 'Europe/Berlin')"
      stamp_zone: "format_timestamp(ts, '%%F %%T %%Z', zone)"
      field: "split_part(line, ' ', n)"
      trimmed: "trim(email)"
      ltrimmed: "ltrim(email, ' x')"
      rtrimmed: "rtrim(line, '0123456789 ')"
      replaced: "replace(line, 'HTTP', 'http')"
      starts: "starts_with(line, 'GET')"
      ends: "ends_with(line, '200')"
      slash: "strpos(line, '/')"
      lpadded: "lpad(cast(n as string), 6, '0')"
      rpadded: "rpad(email, n, 'é.')"
      up: "ceil(amount)"
      sgn: "sign(amount)"
      sgn_n: "sign(n)"
      root: "sqrt(amount)"
      squared: "power(amount, 2)"
      log: "ln(amount)"
      grown: "exp(amount / 100)"
      digits: "log10(abs(amount))"
      most: "greatest(amount, n, 0)"
      fewest: "least(amount, n)"
      nonzero: "nullif(n, 0)"
sinks:
  out:
    from: mapped
    type: file
    path: %(output)s
    format: json
"""


# ---------------------------------------------------------------------------
# Data


def gen_line(rng):
    method = rng.choice(["GET", "POST", "PUT", "DELETE", "get", "X-1"])
    segs = [rng.choice(["api", "v1", "v22", "users", "naïve", "日本", "café", "a b", "42"])
            for _ in range(rng.randint(0, 4))]
    path = "/" + "/".join(segs)
    tail = rng.choice([" HTTP/1.1 200", " HTTP/2 404", "", " 200", "  500"])
    if rng.random() < 0.05:
        return rng.choice(["", "   ", "no request here", "😀 emoji line 1"])
    return method + " " + path + tail


def gen_number(rng):
    """A JSON number as written, in several spellings."""
    return rng.choice(["0", "-0", "1.50", "2e3", "-7", "12345678901234567890", "3.14159",
                       "1E-2", "0.0", str(rng.randint(-1000, 1000))])


def gen_payload(rng):
    r = rng.random()
    if r < 0.08:
        return rng.choice(["not json", '{"a": 1,', "", "[1, 2", '{"user": {"id": 1}} x'])
    parts = []
    if rng.random() < 0.9:
        uid = rng.choice([gen_number(rng), '"u-%d"' % rng.randint(0, 99), "true", "null",
                          '{"x": 1}', "[1]"])
        name = rng.choice(['"Zoë \\"Z\\""', '"\\u00e9t\\u00e9"', '"plain"', '"tab\\tnew\\nline"'])
        parts.append('"user": {"id": %s, "name": %s}' % (uid, name))
    if rng.random() < 0.8:
        items = []
        for _ in range(rng.randint(0, 3)):
            items.append('{"sku": "%s", "price": %s}' % (rng.choice(["A-1", "B/2", "ß"]),
                                                          gen_number(rng)))
        parts.append('"items": [%s]' % ", ".join(items))
    if rng.random() < 0.5:
        parts.append('"flag": %s' % rng.choice(["true", "false", "null", '"yes"']))
    if rng.random() < 0.3:
        parts.append('"dup": %s, "dup": %s' % (gen_number(rng), gen_number(rng)))
    rng.shuffle(parts)
    return "{" + ", ".join(parts) + "}"


def ms_of(y, mo, d, h=0, mi=0, s=0, tz=UTC):
    return (datetime.datetime(y, mo, d, h, mi, s, tzinfo=tz)
            - datetime.datetime(1970, 1, 1, tzinfo=UTC)) // datetime.timedelta(milliseconds=1)


# Instants near daylight-saving changes (Berlin, Havana, Lord Howe), leap
# days and year ends, and before 1970.
ANCHORS = [
    ms_of(2024, 3, 31, 0, 30), ms_of(2024, 3, 31, 1, 0), ms_of(2024, 10, 27, 0, 30),
    ms_of(2024, 10, 27, 1, 30), ms_of(2024, 2, 29, 12), ms_of(2023, 3, 1), ms_of(2024, 12, 31, 23),
    ms_of(2024, 3, 10, 5, 30), ms_of(2024, 10, 5, 15, 45), ms_of(2024, 4, 6, 15, 15),
    ms_of(1969, 12, 31, 23, 59, 59), ms_of(2000, 2, 29, 23, 59, 59),
]


def gen_rows(rng, count):
    rows = []
    for i in range(count):
        ts = rng.choice(ANCHORS) + rng.randint(-3 * 3600 * 1000, 3 * 3600 * 1000)
        if rng.random() < 0.3:
            ts = rng.randint(ms_of(1960, 1, 1), ms_of(2040, 1, 1))
        email = rng.choice(["Ann@Example.com", "  bob@x.org ", "xx zoë@x.de", "", "no-at-sign",
                            "ÄRGER@umlaut.de", "x@y"])
        rows.append({
            "id": i,
            "line": gen_line(rng),
            "payload": gen_payload(rng),
            "email": None if rng.random() < 0.05 else email,
            "ts": None if rng.random() < 0.03 else ts,
            "amount": None if rng.random() < 0.1 else rng.choice(
                [0.0, -0.0, 1.5, -2.25, 100.0, 1e-3, rng.uniform(-500, 500)]),
            "n": None if rng.random() < 0.1 else rng.choice([0, 1, 2, 3, -1, -2, -4, 7, 12, -40]),
            "zone": rng.choice(ZONES),
            "pat": rng.choice(PATTERNS),
        })
    return rows


# ---------------------------------------------------------------------------
# The reference, from Python's libraries and docs/job-spec.md


def ascii_lower(s):
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in s)


def re_compile(p):
    try:
        return re.compile(p, re.ASCII)
    except re.error:
        return None


def extract(s, p, group=0):
    m = re.search(p, s, re.ASCII)
    return None if m is None else m.group(group)


def json_value(text, path):
    """path: list of str keys / int indexes. Numbers come back as written."""
    class Raw(str):
        pass

    def first_wins(pairs):
        d = {}
        for k, v in pairs:
            d.setdefault(k, v)
        return d
    try:
        v = json.loads(text, object_pairs_hook=first_wins, parse_float=Raw, parse_int=Raw,
                       parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    except ValueError:
        return None
    for step in path:
        if isinstance(step, int):
            if not isinstance(v, list) or step >= len(v):
                return None
        elif not isinstance(v, dict) or step not in v:
            return None
        v = v[step]
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)) or v is None:
        return None
    return str(v)


def zone_of(name):
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)
MS = datetime.timedelta(milliseconds=1)


def local_of(ms, tz):
    return (EPOCH + ms * MS).astimezone(tz)


def ms_of_aware(dt):
    return (dt - EPOCH) // MS


def instant_of_local(naive, tz):
    """docs/job-spec.md: the earlier instant of an ambiguous local time; the
    first instant after the gap for one that does not exist."""
    early = naive.replace(tzinfo=tz, fold=0)
    late = naive.replace(tzinfo=tz, fold=1)
    cands = []
    for c in (early, late):
        t = ms_of_aware(c)
        if local_of(t, tz).replace(tzinfo=None) == naive:
            cands.append(t)
    if cands:
        return min(cands)
    # In a gap: the transition instant, between the two readings.
    lo, hi = sorted([ms_of_aware(early) // 1000, ms_of_aware(late) // 1000])
    off_before = local_of(lo * 1000 - 1000, tz).utcoffset()
    while lo < hi:  # first second whose offset differs from before the gap
        mid = (lo + hi) // 2
        if local_of(mid * 1000, tz).utcoffset() == off_before:
            lo = mid + 1
        else:
            hi = mid
    return lo * 1000


def trunc(unit, ms, tz):
    loc = local_of(ms, tz).replace(tzinfo=None)
    if unit == "minute":
        loc = loc.replace(second=0, microsecond=0)
    elif unit == "hour":
        loc = loc.replace(minute=0, second=0, microsecond=0)
    elif unit == "day":
        loc = loc.replace(hour=0, minute=0, second=0, microsecond=0)
    elif unit == "week":
        loc = (loc - datetime.timedelta(days=loc.weekday())).replace(
            hour=0, minute=0, second=0, microsecond=0)
    elif unit == "month":
        loc = loc.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elif unit == "year":
        loc = loc.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return instant_of_local(loc, tz)


def fmt(ms, spec, tz):
    loc = local_of(ms, tz)
    out = []
    i = 0
    while i < len(spec):
        c = spec[i]
        if c != "%" or i + 1 == len(spec):
            out.append(c)
            i += 1
            continue
        d = spec[i + 1]
        i += 2
        if d == "L":
            out.append("%03d" % (ms % 1000))
        elif d == "Z":
            out.append(loc.tzname())
        elif d in "Y":
            out.append("%04d" % loc.year)
        else:  # C-locale strftime for the rest
            out.append(loc.strftime("%" + d))
    return "".join(out)


def split_part(s, d, n):
    if n == 0:
        return None
    fields = s.split(d) if d else [s]
    k = n - 1 if n > 0 else len(fields) + n
    return fields[k] if 0 <= k < len(fields) else ""


def trim_set(s, chars, left, right):
    if left:
        s = s.lstrip(chars)
    if right:
        s = s.rstrip(chars)
    return s


def pad(s, n, fill, left):
    if n <= 0:
        return ""
    if len(s) >= n:
        return s[:n]
    if not fill:
        return s
    filler = (fill * n)[: n - len(s)]
    return filler + s if left else s + filler


def strict(f):
    """Null in, null out."""
    def g(*args):
        return None if any(a is None for a in args) else f(*args)
    return g


def nan_to_null(f):
    def g(x, *rest):
        try:
            v = f(x, *rest)
        except (ValueError, OverflowError, ZeroDivisionError):
            return None
        if isinstance(v, complex) or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))):
            return None
        return v
    return g


def iso(ms):
    if ms is None:
        return None
    sec, milli = divmod(ms, 1000)
    dt = datetime.datetime(1970, 1, 1, tzinfo=UTC) + datetime.timedelta(seconds=sec)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % milli


def reference(r):
    line, payload, email, ts = r["line"], r["payload"], r["email"], r["ts"]
    amount, n, zone = r["amount"], r["n"], zone_of(r["zone"])
    pat = re_compile(r["pat"])
    out = {"id": r["id"]}
    out["method"] = extract(line, r"^(\w+) (\S+)", 1)
    out["path"] = extract(line, r"^(\w+) (\S+)", 2)
    out["whole"] = extract(line, r"[0-9]{3}$")
    out["is_api"] = " /api/" in line
    out["row_like"] = None if pat is None else pat.search(line) is not None
    out["masked"] = re.sub(r"[0-9]+", "#", line)
    out["swapped"] = strict(lambda e: re.sub(r"^ *([^@ ]+)@([^ ]+) *$", r"\2:\1", e))(email)
    out["user_id"] = json_value(payload, ["user", "id"])
    out["sku"] = json_value(payload, ["items", 0, "sku"])
    out["price"] = json_value(payload, ["items", 0, "price"])
    out["flag"] = json_value(payload, ["flag"])
    out["dup"] = json_value(payload, ["dup"])
    out["name"] = json_value(payload, ["user", "name"])
    out["sha"] = hashlib.sha256(line.encode()).hexdigest()
    out["md"] = hashlib.md5(payload.encode()).hexdigest()
    out["pseudo"] = strict(lambda e: hmac.new(KEY.encode(), ascii_lower(e.strip(" ")).encode(),
                                              hashlib.sha256).hexdigest())(email)
    t = strict(lambda ms, u, z: iso(trunc(u, ms, z)))
    out["day_berlin"] = t(ts, "day", BERLIN)
    out["hour_zone"] = t(ts, "hour", zone)
    out["week"] = t(ts, "week", UTC)
    out["month_ny"] = t(ts, "month", zoneinfo.ZoneInfo("America/New_York"))
    out["year"] = t(ts, "year", UTC)
    out["minute"] = t(ts, "minute", BERLIN)
    out["hour_berlin"] = strict(lambda ms: local_of(ms, BERLIN).hour)(ts)
    out["dow"] = strict(lambda ms: local_of(ms, UTC).isoweekday() % 7)(ts)
    out["doy_zone"] = strict(lambda ms, z: local_of(ms, z).timetuple().tm_yday)(ts, zone)
    out["epoch"] = strict(lambda ms: ms // 1000)(ts)
    out["stamp"] = strict(lambda ms: fmt(ms, "%Y-%m-%d %H:%M:%S.%L %z %Z %a %b %j", BERLIN))(ts)
    out["stamp_zone"] = strict(lambda ms, z: fmt(ms, "%F %T %Z", z))(ts, zone)
    out["field"] = strict(lambda k: split_part(line, " ", k))(n)
    out["trimmed"] = strict(lambda e: e.strip(" "))(email)
    out["ltrimmed"] = strict(lambda e: trim_set(e, " x", True, False))(email)
    out["rtrimmed"] = trim_set(line, "0123456789 ", False, True)
    out["replaced"] = line.replace("HTTP", "http")
    out["starts"] = line.startswith("GET")
    out["ends"] = line.endswith("200")
    out["slash"] = line.find("/") + 1
    out["lpadded"] = strict(lambda k: pad(str(k), 6, "0", True))(n)
    out["rpadded"] = strict(lambda e, k: pad(e, k, "é.", False))(email, n)
    out["up"] = strict(math.ceil)(amount)
    out["sgn"] = strict(lambda x: (x > 0) - (x < 0))(amount)
    out["sgn_n"] = strict(lambda x: (x > 0) - (x < 0))(n)
    out["root"] = strict(nan_to_null(lambda x: math.sqrt(x) if x >= 0 else None))(amount)
    out["squared"] = strict(nan_to_null(lambda x: x ** 2))(amount)
    out["log"] = strict(nan_to_null(math.log))(amount)
    out["grown"] = strict(nan_to_null(lambda x: math.exp(x / 100)))(amount)
    out["digits"] = strict(nan_to_null(lambda x: math.log10(abs(x))))(amount)
    present = [v for v in (amount, n, 0) if v is not None]
    out["most"] = max(present)
    present = [v for v in (amount, n) if v is not None]
    out["fewest"] = min(present) if present else None
    out["nonzero"] = None if n is None or n == 0 else n
    return out


# ---------------------------------------------------------------------------
# Comparison


def same(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or a == b and type(a) is type(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weir")
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="weir-functions-")
    rng = random.Random(20261208)
    rows = gen_rows(rng, args.rows)
    input_path = os.path.join(tmp, "rows.jsonl")
    with open(input_path, "w", encoding="utf-8") as f:
        for r in rows:
            enc = dict(r)
            if enc["ts"] is not None:
                enc["ts"] = iso(enc["ts"])
            f.write(json.dumps(enc, ensure_ascii=False) + "\n")
    out_dir = os.path.join(tmp, "out")
    job_path = os.path.join(tmp, "job.yaml")
    with open(job_path, "w", encoding="utf-8") as f:
        f.write(JOB % {"input": input_path, "output": out_dir})
    env = dict(os.environ, WEIR_IT_PII_KEY=KEY)
    p = subprocess.run([os.path.abspath(args.weir), "-q", "local", job_path], capture_output=True, text=True,
                       timeout=300, cwd=tmp, env=env)
    if p.returncode != 0:
        print("weir local exited %d:\n%s" % (p.returncode, p.stderr[-4000:]))
        print("0 passed, 1 failed")
        return 1
    actual = {}
    for name in sorted(os.listdir(out_dir)):
        if name.startswith("."):
            continue
        with open(os.path.join(out_dir, name), encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    row = json.loads(line)
                    actual[row["id"]] = row
    expected = {r["id"]: reference(r) for r in rows}
    passed = failed = 0
    if set(actual) != set(expected):
        print("FAIL rows: missing %s, extra %s" % (sorted(set(expected) - set(actual))[:10],
                                                  sorted(set(actual) - set(expected))[:10]))
        failed += 1
    columns = list(next(iter(expected.values())).keys())
    by_id = {r["id"]: r for r in rows}
    for col in columns:
        bad = [(i, expected[i][col], actual[i].get(col)) for i in sorted(expected)
               if i in actual and not same(expected[i][col], actual[i].get(col))]
        if bad:
            failed += 1
            print("FAIL %s: %d of %d rows differ, e.g.:" % (col, len(bad), len(expected)))
            for i, e, a in bad[:5]:
                print("    id %d: expected %r, weir %r; input %s" % (
                    i, e, a, json.dumps(by_id[i], ensure_ascii=False)))
        else:
            passed += 1
            nulls = sum(1 for i in expected if expected[i][col] is None)
            print("ok   %-12s %d rows (%d null)" % (col, len(expected), nulls))
    if args.keep:
        print("kept " + tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
