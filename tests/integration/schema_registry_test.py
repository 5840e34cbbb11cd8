#!/usr/bin/python3
"""The schema-registry wire format for avro, protobuf and json, with schemas
fetched over HTTP, against encoders that are not weir's.

A small registry speaking the Confluent REST calls that serializers and weir
make (GET /schemas/ids/N, POST /subjects/S/versions, POST /subjects/S) runs
in this process. Into one dev-broker topic per format the test writes:
  - avro: datums from Debian's python3-avro with two writer schemas (v2 adds
    a field), each framed with the id the test registered for it;
  - protobuf: messages from confluent-kafka's own ProtobufSerializer
    (python3-confluent-kafka), which registers its schema itself;
  - json: objects framed with the id of a JSON schema the test registered;
and, in each, one message with an id the registry does not have.
`weir local` reads each with `registry: URL` and writes it back in the same
format with `registry: URL` (registering under <topic>-value). The test
checks: the rows (a json file sink) equal what it wrote, the unknown id is a
dead letter naming it, and every output message carries the id the registry
gave weir's schema and decodes (python3-avro with the registry's schema,
python3-protobuf after the header) to the same rows.

Usage: schema_registry_test.py PATH/TO/weir PATH/TO/weir-dev-broker
"""
import collections
import glob
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import avro.io
import avro.schema
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from interop_util import consume, fail, message_classes, start_dev_broker, stop
from kafka import KafkaProducer

ORDER_V1 = {"type": "record", "name": "Order", "namespace": "shop", "fields": [
    {"name": "user", "type": "string"},
    {"name": "amount", "type": "double"}]}
ORDER_V2 = {"type": "record", "name": "Order", "namespace": "shop", "fields": [
    {"name": "user", "type": "string"},
    {"name": "amount", "type": "double"},
    {"name": "qty", "type": "long", "default": 1}]}
PROTO = """syntax = "proto3";
package shop;
message Order { string user = 1; double amount = 2; int64 qty = 3; }
message Out { string user = 1; double amount = 2; int64 qty = 3; }
"""
UNKNOWN_ID = 4242


class Registry:
    """Schemas by id; subjects to their versions' ids."""

    def __init__(self):
        self.lock = threading.Lock()
        self.schemas = []  # id - 1 -> {"schema", "schemaType"}
        self.subjects = {}  # subject -> [id]
        self.requests = []

    def register(self, subject, schema, schema_type):
        with self.lock:
            entry = {"schema": schema, "schemaType": schema_type}
            if entry in self.schemas:
                sid = self.schemas.index(entry) + 1
            else:
                self.schemas.append(entry)
                sid = len(self.schemas)
            versions = self.subjects.setdefault(subject, [])
            if sid not in versions:
                versions.append(sid)
            return sid, versions.index(sid) + 1


def serve(registry):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            registry.requests.append("GET " + self.path)
            if self.path.startswith("/schemas/ids/"):
                sid = int(self.path.split("/")[3].split("?")[0])
                if 1 <= sid <= len(registry.schemas):
                    return self.reply(200, registry.schemas[sid - 1])
                return self.reply(404, {"error_code": 40403, "message": "Schema not found"})
            self.reply(404, {"error_code": 404, "message": "not here"})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            registry.requests.append("POST " + self.path)
            parts = self.path.split("/")
            subject = unquote(parts[2])
            sid, version = registry.register(subject, body["schema"],
                                             body.get("schemaType", "AVRO"))
            if len(parts) == 4 and parts[3] == "versions":
                return self.reply(200, {"id": sid})
            # POST /subjects/S: look the schema up.
            self.reply(200, {"subject": subject, "id": sid, "version": version,
                             "schema": body["schema"]})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server



def frame(sid, body, indexes=b""):
    return struct.pack(">bI", 0, sid) + indexes + body


def avro_bytes(schema, record):
    buf = io.BytesIO()
    avro.io.DatumWriter(schema).write(record, avro.io.BinaryEncoder(buf))
    return buf.getvalue()


def main():
    weir, broker_bin = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="weir-schema-registry.")
    broker = server = None
    try:
        registry = Registry()
        server = serve(registry)
        url = "http://127.0.0.1:%d" % server.server_address[1]

        broker, bootstrap = start_dev_broker(
            broker_bin, work, [f + d + ":1" for f in ("avro", "pb", "json") for d in ("-in", "-out")])
        producer = KafkaProducer(bootstrap_servers=bootstrap)

        rows = [{"user": "u%d" % i, "amount": i * 0.5, "qty": i if i % 2 else 1}
                for i in range(30)]

        # avro: v1 (no qty: the reader's default 1 applies) and v2 datums.
        v1, _ = registry.register("avro-in-value", json.dumps(ORDER_V1), "AVRO")
        v2, _ = registry.register("avro-in-value", json.dumps(ORDER_V2), "AVRO")
        s1, s2 = avro.schema.parse(json.dumps(ORDER_V1)), avro.schema.parse(json.dumps(ORDER_V2))
        for r in rows:
            if r["qty"] == 1:
                payload = frame(v1, avro_bytes(s1, {"user": r["user"], "amount": r["amount"]}))
            else:
                payload = frame(v2, avro_bytes(s2, r))
            producer.send("avro-in", payload, partition=0)
        producer.send("avro-in", frame(UNKNOWN_ID, b"\x02x"), partition=0)

        # protobuf: confluent-kafka's serializer registers and frames.
        proto_path = os.path.join(work, "shop.proto")
        with open(proto_path, "w") as f:
            f.write(PROTO)
        desc_path = os.path.join(work, "shop.desc")
        subprocess.run(["protoc", "-I", work, "--descriptor_set_out=" + desc_path, proto_path],
                       check=True)
        Order, Out = message_classes(desc_path, "shop.Order", "shop.Out")
        serializer = ProtobufSerializer(Order, SchemaRegistryClient({"url": url}))
        ctx = SerializationContext("pb-in", MessageField.VALUE)
        for r in rows:
            producer.send("pb-in", serializer(Order(**r), ctx), partition=0)
        producer.send("pb-in", frame(UNKNOWN_ID, b"", b"\x00"), partition=0)

        # json: framed by hand with the id of a JSON schema.
        jid, _ = registry.register("json-in-value", json.dumps({"type": "object"}), "JSON")
        for r in rows:
            producer.send("json-in", frame(jid, json.dumps(r).encode()), partition=0)
        producer.send("json-in", frame(UNKNOWN_ID, b"{}"), partition=0)
        producer.flush()
        producer.close()

        formats = {
            "avro": "{type: avro, registry: %s}" % url,
            "pb": "{type: protobuf, proto: %s, message: shop.Order, registry: %s}"
                  % (proto_path, url),
            "json": "{type: json, registry: %s}" % url,
        }
        out_formats = {
            "avro": "{type: avro, registry: %s}" % url,
            "pb": "{type: protobuf, descriptor_set: %s, message: shop.Out, registry: %s}"
                  % (desc_path, url),
            "json": "{type: json, registry: %s}" % url,
        }
        for f in ("avro", "pb", "json"):
            job = """name: registry-%(f)s
sources:
  orders:
    type: kafka
    brokers: %(b)s
    topic: %(f)s-in
    end: latest
    format: %(fmt)s
    schema: {user: string, amount: double, qty: {type: bigint, default: "1"}}
    on_error: dead_letter
    dead_letter: {type: file, path: %(w)s/%(f)s-dlq}
sinks:
  rows: {from: orders, type: file, path: %(w)s/%(f)s-rows}
  back:
    from: orders
    type: kafka
    brokers: %(b)s
    topic: %(f)s-out
    format: %(out)s
""" % {"f": f, "b": bootstrap, "fmt": formats[f], "out": out_formats[f], "w": work}
            job_path = os.path.join(work, f + ".yaml")
            with open(job_path, "w") as jf:
                jf.write(job)
            env = dict(os.environ, XDG_STATE_HOME=os.path.join(work, "state"))
            seen = len(registry.requests)
            r = subprocess.run([weir, "local", job_path], capture_output=True, text=True,
                               timeout=120, env=env)
            if r.returncode != 0:
                fail("%s: weir local exited %d:\n%s\n%s" % (f, r.returncode, r.stdout, r.stderr))
            # Schemas are cached by id: each id the run met is fetched once,
            # however many records carry it.
            gets = collections.Counter(q for q in registry.requests[seen:]
                                       if q.startswith("GET /schemas/ids/"))
            if not gets or max(gets.values()) != 1:
                fail("%s: expected one GET per schema id, got %s" % (f, dict(gets)))

            got = []
            for path in glob.glob(os.path.join(work, f + "-rows", "*")):
                with open(path) as rf:
                    got += [json.loads(line) for line in rf if line.strip()]
            got.sort(key=lambda x: int(x["user"][1:]))
            if got != rows:
                fail("%s: rows differ:\n got  %s\n want %s" % (f, got[:3], rows[:3]))

            dlq = []
            for path in glob.glob(os.path.join(work, f + "-dlq*")) + glob.glob(
                    os.path.join(work, f + "-dlq", "*")):
                if not os.path.isfile(path):
                    continue
                with open(path) as df:
                    dlq += [json.loads(line) for line in df if line.strip()]
            want_error = "schema id %d is not in the registry at %s" % (UNKNOWN_ID, url)
            if len(dlq) != 1 or dlq[0].get("error") != want_error:
                fail("%s: expected one dead letter '%s', got %s" % (f, want_error, dlq))

            # What weir wrote: its schema is registered under <topic>-value.
            out_ids = registry.subjects.get(f + "-out-value")
            if not out_ids:
                fail("%s: the sink registered no schema (requests: %s)" % (f, registry.requests))
            sid = out_ids[-1]
            back = []
            for value in consume(bootstrap, f + "-out", len(rows)):
                magic, got_id = struct.unpack(">bI", value[:5])
                if magic != 0 or got_id != sid:
                    fail("%s: output header %r, want id %d" % (f, value[:5], sid))
                body = value[5:]
                if f == "avro":
                    schema = avro.schema.parse(registry.schemas[sid - 1]["schema"])
                    rec = avro.io.DatumReader(schema).read(
                        avro.io.BinaryDecoder(io.BytesIO(body)))
                elif f == "pb":
                    # shop.Out is the file's second message: index list [1],
                    # zigzag varints (count 1, index 1).
                    if body[:2] != b"\x02\x02":
                        fail("pb: message indexes %r, want 02 02" % body[:2])
                    m = Out()
                    m.ParseFromString(body[2:])
                    rec = {"user": m.user, "amount": m.amount, "qty": m.qty}
                else:
                    if registry.schemas[sid - 1]["schemaType"] != "JSON":
                        fail("json: the sink registered %s" % registry.schemas[sid - 1])
                    rec = json.loads(body)
                back.append({"user": rec["user"], "amount": rec["amount"], "qty": rec["qty"]})
            back.sort(key=lambda x: int(x["user"][1:]))
            if back != rows:
                fail("%s: output differs:\n got  %s\n want %s" % (f, back[:3], rows[:3]))
            print("ok: %s: %d rows in and back out through the registry (schema id %d), "
                  "unknown id dead-lettered" % (f, len(rows), sid))
        fetches = [r for r in registry.requests if r.startswith("GET /schemas/ids/")]
        print("registry requests: %d GET by id (cached per process), %d POST" %
              (len(fetches), len(registry.requests) - len(fetches)))
        print("3 passed, 0 failed")
    finally:
        stop(broker)
        if server is not None:
            server.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
