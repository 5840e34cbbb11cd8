#!/usr/bin/python3
"""The protobuf format against an encoder and decoder that are not weir's.

Debian's python3-protobuf builds shop.Order messages (from a descriptor set
that protoc makes of a .proto this test writes), python3-kafka produces them
to a weir-dev-broker topic, and `weir local` reads them with a protobuf
source (`proto:`, parsed by weir) and writes (1) a json file sink and (2) a
protobuf kafka sink (`descriptor_set:`). The json rows must equal what the
test wrote; the sink's messages, parsed by python3-protobuf, must too.
Order has scalars of every width (sint64, int32, float, double, bool,
fixed64, bytes), an enum, a nested message read through a dotted alias,
repeated and map fields (read as JSON text) and a Timestamp. One
payload that does not parse must go to the dead-letter file with a reason.

Usage: protobuf_interop_test.py PATH/TO/weir PATH/TO/weir-dev-broker
Exit status 0 on success.
"""
import datetime
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

from interop_util import consume, fail, message_classes, start_dev_broker, stop
from kafka import KafkaProducer

PROTO = """syntax = "proto3";
package shop;
import "google/protobuf/timestamp.proto";

enum Status { UNKNOWN = 0; PAID = 1; SHIPPED = 2; }
message Customer { string name = 1; int64 id = 2; }
message Order {
  string userId = 1;
  sint64 qty = 2;
  double amount = 3;
  google.protobuf.Timestamp ts = 4;
  Status status = 5;
  Customer customer = 6;
  repeated string tags = 7;
  optional string note = 8;
  bool ok = 9;
  map<string, int64> counts = 10;
  bytes raw = 11;
  float weight = 12;
  int32 small = 13;
  uint64 big = 14;
  fixed64 fx = 15;
}
message Out {
  string user_id = 1;
  int64 qty = 2;
  double amount = 3;
  google.protobuf.Timestamp ts = 4;
  Status status = 5;
  string note = 6;
  bytes raw = 7;
  float weight = 8;
  int32 small = 9;
  bool ok = 10;
}
"""

UTC = datetime.timezone.utc



def iso_ms(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def main():
    weir, broker_bin = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="weir-protobuf-interop.")
    broker = None
    try:
        proto_path = os.path.join(work, "shop.proto")
        with open(proto_path, "w") as f:
            f.write(PROTO)
        desc_path = os.path.join(work, "shop.desc")
        subprocess.run(["protoc", "--include_imports", "-I", work, "-I", "/usr/include",
                        "--descriptor_set_out=" + desc_path, proto_path], check=True)
        Order, Out = message_classes(desc_path, "shop.Order", "shop.Out")

        broker, bootstrap = start_dev_broker(broker_bin, work, ["orders:1", "out:1"])

        base = datetime.datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
        payloads, want = [], []
        statuses = ["UNKNOWN", "PAID", "SHIPPED"]
        for i in range(20):
            ts = base + datetime.timedelta(milliseconds=1500 * i + 7)
            m = Order(userId="u%d" % i, qty=i - 5, amount=i * 0.25, status=i % 3, ok=i % 4 == 0)
            m.ts.FromDatetime(ts.replace(tzinfo=None))
            tags = ["a", "b%d" % i][: i % 3]
            m.tags.extend(tags)
            if i % 2 == 0:
                m.note = "n%d" % i
            if i % 5 != 0:
                m.customer.name = "c%d" % i
                m.customer.id = 100 + i
            if i % 3 == 0:
                m.counts["k%d" % i] = i * 7
            m.raw = b"r%d" % i
            m.weight = i / 8
            m.small = -i
            m.big = 2 ** 63 + i if i % 2 else i
            m.fx = 1000 + i
            payloads.append(m.SerializeToString())
            want.append({"user_id": "u%d" % i, "qty": i - 5, "amount": i * 0.25,
                         "ts": iso_ms(ts), "status": statuses[i % 3],
                         "customer_id": 100 + i if i % 5 != 0 else None,
                         "tags": json.dumps(tags, separators=(",", ":")),
                         "note": "n%d" % i if i % 2 == 0 else "none", "ok": i % 4 == 0,
                         "counts": json.dumps({"k%d" % i: i * 7} if i % 3 == 0 else {},
                                              separators=(",", ":")),
                         "raw": "r%d" % i, "weight": i / 8, "small": -i, "fx": 1000 + i})
        payloads.insert(5, b"\x0a\x7fabc")  # a string whose length runs past the end

        producer = KafkaProducer(bootstrap_servers=bootstrap)
        for p in payloads:
            producer.send("orders", p, partition=0)
        producer.flush()
        producer.close()

        job = """name: protobuf-interop
sources:
  orders:
    type: kafka
    brokers: %(b)s
    topic: orders
    end: latest
    format: {type: protobuf, proto: %(proto)s, message: shop.Order}
    on_error: dead_letter
    dead_letter: {type: file, path: %(dlq)s}
    schema:
      user_id: {type: string, aliases: [userId]}
      qty: bigint
      amount: double
      ts: timestamp
      status: string
      customer_id: {type: bigint, aliases: [customer.id]}
      tags: string
      note: {type: string, default: none}
      ok: boolean
      counts: string
      raw: bytes
      weight: double
      small: bigint
      fx: bigint
sinks:
  rows: {from: orders, type: file, path: %(out)s}
  pb_out:
    from: orders
    type: kafka
    brokers: %(b)s
    topic: out
    format: {type: protobuf, descriptor_set: %(desc)s, message: shop.Out}
""" % {"b": bootstrap, "proto": proto_path, "desc": desc_path,
       "dlq": os.path.join(work, "dlq"), "out": os.path.join(work, "out")}
        job = job.replace("""    from: orders
    type: kafka""", """    from: slim
    type: kafka""").replace("sinks:\n", """operators:
  - name: slim
    from: orders
    map: {user_id: user_id, qty: qty, amount: amount, ts: ts, status: status, note: note,
          raw: raw, weight: weight, small: small, ok: ok}
sinks:
""")
        job_path = os.path.join(work, "job.yaml")
        with open(job_path, "w") as f:
            f.write(job)
        env = dict(os.environ, XDG_STATE_HOME=os.path.join(work, "state"))
        r = subprocess.run([weir, "local", job_path], capture_output=True, text=True, timeout=120,
                           env=env)
        if r.returncode != 0:
            fail("weir local exited %d:\n%s\n%s" % (r.returncode, r.stdout, r.stderr))

        got = []
        for path in sorted(glob.glob(os.path.join(work, "out", "*"))):
            with open(path) as f:
                got += [json.loads(line) for line in f if line.strip()]
        key = lambda row: row["user_id"]
        got = sorted(got, key=key)
        want = sorted(want, key=key)
        if got != want:
            fail("json sink rows differ:\n got  %s\n want %s" % (got, want))

        dlq = []
        for path in glob.glob(os.path.join(work, "dlq*")) + glob.glob(
                os.path.join(work, "dlq", "*")):
            if os.path.isfile(path):
                with open(path) as f:
                    dlq += [json.loads(line) for line in f if line.strip()]
        if len(dlq) != 1 or "protobuf" not in dlq[0].get("error", ""):
            fail("expected one dead letter naming protobuf, got %s" % dlq)

        back = []
        for value in consume(bootstrap, "out", len(want)):
            o = Out()
            o.ParseFromString(value)
            back.append({"user_id": o.user_id, "qty": o.qty, "amount": o.amount,
                         "ts": iso_ms(o.ts.ToDatetime()),
                         "status": descriptor_name(o), "note": o.note, "raw": o.raw.decode(),
                         "weight": o.weight, "small": o.small, "ok": o.ok})
        want_back = sorted(({k: w[k] for k in ("user_id", "qty", "amount", "ts", "status",
                                               "note", "raw", "weight", "small", "ok")}
                            for w in want), key=key)
        back = sorted(back, key=key)
        if back != want_back:
            fail("protobuf sink rows differ:\n got  %s\n want %s" % (back, want_back))
        print("protobuf interop: %d rows in, json and protobuf out equal" % len(want))
    finally:
        stop(broker)
        shutil.rmtree(work, ignore_errors=True)


def descriptor_name(o):
    return o.DESCRIPTOR.fields_by_name["status"].enum_type.values_by_number[o.status].name


if __name__ == "__main__":
    main()
