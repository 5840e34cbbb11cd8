"""What the format interop tests share: the dev broker, reading a topic
back, and protobuf classes from a descriptor set. Imported by
avro_interop_test.py, protobuf_interop_test.py and schema_registry_test.py
(Python puts a script's own directory on its path)."""
import os
import signal
import subprocess
import sys
import time


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def start_dev_broker(broker_bin, work, topics):
    """Starts weir-dev-broker with `topics` ("name:partitions"); returns
    (process, bootstrap servers)."""
    addr_file = os.path.join(work, "address")
    args = [broker_bin]
    for t in topics:
        args += ["--topic", t]
    broker = subprocess.Popen(args + ["--address-file", addr_file], stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(work, "broker.err"), "w"))
    deadline = time.time() + 15
    while not (os.path.exists(addr_file) and os.path.getsize(addr_file) > 0):
        if time.time() > deadline or broker.poll() is not None:
            fail("the dev broker did not start")
        time.sleep(0.05)
    return broker, open(addr_file).read().strip()


def stop(broker):
    if broker is not None and broker.poll() is None:
        broker.send_signal(signal.SIGTERM)
        try:
            broker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            broker.kill()


def consume(bootstrap, topic, n, partition=0):
    """Up to n message values of one partition, from the start (waits at
    most 5 s for more)."""
    from kafka import KafkaConsumer, TopicPartition
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=5000)
    tp = TopicPartition(topic, partition)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    out = []
    for msg in consumer:
        out.append(msg.value)
        if len(out) == n:
            break
    consumer.close()
    return out


def message_classes(desc_path, *names):
    """Message classes for the full names, from a FileDescriptorSet file."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    fds = descriptor_pb2.FileDescriptorSet()
    with open(desc_path, "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    factory = message_factory.MessageFactory(pool)
    return tuple(factory.GetPrototype(pool.FindMessageTypeByName(n)) for n in names)
