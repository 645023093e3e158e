#!/usr/bin/env python3
"""Outsider conformance client and fault campaign for the tokenguard device protocol.

Written from docs/protocol.md alone (no Rust source was read). It connects to an
already-running device (`tokenguard-sim device serve` or `device qemu`) and runs:

  1. conformance: every command, with the statuses and bodies the doc fixes;
  2. signing: an RSA-2048 private JWK uploaded in chunks, RS256 and PS256 tokens
     checked with PyJWT, refused keys keep the previous signing key;
  3. link properties: half-sent frames, cross-client replies, concurrent clients;
  4. a time-bounded fault campaign, ending with one summary line.

Usage:
  PYTHONPATH=target/peers/python \\
  python3 tests/outsider/device_conformance.py --device HOST:PORT [--kind sim|qemu] [--quick]

Exit status 0 only when every check passed and the campaign counted no unanswered
request, no lost key and no cross-client reply.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import socket
import struct
import sys
import threading
import time
import zlib
from collections import Counter, namedtuple
from pathlib import Path

# PyJWT and cryptography live in target/peers/python (peers/install.sh); PYTHONPATH works too.
_PEERS = Path(__file__).resolve().parents[2] / "target" / "peers" / "python"
if _PEERS.is_dir() and str(_PEERS) not in sys.path:
    sys.path.append(str(_PEERS))

# ---------------------------------------------------------------------------------------------
# Protocol constants (docs/protocol.md)
# ---------------------------------------------------------------------------------------------

PROTOCOL_VERSION = 2
MAX_PAYLOAD = 1015          # largest payload, INFO reports it
MAX_BODY = 1024             # frame body bytes kept by the device (before the 0x00)
POLICY_SLOTS = 4

INFO, SET_TIME, GET_TIME, HELLO = 0x01, 0x02, 0x03, 0x04
LOAD_JWK, JWKS_BEGIN, JWKS_CHUNK, JWKS_END = 0x10, 0x11, 0x12, 0x13
REMOVE_KEY, LIST_KEYS, FETCH_FAILED, REFRESH_STATE = 0x14, 0x15, 0x16, 0x17
SET_POLICY, VERIFY = 0x20, 0x21
SIGN, SET_SIGNING_KEY, SIGNING_KEY_BEGIN, SIGNING_KEY_CHUNK, SIGNING_KEY_END = (
    0x30, 0x31, 0x32, 0x33, 0x34)
STATS = 0x40

COMMANDS = {
    INFO: "INFO", SET_TIME: "SET_TIME", GET_TIME: "GET_TIME", HELLO: "HELLO",
    LOAD_JWK: "LOAD_JWK", JWKS_BEGIN: "JWKS_BEGIN", JWKS_CHUNK: "JWKS_CHUNK",
    JWKS_END: "JWKS_END", REMOVE_KEY: "REMOVE_KEY", LIST_KEYS: "LIST_KEYS",
    FETCH_FAILED: "FETCH_FAILED", REFRESH_STATE: "REFRESH_STATE", SET_POLICY: "SET_POLICY",
    VERIFY: "VERIFY", SIGN: "SIGN", SET_SIGNING_KEY: "SET_SIGNING_KEY",
    SIGNING_KEY_BEGIN: "SIGNING_KEY_BEGIN", SIGNING_KEY_CHUNK: "SIGNING_KEY_CHUNK",
    SIGNING_KEY_END: "SIGNING_KEY_END", STATS: "STATS",
}
UNKNOWN_IN_RANGE = [c for c in range(0x01, 0x7F) if c not in COMMANDS]
OUT_OF_RANGE = [0x00] + list(range(0x7F, 0x100))

OK = 0x00
KEY_REFUSED, JWKS_REFUSED = 0x20, 0x21
BAD_FRAME, FRAME_TOO_LARGE, UNKNOWN_COMMAND, BAD_REQUEST = 0x30, 0x31, 0x32, 0x33
NOT_FOUND, NO_UPDATE, FULL, UNSUPPORTED, NO_TIME = 0x34, 0x35, 0x36, 0x37, 0x38
FRAME_ERROR_CMD = 0xFF

REJECTIONS = ["malformed", "too_large", "unsupported_alg", "alg_not_allowed", "key_not_found",
              "key_rejected", "bad_signature", "expired", "not_yet_valid", "issued_in_future",
              "wrong_issuer", "wrong_audience", "wrong_subject", "wrong_type", "missing_claim",
              "invalid_claim", "crit_unsupported", "replayed"]
STATUS_NAMES = {OK: "OK", KEY_REFUSED: "KEY_REFUSED", JWKS_REFUSED: "JWKS_REFUSED",
                BAD_FRAME: "BAD_FRAME", FRAME_TOO_LARGE: "FRAME_TOO_LARGE",
                UNKNOWN_COMMAND: "UNKNOWN_COMMAND", BAD_REQUEST: "BAD_REQUEST",
                NOT_FOUND: "NOT_FOUND", NO_UPDATE: "NO_UPDATE", FULL: "FULL",
                UNSUPPORTED: "UNSUPPORTED", NO_TIME: "NO_TIME"}
STATUS_NAMES.update({i + 1: name for i, name in enumerate(REJECTIONS)})


def rejected(code):
    """Status byte of a token rejection code ('expired' -> 0x08)."""
    return REJECTIONS.index(code) + 1


# Key errors (KEY_REFUSED body, skip logs)
KE_JSON, KE_INVALID_MEMBER, KE_DUPLICATE_MEMBER, KE_MISSING_MEMBER = 0, 1, 2, 3
KE_UNSUPPORTED_KTY, KE_UNSUPPORTED_CRV, KE_UNSUPPORTED_ALG, KE_ALG_MISMATCH = 4, 5, 6, 7
KE_WRONG_USE, KE_INVALID_POINT, KE_SYMMETRIC_SIZE = 8, 13, 15
KE_KID_TOO_LONG, KE_NO_SPACE, KE_KID_PINNED, KE_KEY_MISMATCH = 17, 19, 22, 23
KEY_ERROR_MAX = 23

# JWKS_REFUSED codes
JR_JSON, JR_NOT_A_SET, JR_INCOMPLETE, JR_PRIVATE, JR_NO_USABLE, JR_NO_SPACE = 0, 1, 2, 3, 5, 6

ALG_CODES = {"HS256": 0, "HS384": 1, "HS512": 2, "RS256": 3, "RS384": 4, "RS512": 5,
             "PS256": 6, "PS384": 7, "PS512": 8, "ES256": 9, "ES384": 10, "EdDSA": 11,
             "Ed25519": 12, "ES512": 13, "ES256K": 14}
ALL_ALGS = (1 << len(ALG_CODES)) - 1

ISS = "https://issuer.outsider.test"
AUD = "outsider-device"
MAIN_SLOT = 0        # policy used for every VERIFY of the suite
SCRATCH_SLOT = 3     # the only slot the fuzzer may write
UNSET_SLOT = 2       # never written by this script
LINK_SLOT = 1        # iss "i", aud "a" during the link tests and the campaign

# ---------------------------------------------------------------------------------------------
# Frame codec: COBS + CRC-32 (zlib), 0x00 delimiter
# ---------------------------------------------------------------------------------------------


def cobs_encode(data: bytes) -> bytes:
    out = bytearray()
    block = bytearray()
    for byte in data:
        if byte == 0:
            out.append(len(block) + 1)
            out += block
            block = bytearray()
        else:
            block.append(byte)
            if len(block) == 254:
                out.append(0xFF)
                out += block
                block = bytearray()
    out.append(len(block) + 1)
    out += block
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(data):
        code = data[i]
        if code == 0 or i + code > len(data):
            raise ValueError("bad COBS")
        out += data[i + 1:i + code]
        i += code
        if code < 0xFF and i < len(data):
            out.append(0)
    return bytes(out)


def crc32(data: bytes) -> bytes:
    return struct.pack("<I", zlib.crc32(data) & 0xFFFFFFFF)


def frame_body(payload: bytes) -> bytes:
    """COBS(payload || CRC-32 LE), without the delimiter."""
    return cobs_encode(payload + crc32(payload))


def encode_frame(payload: bytes) -> bytes:
    return frame_body(payload) + b"\x00"


def decode_body(body: bytes):
    """The payload of a frame body, or None when COBS or the CRC is wrong."""
    try:
        raw = cobs_decode(body)
    except ValueError:
        return None
    if len(raw) < 4 or crc32(raw[:-4]) != raw[-4:]:
        return None
    return raw[:-4]


def request_payload(cmd: int, seq: int, body: bytes = b"") -> bytes:
    return bytes([cmd, seq & 0xFF]) + body


# ---------------------------------------------------------------------------------------------
# Connection
# ---------------------------------------------------------------------------------------------


class NoReply(Exception):
    """A request got no reply within the timeout (or the device closed the connection)."""


class BadReply(Exception):
    """A reply that is not a well-formed frame."""


class Mismatch(Exception):
    """A reply that does not answer the request just sent (other command or seq)."""

    def __init__(self, reply, cmd, seq):
        super().__init__(f"expected reply to {COMMANDS.get(cmd, hex(cmd))} seq {seq}, "
                         f"got {reply}")
        self.reply = reply


class Reply(namedtuple("Reply", "cmd seq status body")):
    @property
    def raw(self):
        return bytes([self.cmd, self.seq, self.status]) + self.body

    def __str__(self):
        name = STATUS_NAMES.get(self.status, hex(self.status))
        raw = self.raw.hex()
        raw = raw if len(raw) <= 96 else raw[:96] + "..."
        return f"{raw} ({name}, {len(self.body)}-byte body)"


def parse_reply(payload: bytes) -> Reply:
    if len(payload) < 3:
        raise BadReply(f"reply payload shorter than 3 bytes: {payload.hex()}")
    return Reply(payload[0], payload[1], payload[2], payload[3:])


class Conn:
    """One TCP connection to the device: raw bytes, frames and matched requests."""

    def __init__(self, addr, timeout=3.0):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""
        self.seq = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def next_seq(self):
        self.seq = (self.seq % 255) + 1
        return self.seq

    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def send(self, cmd, body=b"", seq=None) -> int:
        seq = self.next_seq() if seq is None else seq
        self.send_raw(encode_frame(request_payload(cmd, seq, body)))
        return seq

    def read_payload(self, timeout=None) -> bytes:
        """The next non-empty frame's payload (CRC checked)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            while b"\x00" in self.buf:
                body, self.buf = self.buf.split(b"\x00", 1)
                if not body:
                    continue
                payload = decode_body(body)
                if payload is None:
                    raise BadReply(f"undecodable frame from the device: {body.hex()}")
                return payload
            left = deadline - time.monotonic()
            if left <= 0:
                raise NoReply("timeout")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                raise NoReply("timeout") from None
            except OSError as exc:
                raise NoReply(f"connection error: {exc}") from None
            if not data:
                raise NoReply("connection closed by the device")
            self.buf += data

    def read_reply(self, timeout=None) -> Reply:
        return parse_reply(self.read_payload(timeout))

    def request(self, cmd, body=b"", seq=None, timeout=None) -> Reply:
        seq = self.send(cmd, body, seq)
        reply = self.read_reply(timeout)
        if reply.cmd != (cmd | 0x80) or reply.seq != seq:
            raise Mismatch(reply, cmd, seq)
        return reply

    def hello(self, nonce=None, leading_zero=True) -> int:
        """0x00 + HELLO(nonce); drop frames until its reply. Returns how many were dropped."""
        nonce = os.urandom(16) if nonce is None else nonce
        seq = self.next_seq()
        self.send_raw((b"\x00" if leading_zero else b"")
                      + encode_frame(request_payload(HELLO, seq, nonce)))
        dropped = 0
        while True:
            reply = self.read_reply()
            if reply.cmd == HELLO | 0x80 and reply.seq == seq and reply.body == nonce:
                if reply.status != OK:
                    raise BadReply(f"HELLO answered {reply}")
                return dropped
            dropped += 1


# ---------------------------------------------------------------------------------------------
# Body builders and parsers
# ---------------------------------------------------------------------------------------------


def str8(data: bytes) -> bytes:
    assert len(data) <= 255
    return bytes([len(data)]) + data


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(text) -> bytes:
    if isinstance(text, str):
        text = text.encode()
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


def jdump(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def hs_jwk(kid: str, secret: bytes, alg="HS256") -> dict:
    return {"kty": "oct", "kid": kid, "alg": alg, "k": b64u(secret)}


def hs256_token(kid, secret: bytes, claims: dict, header_extra=None) -> bytes:
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    header.update(header_extra or {})
    signing_input = b64u(jdump(header)) + "." + b64u(jdump(claims))
    sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return (signing_input + "." + b64u(sig)).encode()


def good_claims(**override) -> dict:
    now = int(time.time())
    claims = {"iss": ISS, "aud": AUD, "sub": "outsider", "iat": now - 60, "exp": now + 600}
    claims.update(override)
    return claims


def policy_body(slot, flags=0, algs=ALL_ALGS, leeway=0, max_age=0, iss=ISS.encode(),
                aud=AUD.encode(), sub=b"", typ=b"") -> bytes:
    return (bytes([slot, flags]) + struct.pack("<HHI", algs, leeway, max_age)
            + str8(iss) + str8(aud) + str8(sub) + str8(typ))


def sign_body(preset=0, lifetime=300, backdate=5, entropy=b"", subject=b"outsider-sub",
              audience=b"https://audience.outsider.test", jti=b"") -> bytes:
    return (bytes([preset]) + struct.pack("<IH", lifetime, backdate) + str8(entropy)
            + str8(subject) + str8(audience) + str8(jti))


class ParseError(Exception):
    pass


def parse_info(body):
    if len(body) < 2 or len(body) != body[1] + 11:
        raise ParseError(f"INFO body of {len(body)} bytes: {body.hex()}")
    n = body[1]
    algs, slots, max_payload, policy_slots, rsa_bits, clock = struct.unpack_from(
        "<HBHBHB", body, 2 + n)
    return dict(protocol=body[0], version=body[2:2 + n], algorithms=algs, key_slots=slots,
                max_payload=max_payload, policy_slots=policy_slots, max_rsa_bits=rsa_bits,
                clock_set=clock)


STATS_LEN = 4 + 18 * 4 + 4 * 4 + 1 + 1 + 4 + 4   # 102


def parse_stats(body):
    if len(body) != STATS_LEN:
        raise ParseError(f"STATS body of {len(body)} bytes, expected {STATS_LEN}")
    words = struct.unpack_from("<23I", body, 0)
    keys, slots = body[92], body[93]
    peak, refused = struct.unpack_from("<II", body, 94)
    return dict(accepted=words[0], rejected=list(words[1:19]), fetches=words[19],
                fetch_failures=words[20], frames=words[21], bad_frames=words[22], keys=keys,
                key_slots=slots, peak_stack=peak, updates_refused=refused)


def parse_list(body):
    if len(body) < 3:
        raise ParseError(f"LIST_KEYS body of {len(body)} bytes")
    total, nxt, n = body[0], body[1], body[2]
    pos, entries = 3, []
    for _ in range(n):
        if pos >= len(body) or pos + 1 + body[pos] + 5 > len(body):
            raise ParseError(f"LIST_KEYS body truncated: {body.hex()}")
        klen = body[pos]
        kid = body[pos + 1:pos + 1 + klen]
        kty, alg = body[pos + 1 + klen], body[pos + 2 + klen]
        bits = struct.unpack_from("<H", body, pos + 3 + klen)[0]
        pinned = body[pos + 5 + klen]
        entries.append(dict(kid=kid, kty=kty, alg=alg, bits=bits, pinned=pinned))
        pos += 6 + klen
    if pos != len(body):
        raise ParseError(f"LIST_KEYS body has {len(body) - pos} trailing bytes")
    return total, nxt, entries


def parse_report(body, pos=0):
    """JWKS_END report: loaded, unchanged, skipped, removed, skip log. Must end the body."""
    if len(body) < pos + 9:
        raise ParseError(f"report too short: {body.hex()}")
    loaded, unchanged, skipped, removed = struct.unpack_from("<4H", body, pos)
    n = body[pos + 8]
    if len(body) != pos + 9 + 3 * n:
        raise ParseError(f"report of {len(body) - pos} bytes with a skip log of {n}: "
                         f"{body.hex()}")
    log = [struct.unpack_from("<HB", body, pos + 9 + 3 * i) for i in range(n)]
    return dict(loaded=loaded, unchanged=unchanged, skipped=skipped, removed=removed, log=log)


def parse_jwks_refused(body):
    if not body:
        raise ParseError("JWKS_REFUSED without a code")
    code = body[0]
    if code in (JR_NO_USABLE, JR_NO_SPACE):
        if len(body) < 5:
            raise ParseError(f"JWKS_REFUSED {code} without needed/free: {body.hex()}")
        needed, free = struct.unpack_from("<HH", body, 1)
        return dict(code=code, needed=needed, free=free, report=parse_report(body, 5))
    if len(body) != 1:
        raise ParseError(f"JWKS_REFUSED {code} with {len(body) - 1} extra bytes")
    return dict(code=code)


def parse_refresh(body):
    if len(body) != 11:
        raise ParseError(f"REFRESH_STATE body of {len(body)} bytes")
    return dict(due=body[0], freshness=body[1], expires=struct.unpack_from("<Q", body, 2)[0],
                pending=body[10])


# ---------------------------------------------------------------------------------------------
# The suite: results, counters, helpers
# ---------------------------------------------------------------------------------------------


class Suite:
    def __init__(self, args):
        self.addr = args.device
        self.kind = args.kind
        self.quick = args.quick
        self.timeout = args.timeout
        self.verbose = args.verbose
        self.lock = threading.Lock()
        self.checks = 0
        self.failures = []
        self.notes = []
        # campaign counters (link tests add to U and C too)
        self.frames_sent = 0
        self.errors_answered = 0
        self.unanswered = 0
        self.keys_lost = 0
        self.cross_client = 0
        self.keys = {}          # kid -> HS256 secret: the keys that must always verify
        self.info = None
        self.refusals_caused = 0
        self.started = time.monotonic()
        self.info_at_start_clock = None
        self.unit_kinds = Counter()

    # -- results --------------------------------------------------------------------------
    def check(self, name, ok, expected="", got="", quiet=False):
        with self.lock:
            self.checks += 1
            if not ok:
                self.failures.append((name, expected, got))
                if not quiet:
                    print(f"FAIL {name}\n     expected: {expected}\n     received: {got}",
                          flush=True)
            elif self.verbose:
                print(f"ok   {name}", flush=True)
        return ok

    def note(self, text):
        with self.lock:
            self.notes.append(text)
        print(f"note {text}", flush=True)

    def expect(self, name, reply, status, body=None):
        """The reply has this status (and exactly this body when given)."""
        want = f"status {STATUS_NAMES.get(status, hex(status))} ({status:#04x})"
        if body is not None:
            want += f", body {body.hex() or '(empty)'}"
        ok = reply.status == status and (body is None or reply.body == body)
        return self.check(name, ok, want, str(reply))

    def add(self, **counters):
        with self.lock:
            for key, value in counters.items():
                setattr(self, key, getattr(self, key) + value)

    # -- connections ----------------------------------------------------------------------
    def connect(self, hello=True) -> Conn:
        conn = Conn(self.addr, self.timeout)
        if hello:
            dropped = conn.hello()
            if dropped:
                self.add(cross_client=dropped)
                self.check("a new session sees no reply meant for an earlier client",
                           False, "0 frames before the HELLO reply", f"{dropped} frames")
        return conn

    def elapsed(self):
        return time.monotonic() - self.started


def section(suite, name, fn, *args):
    """Run one area; a hang or a broken reply ends the area as a counted failure."""
    t0 = time.monotonic()
    print(f"== {name}", flush=True)
    try:
        fn(suite, *args)
    except NoReply as exc:
        suite.add(unanswered=1)
        suite.check(f"{name}: every request answered", False, "a reply", f"none ({exc})")
    except (Mismatch, BadReply, ParseError) as exc:
        suite.check(f"{name}: well-formed matching replies", False, "the request's reply",
                    str(exc))
    except OSError as exc:
        suite.check(f"{name}: connection", False, "an open connection", str(exc))
    print(f"   ({time.monotonic() - t0:.2f} s)", flush=True)


# -- device helpers (on an open connection) --------------------------------------------------


def list_all_keys(conn):
    """Walk LIST_KEYS pages from index 0; returns (total, entries)."""
    entries, start, total, pages = [], 0, None, 0
    while True:
        reply = conn.request(LIST_KEYS, bytes([start]))
        if reply.status != OK:
            raise ParseError(f"LIST_KEYS {start} answered {reply}")
        total, nxt, page = parse_list(reply.body)
        entries += page
        pages += 1
        if nxt == 0xFF or pages > 64:
            return total, entries
        if nxt <= start:
            raise ParseError(f"LIST_KEYS next index {nxt} does not advance past {start}")
        start = nxt


def remove_all_keys(conn):
    _, entries = list_all_keys(conn)
    for entry in entries:
        conn.request(REMOVE_KEY, entry["kid"])


def stats(conn):
    reply = conn.request(STATS)
    if reply.status != OK:
        raise ParseError(f"STATS answered {reply}")
    return parse_stats(reply.body)


def stream_jwks(conn, doc: bytes, chunk=7, max_age=86400):
    """JWKS_BEGIN + chunks + JWKS_END; returns (chunk replies, END reply)."""
    begin = conn.request(JWKS_BEGIN, struct.pack("<I", max_age))
    if begin.status != OK:
        raise ParseError(f"JWKS_BEGIN answered {begin}")
    replies = []
    for i in range(0, len(doc), chunk):
        reply = conn.request(JWKS_CHUNK, doc[i:i + chunk])
        replies.append(reply)
        if reply.status != OK:
            return replies, None
    return replies, conn.request(JWKS_END)


def jwks_doc(keys) -> bytes:
    return jdump({"keys": keys})


def sync_clock(conn):
    """SET_TIME to the host's clock, as a host does now and then: the firmware's SysTick clock
    was seen to fall behind under QEMU on a loaded machine."""
    reply = conn.request(SET_TIME, struct.pack("<Q", int(time.time())))
    if reply.status != OK:
        raise ParseError(f"SET_TIME answered {reply}")


def device_now(conn):
    reply = conn.request(GET_TIME)
    if reply.status != OK or len(reply.body) != 8:
        raise ParseError(f"GET_TIME answered {reply}")
    return struct.unpack("<Q", reply.body)[0]


def short_token(kid, secret, forged=False):
    """A small VERIFY for slot LINK_SLOT (slow links pay per byte)."""
    claims = {"iss": "i", "aud": "a", "exp": int(time.time()) + 600}
    signing_input = b64u(jdump({"alg": "HS256", "kid": kid})) + "." + b64u(jdump(claims))
    sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    token = (signing_input + "." + b64u(sig)).encode()
    return (forge(token) if forged else token), jdump(claims)


def verify_token(conn, token, slot=MAIN_SLOT):
    return conn.request(VERIFY, bytes([slot]) + token)


def verify_key(conn, kid, secret):
    claims = good_claims()
    return verify_token(conn, hs256_token(kid, secret, claims)), jdump(claims)


def check_keys(suite, conn, label):
    """LIST_KEYS holds every tracked key and a token per key verifies. Returns keys lost."""
    _, entries = list_all_keys(conn)
    listed = {e["kid"] for e in entries}
    lost = 0
    for kid, secret in suite.keys.items():
        token, claims = short_token(kid, secret)
        reply = verify_token(conn, token, LINK_SLOT)
        ok = kid.encode() in listed and reply.status == OK and reply.body == b"\x00" + claims
        if not ok:
            lost += 1
            suite.check(f"{label}: key {kid} still loaded and verifying", False,
                        "listed, VERIFY OK", f"listed={kid.encode() in listed}, VERIFY {reply}")
    return lost


# ---------------------------------------------------------------------------------------------
# 1. Conformance
# ---------------------------------------------------------------------------------------------


def conformance_info(suite):
    with suite.connect() as conn:
        reply = conn.request(INFO)
        suite.expect("INFO status", reply, OK)
        info = parse_info(reply.body)
        suite.info = info
        suite.check("INFO protocol", info["protocol"] == PROTOCOL_VERSION, "2",
                    str(info["protocol"]))
        suite.check("INFO max payload", info["max_payload"] == MAX_PAYLOAD, "1015",
                    str(info["max_payload"]))
        suite.check("INFO policy slots", info["policy_slots"] == POLICY_SLOTS, "4",
                    str(info["policy_slots"]))
        suite.check("INFO algorithms within the table and not empty",
                    info["algorithms"] and not info["algorithms"] & ~ALL_ALGS,
                    f"mask in {ALL_ALGS:#06x}",
                    hex(info["algorithms"]))
        suite.check("INFO clock set is 0 or 1", info["clock_set"] in (0, 1), "0/1",
                    str(info["clock_set"]))
        suite.check("INFO version is UTF-8", _is_utf8(info["version"]), "UTF-8",
                    repr(info["version"]))
        suite.check("INFO key slots at least 2", info["key_slots"] >= 2, ">= 2",
                    str(info["key_slots"]))
        suite.check("device verifies HS256 (this suite mints HS256 tokens)",
                    info["algorithms"] & 1, "bit 0 set", hex(info["algorithms"]))
        print(f"   device: version {info['version'].decode(errors='replace')}, algorithms "
              f"{info['algorithms']:#06x}, {info['key_slots']} key slots, max RSA "
              f"{info['max_rsa_bits']} bits, clock set {info['clock_set']}")


def _is_utf8(data):
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def conformance_no_time(suite):
    """Before the first SET_TIME: GET_TIME, FETCH_FAILED, REFRESH_STATE, VERIFY, SIGN."""
    if suite.info["clock_set"]:
        suite.note("the device's clock was already set: NO_TIME checks skipped")
        return
    with suite.connect() as conn:
        # give VERIFY a policy and SIGN a key first, so that NO_TIME is the only possible answer
        suite.expect("SET_POLICY (before the clock)", conn.request(
            SET_POLICY, policy_body(MAIN_SLOT, algs=suite.info["algorithms"])), OK)
        for cmd, body in ((GET_TIME, b""), (FETCH_FAILED, b""), (REFRESH_STATE, b""),
                          (VERIFY, bytes([MAIN_SLOT]) + hs256_token("x", b"k" * 32,
                                                                     good_claims()))):
            suite.expect(f"{COMMANDS[cmd]} before SET_TIME: NO_TIME", conn.request(cmd, body),
                         NO_TIME, b"")
        first = conn.request(SIGN, sign_body())
        suite.check("SIGN without key and clock: NOT_FOUND or NO_TIME (doc fixes no order)",
                    first.status in (NOT_FOUND, NO_TIME, UNSUPPORTED), "NOT_FOUND/NO_TIME",
                    str(first))
        reply = conn.request(SET_SIGNING_KEY, jdump(ec_private_jwk("notime-ec")[1]))
        if reply.status == UNSUPPORTED:
            suite.note("signing unsupported by this device (SET_SIGNING_KEY: UNSUPPORTED)")
            return
        suite.expect("SET_SIGNING_KEY EC P-256 (before the clock)", reply, OK,
                     bytes([ALG_CODES["ES256"]]))
        suite.expect("SIGN before SET_TIME: NO_TIME", conn.request(SIGN, sign_body()),
                     NO_TIME, b"")


def conformance_time(suite):
    with suite.connect() as conn:
        suite.expect("SET_TIME with 7 bytes: BAD_REQUEST",
                     conn.request(SET_TIME, b"\x01" * 7), BAD_REQUEST, b"")
        suite.expect("SET_TIME with no body: BAD_REQUEST", conn.request(SET_TIME), BAD_REQUEST,
                     b"")
        now = int(time.time())
        suite.expect("SET_TIME (further bytes ignored)",
                     conn.request(SET_TIME, struct.pack("<Q", now) + b"ignored"), OK, b"")
        reply = conn.request(GET_TIME)
        suite.expect("GET_TIME status", reply, OK)
        got = struct.unpack("<Q", reply.body)[0] if len(reply.body) == 8 else None
        suite.check("GET_TIME is the time just set (u64, within 2 s)",
                    got is not None and abs(got - now) <= 2, f"{now} +- 2", str(got))
        info = parse_info(conn.request(INFO).body)
        suite.check("INFO clock set = 1 after SET_TIME", info["clock_set"] == 1, "1",
                    str(info["clock_set"]))
        suite.info = info


def conformance_hello(suite):
    with suite.connect(hello=False) as conn:
        conn.send_raw(b"\x00")
        for size in (0, 1, 16, 32):
            nonce = os.urandom(size)
            suite.expect(f"HELLO echoes a {size}-byte nonce", conn.request(HELLO, nonce), OK,
                         nonce)
        suite.expect("HELLO with 33 bytes: BAD_REQUEST", conn.request(HELLO, b"n" * 33),
                     BAD_REQUEST, b"")
        suite.expect("HELLO with 200 bytes: BAD_REQUEST", conn.request(HELLO, b"n" * 200),
                     BAD_REQUEST, b"")


def conformance_frames(suite):
    """FRAME_ERROR answers and the 1015/1016-byte payload limit."""
    with suite.connect() as conn:
        before = stats(conn)
        counts = {BAD_FRAME: 0, FRAME_TOO_LARGE: 0, "other": 0}

        def frame_error(name, data, status):
            conn.send_raw(data)
            reply = conn.read_payload()
            suite.check(name, reply == bytes([0xFF, 0x00, status]),
                        f"ff00{status:02x} (FRAME_ERROR/{STATUS_NAMES[status]})", reply.hex())
            counts[status if status in counts else "other"] += 1

        good = frame_body(request_payload(GET_TIME, 9))
        flipped = bytearray(encode_frame(request_payload(GET_TIME, 9)))
        flipped[-2] ^= 0x01 if flipped[-2] != 0x01 else 0x03
        frame_error("bad CRC: BAD_FRAME", bytes(flipped), BAD_FRAME)
        frame_error("garbage: BAD_FRAME", b"\x13\x37garbage\x00", BAD_FRAME)
        frame_error("bad COBS (code past the end): BAD_FRAME", b"\x09\x01\x02\x00", BAD_FRAME)
        frame_error("one-byte COBS body: BAD_FRAME", b"\x01\x00", BAD_FRAME)
        frame_error("a truncated frame merged with a good one: BAD_FRAME",
                    good[:3] + good + b"\x00", BAD_FRAME)

        big = nonzero_payload(1016)
        suite.check("oversize test frame has the worst-case COBS size",
                    len(frame_body(big)) == 1025, "1025-byte body",
                    f"{len(frame_body(big))}-byte body")
        frame_error("1016-byte payload: FRAME_TOO_LARGE", encode_frame(big), FRAME_TOO_LARGE)
        frame_error("1600-byte frame body: FRAME_TOO_LARGE", b"\x05" * 1600 + b"\x00",
                    FRAME_TOO_LARGE)
        suite.expect("the connection still works after FRAME_TOO_LARGE",
                     conn.request(GET_TIME), OK)
        # 1015 bytes: a REMOVE_KEY of a 1013-byte kid, answered as a request (NOT_FOUND)
        kid = nonzero_payload(1013, seed=b"kid")
        payload = request_payload(REMOVE_KEY, 0x42, kid)
        suite.check("1015-byte test frame has the worst-case COBS size (1024)",
                    len(frame_body(payload)) == 1024, "1024-byte body",
                    f"{len(frame_body(payload))}-byte body")
        conn.send_raw(encode_frame(payload))
        reply = conn.read_reply()
        suite.check("1015-byte payload accepted (REMOVE_KEY answers NOT_FOUND)",
                    reply.raw == bytes([REMOVE_KEY | 0x80, 0x42, NOT_FOUND]),
                    f"{REMOVE_KEY | 0x80:02x}42{NOT_FOUND:02x}", str(reply))

        frame_error("0-byte payload: BAD_REQUEST", encode_frame(b""), BAD_REQUEST)
        frame_error("1-byte payload: BAD_REQUEST", encode_frame(b"\x01"), BAD_REQUEST)
        for cmd in (0x00, 0x7F, 0x80, 0xFF):
            frame_error(f"command {cmd:#04x}: FRAME_ERROR/UNKNOWN_COMMAND",
                        encode_frame(request_payload(cmd, 5, b"body")), UNKNOWN_COMMAND)
        for cmd in (0x05, 0x41, 0x7E):
            reply = conn.request(cmd, b"x", seq=0x77)
            suite.check(f"unknown command {cmd:#04x} answered as itself: UNKNOWN_COMMAND",
                        reply.raw == bytes([cmd | 0x80, 0x77, UNKNOWN_COMMAND]),
                        f"{cmd | 0x80:02x}77{UNKNOWN_COMMAND:02x}", str(reply))
        conn.send_raw(b"\x00\x00\x00")          # empty frames: no answer
        suite.expect("empty frames are not answered (next reply is GET_TIME's)",
                     conn.request(GET_TIME), OK)
        after = stats(conn)
        corrupt = counts[BAD_FRAME] + counts[FRAME_TOO_LARGE]
        delta = after["bad_frames"] - before["bad_frames"]
        suite.check("STATS bad frames counts the corrupt and oversized frames",
                    corrupt <= delta <= corrupt + counts["other"], f"{corrupt}..."
                    f"{corrupt + counts['other']}", str(delta))
        suite.check("STATS frames counter moves", after["frames"] > before["frames"],
                    f"> {before['frames']}", str(after["frames"]))


def nonzero_payload(n, seed=b"payload"):
    """n bytes without a zero whose CRC has no zero byte either (worst-case COBS size)."""
    counter = 0
    while True:
        data = bytes((b % 255) + 1 for b in hashlib.shake_256(seed + bytes([counter]))
                     .digest(n))
        if b"\x00" not in crc32(data):
            return data
        counter += 1


def conformance_load_jwk(suite):
    slots = suite.info["key_slots"]
    with suite.connect() as conn:
        remove_all_keys(conn)
        suite.keys.clear()
        suite.expect("LOAD_JWK k-a", conn.request(LOAD_JWK, b"\x00" + jdump(
            hs_jwk("k-a", b"a" * 32))), OK, b"\x01")
        suite.expect("LOAD_JWK pinned pin-0", conn.request(LOAD_JWK, b"\x01" + jdump(
            hs_jwk("pin-0", b"p" * 32))), OK, b"\x02")
        suite.expect("LOAD_JWK unpinned over a pinned kid: KEY_REFUSED/kid pinned",
                     conn.request(LOAD_JWK, b"\x00" + jdump(hs_jwk("pin-0", b"q" * 32))),
                     KEY_REFUSED, bytes([KE_KID_PINNED]))
        suite.expect("LOAD_JWK pinned over a pinned kid replaces it", conn.request(
            LOAD_JWK, b"\x01" + jdump(hs_jwk("pin-0", b"P" * 32))), OK, b"\x02")
        suite.expect("LOAD_JWK same kid replaces (keys in use unchanged)", conn.request(
            LOAD_JWK, b"\x00" + jdump(hs_jwk("k-a", b"A" * 32))), OK, b"\x02")
        suite.expect("LOAD_JWK 8-byte HMAC key: KEY_REFUSED/symmetric key size", conn.request(
            LOAD_JWK, b"\x00" + jdump(hs_jwk("k-short", b"s" * 8))), KEY_REFUSED,
            bytes([KE_SYMMETRIC_SIZE]))
        suite.expect("LOAD_JWK broken JSON: KEY_REFUSED/JSON",
                     conn.request(LOAD_JWK, b'\x00{"kty":'), KEY_REFUSED, bytes([KE_JSON]))
        suite.expect("LOAD_JWK kty foo: KEY_REFUSED/unsupported kty", conn.request(
            LOAD_JWK, b'\x00{"kty":"foo","kid":"f"}'), KEY_REFUSED, bytes([KE_UNSUPPORTED_KTY]))
        suite.expect("LOAD_JWK empty body: BAD_REQUEST", conn.request(LOAD_JWK), BAD_REQUEST,
                     b"")
        secrets = {"k-a": b"A" * 32, "pin-0": b"P" * 32}
        for i in range(slots - 2):
            kid = f"fill-{i}-" + "x" * 40
            secret = os.urandom(32)
            secrets[kid] = secret
            suite.expect(f"LOAD_JWK fill slot {i + 3}", conn.request(
                LOAD_JWK, b"\x00" + jdump(hs_jwk(kid, secret))), OK, bytes([i + 3]))
        suite.expect("LOAD_JWK with every slot taken: FULL", conn.request(
            LOAD_JWK, b"\x00" + jdump(hs_jwk("one-too-many", b"m" * 32))), FULL, b"")
        suite.expect("LOAD_JWK replacing a kid when full still works", conn.request(
            LOAD_JWK, b"\x00" + jdump(hs_jwk("k-a", b"A" * 32))), OK, bytes([slots]))

        # LIST_KEYS: paging walk, fields, start index, past the end
        total, entries = list_all_keys(conn)
        suite.check("LIST_KEYS total = keys loaded", total == slots, str(slots), str(total))
        kids = [e["kid"].decode() for e in entries]
        suite.check("LIST_KEYS pages list every key once", sorted(kids) == sorted(secrets),
                    sorted(secrets), sorted(kids))
        bad = [e for e in entries if (e["kty"], e["alg"], e["bits"]) != (3, 0, 256)
               or e["pinned"] != (e["kid"] == b"pin-0")]
        suite.check("LIST_KEYS entries: kty 3 (oct), alg 0 (HS256), 256 bits, pinned flag",
                    not bad, "oct/HS256/256, pinned only pin-0", str(bad))
        start = min(3, total - 1)
        _, _, page = parse_list(conn.request(LIST_KEYS, bytes([start])).body)
        suite.check(f"LIST_KEYS from index {start} starts at the {start}th key",
                    [e["kid"] for e in page] == [e["kid"] for e in entries[start:start +
                                                                          len(page)]]
                    and page, [e["kid"] for e in entries[start:]], [e["kid"] for e in page])
        reply = conn.request(LIST_KEYS, bytes([total]))
        suite.expect("LIST_KEYS past the end: total, next 0xFF, no entries", reply, OK,
                     bytes([total, 0xFF, 0]))
        reply = conn.request(LIST_KEYS)
        suite.expect("LIST_KEYS without its start index u8: BAD_REQUEST (body too short)",
                     reply, BAD_REQUEST, b"")

        # REMOVE_KEY
        for kid in [k for k in secrets if k.startswith("fill-")]:
            suite.expect(f"REMOVE_KEY {kid[:7]}", conn.request(REMOVE_KEY, kid.encode()), OK,
                         b"")
        suite.expect("REMOVE_KEY again: NOT_FOUND", conn.request(REMOVE_KEY, b"fill-0-" +
                                                                 b"x" * 40), NOT_FOUND, b"")
        suite.expect("REMOVE_KEY unknown kid: NOT_FOUND", conn.request(REMOVE_KEY, b"nope"),
                     NOT_FOUND, b"")
        suite.expect("REMOVE_KEY k-a", conn.request(REMOVE_KEY, b"k-a"), OK, b"")
        total, entries = list_all_keys(conn)
        suite.check("after REMOVE_KEY only pin-0 is left", [e["kid"] for e in entries] ==
                    [b"pin-0"], "[b'pin-0']", str([e["kid"] for e in entries]))
        suite.keys["pin-0"] = b"P" * 32


def conformance_policy(suite):
    algs = suite.info["algorithms"]
    with suite.connect() as conn:
        suite.expect("SET_POLICY slot 0", conn.request(SET_POLICY, policy_body(
            MAIN_SLOT, algs=algs)), OK, b"")
        suite.expect("SET_POLICY slot 1 (iss/aud at 128 bytes, sub/typ at 48)", conn.request(
            SET_POLICY, policy_body(1, algs=algs, iss=b"i" * 128, aud=b"a" * 128,
                                    sub=b"s" * 48, typ=b"t" * 48)), OK, b"")
        suite.expect("SET_POLICY slot 4: NOT_FOUND", conn.request(SET_POLICY, policy_body(
            4, algs=algs)), NOT_FOUND, b"")
        suite.expect("SET_POLICY slot 255: NOT_FOUND", conn.request(SET_POLICY, policy_body(
            255, algs=algs)), NOT_FOUND, b"")
        good = policy_body(1, algs=algs)
        cases = [
            ("short body", good[:-1]),
            ("longer body", good + b"\x00"),
            ("empty body", b""),
            ("empty algorithm set", policy_body(1, algs=0)),
            ("non-UTF-8 iss", policy_body(1, algs=algs, iss=b"\xff\xfe")),
            ("non-UTF-8 sub", policy_body(1, algs=algs, sub=b"\xc3")),
            ("iss of 129 bytes", policy_body(1, algs=algs, iss=b"i" * 129)),
            ("aud of 129 bytes", policy_body(1, algs=algs, aud=b"a" * 129)),
            ("sub of 49 bytes", policy_body(1, algs=algs, sub=b"s" * 49)),
            ("typ of 49 bytes", policy_body(1, algs=algs, typ=b"t" * 49)),
        ]
        for name, body in cases:
            suite.expect(f"SET_POLICY {name}: BAD_REQUEST", conn.request(SET_POLICY, body),
                         BAD_REQUEST, b"")
        suite.expect("VERIFY on slot 4: NOT_FOUND", verify_token(
            conn, hs256_token("pin-0", b"P" * 32, good_claims()), 4), NOT_FOUND, b"")
        # the policy in a slot is the one applied; flags
        pin = b"P" * 32
        no_exp = good_claims()
        del no_exp["exp"]
        other_aud = good_claims(aud="another-audience")
        for name, policy, claims, status in (
                ("sub required, token has another", policy_body(1, algs=algs, sub=b"x-sub"),
                 good_claims(), rejected("wrong_subject")),
                ("no exp, flags 0", policy_body(1, algs=algs), no_exp,
                 rejected("missing_claim")),
                ("no exp, flag 0x01 allow missing exp", policy_body(1, 0x01, algs=algs),
                 no_exp, OK),
                ("other aud, flag 0x08 ignore aud", policy_body(1, 0x08, algs=algs),
                 other_aud, OK),
                ("other aud, flags 0", policy_body(1, algs=algs), other_aud,
                 rejected("wrong_audience")),
                ("other iss, flag 0x04 ignore iss", policy_body(1, 0x04, algs=algs,
                                                                iss=b"https://x.test"),
                 good_claims(), OK),
                ("HS256 not in the algorithm set", policy_body(1, algs=1 << 3),
                 good_claims(), rejected("alg_not_allowed"))):
            suite.expect(f"SET_POLICY slot 1: {name}", conn.request(SET_POLICY, policy), OK,
                         b"")
            reply = verify_token(conn, hs256_token("pin-0", pin, claims), 1)
            suite.expect(f"VERIFY slot 1 ({name}): {STATUS_NAMES[status]}", reply, status,
                         (b"\x00" + jdump(claims)) if status == OK else b"")
        if not suite.info_at_start_clock:
            suite.expect("VERIFY on a slot never given a policy: NOT_FOUND", verify_token(
                conn, hs256_token("pin-0", b"P" * 32, good_claims()), UNSET_SLOT), NOT_FOUND,
                b"")
        set_link_policy(suite, conn)


def set_link_policy(suite, conn):
    """Slot LINK_SLOT: iss "i", aud "a", for the short tokens of check_keys and link tests."""
    suite.expect("SET_POLICY link slot", conn.request(SET_POLICY, policy_body(
        LINK_SLOT, algs=suite.info["algorithms"], iss=b"i", aud=b"a")), OK, b"")


def conformance_jwks_verify(suite):
    """JWK Set streaming and report, VERIFY accept/reject, refusals 5/6, STATS counters."""
    slots = suite.info["key_slots"]
    with suite.connect() as conn:
        sync_clock(conn)
        set_keys = {f"set-{i}": os.urandom(32) for i in range(4)}
        keys = [hs_jwk(kid, secret) for kid, secret in set_keys.items()]
        keys.insert(2, hs_jwk("set-weak", b"w" * 8))          # skipped: symmetric key size
        doc = b'{"keys":[' + b" " * 1100 + b",".join(jdump(k) for k in keys) + b"]}"
        suite.expect("JWKS_BEGIN", conn.request(JWKS_BEGIN, struct.pack("<I", 86400)), OK, b"")
        pieces = [doc[:1013], b""] + [doc[i:i + 7] for i in range(1013, len(doc), 7)]
        statuses, skipped_seen = [], []
        for piece in pieces:
            reply = conn.request(JWKS_CHUNK, piece)
            statuses.append(reply.status)
            if reply.status == OK and len(reply.body) == 2:
                skipped_seen.append(struct.unpack("<H", reply.body)[0])
        suite.check("JWKS_CHUNK: a 1013-byte chunk, an empty chunk and 7-byte chunks all OK "
                    "with a u16 body", set(statuses) == {OK} and len(skipped_seen) ==
                    len(pieces), "all OK, 2-byte bodies", f"statuses {set(statuses)}, "
                    f"{len(skipped_seen)} of {len(pieces)} with 2 bytes")
        suite.check("JWKS_CHUNK keys skipped so far: 0, then 1 (monotonic)",
                    skipped_seen and skipped_seen[0] == 0 and skipped_seen[-1] == 1
                    and skipped_seen == sorted(skipped_seen), "0 ... 1",
                    str(sorted(set(skipped_seen))))
        reply = conn.request(JWKS_END)
        suite.expect("JWKS_END status", reply, OK)
        report = parse_report(reply.body)
        suite.check("JWKS_END report: loaded 4, unchanged 0, skipped 1, removed 0, "
                    "log [(2, symmetric key size)]",
                    report == dict(loaded=4, unchanged=0, skipped=1, removed=0,
                                   log=[(2, KE_SYMMETRIC_SIZE)]),
                    "loaded 4 unchanged 0 skipped 1 removed 0 log [(2, 15)]", str(report))
        suite.keys.update(set_keys)
        _, entries = list_all_keys(conn)
        suite.check("LIST_KEYS: the pinned key and the 4 set keys",
                    sorted(e["kid"].decode() for e in entries) == sorted(suite.keys),
                    sorted(suite.keys), sorted(e["kid"].decode() for e in entries))

        # the same set again: every key unchanged
        _, end = stream_jwks(conn, jwks_doc([hs_jwk(k, s) for k, s in set_keys.items()]),
                             chunk=64)
        suite.check("the same set again: loaded 4, unchanged 4, skipped 0, removed 0",
                    end is not None and end.status == OK and parse_report(end.body) ==
                    dict(loaded=4, unchanged=4, skipped=0, removed=0, log=[]),
                    "OK 4/4/0/0", str(end))
        # a set key whose kid a pinned key holds: skipped with key error 22 (kid pinned)
        with_pinned = [hs_jwk(k, s) for k, s in set_keys.items()] + [hs_jwk("pin-0",
                                                                            b"z" * 32)]
        _, end = stream_jwks(conn, jwks_doc(with_pinned), chunk=64)
        report = parse_report(end.body) if end is not None and end.status == OK else None
        suite.check("a set key with a pinned key's kid: skipped with key error 22 (kid pinned)",
                    report == dict(loaded=4, unchanged=4, skipped=1, removed=0,
                                   log=[(4, KE_KID_PINNED)]),
                    "OK, loaded 4 unchanged 4 skipped 1 removed 0 log [(4, 22)]",
                    f"{end} -> {report}")
        state = parse_refresh(conn.request(REFRESH_STATE).body)
        now = device_now(conn)
        suite.check("REFRESH_STATE after a load: fresh, expires at now + max-age 86400",
                    state["freshness"] == 1 and abs(state["expires"] - (now + 86400)) <= 3,
                    f"freshness 1, expires {now + 86400}", str(state))

        # VERIFY: accept each key, exact claims; rejections with their codes
        before = stats(conn)
        for kid, secret in suite.keys.items():
            reply, claims = verify_key(conn, kid, secret)
            suite.expect(f"VERIFY {kid}: OK, alg HS256 + the payload bytes", reply, OK,
                         b"\x00" + claims)
        secret = set_keys["set-1"]
        expired = hs256_token("set-1", secret, good_claims(exp=int(time.time()) - 120))
        wrong_aud = hs256_token("set-1", secret, good_claims(aud="someone-else"))
        token = hs256_token("set-1", secret, good_claims())
        forged = forge(token)
        unknown = hs256_token("no-such-kid", secret, good_claims())
        wrong_key = hs256_token("set-1", set_keys["set-2"], good_claims())
        cases = [("expired", expired, "expired"), ("wrong audience", wrong_aud,
                                                   "wrong_audience"),
                 ("bad signature (edited signature)", forged, "bad_signature"),
                 ("bad signature (other key)", wrong_key, "bad_signature"),
                 ("unknown kid", unknown, "key_not_found")]
        for name, tok, code in cases:
            suite.expect(f"VERIFY {name}: {code}", verify_token(conn, tok), rejected(code),
                         b"")
        after = stats(conn)
        suite.check("STATS accepted moved by the accepted tokens",
                    after["accepted"] - before["accepted"] == len(suite.keys),
                    str(len(suite.keys)), str(after["accepted"] - before["accepted"]))
        want = [0] * 18
        for _, _, code in cases:
            want[REJECTIONS.index(code)] += 1
        got = [a - b for a, b in zip(after["rejected"], before["rejected"])]
        suite.check("STATS rejected[code] moved by the rejections", got == want, str(want),
                    str(got))

        # refusals: 5 (empty, unusable) and 6 (no space); the old keys stay
        refusals = jwks_refusals(suite, conn, set_keys, slots)
        final = stats(conn)
        suite.check("STATS updates refused moved by exactly the refusals caused",
                    final["updates_refused"] - after["updates_refused"] == refusals,
                    str(refusals), str(final["updates_refused"] - after["updates_refused"]))
        suite.check("STATS keys / key slots", (final["keys"], final["key_slots"]) ==
                    (len(suite.keys), slots), str((len(suite.keys), slots)),
                    str((final["keys"], final["key_slots"])))
        if suite.kind == "sim":
            suite.check("STATS peak stack is 0 on the simulator", final["peak_stack"] == 0,
                        "0", str(final["peak_stack"]))

        # other JWKS refusals and NO_UPDATE
        _, ec_private = ec_private_jwk("in-set")
        for name, doc, code in (("not a key set", b'{"foo":1}', JR_NOT_A_SET),
                                ("incomplete", b'{"keys":[', JR_INCOMPLETE),
                                ("with a private key", jwks_doc([ec_private]), JR_PRIVATE)):
            _, end = stream_jwks(conn, doc, chunk=5)
            suite.check(f"JWKS_END {name}: JWKS_REFUSED/{code}", end is not None and
                        end.status == JWKS_REFUSED and end.body == bytes([code]),
                        f"JWKS_REFUSED, body {code:02x}", str(end))
        conn.request(JWKS_BEGIN, struct.pack("<I", 600))
        reply = conn.request(JWKS_CHUNK, b'{"keys":[}')
        suite.expect("JWKS_CHUNK with a JSON error: JWKS_REFUSED/0", reply, JWKS_REFUSED,
                     bytes([JR_JSON]))
        suite.expect("JWKS_END after the update ended: NO_UPDATE", conn.request(JWKS_END),
                     NO_UPDATE, b"")
        suite.expect("JWKS_CHUNK without an update: NO_UPDATE", conn.request(JWKS_CHUNK, b"{"),
                     NO_UPDATE, b"")
        suite.expect("JWKS_BEGIN with 2 bytes: BAD_REQUEST", conn.request(JWKS_BEGIN, b"\x01\x02"),
                     BAD_REQUEST, b"")

        # max-age clamping (60..86400, 0xFFFFFFFF = 3600)
        same = jwks_doc([hs_jwk(k, s) for k, s in set_keys.items()])
        for max_age, effective in ((10, 60), (1000, 1000), (100000, 86400),
                                   (0xFFFFFFFF, 3600), (86400, 86400)):
            _, end = stream_jwks(conn, same, chunk=1000, max_age=max_age)
            state = parse_refresh(conn.request(REFRESH_STATE).body)
            now = device_now(conn)
            suite.check(f"JWKS_BEGIN max-age {max_age:#x}: expires at now + {effective}",
                        end is not None and end.status == OK and
                        abs(state["expires"] - (now + effective)) <= 3,
                        f"OK, expires {now + effective}", f"{end}, {state}")
        suite.expect("FETCH_FAILED", conn.request(FETCH_FAILED), OK, b"")
        state = parse_refresh(conn.request(REFRESH_STATE).body)
        suite.check("REFRESH_STATE fields in range", state["due"] <= 4 and
                    state["freshness"] <= 3 and state["pending"] in (0, 1), "due 0..4, "
                    "freshness 0..3, pending 0/1", str(state))
        lost = check_keys(suite, conn, "after the JWKS conformance tests")
        suite.check("every key still verifies after refusals", lost == 0, "0 keys lost",
                    str(lost))


def forge(token: bytes) -> bytes:
    """The same token with the first signature character changed (a forged signature)."""
    head, sig = token.rsplit(b".", 1)
    first = b"A" if sig[:1] != b"A" else b"B"
    return head + b"." + first + sig[1:]


def jwks_refusals(suite, conn, set_keys, slots):
    """JWKS_REFUSED 5 and 6 with needed/free and the report; old keys still verify."""
    used = len(suite.keys)
    free = slots - used
    refusals = 0
    cases = [
        ("empty set", jwks_doc([]), JR_NO_USABLE, 0,
         dict(loaded=0, unchanged=0, skipped=0, removed=0, log=[])),
        ("only unusable keys", jwks_doc([hs_jwk("u-short", b"s" * 8),
                                         {"kty": "foo", "kid": "u-kty"}]), JR_NO_USABLE, 0,
         dict(loaded=0, unchanged=0, skipped=2, removed=0,
              log=[(0, KE_SYMMETRIC_SIZE), (1, KE_UNSUPPORTED_KTY)])),
        ("20 unusable keys (the skip log holds the first 16)",
         jwks_doc([hs_jwk(f"u-{i}", b"s" * 8) for i in range(20)]), JR_NO_USABLE, 0,
         dict(loaded=0, unchanged=0, skipped=20, removed=0,
              log=[(i, KE_SYMMETRIC_SIZE) for i in range(16)])),
        (f"{free + 1} new keys with {free} free slots",
         jwks_doc([hs_jwk(f"new-{i}", os.urandom(32)) for i in range(free + 1)]),
         JR_NO_SPACE, free + 1, None),
        (f"{slots + 2} keys (more than the device's slots)",
         jwks_doc([hs_jwk(f"many-{i}", os.urandom(32)) for i in range(slots + 2)]),
         JR_NO_SPACE, slots + 2, None),
    ]
    for name, doc, code, needed, report in cases:
        _, end = stream_jwks(conn, doc, chunk=97)
        if end is None or end.status != JWKS_REFUSED:
            suite.check(f"JWKS_END {name}: JWKS_REFUSED/{code}", False,
                        f"JWKS_REFUSED {code}", str(end))
            continue
        refusals += 1
        body = parse_jwks_refused(end.body)
        suite.check(f"JWKS_END {name}: JWKS_REFUSED code {code}", body["code"] == code,
                    str(code), f"{body['code']} ({end})")
        if "needed" not in body:
            continue
        suite.check(f"JWKS_REFUSED {name}: needed {needed}, free {free}",
                    (body["needed"], body["free"]) == (needed, free),
                    f"needed {needed}, free {free}",
                    f"needed {body['needed']}, free {body['free']} (body {end.body.hex()})")
        rep = body["report"]
        if report is not None:
            suite.check(f"JWKS_REFUSED {name}: report", rep == report, str(report), str(rep))
        else:
            suite.check(f"JWKS_REFUSED {name}: report counts every key, skip log = skipped "
                        f"(up to 16), no-space skips",
                        rep["loaded"] + rep["skipped"] == needed and rep["removed"] == 0
                        and len(rep["log"]) == min(rep["skipped"], 16)
                        and all(err == KE_NO_SPACE for _, err in rep["log"]),
                        f"loaded + skipped = {needed}, removed 0", str(rep))
        for kid in ("set-0", "pin-0"):
            reply, claims = verify_key(conn, kid, suite.keys[kid])
            suite.expect(f"after JWKS_REFUSED ({name}) the old key {kid} verifies", reply, OK,
                         b"\x00" + claims)
    suite.refusals_caused += refusals
    return refusals


def conformance_transfers(suite):
    """Transfer ownership (sim: two connections at once), HELLO abandoning a transfer."""
    with suite.connect() as conn:
        conn.request(JWKS_BEGIN, struct.pack("<I", 600))
        conn.request(JWKS_CHUNK, b'{"keys":[' + jdump(hs_jwk("t-0", b"t" * 32)))
        conn.request(HELLO, b"abandon")
        suite.expect("HELLO abandoned the JWK Set update: JWKS_CHUNK NO_UPDATE",
                     conn.request(JWKS_CHUNK, b"]}"), NO_UPDATE, b"")
        suite.expect("... and JWKS_END NO_UPDATE", conn.request(JWKS_END), NO_UPDATE, b"")
        conn.request(SIGNING_KEY_BEGIN)
        conn.request(SIGNING_KEY_CHUNK, b'{"kty":"EC",')
        conn.request(HELLO, b"abandon")
        reply = conn.request(SIGNING_KEY_END)
        suite.check("HELLO abandoned the signing-key upload: SIGNING_KEY_END NO_UPDATE "
                    "(or UNSUPPORTED)", reply.status in (NO_UPDATE, UNSUPPORTED) and
                    not reply.body, "NO_UPDATE", str(reply))
        suite.expect("SIGNING_KEY_CHUNK without an upload: NO_UPDATE"
                     if reply.status != UNSUPPORTED else "SIGNING_KEY_CHUNK: UNSUPPORTED",
                     conn.request(SIGNING_KEY_CHUNK, b"{}"), reply.status, b"")
        conn.request(JWKS_BEGIN, struct.pack("<I", 600))
        conn.request(JWKS_CHUNK, b'{"keys":[')
        suite.expect("FETCH_FAILED abandons the update", conn.request(FETCH_FAILED), OK, b"")
        suite.expect("... JWKS_END after FETCH_FAILED: NO_UPDATE", conn.request(JWKS_END),
                     NO_UPDATE, b"")
        if suite.kind != "sim":
            return
        with suite.connect() as other:
            conn.request(JWKS_BEGIN, struct.pack("<I", 600))
            suite.expect("JWKS_CHUNK from another connection: NO_UPDATE",
                         other.request(JWKS_CHUNK, b'{"keys":[]}'), NO_UPDATE, b"")
            suite.expect("JWKS_END from another connection: NO_UPDATE",
                         other.request(JWKS_END), NO_UPDATE, b"")
            suite.expect("the owner's update is still in progress (chunk OK)",
                         conn.request(JWKS_CHUNK, b'{"keys":['), OK)
            suite.expect("a JWKS_BEGIN from another connection abandons it", other.request(
                JWKS_BEGIN, struct.pack("<I", 600)), OK, b"")
            suite.expect("... the first owner's JWKS_CHUNK: NO_UPDATE",
                         conn.request(JWKS_CHUNK, b"]}"), NO_UPDATE, b"")
            other.close()
        time.sleep(0.05)
        with suite.connect() as third:
            conn.request(JWKS_BEGIN, struct.pack("<I", 600))
            conn.request(JWKS_CHUNK, b'{"keys":[')
            conn.close()                         # closing abandons the connection's transfer
            time.sleep(0.05)
            suite.expect("after the owner disconnected: JWKS_END NO_UPDATE",
                         third.request(JWKS_END), NO_UPDATE, b"")
            lost = check_keys(suite, third, "after abandoned transfers")
            suite.check("abandoned transfers changed no key", lost == 0, "0", str(lost))


def conformance_odd_bodies(suite):
    """Trailing bytes after a complete body: the doc says "further bytes ignored" only for
    SET_TIME and "BAD_REQUEST for a ... longer body" only for SET_POLICY. Both answers are
    accepted for the other commands; the device's choice is reported as a note."""
    probes = [(INFO, b"", b"\x00x"), (GET_TIME, b"", b"\x00x"), (REFRESH_STATE, b"", b"\x00x"),
              (STATS, b"", b"\x00x"), (FETCH_FAILED, b"", b"\x00x"),
              (JWKS_BEGIN, struct.pack("<I", 600), b"\x00x"),
              (SIGN, sign_body(entropy=os.urandom(32)), b"\x00x")]
    ignored = []
    with suite.connect() as conn:
        for cmd, body, extra in probes:
            plain = conn.request(cmd, body)
            longer = conn.request(cmd, body + extra)
            suite.check(f"{COMMANDS[cmd]} with trailing bytes: the plain answer or BAD_REQUEST",
                        longer.status in (plain.status, BAD_REQUEST), f"{plain.status:#04x} "
                        f"or BAD_REQUEST", str(longer))
            if longer.status == plain.status != BAD_REQUEST:
                ignored.append(COMMANDS[cmd])
        conn.request(FETCH_FAILED)          # ends the JWKS_BEGIN probes' update
    if ignored:
        suite.note("trailing bytes are ignored (not BAD_REQUEST) by " + ", ".join(ignored))


# ---------------------------------------------------------------------------------------------
# 2. Signing
# ---------------------------------------------------------------------------------------------


def _int_b64(value: int) -> str:
    return b64u(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def rsa_private_jwk(kid, alg):
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    n = key.private_numbers()
    jwk = {"kty": "RSA", "kid": kid, "alg": alg, "n": _int_b64(n.public_numbers.n),
           "e": _int_b64(n.public_numbers.e), "d": _int_b64(n.d), "p": _int_b64(n.p),
           "q": _int_b64(n.q), "dp": _int_b64(n.dmp1), "dq": _int_b64(n.dmq1),
           "qi": _int_b64(n.iqmp)}
    return key, jwk


def ec_private_jwk(kid):
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    n = key.private_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "kid": kid,
           "x": b64u(n.public_numbers.x.to_bytes(32, "big")),
           "y": b64u(n.public_numbers.y.to_bytes(32, "big")),
           "d": b64u(n.private_value.to_bytes(32, "big"))}
    return key, jwk


def upload_signing_key(conn, jwk, chunk=400):
    """SIGNING_KEY_BEGIN / CHUNK... / END; returns the last reply (END or a refused chunk)."""
    doc = jdump(jwk)
    reply = conn.request(SIGNING_KEY_BEGIN)
    if reply.status != OK:
        return reply
    for i in range(0, len(doc), chunk):
        reply = conn.request(SIGNING_KEY_CHUNK, doc[i:i + chunk])
        if reply.status != OK:
            return reply
    return conn.request(SIGNING_KEY_END)


def sign_and_check(suite, conn, name, public_key, alg, kid, entropy=b""):
    """SIGN preset 0 and verify the token with PyJWT. Returns the token header or None."""
    import jwt
    subject, audience = b"outsider-sub", b"https://audience.outsider.test"
    reply = conn.request(SIGN, sign_body(entropy=entropy, subject=subject, audience=audience))
    if not suite.expect(f"{name}: SIGN preset 0", reply, OK):
        return None
    token = reply.body.decode("ascii", "replace")
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, key=public_key, algorithms=[alg], audience=audience.decode(),
                            leeway=5, options={"require": ["exp", "iat"]})
    except Exception as exc:        # PyJWT raises many types; any is a failed check
        suite.check(f"{name}: PyJWT verifies the {alg} token", False, "a valid token",
                    f"{type(exc).__name__}: {exc} ({token[:80]}...)")
        return None
    suite.check(f"{name}: PyJWT verifies the {alg} token", True)
    suite.check(f"{name}: header alg/typ/kid", (header.get("alg"), header.get("typ"),
                                                header.get("kid")) == (alg, "JWT", kid),
                str((alg, "JWT", kid)), str(header))
    suite.check(f"{name}: preset 0 claims iss = sub = subject",
                claims.get("iss") == claims.get("sub") == subject.decode(),
                f"iss = sub = {subject.decode()}", str(claims))
    return header


def signing(suite):
    with suite.connect() as conn:
        sync_clock(conn)
        rs_key, rs_jwk = rsa_private_jwk("outsider-rs256", "RS256")
        suite.check("the RSA-2048 private JWK is over one frame", len(jdump(rs_jwk)) >
                    MAX_PAYLOAD - 2, f"> {MAX_PAYLOAD - 2} bytes", f"{len(jdump(rs_jwk))}")
        reply = upload_signing_key(conn, rs_jwk)
        if reply.status == UNSUPPORTED:
            suite.note("signing unsupported by this device: signing tests skipped")
            return
        suite.expect("RS256 key uploaded in chunks: alg 3", reply, OK,
                     bytes([ALG_CODES["RS256"]]))
        sign_and_check(suite, conn, "RS256", rs_key.public_key(), "RS256", "outsider-rs256")

        ps_key, ps_jwk = rsa_private_jwk("outsider-ps256", "PS256")
        suite.expect("PS256 key uploaded in chunks: alg 6", upload_signing_key(
            conn, ps_jwk, chunk=1013), OK, bytes([ALG_CODES["PS256"]]))
        suite.expect("PS256 SIGN without entropy: BAD_REQUEST",
                     conn.request(SIGN, sign_body()), BAD_REQUEST, b"")
        suite.expect("PS256 SIGN with 31 bytes of entropy: BAD_REQUEST",
                     conn.request(SIGN, sign_body(entropy=os.urandom(31))), BAD_REQUEST, b"")
        sign_and_check(suite, conn, "PS256", ps_key.public_key(), "PS256", "outsider-ps256",
                       entropy=os.urandom(32))

        # refused keys keep the previous signing key (PS256 above)
        wrong_qi = dict(rs_jwk, kid="bad-qi", qi=rs_jwk["dp"])
        reply = upload_signing_key(conn, wrong_qi)
        suite.expect("wrong qi: KEY_REFUSED/key mismatch (doc: qi must be the CRT value)",
                     reply, KEY_REFUSED, bytes([KE_KEY_MISMATCH]))
        no_d = {k: v for k, v in rs_jwk.items() if k != "d"}
        no_d["kid"] = "no-d"
        suite.expect("missing d: KEY_REFUSED/missing member", upload_signing_key(conn, no_d),
                     KEY_REFUSED, bytes([KE_MISSING_MEMBER]))
        conn.request(SIGNING_KEY_BEGIN)
        suite.expect("SIGNING_KEY_CHUNK with a JSON error: KEY_REFUSED/JSON",
                     conn.request(SIGNING_KEY_CHUNK, b'{"kty":}'), KEY_REFUSED,
                     bytes([KE_JSON]))
        suite.expect("SIGNING_KEY_END after the refused chunk: NO_UPDATE",
                     conn.request(SIGNING_KEY_END), NO_UPDATE, b"")
        header = sign_and_check(suite, conn, "after refused keys", ps_key.public_key(),
                                "PS256", "outsider-ps256", entropy=os.urandom(32))
        if not suite.check("after refused keys SIGN still uses the previous key's kid",
                           header is not None and header.get("kid") == "outsider-ps256",
                           "kid outsider-ps256", str(header)):
            # keep the failure from cascading into the checks below
            suite.expect("the PS256 key installed again", upload_signing_key(conn, ps_jwk), OK,
                         bytes([ALG_CODES["PS256"]]))

        # SET_SIGNING_KEY (one frame): exact key errors
        _, ec_jwk = ec_private_jwk("outsider-ec")
        cases = [
            ("EC without d", {k: v for k, v in ec_jwk.items() if k != "d"}, KE_MISSING_MEMBER),
            ("EC crv P-192", dict(ec_jwk, crv="P-192"), KE_UNSUPPORTED_CRV),
            ("kty foo", dict(ec_jwk, kty="foo"), KE_UNSUPPORTED_KTY),
            ("EC key with alg RS256", dict(ec_jwk, alg="RS256"), KE_ALG_MISMATCH),
            ("EC key with alg XX999", dict(ec_jwk, alg="XX999"), KE_UNSUPPORTED_ALG),
            ("EC key with use enc", dict(ec_jwk, use="enc"), KE_WRONG_USE),
            ("kid of 65 bytes", dict(ec_jwk, kid="k" * 65), KE_KID_TOO_LONG),
        ]
        for name, jwk, code in cases:
            suite.expect(f"SET_SIGNING_KEY {name}: KEY_REFUSED/{code}",
                         conn.request(SET_SIGNING_KEY, jdump(jwk)), KEY_REFUSED, bytes([code]))
        suite.expect("SET_SIGNING_KEY duplicate member: KEY_REFUSED/duplicate member",
                     conn.request(SET_SIGNING_KEY, b'{"kty":"EC","kty":"EC"}'), KEY_REFUSED,
                     bytes([KE_DUPLICATE_MEMBER]))
        suite.expect("SET_SIGNING_KEY broken JSON: KEY_REFUSED/JSON",
                     conn.request(SET_SIGNING_KEY, b"{"), KEY_REFUSED, bytes([KE_JSON]))
        header = sign_and_check(suite, conn, "after SET_SIGNING_KEY refusals",
                                ps_key.public_key(), "PS256", "outsider-ps256",
                                entropy=os.urandom(32))
        suite.check("after SET_SIGNING_KEY refusals the header kid is the old key's",
                    header is not None and header.get("kid") == "outsider-ps256",
                    "kid outsider-ps256", str(header))

        # preset rules, FULL
        https_aud = b"https://tenant.auth0.test/oauth/token"
        for name, body, status in (
                ("ZITADEL service user, 3601 s", sign_body(1, 3601, entropy=os.urandom(32),
                                                           audience=https_aud), BAD_REQUEST),
                ("ZITADEL service user, 3600 s", sign_body(1, 3600, entropy=os.urandom(32),
                                                           audience=https_aud), OK),
                ("Auth0 without jti", sign_body(4, 300, entropy=os.urandom(32),
                                                audience=https_aud), BAD_REQUEST),
                ("Auth0 301 s", sign_body(4, 301, entropy=os.urandom(32), audience=https_aud,
                                          jti=b"j-1"), BAD_REQUEST),
                ("Auth0 300 s with jti", sign_body(4, 300, entropy=os.urandom(32),
                                                   audience=https_aud, jti=b"j-1"), OK),
                ("a token too long for a frame", sign_body(
                    0, 300, entropy=os.urandom(64), subject=b"s" * 255, audience=b"a" * 255,
                    jti=b"j" * 255), FULL),
                ("a short body", b"\x00\x01", BAD_REQUEST)):
            suite.expect(f"SIGN {name}: {STATUS_NAMES[status]}", conn.request(SIGN, body),
                         status, None if status == OK else b"")

        # the doc: "The key is checked whole (CRT members consistent, public key valid)"
        signing_checked_whole(suite, conn, rs_jwk, ec_jwk)
        suite.expect("final: the RS256 key installed again", upload_signing_key(conn, rs_jwk),
                     OK, bytes([ALG_CODES["RS256"]]))


def signing_checked_whole(suite, conn, rs_jwk, ec_jwk):
    from cryptography.hazmat.primitives.asymmetric import ec
    d = int.from_bytes(b64u_decode(rs_jwk["d"]), "big") ^ (1 << 100)
    wrong_d = dict(rs_jwk, kid="wrong-d", d=_int_b64(d))
    reply = upload_signing_key(conn, wrong_d)
    suite.check("RSA key whose d does not match its CRT members: KEY_REFUSED "
                "(doc: the key is checked whole)", reply.status == KEY_REFUSED,
                "KEY_REFUSED", str(reply))
    y = int.from_bytes(b64u_decode(ec_jwk["y"]), "big") ^ 1
    off_curve = dict(ec_jwk, kid="off-curve", y=b64u(y.to_bytes(32, "big")))
    reply = conn.request(SET_SIGNING_KEY, jdump(off_curve))
    suite.expect("EC key whose (x, y) is not its d's public key (here off the curve): "
                 "KEY_REFUSED/key mismatch", reply, KEY_REFUSED, bytes([KE_KEY_MISMATCH]))
    other = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
    mismatch = dict(ec_jwk, kid="ec-mismatch", d=b64u(other.to_bytes(32, "big")))
    reply = conn.request(SET_SIGNING_KEY, jdump(mismatch))
    ok = suite.check("EC key whose d does not belong to (x, y): KEY_REFUSED "
                     "(doc: the key is checked whole)", reply.status == KEY_REFUSED,
                     "KEY_REFUSED", str(reply))
    if not ok and reply.status == OK:
        # show the consequence: the token does not verify with the JWK's own public key
        import jwt
        pub = ec.EllipticCurvePublicNumbers(int.from_bytes(b64u_decode(ec_jwk["x"]), "big"),
                                            int.from_bytes(b64u_decode(ec_jwk["y"]), "big"),
                                            ec.SECP256R1()).public_key()
        token = conn.request(SIGN, sign_body()).body.decode()
        try:
            jwt.decode(token, key=pub, algorithms=["ES256"],
                       audience="https://audience.outsider.test", leeway=5)
            verdict = "verifies"
        except Exception as exc:
            verdict = f"does not verify ({type(exc).__name__})"
        suite.note(f"with the mismatched EC key installed, a SIGNed token {verdict} with the "
                   f"public key (x, y) of the JWK that was accepted")


# ---------------------------------------------------------------------------------------------
# 3. Link properties
# ---------------------------------------------------------------------------------------------


def link_setup(suite):
    with suite.connect() as conn:
        sync_clock(conn)
        set_link_policy(suite, conn)
        lost = check_keys(suite, conn, "before the link tests")
        suite.check("the link tests' keys are loaded", lost == 0, "0 missing", str(lost))


def link_half_frame(suite, rounds):
    """3 bytes of a frame, disconnect; the next client's first request gets its answer.

    The next client follows the doc: 0x00, HELLO, then its request (LIST_KEYS 0, whose answer
    is known) in one write, and drops frames until the HELLO reply. Frames it has to drop were
    meant for someone else (neither device kind should produce any): cross-client replies."""
    with suite.connect() as conn:
        expected = conn.request(LIST_KEYS, b"\x00").body
    disturbed = dropped_total = 0
    for i in range(rounds):
        with Conn(suite.addr, suite.timeout) as bad:
            bad.send_raw(encode_frame(request_payload(VERIFY, 1, b"\x00" + b"x" * 40))[:3])
        with Conn(suite.addr, suite.timeout) as conn:
            nonce = os.urandom(8)
            conn.send_raw(b"\x00" + encode_frame(request_payload(HELLO, 1, nonce))
                          + encode_frame(request_payload(LIST_KEYS, 2, b"\x00")))
            try:
                dropped = 0
                while conn.read_reply().raw != bytes([HELLO | 0x80, 1, OK]) + nonce:
                    dropped += 1
                answer = conn.read_reply()
            except NoReply:
                suite.add(unanswered=1)
                disturbed += 1
                continue
            dropped_total += dropped
            if answer.raw != bytes([LIST_KEYS | 0x80, 2, OK]) + expected:
                disturbed += 1
                suite.check(f"half frame round {i}: the request after HELLO properly answered",
                            False, f"95 02 00 {expected.hex()[:40]}...", str(answer),
                            quiet=disturbed > 3)
    suite.add(cross_client=dropped_total)
    suite.check(f"{rounds} half-sent frames: every next client's request properly answered",
                disturbed == 0, "0 disturbed", f"{disturbed} disturbed")
    suite.check(f"{rounds} half-sent frames: no frame before the next client's HELLO reply",
                dropped_total == 0, "0", f"{dropped_total} frames dropped")


def link_cross_client(suite, rounds):
    """A: VERIFY(good, seq 1) and leave; B (no HELLO): VERIFY(forged, seq 1) -> bad_signature."""
    kid, secret = "set-1", suite.keys["set-1"]
    accepted = wrong = extra = 0
    jitter = random.Random(7)
    for _ in range(rounds):
        good, _ = short_token(kid, secret)
        forged, _ = short_token(kid, secret, forged=True)
        with Conn(suite.addr, suite.timeout) as a:
            a.send_raw(b"\x00" + encode_frame(request_payload(VERIFY, 1, bytes([LINK_SLOT])
                                                              + good)))
        if jitter.random() < 0.5:           # vary where A's reply falls relative to B
            time.sleep(jitter.random() * 0.002)
        with Conn(suite.addr, suite.timeout) as b:
            b.send_raw(encode_frame(request_payload(VERIFY, 1, bytes([LINK_SLOT]) + forged)))
            try:
                # a naive client: the first reply with the right command and seq is "its" answer
                while True:
                    reply = b.read_reply()
                    if reply.cmd == VERIFY | 0x80 and reply.seq == 1:
                        break
                    extra += 1
                if reply.status == OK:
                    accepted += 1
                elif reply.raw != bytes([VERIFY | 0x80, 1, rejected("bad_signature")]):
                    wrong += 1
                # anything else before our own HELLO reply was meant for someone else
                extra += b.hello()
            except NoReply:
                suite.add(unanswered=1)
                wrong += 1
    suite.add(cross_client=accepted + extra)
    suite.check(f"cross-client: forged tokens accepted in {rounds} rounds", accepted == 0,
                "0", str(accepted))
    suite.check("cross-client: B always got bad_signature", wrong == 0,
                "a1 01 07 every time", f"{wrong} other answers")
    suite.check("cross-client: B received no reply meant for A", extra == 0, "0",
                str(extra))


def link_concurrent(suite, rounds):
    """sim only: two clients interleaved get only their own answers; an idle one blocks none."""
    kid, secret = "set-2", suite.keys["set-2"]
    with suite.connect() as one, suite.connect() as two:
        mixed = 0
        for i in range(rounds):
            n1, n2 = os.urandom(12), os.urandom(12)
            s1 = one.send(HELLO, n1)
            s2 = two.send(HELLO, n2)
            claims = good_claims()
            t2 = two.send(VERIFY, bytes([MAIN_SLOT]) + hs256_token(kid, secret, claims))
            r2 = two.read_reply()
            r1 = one.read_reply()
            v2 = two.read_reply()
            if (r1.raw != bytes([HELLO | 0x80, s1, OK]) + n1 or
                    r2.raw != bytes([HELLO | 0x80, s2, OK]) + n2 or
                    v2.raw != bytes([VERIFY | 0x80, t2, OK, 0]) + jdump(claims)):
                mixed += 1
        suite.add(cross_client=mixed)
        suite.check(f"two interleaved clients, {rounds} rounds: only their own answers",
                    mixed == 0, "0 mixed", f"{mixed} mixed")
    for variant, first_bytes in (("silent", b""), ("half a frame", b"\x05\x01\x02")):
        with Conn(suite.addr, suite.timeout) as idle:
            if first_bytes:
                idle.send_raw(first_bytes)
            t0 = time.monotonic()
            try:
                with suite.connect() as conn:
                    reply = conn.request(GET_TIME, timeout=2.0)
                ok = reply.status == OK
                got = f"{reply} after {time.monotonic() - t0:.2f} s"
            except NoReply as exc:
                suite.add(unanswered=1)
                ok, got = False, f"no reply ({exc})"
            suite.check(f"an idle first client ({variant}) does not block a second client",
                        ok, "GET_TIME OK within 2 s", got)


# ---------------------------------------------------------------------------------------------
# 4. Fault campaign
# ---------------------------------------------------------------------------------------------


class Unit:
    """Bytes to send and the replies they must produce, in order."""

    __slots__ = ("kind", "data", "expects", "bad")

    def __init__(self, kind, data, expects, bad=1):
        self.kind, self.data, self.expects, self.bad = kind, data, expects, bad


def exp_frame_error(status):
    want = bytes([FRAME_ERROR_CMD, 0x00, status])

    def match(payload):
        return None if payload == want else f"expected {want.hex()}, got {payload.hex()}"
    return match


def exp_reply(cmd, seq, allowed):
    """allowed: {status: validator(body) -> error string or None}."""
    def match(payload):
        if len(payload) < 3 or payload[0] != cmd | 0x80 or payload[1] != seq:
            return f"expected a reply to {COMMANDS.get(cmd, hex(cmd))} seq {seq}, got " \
                   f"{payload.hex()}"
        status, body = payload[2], payload[3:]
        if status not in allowed:
            names = "/".join(STATUS_NAMES.get(s, hex(s)) for s in allowed)
            return f"{COMMANDS.get(cmd, hex(cmd))}: expected {names}, got " \
                   f"{STATUS_NAMES.get(status, hex(status))} ({payload.hex()[:80]})"
        error = allowed[status](body) if allowed[status] else None
        return f"{COMMANDS.get(cmd, hex(cmd))} {STATUS_NAMES.get(status)}: {error}" \
            if error else None
    return match


def body_is(expected):
    return lambda body: None if body == expected else f"body {body.hex()} != {expected.hex()}"


def body_len(n):
    return lambda body: None if len(body) == n else f"{len(body)}-byte body, expected {n}"


def body_parses(parser):
    def check(body):
        try:
            parser(body)
            return None
        except ParseError as exc:
            return str(exc)
    return check


def body_key_error(body):
    return None if len(body) == 1 and body[0] <= KEY_ERROR_MAX else \
        f"KEY_REFUSED body {body.hex()} is not one key-error byte"


def body_jwks_refused(body):
    try:
        parse_jwks_refused(body)
    except ParseError as exc:
        return str(exc)
    return None if body[0] in (0, 1, 2, 3, 4, 5, 6) else f"unknown code {body[0]}"


def body_jwt(body):
    return None if body.count(b".") == 2 and body.isascii() else f"not a JWT: {body[:40]!r}"


EMPTY = body_is(b"")


class Fuzzer:
    """Generates fault units. seq_base/seq_span keep a client's seqs apart from another's."""

    def __init__(self, suite, rng, seq_base=1, seq_span=254, transfers=True, small=False):
        self.suite, self.rng = suite, rng
        # small: a slow link (the QEMU UART pays per byte): bodies mostly under 64 bytes
        self.small = small
        self.seq_base, self.seq_span, self.transfers = seq_base, seq_span, transfers
        self.counter = 0
        self.tracked = {kid.encode() for kid in suite.keys}

    def seq(self):
        self.counter += 1
        return self.seq_base + self.counter % self.seq_span

    def rand_bytes(self, lo, hi, nonzero=False):
        if self.small and hi > 64 and lo <= 64 and self.rng.random() > 0.03:
            hi = 64
        n = self.rng.randint(lo, hi)
        data = bytes(self.rng.getrandbits(8) for _ in range(n)) if n < 64 else \
            self.rng.randbytes(n)
        return data.replace(b"\x00", b"\x01") if nonzero else data

    # -- framing faults ------------------------------------------------------------------
    def garbage(self):
        while True:
            body = self.rand_bytes(1, MAX_BODY, nonzero=True)
            if decode_body(body) is None:
                return Unit("garbage", body + b"\x00", [exp_frame_error(BAD_FRAME)])

    def garbage_long(self):
        body = self.rand_bytes(MAX_BODY + 1, 3000, nonzero=True)
        return Unit("oversize garbage", body + b"\x00", [exp_frame_error(FRAME_TOO_LARGE)])

    def flipped_crc(self):
        payload = request_payload(self.rng.choice(list(COMMANDS)), self.seq(),
                                  self.rand_bytes(0, 60))
        crc = bytearray(crc32(payload))
        crc[self.rng.randrange(4)] ^= self.rng.randint(1, 255)
        return Unit("flipped CRC", cobs_encode(payload + bytes(crc)) + b"\x00",
                    [exp_frame_error(BAD_FRAME)])

    def flipped_byte(self):
        while True:
            body = bytearray(frame_body(request_payload(self.rng.choice(list(COMMANDS)),
                                                        self.seq(), self.rand_bytes(0, 300))))
            i = self.rng.randrange(len(body))
            body[i] ^= self.rng.randint(1, 255)
            if body[i] != 0 and decode_body(bytes(body)) is None:
                return Unit("flipped byte", bytes(body) + b"\x00", [exp_frame_error(BAD_FRAME)])

    def bad_cobs(self):
        tail = self.rand_bytes(0, 200, nonzero=True)
        code = min(255, len(tail) + 2 + self.rng.randint(0, 50))
        return Unit("bad COBS", bytes([code]) + tail + b"\x00", [exp_frame_error(BAD_FRAME)])

    def oversize(self):
        n = self.rng.choice([1016, 1017, 1020, self.rng.randint(1016, 1400)])
        while True:
            payload = bytes([self.rng.choice(list(COMMANDS)), self.seq() or 1]) + \
                self.rand_bytes(n - 2, n - 2, nonzero=True)
            if len(frame_body(payload)) > MAX_BODY:
                return Unit("oversize payload", encode_frame(payload),
                            [exp_frame_error(FRAME_TOO_LARGE)])

    def truncated_merge(self):
        """A truncated frame without its delimiter, then a good request: one merged frame."""
        lost = frame_body(request_payload(VERIFY, self.seq(), self.rand_bytes(1, 400)))
        part = lost[:self.rng.randint(1, len(lost) - 1)]
        seq = self.seq()
        nonce = self.rand_bytes(0, 32)
        good = frame_body(request_payload(HELLO, seq, nonce))
        merged = part + good
        status = FRAME_TOO_LARGE if len(merged) > MAX_BODY else BAD_FRAME
        if decode_body(merged) is not None:
            return self.garbage()
        # then the same request again, properly delimited: answered
        seq2 = self.seq()
        again = encode_frame(request_payload(HELLO, seq2, nonce))
        return Unit("truncated + good", merged + b"\x00" + again,
                    [exp_frame_error(status), exp_reply(HELLO, seq2, {OK: body_is(nonce)})])

    def short_payload(self):
        payload = self.rng.choice([b"", bytes([self.rng.choice(list(COMMANDS))])])
        return Unit("short payload", encode_frame(payload), [exp_frame_error(BAD_REQUEST)])

    def out_of_range(self):
        payload = request_payload(self.rng.choice(OUT_OF_RANGE), self.seq(),
                                  self.rand_bytes(0, 100))
        return Unit("out-of-range command", encode_frame(payload),
                    [exp_frame_error(UNKNOWN_COMMAND)])

    def unknown_command(self):
        cmd, seq = self.rng.choice(UNKNOWN_IN_RANGE), self.seq()
        return Unit("unknown command", encode_frame(request_payload(
            cmd, seq, self.rand_bytes(0, 200))), [exp_reply(cmd, seq, {UNKNOWN_COMMAND: EMPTY})])

    # -- odd bodies for every command -----------------------------------------------------
    def odd_body(self):
        rng = self.rng
        commands = [c for c in COMMANDS if self.transfers or c not in (JWKS_BEGIN,
                                                                       SIGNING_KEY_BEGIN)]
        cmd = rng.choice(commands)
        size = rng.choice([0, 1, 2, 3, 5, 9, 33, rng.randint(0, 1013), 1013])
        if self.small and size > 64 and rng.random() > 0.03:
            size = rng.randint(0, 64)
        body = self.rand_bytes(size, size)
        if cmd == SET_TIME and len(body) >= 8:
            body = struct.pack("<Q", int(time.time())) + body[8:]   # the clock must not move
        elif cmd == VERIFY and body and rng.random() < 0.5:
            body = bytes([MAIN_SLOT]) + body[1:]                    # reach the token parser
        allowed = self.odd_allowed(cmd, body)
        if allowed is None:                 # a body this script must not send (see below)
            return self.odd_body()
        seq = self.seq()
        return Unit(f"odd body {COMMANDS[cmd]}", encode_frame(request_payload(cmd, seq, body)),
                    [exp_reply(cmd, seq, allowed)])

    def odd_allowed(self, cmd, body):
        """The statuses the doc allows for this body; None: not sent (it would change state
        the campaign watches, or the doc leaves the answer open)."""
        extra = BAD_REQUEST if body else None      # '-' bodies with bytes: doc unclear

        def with_extra(allowed):
            if extra is not None:
                allowed = dict(allowed)
                allowed.setdefault(BAD_REQUEST, EMPTY)
            return allowed

        if cmd == INFO:
            return with_extra({OK: body_parses(parse_info)})
        if cmd == SET_TIME:
            return {OK: EMPTY} if len(body) >= 8 else {BAD_REQUEST: EMPTY}
        if cmd == GET_TIME:
            return with_extra({OK: body_len(8)})
        if cmd == HELLO:
            return {OK: body_is(body)} if len(body) <= 32 else {BAD_REQUEST: EMPTY}
        if cmd == LOAD_JWK:
            return {BAD_REQUEST: EMPTY} if not body else {KEY_REFUSED: body_key_error}
        if cmd == JWKS_BEGIN:
            return {OK: EMPTY} if len(body) >= 4 else {BAD_REQUEST: EMPTY}
        if cmd == JWKS_CHUNK:
            return {OK: body_len(2), JWKS_REFUSED: body_jwks_refused, NO_UPDATE: EMPTY}
        if cmd == JWKS_END:
            return with_extra({NO_UPDATE: EMPTY, JWKS_REFUSED: body_jwks_refused})
        if cmd == REMOVE_KEY:
            if body in self.tracked:
                return None
            return {NOT_FOUND: EMPTY} if body else {NOT_FOUND: EMPTY, BAD_REQUEST: EMPTY}
        if cmd == LIST_KEYS:
            # the doc: exactly one byte, the start index
            return {OK: body_parses(parse_list)} if len(body) == 1 else {BAD_REQUEST: EMPTY}
        if cmd == FETCH_FAILED:
            return with_extra({OK: EMPTY})
        if cmd == REFRESH_STATE:
            return with_extra({OK: body_parses(parse_refresh)})
        if cmd == SET_POLICY:
            if not body:
                return {BAD_REQUEST: EMPTY}
            if body[0] < SCRATCH_SLOT:
                return None                  # slots 0..2 belong to the suite
            if body[0] == SCRATCH_SLOT:
                return {OK: EMPTY, BAD_REQUEST: EMPTY}
            return {NOT_FOUND: EMPTY, BAD_REQUEST: EMPTY}
        if cmd == VERIFY:
            if not body:
                return {BAD_REQUEST: EMPTY}
            allowed = {NOT_FOUND: EMPTY}
            allowed.update({rejected(code): EMPTY for code in REJECTIONS})
            return allowed
        if cmd == SIGN:
            return {OK: body_jwt, BAD_REQUEST: EMPTY, NOT_FOUND: EMPTY, FULL: EMPTY,
                    UNSUPPORTED: EMPTY}
        if cmd == SET_SIGNING_KEY:
            return {KEY_REFUSED: body_key_error, BAD_REQUEST: EMPTY, UNSUPPORTED: EMPTY}
        if cmd == SIGNING_KEY_BEGIN:
            return with_extra({OK: EMPTY, UNSUPPORTED: EMPTY})
        if cmd == SIGNING_KEY_CHUNK:
            return {OK: EMPTY, KEY_REFUSED: body_key_error, NO_UPDATE: EMPTY,
                    UNSUPPORTED: EMPTY}
        if cmd == SIGNING_KEY_END:
            return with_extra({NO_UPDATE: EMPTY, KEY_REFUSED: body_key_error,
                               UNSUPPORTED: EMPTY})
        if cmd == STATS:
            return with_extra({OK: body_parses(parse_stats)})
        raise AssertionError(cmd)

    def structured_odd(self):
        """JSON-shaped bodies for the JSON commands (never a usable key)."""
        rng = self.rng
        docs = [b'{"kty":"oct"}', b'{"kty":"RSA","n":"AQAB","e":"AQAB"}', b'{"keys":',
                b'{"kty":"EC","crv":"P-256","x":"' + b"A" * 900 + b'"}', b"[" * 500,
                b'{"kty":"oct","k":"' + b"\\u0000" * 100 + b'"}', b'"\xff\xfe"',
                b'{"kty":"OKP","crv":"Ed25519","x":"AAAA"}', b"{" + b'"a":1,' * 150 + b"}"]
        doc = rng.choice(docs)[:64 if self.small else 1012]
        cmd = rng.choice([LOAD_JWK, SET_SIGNING_KEY])
        body = (b"\x00" + doc) if cmd == LOAD_JWK else doc
        seq = self.seq()
        return Unit(f"JSON body {COMMANDS[cmd]}", encode_frame(request_payload(cmd, seq, body)),
                    [exp_reply(cmd, seq, {KEY_REFUSED: body_key_error, BAD_REQUEST: EMPTY,
                                          UNSUPPORTED: EMPTY})])

    def generate(self, n):
        kinds = [(self.garbage, 3), (self.garbage_long, 1), (self.flipped_crc, 2),
                 (self.flipped_byte, 2), (self.bad_cobs, 1), (self.oversize, 1),
                 (self.truncated_merge, 2), (self.short_payload, 1), (self.out_of_range, 2),
                 (self.unknown_command, 2), (self.odd_body, 6), (self.structured_odd, 1)]
        funcs = [f for f, w in kinds for _ in range(w)]
        units = []
        while len(units) < n:
            func = self.rng.choice(funcs)
            if self.small and func in (self.garbage_long, self.oversize) and \
                    self.rng.random() > 0.05:
                continue                    # 1 KiB+ frames: rare on a slow link
            units.append(func())
        return units


def run_units(suite, conn, units, window=24, label="campaign", seq_owner=None):
    """Send units pipelined, check every reply. Returns the (possibly new) connection."""
    shown = 0
    for pos in range(0, len(units), window):
        batch = units[pos:pos + window]
        pending = [(unit, k, match) for unit in batch for k, match in enumerate(unit.expects)]
        suite.add(frames_sent=sum(unit.bad for unit in batch))
        with suite.lock:
            suite.unit_kinds.update(unit.kind.rsplit(" ", 1)[0]
                                    if unit.kind.rsplit(" ", 1)[-1] in COMMANDS.values()
                                    else unit.kind for unit in batch)
        try:
            conn.send_raw(b"".join(unit.data for unit in batch))
        except OSError as exc:
            suite.add(unanswered=len(pending))
            suite.check(f"{label}: send", False, "an open connection", str(exc))
            conn.close()
            conn = suite.connect()
            continue
        for idx, (unit, k, match) in enumerate(pending):
            try:
                payload = conn.read_payload()
            except (NoReply, BadReply) as exc:
                suite.add(unanswered=len(pending) - idx)
                suite.check(f"{label}: {unit.kind} answered", False, "a reply", str(exc))
                conn.close()
                conn = suite.connect()
                break
            error = match(payload)
            if error and seq_owner is not None and not seq_owner(payload):
                suite.add(cross_client=1)
                error = "a reply to another client's request: " + error
            if error:
                shown += 1
                suite.check(f"{label}: {unit.kind} answered as the doc says", False,
                            "the doc's answer", error, quiet=shown > 8)
            elif k == 0:
                suite.add(errors_answered=unit.bad)
    return conn


def campaign_transfer_interrupt(suite, conn, variant, rng):
    """Begin an update with another set, stop mid-stream; nothing may change."""
    other = jwks_doc([hs_jwk(f"intr-{i}", os.urandom(32)) for i in range(3)])
    cut = rng.randint(1, len(other) - 1)
    conn.request(JWKS_BEGIN, struct.pack("<I", 600))
    for i in range(0, cut, 50):
        conn.request(JWKS_CHUNK, other[i:min(cut, i + 50)])
    if variant == "disconnect":
        conn.close()
        conn = suite.connect()
    elif variant == "HELLO":
        conn.request(HELLO, os.urandom(8))
    elif variant == "FETCH_FAILED":
        conn.request(FETCH_FAILED)
    elif variant == "JWKS_BEGIN":
        # a new update with the current set: every key unchanged, nothing removed
        current = [hs_jwk(k, s) for k, s in suite.keys.items() if k != "pin-0"]
        _, end = stream_jwks(conn, jwks_doc(current), chunk=rng.randint(1, 300))
        suite.check("campaign: a new JWKS_BEGIN mid-update, then the current set: "
                    "all unchanged", end is not None and end.status == OK and
                    parse_report(end.body) == dict(loaded=len(current),
                                                   unchanged=len(current), skipped=0,
                                                   removed=0, log=[]),
                    "OK all unchanged", str(end))
        return conn
    reply = conn.request(JWKS_END)
    suite.check(f"campaign: JWKS_END after an update interrupted by {variant}: NO_UPDATE",
                reply.status == NO_UPDATE and not reply.body, "NO_UPDATE", str(reply))
    return conn


def campaign_refused_update(suite, conn, variant):
    slots = suite.info["key_slots"]
    free = slots - len(suite.keys)
    docs = {"empty": (jwks_doc([]), JR_NO_USABLE),
            "unusable": (jwks_doc([hs_jwk("weak", b"w" * 8), {"kty": "RSA", "kid": "r",
                                                               "n": "AQAB", "e": "AQAB"}]),
                         JR_NO_USABLE),
            "too many": (jwks_doc([hs_jwk(f"tm-{i}", os.urandom(32))
                                   for i in range(free + 1)]), JR_NO_SPACE)}
    doc, code = docs[variant]
    _, end = stream_jwks(conn, doc, chunk=97)
    ok = end is not None and end.status == JWKS_REFUSED and end.body[:1] == bytes([code])
    suite.check(f"campaign: refused update ({variant}): JWKS_REFUSED/{code}", ok,
                f"JWKS_REFUSED {code}", str(end))
    if ok:
        suite.refusals_caused += 1


def campaign_drops(suite, rng, count):
    """Clients leaving mid-frame and mid-request; the next client is answered."""
    for i in range(count):
        with Conn(suite.addr, suite.timeout) as gone:
            token, _ = short_token("set-0", suite.keys["set-0"])
            full = encode_frame(request_payload(VERIFY, 1, bytes([LINK_SLOT]) + token))
            if i % 2:
                gone.send_raw(full[:rng.randint(1, len(full) - 2)])     # mid-frame
            else:
                gone.send_raw(b"\x00" + full + full[:5])                # mid-request
        try:
            with suite.connect() as conn:
                reply = conn.request(GET_TIME)
                suite.check("campaign: the client after a dropped one is answered",
                            reply.status == OK, "GET_TIME OK", str(reply))
        except NoReply:
            suite.add(unanswered=1)


def campaign_concurrent(suite, rng, per_client):
    """sim: two clients fuzzing at once; seqs 1..127 vs 128..254 tell whose reply it is."""
    def worker(base, seed):
        fuzz = Fuzzer(suite, random.Random(seed), seq_base=base, seq_span=126,
                      transfers=False)
        units = fuzz.generate(per_client)
        in_range = (lambda p: p[:1] == b"\xff" or base <= p[1] < base + 127)
        try:
            conn = suite.connect()
            conn = run_units(suite, conn, units, window=8, label="campaign (two clients)",
                             seq_owner=in_range)
            conn.close()
        except NoReply:
            suite.add(unanswered=1)
        except (Mismatch, BadReply, ParseError, OSError) as exc:
            suite.check("campaign (two clients): well-formed replies", False, "a reply",
                        str(exc))

    threads = [threading.Thread(target=worker, args=(base, rng.random()))
               for base in (1, 128)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


def campaign(suite, target, deadline):
    rng = random.Random(0x70C3)
    fuzz = Fuzzer(suite, rng, small=suite.kind == "qemu")
    conn = suite.connect()
    sync_clock(conn)
    before = stats(conn)
    refusals_before = suite.refusals_caused
    lost = check_keys(suite, conn, "campaign start")
    suite.add(keys_lost=lost)
    batch_size = 250 if target >= 2000 else (40 if suite.kind == "qemu" else 60)
    variants = ["disconnect", "HELLO", "FETCH_FAILED", "JWKS_BEGIN"]
    refused = ["empty", "unusable", "too many"]
    batch = 0
    while suite.frames_sent < target and time.monotonic() < deadline:
        units = fuzz.generate(batch_size)
        conn = run_units(suite, conn, units)
        conn = campaign_transfer_interrupt(suite, conn, variants[batch % 4], rng)
        campaign_refused_update(suite, conn, refused[batch % 3])
        if suite.kind == "sim" and batch % 4 == 1:
            campaign_concurrent(suite, rng, batch_size // 4)
        if batch % 2 == 0:
            conn.close()
            campaign_drops(suite, rng, 2)
            conn = suite.connect()
        sync_clock(conn)
        lost = check_keys(suite, conn, f"campaign batch {batch}")
        suite.add(keys_lost=lost)
        if lost:                                    # put them back, so later batches count
            restore_keys(suite, conn)
        batch += 1
    after = stats(conn)
    suite.check("campaign: STATS updates refused moved by the refusals caused",
                after["updates_refused"] - before["updates_refused"] ==
                suite.refusals_caused - refusals_before,
                str(suite.refusals_caused - refusals_before),
                str(after["updates_refused"] - before["updates_refused"]))
    conn.close()
    suite.check(f"campaign reached {target} frames before its deadline",
                suite.frames_sent >= target, f">= {target}", str(suite.frames_sent))
    kinds = ", ".join(f"{kind} {n}" for kind, n in suite.unit_kinds.most_common())
    print(f"   {batch} batches; frames by kind: {kinds}", flush=True)


def restore_keys(suite, conn):
    set_keys = [hs_jwk(k, s) for k, s in suite.keys.items() if k != "pin-0"]
    stream_jwks(conn, jwks_doc(set_keys), chunk=500)
    conn.request(LOAD_JWK, b"\x01" + jdump(hs_jwk("pin-0", suite.keys["pin-0"])))


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", required=True, help="HOST:PORT of a running device")
    parser.add_argument("--kind", choices=("sim", "qemu"), default="sim")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and frames")
    parser.add_argument("--timeout", type=float, help="reply timeout in seconds (default 3; "
                                                      "qemu 10: RSA signing is slow there)")
    parser.add_argument("--frames", type=int, help="campaign frames (default 5000, quick/qemu "
                                                   "500)")
    parser.add_argument("--budget", type=float, help="seconds the whole run may take before the "
                                                     "campaign stops early (default 85, quick "
                                                     "28, qemu 900)")
    parser.add_argument("--race-rounds", type=int, help="cross-client rounds (default 200, "
                                                         "quick/qemu 100)")
    parser.add_argument("--verbose", action="store_true", help="print passing checks too")
    args = parser.parse_args()
    host = args.device.rsplit(":", 1)[0]
    if host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
        parser.error("loopback devices only")

    if args.timeout is None:
        args.timeout = 10.0 if args.kind == "qemu" else 3.0
    suite = Suite(args)
    light = args.quick or args.kind == "qemu"
    target = args.frames or (500 if light else 5000)
    budget = args.budget or (900.0 if args.kind == "qemu" else 28.0 if args.quick else 85.0)

    section(suite, "INFO", conformance_info)
    if suite.info is None:
        print("the device did not answer INFO; giving up")
        return 2
    suite.info_at_start_clock = suite.info["clock_set"]
    section(suite, "NO_TIME before SET_TIME", conformance_no_time)
    section(suite, "SET_TIME / GET_TIME", conformance_time)
    section(suite, "HELLO", conformance_hello)
    section(suite, "FRAME_ERROR and payload limits", conformance_frames)
    section(suite, "LOAD_JWK / LIST_KEYS / REMOVE_KEY", conformance_load_jwk)
    section(suite, "SET_POLICY", conformance_policy)
    section(suite, "JWK Set, VERIFY, refusals, STATS", conformance_jwks_verify)
    section(suite, "transfers", conformance_transfers)
    section(suite, "bodies the doc leaves open", conformance_odd_bodies)
    section(suite, "signing", signing)
    if len(suite.keys) < 5:
        print("the keys the link tests and the campaign need are not loaded; giving up")
    else:
        section(suite, "link: set-up", link_setup)
        section(suite, "link: half-sent frames", link_half_frame, 30 if args.quick else 300)
        section(suite, "link: cross-client replies", link_cross_client,
                args.race_rounds or (100 if light else 200))
        if args.kind == "sim":
            section(suite, "link: concurrent clients", link_concurrent, 50)
        deadline = suite.started + budget - 2.0
        section(suite, "fault campaign", campaign, target, deadline)

    print()
    print(f"{suite.checks} checks, {len(suite.failures)} failed, {suite.elapsed():.1f} s")
    if suite.notes:
        print("notes:")
        for text in suite.notes:
            print(f"  - {text}")
    if suite.failures:
        print("failures:")
        seen = set()
        for name, expected, got in suite.failures:
            if name in seen:
                continue
            seen.add(name)
            count = sum(1 for f in suite.failures if f[0] == name)
            times = f" (x{count})" if count > 1 else ""
            print(f"  - {name}{times}\n      expected: {expected}\n      received: {got}")
    print(f"campaign: frames sent {suite.frames_sent}, errors answered "
          f"{suite.errors_answered}, requests unanswered {suite.unanswered}, keys lost "
          f"{suite.keys_lost}, cross-client replies {suite.cross_client}")
    green = not suite.failures and not (suite.unanswered or suite.keys_lost or
                                        suite.cross_client)
    return 0 if green else 1


if __name__ == "__main__":
    sys.exit(main())
