#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
Attacks on sottod's HTTP API and WebSocket signaling (docs/signaling.md),
run by tests/integration/signaling_api.sh against sottod instances it
started:

  main      keys [k1], allow_no_origin true, small per-IP limits
  rotated   keys [k2, k1]  (a token signed with k1 still verifies)
  k2only    keys [k2], allow_no_origin false

Every connection comes from its own loopback address (127.8.x.y) unless
a check needs several from one: the per-IP rate limits then only bite
where a check means them to. HTTP and WebSocket are spoken over raw
sockets so a check sees exactly what the server sent (status line,
headers, close codes). Tokens are forged with python3-jwt and the
configured keys.

Each check prints PASS or FAIL with its name; the exit status is 0 when
all passed, 1 otherwise.
"""

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback

import jwt

# ---- results ---------------------------------------------------------------

_lock = threading.Lock()
_results = []


def check(name, ok, detail=""):
    ok = bool(ok)
    with _lock:
        _results.append((name, ok, detail))
        line = "%s: %s" % ("PASS" if ok else "FAIL", name)
        if detail and not ok:
            line += " -- " + detail
        print(line, flush=True)
    return ok


def group(fn):
    """Runs a group of checks; an exception is one failed check, the
    other groups still run."""

    def run(*a, **kw):
        try:
            fn(*a, **kw)
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            tb = traceback.format_exc(limit=4)
            check("%s: ran to the end" % fn.__name__, False,
                  "%s: %s\n%s" % (type(e).__name__, e, tb))

    run.__name__ = fn.__name__
    return run


# ---- addresses -------------------------------------------------------------

_ip_n = 0


def fresh_ip():
    """A loopback source address nobody else used in this run."""
    global _ip_n
    with _lock:
        _ip_n += 1
        n = _ip_n
    return "127.8.%d.%d" % (n // 250, n % 250 + 1)


# ---- HTTP over a raw socket ------------------------------------------------


class Resp:
    def __init__(self, status, reason, headers, body, head):
        self.status = status
        self.reason = reason
        self.headers = headers  # [(name, value)], in order
        self.body = body
        self.head = head        # the raw status line and headers

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def err(self):
        j = self.json()
        return j.get("error") if isinstance(j, dict) else None

    def canonical(self):
        """Status, headers but Date, body: what must be identical."""
        hs = [(k, v) for k, v in self.headers if k.lower() != "date"]
        return (self.status, self.reason, hs, self.body)

    def __repr__(self):
        return "<%s %s %r>" % (self.status, self.reason, self.body[:300])


# every HTTP error answer seen, for the "errors are JSON" check
_errors_seen = []


def note(resp, what):
    if resp is not None and resp.status is not None and resp.status >= 400:
        with _lock:
            _errors_seen.append((what, resp))


def connect(port, src=None, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src or fresh_ip(), 0))
    s.connect(("127.0.0.1", port))
    return s


def read_response(s, buf=b"", timeout=5.0):
    """One HTTP response from s. Returns (Resp or None, leftover bytes).
    None: the connection closed (or timed out) before a whole head."""
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            return None, buf
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except socket.timeout:
            return None, buf
        except OSError:
            return None, buf
        if not d:
            return None, buf
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.1 (\d{3}) ?(.*)$", lines[0])
    if not m:
        return Resp(None, lines[0], [], rest, head), b""
    headers = []
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers.append((k.strip(), v.strip()))
    r = Resp(int(m.group(1)), m.group(2), headers, b"", head)
    n = int(r.header("Content-Length") or 0)
    if r.status == 101:
        return r, rest
    while len(rest) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except OSError:
            break
        if not d:
            break
        rest += d
    r.body = rest[:n]
    return r, rest[n:]


def exchange(port, data, src=None, timeout=5.0):
    """Sends raw request bytes, returns the Resp (or None)."""
    s = connect(port, src, timeout)
    try:
        try:
            s.sendall(data)
        except OSError:
            pass  # the server may answer and close before all is sent
        r, _ = read_response(s, timeout=timeout)
        return r
    finally:
        s.close()


def api(port, method, path, token=None, body=None, raw_body=None,
        headers=(), src=None):
    if body is not None:
        b = json.dumps(body).encode()
    else:
        b = raw_body or b""
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1:%d" % port,
             "Connection: close"]
    if token is not None:
        lines.append("Authorization: Bearer %s" % token)
    if b or method in ("POST", "PUT"):
        lines.append("Content-Type: application/json")
        lines.append("Content-Length: %d" % len(b))
    lines.extend(headers)
    data = ("\r\n".join(lines) + "\r\n\r\n").encode() + b
    r = exchange(port, data, src)
    note(r, "%s %s" % (method, path))
    return r


def describe(r):
    return repr(r) if r is not None else "no response"


# ---- WebSocket over a raw socket (RFC 6455) --------------------------------


class WS:
    """A minimal client: masks what it sends, answers pings, and reports
    what the server sent, close codes included."""

    def __init__(self, port, origin="default", src=None, timeout=5.0):
        self.port = port
        self.closed = False
        self.close_code = None
        self.s = connect(port, src, timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET /v1/ws HTTP/1.1", "Host: 127.0.0.1:%d" % port,
                 "Upgrade: websocket", "Connection: Upgrade",
                 "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
        if origin == "default":
            origin = "http://127.0.0.1:%d" % port
        if origin is not None:
            lines.append("Origin: " + origin)
        self.s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.resp, self.buf = read_response(self.s, timeout=timeout)
        note(self.resp, "GET /v1/ws (upgrade)")
        self.ok = self.resp is not None and self.resp.status == 101
        if self.ok:
            want = base64.b64encode(hashlib.sha1(
                (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()
            ).digest()).decode()
            if self.resp.header("Sec-WebSocket-Accept") != want:
                raise RuntimeError("bad Sec-WebSocket-Accept")

    def send_frame(self, opcode, payload, fin=True):
        if isinstance(payload, str):
            payload = payload.encode()
        n = len(payload)
        hdr = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        try:
            self.s.sendall(hdr + mask + masked)
            return True
        except OSError:
            return False

    def send(self, obj):
        return self.send_frame(1, json.dumps(obj))

    def _fill(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            self.s.settimeout(left)
            try:
                d = self.s.recv(65536)
            except ConnectionResetError:
                d = b""
            if not d:
                raise EOFError()
            self.buf += d

    def _frame(self, deadline):
        self._fill(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        n, off = b1 & 0x7F, 2
        if n == 126:
            self._fill(4, deadline)
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._fill(10, deadline)
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        if b1 & 0x80:
            raise RuntimeError("the server masked a frame")
        self._fill(off + n, deadline)
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return b0 & 0x80, b0 & 0x0F, payload

    def recv(self, timeout=5.0):
        """The next message: ("text", str), ("binary", bytes),
        ("close", code, reason), ("eof",) or ("timeout",)."""
        if self.closed:
            return ("eof",)
        deadline = time.monotonic() + timeout
        parts, first_op = [], None
        try:
            while True:
                fin, op, payload = self._frame(deadline)
                if op == 9:      # ping
                    self.send_frame(10, payload)
                    continue
                if op == 10:     # pong
                    continue
                if op == 8:
                    code = struct.unpack("!H", payload[:2])[0] \
                        if len(payload) >= 2 else None
                    self.close_code = code
                    self.send_frame(8, payload[:2])
                    self.closed = True
                    return ("close", code, payload[2:].decode("utf-8", "replace"))
                if op != 0:
                    first_op = op
                parts.append(payload)
                if fin:
                    data = b"".join(parts)
                    if first_op == 1:
                        return ("text", data.decode("utf-8"))
                    return ("binary", data)
        except socket.timeout:
            return ("timeout",)
        except (EOFError, OSError):
            self.closed = True
            return ("eof",)

    def msg(self, timeout=5.0):
        """The next JSON message, or {"type": "_close"/"_eof"/"_timeout"}."""
        ev = self.recv(timeout)
        if ev[0] == "text":
            try:
                return json.loads(ev[1])
            except ValueError:
                return {"type": "_not_json", "raw": ev[1]}
        if ev[0] == "close":
            return {"type": "_close", "code": ev[1], "reason": ev[2]}
        if ev[0] == "binary":
            return {"type": "_binary"}
        return {"type": "_" + ev[0]}

    def wait_closed(self, timeout=5.0):
        """Reads until the server closes. Returns (closed, close code or
        None, messages seen before)."""
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.msg(max(0.05, deadline - time.monotonic()))
            if m["type"] == "_close":
                # the server ends the TCP connection after its close
                self.msg(2.0)
                return True, m["code"], seen
            if m["type"] == "_eof":
                return True, None, seen
            if m["type"] == "_timeout":
                break
            seen.append(m)
        return False, None, seen

    def client_close(self):
        """A clean client close, waiting (bounded) for the server's end."""
        if not self.closed:
            self.send_frame(8, struct.pack("!H", 1000))
            self.wait_closed(3.0)
        self.s.close()

    def shut(self):
        try:
            self.s.close()
        except OSError:
            pass


# ---- SDP -------------------------------------------------------------------

FP256 = ("15:49:0C:78:4D:9E:F0:61:FC:D9:1A:8C:40:97:0A:29:A2:88:58:51:FE:8D:"
         "14:5D:46:6D:21:86:18:98:CD:F1")
FP256_B = ("A1:B2:C3:D4:E5:F6:07:18:29:3A:4B:5C:6D:7E:8F:90:01:12:23:34:45:56:"
           "67:78:89:9A:AB:BC:CD:DE:EF:F0")
FP1 = "15:49:0C:78:4D:9E:F0:61:FC:D9:1A:8C:40:97:0A:29:A2:88:58:51"

# A Chromium audio offer (tests/unit/fixtures/sdp/chromium_audio_offer.sdp)
OFFER_LINES = [
    "v=0",
    "o=- 3592427176143048896 2 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0",
    "a=extmap-allow-mixed",
    "a=msid-semantic: WMS 7b4dfcb5-b344-4747-8684-06c59f7fb0b7",
    "m=audio 51168 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
    "c=IN IP4 127.0.0.1",
    "a=rtcp:9 IN IP4 0.0.0.0",
    "a=candidate:1415600656 1 udp 2122194687 192.0.2.2 36244 typ host generation 0 network-id 1",
    "a=candidate:1393702560 1 udp 2122265343 fd00::2 37365 typ host generation 0 network-id 2",
    "a=candidate:3209461369 1 udp 58597375 127.0.0.1 51168 typ relay raddr 192.0.2.2 rport 36244 generation 0 network-id 1",
    "a=candidate:842163049 1 udp 1686052607 198.51.100.7 36244 typ srflx raddr 192.0.2.2 rport 36244 generation 0 network-id 1",
    "a=ice-ufrag:8LIx",
    "a=ice-pwd:3uq8IIZIKHIcg3r/iDm+feWo",
    "a=ice-options:trickle",
    "a=fingerprint:sha-256 " + FP256,
    "a=setup:actpass",
    "a=mid:0",
    "a=sendrecv",
    "a=rtcp-mux",
    "a=rtpmap:111 opus/48000/2",
    "a=rtcp-fb:111 transport-cc",
    "a=fmtp:111 minptime=10;useinbandfec=1",
    "a=rtpmap:63 red/48000/2",
    "a=fmtp:63 111/111",
    "a=rtpmap:9 G722/8000",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:13 CN/8000",
    "a=rtpmap:110 telephone-event/48000",
    "a=rtpmap:126 telephone-event/8000",
    "a=ssrc:1005023390 cname:Lx8RbGBOlVYTZ1Cq",
]


def sdp(lines):
    return "\r\n".join(lines) + "\r\n"


OFFER = sdp(OFFER_LINES)
ANSWER = sdp([
    ln.replace("a=setup:actpass", "a=setup:active").replace(FP256, FP256_B)
    .replace("3592427176143048896", "4711")
    for ln in OFFER_LINES])
OFFER_SHA1 = sdp([ln.replace("sha-256 " + FP256, "sha-1 " + FP1)
                  for ln in OFFER_LINES])
OFFER_CRYPTO = sdp(OFFER_LINES + [
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
    "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzcyAoZGVmaW5lZCBSb2Jlc3Q="])
OFFER_NOSETUP = sdp([ln for ln in OFFER_LINES if not ln.startswith("a=setup")])

CAND_HOST = "candidate:1415600656 1 udp 2122194687 192.0.2.2 36244 typ host generation 0"
CAND_SRFLX = ("candidate:842163049 1 udp 1686052607 198.51.100.7 36244 typ srflx "
              "raddr 192.0.2.2 rport 36244 generation 0")
CAND_RELAY = ("candidate:3209461369 1 udp 58597375 127.0.0.1 51168 typ relay "
              "raddr 192.0.2.2 rport 36244 generation 0")



# ---- TURN over UDP (RFC 8656), just enough to allocate ----------------------

STUN_MAGIC = 0x2112A442


def _stun_attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)


def _stun_msg(mtype, tid, attrs, key=None):
    body = b"".join(attrs)
    if key is not None:
        # RFC 8489 §14.5: the length covers MESSAGE-INTEGRITY itself
        hdr = struct.pack("!HHI", mtype, len(body) + 24, STUN_MAGIC) + tid
        mi = hmac.new(key, hdr + body, hashlib.sha1).digest()
        body += _stun_attr(0x0008, mi)
    return struct.pack("!HHI", mtype, len(body), STUN_MAGIC) + tid + body


def _stun_parse(data):
    if len(data) < 20:
        return None, {}
    mtype, length = struct.unpack("!HH", data[:4])
    attrs, off = {}, 20
    while off + 4 <= 20 + length and off + 4 <= len(data):
        t, n = struct.unpack("!HH", data[off:off + 4])
        attrs.setdefault(t, data[off + 4:off + 4 + n])
        off += 4 + n + (-n % 4)
    return mtype, attrs


def _stun_error(attrs):
    e = attrs.get(0x0009)
    return (e[2] & 7) * 100 + e[3] if e and len(e) >= 4 else None


class TurnClient:
    """One UDP socket, one allocation at most (its 5-tuple is the
    allocation's), long-term credentials of the REST kind."""

    def __init__(self, port, user, cred, src=None):
        self.port = port
        self.user = user.encode()
        self.cred = cred.encode()
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((src or fresh_ip(), 0))
        self.s.settimeout(2.0)
        self.key = self.realm = self.nonce = None

    def _ask(self, mtype, attrs, key=None):
        tid = os.urandom(12)
        msg = _stun_msg(mtype, tid, attrs, key)
        for _ in range(3):
            self.s.sendto(msg, ("127.0.0.1", self.port))
            try:
                while True:
                    data, _ = self.s.recvfrom(2048)
                    if data[8:20] == tid:
                        return _stun_parse(data)
            except socket.timeout:
                continue
        return None, {}

    def allocate(self):
        """0 on success, else the error code (None: no answer)."""
        req = [_stun_attr(0x0019, bytes([17, 0, 0, 0]))]
        mtype, attrs = self._ask(0x0003, req)
        if mtype != 0x0113 or _stun_error(attrs) != 401:
            return None if mtype is None else _stun_error(attrs)
        self.realm, self.nonce = attrs.get(0x0014), attrs.get(0x0015)
        self.key = hashlib.md5(self.user + b":" + self.realm + b":" +
                               self.cred).digest()
        mtype, attrs = self._ask(0x0003, req + self._auth(), self.key)
        if mtype == 0x0103:
            return 0
        return _stun_error(attrs)

    def _auth(self):
        return [_stun_attr(0x0006, self.user), _stun_attr(0x0014, self.realm),
                _stun_attr(0x0015, self.nonce)]

    def release(self):
        if self.key is not None:
            self._ask(0x0004, [_stun_attr(0x000D, b"\0\0\0\0")] +
                      self._auth(), self.key)
        self.s.close()


# ---- the test --------------------------------------------------------------


class T:
    def __init__(self, a):
        self.a = a
        self.main = a.main_port
        self.k1 = (a.k1_id, a.k1_secret)
        self.k2 = (a.k2_id, a.k2_secret)

    # -- helpers --

    def create_room(self, port=None, src=None, body=None):
        r = api(port or self.main, "POST", "/v1/rooms", body=body, src=src)
        if r is None or r.status != 201:
            raise RuntimeError("room creation failed: %s" % describe(r))
        return r.json()

    def invite(self, room, ctok, port=None):
        r = api(port or self.main, "POST", "/v1/rooms/%s/invites" % room,
                token=ctok)
        if r is None or r.status != 201:
            raise RuntimeError("invite failed: %s" % describe(r))
        return r.json()["token"]

    def forge(self, key, room, role="member", exp_in=3600, alg="HS256",
              extra_hdr=None, drop=(), iat_in=-5, use=None):
        now = int(time.time())
        claims = {"room": room, "role": role, "iat": now + iat_in,
                  "exp": now + exp_in, "jti": secrets.token_hex(16)}
        if use is not None:
            claims["use"] = use
        for c in drop:
            claims.pop(c, None)
        hdr = {"kid": key[0]}
        hdr.update(extra_hdr or {})
        k = None if alg == "none" else key[1]
        return jwt.encode(claims, k, algorithm=alg, headers=hdr)

    @staticmethod
    def hs256_by_hand(secret, header, claims, raw_payload=None):
        """A compact JWS built without a library, for headers PyJWT will
        not write."""
        def b64(b):
            return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
        pl = raw_payload if raw_payload is not None else json.dumps(claims)
        si = b64(json.dumps(header).encode()) + "." + b64(pl.encode())
        mac = hmac.new(secret.encode(), si.encode(), hashlib.sha256).digest()
        return si + "." + b64(mac)

    def joined_ws(self, token, port=None):
        ws = WS(port or self.main)
        if not ws.ok:
            raise RuntimeError("upgrade failed: %s" % describe(ws.resp))
        ws.send({"type": "join", "token": token})
        m = ws.msg()
        if m.get("type") != "joined":
            raise RuntimeError("join failed: %r" % m)
        ws.peer = m["peer"]
        ws.joined = m
        return ws

    def pair(self):
        """A room with two joined peers: (room, ctok, a, b); b joined
        second, a has seen peer-joined."""
        room = self.create_room()
        ctok = room["token"]
        mtok = self.invite(room["room"], ctok)
        a = self.joined_ws(ctok)
        b = self.joined_ws(mtok)
        m = a.msg()
        if m != {"type": "peer-joined", "peer": b.peer}:
            raise RuntimeError("no peer-joined: %r" % m)
        return room, ctok, a, b

    # -- tokens --

    @group
    def tokens(self):
        port = self.main
        room = self.create_room()
        rid, ctok = room["room"], room["token"]
        k1 = self.k1
        other = (k1[0], "h8-some-other-secret-0123456789")

        good = self.forge(k1, rid)
        r = api(port, "POST", "/v1/credentials", token=good)
        check("token: a token forged with the configured key works "
              "(control for the forgeries below)",
              r is not None and r.status == 200, describe(r))

        valid_member = self.invite(rid, ctok)
        h, p, s = valid_member.split(".")
        pl = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
        pl["role"] = "creator"
        p2 = base64.urlsafe_b64encode(json.dumps(pl, separators=(",", ":"))
                                      .encode()).rstrip(b"=").decode()
        tampered = "%s.%s.%s" % (h, p2, s)

        now = int(time.time())
        claims = {"room": rid, "role": "member", "iat": now - 5,
                  "exp": now + 3600, "jti": secrets.token_hex(16)}
        control = self.hs256_by_hand(
            k1[1], {"alg": "HS256", "typ": "JWT", "kid": k1[0]}, claims)
        r = api(port, "POST", "/v1/credentials", token=control)
        check("token: a hand-made HS256 token works (control for the "
              "hand-made ones below)",
              r is not None and r.status == 200, describe(r))
        none_hdr = base64.urlsafe_b64encode(
            b'{"alg":"none","typ":"JWT","kid":"k1"}').rstrip(b"=").decode()
        bad = {
            "no token": None,
            "malformed (not a JWT)": "not-a-jwt",
            "malformed (three junk segments)": "a.b.c",
            "expired": self.forge(k1, rid, exp_in=-60, iat_in=-3600),
            "wrong key (same kid, other secret)": self.forge(other, rid),
            "unknown kid": self.forge(("k9", k1[1]), rid),
            "alg none (pyjwt)": self.forge(k1, rid, alg="none"),
            "alg none (hand-made, empty signature)":
                none_hdr + "." + p + ".",
            "alg HS512": self.forge(k1, rid, alg="HS512"),
            "alg hs256 (lower case)": self.hs256_by_hand(
                k1[1], {"alg": "hs256", "typ": "JWT", "kid": k1[0]}, claims),
            "typ other than JWT": self.hs256_by_hand(
                k1[1], {"alg": "HS256", "typ": "JWS", "kid": k1[0]}, claims),
            "duplicate claim (room twice)": self.hs256_by_hand(
                k1[1], {"alg": "HS256", "typ": "JWT", "kid": k1[0]}, claims,
                raw_payload=json.dumps(claims)[:-1] +
                ', "room": "%s"}' % secrets.token_hex(16)),
            "tampered payload (member -> creator)": tampered,
            "missing jti claim": self.forge(k1, rid, drop=("jti",)),
            "bad role claim": self.forge(k1, rid, role="admin"),
            "unknown use claim": self.forge(k1, rid, use="twice"),
            "use claim on a creator token": self.forge(k1, rid, role="creator",
                                                       use="seat"),
            "use claim not a string": self.forge(k1, rid, use=1),
        }
        for what, tok in bad.items():
            r = api(port, "POST", "/v1/credentials", token=tok)
            check("token: %s -> 401 invalid_token" % what,
                  r is not None and r.status == 401 and
                  r.err() == "invalid_token", describe(r))
        # the tampered token must not open creator actions either
        r = api(port, "POST", "/v1/rooms/%s/lock" % rid, token=tampered,
                body={"locked": True})
        check("token: tampered member->creator token cannot lock (401)",
              r is not None and r.status == 401, describe(r))

        # the same on the socket: invalid_token and the connection closes
        for what in ("expired", "wrong key (same kid, other secret)",
                     "alg none (pyjwt)", "alg HS512", "unknown kid",
                     "tampered payload (member -> creator)"):
            ws = WS(port)
            ws.send({"type": "join", "token": bad[what]})
            m = ws.msg()
            closed, _, _ = ws.wait_closed()
            check("token: join with %s -> invalid_token, closed" % what,
                  m.get("type") == "error" and
                  m.get("error") == "invalid_token" and closed, repr(m))
            ws.shut()

        # room A's token on room B's path, and an unknown room: one answer
        other_room = self.create_room()
        unknown = secrets.token_hex(16)
        for action, body in (("/invites", None), ("/lock", {"locked": True}),
                             ("/kick", {"peer": "0" * 16})):
            wrong = api(port, "POST", "/v1/rooms/%s%s" %
                        (other_room["room"], action), token=ctok, body=body)
            unk = api(port, "POST", "/v1/rooms/%s%s" % (unknown, action),
                      token=ctok, body=body)
            check("token: room A's creator token on room B's %s -> 401 "
                  "invalid_token" % action,
                  wrong is not None and wrong.status == 401 and
                  wrong.err() == "invalid_token", describe(wrong))
            check("token: unknown room's %s answer is byte-identical to the "
                  "wrong-room answer (Date aside)" % action,
                  wrong is not None and unk is not None and
                  wrong.canonical() == unk.canonical(),
                  "wrong room: %r / unknown room: %r" %
                  (wrong and wrong.canonical(), unk and unk.canonical()))
        wrong = api(port, "DELETE", "/v1/rooms/%s" % other_room["room"],
                    token=ctok)
        unk = api(port, "DELETE", "/v1/rooms/%s" % unknown, token=ctok)
        check("token: DELETE of room B with room A's token -> 401, same "
              "bytes as an unknown room",
              wrong is not None and unk is not None and wrong.status == 401
              and wrong.canonical() == unk.canonical(),
              "%s / %s" % (describe(wrong), describe(unk)))
        # a correctly signed token naming a room that does not exist
        ghost = self.forge(k1, unknown, role="creator")
        g = api(port, "POST", "/v1/rooms/%s/invites" % unknown, token=ghost)
        w = api(port, "POST", "/v1/rooms/%s/invites" % other_room["room"],
                token=ctok)
        check("token: a signed token for a room that does not exist gets "
              "the same bytes as the wrong-room answer",
              g is not None and w is not None and g.status == 401 and
              g.canonical() == w.canonical(),
              "%s / %s" % (describe(g), describe(w)))
        # room B still fine: nothing above touched it
        r = api(port, "POST", "/v1/credentials", token=other_room["token"])
        check("token: room B's own token still works",
              r is not None and r.status == 200, describe(r))

    @group
    def rotation(self):
        rot, only2 = self.a.rot_port, self.a.k2only_port
        room = self.create_room(port=rot)
        hdr = jwt.get_unverified_header(room["token"])
        check("rotation: [k2, k1] signs with the first key (k2)",
              hdr.get("kid") == self.k2[0], repr(hdr))
        t1 = self.forge(self.k1, room["room"])
        r = api(rot, "POST", "/v1/credentials", token=t1)
        check("rotation: keys [k2, k1]: a token signed with k1 verifies",
              r is not None and r.status == 200, describe(r))
        r = api(rot, "POST", "/v1/credentials", token=room["token"])
        check("rotation: keys [k2, k1]: its own k2 token verifies",
              r is not None and r.status == 200, describe(r))

        room2 = self.create_room(port=only2)
        t2 = self.forge(self.k2, room2["room"])
        r = api(only2, "POST", "/v1/credentials", token=t2)
        check("rotation: keys [k2]: a k2 token verifies (control)",
              r is not None and r.status == 200, describe(r))
        t1 = self.forge(self.k1, room2["room"])
        r = api(only2, "POST", "/v1/credentials", token=t1)
        check("rotation: keys [k2]: a token signed with the removed k1 "
              "-> 401 invalid_token",
              r is not None and r.status == 401 and
              r.err() == "invalid_token", describe(r))

    # -- roles --

    @group
    def roles(self):
        port = self.main
        room = self.create_room()
        rid, ctok = room["room"], room["token"]
        mtok = self.invite(rid, ctok)
        a = self.joined_ws(ctok)
        for what, method, path, body in (
                ("invites", "POST", "/invites", None),
                ("lock", "POST", "/lock", {"locked": True}),
                ("kick", "POST", "/kick", {"peer": a.peer}),
                ("DELETE", "DELETE", "", None)):
            r = api(port, method, "/v1/rooms/%s%s" % (rid, path), token=mtok,
                    body=body)
            check("roles: a member's %s -> 403 forbidden" % what,
                  r is not None and r.status == 403 and
                  r.err() == "forbidden", describe(r))
        r = api(port, "POST", "/v1/credentials", token=mtok)
        check("roles: a member may fetch credentials (200)",
              r is not None and r.status == 200, describe(r))
        m = a.msg(0.5)
        check("roles: the refused kick changed nothing (creator still in, "
              "no message)", m.get("type") == "_timeout", repr(m))
        r = api(port, "POST", "/v1/rooms/%s/invites" % rid, token=ctok,
                body={"ttl": 10})
        check("roles: invite ttl below 60 -> 400 bad_request",
              r is not None and r.status == 400 and
              r.err() == "bad_request", describe(r))
        r = api(port, "POST", "/v1/rooms/%s/lock" % rid, token=ctok,
                body={"locked": "yes"})
        check("roles: lock with a non-boolean -> 400",
              r is not None and r.status == 400, describe(r))
        r = api(port, "POST", "/v1/rooms", raw_body=b"{not json")
        check("rooms: malformed JSON body -> 400 bad_request",
              r is not None and r.status == 400 and
              r.err() == "bad_request", describe(r))
        r = api(port, "POST", "/v1/rooms", body={"max_participants": 1})
        check("rooms: max_participants 1 -> 400",
              r is not None and r.status == 400, describe(r))
        r = api(port, "POST", "/v1/rooms", body={"max_participants": 65})
        check("rooms: max_participants above the limit -> 400",
              r is not None and r.status == 400, describe(r))
        a.client_close()

    # -- rate limits --

    @group
    def rate_limits(self):
        port, n = self.main, self.a.rooms_per_min
        ip = fresh_ip()
        codes = []
        for _ in range(n):
            r = api(port, "POST", "/v1/rooms", src=ip)
            codes.append(r.status if r else None)
        check("rate: %d rooms from one address are created" % n,
              codes == [201] * n, repr(codes))
        r = api(port, "POST", "/v1/rooms", src=ip)
        ra = r.header("Retry-After") if r else None
        check("rate: room %d from that address -> 429 rate_limited with "
              "Retry-After" % (n + 1),
              r is not None and r.status == 429 and
              r.err() == "rate_limited" and ra is not None and
              ra.isdigit() and int(ra) > 0, describe(r) + " Retry-After=%r" % ra)
        r = api(port, "POST", "/v1/rooms")
        check("rate: another address may still create rooms",
              r is not None and r.status == 201, describe(r))

        # joins per IP: each join from a new connection, leaving after
        room = self.create_room(body={"max_participants": 8})
        ctok = room["token"]
        jn = self.a.joins_per_min
        ip = fresh_ip()
        got = []
        for _ in range(jn):
            ws = WS(port, src=ip)
            ws.send({"type": "join", "token": ctok})
            m = ws.msg()
            got.append(m.get("type") if m.get("type") != "error"
                       else m.get("error"))
            ws.client_close()
        check("rate: %d joins from one address succeed" % jn,
              got == ["joined"] * jn, repr(got))
        ws = WS(port, src=ip)
        ws.send({"type": "join", "token": ctok})
        m = ws.msg()
        check("rate: join %d from that address -> rate_limited on the "
              "socket" % (jn + 1),
              m.get("type") == "error" and m.get("error") == "rate_limited",
              repr(m))
        ws.send({"type": "ping"})
        m = ws.msg()
        check("rate: the rate-limited socket stays open",
              m.get("type") == "pong", repr(m))
        ws.client_close()
        ws = WS(port)
        ws.send({"type": "join", "token": ctok})
        m = ws.msg()
        check("rate: a join from another address still succeeds",
              m.get("type") == "joined", repr(m))
        ws.client_close()

        # messages per connection: burst 60, then 20/s
        ws = WS(port)
        frames = b""
        total = 100
        for _ in range(total):
            payload = b'{"type":"ping"}'
            mask = os.urandom(4)
            frames += bytes([0x81, 0x80 | len(payload)]) + mask + bytes(
                b ^ mask[i % 4] for i, b in enumerate(payload))
        ws.s.sendall(frames)
        pongs = limited = other = 0
        for _ in range(total):
            m = ws.msg(2.0)
            if m.get("type") == "pong":
                pongs += 1
            elif m.get("type") == "error" and m.get("error") == "rate_limited":
                limited += 1
            elif m.get("type") == "_timeout":
                break
            else:
                other += 1
                break
        # the excess is dropped; the sender is told, at most once a
        # second, so a flood does not become a flood of answers
        check("rate: %d messages at once on one socket: the burst of 60 "
              "passes, the rest are dropped with one rate_limited notice"
              % total,
              60 <= pongs < total and 1 <= limited <= 2 and other == 0,
              "pongs=%d rate_limited=%d other=%d" % (pongs, limited, other))
        time.sleep(1.5)
        ws.send({"type": "ping"})
        m = ws.msg()
        check("rate: after a pause the socket works again",
              m.get("type") == "pong", repr(m))
        ws.client_close()

    # -- room lifecycle --

    @group
    def lifecycle(self):
        port = self.main
        room = self.create_room()
        rid, ctok = room["room"], room["token"]
        check("life: create -> 201 with room (32 hex), token, expires_at, "
              "max_participants 2, mode relay",
              re.fullmatch(r"[0-9a-f]{32}", rid or "") and
              room.get("max_participants") == 2 and
              room.get("mode") == "relay" and
              isinstance(room.get("expires_at"), int), repr(room))
        r = api(port, "POST", "/v1/rooms/%s/invites" % rid, token=ctok)
        inv = r.json() if r else None
        check("life: invite -> 201 with a member token",
              r is not None and r.status == 201 and
              jwt.decode(inv["token"], options={"verify_signature": False})
              .get("role") == "member", describe(r))
        mtok = inv["token"]
        a = self.joined_ws(ctok)
        check("life: creator joins: role creator, no peers",
              a.joined.get("role") == "creator" and a.joined.get("peers") == []
              and a.joined.get("room") == rid and
              re.fullmatch(r"[0-9a-f]{16}", a.peer), repr(a.joined))
        b = self.joined_ws(mtok)
        check("life: member joins second and sees the creator in peers",
              b.joined.get("role") == "member" and
              b.joined.get("peers") == [a.peer], repr(b.joined))
        m = a.msg()
        check("life: the creator gets peer-joined",
              m == {"type": "peer-joined", "peer": b.peer}, repr(m))

        c_tok = self.invite(rid, ctok)
        c = WS(port)
        c.send({"type": "join", "token": c_tok})
        m = c.msg()
        check("life: a third peer in a room of 2 -> room_full",
              m.get("type") == "error" and m.get("error") == "room_full",
              repr(m))
        c.send({"type": "ping"})
        m = c.msg()
        check("life: room_full leaves the socket open",
              m.get("type") == "pong", repr(m))
        m = a.msg()
        check("life: the creator is told a join was refused (room_full)",
              m == {"type": "join-refused", "reason": "room_full",
                    "count": 1}, repr(m))
        m = b.msg(0.3)
        check("life: the member is not told", m.get("type") == "_timeout",
              repr(m))

        r = api(port, "POST", "/v1/rooms/%s/kick" % rid, token=ctok,
                body={"peer": "0123456789abcdef"})
        check("life: kick of an unknown peer -> 404",
              r is not None and r.status == 404, describe(r))
        r = api(port, "POST", "/v1/rooms/%s/kick" % rid, token=ctok,
                body={"peer": b.peer})
        check("life: kick -> 200 {kicked: peer}",
              r is not None and r.status == 200 and
              r.json() == {"kicked": b.peer}, describe(r))
        m = b.msg()
        closed, code, _ = b.wait_closed()
        check("life: the kicked peer gets error kicked and its socket closes",
              m.get("type") == "error" and m.get("error") == "kicked" and
              closed, "%r closed=%s code=%s" % (m, closed, code))
        m = a.msg()
        check("life: the other peer gets peer-left",
              m == {"type": "peer-left", "peer": b.peer}, repr(m))
        b2 = WS(port)
        b2.send({"type": "join", "token": mtok})
        m = b2.msg()
        closed, _, _ = b2.wait_closed()
        check("life: the kicked token cannot join again (invalid_token, "
              "closed)", m.get("type") == "error" and
              m.get("error") == "invalid_token" and closed, repr(m))
        r = api(port, "POST", "/v1/credentials", token=mtok)
        check("life: the kicked token gets no credentials (401)",
              r is not None and r.status == 401 and
              r.err() == "invalid_token", describe(r))

        r = api(port, "POST", "/v1/rooms/%s/lock" % rid, token=ctok,
                body={"locked": True})
        check("life: lock -> 200 {room, locked: true}",
              r is not None and r.status == 200 and
              r.json() == {"room": rid, "locked": True}, describe(r))
        c.send({"type": "join", "token": c_tok})
        m = c.msg()
        check("life: a new join into the locked room (1 of 2 places taken) "
              "-> room_locked", m.get("type") == "error" and
              m.get("error") == "room_locked", repr(m))
        r = api(port, "POST", "/v1/rooms/%s/lock" % rid, token=ctok,
                body={"locked": False})
        check("life: unlock -> 200 locked false",
              r is not None and r.status == 200 and
              r.json() == {"room": rid, "locked": False}, describe(r))
        c.send({"type": "join", "token": c_tok})
        m = c.msg()
        check("life: after unlock the same socket can join",
              m.get("type") == "joined" and m.get("peers") == [a.peer],
              repr(m))
        c.peer = m.get("peer")
        m = a.msg()
        check("life: creator sees the new peer",
              m == {"type": "peer-joined", "peer": c.peer}, repr(m))
        c.send({"type": "join", "token": c_tok})
        m = c.msg()
        check("life: a second join on a joined socket -> already_joined",
              m.get("type") == "error" and m.get("error") == "already_joined",
              repr(m))

        r = api(port, "DELETE", "/v1/rooms/%s" % rid, token=ctok)
        check("life: DELETE -> 200 {closed: id}",
              r is not None and r.status == 200 and
              r.json() == {"closed": rid}, describe(r))
        for who, ws in (("creator", a), ("member", c)):
            m = ws.msg()
            closed, code, _ = ws.wait_closed()
            check("life: DELETE: the %s gets room_closed and is "
                  "disconnected" % who,
                  m.get("type") == "error" and
                  m.get("error") == "room_closed" and closed,
                  "%r closed=%s" % (m, closed))
        for who, tok in (("creator", ctok), ("member", c_tok)):
            r = api(port, "POST", "/v1/credentials", token=tok)
            check("life: after DELETE the %s token -> 401" % who,
                  r is not None and r.status == 401 and
                  r.err() == "invalid_token", describe(r))
        r = api(port, "DELETE", "/v1/rooms/%s" % rid, token=ctok)
        check("life: a second DELETE -> 401",
              r is not None and r.status == 401, describe(r))
        ws = WS(port)
        ws.send({"type": "join", "token": c_tok})
        m = ws.msg()
        check("life: joining the closed room -> invalid_token",
              m.get("type") == "error" and m.get("error") == "invalid_token",
              repr(m))
        ws.shut()
        for w in (a, b, b2, c):
            w.shut()

    # -- credentials --

    @group
    def credentials(self):
        port = self.main
        room = self.create_room()
        mtok = self.invite(room["room"], room["token"])
        before = int(time.time())
        r = api(port, "POST", "/v1/credentials", token=mtok)
        after = int(time.time())
        j = r.json() if r is not None else None
        if not check("creds: a member token gets 200 with credentials",
                     r is not None and r.status == 200 and isinstance(j, dict),
                     describe(r)):
            return
        user, cred = j.get("username", ""), j.get("credential", "")
        want = base64.b64encode(hmac.new(self.a.turn_secret.encode(),
                                         user.encode(), hashlib.sha1)
                                .digest()).decode()
        check("creds: credential = base64(HMAC-SHA1(turn secret, username))",
              hmac.compare_digest(cred, want), "%r vs %r" % (cred, want))
        m = re.fullmatch(r"(\d+):([0-9A-Za-z]+)", user)
        ttl = self.a.credential_ttl
        check("creds: username is expiry:random-id and expiry is now + "
              "credential_ttl (%d)" % ttl,
              m is not None and before + ttl - 5 <= int(m.group(1)) <=
              after + ttl + 5 and j.get("expires_at") == int(m.group(1)) and
              j.get("ttl") == ttl, repr(j))
        check("creds: the user part names neither the room nor the token",
              m is not None and m.group(2) not in room["room"] and
              room["room"] not in user, user)
        ice = j.get("iceServers")
        url = "turn:127.0.0.1:%d?transport=udp" % self.a.turn_port
        check("creds: iceServers has the TURN URL and the same credentials; "
              "iceTransportPolicy relay",
              isinstance(ice, list) and len(ice) == 1 and
              url in ice[0].get("urls", []) and
              ice[0].get("username") == user and
              ice[0].get("credential") == cred and
              j.get("iceTransportPolicy") == "relay", repr(j))
        # one TURN user per token, so turn.limits.allocations_per_user
        # bounds what one token holder can take; another token, another user
        r2 = api(port, "POST", "/v1/credentials", token=mtok)
        check("creds: the same token gets the same user id",
              r2 is not None and r2.status == 200 and
              r2.json().get("username", "").split(":")[-1] ==
              user.split(":")[-1], describe(r2))
        r3 = api(port, "POST", "/v1/credentials", token=room["token"])
        check("creds: another token gets another user id",
              r3 is not None and r3.status == 200 and
              r3.json().get("username", "").split(":")[-1] !=
              user.split(":")[-1], describe(r3))

        # and they work against sottod's own TURN server
        cmd = ["turnutils_uclient", "-y", "-c", "-n", "5", "-m", "1",
               "-l", "120", "-u", user, "-w", cred, "-p",
               str(self.a.turn_port), "127.0.0.1"]
        ok, detail = self.uclient(cmd)
        check("creds: the credentials allocate and relay on sottod's TURN "
              "(turnutils_uclient -y)", ok, detail)
        bad = base64.b64encode(hmac.new(b"not-the-secret-0123456789",
                                        user.encode(), hashlib.sha1)
                               .digest()).decode()
        cmd[cmd.index(cred)] = bad
        ok, detail = self.uclient(cmd)
        check("creds: a credential made with another secret relays nothing",
              not ok, detail)

    def uclient(self, cmd):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True,
                               timeout=60)
        except subprocess.TimeoutExpired:
            return False, "turnutils_uclient timed out"
        except FileNotFoundError:
            return False, "turnutils_uclient not found"
        out = p.stdout + p.stderr
        m = re.findall(r"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)", out)
        lost = re.findall(r"Total lost packets (\d+)", out)
        if p.returncode == 0 and m and lost:
            sent, recv = int(m[-1][0]), int(m[-1][1])
            if sent > 0 and sent == recv and int(lost[-1]) == 0:
                return True, "sent %d received %d" % (sent, recv)
        return False, "exit %d, tail: %s" % (p.returncode,
                                             " | ".join(out.splitlines()[-6:]))

    # -- issue 21: limits an attacker who reads the code would try --

    # The built-in defaults signaling_api.sh leaves in place.
    ALLOCATIONS_PER_USER = 10         # turn.limits.allocations_per_user
    INVITES_PER_ROOM_PER_MIN = 10     # signaling.invites_per_room_per_minute
    OLD_KICK_LIMIT = 64               # what rooms.c remembered before

    def creds(self, tok):
        r = api(self.main, "POST", "/v1/credentials", token=tok)
        if r is None or r.status != 200:
            raise RuntimeError("credentials: %s" % describe(r))
        j = r.json()
        return j["username"], j["credential"]

    @group
    def turn_users(self):
        """Every credential taken through one room is one of at most
        max_participants TURN users, whatever the number of tokens its
        creator mints; allocations_per_user then bounds the room."""
        k1, quota = self.k1, self.ALLOCATIONS_PER_USER
        room = self.create_room(body={"max_participants": 2})
        rid = room["room"]
        # a creator who mints ten times the room's size (forged here with
        # the signing key, as an invite loop would get them)
        toks = [self.forge(k1, rid) for _ in range(20)]
        creds = [self.creds(t) for t in toks]
        users = {u.split(":", 1)[1] for u, _ in creds}
        check("turn: 20 tokens of a 2-person room are 2 TURN users, not 20",
              len(users) == 2, "%d users" % len(users))
        jtis = [jwt.decode(t, options={"verify_signature": False})["jti"]
                for t in toks]
        check("turn: the user part names no room and no token (16 hex "
              "digits, in neither the room id nor any jti)",
              all(re.fullmatch(r"[0-9a-f]{16}", u) and u not in rid and
                  not any(u in j for j in jtis) for u in users), repr(users))
        # ten times what the room may hold, from addresses of their own
        # (the per-source STUN rate is not what is tested)
        want = 2 * quota
        clients, codes = [], []
        for i in range(10 * want):
            u, c = creds[i % len(creds)]
            tc = TurnClient(self.a.turn_port, u, c)
            code = tc.allocate()
            codes.append(code)
            clients.append(tc)
        ok = codes.count(0)
        check("turn: %d allocations through one 2-person room -> %d "
              "(2 users x allocations_per_user %d), the rest 486"
              % (10 * want, want, quota),
              ok == want and codes.count(486) == 10 * want - want,
              "ok=%d 486=%d other=%r" % (ok, codes.count(486),
                                         sorted({c for c in codes
                                                 if c not in (0, 486)},
                                                key=str)))
        for tc in clients:
            tc.release()
        # a normal call: two participants, two allocations each, and
        # each its own TURN user (one name for both would link them)
        room = self.create_room()
        mtok = self.invite(room["room"], room["token"])
        cu, cc = self.creds(room["token"])
        mu, mc = self.creds(mtok)
        check("turn: the two callers of a room are different TURN users",
              cu.split(":")[1] != mu.split(":")[1], "%s %s" % (cu, mu))
        normal = [TurnClient(self.a.turn_port, u, c)
                  for u, c in ((cu, cc), (cu, cc), (mu, mc), (mu, mc))]
        codes = [tc.allocate() for tc in normal]
        check("turn: a normal call (2 callers x 2 allocations) is never "
              "refused", codes == [0] * 4, repr(codes))
        for tc in normal:
            tc.release()

    @group
    def invite_limit(self):
        """Invites per room: max_participants at once plus the per-minute
        rate, then 429; other rooms and normal use are untouched."""
        per_min = self.INVITES_PER_ROOM_PER_MIN
        room = self.create_room(body={"max_participants": 8})
        rid, ctok = room["room"], room["token"]
        start = 8 + per_min
        codes, ra = [], None
        for _ in range(10 * start):
            r = api(self.main, "POST", "/v1/rooms/%s/invites" % rid,
                    token=ctok)
            codes.append(r.status if r else None)
            if r is not None and r.status == 429:
                ra = ra or (r.header("Retry-After"), r.err())
        ok = codes.count(201)
        # one more may trickle in if the loop took over 6 s
        check("invites: %d invites for one room of 8 -> %d created, the "
              "rest 429 rate_limited with Retry-After" % (10 * start, start),
              start <= ok <= start + 1 and
              codes.count(429) == 10 * start - ok and ra is not None and
              ra[0] and ra[0].isdigit() and ra[1] == "rate_limited",
              "201=%d 429=%d Retry-After=%r" % (ok, codes.count(429), ra))
        other = self.create_room(body={"max_participants": 8})
        got = [api(self.main, "POST", "/v1/rooms/%s/invites" % other["room"],
                   token=other["token"]) for _ in range(8)]
        check("invites: inviting a whole room of 8 at once is never refused "
              "(another room, the first at its limit)",
              all(r is not None and r.status == 201 for r in got),
              repr([describe(r) for r in got if r is None or r.status != 201]))
        r = api(self.main, "POST", "/v1/credentials", token=ctok)
        check("invites: the limited room's creator still works (credentials)",
              r is not None and r.status == 200, describe(r))

    @staticmethod
    def join_paced(ws, tok, tries=200):
        """A join that waits out the global join rate (joins_per_second):
        the first answer that is not rate_limited."""
        m = {}
        for _ in range(tries):
            ws.send({"type": "join", "token": tok})
            m = ws.msg()
            if m.get("error") != "rate_limited":
                break
            time.sleep(0.05)
        return m

    @group
    def kick_memory(self):
        """Ten times the old kick list: every kicked token stays out."""
        port, n = self.main, 10 * self.OLD_KICK_LIMIT
        room = self.create_room(body={"max_participants": 2})
        rid, ctok = room["room"], room["token"]
        toks = [self.forge(self.k1, rid) for _ in range(n)]
        kicked = 0
        for t in toks:
            ws = WS(port)
            m = self.join_paced(ws, t)
            if m.get("type") != "joined":
                ws.shut()
                continue
            r = api(port, "POST", "/v1/rooms/%s/kick" % rid, token=ctok,
                    body={"peer": m["peer"]})
            m = ws.msg()
            if r is not None and r.status == 200 and \
                    m.get("error") == "kicked":
                kicked += 1
            ws.shut()
        check("kick: %d participants joined and were kicked" % n,
              kicked == n, "%d kicked" % kicked)
        back = []
        for i, t in enumerate(toks):
            ws = WS(port)
            m = self.join_paced(ws, t)
            if m.get("type") != "error" or m.get("error") != "invalid_token":
                back.append((i, m.get("type"), m.get("error")))
            ws.shut()
        check("kick: none of the %d kicked tokens can join again "
              "(invalid_token)" % n, not back,
              "%d came back, first %r" % (len(back), back[:3]))
        bad = []
        for i, t in enumerate(toks):
            r = api(port, "POST", "/v1/credentials", token=t)
            if r is None or r.status != 401:
                bad.append((i, describe(r)))
        check("kick: none of the %d kicked tokens gets credentials (401)" % n,
              not bad, "%d got through, first %r" % (len(bad), bad[:2]))
        fresh = self.forge(self.k1, rid)
        ws = WS(port)
        m = self.join_paced(ws, fresh)
        check("kick: a token never kicked still joins that room",
              m.get("type") == "joined", repr(m))
        ws.client_close()

    # -- the web client's flows (issue 17) --

    def invite2(self, room, ctok, body=None):
        r = api(self.main, "POST", "/v1/rooms/%s/invites" % room, token=ctok,
                body=body)
        if r is None or r.status != 201:
            raise RuntimeError("invite failed: %s" % describe(r))
        return r.json()

    def try_join(self, token, name=None, ws=None):
        ws = ws or WS(self.main)
        msg = {"type": "join", "token": token}
        if name is not None:
            msg["name"] = name
        ws.send(msg)
        return ws, ws.msg()

    @staticmethod
    def next_not_refused(ws, timeout=5.0):
        """The next message that is not a join-refused notice (pre-join
        checks refused above may add one at the next tick)."""
        deadline = time.monotonic() + timeout
        while True:
            m = ws.msg(max(0.05, deadline - time.monotonic()))
            if m.get("type") != "join-refused":
                return m

    @staticmethod
    def refused_notice(ws, reason, timeout=2.5):
        """Waits for a join-refused notice with this reason; returns it
        (or the last message seen)."""
        deadline = time.monotonic() + timeout
        m = {"type": "_timeout"}
        while time.monotonic() < deadline:
            m = ws.msg(max(0.05, deadline - time.monotonic()))
            if m.get("type") == "join-refused" and m.get("reason") == reason:
                return m
            if m.get("type") != "join-refused":
                break
        return m

    @staticmethod
    def claims(tok):
        return jwt.decode(tok, options={"verify_signature": False})

    @group
    def call_flows(self):
        port = self.main

        # single-use invites: the default in a room of two
        room = self.create_room()
        rid, ctok = room["room"], room["token"]
        check("flows: a room of two locks itself by default (auto_lock)",
              room.get("auto_lock") is True, repr(room))
        inv = self.invite2(rid, ctok)
        check("flows: an invite to a room of two is single-use by default "
              "(single_use true, use claim once)",
              inv.get("single_use") is True and
              self.claims(inv["token"]).get("use") == "once", repr(inv))
        r = api(port, "POST", "/v1/check", token=inv["token"])
        j = r.json() if r else None
        check("flows: /v1/check with an unused invite -> 200 mode relay, "
              "role member, 0 of 2 in, single_use",
              r is not None and r.status == 200 and j == {
                  "mode": "relay", "role": "member", "max_participants": 2,
                  "participants": 0, "locked": False, "single_use": True},
              describe(r))
        for what, tok in (("no token", None), ("garbage", "a.b.c"),
                          ("an unknown room",
                           self.forge(self.k1, secrets.token_hex(16)))):
            r = api(port, "POST", "/v1/check", token=tok)
            check("flows: /v1/check with %s -> 401 invalid_token" % what,
                  r is not None and r.status == 401 and
                  r.err() == "invalid_token", describe(r))
        r = api(port, "GET", "/v1/check", token=inv["token"])
        check("flows: GET /v1/check -> 405",
              r is not None and r.status == 405, describe(r))
        a = self.joined_ws(ctok)
        check("flows: the creator's joined says locked false, auto_lock "
              "true, no seat, no participants",
              a.joined.get("locked") is False and
              a.joined.get("auto_lock") is True and
              "seat" not in a.joined and
              a.joined.get("participants") == [], repr(a.joined))
        b = self.joined_ws(inv["token"])
        seat = b.joined.get("seat")
        sc = self.claims(seat) if isinstance(seat, str) else {}
        check("flows: joining with an invite gives a seat token of one's "
              "own (member, use seat, a new jti, this room)",
              sc.get("use") == "seat" and sc.get("role") == "member" and
              sc.get("room") == rid and
              sc.get("jti") != self.claims(inv["token"]).get("jti"),
              repr(sc))
        check("flows: the second of two is told the room is now locked and "
              "who is there (the creator, by role)",
              b.joined.get("locked") is True and
              b.joined.get("participants") == [
                  {"peer": a.peer, "role": "creator", "muted": False}],
              repr(b.joined))
        m = a.msg()
        check("flows: peer-joined of a member carries nothing new",
              m == {"type": "peer-joined", "peer": b.peer}, repr(m))

        # the same invite again: refused, and the creator is told
        c, m = self.try_join(inv["token"])
        check("flows: a used single-use invite -> invite_used",
              m.get("type") == "error" and m.get("error") == "invite_used",
              repr(m))
        m = a.msg()
        check("flows: the creator is told (join-refused invite_used)",
              m == {"type": "join-refused", "reason": "invite_used",
                    "count": 1}, repr(m))
        r = api(port, "POST", "/v1/check", token=inv["token"])
        check("flows: /v1/check with the used invite -> 403 invite_used",
              r is not None and r.status == 403 and
              r.err() == "invite_used", describe(r))
        r = api(port, "POST", "/v1/credentials", token=inv["token"])
        check("flows: the used invite still gets TURN credentials (the "
              "person who used it holds it)",
              r is not None and r.status == 200, describe(r))
        c.shut()

        # a third person with a new invite: full while two are in
        inv3 = self.invite2(rid, ctok)
        r = api(port, "POST", "/v1/check", token=inv3["token"])
        check("flows: /v1/check of a new invite while two are in -> 403 "
              "room_full", r is not None and r.status == 403 and
              r.err() == "room_full", describe(r))
        # the member leaves: the room stays locked
        m = self.refused_notice(a, "room_full")
        check("flows: a refused pre-join check is told to the creator as a "
              "refused join (room_full)",
              m.get("type") == "join-refused" and m.get("count", 0) >= 1,
              repr(m))
        b.send({"type": "leave"})
        b.wait_closed()
        m = self.next_not_refused(a)
        check("flows: the creator sees the member leave",
              m == {"type": "peer-left", "peer": b.peer}, repr(m))
        time.sleep(1.1)  # past the creator's last refusal notice
        c, m = self.try_join(inv3["token"])
        check("flows: the room of two stays locked after one left: a third "
              "person's new invite -> room_locked",
              m.get("type") == "error" and m.get("error") == "room_locked",
              repr(m))
        m = self.refused_notice(a, "room_locked")
        check("flows: the creator is told (join-refused room_locked)",
              m.get("type") == "join-refused" and m.get("count", 0) >= 1,
              repr(m))
        c.shut()
        # the member comes back with its seat (the locked room lets it)
        b2, m = self.try_join(seat)
        check("flows: the member's seat token joins the locked room again",
              m.get("type") == "joined" and m.get("peers") == [a.peer] and
              "seat" not in m, repr(m))
        b2.peer = m.get("peer")
        m = self.next_not_refused(a)
        check("flows: the creator sees the member back",
              m == {"type": "peer-joined", "peer": b2.peer}, repr(m))
        # the creator reloads: its token replaces its old connection
        a2, m = self.try_join(ctok)
        check("flows: the creator's token joins again while its old "
              "connection is in (a reload): joined, the member listed",
              m.get("type") == "joined" and m.get("peers") == [b2.peer],
              repr(m))
        a2.peer = m.get("peer")
        m = self.next_not_refused(a)
        closed, _, _ = a.wait_closed()
        check("flows: the old creator connection gets error replaced and "
              "is closed", m.get("type") == "error" and
              m.get("error") == "replaced" and closed, repr(m))
        m1, m2 = b2.msg(), b2.msg()
        check("flows: the member sees the old creator leave and the new one "
              "join (role creator)",
              m1 == {"type": "peer-left", "peer": a.peer} and
              m2 == {"type": "peer-joined", "peer": a2.peer,
                     "role": "creator"}, "%r %r" % (m1, m2))
        # the seat in use cannot be taken twice: a second use replaces
        b3, m = self.try_join(seat)
        m_old = b2.msg()
        check("flows: the seat token used again replaces the connection "
              "holding it (no third participant)",
              m.get("type") == "joined" and m_old.get("error") == "replaced",
              "%r / %r" % (m, m_old))
        for w in (a2, b2, b3):
            w.shut()

        # auto_lock off, and the group defaults
        room = self.create_room(body={"max_participants": 2,
                                      "auto_lock": False})
        check("flows: auto_lock false is kept", room.get("auto_lock") is False,
              repr(room))
        r = api(port, "POST", "/v1/rooms", body={"auto_lock": "yes"})
        check("flows: auto_lock not a boolean -> 400",
              r is not None and r.status == 400, describe(r))
        g = self.create_room(body={"max_participants": 4})
        check("flows: a room of four does not lock itself by default",
              g.get("auto_lock") is False, repr(g))
        gid, gtok = g["room"], g["token"]
        multi = self.invite2(gid, gtok)
        check("flows: a group invite is reusable by default",
              multi.get("single_use") is False and
              "use" not in self.claims(multi["token"]), repr(multi))
        once = self.invite2(gid, gtok, {"single_use": True})
        check("flows: single_use true makes a group invite single-use",
              once.get("single_use") is True and
              self.claims(once["token"]).get("use") == "once", repr(once))
        r = api(port, "POST", "/v1/rooms/%s/invites" % gid, token=gtok,
                body={"single_use": 1})
        check("flows: single_use not a boolean -> 400",
              r is not None and r.status == 400, describe(r))

        # display names: kept in the room, checked
        ga = self.joined_ws(gtok)
        bad_names = {
            "empty": "", "spaces only": "   ", "a control character": "A\x07",
            "a newline": "A\nB", "a right-to-left override": "A\u202eB",
            "a zero-width space": "A\u200bB", "65 bytes": "x" * 65,
            "not a string": 7,
        }
        for what, nm in bad_names.items():
            w, m = self.try_join(multi["token"], name=nm)
            w.send({"type": "ping"})
            m2 = w.msg()
            check("flows: a name with %s -> bad_message, not joined, socket "
                  "open" % what, m.get("type") == "error" and
                  m.get("error") == "bad_message" and
                  m2.get("type") == "pong", "%r %r" % (m, m2))
            w.shut()
        m = ga.msg(0.3)
        check("flows: refused names tell the room nothing",
              m.get("type") == "_timeout", repr(m))
        name1 = "Zoë name-canary-5521"
        gb, m = self.try_join(multi["token"], name=name1)
        gb.peer = m.get("peer")
        check("flows: a join with a name (UTF-8, 64 bytes at most) is "
              "joined", m.get("type") == "joined", repr(m))
        m = ga.msg()
        check("flows: peer-joined carries the name",
              m == {"type": "peer-joined", "peer": gb.peer, "name": name1},
              repr(m))
        gb.send({"type": "status", "muted": True})
        m = ga.msg()
        check("flows: status muted is relayed with the sender's id",
              m == {"type": "status", "from": gb.peer, "muted": True}, repr(m))
        gb.send({"type": "status", "speaking": True})
        m = ga.msg()
        check("flows: status speaking is relayed",
              m == {"type": "status", "from": gb.peer, "speaking": True},
              repr(m))
        m = gb.msg(0.3)
        check("flows: the sender gets no echo of its status",
              m.get("type") == "_timeout", repr(m))
        for what, st in (("no field", {}), ("muted not a boolean",
                                           {"muted": "yes"})):
            msg = {"type": "status"}
            msg.update(st)
            gb.send(msg)
            m = gb.msg()
            check("flows: status with %s -> bad_message" % what,
                  m.get("type") == "error" and
                  m.get("error") == "bad_message", repr(m))
        w = WS(port)
        w.send({"type": "status", "muted": True})
        m = w.msg()
        check("flows: status before joining -> not_joined",
              m.get("type") == "error" and m.get("error") == "not_joined",
              repr(m))
        w.shut()
        gc, m = self.try_join(multi["token"])
        gc.peer = m.get("peer")
        parts = {x.get("peer"): x for x in m.get("participants") or []}
        check("flows: a later joiner's participants name everyone with "
              "role, name and muted",
              parts.get(ga.peer) == {"peer": ga.peer, "role": "creator",
                                     "muted": False} and
              parts.get(gb.peer) == {"peer": gb.peer, "role": "member",
                                     "muted": True, "name": name1} and
              len(parts) == 2, repr(m))
        ga.msg()
        gb.msg()
        # removing one person who came with the shared link: only that
        # person goes; the link stops letting anyone new in
        r = api(port, "POST", "/v1/rooms/%s/kick" % gid, token=gtok,
                body={"peer": gc.peer})
        m = gc.msg()
        check("flows: the creator removes one of two who came with the "
              "same link: that one is kicked",
              r is not None and r.status == 200 and
              m.get("error") == "kicked", "%s %r" % (describe(r), m))
        m = gb.msg()
        check("flows: the other who came with that link stays (peer-left "
              "of the removed one only)",
              m == {"type": "peer-left", "peer": gc.peer}, repr(m))
        w, m = self.try_join(multi["token"])
        check("flows: the removed person's link no longer joins "
              "(invalid_token)", m.get("error") == "invalid_token", repr(m))
        w.shut()
        # a full group, and a lock by the creator: seats still return
        m = ga.msg()
        check("flows: the creator sees the removed one leave",
              m == {"type": "peer-left", "peer": gc.peer}, repr(m))
        gb.send({"type": "leave"})
        gb.wait_closed()
        ga.msg()
        r = api(port, "POST", "/v1/rooms/%s/lock" % gid, token=gtok,
                body={"locked": True})
        w, m = self.try_join(once["token"])
        check("flows: a locked group refuses a new invite (room_locked) and "
              "does not spend it", m.get("error") == "room_locked" and
              not api(port, "POST", "/v1/check",
                      token=once["token"]).err() == "invite_used", repr(m))
        w.shut()
        m = self.refused_notice(ga, "room_locked")
        check("flows: the creator of the group is told",
              m.get("type") == "join-refused" and
              m.get("reason") == "room_locked", repr(m))
        # a flood of refusals is one notice a second (what waited from
        # the checks above is read first)
        while ga.msg(1.3).get("type") == "join-refused":
            pass
        ws_list = []
        for _ in range(8):
            w, m = self.try_join(once["token"])
            ws_list.append(w)
        got = []
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            m = ga.msg(max(0.05, deadline - time.monotonic()))
            if m.get("type") == "join-refused":
                got.append(m.get("count"))
        check("flows: 8 refused joins within a second reach the creator as "
              "at most 2 notices whose counts add up to 8",
              1 <= len(got) <= 2 and sum(got) == 8, repr(got))
        for w in ws_list:
            w.shut()
        for w in (ga, gb, gc):
            w.shut()

    # -- WebSocket --

    @group
    def websocket(self):
        port = self.main
        ws = WS(port, origin="http://evil.example")
        check("ws: Origin not in the list -> 403 before the upgrade",
              not ws.ok and ws.resp is not None and ws.resp.status == 403 and
              ws.resp.err() == "forbidden", describe(ws.resp))
        ws.shut()
        ws = WS(port, origin="http://127.0.0.1:%d.evil.example" % port)
        check("ws: an Origin that only starts like an allowed one -> 403",
              not ws.ok and ws.resp is not None and ws.resp.status == 403,
              describe(ws.resp))
        ws.shut()
        ws = WS(port, origin="null")
        check("ws: Origin null -> 403",
              not ws.ok and ws.resp is not None and ws.resp.status == 403,
              describe(ws.resp))
        ws.shut()
        ws = WS(port)
        check("ws: the listed Origin upgrades (101)", ws.ok,
              describe(ws.resp))
        ws.shut()
        ws = WS(port, origin=None)
        check("ws: no Origin with allow_no_origin true upgrades (101)",
              ws.ok, describe(ws.resp))
        ws.shut()
        k2 = self.a.k2only_port
        ws = WS(k2, origin=None)
        check("ws: no Origin with allow_no_origin false -> 403",
              not ws.ok and ws.resp is not None and ws.resp.status == 403 and
              ws.resp.err() == "forbidden", describe(ws.resp))
        ws.shut()
        ws = WS(k2)
        check("ws: allow_no_origin false still upgrades a listed Origin",
              ws.ok, describe(ws.resp))
        ws.shut()
        r = api(port, "GET", "/v1/ws")
        check("ws: GET /v1/ws without an upgrade -> 400",
              r is not None and r.status == 400, describe(r))

        # the upgrade request and the first frame in one write
        room = self.create_room()
        s = connect(port)
        key = base64.b64encode(os.urandom(16)).decode()
        join = json.dumps({"type": "join", "token": room["token"]}).encode()
        mask = os.urandom(4)
        frame = bytes([0x81, 0x80 | 126]) + struct.pack("!H", len(join)) + \
            mask + bytes(b ^ mask[i % 4] for i, b in enumerate(join))
        s.sendall(("GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Version: 13\r\nOrigin: "
                   "http://127.0.0.1:%d\r\n\r\n" % (key, port)).encode() +
                  frame)
        ws = WS.__new__(WS)
        ws.closed, ws.close_code, ws.s = False, None, s
        ws.resp, ws.buf = read_response(s)
        m = ws.msg() if ws.resp is not None and ws.resp.status == 101 else {}
        check("ws: a join sent in the same write as the upgrade request is "
              "read (joined)", m.get("type") == "joined", repr(m))
        ws.client_close()
        s = connect(port)
        s.sendall(("GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Version: 8\r\nOrigin: "
                   "http://127.0.0.1:%d\r\n\r\n" % (key, port)).encode())
        r, _ = read_response(s)
        note(r, "GET /v1/ws version 8")
        check("ws: Sec-WebSocket-Version 8 -> 426 with Sec-WebSocket-Version: "
              "13", r is not None and r.status == 426 and
              r.header("Sec-WebSocket-Version") == "13", describe(r))
        s.close()

        ws = WS(port)
        ws.send({"type": "offer", "to": "0123456789abcdef", "sdp": OFFER})
        m = ws.msg()
        check("ws: first message not a join -> not_joined",
              m.get("type") == "error" and m.get("error") == "not_joined",
              repr(m))
        ws.send_frame(1, "this is not json")
        m = ws.msg()
        check("ws: a text frame that is not JSON -> bad_message, still open",
              m.get("type") == "error" and m.get("error") == "bad_message",
              repr(m))
        ws.send({"type": "frobnicate"})
        m = ws.msg()
        check("ws: an unknown type -> bad_message",
              m.get("type") == "error" and m.get("error") == "bad_message",
              repr(m))
        ws.send({"type": "ping"})
        m = ws.msg()
        check("ws: ping -> pong", m.get("type") == "pong", repr(m))
        ws.send_frame(2, b"\x00\x01binary")
        closed, code, _ = ws.wait_closed()
        check("ws: a binary frame -> closed with 1003",
              closed and code == 1003, "closed=%s code=%s" % (closed, code))
        ws.shut()

        ws = WS(port)
        big = json.dumps({"type": "ping", "pad": "x" * (70 * 1024)})
        sent = ws.send_frame(1, big)
        closed, code, _ = ws.wait_closed()
        check("ws: a 70 KB message -> closed with 1009",
              closed and code == 1009,
              "sent=%s closed=%s code=%s" % (sent, closed, code))
        ws.shut()

        # the same size in fragments: the limit is on the message
        ws = WS(port)
        chunk = "x" * (10 * 1024)
        ws.send_frame(1, '{"type":"ping","pad":"', fin=False)
        for _ in range(7):
            ws.send_frame(0, chunk, fin=False)
        ws.send_frame(0, '"}', fin=True)
        closed, code, _ = ws.wait_closed()
        check("ws: a 70 KB message in fragments -> closed with 1009",
              closed and code == 1009, "closed=%s code=%s" % (closed, code))
        ws.shut()

        # relaying between two joined peers
        room, ctok, a, b = self.pair()
        a.send({"type": "offer", "to": "0123456789abcdef", "sdp": OFFER})
        m = a.msg()
        check("ws: to an unknown peer -> unknown_peer",
              m.get("type") == "error" and m.get("error") == "unknown_peer",
              repr(m))
        a.send({"type": "offer", "to": a.peer, "sdp": OFFER})
        m = a.msg()
        check("ws: to oneself -> unknown_peer",
              m.get("type") == "error" and m.get("error") == "unknown_peer",
              repr(m))
        b.send({"type": "offer", "to": a.peer, "from": "ffffffffffffffff",
                "sdp": OFFER})
        m = a.msg()
        check("ws: a forged from is replaced by the sender's peer id",
              m.get("type") == "offer" and m.get("from") == b.peer, repr(m))
        rel = m.get("sdp", "")
        check("ws: the relayed offer has no host/srflx candidates, the "
              "relay one with raddr 0.0.0.0 rport 0, the same fingerprint",
              "typ host" not in rel and "typ srflx" not in rel and
              "typ relay raddr 0.0.0.0 rport 0" in rel and
              "a=fingerprint:sha-256 " + FP256 in rel and
              "192.0.2.2" not in rel and "198.51.100.7" not in rel,
              rel[:2000])
        a.send({"type": "answer", "to": b.peer, "sdp": ANSWER,
                "from": b.peer})
        m = b.msg()
        check("ws: the answer reaches the offerer, from the answerer",
              m.get("type") == "answer" and m.get("from") == a.peer and
              "a=setup:active" in m.get("sdp", ""), repr(m)[:300])

        for what, bad in (("sha-1-only fingerprint", OFFER_SHA1),
                          ("a=crypto", OFFER_CRYPTO),
                          ("no a=setup", OFFER_NOSETUP)):
            b.send({"type": "offer", "to": a.peer, "sdp": bad})
            m = b.msg()
            check("ws: offer with %s -> sdp_rejected" % what,
                  m.get("type") == "error" and
                  m.get("error") == "sdp_rejected", repr(m))
            # a marker after it: the next thing a sees must be the marker
            b.send({"type": "candidate", "to": a.peer, "candidate": None})
            m = a.msg()
            check("ws: the rejected offer (%s) never reaches the other "
                  "peer" % what,
                  m == {"type": "candidate", "from": b.peer,
                        "candidate": None}, repr(m)[:300])
        b.send({"type": "answer", "to": a.peer, "sdp": OFFER_CRYPTO})
        m = b.msg()
        check("ws: an answer with a=crypto -> sdp_rejected too",
              m.get("type") == "error" and m.get("error") == "sdp_rejected",
              repr(m))

        big_sdp = sdp(OFFER_LINES + ["a=x-pad:" + "p" * 17000])
        b.send({"type": "offer", "to": a.peer, "sdp": big_sdp})
        m = b.msg()
        check("ws: an SDP over max_sdp_bytes (16 KiB) -> sdp_rejected",
              m.get("type") == "error" and m.get("error") == "sdp_rejected",
              repr(m)[:300])
        # a peer id from another room is not reachable
        _, _, x, y = self.pair()
        b.send({"type": "offer", "to": y.peer, "sdp": OFFER})
        m = b.msg()
        check("ws: a peer of another room as to -> unknown_peer",
              m.get("type") == "error" and m.get("error") == "unknown_peer",
              repr(m))
        m = y.msg(0.5)
        check("ws: ... and that peer receives nothing",
              m.get("type") == "_timeout", repr(m)[:300])
        x.client_close()
        y.client_close()

        for what, line in (("host", CAND_HOST), ("srflx", CAND_SRFLX)):
            b.send({"type": "candidate", "to": a.peer,
                    "candidate": {"candidate": line, "sdpMid": "0",
                                  "sdpMLineIndex": 0}})
            b.send({"type": "candidate", "to": a.peer, "candidate": None})
            m = a.msg()
            check("ws: a trickled %s candidate is not relayed" % what,
                  m == {"type": "candidate", "from": b.peer,
                        "candidate": None}, repr(m))
        b.send({"type": "candidate", "to": a.peer, "from": a.peer,
                "candidate": {"candidate": CAND_RELAY, "sdpMid": "0",
                              "sdpMLineIndex": 0, "evil": "x" * 50}})
        m = a.msg()
        cand = m.get("candidate") or {}
        check("ws: a relay candidate is relayed with raddr masked to "
              "0.0.0.0 (and rport 0), from the real sender",
              m.get("type") == "candidate" and m.get("from") == b.peer and
              " typ relay raddr 0.0.0.0 rport 0 " in
              cand.get("candidate", "") + " " and
              "192.0.2.2" not in cand.get("candidate", ""), repr(m))
        check("ws: only known candidate fields ride along",
              set(cand) <= {"candidate", "sdpMid", "sdpMLineIndex",
                            "usernameFragment"} and
              cand.get("sdpMid") == "0" and cand.get("sdpMLineIndex") == 0,
              repr(cand))
        b.send({"type": "candidate", "to": a.peer,
                "candidate": {"candidate": "candidate:garbage"}})
        m = b.msg()
        check("ws: a malformed candidate -> bad_message",
              m.get("type") == "error" and m.get("error") == "bad_message",
              repr(m))
        b.send({"type": "leave"})
        closed, _, _ = b.wait_closed()
        m = a.msg()
        check("ws: leave closes the socket and the other gets peer-left",
              closed and m == {"type": "peer-left", "peer": b.peer},
              "closed=%s %r" % (closed, m))
        a.client_close()
        b.shut()

    @group
    def websockets_interop(self):
        """The same join with python3-websockets: an independent client
        agrees with the raw one above."""
        try:
            import websockets
        except ImportError:
            check("ws: interop with python3-websockets", False,
                  "python3-websockets missing")
            return
        room = self.create_room()
        uri = "ws://127.0.0.1:%d/v1/ws" % self.main

        async def run():
            async with websockets.connect(
                    uri, origin="http://127.0.0.1:%d" % self.main,
                    open_timeout=5, close_timeout=2) as c:
                await c.send(json.dumps({"type": "join",
                                         "token": room["token"]}))
                j = json.loads(await asyncio.wait_for(c.recv(), 5))
                await c.send(json.dumps({"type": "ping"}))
                p = json.loads(await asyncio.wait_for(c.recv(), 5))
                return j, p

        j, p = asyncio.run(run())
        check("ws: python3-websockets joins and gets pong",
              j.get("type") == "joined" and p.get("type") == "pong",
              "%r %r" % (j, p))

    # -- slow clients (run in threads: each waits ~11 s) --

    @group
    def join_timeout(self):
        ws = WS(self.main)
        t0 = time.monotonic()
        closed, code, seen = ws.wait_closed(timeout=20.0)
        took = time.monotonic() - t0
        check("ws: no join within 10 s -> not_joined, then closed",
              closed and any(m.get("error") == "not_joined" for m in seen),
              "closed=%s code=%s after %.1f s, messages %r" %
              (closed, code, took, seen))
        ws.shut()

    @staticmethod
    def answer_or_close(s, timeout):
        """What the server did within timeout: ("response", Resp),
        ("closed", None) or ("nothing", None)."""
        deadline = time.monotonic() + timeout
        buf = b""
        while time.monotonic() < deadline:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                d = b""
            if not d:
                break
            buf += d
            if b"\r\n\r\n" in buf:
                r, _ = read_response(s, buf, timeout=2.0)
                return "response", r
        if buf:
            return "partial", buf
        return ("closed", None) if time.monotonic() < deadline else \
            ("nothing", None)

    @group
    def slowloris(self):
        s = connect(self.main)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        time.sleep(11)
        what, r = self.answer_or_close(s, 8.0)
        if what == "response":
            note(r, "slowloris")
        check("http: half a request, then 11 s of silence -> 408 or closed",
              (what == "response" and r.status == 408) or what == "closed",
              "%s %s" % (what, describe(r) if what == "response" else r))
        s.close()

    @group
    def slow_drip(self):
        """One byte every half second never completes a request: the 10 s
        bound is on the whole request, not on the gap between bytes."""
        s = connect(self.main)
        req = (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Drip: " +
               b"a" * 40 + b"\r\n\r\n")
        stopped = None
        for i in range(len(req) - 4):  # never the end of the head
            try:
                s.sendall(req[i:i + 1])
            except OSError:
                stopped = i
                break
            time.sleep(0.5)
            s.setblocking(False)
            try:
                s.recv(1, socket.MSG_PEEK)
                stopped = i  # data or EOF: the server acted
            except BlockingIOError:
                pass
            except OSError:
                stopped = i
            s.setblocking(True)
            if stopped is not None:
                break
        what, r = self.answer_or_close(s, 5.0)
        if what == "response":
            note(r, "slow drip")
        check("http: a request dripped a byte every 0.5 s is cut off "
              "(408 or closed)", stopped is not None and
              ((what == "response" and r.status == 408) or what == "closed"),
              "stopped after byte %s: %s %s" %
              (stopped, what, describe(r) if what == "response" else r))
        s.close()

    # -- HTTP limits --

    @group
    def http_limits(self):
        port = self.main
        base = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"

        def closed_after(s):
            s.settimeout(3.0)
            try:
                return s.recv(1) == b""
            except OSError:
                return True

        s = connect(port)
        s.sendall((base + "X-Big: " + "a" * 10240 + "\r\n\r\n").encode())
        r, _ = read_response(s)
        note(r, "10 KB header")
        check("http: a 10 KB header -> 431 headers_too_large, connection "
              "closed", r is not None and r.status == 431 and
              r.err() == "headers_too_large" and closed_after(s), describe(r))
        s.close()

        s = connect(port)
        s.sendall((base + "".join("X-H%d: v\r\n" % i for i in range(40)) +
                   "\r\n").encode())
        r, _ = read_response(s)
        note(r, "40 headers")
        check("http: 40 headers -> 431, connection closed",
              r is not None and r.status == 431 and closed_after(s),
              describe(r))
        s.close()

        r = exchange(port, (base + "".join("X-H%d: v\r\n" % i
                                           for i in range(30)) +
                            "\r\n").encode())
        check("http: 31 headers are fine (200)",
              r is not None and r.status == 200, describe(r))

        body = b" " * 16380 + b"{}  "
        r = api(port, "POST", "/v1/credentials", raw_body=body)
        check("http: a body of exactly 16 KiB is not too large (401 for "
              "the missing token)", r is not None and r.status == 401,
              describe(r))
        body = b"{" + b" " * 17000 + b"}"
        r = api(port, "POST", "/v1/rooms", raw_body=body)
        check("http: a body over 16 KiB -> 413 too_large",
              r is not None and r.status == 413 and r.err() == "too_large",
              describe(r))
        # announced but not sent: refused on the Content-Length alone
        s = connect(port)
        s.sendall(b"POST /v1/rooms HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\n"
                  b"Content-Length: 1000000\r\n\r\n")
        r, _ = read_response(s)
        note(r, "Content-Length 1000000")
        check("http: Content-Length 1000000 -> 413 before the body",
              r is not None and r.status == 413 and closed_after(s),
              describe(r))
        s.close()

        r = exchange(port, b"POST /v1/rooms HTTP/1.1\r\nHost: x\r\n"
                     b"Transfer-Encoding: chunked\r\n"
                     b"Content-Type: application/json\r\n\r\n"
                     b"2\r\n{}\r\n0\r\n\r\n")
        note(r, "chunked")
        check("http: a chunked body -> 411",
              r is not None and r.status == 411, describe(r))

        for what, line in (("garbage", b"GARBAGE\r\n\r\n"),
                           ("no version", b"GET /healthz\r\n\r\n"),
                           ("bad method", b"G@T /healthz HTTP/1.1\r\n\r\n"),
                           ("absolute URL",
                            b"GET http://evil.example/healthz HTTP/1.1\r\n"
                            b"Host: evil.example\r\n\r\n"),
                           ("NUL in the target",
                            b"GET /heal\x00thz HTTP/1.1\r\n\r\n")):
            r = exchange(port, line)
            note(r, "malformed request: " + what)
            check("http: malformed request line (%s) -> 400" % what,
                  r is not None and r.status == 400, describe(r))

        for method, path in (("GET", "/nope"), ("POST", "/v1/nope"),
                             ("GET", "/v1/rooms/" + "a" * 32 + "/nope"),
                             ("POST", "/v1/rooms/" + "a" * 32 + "/invites/x"),
                             ("GET", "/../../etc/passwd")):
            r = api(port, method, path)
            check("http: %s %s -> 404 not_found" % (method, path),
                  r is not None and r.status == 404 and
                  r.err() == "not_found", describe(r))

        rid = "b" * 32
        for method, path, allow in (
                ("GET", "/v1/rooms", "POST"),
                ("DELETE", "/v1/rooms", "POST"),
                ("GET", "/v1/credentials", "POST"),
                ("POST", "/v1/ws", "GET"),
                ("GET", "/v1/rooms/%s" % rid, "DELETE"),
                ("POST", "/v1/rooms/%s" % rid, "DELETE"),
                ("GET", "/v1/rooms/%s/invites" % rid, "POST"),
                ("DELETE", "/v1/rooms/%s/lock" % rid, "POST"),
                ("PUT", "/v1/rooms/%s/kick" % rid, "POST"),
                ("POST", "/healthz", "GET"),
                ("DELETE", "/readyz", "GET")):
            r = api(port, method, path)
            check("http: %s %s -> 405 with Allow: %s" % (method, path, allow),
                  r is not None and r.status == 405 and
                  r.err() == "method_not_allowed" and
                  (r.header("Allow") or "").replace(" ", "").split(",")
                  .count(allow) == 1, describe(r) + " Allow=%r" %
                  (r.header("Allow") if r else None))

        # keep-alive: two requests on one connection, then a bad one
        s = connect(port)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        r1, rest = read_response(s)
        r2, rest = read_response(s, rest)
        check("http: two pipelined requests on one connection both answered",
              r1 is not None and r1.status == 200 and r2 is not None and
              r2.status == 200, "%s / %s" % (describe(r1), describe(r2)))
        s.close()

    @group
    def errors_are_json(self):
        bad = []
        with _lock:
            seen = list(_errors_seen)
        for what, r in seen:
            j = r.json()
            ct = (r.header("Content-Type") or "").split(";")[0].strip()
            if not (isinstance(j, dict) and isinstance(j.get("error"), str)
                    and j.get("error") and isinstance(j.get("reason"), str)
                    and ct == "application/json"):
                bad.append("%s -> %s %r" % (what, r.status, r.body[:100]))
        check("http: every error answer (%d seen) is application/json with "
              "error and reason" % len(seen), not bad and len(seen) > 20,
              "; ".join(bad[:10]))

    @group
    def still_alive(self):
        for name, port in (("main", self.main), ("rotated", self.a.rot_port),
                           ("k2only", self.a.k2only_port)):
            r = api(port, "GET", "/healthz")
            check("alive: %s still answers /healthz" % name,
                  r is not None and r.status == 200 and
                  r.json() == {"status": "ok"}, describe(r))
        room = self.create_room()
        r = api(self.main, "POST", "/v1/credentials", token=room["token"])
        check("alive: after all this a new room and credentials still work",
              r is not None and r.status == 200, describe(r))


def wait_ready(ports, timeout=15.0):
    deadline = time.monotonic() + timeout
    for p in ports:
        while True:
            try:
                r = exchange(p, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                             b"Connection: close\r\n\r\n", timeout=2.0)
                if r is not None and r.status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                return "no /healthz answer on port %d" % p
            time.sleep(0.2)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--main-port", type=int, required=True)
    ap.add_argument("--rot-port", type=int, required=True)
    ap.add_argument("--k2only-port", type=int, required=True)
    ap.add_argument("--turn-port", type=int, required=True)
    ap.add_argument("--turn-secret", required=True)
    ap.add_argument("--k1-id", required=True)
    ap.add_argument("--k1-secret", required=True)
    ap.add_argument("--k2-id", required=True)
    ap.add_argument("--k2-secret", required=True)
    ap.add_argument("--rooms-per-min", type=int, required=True)
    ap.add_argument("--joins-per-min", type=int, required=True)
    ap.add_argument("--credential-ttl", type=int, required=True)
    ap.add_argument("--only", help="run only the groups named (comma list)")
    a = ap.parse_args()

    try:
        s = socket.socket()
        s.bind(("127.8.0.1", 0))
        s.close()
    except OSError as e:
        print("SKIP: cannot bind 127.8.0.1 (%s); the per-address checks "
              "need loopback source addresses" % e)
        return 77
    err = wait_ready([a.main_port, a.rot_port, a.k2only_port])
    if err:
        print("FAIL: " + err)
        return 1

    t = T(a)
    slow = [t.join_timeout, t.slowloris, t.slow_drip]
    fast = [t.tokens, t.rotation, t.roles, t.rate_limits, t.lifecycle,
            t.credentials, t.websocket, t.websockets_interop, t.http_limits,
            t.turn_users, t.invite_limit, t.kick_memory, t.call_flows]
    if a.only:
        names = a.only.split(",")
        slow = [g for g in slow if g.__name__ in names]
        fast = [g for g in fast if g.__name__ in names]
    threads = [threading.Thread(target=g, name=g.__name__) for g in slow]
    for th in threads:
        th.start()
    for g in fast:
        g()
    for th in threads:
        th.join(60)
        if th.is_alive():
            check("%s: finished" % th.name, False, "still running after 60 s")
    if not a.only:
        t.errors_are_json()
    t.still_alive()

    failed = [r for r in _results if not r[1]]
    print("\n%d checks, %d passed, %d failed" %
          (len(_results), len(_results) - len(failed), len(failed)))
    for name, _, detail in failed:
        print("  FAILED: %s" % name)
    sys.stdout.flush()
    os._exit(1 if failed else 0)


if __name__ == "__main__":
    sys.exit(main())
