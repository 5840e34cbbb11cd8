#!/usr/bin/python3
"""The avro format against an encoder and decoder that are not weir's.

Debian's python3-avro writes Avro binary datums (plain, and in the
schema-registry wire format with two writer schemas), python3-kafka produces
them to a weir-dev-broker topic, and `weir local` reads them with an avro
source and writes (1) a json file sink and (2) an avro kafka sink. The
writer schema has every primitive type, enum, fixed, array, map and a
nested record (read through a dotted alias), decimal and timestamp-millis;
the sink writes boolean, int, long, double, bytes, decimal and a union with
null. The json rows must equal what the test wrote; the avro sink's
messages, consumed with python3-kafka and decoded by python3-avro, must too. One malformed datum must
go to the dead-letter file with a reason, not crash the job.

Usage: avro_interop_test.py PATH/TO/weir PATH/TO/weir-dev-broker
Exit status 0 on success.
"""
import datetime
import decimal
import glob
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import avro.io
import avro.schema
from interop_util import consume, fail, start_dev_broker, stop
from kafka import KafkaProducer

WRITER_V1 = {
    "type": "record", "name": "Order", "namespace": "shop",
    "fields": [
        {"name": "userId", "type": "string"},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal",
                                    "precision": 10, "scale": 2}},
        {"name": "qty", "type": "int"},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "ok", "type": "boolean"},
        {"name": "weight", "type": "float"},
        {"name": "score", "type": "double"},
        {"name": "raw", "type": "bytes"},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["WEB", "APP"]}},
        {"name": "attrs", "type": {"type": "map", "values": "long"}},
        {"name": "addr", "type": {"type": "record", "name": "Addr",
                                  "fields": [{"name": "city", "type": "string"}]}},
        {"name": "code", "type": {"type": "fixed", "name": "Code", "size": 2}},
    ],
}
# A later version: renamed user field, no decimal, a new field weir ignores.
WRITER_V2 = {
    "type": "record", "name": "Order", "namespace": "shop",
    "fields": [
        {"name": "user_id", "type": "string"},
        {"name": "qty", "type": "long"},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "ok", "type": "boolean"},
        {"name": "channel", "type": "string"},
    ],
}
# The schema weir's avro sink writes, and python3-avro reads back.
SINK = {
    "type": "record", "name": "Out", "namespace": "shop",
    "fields": [
        {"name": "user_id", "type": "string"},
        {"name": "amount", "type": ["null", "double"], "default": None},
        {"name": "qty", "type": "long"},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "ok", "type": "boolean"},
        {"name": "qty32", "type": "int"},
        {"name": "score", "type": ["null", "double"], "default": None},
        {"name": "raw", "type": ["null", "bytes"], "default": None},
        {"name": "price", "type": ["null", {"type": "bytes", "logicalType": "decimal",
                                            "precision": 12, "scale": 2}], "default": None},
    ],
}

UTC = datetime.timezone.utc


def encode(schema, datum):
    buf = io.BytesIO()
    avro.io.DatumWriter(avro.schema.parse(json.dumps(schema))).write(
        datum, avro.io.BinaryEncoder(buf))
    return buf.getvalue()


def framed(schema_id, payload):
    return b"\x00" + struct.pack(">I", schema_id) + payload



def main():
    weir, broker_bin = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="weir-avro-interop.")
    broker = None
    try:
        broker, bootstrap = start_dev_broker(broker_bin, work,
                                             ["plain:1", "framed:1", "out:1", "dlq:1"])

        base = datetime.datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
        plain_rows, expected = [], []
        for i in range(20):
            ts = base + datetime.timedelta(milliseconds=1500 * i + 7)
            datum = {"userId": "u%d" % (i % 3), "amount": decimal.Decimal("%d.%02d" % (i, i)),
                     "qty": i - 5, "ts": ts, "note": None if i % 2 else "n%d" % i,
                     "tags": ["a", "b%d" % i][: i % 3], "ok": i % 4 == 0,
                     "weight": i / 4, "score": i * 1.1 - 3, "raw": b"r%d" % i,
                     "kind": ["WEB", "APP"][i % 2], "attrs": {"n": i} if i % 2 else {},
                     "addr": {"city": "c%d" % (i % 4)}, "code": b"%02d" % i}
            plain_rows.append(encode(WRITER_V1, datum))
            expected.append({"user_id": datum["userId"], "amount": float(datum["amount"]),
                             "qty": i - 5, "ts": ts, "note": datum["note"],
                             "tags": json.dumps(datum["tags"], separators=(",", ":")),
                             "ok": datum["ok"], "country": "unknown",
                             "weight": i / 4, "score": i * 1.1 - 3, "raw": "r%d" % i,
                             "kind": datum["kind"],
                             "attrs": json.dumps(datum["attrs"], separators=(",", ":")),
                             "city": datum["addr"]["city"], "code": "%02d" % i})
        framed_rows, framed_expected = [], []
        for i in range(6):
            ts = base + datetime.timedelta(seconds=100 + i)
            if i % 2 == 0:
                datum = {"userId": "f%d" % i, "amount": decimal.Decimal("-0.50"), "qty": i,
                         "ts": ts, "note": "x", "tags": [], "ok": True, "weight": 0.5,
                         "score": 2.0, "raw": b"", "kind": "APP", "attrs": {},
                         "addr": {"city": "x"}, "code": b"zz"}
                framed_rows.append(framed(11, encode(WRITER_V1, datum)))
                framed_expected.append({"user_id": "f%d" % i, "amount": -0.5, "qty": i, "ts": ts,
                                        "note": "x", "tags": "[]", "ok": True,
                                        "country": "unknown", "weight": 0.5, "score": 2.0,
                                        "raw": "", "kind": "APP", "attrs": "{}", "city": "x",
                                        "code": "zz"})
            else:
                datum = {"user_id": "g%d" % i, "qty": 2 ** 40 + i, "ts": ts, "ok": False,
                         "channel": "web"}
                framed_rows.append(framed(12, encode(WRITER_V2, datum)))
                framed_expected.append({"user_id": "g%d" % i, "amount": None,
                                        "qty": 2 ** 40 + i, "ts": ts, "note": None,
                                        "tags": None, "ok": False, "country": "unknown",
                                        "weight": None, "score": None, "raw": None,
                                        "kind": None, "attrs": None, "city": None,
                                        "code": None})
        framed_rows.append(framed(99, b"\x02"))         # an id weir does not know
        plain_rows.insert(5, b"\x08abc")               # truncated datum

        producer = KafkaProducer(bootstrap_servers=bootstrap)
        for p in plain_rows:
            producer.send("plain", p, partition=0)
        for p in framed_rows:
            producer.send("framed", p, partition=0)
        producer.flush()
        producer.close()

        v1_path = os.path.join(work, "order_v1.avsc")
        with open(v1_path, "w") as f:
            json.dump(WRITER_V1, f)
        schema_yaml = """
    schema:
      user_id: {type: string, aliases: [userId]}
      amount: double
      qty: bigint
      ts: timestamp
      note: string
      tags: string
      ok: boolean
      country: {type: string, default: unknown}
      weight: double
      score: double
      raw: bytes
      kind: string
      attrs: string
      city: {type: string, aliases: [addr.city]}
      code: bytes
"""
        job = """name: avro-interop
sources:
  plain:
    type: kafka
    brokers: %(b)s
    topic: plain
    end: latest
    format: {type: avro, schema: %(v1)s}
    on_error: dead_letter
    dead_letter: {type: file, path: %(dlq)s}
%(schema)s
  framed:
    type: kafka
    brokers: %(b)s
    topic: framed
    end: latest
    format:
      type: avro
      registry_schemas:
        11: %(v1)s
        12: '%(v2)s'
    on_error: skip
%(schema)s
operators:
  - name: both
    union: [plain, framed]
  - name: shaped
    from: both
    map: {user_id: user_id, amount: amount, qty: qty, ts: ts, note: note, ok: ok, qty32: qty,
          score: score, raw: raw, price: amount}
sinks:
  rows: {from: both, type: file, path: %(out)s}
  avro_out:
    from: shaped
    type: kafka
    brokers: %(b)s
    topic: out
    format: {type: avro, schema: '%(sink)s', schema_id: 42}
""" % {"b": bootstrap, "v1": v1_path, "v2": json.dumps(WRITER_V2), "sink": json.dumps(SINK),
       "dlq": os.path.join(work, "dlq"), "out": os.path.join(work, "out"),
       "schema": schema_yaml.rstrip("\n")}
        job_path = os.path.join(work, "job.yaml")
        with open(job_path, "w") as f:
            f.write(job)
        env = dict(os.environ, XDG_STATE_HOME=os.path.join(work, "state"))
        r = subprocess.run([weir, "local", job_path], capture_output=True, text=True, timeout=120,
                           env=env)
        if r.returncode != 0:
            fail("weir local exited %d:\n%s\n%s" % (r.returncode, r.stdout, r.stderr))

        # (1) the json file sink.
        got = []
        for path in sorted(glob.glob(os.path.join(work, "out", "*"))):
            with open(path) as f:
                got += [json.loads(line) for line in f if line.strip()]
        want = expected + framed_expected

        def norm_json(row):
            row = dict(row)
            row["ts"] = datetime.datetime.fromisoformat(row["ts"].replace("Z", "+00:00"))
            return row
        key = lambda row: (row["user_id"], row["ts"])
        got = sorted((norm_json(g) for g in got), key=key)
        want = sorted(want, key=key)
        if got != want:
            fail("json sink rows differ:\n got  %s\n want %s" % (got, want))

        # The malformed plain datum went to the dead-letter file with a reason.
        dlq = []
        for path in glob.glob(os.path.join(work, "dlq*")) + glob.glob(
                os.path.join(work, "dlq", "*")):
            if os.path.isfile(path):
                with open(path) as f:
                    dlq += [json.loads(line) for line in f if line.strip()]
        if len(dlq) != 1 or "Avro" not in dlq[0].get("error", ""):
            fail("expected one dead letter naming Avro, got %s" % dlq)

        # (2) the avro kafka sink, read back by python3-avro.
        reader = avro.io.DatumReader(avro.schema.parse(json.dumps(SINK)))
        back = []
        for v in consume(bootstrap, "out", len(want)):
            if v[:5] != b"\x00" + struct.pack(">I", 42):
                fail("avro sink message without the wire-format header: %r" % v[:8])
            back.append(reader.read(avro.io.BinaryDecoder(io.BytesIO(v[5:]))))
        def price(amount):
            return None if amount is None else decimal.Decimal("%.2f" % amount)
        want_back = sorted(({"user_id": w["user_id"], "amount": w["amount"], "qty": w["qty"],
                             "ts": w["ts"], "note": w["note"], "ok": w["ok"],
                             "qty32": w["qty"] if abs(w["qty"]) < 2 ** 31
                             else (2 ** 31 - 1 if w["qty"] > 0 else -2 ** 31),
                             "score": w["score"],
                             "raw": None if w["raw"] is None else w["raw"].encode(),
                             "price": price(w["amount"])} for w in want), key=key)
        back = sorted(back, key=key)
        if back != want_back:
            fail("avro sink rows differ:\n got  %s\n want %s" % (back, want_back))
        print("avro interop: %d rows in, json and avro out equal" % len(want))
    finally:
        stop(broker)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
