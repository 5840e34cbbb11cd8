#!/usr/bin/env python3
"""A SASL-authenticating front for the dev broker, for kafka_security_test.sh.

librdkafka's mock cluster (the dev broker) has no SASL. This proxy listens on
127.0.0.1:PORT and plays the broker's side of SASL for each connection: it
adds SaslHandshake and SaslAuthenticate to the broker's ApiVersions answer,
checks PLAIN credentials or runs SCRAM-SHA-256/512 (RFC 5802, RFC 7677) with
the stored password, and only then passes the connection's bytes through to
the broker (UPSTREAM, a unix socket that socat bridges to the broker inside
its network namespace, whose advertised address is also 127.0.0.1:PORT).
A connection that fails authentication gets SASL_AUTHENTICATION_FAILED and is
closed, as a real broker does. Each attempt is logged as one line to stdout:
"auth MECHANISM USER ok|failed".

Usage: kafka_sasl_proxy.py PORT UPSTREAM_UNIX_SOCKET USER PASSWORD
"""
import base64
import hashlib
import hmac
import os
import socket
import struct
import sys
import threading

API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE = 18, 17, 36
MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
SASL_AUTHENTICATION_FAILED, UNSUPPORTED_SASL_MECHANISM = 58, 33
SCRAM_ITERATIONS = 4096


def log(line):
    print(line, flush=True)


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def read_frame(sock):
    (size,) = struct.unpack(">i", recv_exact(sock, 4))
    return recv_exact(sock, size)


def send_frame(sock, payload):
    sock.sendall(struct.pack(">i", len(payload)) + payload)


def kstring(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def uvarint(data, at):
    shift = value = 0
    while True:
        b = data[at]
        at += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, at
        shift += 7


def put_uvarint(v):
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def patch_api_versions(resp, version):
    """The broker's ApiVersions response with the SASL APIs added."""
    corr, body = resp[:4], resp[4:]
    (error,) = struct.unpack(">h", body[:2])
    if error != 0:
        return resp
    entries = []
    at = 2
    if version >= 3:
        n, at = uvarint(body, at)
        n -= 1
    else:
        (n,) = struct.unpack(">i", body[at:at + 4])
        at += 4
    for _ in range(n):
        key, lo, hi = struct.unpack(">hhh", body[at:at + 6])
        at += 6
        if version >= 3:
            _, at = uvarint(body, at)  # an empty tag buffer
        entries.append((key, lo, hi))
    rest = body[at:]
    entries = [e for e in entries if e[0] not in (SASL_HANDSHAKE, SASL_AUTHENTICATE)]
    entries += [(SASL_HANDSHAKE, 0, 1), (SASL_AUTHENTICATE, 0, 1)]
    out = body[:2]
    if version >= 3:
        out += put_uvarint(len(entries) + 1)
        for key, lo, hi in entries:
            out += struct.pack(">hhh", key, lo, hi) + b"\x00"
    else:
        out += struct.pack(">i", len(entries))
        for key, lo, hi in entries:
            out += struct.pack(">hhh", key, lo, hi)
    return corr + out + rest


class Scram:
    def __init__(self, mechanism, user, password):
        self.hash = hashlib.sha256 if mechanism.endswith("256") else hashlib.sha512
        self.user, self.password = user, password
        self.salt = os.urandom(16)
        self.step = 0

    def h(self, data):
        return self.hash(data).digest()

    def mac(self, key, data):
        return hmac.new(key, data, self.hash).digest()

    def next(self, message):
        """(reply bytes, done, ok)"""
        text = message.decode()
        if self.step == 0:
            self.step = 1
            self.first_bare = text.split(",", 2)[2]  # after the gs2 header "n,,"
            attrs = dict(kv.split("=", 1) for kv in self.first_bare.split(","))
            self.client_user = attrs["n"]
            self.nonce = attrs["r"] + base64.b64encode(os.urandom(18)).decode()
            self.server_first = "r=%s,s=%s,i=%d" % (
                self.nonce, base64.b64encode(self.salt).decode(), SCRAM_ITERATIONS)
            return self.server_first.encode(), False, True
        attrs = dict(kv.split("=", 1) for kv in text.split(","))
        without_proof = text[:text.rindex(",p=")]
        salted = hashlib.pbkdf2_hmac(self.hash().name, self.password.encode(), self.salt,
                                     SCRAM_ITERATIONS)
        client_key = self.mac(salted, b"Client Key")
        auth_message = ",".join([self.first_bare, self.server_first, without_proof]).encode()
        signature = self.mac(self.h(client_key), auth_message)
        proof = base64.b64decode(attrs["p"])
        recovered = bytes(a ^ b for a, b in zip(proof, signature))
        # librdkafka sends its nonce before the combined one; Kafka's brokers
        # accept a final nonce that ends with theirs, and so does this one.
        ok = (self.client_user == self.user and attrs["r"].endswith(self.nonce)
              and hmac.compare_digest(self.h(recovered), self.h(client_key)))
        server_sig = self.mac(self.mac(salted, b"Server Key"), auth_message)
        return b"v=" + base64.b64encode(server_sig), True, ok


def authenticate(client, upstream, user, password):
    """Answers ApiVersions (through the broker), SaslHandshake and
    SaslAuthenticate until authentication succeeds (True) or fails (False)."""
    mechanism = None
    scram = None
    while True:
        frame = read_frame(client)
        key, version, corr = struct.unpack(">hhi", frame[:8])
        if key == API_VERSIONS:
            send_frame(upstream, frame)
            send_frame(client, patch_api_versions(read_frame(upstream), version))
            continue
        if key == SASL_HANDSHAKE:
            (n,) = struct.unpack(">h", frame[8:10])
            at = 10 + n  # past the client id
            (m,) = struct.unpack(">h", frame[at:at + 2])
            mechanism = frame[at + 2:at + 2 + m].decode()
            error = 0 if mechanism in MECHANISMS else UNSUPPORTED_SASL_MECHANISM
            body = struct.pack(">h", error) + struct.pack(">i", len(MECHANISMS))
            body += b"".join(kstring(x) for x in MECHANISMS)
            send_frame(client, struct.pack(">i", corr) + body)
            if error:
                return False
            if mechanism.startswith("SCRAM"):
                scram = Scram(mechanism, user, password)
            continue
        if key == SASL_AUTHENTICATE and mechanism:
            (n,) = struct.unpack(">h", frame[8:10])
            at = 10 + n
            (size,) = struct.unpack(">i", frame[at:at + 4])
            auth = frame[at + 4:at + 4 + size]
            if scram is None:  # PLAIN: authzid \0 user \0 password
                _, got_user, got_password = auth.split(b"\x00", 2)
                who = got_user.decode()
                reply, done = b"", True
                ok = hmac.compare_digest(got_user + b"\x00" + got_password,
                                         (user + "\x00" + password).encode())
            else:
                reply, done, ok = scram.next(auth)
                who = scram.client_user
            if ok:
                body = struct.pack(">h", 0) + struct.pack(">h", -1)
            else:
                body = struct.pack(">h", SASL_AUTHENTICATION_FAILED)
                body += kstring("Authentication failed for user " + who)
                reply = b""
            body += struct.pack(">i", len(reply)) + reply
            if version >= 1:
                body += struct.pack(">q", 0)  # session lifetime: unlimited
            send_frame(client, struct.pack(">i", corr) + body)
            if done or not ok:
                log("auth %s %s %s" % (mechanism, who, "ok" if ok else "failed"))
                return ok
            continue
        log("unexpected request api_key %d before authentication" % key)
        return False


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(client, upstream_path, user, password):
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(upstream_path)
        if not authenticate(client, upstream, user, password):
            return
    except (EOFError, OSError, ValueError, struct.error):
        client.close()
        upstream.close()
        return
    threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
    pipe(client, upstream)


def main():
    port, upstream_path, user, password = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(port)))
    listener.listen(64)
    log("listening")
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client, upstream_path, user, password),
                         daemon=True).start()


if __name__ == "__main__":
    main()
