#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Probe one sotto gateway leg's ICE-lite and DTLS server from outside.

It creates a gateway room over sottod's HTTP API (docs/signaling.md), joins
it over the WebSocket, offers a minimal WebRTC audio SDP to "gateway" (its
a=fingerprint given by --fingerprint), checks the answer, and then, by
--mode:

  handshake  One UDP socket (the "leg socket") sends a valid ICE check to
             the answer's host candidate and must get a Binding success
             (XOR-MAPPED-ADDRESS = the socket, MESSAGE-INTEGRITY with the
             answer's ice-pwd, FINGERPRINT). Then `openssl s_client
             -dtls1_2` runs against a relay on loopback, which passes its
             datagrams both ways through the leg socket: OpenSSL's s_client
             cannot bind a chosen source port, and sotto takes DTLS only
             from the address whose check it answered. --expect success:
             s_client completes the handshake (exit 0), prints
             --want-profile, an ECDHE-ECDSA AEAD cipher, a server
             certificate whose SHA-256 is the answer's a=fingerprint, and
             the gateway's ChangeCipherSpec passes the relay, and no
             gateway-leg-ended arrives. --expect fail: s_client exits
             non-zero, the gateway sends a fatal alert in the clear
             (--want-alert: its description) and no ChangeCipherSpec
             (s_client prints the ServerHello's cipher and SRTP profile
             even when the handshake then fails, so its output does not
             tell) and, with --leg-ended REASON, the WebSocket gets
             gateway-leg-ended with that reason.
  ice        Checks that must go unanswered: MESSAGE-INTEGRITY keyed with a
             wrong password, an unknown ufrag, a wrong remote ufrag, no
             FINGERPRINT. Then a valid check, which must be answered (so
             the silence before it means something).
  raw-hello  After a valid ICE check, a hand-made DTLS 1.2 ClientHello
             (ECDHE-ECDSA AES-GCM suites) whose use_srtp lists
             --raw-profiles (e.g. the NULL profiles 0x0005,0x0006 that
             s_client refuses to offer): the answer must be a fatal alert,
             no ServerHello; with --leg-ended REASON, gateway-leg-ended.

The modes below also read sottod's /metrics (--metrics) between their
steps, to tell which step moved which counter and to see the legs gauge
while the WebSocket is still open (a closed one ends the leg anyway):

  move       After a handshake (as above) from the leg socket A, a second
             socket B sends a valid check without USE-CANDIDATE: answered
             (XOR-MAPPED-ADDRESS B), counted other_pair, nothing moves (a
             check from A is still ok; a DTLS record from B is from an
             unknown address, one from A gets the gateway's last flight
             again). The same check with USE-CANDIDATE moves the leg
             (leg_moves +1) once B has answered the gateway's own check
             there (the probe waits for it); then A is the stranger: its valid check is
             answered but counted other_pair, its DTLS record is unknown
             and unanswered, and B's gets the last flight. A leg moves at
             most once a second: a USE-CANDIDATE check from a third socket
             C right after the move (under a second after B's) is answered
             but counted other_pair and moves nothing (B's DTLS still gets
             the last flight); the same from C more than a second after
             the move moves the leg to C (leg_moves +1: C's DTLS gets the
             last flight, B's is unknown). No gateway-leg-ended; the legs
             gauge never changes.
  steal      Two participants (two rooms), L1 and L2. L1 does its
             handshake from its socket A; then L2, offered but not
             checked yet, sends a valid check with USE-CANDIDATE from A:
             answered (a Binding success with L2's ice-pwd) but counted
             other_pair, and L2 is not bound to A: a ClientHello from A
             gets nothing back (L1, established, ignores it; L2 would
             answer with its ServerHello), L1's Finished again from A
             gets L1's last flight, and L2's first check from its own
             socket without USE-CANDIDATE is ok (a leg bound elsewhere
             counts that other_pair), after which L2 completes its own
             handshake from there. No gateway-leg-ended.
  reoffer    After a handshake, a second offer from the same participant:
             a new answer (new ice-ufrag, new certificate), the old leg
             ends as "replaced" silently (no gateway-leg-ended) and sends
             its close_notify to its address, a check with the old
             credentials goes unanswered as unknown_ufrag, and the new leg
             completes its own handshake. The legs gauge stays.
  consent    Two participants (two rooms), each with a handshake: "keep"
             sends a valid check every 2 s and must still be answered and
             not ended 8.5 s after its first; "lose" sends none after its
             handshake and must end with gateway-leg-ended consent_lost
             --consent seconds (to --consent + 2) after its last check,
             the legs gauge one lower right then.
  consent-stray  Only "lose", but it keeps sending valid checks (no
             USE-CANDIDATE) from another socket every second: each is
             answered, yet consent is refreshed only from the leg's own
             address, so the leg ends as consent_lost all the same.
  timeout    A leg that never completes its handshake (--dtls: "none", a
             valid check and then silence; "hello", a check and one
             ClientHello whose answer flight the gateway then sends again
             on its timer; "nocheck", not even a check) must end with
             gateway-leg-ended handshake_timeout --handshake seconds (to
             --handshake + 1) after the offer, the legs gauge back to what
             it was, its credentials then unknown.

Every socket the probe makes answers the gateway's own Binding requests
as a browser does (RFC 7675 consent, RFC 8445 §7.3): USERNAME must be
"<our ufrag>:<the answer's ufrag>", MESSAGE-INTEGRITY verify with our
ice-pwd and FINGERPRINT be right; the answer is a Binding success with
XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY with our ice-pwd and FINGERPRINT.
sotto sends no DTLS (and no media) to an address before that address has
answered it. One thread reads every socket, answers those requests and
queues the rest for whichever step reads that socket.

  deaf       The leg socket answers none of the gateway's requests: its
             valid check is answered, and then the gateway's own checks
             arrive, each verified (USERNAME, MESSAGE-INTEGRITY with our
             ice-pwd, FINGERPRINT, ICE-CONTROLLED, PRIORITY), one
             transaction id for the probe's resends, at RFC 8445 pace (the
             first at once, the gaps about doubling from 50 ms, 100 ms
             tick, to 1.6 s, 8 in all), and nothing else: a ClientHello
             sent after the check gets no DTLS back, ever. The leg ends
             with gateway-leg-ended handshake_timeout.

Every check is printed on stderr ("ok: ..." / "FAIL: ..."), a RESULT line
with JSON on stdout. Exit 0 every check passed, 1 one failed, 2 usage, 77
python3-websockets missing. Only loopback addresses are used.
"""

import argparse
import asyncio
import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
import os
import queue
import re
import select
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

try:
    import websockets
except ImportError as exc:
    print("gw_dtls_probe: SKIP: %s (Debian: python3-websockets)" % exc,
          file=sys.stderr)
    sys.exit(77)

T0 = time.monotonic()
NAME = "probe"

STUN_MAGIC = 0x2112A442
STUN_BINDING_REQUEST = 0x0001
STUN_BINDING_SUCCESS = 0x0101
STUN_BINDING_ERROR = 0x0111
A_USERNAME = 0x0006
A_MESSAGE_INTEGRITY = 0x0008
A_XOR_MAPPED_ADDRESS = 0x0020
A_PRIORITY = 0x0024
A_USE_CANDIDATE = 0x0025
A_FINGERPRINT = 0x8028
A_ICE_CONTROLLED = 0x8029
A_ICE_CONTROLLING = 0x802A
FP_XOR = 0x5354554E


def say(msg):
    print("%s: [%6.2f] %s" % (NAME, time.monotonic() - T0, msg),
          file=sys.stderr, flush=True)


class Checks:
    def __init__(self):
        self.items = []

    def check(self, ok, what):
        self.items.append({"ok": bool(ok), "what": what})
        say("%s: %s" % ("ok" if ok else "FAIL", what))
        return ok

    @property
    def passed(self):
        return bool(self.items) and all(i["ok"] for i in self.items)


class Tagged:
    """One leg's view of a shared Checks: its tag before each line."""

    def __init__(self, checks, tag):
        self.all = checks
        self.tag = tag

    def check(self, ok, what):
        return self.all.check(ok, "%s: %s" % (self.tag, what) if self.tag else what)


class Abort(Exception):
    pass


# --- STUN (RFC 5389, RFC 8445 §7.1) ------------------------------------------


def stun_attr(t, v):
    pad = (4 - len(v) % 4) % 4
    return struct.pack("!HH", t, len(v)) + v + b"\0" * pad


def stun_message(mtype, tid, attrs, pwd, integrity=True, fingerprint=True):
    """Header + attrs, then MESSAGE-INTEGRITY (key pwd) and FINGERPRINT."""
    if integrity:
        # the length covers MESSAGE-INTEGRITY itself (RFC 5389 §15.4)
        hdr = struct.pack("!HHI", mtype, len(attrs) + 24, STUN_MAGIC) + tid
        mac = hmac.new(pwd.encode(), hdr + attrs, hashlib.sha1).digest()
        attrs += stun_attr(A_MESSAGE_INTEGRITY, mac)
    if fingerprint:
        hdr = struct.pack("!HHI", mtype, len(attrs) + 8, STUN_MAGIC) + tid
        crc = (binascii.crc32(hdr + attrs) ^ FP_XOR) & 0xFFFFFFFF
        attrs += stun_attr(A_FINGERPRINT, struct.pack("!I", crc))
    return struct.pack("!HHI", mtype, len(attrs), STUN_MAGIC) + tid + attrs


def stun_request(username, pwd, tid, integrity=True, fingerprint=True,
                 use_candidate=True):
    """A Binding request as a controlling full agent sends it."""
    attrs = stun_attr(A_USERNAME, username.encode())
    attrs += stun_attr(A_PRIORITY, struct.pack("!I", 0x6E7F1EFF))
    attrs += stun_attr(A_ICE_CONTROLLING, os.urandom(8))
    if use_candidate:
        attrs += stun_attr(A_USE_CANDIDATE, b"")
    return stun_message(STUN_BINDING_REQUEST, tid, attrs, pwd, integrity,
                        fingerprint)


def xor_address(addr, tid):
    """XOR-MAPPED-ADDRESS value for (ip, port)."""
    ip = ipaddress.ip_address(addr[0])
    port = addr[1] ^ (STUN_MAGIC >> 16)
    if ip.version == 4:
        x = bytes(a ^ b for a, b in zip(ip.packed, struct.pack("!I", STUN_MAGIC)))
        return struct.pack("!BBH", 0, 1, port) + x
    key = struct.pack("!I", STUN_MAGIC) + tid
    return struct.pack("!BBH", 0, 2, port) + bytes(a ^ b for a, b in zip(ip.packed, key))


def stun_success(tid, mapped, pwd):
    """The Binding success a full agent answers a valid check with."""
    return stun_message(STUN_BINDING_SUCCESS, tid,
                        stun_attr(A_XOR_MAPPED_ADDRESS, xor_address(mapped, tid)), pwd)


def stun_parse(p):
    """(type, tid, [(attr type, offset, value)]) or None."""
    if len(p) < 20 or p[0] > 3:
        return None
    t, n, magic = struct.unpack("!HHI", p[:8])
    if magic != STUN_MAGIC or 20 + n != len(p):
        return None
    attrs, off = [], 20
    while off + 4 <= len(p):
        at, al = struct.unpack("!HH", p[off:off + 4])
        if off + 4 + al > len(p):
            return None
        attrs.append((at, off, p[off + 4:off + 4 + al]))
        off += 4 + al + (4 - al % 4) % 4
    return t, p[8:20], attrs


def stun_verify(p, pwd):
    """(type, tid, {attr type: value}, integrity ok, fingerprint ok) of a
    STUN message, or None."""
    parsed = stun_parse(p)
    if parsed is None:
        return None
    t, tid, attrs = parsed
    vals, mi_ok, fp_ok = {}, False, False
    for at, off, val in attrs:
        vals.setdefault(at, val)
        if at == A_MESSAGE_INTEGRITY and len(val) == 20:
            hdr = bytearray(p[:off])
            struct.pack_into("!H", hdr, 2, off - 20 + 24)
            mac = hmac.new(pwd.encode(), bytes(hdr), hashlib.sha1).digest()
            mi_ok = hmac.compare_digest(mac, val)
        elif at == A_FINGERPRINT and len(val) == 4:
            hdr = bytearray(p[:off])
            struct.pack_into("!H", hdr, 2, off - 20 + 8)
            crc = (binascii.crc32(bytes(hdr)) ^ FP_XOR) & 0xFFFFFFFF
            fp_ok = struct.unpack("!I", val)[0] == crc
    return t, tid, vals, mi_ok, fp_ok


def stun_verify_response(p, pwd):
    """Checks a Binding success: returns (mapped (ip, port), integrity ok,
    fingerprint ok) or None if it is no Binding success."""
    parsed = stun_parse(p)
    if parsed is None or parsed[0] != STUN_BINDING_SUCCESS:
        return None
    _, tid, attrs = parsed
    mapped, mi_ok, fp_ok = None, False, False
    for at, off, val in attrs:
        if at == A_XOR_MAPPED_ADDRESS and len(val) >= 8:
            fam = val[1]
            port = struct.unpack("!H", val[2:4])[0] ^ (STUN_MAGIC >> 16)
            if fam == 1:
                ip = bytes(a ^ b for a, b in zip(val[4:8], struct.pack("!I", STUN_MAGIC)))
                mapped = (socket.inet_ntop(socket.AF_INET, ip), port)
            elif fam == 2 and len(val) >= 20:
                key = struct.pack("!I", STUN_MAGIC) + tid
                ip = bytes(a ^ b for a, b in zip(val[4:20], key))
                mapped = (socket.inet_ntop(socket.AF_INET6, ip), port)
        elif at == A_MESSAGE_INTEGRITY and len(val) == 20:
            hdr = bytearray(p[:off])
            struct.pack_into("!H", hdr, 2, off - 20 + 24)
            mac = hmac.new(pwd.encode(), bytes(hdr), hashlib.sha1).digest()
            mi_ok = hmac.compare_digest(mac, val)
        elif at == A_FINGERPRINT and len(val) == 4:
            hdr = bytearray(p[:off])
            struct.pack_into("!H", hdr, 2, off - 20 + 8)
            crc = (binascii.crc32(bytes(hdr)) ^ FP_XOR) & 0xFFFFFFFF
            fp_ok = struct.unpack("!I", val)[0] == crc
    return mapped, mi_ok, fp_ok


# --- the sockets' reader ----------------------------------------------------


class Responder(threading.Thread):
    """Reads every socket a Probe made. A Binding request from the gateway
    goes to the socket's owner (Probe.gateway_request), which answers it
    as a browser does; everything else is queued for recv()."""

    def __init__(self):
        super().__init__(daemon=True)
        self.lock = threading.Lock()
        self.socks = {}  # socket -> (owner, queue)
        self.wake_r, self.wake_w = socket.socketpair()
        self.start()

    def add(self, sock, owner):
        with self.lock:
            self.socks[sock] = (owner, queue.Queue())
        self.wake_w.send(b"x")

    def remove(self, sock):
        with self.lock:
            self.socks.pop(sock, None)
        self.wake_w.send(b"x")

    def recv(self, sock, timeout):
        """The next (data, src) on sock that no owner took, or None."""
        with self.lock:
            ent = self.socks.get(sock)
        if ent is None:
            return None
        try:
            return ent[1].get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    def run(self):
        while True:
            with self.lock:
                socks = list(self.socks)
            try:
                r, _, _ = select.select(socks + [self.wake_r], [], [], 0.2)
            except (OSError, ValueError):
                continue  # a socket closed under us: read the list again
            for s in r:
                if s is self.wake_r:
                    s.recv(4096)
                    continue
                with self.lock:
                    ent = self.socks.get(s)
                if ent is None:
                    continue
                try:
                    data, src = s.recvfrom(65535)
                except OSError:
                    continue
                if not ent[0].gateway_request(s, data, src):
                    ent[1].put((data, src))


RESPONDER = None


# --- SDP ---------------------------------------------------------------------


def rand_ice(n):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return "".join(alphabet[b & 63] for b in os.urandom(n))


def make_offer(ufrag, pwd, fingerprint, local_port):
    """A minimal WebRTC audio offer: one sendrecv Opus section, BUNDLEd,
    rtcp-mux, a=setup:actpass, sha-256 fingerprint (as Chromium and aiortc
    offer it, tests/unit/fixtures/sdp)."""
    sid = int.from_bytes(os.urandom(7), "big")
    ssrc = int.from_bytes(os.urandom(4), "big") or 1
    lines = [
        "v=0",
        "o=- %d 2 IN IP4 127.0.0.1" % sid,
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "a=msid-semantic: WMS",
        "m=audio %d UDP/TLS/RTP/SAVPF 111" % local_port,
        "c=IN IP4 127.0.0.1",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=candidate:1 1 udp 2130706431 127.0.0.1 %d typ host" % local_port,
        "a=end-of-candidates",
        "a=ice-ufrag:%s" % ufrag,
        "a=ice-pwd:%s" % pwd,
        "a=ice-options:trickle",
        "a=fingerprint:sha-256 %s" % fingerprint,
        "a=setup:actpass",
        "a=mid:0",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "a=sendrecv",
        "a=msid:- probe-audio",
        "a=rtcp-mux",
        "a=rtpmap:111 opus/48000/2",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=ssrc:%d cname:gwprobe" % ssrc,
    ]
    return "\r\n".join(lines) + "\r\n"


def sdp_attrs(sdp, name):
    out = []
    for line in sdp.splitlines():
        line = line.strip()
        if line == "a=" + name:
            out.append("")
        elif line.startswith("a=%s:" % name):
            out.append(line[len(name) + 3:])
    return out


CAND_RE = re.compile(r"^a=candidate:\S+ (\d+) (\S+) \d+ (\S+) (\d+) typ (\S+)")


def sdp_candidates(sdp):
    out = []
    for line in sdp.splitlines():
        m = CAND_RE.match(line.strip())
        if m:
            out.append((m.group(2).lower(), m.group(3), int(m.group(4)),
                        m.group(5)))
    return out


def parse_addr(text):
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)|([0-9.]+):(\d+)", text)
    if not m:
        raise ValueError("not IP:PORT or [IPv6]:PORT: %r" % text)
    ip = ipaddress.ip_address(m.group(1) or m.group(3))
    if not ip.is_loopback:
        raise ValueError("%s is not a loopback address" % ip)
    return str(ip), int(m.group(2) or m.group(4))


def pem_sha256(pem):
    """SDP-style SHA-256 fingerprint of the first certificate in pem."""
    m = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----",
                  pem, re.S)
    if not m:
        return None
    der = base64.b64decode("".join(m.group(1).split()))
    return ":".join("%02X" % b for b in hashlib.sha256(der).digest())


# --- HTTP and WebSocket ------------------------------------------------------


def http_post(base, path, body, token=None):
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(base + path, data=data, method="POST",
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        obj = json.loads(raw.decode()) if raw else None
    except ValueError:
        obj = None
    return status, obj


class Signal:
    """The WebSocket: messages are queued by a reader task."""

    def __init__(self, ws, tag=""):
        self.ws = ws
        self.tag = tag + ": " if tag else ""
        self.queue = asyncio.Queue()
        self.seen = []
        self.task = asyncio.ensure_future(self.reader())

    async def reader(self):
        try:
            async for raw in self.ws:
                try:
                    m = json.loads(raw)
                except ValueError:
                    m = {"type": "<not json>", "raw": raw[:200]}
                if m.get("type") != "pong":
                    say("%sws <- %s" % (self.tag, m if m.get("type") != "answer"
                                      else {"type": "answer", "from": m.get("from")}))
                self.seen.append(m)
                await self.queue.put(m)
        except websockets.ConnectionClosed as e:
            say("%ssignaling closed: %s" % (self.tag, e))

    async def send(self, obj):
        await self.ws.send(json.dumps(obj))

    async def wait_for(self, types, timeout):
        """The next message whose type is in types, or None at timeout;
        other messages are kept in self.seen only."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                m = await asyncio.wait_for(self.queue.get(), left)
            except asyncio.TimeoutError:
                return None
            if m.get("type") in types:
                return m

    async def close(self):
        try:
            await self.send({"type": "leave"})
        except websockets.ConnectionClosed:
            pass
        await self.ws.close()
        self.task.cancel()


# --- /metrics -----------------------------------------------------------------

METRIC_RE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def scrape(url):
    """[(name, "{labels}" or "", value)] of one /metrics page."""
    with urllib.request.urlopen(url, timeout=5) as r:
        text = r.read().decode()
    out = []
    for line in text.splitlines():
        m = METRIC_RE.match(line)
        if m and not line.startswith("#"):
            out.append((m.group(1), m.group(2) or "", float(m.group(3))))
    return out


def mval(snap, name, label=""):
    """The sum of name's samples whose labels contain label."""
    return int(sum(v for n, l, v in snap if n == name and label in l))


G = "sotto_gateway_"
ICE_C = G + "ice_checks_total"
ENDED = G + "legs_ended_total"


# --- the relay in front of s_client ------------------------------------------


class Relay(threading.Thread):
    """s_client <-> front (loopback, any port) <-> leg socket <-> gateway.
    STUN from the gateway (answers to our own checks) is not passed on."""

    def __init__(self, leg, gw):
        super().__init__(daemon=True)
        self.leg = leg
        self.gw = gw
        fam = socket.AF_INET6 if ":" in gw[0] else socket.AF_INET
        self.front = socket.socket(fam, socket.SOCK_DGRAM)
        self.front.bind(("::1" if fam == socket.AF_INET6 else "127.0.0.1", 0))
        self.client = None
        self.stop = False
        self.to_gw = 0
        self.from_gw = 0
        self.from_gw_stun = 0
        self.from_gw_other = 0   # from an address other than the gateway's
        self.records_from_gw = []  # (content type, first handshake type)
        self.first_dtls_at = None

    @property
    def port(self):
        return self.front.getsockname()[1]

    def run(self):
        while not self.stop:
            r, _, _ = select.select([self.front], [], [], 0.005)
            if self.front in r:
                data, src = self.front.recvfrom(65535)
                self.client = src
                self.leg.sendto(data, self.gw)
                self.to_gw += 1
            while True:
                got = RESPONDER.recv(self.leg, 0)
                if got is None:
                    break
                data, src = got
                if (src[0], src[1]) != self.gw:
                    self.from_gw_other += 1
                    continue
                    continue
                if data and data[0] <= 3:
                    self.from_gw_stun += 1
                    continue
                self.from_gw += 1
                if self.first_dtls_at is None:
                    self.first_dtls_at = time.monotonic()
                self.records_from_gw.extend(dtls_records(data))
                if self.client is not None:
                    self.front.sendto(data, self.client)


def dtls_records(data):
    """[(content type, handshake msg type or alert (level, desc))] of the
    plaintext-visible records in one datagram."""
    out, off = [], 0
    while off + 13 <= len(data):
        ct = data[off]
        ln = struct.unpack("!H", data[off + 11:off + 13])[0]
        body = data[off + 13:off + 13 + ln]
        epoch = struct.unpack("!H", data[off + 3:off + 5])[0]
        if epoch == 0 and ct == 22 and body:
            out.append((ct, body[0]))
        elif epoch == 0 and ct == 21 and len(body) >= 2:
            out.append((ct, (body[0], body[1])))
        else:
            out.append((ct, None))
        off += 13 + ln
    return out


def client_hello(profiles):
    """A DTLS 1.2 ClientHello record: ECDHE-ECDSA/RSA AES-GCM suites, P-256
    and X25519, use_srtp with the given profile ids, no MKI."""
    suites = [0xC02B, 0xC02C, 0xC02F, 0xC030]
    ext = b""
    groups = struct.pack("!HH", 0x0017, 0x001D)
    ext += struct.pack("!HHH", 0x000A, len(groups) + 2, len(groups)) + groups
    ext += struct.pack("!HHBB", 0x000B, 2, 1, 0)
    sigs = struct.pack("!HHH", 0x0403, 0x0804, 0x0401)
    ext += struct.pack("!HHH", 0x000D, len(sigs) + 2, len(sigs)) + sigs
    prof = b"".join(struct.pack("!H", p) for p in profiles)
    body = struct.pack("!H", len(prof)) + prof + b"\0"
    ext += struct.pack("!HH", 0x000E, len(body)) + body
    ext += struct.pack("!HH", 0x0017, 0)              # extended_master_secret
    ext += struct.pack("!HHB", 0xFF01, 1, 0)          # renegotiation_info
    ch = struct.pack("!H", 0xFEFD) + os.urandom(32)
    ch += b"\0"                                       # session id
    ch += b"\0"                                       # cookie
    cs = b"".join(struct.pack("!H", s) for s in suites)
    ch += struct.pack("!H", len(cs)) + cs
    ch += b"\x01\x00"                                 # null compression
    ch += struct.pack("!H", len(ext)) + ext
    n = len(ch)
    hs = struct.pack("!B", 1) + n.to_bytes(3, "big") + struct.pack("!H", 0)
    hs += (0).to_bytes(3, "big") + n.to_bytes(3, "big") + ch
    rec = struct.pack("!BHH", 22, 0xFEFF, 0) + (0).to_bytes(6, "big")
    rec += struct.pack("!H", len(hs)) + hs
    return rec


def finished_again():
    """What a DTLS client whose Finished went unanswered sends again: a
    handshake record in epoch 1 (the body, encrypted for real, is never
    decrypted: the gateway only looks at the type and the epoch)."""
    body = os.urandom(40)
    return (struct.pack("!BHH", 22, 0xFEFD, 1) + (1).to_bytes(6, "big") +
            struct.pack("!H", len(body)) + body)


# --- the probe ---------------------------------------------------------------


class Probe:
    def __init__(self, args, checks=None, tag=""):
        self.a = args
        self.all_checks = checks if checks is not None else Checks()
        self.checks = Tagged(self.all_checks, tag)
        self.tag = tag
        self.result = {"mode": args.mode}
        self.sig = None
        self.gw = parse_addr(args.gateway)
        self.leg = self.socket()
        self.ufrag = rand_ice(8)
        self.pwd = rand_ice(24)
        self.ans_ufrag = self.ans_pwd = self.ans_fp = None
        self.last_sent = self.last_valid_sent = None
        self.n_handshakes = 0
        # the gateway's own checks: answered unless deaf; each one seen as
        # (time, socket port, tid, what was wrong or "")
        self.deaf = args.mode == "deaf"
        self.gw_requests = []
        self.old_creds = []  # (ufrag, pwd, answer's ufrag) of earlier offers
        self.others = []  # more sockets, closed with the leg's
        self.subs = []    # consent modes: the legs, each a Probe
        self.tasks = []   # and their keepalives

    def socket(self):
        """A UDP socket on the loopback address of the gateway's family."""
        fam = socket.AF_INET6 if ":" in self.gw[0] else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.bind(("::1" if fam == socket.AF_INET6 else "127.0.0.1", 0))
        RESPONDER.add(s, self)
        return s

    def gateway_request(self, sock, data, src):
        """(The responder thread.) A Binding request from the gateway to
        one of our sockets: checked and, unless deaf, answered as a full
        ICE agent answers (RFC 8445 §7.3). False for anything else."""
        if (src[0], src[1]) != self.gw or not data or data[0] > 3:
            return False
        v = stun_verify(data, self.pwd)
        if v is None or v[0] != STUN_BINDING_REQUEST:
            return False
        user = v[2].get(A_USERNAME, b"").decode(errors="replace")
        ufrag, pwd, ans_ufrag = self.ufrag, self.pwd, self.ans_ufrag
        for old in self.old_creds:  # a leg this probe offered before
            if user == "%s:%s" % (old[0], old[2]):
                ufrag, pwd, ans_ufrag = old
                v = stun_verify(data, pwd)
        _, tid, attrs, mi_ok, fp_ok = v
        want_user = "%s:%s" % (ufrag, ans_ufrag)
        wrong = []
        if user != want_user:
            wrong.append("USERNAME %r, want %r" % (user, want_user))
        if not mi_ok:
            wrong.append("MESSAGE-INTEGRITY does not verify with our ice-pwd")
        if not fp_ok:
            wrong.append("FINGERPRINT missing or wrong")
        if A_ICE_CONTROLLED not in attrs or A_ICE_CONTROLLING in attrs:
            wrong.append("not ICE-CONTROLLED")
        if A_PRIORITY not in attrs:
            wrong.append("no PRIORITY")
        if A_USE_CANDIDATE in attrs:
            wrong.append("USE-CANDIDATE from the controlled agent")
        self.gw_requests.append((time.monotonic(), sock.getsockname()[1], tid,
                                 "; ".join(wrong)))
        if not wrong and not self.deaf:
            sock.sendto(stun_success(tid, src, pwd), src)
        return True

    def wait_gw_check(self, sock, since, what, timeout=1.0):
        """Waits for the gateway's own check to sock (sent after since) and
        a moment for our answer to reach it: a new address counts for the
        leg only from then on."""
        port = sock.getsockname()[1]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(r[1] == port and r[0] >= since for r in self.gw_requests):
                time.sleep(0.05)
                return True
            time.sleep(0.005)
        return self.checks.check(False, "%s: the gateway checked that address "
                                 "(nothing within %g s)" % (what, timeout))

    def gw_requests_ok(self, what):
        """Every check the gateway sent us was a right one."""
        bad = [w for _, _, _, w in self.gw_requests if w]
        return self.checks.check(not bad, "%s: the gateway's %d check(s) to us "
                                 "verified (USERNAME, MESSAGE-INTEGRITY with our "
                                 "ice-pwd, FINGERPRINT, ICE-CONTROLLED)%s" %
                                 (what, len(self.gw_requests),
                                  "" if not bad else ": " + bad[0]))

    def note(self, msg):
        say("%s: %s" % (self.tag, msg) if self.tag else msg)

    async def snap(self):
        if not self.a.metrics:
            raise Abort("mode %s needs --metrics" % self.a.mode)
        try:
            return await asyncio.to_thread(scrape, self.a.metrics)
        except (OSError, ValueError) as e:
            raise Abort("cannot scrape %s: %s" % (self.a.metrics, e))

    def delta(self, before, after, name, label, want, step):
        """name{label} changed by want (an int, or (lo, hi)) between two
        scrapes."""
        d = mval(after, name, label) - mval(before, name, label)
        ok = d == want if isinstance(want, int) else want[0] <= d <= want[1]
        return self.checks.check(ok, "%s: %s%s %+d (want %s)" %
                                 (step, name, "{%s}" % label if label else "", d,
                                  want if isinstance(want, int) else
                                  "%d..%d" % want))

    async def setup(self):
        a = self.a
        st, room = await asyncio.to_thread(http_post, a.api, "/v1/rooms",
                                           {"mode": "gateway", "max_participants": 2})
        if st != 201 or not isinstance(room, dict) or room.get("mode") != "gateway":
            raise Abort("POST /v1/rooms mode gateway: %d %r" % (st, room))
        self.result["room"] = room["room"]
        url = a.api.replace("http://", "ws://", 1) + "/v1/ws"
        ws = await websockets.connect(url, open_timeout=10, compression=None)
        self.sig = Signal(ws, self.tag)
        await self.sig.send({"type": "join", "token": room["token"]})
        m = await self.sig.wait_for({"joined", "error"}, 10)
        if m is None or m["type"] != "joined":
            raise Abort("join: %r" % m)
        self.checks.check(m.get("mode") == "gateway" and isinstance(m.get("slots"), int),
                          "joined a gateway room (mode %r, slots %r)" %
                          (m.get("mode"), m.get("slots")))
        await self.offer()

    async def offer(self):
        """Offers (again) and reads the answer; the time the offer went
        out in self.offer_sent."""
        offer = make_offer(self.ufrag, self.pwd, self.a.fingerprint,
                           self.leg.getsockname()[1])
        self.offer_sent = time.monotonic()
        await self.sig.send({"type": "offer", "to": "gateway", "sdp": offer})
        m = await self.sig.wait_for({"answer", "error"}, 10)
        if m is None or m["type"] != "answer":
            raise Abort("offer: want an answer from the gateway, got %r" % m)
        self.check_answer(m.get("sdp", ""), m.get("from"))

    def check_answer(self, sdp, frm):
        c = self.checks
        if self.a.log_sdp:
            say("--- answer:\n%s--- end of answer" % sdp)
        c.check(frm == "gateway", "answer from %r" % frm)
        c.check(sdp_attrs(sdp, "ice-lite"), "answer: a=ice-lite")
        setup = set(sdp_attrs(sdp, "setup"))
        c.check(setup == {"passive"}, "answer: a=setup %s (want passive)" % sorted(setup))
        uf, pw, fp = sdp_attrs(sdp, "ice-ufrag"), sdp_attrs(sdp, "ice-pwd"), \
            sdp_attrs(sdp, "fingerprint")
        if not (uf and pw and fp):
            raise Abort("answer without ice-ufrag/ice-pwd/fingerprint")
        self.ans_ufrag, self.ans_pwd = uf[0], pw[0]
        f = fp[0].split()
        c.check(len(f) == 2 and f[0].lower() == "sha-256" and
                re.fullmatch(r"[0-9A-F]{2}(:[0-9A-F]{2}){31}", f[1]),
                "answer: a=fingerprint %s is sha-256" % fp[0])
        self.ans_fp = f[-1].upper()
        cands = sdp_candidates(sdp)
        want = (self.gw[0], self.gw[1])
        c.check(cands and all(p == "udp" and (ip, port) == want and t == "host"
                              for p, ip, port, t in cands),
                "answer: candidates %s are udp host %s:%d" % (cands, *want))
        self.result["answer_ufrag"] = self.ans_ufrag

    def ice_exchange(self, username, pwd, wait, sock=None, **kw):
        """Sends one check (from sock, the leg socket if None); the Binding
        success that answers it, or None. The time it went out in
        self.last_sent."""
        sock = sock or self.leg
        tid = os.urandom(12)
        self.last_sent = time.monotonic()
        sock.sendto(stun_request(username, pwd, tid, **kw), self.gw)
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            got = RESPONDER.recv(sock, left)
            if got is None:
                return None
            data, src = got
            p = stun_parse(data)
            if (src[0], src[1]) == self.gw and p is not None and p[1] == tid:
                return data
            self.note("ignored a datagram from %s:%d (%d bytes)" %
                      (src[0], src[1], len(data)))

    def check_from(self, sock, use_candidate, what, answered=True, creds=None):
        """One check with the answer's credentials (or creds: (username,
        password)) from sock: answered by a verified Binding success
        naming sock, or (answered=False) not answered at all."""
        user, pwd = creds or ("%s:%s" % (self.ans_ufrag, self.ufrag), self.ans_pwd)
        resp = self.ice_exchange(user, pwd, 1.0, sock=sock,
                                 use_candidate=use_candidate)
        if not answered:
            return self.checks.check(resp is None, "%s: not answered (%s)" % (
                what, "silence" if resp is None else "%d bytes back" % len(resp)))
        v = stun_verify_response(resp, pwd) if resp is not None else None
        me = sock.getsockname()[:2]
        ok = v is not None and v[0] == (me[0], me[1]) and v[1] and v[2]
        self.checks.check(ok, "%s: answered by a Binding success to %s:%d%s" % (
            what, me[0], me[1], "" if ok else " (got %s)" % (
                "nothing" if resp is None else
                "mapped %s, integrity %s, fingerprint %s" % v if v else
                "%d bytes, no Binding success" % len(resp))))
        if ok:
            self.last_valid_sent = self.last_sent
        return ok

    def valid_check(self, tries=5):
        user = "%s:%s" % (self.ans_ufrag, self.ufrag)
        for _ in range(tries):
            resp = self.ice_exchange(user, self.ans_pwd, 0.5)
            if resp is not None:
                self.last_valid_sent = self.last_sent
                break
        if not self.checks.check(resp is not None,
                                 "a valid ICE check is answered"):
            return False
        v = stun_verify_response(resp, self.ans_pwd)
        me = self.leg.getsockname()[:2]
        self.checks.check(v is not None, "the answer is a Binding success")
        if v is None:
            return False
        mapped, mi, fp = v
        self.checks.check(mapped == (me[0], me[1]),
                          "XOR-MAPPED-ADDRESS %s is the leg socket %s" % (mapped, me))
        self.checks.check(mi, "its MESSAGE-INTEGRITY verifies with the answer's ice-pwd")
        self.checks.check(fp, "its FINGERPRINT verifies")
        return True

    async def run_ice(self):
        c = self.checks
        cases = [
            ("bad_integrity", "wrong password",
             "%s:%s" % (self.ans_ufrag, self.ufrag), rand_ice(24), {}),
            ("unknown_ufrag", "unknown ufrag",
             "%s:%s" % (rand_ice(8), self.ufrag), self.ans_pwd, {}),
            ("bad_integrity", "wrong remote ufrag",
             "%s:%s" % (self.ans_ufrag, rand_ice(4)), self.ans_pwd, {}),
            ("malformed", "no FINGERPRINT",
             "%s:%s" % (self.ans_ufrag, self.ufrag), self.ans_pwd,
             {"fingerprint": False}),
        ]
        sent = {}
        for label, what, user, pwd, kw in cases:
            resp = await asyncio.to_thread(self.ice_exchange, user, pwd, 1.0, **kw)
            sent[label] = sent.get(label, 0) + 1
            c.check(resp is None, "ICE check with %s: not answered (%s)" %
                    (what, "silence" if resp is None else "%d bytes back" % len(resp)))
        self.result["ice_sent"] = sent
        await asyncio.to_thread(self.valid_check, 1)
        self.result["ice_sent"]["ok"] = 1

    async def run_handshake(self):
        a, c = self.a, self.checks
        if not await asyncio.to_thread(self.valid_check):
            return
        relay = Relay(self.leg, self.gw)
        relay.start()
        cmd = [a.openssl, "s_client", "-dtls1_2", "-timeout",
               "-connect", "127.0.0.1:%d" % relay.port,
               "-cert", a.cert, "-key", a.key]
        if a.srtp:
            cmd += ["-use_srtp", a.srtp]
        if a.cipher:
            cmd += ["-cipher", a.cipher]
        self.note("running: %s" % " ".join(cmd))
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), a.sclient_timeout)
            rc = proc.returncode
        except asyncio.TimeoutError:
            proc.kill()
            out, _ = await proc.communicate()
            rc = "killed"
        relay.stop = True
        relay.join(2)
        text = out.decode(errors="replace")
        # one log per handshake: s_client.log, s_client.log.keep, .2, ...
        self.n_handshakes += 1
        log = a.sclient_log
        if log and self.tag:
            log += "." + self.tag
        if log and self.n_handshakes > 1:
            log += ".%d" % self.n_handshakes
        with open(log, "w") if log else open(os.devnull, "w") as f:
            f.write(text)
        prof = re.search(r"SRTP Extension negotiated, profile=(\S+)", text)
        ciph = re.search(r"Cipher is (\S+)", text)
        done = re.search(r"^New, (\S+), Cipher is (\S+)", text, re.M)
        alerts = re.findall(r"alert (?:read|write|number)[^\n]*", text, re.I)
        self.result.update({
            "sclient_rc": rc, "srtp_profile": prof.group(1) if prof else None,
            "cipher": ciph.group(1) if ciph else None,
            "handshake_done": bool(done and done.group(2) != "(NONE)"),
            "alerts": alerts[:4],
            "relay": {"to_gw": relay.to_gw, "from_gw": relay.from_gw,
                      "from_gw_stun": relay.from_gw_stun,
                      "from_others": relay.from_gw_other,
                      "records_from_gw": relay.records_from_gw[:12]},
        })
        self.note("s_client exit %s, %s; relay: %d datagrams to the gateway, %d back" %
            (rc, ", ".join(l.strip() for l in text.splitlines()
                           if re.search(r"profile=|Cipher is|alert|error|Verif", l))[:600],
             relay.to_gw, relay.from_gw))
        c.check(relay.from_gw_other == 0, "nothing reached the leg socket from elsewhere")
        # RFC 7675: the gateway's own check, answered, came before its flight
        leg_port = self.leg.getsockname()[1]
        since = self.offer_sent  # this leg's (a re-offer is a new leg)
        first_req = min((w[0] for w in self.gw_requests
                         if w[1] == leg_port and w[0] >= since), default=None)
        if relay.first_dtls_at is not None:
            c.check(first_req is not None and first_req < relay.first_dtls_at,
                    "the gateway checked the leg socket (%s) before its first DTLS "
                    "datagram (%.3f s)" % (
                        "never" if first_req is None else "%.3f s" % (first_req - T0),
                        relay.first_dtls_at - T0))
        self.gw_requests_ok("handshake")
        if a.expect == "success":
            c.check(rc == 0, "s_client exit status %s (want 0)" % rc)
            c.check(self.result["handshake_done"],
                    "s_client completed a handshake (%s)" % (done.group(0) if done else "none"))
            c.check(prof and prof.group(1) == a.want_profile,
                    "negotiated SRTP profile %s (want %s)" %
                    (prof.group(1) if prof else None, a.want_profile))
            c.check(ciph and re.fullmatch(r"ECDHE-ECDSA-AES(128|256)-GCM-SHA(256|384)",
                                          ciph.group(1)),
                    "record cipher %s is ECDHE-ECDSA with AES-GCM" %
                    (ciph.group(1) if ciph else None))
            srv_fp = pem_sha256(text)
            c.check(srv_fp == self.ans_fp,
                    "the server certificate's SHA-256 %s is the answer's a=fingerprint"
                    % srv_fp)
            c.check(any(r[0] == 20 for r in relay.records_from_gw),
                    "the gateway sent its ChangeCipherSpec")
        else:
            # s_client prints the cipher and SRTP profile of the ServerHello
            # even when the handshake then fails, so the gateway's own
            # records tell: no ChangeCipherSpec (it never sent its
            # Finished), a fatal alert in the clear instead.
            recs = relay.records_from_gw
            alerts = [r[1] for r in recs if r[0] == 21 and isinstance(r[1], tuple)]
            c.check(rc != 0, "s_client failed (exit %s)" % rc)
            c.check(not any(r[0] == 20 for r in recs),
                    "the gateway sent no ChangeCipherSpec (records: %s)" % recs)
            c.check(alerts and alerts[0][0] == 2,
                    "the gateway sent a fatal alert (%s)" %
                    ", ".join("level %d description %d" % a for a in alerts))
            self.result["alert"] = alerts[0][1] if alerts else None
            if a.want_alert is not None:
                c.check(alerts and alerts[0][1] == a.want_alert,
                        "alert description %s (want %d)" %
                        (alerts[0][1] if alerts else None, a.want_alert))

    async def run_raw_hello(self):
        a, c = self.a, self.checks
        if not await asyncio.to_thread(self.valid_check):
            return
        profiles = [int(x, 0) for x in a.raw_profiles.split(",") if x]
        rec = client_hello(profiles)
        self.leg.sendto(rec, self.gw)
        say("sent a ClientHello with use_srtp %s (%d bytes)" %
            (["0x%04x" % p for p in profiles], len(rec)))
        records = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            got = await asyncio.to_thread(RESPONDER.recv, self.leg, 0.3)
            if got is None:
                if records:
                    break
                continue
            data, src = got
            if (src[0], src[1]) != self.gw or (data and data[0] <= 3):
                continue
            records.extend(dtls_records(data))
        self.result["records_from_gw"] = records
        alerts = [r for r in records if r[0] == 21]
        hello = [r for r in records if r[0] == 22 and r[1] == 2]
        c.check(not hello, "no ServerHello (records back: %s)" % records)
        c.check(alerts and isinstance(alerts[0][1], tuple) and alerts[0][1][0] == 2,
                "a fatal alert back (%s)" % alerts)
        if alerts and a.want_alert is not None:
            c.check(alerts[0][1][1] == a.want_alert, "alert description %d (want %d)" %
                    (alerts[0][1][1], a.want_alert))

    # --- helpers of the modes that follow ---

    def recv_dtls(self, sock, secs):
        """The DTLS records the gateway sends to sock until secs pass with
        nothing; STUN and anything else is left aside."""
        records = []
        while True:
            got = RESPONDER.recv(sock, secs)
            if got is None:
                return records
            data, src = got
            if (src[0], src[1]) == self.gw and data and 20 <= data[0] <= 63:
                records.extend(dtls_records(data))
            else:
                self.note("aside: %d bytes from %s:%d (first byte %d)" %
                          (len(data), src[0], src[1], data[0] if data else -1))

    def dtls_poke(self, sock, leg_address, what):
        """The client's Finished again from sock: from the leg's address the
        gateway sends its last flight (ChangeCipherSpec, Finished) again;
        from any other it must send nothing."""
        sock.sendto(finished_again(), self.gw)
        recs = self.recv_dtls(sock, 0.5)
        if leg_address:
            return self.checks.check(any(r[0] == 20 for r in recs),
                                     "DTLS from %s: the gateway's last flight again "
                                     "(records %s)" % (what, recs))
        return self.checks.check(not recs, "DTLS from %s: nothing back (records %s)" %
                                 (what, recs))

    def no_leg_ended(self):
        ended = [m for m in self.sig.seen if m.get("type") == "gateway-leg-ended"]
        errs = [m for m in self.sig.seen if m.get("type") == "error"]
        self.checks.check(not ended, "no gateway-leg-ended (got %s)" % ended)
        self.checks.check(not errs, "no error on the WebSocket (%s)" % errs)

    async def handshake_or_abort(self):
        await self.run_handshake()
        if not self.result.get("handshake_done"):
            raise Abort("%s: the handshake did not complete, nothing more to see"
                        % (self.tag or self.a.mode))

    async def keepalive(self, start, period, until, sock, use_candidate, what):
        """A valid check from sock at start + period, + 2 period, ... up to
        until; each must be answered. Returns how many were sent."""
        k = 1
        while start + k * period <= until:
            await asyncio.sleep(max(0.0, start + k * period - time.monotonic()))
            await asyncio.to_thread(self.check_from, sock, use_candidate,
                                    "%s %d (%.1f s)" % (what, k, k * period))
            k += 1
        return k - 1

    def gauge(self, snap, want, when):
        n = mval(snap, G + "legs")
        return self.checks.check(n == want, "sotto_gateway_legs %d %s (want %d)" %
                                 (n, when, want))

    # --- move ---

    async def run_move(self):
        t = asyncio.to_thread
        await self.handshake_or_abort()
        A, B = self.leg, self.socket()
        self.others.append(B)
        self.note("leg socket A: port %d, second socket B: port %d" %
                  (A.getsockname()[1], B.getsockname()[1]))
        moves, unknown = G + "leg_moves_total", G + "dtls_unknown_source_total"
        ok, other = 'result="ok"', 'result="other_pair"'

        m0 = await self.snap()
        await t(self.check_from, B, False, "a valid check from B, no USE-CANDIDATE")
        m1 = await self.snap()
        step = "B's check without USE-CANDIDATE"
        self.delta(m0, m1, ICE_C, other, 1, step)
        self.delta(m0, m1, ICE_C, ok, 0, step)
        self.delta(m0, m1, moves, "", 0, step)

        await t(self.check_from, A, False, "then a check from A, no USE-CANDIDATE")
        await t(self.dtls_poke, B, False, "B (not the leg's address)")
        await t(self.dtls_poke, A, True, "A (still the leg's address)")
        m2 = await self.snap()
        step = "then A's check, DTLS from B and A"
        self.delta(m1, m2, ICE_C, ok, 1, step)
        self.delta(m1, m2, ICE_C, other, 0, step)
        self.delta(m1, m2, unknown, "", 1, step)
        self.delta(m1, m2, moves, "", 0, step)

        C = self.socket()
        self.others.append(C)
        self.note("third socket C: port %d" % C.getsockname()[1])
        await t(self.check_from, B, True, "a valid check from B with USE-CANDIDATE")
        b_sent = self.last_sent
        await t(self.wait_gw_check, B, b_sent, "B's check with USE-CANDIDATE")
        b_answered = time.monotonic()
        # the leg moved between these two: at most once a second
        await t(self.check_from, C, True, "right after it, a valid check from C with "
                "USE-CANDIDATE")
        dt = time.monotonic() - b_sent
        self.checks.check(dt < 0.9, "C's check answered %.3f s after B's went out "
                          "(want < 0.9: within a second of the move)" % dt)
        m3 = await self.snap()
        step = "B's check with USE-CANDIDATE, then C's at once"
        self.delta(m2, m3, moves, "", 1, step)
        self.delta(m2, m3, ICE_C, ok, 1, step)
        self.delta(m2, m3, ICE_C, other, 1, step)

        await t(self.check_from, A, False, "after the move, a check from A, no USE-CANDIDATE")
        await t(self.dtls_poke, A, False, "A (the old address)")
        await asyncio.sleep(0.15)  # the gateway resends at most every 100 ms
        await t(self.dtls_poke, B, True, "B (the leg's address now)")
        await t(self.check_from, B, False, "after the move, a check from B, no USE-CANDIDATE")
        m4 = await self.snap()
        step = "after the move: A's check and DTLS, B's DTLS and check"
        self.delta(m3, m4, ICE_C, other, 1, step)
        self.delta(m3, m4, ICE_C, ok, 1, step)
        self.delta(m3, m4, unknown, "", 1, step)
        self.delta(m3, m4, moves, "", 0, step)

        # B's check was answered after the move: a second on from then
        await asyncio.sleep(max(0.0, b_answered + 1.1 - time.monotonic()))
        await t(self.check_from, C, True, "over a second after the move, a valid check "
                "from C with USE-CANDIDATE")
        await t(self.wait_gw_check, C, self.last_sent, "C's check a second on")
        m5 = await self.snap()
        step = "C's check with USE-CANDIDATE a second on"
        self.delta(m4, m5, moves, "", 1, step)
        self.delta(m4, m5, ICE_C, ok, 1, step)
        self.delta(m4, m5, ICE_C, other, 0, step)
        await t(self.dtls_poke, B, False, "B (the old address now)")
        await t(self.dtls_poke, C, True, "C (the leg's address now)")
        m6 = await self.snap()
        step = "after the second move: DTLS from B and C"
        self.delta(m5, m6, unknown, "", 1, step)
        self.delta(m5, m6, moves, "", 0, step)
        self.gauge(m6, mval(m0, G + "legs"), "after it all (as before)")
        self.delta(m0, m6, ENDED, "", 0, "the whole move")
        await asyncio.sleep(0.5)
        self.no_leg_ended()

    # --- steal ---

    async def run_steal(self):
        c, t = self.checks, asyncio.to_thread
        L1 = Probe(self.a, self.all_checks, "L1")
        L2 = Probe(self.a, self.all_checks, "L2")
        self.subs = [L1, L2]
        moves, unknown = G + "leg_moves_total", G + "dtls_unknown_source_total"
        ok, other = 'result="ok"', 'result="other_pair"'
        hs = G + "dtls_handshakes_total"
        m0 = await self.snap()
        g0 = mval(m0, G + "legs")
        await L1.setup()
        await L1.handshake_or_abort()
        A = L1.leg
        await L2.setup()
        self.note("L1's socket A: port %d, L2's own socket: port %d" %
                  (A.getsockname()[1], L2.leg.getsockname()[1]))
        m1 = await self.snap()
        self.gauge(m1, g0 + 2, "with L1 up and L2 offered")

        await t(L2.check_from, A, True, "L2's valid check with USE-CANDIDATE from "
                "L1's address A")
        m2 = await self.snap()
        step = "L2's check from A"
        self.delta(m1, m2, ICE_C, other, 1, step)
        self.delta(m1, m2, ICE_C, ok, 0, step)
        self.delta(m1, m2, moves, "", 0, step)

        # DTLS from A is still L1's alone
        A.sendto(client_hello([0x0007, 0x0001]), self.gw)
        recs = await t(L1.recv_dtls, A, 0.5)
        c.check(not recs, "a ClientHello from A: nothing back (L1 is established; "
                "a ServerHello would be L2's) (records %s)" % recs)
        await t(L1.dtls_poke, A, True, "A (L1's address still)")
        await t(L2.check_from, L2.leg, False, "L2's first check from its own socket, "
                "no USE-CANDIDATE")
        m3 = await self.snap()
        step = "DTLS from A, L2's check from its own socket"
        self.delta(m2, m3, ICE_C, ok, 1, step)
        self.delta(m2, m3, ICE_C, other, 0, step)
        self.delta(m2, m3, unknown, "", 0, step)
        self.delta(m2, m3, moves, "", 0, step)
        self.delta(m2, m3, hs, "", 0, step)

        await L2.handshake_or_abort()
        await t(L1.check_from, A, False, "L1's check from A, no USE-CANDIDATE")
        m4 = await self.snap()
        step = "L2's handshake from its own socket, L1's check"
        self.delta(m3, m4, hs, "", 1, step)
        self.delta(m3, m4, G + "legs_up_total", "", 1, step)
        self.delta(m3, m4, ICE_C, ok, (2, 6), step)
        self.delta(m3, m4, ICE_C, other, 0, step)
        self.delta(m0, m4, moves, "", 0, "all of it")
        self.delta(m0, m4, G + "dtls_failures_total", "", 0, "all of it")
        self.delta(m0, m4, ENDED, "", 0, "all of it")
        self.gauge(m4, g0 + 2, "with both up")
        await asyncio.sleep(0.3)
        L1.no_leg_ended()
        L2.no_leg_ended()

    # --- reoffer ---

    async def run_reoffer(self):
        c, t = self.checks, asyncio.to_thread
        await self.handshake_or_abort()
        old_uf, old_pwd, old_fp = self.ans_ufrag, self.ans_pwd, self.ans_fp
        old_user = "%s:%s" % (old_uf, self.ufrag)
        m0 = await self.snap()
        self.old_creds.append((self.ufrag, self.pwd, old_uf))
        self.ufrag, self.pwd = rand_ice(8), rand_ice(24)
        await self.offer()
        c.check(self.ans_ufrag != old_uf, "the second answer has another ice-ufrag "
                "(%s, was %s)" % (self.ans_ufrag, old_uf))
        c.check(self.ans_pwd != old_pwd, "and another ice-pwd")
        c.check(self.ans_fp != old_fp, "and another certificate (%s, was %s)" %
                (self.ans_fp, old_fp))
        recs = await t(self.recv_dtls, self.leg, 0.5)
        c.check(any(r[0] == 21 for r in recs),
                "the replaced leg sent its close_notify (an epoch-1 alert record) "
                "to its address (records %s)" % recs)
        m1 = await self.snap()
        step = "the second offer"
        self.delta(m0, m1, ENDED, 'reason="replaced"', 1, step)
        self.delta(m0, m1, ENDED, "", 1, step)
        self.delta(m0, m1, G + "offers_total", "", 1, step)
        self.delta(m0, m1, G + "offers_rejected_total", "", 0, step)
        self.gauge(m1, mval(m0, G + "legs"), "after it (one leg for another)")

        await t(self.check_from, self.leg, True, "a check with the old leg's credentials",
                answered=False, creds=(old_user, old_pwd))
        m2 = await self.snap()
        step = "the old credentials' check"
        self.delta(m1, m2, ICE_C, 'result="unknown_ufrag"', 1, step)
        self.delta(m1, m2, ICE_C, "", 1, step)

        await self.handshake_or_abort()  # the new leg, its own check first
        m3 = await self.snap()
        step = "the new leg's handshake"
        self.delta(m2, m3, G + "dtls_handshakes_total", "", 1, step)
        self.delta(m2, m3, G + "legs_up_total", "", 1, step)
        self.delta(m2, m3, ENDED, "", 0, step)
        self.gauge(m3, mval(m0, G + "legs"), "with the new leg up")
        await asyncio.sleep(0.5)
        self.no_leg_ended()

    # --- consent ---

    async def run_consent(self, stray):
        a = self.a
        lose = Probe(a, self.all_checks, "lose")
        keep = None if stray else Probe(a, self.all_checks, "keep")
        self.subs = [p for p in (keep, lose) if p is not None]
        m0 = await self.snap()
        g0 = mval(m0, G + "legs")
        if keep is not None:
            await keep.setup()
            await keep.handshake_or_abort()
            t_keep = keep.last_valid_sent
            # checks every 2 s up to 8 s after the first, then one more
            self.tasks.append(asyncio.ensure_future(keep.keepalive(
                t_keep, 2.0, t_keep + 8.0, keep.leg, True, "check")))
        await lose.setup()
        await lose.handshake_or_abort()
        t_lose = lose.last_valid_sent
        lose.note("the last check from the leg's address went out; no more from there")
        if stray:
            # from elsewhere, up to a second before consent could run out
            S = lose.socket()
            lose.others.append(S)
            self.tasks.append(asyncio.ensure_future(lose.keepalive(
                t_lose, 1.0, t_lose + a.consent - 1, S, False,
                "a valid check from another socket, no USE-CANDIDATE")))
        m1 = await self.snap()
        self.gauge(m1, g0 + len(self.subs), "with the legs up")
        self.delta(m0, m1, G + "legs_up_total", "", len(self.subs), "the handshakes")

        m = await lose.sig.wait_for({"gateway-leg-ended"},
                                    t_lose + a.consent + 3 - time.monotonic())
        dt = time.monotonic() - t_lose
        m2 = await self.snap()
        lose.checks.check(m is not None and m.get("reason") == "consent_lost",
                          "gateway-leg-ended consent_lost (got %r)" % m)
        lose.checks.check(m is not None and a.consent - 0.1 <= dt <= a.consent + 2,
                          "%.2f s after its last check from the leg's address "
                          "(want %d..%d)" % (dt, a.consent, a.consent + 2))
        self.result["consent_lost_after"] = round(dt, 3)
        step = "lose's end"
        self.gauge(m2, g0 + len(self.subs) - 1, "right after it")
        self.delta(m0, m2, ENDED, 'reason="consent_lost"', 1, step)
        self.delta(m0, m2, ENDED, "", 1, step)
        await asyncio.gather(*self.tasks)
        if stray:
            m3 = await self.snap()
            self.delta(m1, m3, ICE_C, 'result="other_pair"', (a.consent - 1, a.consent),
                       "the checks from another socket")
            self.delta(m1, m3, ICE_C, 'result="ok"', 0, "the checks from another socket")
        else:
            await asyncio.sleep(max(0.0, t_keep + 8.5 - time.monotonic()))
            await asyncio.to_thread(keep.check_from, keep.leg, True,
                                    "check 8.5 s after its first: still answered")
            m3 = await self.snap()
            step = "keep, 8.5 s on"
            self.gauge(m3, g0 + 1, "with keep alone")
            self.delta(m0, m3, ENDED, "", 1, step)
            self.delta(m2, m3, ICE_C, 'result="ok"', (2, 5), step)
            keep.no_leg_ended()
        # the ended leg's credentials are unknown now
        await asyncio.to_thread(lose.check_from, lose.leg, True,
                                "a check for the ended leg", answered=False)

    # --- timeout ---

    async def run_timeout(self):
        a, c, t = self.a, self.checks, asyncio.to_thread
        m0 = await self.snap()
        g0 = mval(m0, G + "legs")
        await self.setup()
        m1 = await self.snap()
        self.gauge(m1, g0 + 1, "once offered")
        recs = []
        if a.dtls != "nocheck":
            await t(self.valid_check)
        if a.dtls == "hello":
            # the profiles the gateway takes, and then nothing more
            self.leg.sendto(client_hello([0x0007, 0x0001]), self.gw)
            recs = await t(self.recv_dtls, self.leg, 0.3)
            c.check((22, 2) in recs, "a ServerHello answers the ClientHello (records %s)"
                    % recs)
            c.check(not any(r[0] == 21 for r in recs), "and no alert")
        m = await self.sig.wait_for({"gateway-leg-ended"},
                                    self.offer_sent + a.handshake + 2 - time.monotonic())
        dt = time.monotonic() - self.offer_sent
        m2 = await self.snap()
        c.check(m is not None and m.get("reason") == "handshake_timeout",
                "gateway-leg-ended handshake_timeout (got %r)" % m)
        c.check(m is not None and a.handshake - 0.05 <= dt <= a.handshake + 1,
                "%.2f s after the offer (want %d..%d)" % (dt, a.handshake, a.handshake + 1))
        self.result["ended_after"] = round(dt, 3)
        step = "the timeout"
        self.gauge(m2, g0, "after it (as before)")
        self.delta(m0, m2, ENDED, 'reason="handshake_timeout"', 1, step)
        self.delta(m0, m2, ENDED, "", 1, step)
        self.delta(m0, m2, G + "dtls_failures_total", "", 0, step)
        self.delta(m0, m2, G + "legs_up_total", "", 0, step)
        if a.dtls == "hello":
            more = await t(self.recv_dtls, self.leg, 0.05)
            n = sum(1 for r in recs + more if r == (22, 2))
            c.check(n >= 2, "the gateway sent its flight again on its timer "
                    "(%d ServerHellos)" % n)
            c.check(not any(r[0] == 21 for r in more), "the timed-out leg sent no alert")
            self.delta(m0, m2, G + "dtls_retransmits_total", "", (1, 20), step)
        await t(self.check_from, self.leg, True, "a check for the ended leg",
                answered=False)
        m3 = await self.snap()
        self.delta(m2, m3, ICE_C, 'result="unknown_ufrag"', 1, "the ended leg's check")

    # --- deaf ---

    async def run_deaf(self):
        a, c, t = self.a, self.checks, asyncio.to_thread
        m0 = await self.snap()
        g0 = mval(m0, G + "legs")
        await self.setup()
        if not await t(self.valid_check, 1):
            return
        self.leg.sendto(client_hello([0x0007, 0x0001]), self.gw)
        self.note("sent a ClientHello after the valid check; the gateway's checks "
                  "go unanswered")
        m = await self.sig.wait_for({"gateway-leg-ended"},
                                    self.offer_sent + a.handshake + 2 - time.monotonic())
        m1 = await self.snap()
        c.check(m is not None and m.get("reason") == "handshake_timeout",
                "gateway-leg-ended handshake_timeout (got %r)" % m)
        # everything but the gateway's requests queued up meanwhile
        recs = await t(self.recv_dtls, self.leg, 0.05)
        c.check(not recs, "no DTLS from the gateway to an address that never "
                "answered its checks (records %s)" % recs)
        reqs = [r for r in self.gw_requests if r[1] == self.leg.getsockname()[1]]
        self.gw_requests_ok("deaf")
        times = [r[0] for r in reqs]
        tids = {r[2] for r in reqs}
        gaps = [round(b - x, 3) for x, b in zip(times, times[1:])]
        self.result["gw_checks"] = {"n": len(reqs), "gaps": gaps,
                                    "tids": len(tids)}
        c.check(len(reqs) == 8, "the gateway checked the leg socket 8 times "
                "(got %d, gaps %s)" % (len(reqs), gaps))
        c.check(len(tids) == 1, "one transaction id, resent (got %d)" % len(tids))
        # RTO 50 ms doubling to 1.6 s, on a 100 ms tick
        rto = [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 1.6]
        c.check(len(gaps) == len(rto) and all(r - 0.01 <= g <= r + 0.15
                                              for g, r in zip(gaps, rto)),
                "gaps between them %s (want about %s, +100 ms tick)" % (gaps, rto))
        step = "the deaf leg"
        self.delta(m0, m1, G + "consent_checks_total", 'result="sent"', 8, step)
        self.delta(m0, m1, G + "consent_checks_total", 'result="timeout"', 1, step)
        self.delta(m0, m1, G + "consent_checks_total", 'result="answered"', 0, step)
        self.delta(m0, m1, ENDED, 'reason="handshake_timeout"', 1, step)
        self.delta(m0, m1, G + "dtls_handshakes_total", "", 0, step)
        self.gauge(m1, g0, "after it (as before)")

    async def leg_ended(self):
        a, c = self.a, self.checks
        if a.leg_ended:
            m = await self.sig.wait_for({"gateway-leg-ended"}, a.leg_ended_wait)
            self.result["leg_ended"] = m
            c.check(m is not None and m.get("reason") == a.leg_ended,
                    "gateway-leg-ended with reason %r (got %r)" % (a.leg_ended, m))
        else:
            m = await self.sig.wait_for({"gateway-leg-ended"}, 1.0)
            self.result["leg_ended"] = m
            c.check(m is None, "no gateway-leg-ended (got %r)" % m)
        errs = [x for x in self.sig.seen if x.get("type") == "error"]
        c.check(not errs, "no error on the WebSocket (%s)" % errs)

    async def run(self):
        mode = self.a.mode
        try:
            if mode in ("consent", "consent-stray"):
                await self.run_consent(mode == "consent-stray")
            elif mode == "steal":
                await self.run_steal()
            elif mode == "timeout":
                await self.run_timeout()
            elif mode == "deaf":
                await self.run_deaf()
            else:
                await self.setup()
                if mode == "ice":
                    await self.run_ice()
                elif mode == "raw-hello":
                    await self.run_raw_hello()
                elif mode == "move":
                    await self.run_move()
                elif mode == "reoffer":
                    await self.run_reoffer()
                else:
                    await self.run_handshake()
                if mode in ("ice", "raw-hello", "handshake"):
                    await self.leg_ended()
        except Abort as e:
            self.checks.check(False, str(e))
        except (OSError, websockets.WebSocketException) as e:
            self.checks.check(False, "%s: %s" % (type(e).__name__, e))
        finally:
            for task in self.tasks:
                task.cancel()
            for p in self.subs:
                self.result[p.tag] = p.result
                await p.close()
            await self.close()

    async def close(self):
        if self.sig is not None:
            try:
                await asyncio.wait_for(self.sig.close(), 5)
            except (asyncio.TimeoutError, websockets.WebSocketException):
                pass
        for s in [self.leg] + self.others:
            RESPONDER.remove(s)
            s.close()


def main():
    global NAME
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--api", required=True, help="http://127.0.0.1:PORT")
    p.add_argument("--gateway", required=True, help="sotto's gateway media address IP:PORT")
    p.add_argument("--fingerprint", required=True,
                   help="the offer's a=fingerprint sha-256 value (AB:CD:...)")
    p.add_argument("--mode", choices=("handshake", "ice", "raw-hello", "move", "steal",
                                      "reoffer", "consent", "consent-stray", "timeout",
                                      "deaf"),
                   default="handshake")
    p.add_argument("--metrics", help="sottod's http://127.0.0.1:PORT/metrics (move, steal, "
                   "reoffer, consent, consent-stray and timeout need it)")
    p.add_argument("--consent", type=int, default=5,
                   help="consent modes: sottod's gateway.consent_timeout")
    p.add_argument("--handshake", type=int, default=2,
                   help="timeout and deaf modes: sottod's gateway.handshake_timeout")
    p.add_argument("--dtls", choices=("none", "hello", "nocheck"), default="none",
                   help="timeout mode: what the leg does after the answer")
    p.add_argument("--cert", help="s_client's certificate (PEM)")
    p.add_argument("--key", help="s_client's key (PEM)")
    p.add_argument("--srtp", default="", help="s_client -use_srtp list ('' none)")
    p.add_argument("--cipher", help="s_client -cipher list")
    p.add_argument("--expect", choices=("success", "fail"), default="success")
    p.add_argument("--want-profile", default="SRTP_AEAD_AES_128_GCM")
    p.add_argument("--raw-profiles", default="0x0005,0x0006",
                   help="raw-hello: use_srtp profile ids")
    p.add_argument("--want-alert", type=int,
                   help="--expect fail: the alert description the gateway sends")
    p.add_argument("--leg-ended", help="the gateway-leg-ended reason to wait for")
    p.add_argument("--leg-ended-wait", type=float, default=5.0)
    p.add_argument("--openssl", default="openssl")
    p.add_argument("--sclient-timeout", type=float, default=15.0)
    p.add_argument("--sclient-log", help="s_client's whole output goes here")
    p.add_argument("--log-sdp", action="store_true")
    p.add_argument("--name", default="probe")
    args = p.parse_args()
    NAME = args.name
    if args.mode in ("handshake", "move", "steal", "reoffer", "consent",
                     "consent-stray") and \
            not (args.cert and args.key):
        p.error("%s mode needs --cert and --key" % args.mode)
    if args.metrics and not args.metrics.startswith(("http://127.", "http://[::1]")):
        p.error("--metrics must be on loopback")
    if not args.api.startswith("http://127.") and not args.api.startswith("http://[::1]"):
        p.error("--api must be on loopback")
    try:
        parse_addr(args.gateway)
    except ValueError as e:
        p.error("--gateway: %s" % e)
    args.api = args.api.rstrip("/")
    global RESPONDER
    RESPONDER = Responder()
    probe = Probe(args)
    asyncio.run(probe.run())
    checks = probe.all_checks
    probe.result["checks"] = checks.items
    probe.result["pass"] = checks.passed
    print("RESULT " + json.dumps(probe.result), flush=True)
    say("PASS" if checks.passed else "FAIL")
    return 0 if checks.passed else 1


if __name__ == "__main__":
    sys.exit(main())
