#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Hostile load against sottod: one attacker at a time, at ten times the
limit it aims at, while victims run beside it (perf/attack/README.md).

    attack.py run --sottod PATH --build DIR [--check] [--duration S] [ATTACK...]

`run` expects to be inside the network namespace perf/attack/run.sh makes
(that script is the way in: it creates the namespace, runs this inside it
and removes it). For each attack it starts a fresh sottod, then twice:
victims alone for --duration seconds (BEFORE), and victims with the
attacker for the same time (DURING); it prints one table for both, a
RESULT line per attack, and with --check exits 1 if any limit or victim
assertion failed (without --check it exits 0 once everything ran).

The other subcommands are the pieces `run` starts as processes of their
own, so that no attacker shares an interpreter (and its GIL) with a
victim: victim-relay, victim-sig, victim-health, attacker. Each writes
JSON to --out; victims run until SIGTERM, attackers prepare, touch
--ready, wait for SIGUSR1, attack for --duration and stop.

Only 127.0.0.0/8, ::1 and the namespace's own test prefixes (198.18.0.0/15,
2001:db8::/32) are ever sent to; every loop is bounded in time and count.
"""
import argparse
import asyncio
import base64
import binascii
import hashlib
import hmac
import http.client
import ipaddress
import json
import math
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

# --- the topology (run.sh builds it; README.md draws it) --------------------

SRV4 = "198.18.0.1"             # sottod's TURN listener and relay IP, on lo
SRV6 = "2001:db8:1::1"
TURN_PORT = 3478
GW_ADDR = ("127.0.0.1", 3479)   # gateway media (gw_load wants loopback)
HTTP_ADDR = ("127.0.0.1", 8080)
HTTP6_ADDR = ("::1", 8080)
METRICS_ADDR = ("127.0.0.1", 9641)
PORT_MIN, PORT_MAX = 50000, 50499   # 500 relayed ports: exhaustible
SPOOF4 = "198.18.128.1"         # spoofed IPv4 sources: routed out of atk0
SPOOF6_48 = "2001:db8:48::"     # the /48 of attack 6, routed out of atk0
SINK_IF = "atk0"                # the veth end whose tx counters are the sink
# victims and attackers, each its own address (per-IP limits)
IP_RELAY_A, IP_RELAY_B = "198.18.0.21", "198.18.0.22"
IP_EVEN_VICTIM = "198.18.0.23"
IP_SIG = "127.0.0.21"
IP_HEALTH = "127.0.0.30"
IP_METRICS = "127.0.0.31"
IP_ATK_TURN = "198.18.0.66"     # attacks 1, 2
IP_ATK_ALLOC = "198.18.0.67"    # attack 4's allocations
IP_ATK_HTTP = "127.0.0.66"      # attacks 4 and 7
IP_PEER_SINK = "198.18.0.70"    # attacks 1, 2: the peer (allowed)
IP_EVEN_BASE = 80               # attack 5: 198.18.0.80..87
GW_SPOOF_BASE = "127.88.0.1"    # attack 8b/8c sources
GW_SINK = ("127.0.0.99", 40000)  # attack 8a: the address a forged check names
IP_GW_PEERS = "198.18.0.90"     # attack 8a: the attacker's own two legs

# --- the limits the harness configures, and what each attack aims at --------

SECRET = "attack-harness-secret-0123456789"
REALM = "sotto.atk"
BANDWIDTH = 20000               # turn.limits.bandwidth, B/s per direction
BW_BURST = BANDWIDTH // 5 + 1500  # turn_alloc.c: a fifth of a second + a packet
RPS = 50                        # turn.limits.requests_per_source
RPS_BURST = 2 * RPS             # turn_server.c: burst = twice the rate
POLICE = 2 * RPS                # the dataplane's per-source policer (new)
POLICE_BURST = 50
NET48 = 16                      # rate_limit.h RL_NET48_FACTOR
PER_USER = 4                    # turn.limits.allocations_per_user
ATK_ROOM = 2                    # attack 4's room: max_participants
RESERVATIONS = 16               # turn.limits.reservations (where known)
CONNS_PER_IP = 32               # the HTTP per-IP connection cap (where known)
INVITES_PER_MIN = 10            # invites per room per minute (where known)
ROOMS_PER_MIN = 10              # signaling.rooms_per_ip_per_minute
# Time-based bounds allow this much longer than the attack ran: a limiter
# refills while the packets wait in sockets and rings.
SLACK = 0.5
# What atk_flood sends on one core here (about 160,000/s): a flood asks
# for no more, so that each source still sends 10x its limit.
MAX_FLOOD_PPS = 130000

# Keys the daemon may not know yet (or the baseline never knew): each is
# offered to `sottod --check-config` alone and used only if accepted; the
# first name of a list that is accepted wins. Reported per run.
OPTIONAL_KEYS = [
    ("reservations", "turn.limits", ["reservations"], RESERVATIONS),
    ("conns_per_ip", "http", ["connections_per_ip", "max_connections_per_ip",
                              "conns_per_ip"], CONNS_PER_IP),
    ("invites_per_min", "signaling", ["invites_per_room_per_minute",
                                      "invites_per_minute"], INVITES_PER_MIN),
]

ATTACKS = ["send_flood", "chandata_flood", "spoof_flood", "invites",
           "even_port", "v6_spread", "conn_flood", "gw_forged", "gw_hello",
           "gw_junk"]
ALIASES = {"1": ["send_flood"], "2": ["chandata_flood"], "3": ["spoof_flood"],
           "4": ["invites"], "5": ["even_port"], "6": ["v6_spread"],
           "7": ["conn_flood"], "8": ["gw_forged", "gw_hello", "gw_junk"],
           "all": ATTACKS}


def say(*a):
    print("attack:", *a, file=sys.stderr, flush=True)


def mono():
    return time.monotonic()


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(math.ceil(p / 100.0 * len(v))) - 1))
    return v[k]


# --- STUN / TURN (RFC 8489, RFC 8656) ---------------------------------------

MAGIC = 0x2112A442
FP_XOR = 0x5354554E
BINDING, ALLOCATE, REFRESH, SEND, DATA, CREATE_PERMISSION, CHANNEL_BIND = \
    0x001, 0x003, 0x004, 0x006, 0x007, 0x008, 0x009
C_REQ, C_IND, C_OK, C_ERR = 0x000, 0x010, 0x100, 0x110
A_USERNAME, A_MI, A_ERROR, A_CHANNEL, A_LIFETIME = 0x0006, 0x0008, 0x0009, 0x000C, 0x000D
A_XOR_PEER, A_DATA, A_REALM, A_NONCE, A_XOR_RELAYED = 0x0012, 0x0013, 0x0014, 0x0015, 0x0016
A_EVEN_PORT, A_TRANSPORT, A_XOR_MAPPED, A_RESV_TOKEN = 0x0018, 0x0019, 0x0020, 0x0022
A_PRIORITY, A_USE_CANDIDATE, A_FINGERPRINT = 0x0024, 0x0025, 0x8028
A_ICE_CONTROLLED, A_ICE_CONTROLLING = 0x8029, 0x802A


def mtype(method, cls):
    return (method & 0x000F) | ((method & 0x0070) << 1) | \
        ((method & 0x0F80) << 2) | cls


def split_type(t):
    cls = t & 0x0110
    method = (t & 0x000F) | ((t >> 1) & 0x0070) | ((t >> 2) & 0x0F80)
    return method, cls


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * ((4 - len(v) % 4) % 4)


def stun_build(t, tid, attrs, key=None, fingerprint=False):
    body = b"".join(attrs)
    if key is not None:
        hdr = struct.pack("!HHI", t, len(body) + 24, MAGIC) + tid
        body += attr(A_MI, hmac.new(key, hdr + body, hashlib.sha1).digest())
    if fingerprint:
        hdr = struct.pack("!HHI", t, len(body) + 8, MAGIC) + tid
        crc = (binascii.crc32(hdr + body) ^ FP_XOR) & 0xFFFFFFFF
        body += attr(A_FINGERPRINT, struct.pack("!I", crc))
    return struct.pack("!HHI", t, len(body), MAGIC) + tid + body


def stun_parse(p):
    """(type, tid, {attr: value}) or None."""
    if len(p) < 20 or p[0] > 3:
        return None
    t, n, magic = struct.unpack("!HHI", p[:8])
    if magic != MAGIC or 20 + n > len(p):
        return None
    attrs, off = {}, 20
    while off + 4 <= 20 + n:
        at, al = struct.unpack("!HH", p[off:off + 4])
        attrs.setdefault(at, p[off + 4:off + 4 + al])
        off += 4 + al + (4 - al % 4) % 4
    return t, p[8:20], attrs


def xor_addr(addr, tid):
    ip = ipaddress.ip_address(addr[0])
    port = addr[1] ^ (MAGIC >> 16)
    key = struct.pack("!I", MAGIC) + (tid if ip.version == 6 else b"")
    x = bytes(a ^ b for a, b in zip(ip.packed, key))
    return struct.pack("!BBH", 0, 1 if ip.version == 4 else 2, port) + x


def unxor_addr(v, tid):
    fam, port = v[1], struct.unpack("!H", v[2:4])[0] ^ (MAGIC >> 16)
    key = struct.pack("!I", MAGIC) + tid
    raw = bytes(a ^ b for a, b in zip(v[4:], key))
    return (str(ipaddress.ip_address(raw[:4] if fam == 1 else raw[:16])), port)


def error_code(attrs):
    v = attrs.get(A_ERROR)
    if v is None or len(v) < 4:
        return None
    return (v[2] & 7) * 100 + v[3]


def rest_credentials(user, ttl=3600, secret=SECRET):
    username = "%d:%s" % (int(time.time()) + ttl, user)
    pw = base64.b64encode(hmac.new(secret.encode(), username.encode(),
                                   hashlib.sha1).digest()).decode()
    return username, pw


class Turn:
    """One TURN client on one UDP socket: requests with retransmission and
    the long-term credential dance, a receive thread that hands ChannelData
    and Data indications to on_data(payload, t)."""

    def __init__(self, local_ip, server, username, password, on_data=None):
        fam = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
        self.s = socket.socket(fam, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.s.bind((local_ip, 0))
        self.s.connect(server)
        self.server = server
        self.username, self.password = username, password
        self.realm = self.nonce = self.key = None
        self.on_data = on_data
        self.pending = {}
        self.lock = threading.Lock()
        self.closed = False
        self.rx = threading.Thread(target=self._rx, daemon=True)
        self.rx.start()

    def close(self):
        self.closed = True
        try:
            self.s.close()
        except OSError:
            pass

    def _rx(self):
        while not self.closed:
            try:
                p = self.s.recv(65536)
            except OSError:
                return
            t = mono()
            if not p:
                continue
            if 0x40 <= p[0] <= 0x7F:
                if self.on_data and len(p) >= 4:
                    n = struct.unpack("!H", p[2:4])[0]
                    self.on_data(p[4:4 + n], t)
                continue
            m = stun_parse(p)
            if m is None:
                continue
            t_, tid, attrs = m
            method, cls = split_type(t_)
            if cls == C_IND:
                if method == DATA and self.on_data and A_DATA in attrs:
                    self.on_data(attrs[A_DATA], t)
                continue
            with self.lock:
                w = self.pending.get(tid)
            if w is not None:
                w[1] = (cls, attrs)
                w[0].set()

    def _auth_attrs(self):
        return [attr(A_USERNAME, self.username.encode()),
                attr(A_REALM, self.realm), attr(A_NONCE, self.nonce)]

    def request(self, method, attrs, rtos=(0.5, 1.0, 2.0), auth=True):
        """(cls, attrs, rtt) or (None, None, None) after the last timeout.
        A 401/438 with a new nonce is answered once more at once."""
        t0 = mono()
        for _ in range(3):
            tid = os.urandom(12)
            a = list(attrs)
            key = None
            if auth and self.nonce is not None:
                a += self._auth_attrs()
                key = self.key
            msg = stun_build(mtype(method, C_REQ), tid, a, key)
            ev = [threading.Event(), None]
            with self.lock:
                self.pending[tid] = ev
            got = None
            try:
                for rto in rtos:
                    try:
                        self.s.send(msg)
                    except OSError:
                        pass
                    if ev[0].wait(rto):
                        got = ev[1]
                        break
            finally:
                with self.lock:
                    self.pending.pop(tid, None)
            if got is None:
                return None, None, None
            cls, ra = got
            code = error_code(ra) if cls == C_ERR else None
            if auth and code in (401, 438) and A_NONCE in ra:
                self.realm = ra.get(A_REALM, self.realm)
                self.nonce = ra[A_NONCE]
                self.key = hashlib.md5(("%s:%s:%s" % (
                    self.username, self.realm.decode(), self.password)).encode()).digest()
                continue
            return cls, ra, mono() - t0
        return cls, ra, mono() - t0

    def refresh(self, lifetime):
        cls, ra, rtt = self.request(REFRESH, [attr(A_LIFETIME, struct.pack("!I", lifetime))])
        return cls == C_OK, (error_code(ra) if cls == C_ERR else
                             "timeout" if cls is None else None), rtt

    def permission(self, peer):
        tid = os.urandom(12)
        cls, ra, rtt = self.request(CREATE_PERMISSION, [attr(A_XOR_PEER, xor_addr(peer, tid))])
        return cls == C_OK, rtt

    def channel_bind(self, ch, peer):
        tid = os.urandom(12)
        cls, ra, rtt = self.request(CHANNEL_BIND, [
            attr(A_CHANNEL, struct.pack("!HH", ch, 0)),
            attr(A_XOR_PEER, xor_addr(peer, tid))])
        return cls == C_OK, rtt

    def chandata(self, ch, payload):
        self.s.send(struct.pack("!HH", ch, len(payload)) + payload)

    def send_indication(self, peer, payload):
        tid = os.urandom(12)
        self.s.send(stun_build(mtype(SEND, C_IND), tid, [
            attr(A_XOR_PEER, xor_addr(peer, tid)), attr(A_DATA, payload)]))


def allocate_addr(cl, **kw):
    """Allocate and return (relayed (ip, port), token or None, error)."""
    a = [attr(A_TRANSPORT, b"\x11\0\0\0")]
    if kw.get("even") is not None:
        a.append(attr(A_EVEN_PORT, b"\x80" if kw["even"] else b"\0"))
    if kw.get("lifetime") is not None:
        a.append(attr(A_LIFETIME, struct.pack("!I", kw["lifetime"])))
    cls, ra, _ = cl.request(ALLOCATE, a)
    if cls != C_OK:
        return None, None, (error_code(ra) if cls == C_ERR else "timeout")
    # XOR-RELAYED-ADDRESS is xor'ed with the magic cookie only for IPv4;
    # the IPv6 form needs the tid, which the request kept: these tests
    # relay over IPv4, so the cookie is enough
    v = ra.get(A_XOR_RELAYED)
    relayed = unxor_addr(v, b"\0" * 12) if v is not None and v[1] == 1 else None
    return relayed, ra.get(A_RESV_TOKEN), None


# --- HTTP -------------------------------------------------------------------

def http_call(method, path, body=None, token=None, src=None, addr=HTTP_ADDR,
              timeout=5.0, conn=None):
    """(status, json or None). conn: a kept-alive HTTPConnection to reuse."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection(addr[0], addr[1], timeout=timeout,
                                          source_address=(src, 0) if src else None)
    hdrs = {"Content-Type": "application/json"}
    if token:
        hdrs["Authorization"] = "Bearer " + token
    data = json.dumps(body).encode() if body is not None else None
    try:
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        raw = r.read()
        try:
            j = json.loads(raw) if raw else None
        except ValueError:
            j = None
        return r.status, j
    finally:
        if own:
            conn.close()


def scrape(timeout=2.0):
    """sottod's /metrics as {series: value}, or None."""
    try:
        c = http.client.HTTPConnection(METRICS_ADDR[0], METRICS_ADDR[1], timeout=timeout,
                                       source_address=(IP_METRICS, 0))
        c.request("GET", "/metrics")
        r = c.getresponse()
        text = r.read().decode("utf-8", "replace")
        c.close()
    except (OSError, http.client.HTTPException):
        return None
    out = {}
    for ln in text.splitlines():
        if not ln or ln[0] == "#":
            continue
        k, _, v = ln.rpartition(" ")
        try:
            out[k] = float(v)
        except ValueError:
            pass
    return out


def mdelta(m0, m1, key):
    if not m0 or not m1:
        return None
    return m1.get(key, 0.0) - m0.get(key, 0.0)


def if_stats(name):
    base = "/sys/class/net/%s/statistics/" % name
    try:
        with open(base + "tx_packets") as f:
            p = int(f.read())
        with open(base + "tx_bytes") as f:
            b = int(f.read())
        return p, b
    except OSError:
        return 0, 0


# --- victims ----------------------------------------------------------------

class Stopper:
    """SIGTERM sets it; victims run until then."""

    def __init__(self):
        self.ev = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: self.ev.set())
        signal.signal(signal.SIGINT, lambda *_: self.ev.set())


def touch(path):
    with open(path, "w") as f:
        f.write("%f\n" % mono())


def victim_relay(a):
    """Two TURN clients A and B relaying to each other through channels
    (each one's peer is the other's relayed address), 50 packets/s of 172
    bytes each way; every second a Refresh or a ChannelBind refresh from
    one of them. At the end, a Refresh from each: the allocations must
    still be there."""
    stop = Stopper()
    server = (SRV4, TURN_PORT)
    recv = {"a": {}, "b": {}}
    sent = {"a": [], "b": []}

    def rx(side):
        def f(p, t):
            if len(p) >= 12:
                d, seq = struct.unpack("!II", p[:8])
                recv[side].setdefault(seq, t)
        return f

    ua, pa = rest_credentials("victim-relay-a")
    ub, pb = rest_credentials("victim-relay-b")
    A = Turn(IP_RELAY_A, server, ua, pa, rx("a"))
    B = Turn(IP_RELAY_B, server, ub, pb, rx("b"))
    ra, _, ea = allocate_addr(A)
    rb, _, eb = allocate_addr(B)
    out = {"setup_error": None}
    if ra is None or rb is None:
        out["setup_error"] = "allocate: %s %s" % (ea, eb)
        json.dump(out, open(a.out, "w"))
        return 1
    ok = A.channel_bind(0x4000, rb)[0] and B.channel_bind(0x4000, ra)[0]
    if not ok:
        out["setup_error"] = "channel bind"
        json.dump(out, open(a.out, "w"))
        return 1
    touch(a.ready)
    ctl = []

    def sender(cl, side, d):
        seq, t0 = 0, mono()
        pad = b"\0" * (172 - 16)
        while not stop.ev.is_set():
            due = t0 + seq / 50.0
            w = due - mono()
            if w > 0:
                stop.ev.wait(w)
                continue
            t = mono()
            try:
                cl.chandata(0x4000, struct.pack("!IId", d, seq, t) + pad)
            except OSError:
                pass
            sent[side].append(t)
            seq += 1

    ths = [threading.Thread(target=sender, args=(A, "a", 0)),
           threading.Thread(target=sender, args=(B, "b", 1))]
    for t in ths:
        t.start()
    k = 0
    while not stop.ev.wait(1.0):
        cl, peer = ((A, rb), (B, ra))[k % 2]
        t = mono()
        if (k // 2) % 2 == 0:
            good, err, rtt = cl.refresh(600)
            what = "refresh"
        else:
            good, rtt = cl.channel_bind(0x4000, peer)
            err, what = None if good else "failed", "channel_bind"
        ctl.append([t, what, good, rtt, err])
        k += 1
    for t in ths:
        t.join()
    time.sleep(0.5)     # what is in flight
    alive = []
    for cl in (A, B):
        good, err, _ = cl.refresh(600)
        alive.append(bool(good))
    # B receives what A sent (its peer), A what B sent
    out.update({"sent_a": sent["a"], "sent_b": sent["b"],
                "recv_by_b": sorted(recv["b"].keys()),
                "recv_by_a": sorted(recv["a"].keys()),
                "ctl": ctl, "alive": alive})
    for cl in (A, B):
        cl.refresh(0)
        cl.close()
    with open(a.out, "w") as f:
        json.dump(out, f)
    return 0


def victim_health(a):
    """GET /healthz every 50 ms on a new connection from its own address;
    each poll's latency and outcome (1 s limit)."""
    stop = Stopper()
    polls = []
    touch(a.ready)
    nxt = mono()
    while not stop.ev.is_set():
        w = nxt - mono()
        if w > 0:
            stop.ev.wait(w)
            continue
        nxt += 0.05
        t0 = mono()
        err = None
        try:
            s = socket.create_connection(HTTP_ADDR, timeout=1.0,
                                         source_address=(IP_HEALTH, 0))
            s.settimeout(max(0.001, 1.0 - (mono() - t0)))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: sotto\r\nConnection: close\r\n\r\n")
            buf = b""
            while True:
                left = 1.0 - (mono() - t0)
                if left <= 0:
                    raise socket.timeout()
                s.settimeout(left)
                d = s.recv(4096)
                if not d:
                    break
                buf += d
            s.close()
            if not buf.startswith(b"HTTP/1.1 200"):
                err = "status %r" % buf[:20]
        except (OSError, socket.timeout) as e:
            err = type(e).__name__
        dt = mono() - t0
        if nxt < mono():
            nxt = mono()
        polls.append([t0, dt * 1000.0, err])
    with open(a.out, "w") as f:
        json.dump({"polls": polls}, f)
    return 0


def offer_sdp():
    here = os.path.dirname(os.path.abspath(__file__))
    p = os.path.join(here, "..", "..", "tests", "unit", "fixtures", "sdp",
                     "chromium_audio_offer.sdp")
    with open(p) as f:
        return f.read()


def victim_sig(a):
    """A room with a creator joined and held; every 200 ms a member joins
    from the victim's address, offers to the creator and leaves. join ->
    offer: the member's join sent -> the creator has the offer."""
    import websockets
    stop = Stopper()
    sdp = offer_sdp()
    joins = []

    st, room = http_call("POST", "/v1/rooms", {"max_participants": 8}, src=IP_SIG)
    if st != 201:
        with open(a.out, "w") as f:
            json.dump({"setup_error": "room %s" % st}, f)
        return 1
    st, inv = http_call("POST", "/v1/rooms/%s/invites" % room["room"], {},
                        token=room["token"], src=IP_SIG)
    if st != 201:
        with open(a.out, "w") as f:
            json.dump({"setup_error": "invite %s" % st}, f)
        return 1
    uri = "ws://%s:%d/v1/ws" % HTTP_ADDR

    async def main():
        waiting = {}
        creator = await websockets.connect(uri, local_addr=(IP_SIG, 0),
                                           compression=None, open_timeout=5)
        await creator.send(json.dumps({"type": "join", "token": room["token"]}))
        m = json.loads(await asyncio.wait_for(creator.recv(), 5))
        if m.get("type") != "joined":
            raise RuntimeError("creator: %r" % m)
        creator_id = m["peer"]

        async def creator_rx():
            try:
                async for raw in creator:
                    m = json.loads(raw)
                    if m.get("type") == "offer":
                        fut = waiting.pop(m.get("from"), None)
                        if fut is not None and not fut.done():
                            fut.set_result(mono())
            except websockets.ConnectionClosed:
                pass

        rx_task = asyncio.ensure_future(creator_rx())
        touch(a.ready)

        async def one():
            rec = {"t": mono(), "ms": None, "err": None, "connect_ms": None}
            ws = None
            try:
                t0 = mono()
                ws = await asyncio.wait_for(websockets.connect(
                    uri, local_addr=(IP_SIG, 0), compression=None,
                    open_timeout=5), 5)
                rec["connect_ms"] = (mono() - t0) * 1000
                tj = mono()
                await ws.send(json.dumps({"type": "join", "token": inv["token"]}))
                m = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if m.get("type") != "joined":
                    raise RuntimeError("join: %s" % m.get("error", m.get("type")))
                fut = asyncio.get_event_loop().create_future()
                waiting[m["peer"]] = fut
                await ws.send(json.dumps({"type": "offer", "to": creator_id, "sdp": sdp}))
                t_off = await asyncio.wait_for(fut, 5)
                rec["ms"] = (t_off - tj) * 1000
                await ws.send(json.dumps({"type": "leave"}))
            except Exception as e:      # every failure is a data point
                rec["err"] = "%s: %s" % (type(e).__name__, str(e)[:80])
            finally:
                if ws is not None:
                    try:
                        await asyncio.wait_for(ws.close(), 2)
                    except Exception:
                        pass
            joins.append(rec)

        tasks = []
        nxt = mono()
        while not stop.ev.is_set():
            w = nxt - mono()
            if w > 0:
                await asyncio.sleep(min(w, 0.05))
                continue
            nxt += 0.2
            tasks = [t for t in tasks if not t.done()]
            if len(tasks) >= 25:        # bounded: a stuck server
                joins.append({"t": mono(), "ms": None, "err": "backlog", "connect_ms": None})
                continue
            tasks.append(asyncio.ensure_future(one()))
        if tasks:
            await asyncio.wait(tasks, timeout=6)
        rx_task.cancel()
        await creator.close()

    err = None
    try:
        asyncio.run(main())
    except Exception as e:
        err = "%s: %s" % (type(e).__name__, e)
    with open(a.out, "w") as f:
        json.dump({"joins": joins, "setup_error": err}, f)
    return 0


# --- attackers ----------------------------------------------------------------

class Go:
    """Attackers prepare, touch --ready, wait for SIGUSR1 (at most 120 s)."""

    def __init__(self):
        self.ev = threading.Event()
        signal.signal(signal.SIGUSR1, lambda *_: self.ev.set())

    def wait(self, ready):
        touch(ready)
        if not self.ev.wait(120):
            raise SystemExit("attack: no go within 120 s")


class Sink:
    """A UDP socket that counts what arrives, by first byte (RFC 7983)."""

    def __init__(self, addr):
        fam = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.s = socket.socket(fam, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.s.bind(addr)
        self.s.settimeout(0.2)
        self.c = {"packets": 0, "bytes": 0, "stun": 0, "stun_bytes": 0,
                  "stun_requests": 0, "dtls": 0, "media": 0, "media_bytes": 0,
                  "other": 0, "first": None, "last": None}
        self.on = True
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        c = self.c
        while self.on:
            try:
                p = self.s.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            t = mono()
            c["packets"] += 1
            c["bytes"] += len(p)
            c["first"] = c["first"] or t
            c["last"] = t
            b = p[0] if p else 255
            if b <= 3:
                c["stun"] += 1
                c["stun_bytes"] += len(p)
                if len(p) >= 2 and (struct.unpack("!H", p[:2])[0] & 0x0110) == 0:
                    c["stun_requests"] += 1
            elif 20 <= b <= 63:
                c["dtls"] += 1
                c["media_bytes"] += len(p)
            elif 128 <= b <= 191:
                c["media"] += 1
                c["media_bytes"] += len(p)
            else:
                c["other"] += 1

    def stop(self):
        time.sleep(0.3)
        self.on = False
        self.t.join()
        self.s.close()
        return dict(self.c)


def paced(rate, duration, fn, max_count=None):
    """fn(i) at rate per second for duration s; returns (calls, seconds)."""
    t0 = mono()
    i = 0
    cap = max_count or int(rate * duration) + 1
    while i < cap:
        now = mono()
        if now - t0 >= duration:
            break
        due = t0 + i / rate
        if due > now:
            time.sleep(min(due - now, 0.01))
            continue
        fn(i)
        i += 1
    return i, mono() - t0


def atk_relay_flood(a, kind):
    """Attacks 1 and 2: one client with an allocation, a permission (and a
    channel) to a sink peer it may reach, sending 10x the bandwidth cap as
    Send indications (1) or ChannelData (2); with ChannelData the peer
    also sends 10x the cap back to the relayed address (the other
    direction's bucket). The cap is per allocation and direction
    (turn.limits.bandwidth): what arrives must stay under cap x time +
    burst, each way."""
    go = Go()
    sink = Sink((IP_PEER_SINK, 40000))
    back = {"bytes": 0}

    def on_data(p, t):
        back["bytes"] += len(p)

    u, p = rest_credentials("attacker-bw")
    cl = Turn(IP_ATK_TURN, (SRV4, TURN_PORT), u, p, on_data)
    relayed, _, err = allocate_addr(cl)
    if relayed is None:
        raise SystemExit("attack: allocate failed: %s" % err)
    if kind == "send":
        ok, _ = cl.permission((IP_PEER_SINK, 40000))
    else:
        ok, _ = cl.channel_bind(0x4000, (IP_PEER_SINK, 40000))
    if not ok:
        raise SystemExit("attack: permission/channel refused (turn.peers.allow?)")
    payload = os.urandom(1000)
    rate = 10 * BANDWIDTH / len(payload)     # 200 packets/s = 200 kB/s

    def fire(i):
        if kind == "send":
            cl.send_indication((IP_PEER_SINK, 40000), payload)
        else:
            cl.chandata(0x4000, payload)
            sink.s.sendto(payload, relayed)

    go.wait(a.ready)
    n, secs = paced(rate, a.duration, fire)
    c = sink.stop()
    time.sleep(0.2)
    cl.close()
    bound = BANDWIDTH * (secs + SLACK) + BW_BURST
    res = {"rate": n / secs, "rate_unit": "pkt/s", "sent": n,
           "sent_Bps": n * len(payload) / secs, "seconds": secs,
           "through": c["bytes"], "through_Bps": c["bytes"] / secs,
           "bound": bound, "held": c["bytes"] <= bound,
           "through_text": "%.1f kB/s at the peer" % (c["bytes"] / secs / 1000),
           "bound_text": "<= %.1f kB/s (cap %d kB/s + burst)" % (
               bound / secs / 1000, BANDWIDTH // 1000),
           "sink": c}
    if kind != "send":
        res["to_client"] = back["bytes"]
        res["held"] = res["held"] and back["bytes"] <= bound
        res["through_text"] += ", %.1f kB/s at the client" % (back["bytes"] / secs / 1000)
        res["bound_text"] += " each way"
    return res


def stun_binding_req():
    return stun_build(mtype(BINDING, C_REQ), os.urandom(12), [])


def stun_allocate_unauth():
    return stun_build(mtype(ALLOCATE, C_REQ), os.urandom(12),
                      [attr(A_TRANSPORT, b"\x11\0\0\0")])


def run_flood(a, dst, src, nsrc, rate, payloads, tid=True, step64=False):
    cmd = [os.path.join(a.build, "perf", "attack", "atk_flood"),
           "--dst", dst, "--src", src, "--nsrc", str(nsrc), "--rate", str(rate),
           "--duration", str(a.duration)]
    if step64:
        cmd.append("--src-step64")
    if tid:
        cmd += ["--tid", "8"]
    for p in payloads:
        cmd += ["--payload", p.hex()]
    p0 = if_stats(SINK_IF)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=a.duration + 30)
    time.sleep(0.5)     # answers still on their way
    p1 = if_stats(SINK_IF)
    if r.returncode != 0:
        raise SystemExit("attack: atk_flood failed (%d): %s" % (r.returncode, r.stderr.strip()))
    res = json.loads(r.stdout)
    res["sink_packets"] = p1[0] - p0[0]
    res["sink_bytes"] = p1[1] - p0[1]
    return res


def atk_spoof_flood(a):
    """Attack 3: Binding requests and unauthenticated Allocates from many
    spoofed IPv4 sources, each at 10x turn.limits.requests_per_source. The
    answers go to the spoofed addresses, routed out of atk0: its transmit
    counters are the sink. Each source may get at most its rate limit's
    worth (rate x time + burst)."""
    go = Go()
    per = 10 * RPS
    nsrc = min(a.nsrc or 64, MAX_FLOOD_PPS // per)
    go.wait(a.ready)
    r = run_flood(a, "%s:%d" % (SRV4, TURN_PORT), SPOOF4, nsrc, nsrc * per,
                  [stun_binding_req(), stun_allocate_unauth()])
    secs = r["seconds"]
    bound = nsrc * (RPS * (secs + SLACK) + RPS_BURST)
    return {"rate": r["pps"], "rate_unit": "pkt/s", "sent": r["ok"], "seconds": secs,
            "sources": nsrc, "through": r["sink_packets"], "bound": bound,
            "held": r["sink_packets"] <= bound,
            "through_text": "%d answers (%.0f/s) to %d sources" % (
                r["sink_packets"], r["sink_packets"] / secs, nsrc),
            "bound_text": "<= %d (%d/s per source + burst)" % (bound, RPS),
            "flood": r}


def atk_v6_spread(a):
    """Attack 6: Binding requests from many /64s of one /48, each /64 under
    its own limit, 10x what the /48 may send in all (RL_NET48_FACTOR x the
    per-source rate); then room creation from many /64s of the same /48
    against signaling.rooms_per_ip_per_minute."""
    go = Go()
    n64 = a.nsrc or 256
    total = 10 * NET48 * RPS                 # 8000/s
    # each /64 stays under its own limit: 31/s of 50/s with 256 of them
    n_http = 64
    # the HTTP half: local addresses in the /48 (run.sh adds them to lo)
    srcs = ["2001:db8:48:%x::2" % (0x100 + i) for i in range(n_http)]
    go.wait(a.ready)
    r = run_flood(a, "[%s]:%d" % (SRV6, TURN_PORT), SPOOF6_48 + "1", n64, total,
                  [stun_binding_req()], step64=True)
    secs = r["seconds"]
    bound = NET48 * (RPS * (secs + SLACK) + RPS_BURST)
    # rooms: 10x the /48's minute budget spread over the /64s, one round
    # of requests per second for (at most) the same duration
    want = 10 * NET48 * ROOMS_PER_MIN
    got = tried = errors = 0
    t0 = mono()
    conns = {}
    per_round = max(1, int(want / max(1.0, a.duration)))
    k = 0
    while tried < want and mono() - t0 < a.duration + 5:
        r0 = mono()
        for _ in range(per_round):
            if tried >= want:
                break
            src = srcs[k % n_http]
            k += 1
            tried += 1
            try:
                c = conns.get(src)
                if c is None:
                    c = conns[src] = http.client.HTTPConnection(
                        HTTP6_ADDR[0], HTTP6_ADDR[1], timeout=5, source_address=(src, 0))
                st, _ = http_call("POST", "/v1/rooms", {"max_participants": 2}, conn=c)
                if st == 201:
                    got += 1
            except (OSError, http.client.HTTPException):
                errors += 1
                conns.pop(src, None)
        w = 1.0 - (mono() - r0)
        if w > 0:
            time.sleep(w)
    hsecs = mono() - t0
    for c in conns.values():
        c.close()
    rbound = NET48 * (ROOMS_PER_MIN + ROOMS_PER_MIN * (hsecs + SLACK) / 60.0)
    held = r["sink_packets"] <= bound and got <= rbound
    return {"rate": r["pps"], "rate_unit": "pkt/s", "sent": r["ok"], "seconds": secs,
            "sources": n64, "through": r["sink_packets"], "bound": bound, "held": held,
            "rooms_tried": tried, "rooms_created": got, "rooms_bound": rbound,
            "room_errors": errors,
            "through_text": "%d STUN answers to the /48; %d of %d rooms" % (
                r["sink_packets"], got, tried),
            "bound_text": "<= %d answers (%dx%d/s); <= %d rooms (%dx%d/min)" % (
                bound, NET48, RPS, rbound, NET48, ROOMS_PER_MIN),
            "flood": r}


def atk_invites(a):
    """Attack 4: one creator minting 10x its room's invite budget, then
    TURN credentials from every token it got and as many allocations as
    10x what one room may hold (max_participants x allocations_per_user)."""
    go = Go()
    limit = ATK_ROOM + INVITES_PER_MIN       # the burst: participants + a minute
    st, room = http_call("POST", "/v1/rooms", {"max_participants": ATK_ROOM},
                         src=IP_ATK_HTTP)
    if st != 201:
        raise SystemExit("attack: room: %s" % st)
    go.wait(a.ready)
    t0 = mono()
    c = http.client.HTTPConnection(HTTP_ADDR[0], HTTP_ADDR[1], timeout=5,
                                   source_address=(IP_ATK_HTTP, 0))
    tokens = [room["token"]]
    minted = refused = 0
    want = 10 * limit
    for i in range(want):
        if mono() - t0 > a.duration:
            break
        try:
            st, j = http_call("POST", "/v1/rooms/%s/invites" % room["room"], {},
                              token=room["token"], conn=c)
        except (OSError, http.client.HTTPException):
            c = http.client.HTTPConnection(HTTP_ADDR[0], HTTP_ADDR[1], timeout=5,
                                           source_address=(IP_ATK_HTTP, 0))
            continue
        if st == 201:
            minted += 1
            tokens.append(j["token"])
        else:
            refused += 1
    t_inv = mono() - t0
    # credentials from each token (one TURN user per token at most), and
    # allocations: 10x what the room may hold
    creds = []
    for tok in tokens:
        try:
            st, j = http_call("POST", "/v1/credentials", {}, token=tok, conn=c)
        except (OSError, http.client.HTTPException):
            continue
        if st == 200:
            creds.append((j["username"], j["credential"]))
    c.close()
    users = len(set(u.split(":", 1)[1] for u, _ in creds))
    room_bound = ATK_ROOM * PER_USER
    want_allocs = 10 * room_bound
    allocs = []
    errors = {}
    i = 0
    while len(allocs) + sum(errors.values()) < want_allocs and creds and \
            mono() - t0 < a.duration + 10:
        u, p = creds[i % len(creds)]
        i += 1
        cl = Turn(IP_ATK_ALLOC, (SRV4, TURN_PORT), u, p)
        relayed, _, err = allocate_addr(cl)
        if relayed is not None:
            allocs.append(cl)
        else:
            errors[str(err)] = errors.get(str(err), 0) + 1
            cl.close()
    secs = mono() - t0
    for cl in allocs:
        cl.refresh(0)
        cl.close()
    inv_bound = limit + INVITES_PER_MIN * (t_inv + SLACK) / 60.0
    held = minted <= inv_bound and len(allocs) <= room_bound
    return {"rate": (minted + refused) / max(t_inv, 1e-3), "rate_unit": "invites/s",
            "sent": minted + refused, "seconds": secs,
            "through": minted, "bound": inv_bound, "held": held,
            "invites_minted": minted, "invites_refused": refused,
            "credentials": len(creds), "turn_users": users,
            "allocations": len(allocs), "alloc_bound": room_bound,
            "alloc_errors": errors,
            "through_text": "%d of %d invites; %d TURN users, %d allocations" % (
                minted, minted + refused, users, len(allocs)),
            "bound_text": "<= %d invites; <= %d allocations (%d x %d)" % (
                inv_bound, room_bound, ATK_ROOM, PER_USER)}


def atk_even_port(a):
    """Attack 5: from 8 sources, each its own user, Allocate with EVEN-PORT
    (R bit: reserve the next port) then Refresh 0, over and over, as fast
    as the per-source rate limit lets them. Beside it a victim allocates a
    plain and an EVEN-PORT allocation every 0.5 s (and frees them): all
    must succeed, and the relay range (500 ports) must not run out."""
    go = Go()
    go.wait(a.ready)
    stop = threading.Event()
    stats = {"cycles": 0, "reserved": 0, "refused": {}, "sent": 0}
    lock = threading.Lock()

    def churn(i):
        u, p = rest_credentials("attacker-even-%d" % i)
        cl = Turn("198.18.0.%d" % (IP_EVEN_BASE + i), (SRV4, TURN_PORT), u, p)
        n = 0
        # 10x the reservations the relay keeps for everyone, per source:
        # far more than the per-source rate lets through in --duration
        while not stop.is_set() and n < 10 * (PORT_MAX - PORT_MIN + 1):
            n += 1
            relayed, token, err = allocate_addr(cl, even=True)
            with lock:
                stats["sent"] += 1
                if relayed is None:
                    stats["refused"][str(err)] = stats["refused"].get(str(err), 0) + 1
                    if err == "timeout":
                        continue
                    time.sleep(0.02)
                    continue
                stats["reserved"] += token is not None
            cl.refresh(0)
            with lock:
                stats["sent"] += 1
                stats["cycles"] += 1
        cl.close()

    victim = []

    def victim_loop():
        u, p = rest_credentials("victim-even")
        cl = Turn(IP_EVEN_VICTIM, (SRV4, TURN_PORT), u, p)
        while not stop.is_set():
            t = mono()
            for even in (None, True):
                relayed, token, err = allocate_addr(cl, even=even)
                victim.append([t, "even" if even else "plain", relayed is not None, err])
                if relayed is not None:
                    cl.refresh(0)
            stop.wait(max(0.0, 0.5 - (mono() - t)))
        cl.close()

    ths = [threading.Thread(target=churn, args=(i,)) for i in range(8)]
    ths.append(threading.Thread(target=victim_loop))
    t0 = mono()
    for t in ths:
        t.start()
    time.sleep(a.duration)
    stop.set()
    for t in ths:
        t.join(10)
    secs = mono() - t0
    # relayed ports held at the end: sockets bound in the range
    held_ports = 0
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path) as f:
                for ln in f.readlines()[1:]:
                    port = int(ln.split()[1].rsplit(":", 1)[1], 16)
                    if PORT_MIN <= port <= PORT_MAX:
                        held_ports += 1
        except OSError:
            pass
    vfail = [v for v in victim if not v[2]]
    vtext = ", ".join("%s %d/%d" % (k, sum(1 for v in vfail if v[1] == k),
                                    sum(1 for v in victim if v[1] == k))
                      for k in ("plain", "even"))
    n_ports = PORT_MAX - PORT_MIN + 1
    held = not vfail and held_ports < n_ports
    return {"rate": stats["sent"] / secs, "rate_unit": "req/s", "sent": stats["sent"],
            "seconds": secs, "cycles": stats["cycles"], "reserved": stats["reserved"],
            "refused": stats["refused"], "ports_held_end": held_ports,
            "through": held_ports, "bound": n_ports - 1, "held": held,
            "victim_allocs": len(victim), "victim_failures": len(vfail),
            "victim_errors": sorted(set(str(v[3]) for v in vfail)),
            "through_text": "%d cycles, %d reserved; %d of %d relay ports bound at the end; "
                            "victim allocations failed: %s" % (
                                stats["cycles"], stats["reserved"], held_ports, n_ports, vtext),
            "bound_text": "victim allocs all succeed; range not exhausted"}


def atk_conn_flood(a):
    """Attack 7: from one IP, 10x the per-IP connection cap held open:
    half slow-loris HTTP (a header line every 2 s, never the end), half
    WebSockets upgraded and never joined; a closed one is opened again
    (at most 10x cap new ones a second). Held = established and still
    open 1 s later: what the server kept."""
    import select as sel
    go = Go()
    target = 10 * CONNS_PER_IP
    go.wait(a.ready)
    t0 = mono()
    conns = {}      # fd -> [sock, t_open, kind, last_tick, state]
    opened = refused = 0
    max_held = 0
    samples = []
    ep = sel.epoll()
    next_open_slot = t0

    def open_one():
        nonlocal opened
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((IP_ATK_HTTP, 0))
            s.connect_ex(HTTP_ADDR)
        except OSError:
            s.close()
            return
        kind = "ws" if opened % 2 else "http"
        opened += 1
        conns[s.fileno()] = [s, mono(), kind, mono(), "connecting"]
        ep.register(s.fileno(), sel.EPOLLOUT | sel.EPOLLIN | sel.EPOLLRDHUP)

    def close_one(fd, why):
        nonlocal refused
        c = conns.pop(fd, None)
        if c is None:
            return
        if mono() - c[1] < 1.0:
            refused += 1
        try:
            ep.unregister(fd)
        except OSError:
            pass
        c[0].close()

    while mono() - t0 < a.duration:
        now = mono()
        # open up to the target, at most 10x cap per second
        while len(conns) < target and next_open_slot <= now:
            open_one()
            next_open_slot += 1.0 / target
        if next_open_slot < now - 1.0:
            next_open_slot = now - 1.0
        for fd, ev in ep.poll(0.05):
            c = conns.get(fd)
            if c is None:
                continue
            s = c[0]
            if c[4] == "connecting" and ev & sel.EPOLLOUT:
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    close_one(fd, "connect")
                    continue
                c[4] = "open"
                ep.modify(fd, sel.EPOLLIN | sel.EPOLLRDHUP)
                try:
                    if c[2] == "http":
                        s.send(b"GET /healthz HTTP/1.1\r\nHost: sotto\r\n")
                    else:
                        key = base64.b64encode(os.urandom(16))
                        s.send(b"GET /v1/ws HTTP/1.1\r\nHost: sotto\r\nUpgrade: websocket\r\n"
                               b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                               b"Sec-WebSocket-Key: " + key + b"\r\n\r\n")
                except OSError:
                    close_one(fd, "send")
                continue
            if ev & (sel.EPOLLIN | sel.EPOLLRDHUP | sel.EPOLLHUP | sel.EPOLLERR):
                try:
                    d = s.recv(4096)
                except OSError:
                    d = b""
                if not d:
                    close_one(fd, "closed")
        now = mono()
        # slow-loris: one more header line every 2 s
        for fd, c in list(conns.items()):
            if c[4] == "open" and c[2] == "http" and now - c[3] >= 2.0:
                c[3] = now
                try:
                    c[0].send(b"X-Slow: %d\r\n" % int(now))
                except OSError:
                    close_one(fd, "send")
        held = sum(1 for c in conns.values() if c[4] == "open" and now - c[1] >= 1.0)
        max_held = max(max_held, held)
        samples.append(held)
    secs = mono() - t0
    for fd in list(conns):
        close_one(fd, "end")
    ep.close()
    return {"rate": opened / secs, "rate_unit": "conn/s", "sent": opened, "seconds": secs,
            "through": max_held, "bound": CONNS_PER_IP, "held": max_held <= CONNS_PER_IP,
            "closed_within_1s": refused, "target": target,
            "through_text": "%d held at most (of %d wanted), %d opened" % (max_held, target, opened),
            "bound_text": "<= %d per IP" % CONNS_PER_IP}


def client_hello():
    """A DTLS 1.2 ClientHello record (as tests/peers/gw_dtls_probe.py makes)."""
    suites = [0xC02B, 0xC02C, 0xC02F, 0xC030]
    ext = b""
    groups = struct.pack("!HH", 0x0017, 0x001D)
    ext += struct.pack("!HHH", 0x000A, len(groups) + 2, len(groups)) + groups
    ext += struct.pack("!HHBB", 0x000B, 2, 1, 0)
    sigs = struct.pack("!HHH", 0x0403, 0x0804, 0x0401)
    ext += struct.pack("!HHH", 0x000D, len(sigs) + 2, len(sigs)) + sigs
    prof = struct.pack("!HH", 0x0007, 0x0001)
    body = struct.pack("!H", len(prof)) + prof + b"\0"
    ext += struct.pack("!HH", 0x000E, len(body)) + body
    ext += struct.pack("!HH", 0x0017, 0)
    ext += struct.pack("!HHB", 0xFF01, 1, 0)
    ch = struct.pack("!H", 0xFEFD) + os.urandom(32) + b"\0" + b"\0"
    cs = b"".join(struct.pack("!H", s) for s in suites)
    ch += struct.pack("!H", len(cs)) + cs + b"\x01\x00"
    ch += struct.pack("!H", len(ext)) + ext
    n = len(ch)
    hs = struct.pack("!B", 1) + n.to_bytes(3, "big") + struct.pack("!H", 0)
    hs += (0).to_bytes(3, "big") + n.to_bytes(3, "big") + ch
    rec = struct.pack("!BHH", 22, 0xFEFF, 0) + (0).to_bytes(6, "big")
    return rec + struct.pack("!H", len(hs)) + hs


def atk_gw_flood(a, kind):
    """Attacks 8b/8c: ClientHellos, or junk, to the gateway port from many
    spoofed sources at 10x the per-source exception policer each. What the
    control thread had to look at is in sottod's counters (dtls from
    unknown addresses, malformed checks); each source may hand it at most
    the policer's rate."""
    go = Go()
    per = 10 * POLICE
    nsrc = min(a.nsrc or 64, MAX_FLOOD_PPS // per)
    if kind == "hello":
        payloads = [client_hello()]
    else:
        payloads = [b"\x80" + os.urandom(171),               # SRTP-shaped, no leg
                    b"\xff" + os.urandom(99),                 # no class
                    b"\x00\x01\x00\x00" + os.urandom(96),     # STUN-shaped garbage
                    b"\x16\xfe\xfd" + os.urandom(97)]         # DTLS-shaped garbage
    go.wait(a.ready)
    r = run_flood(a, "%s:%d" % GW_ADDR, GW_SPOOF_BASE, nsrc, nsrc * per, payloads,
                  tid=False)
    secs = r["seconds"]
    return {"rate": r["pps"], "rate_unit": "pkt/s", "sent": r["ok"], "seconds": secs,
            "sources": nsrc, "flood": r}     # through, held: from /metrics (run)


def atk_gw_forged(a):
    """Attack 8a: a participant who holds its own leg's ICE password forges
    valid checks (USE-CANDIDATE) from an address it does not own, ten a
    second; a sink listens there. Nothing but STUN may reach it: no media,
    no DTLS (RFC 7675: the gateway must ask that address first)."""
    import logging
    logging.disable(logging.CRITICAL)
    from aiortc import RTCPeerConnection, RTCConfiguration, MediaStreamTrack
    from av import AudioFrame
    import fractions
    import numpy as np
    import websockets
    import aioice.ice
    # one host candidate: the namespace has dozens of addresses (attack
    # 6's), and an offer with all of them is over max_sdp_bytes
    aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: [IP_GW_PEERS]

    class Tone(MediaStreamTrack):
        kind = "audio"

        def __init__(self):
            super().__init__()
            self.n = 0
            self.start = None

        async def recv(self):
            if self.start is None:
                self.start = mono()
            w = self.start + self.n / 48000.0 - mono()
            if w > 0:
                await asyncio.sleep(w)
            t = (np.arange(960) + self.n) / 48000.0
            pcm = np.round(8000 * np.sin(2 * math.pi * 440 * t)).astype(np.int16)
            f = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
            f.sample_rate = 48000
            f.pts = self.n
            f.time_base = fractions.Fraction(1, 48000)
            self.n += 960
            return f

    go = Go()
    uri = "ws://%s:%d/v1/ws" % HTTP_ADDR
    st, room = http_call("POST", "/v1/rooms", {"max_participants": 2, "mode": "gateway"},
                         src=IP_ATK_HTTP)
    if st != 201:
        raise SystemExit("attack: gateway room: %s %r" % (st, room))
    st, inv = http_call("POST", "/v1/rooms/%s/invites" % room["room"], {},
                        token=room["token"], src=IP_ATK_HTTP)
    res = {}

    async def leg(token, slots_out, frames):
        ws = await websockets.connect(uri, local_addr=(IP_ATK_HTTP, 0), compression=None)
        await ws.send(json.dumps({"type": "join", "token": token}))
        j = json.loads(await ws.recv())
        slots = j.get("slots", 3)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver(Tone(), direction="sendrecv")
        for _ in range(slots - 1):
            pc.addTransceiver("audio", direction="recvonly")

        @pc.on("track")
        def on_track(track):
            async def pull():
                try:
                    while True:
                        await track.recv()
                        frames[0] += 1
                except Exception:
                    pass
            asyncio.ensure_future(pull())

        await pc.setLocalDescription(await pc.createOffer())
        await ws.send(json.dumps({"type": "offer", "to": "gateway",
                                  "sdp": pc.localDescription.sdp}))
        while True:
            m = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if m.get("type") == "answer":
                break
            if m.get("type") == "error":
                raise RuntimeError("offer refused: %r" % m)
        from aiortc import RTCSessionDescription
        await pc.setRemoteDescription(RTCSessionDescription(m["sdp"], "answer"))
        slots_out.append((pc, ws, pc.localDescription.sdp, m["sdp"]))

    def sdp_attr(sdp, name):
        for ln in sdp.splitlines():
            if ln.startswith("a=%s:" % name):
                return ln.split(":", 1)[1].strip()
        return None

    async def main():
        legs = []
        fa, fb = [0], [0]
        await leg(room["token"], legs, fa)          # A: the attacker's leg
        await leg(inv["token"], legs, fb)           # B: its accomplice, speaking
        t0 = mono()
        while fa[0] < 50 and mono() - t0 < 20:      # A hears B
            await asyncio.sleep(0.1)
        if fa[0] < 50:
            raise RuntimeError("the attacker's own leg never got audio")
        pc, ws, local, answer = legs[0]
        my_ufrag, gw_ufrag, gw_pwd = (sdp_attr(local, "ice-ufrag"),
                                      sdp_attr(answer, "ice-ufrag"),
                                      sdp_attr(answer, "ice-pwd"))
        sink = Sink(GW_SINK)
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        await asyncio.get_event_loop().run_in_executor(None, go.wait, a.ready)
        frames_before = fa[0]
        sent = 0
        msg = b""
        t0 = mono()
        while mono() - t0 < a.duration and sent < 10 * int(a.duration + 1):
            tid = os.urandom(12)
            msg = stun_build(mtype(BINDING, C_REQ), tid, [
                attr(A_USERNAME, ("%s:%s" % (gw_ufrag, my_ufrag)).encode()),
                attr(A_PRIORITY, struct.pack("!I", 0x6E7F1EFF)),
                attr(A_ICE_CONTROLLING, os.urandom(8)),
                attr(A_USE_CANDIDATE, b"")], key=gw_pwd.encode(), fingerprint=True)
            udp = struct.pack("!HHHH", GW_SINK[1], GW_ADDR[1], 8 + len(msg), 0) + msg
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                             socket.inet_aton(GW_SINK[0]), socket.inet_aton(GW_ADDR[0]))
            raw.sendto(ip + udp, (GW_ADDR[0], 0))
            sent += 1
            await asyncio.sleep(0.1)
        secs = mono() - t0
        await asyncio.sleep(1.0)        # media that was redirected keeps coming
        c = sink.stop()
        raw.close()
        # STUN is allowed there, never more of it than the checks brought:
        # the answers to them (no larger than each check) and the
        # gateway's own probes (at most 8 per try, one try at a time)
        stun_bound = sent * len(msg) + 8 * 160 * int(math.ceil(secs + 2))
        held = c["media_bytes"] == 0 and c["stun_bytes"] <= stun_bound
        res.update({"rate": sent / secs, "rate_unit": "checks/s", "sent": sent,
                    "seconds": secs, "sink": c, "check_bytes": sent * len(msg),
                    "through": c["media_bytes"], "bound": 0, "stun_bound": stun_bound,
                    "held": held,
                    "attacker_frames_during": fa[0] - frames_before,
                    "through_text": "%d B media/DTLS; %d B STUN (%d answers, %d requests) "
                                    "for %d B of forged checks" % (
                        c["media_bytes"], c["stun_bytes"], c["stun"] - c["stun_requests"],
                        c["stun_requests"], sent * len(msg)),
                    "bound_text": "0 B media/DTLS; STUN <= %d B" % stun_bound})
        for pc, ws, _, _ in legs:
            await pc.close()
            await ws.close()

    asyncio.run(main())
    return res


def attacker(a):
    fn = {"send_flood": lambda: atk_relay_flood(a, "send"),
          "chandata_flood": lambda: atk_relay_flood(a, "chandata"),
          "spoof_flood": lambda: atk_spoof_flood(a),
          "invites": lambda: atk_invites(a),
          "even_port": lambda: atk_even_port(a),
          "v6_spread": lambda: atk_v6_spread(a),
          "conn_flood": lambda: atk_conn_flood(a),
          "gw_forged": lambda: atk_gw_forged(a),
          "gw_hello": lambda: atk_gw_flood(a, "hello"),
          "gw_junk": lambda: atk_gw_flood(a, "junk")}[a.name]
    try:
        res = fn()
    except SystemExit as e:
        res = {"error": str(e)}
    except Exception as e:
        res = {"error": "%s: %s" % (type(e).__name__, e)}
    with open(a.out, "w") as f:
        json.dump(res, f)
    return 0


# --- the run: sottod, phases, the table ---------------------------------------

def yaml_config(extra):
    """sottod's config: the topology above and the limits the attacks aim
    at. extra: {(section, key): value} of the optional keys accepted."""
    lines = [
        "log_level: info",
        "dataplane:",
        "  driver: udp",
        "  workers: 1",
        "turn:",
        "  listen: [\"%s:%d\", \"[%s]:%d\"]" % (SRV4, TURN_PORT, SRV6, TURN_PORT),
        "  relay:",
        "    addresses: [\"%s\", \"%s\"]" % (SRV4, SRV6),
        "    port_min: %d" % PORT_MIN,
        "    port_max: %d" % PORT_MAX,
        "  realm: %s" % REALM,
        "  channel_range: rfc8656",
        "  auth:",
        "    secrets: [\"%s\"]" % SECRET,
        "  limits:",
        "    allocations: 1000",
        "    allocations_per_user: %d" % PER_USER,
        "    permissions_per_allocation: 32",
        "    bandwidth: %d" % BANDWIDTH,
        "    requests_per_source: %d" % RPS,
    ]
    for (sec, key), v in extra.items():
        if sec == "turn.limits":
            lines.append("    %s: %s" % (key, v))
    lines += [
        "  peers:",
        "    allow: [\"%s/32\"]" % IP_PEER_SINK,
        "http:",
        "  listen: [\"%s:%d\", \"[%s]:%d\"]" % (HTTP_ADDR + HTTP6_ADDR),
        "  max_connections: 4000",
    ]
    for (sec, key), v in extra.items():
        if sec == "http":
            lines.append("  %s: %s" % (key, v))
    lines += [
        "signaling:",
        "  allow_no_origin: true",
        "  anonymous_rooms: true",
        "  max_participants: 8",
        "  rooms_per_ip_per_minute: %d" % ROOMS_PER_MIN,
        "  joins_per_ip_per_minute: 1200",
        "  joins_per_second: 200",
    ]
    for (sec, key), v in extra.items():
        if sec == "signaling":
            lines.append("  %s: %s" % (key, v))
    lines += [
        "gateway:",
        "  listen: [\"%s:%d\"]" % GW_ADDR,
        "metrics:",
        "  listen: %s:%d" % METRICS_ADDR,
        "control:",
        "  socket: \"\"",
    ]
    return "\n".join(lines) + "\n"


def check_config(sottod, text, path):
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run([sottod, "--check-config", "-c", path], capture_output=True,
                       text=True, timeout=30)
    return r.returncode == 0, (r.stdout + r.stderr).strip()


def probe_keys(sottod, work):
    """Which optional keys this sottod takes: {name: (section, key)}."""
    found = {}
    for name, sec, keys, val in OPTIONAL_KEYS:
        for k in keys:
            ok, _ = check_config(sottod, yaml_config({(sec, k): val}),
                                 os.path.join(work, "probe.yaml"))
            if ok:
                found[name] = (sec, k, val)
                break
    return found


class Server:
    def __init__(self, ctx, name):
        self.log = os.path.join(ctx.work, "sottod-%s.log" % name)
        self.cfg = os.path.join(ctx.work, "sottod-%s.yaml" % name)
        with open(self.cfg, "w") as f:
            f.write(ctx.config)
        self.logf = open(self.log, "w")
        self.p = subprocess.Popen([ctx.sottod, "-c", self.cfg], stdout=self.logf,
                                  stderr=subprocess.STDOUT)
        t0 = mono()
        while mono() - t0 < 20:
            if self.p.poll() is not None:
                raise RuntimeError("sottod exited (%d) at start; %s" % (self.p.returncode, self.log))
            try:
                st, _ = http_call("GET", "/healthz", src=IP_METRICS, timeout=1)
                if st == 200 and self.stun_ok():
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.2)
        raise RuntimeError("sottod not ready in 20 s; %s" % self.log)

    def stun_ok(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((IP_METRICS, 0))
        s.settimeout(0.5)
        try:
            s.sendto(stun_binding_req(), (SRV4, TURN_PORT))
            return stun_parse(s.recv(2048)) is not None
        except OSError:
            return False
        finally:
            s.close()

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.logf.close()
        return self.p.returncode


def spawn(ctx, args, tag, **kw):
    out = open(os.path.join(ctx.work, tag + ".err"), "w")
    return subprocess.Popen([sys.executable, os.path.abspath(__file__)] + args,
                            stdout=out, stderr=out, **kw), out


def wait_file(path, proc, limit):
    t0 = mono()
    while mono() - t0 < limit:
        if os.path.exists(path):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


GAUGES = ["sotto_exception_ring_depth", "sotto_exception_new_ring_depth",
          "sotto_tcp_connections", "sotto_turn_allocations", "sotto_gateway_legs",
          "sotto_mempool_in_use", "sotto_signaling_open_websockets"]


class GwVictim:
    """gw_load: one gateway room of three legs, all speaking."""

    def __init__(self, ctx, tag, duration):
        self.err_path = os.path.join(ctx.work, tag + "-gw.err")
        self.out_path = os.path.join(ctx.work, tag + "-gw.json")
        self.up_at = None
        cmd = [os.path.join(ctx.build, "perf", "gateway", "gw_load"),
               "--api", "http://%s:%d" % HTTP_ADDR, "--legs", "3", "--room-size", "3",
               "--loud", "3", "--handshake-rate", "0", "--window", "3",
               "--duration", "%g" % duration, "--timeout", "20", "--json"]
        self.outf = open(self.out_path, "w")
        self.p = subprocess.Popen(cmd, stdout=self.outf, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for ln in self.p.stderr:
            self.lines.append(ln.rstrip())
            if " up, " in ln and "settling" in ln:
                self.up_at = mono()

    def finish(self, limit):
        try:
            self.p.wait(limit)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.t.join(2)
        self.outf.close()
        with open(self.err_path, "w") as f:
            f.write("\n".join(self.lines) + "\n")
        return read_json(self.out_path)


def phase(ctx, srv, name, during):
    """Victims alone (during False) or beside the attacker, one window of
    ctx.duration seconds; returns the measurements."""
    tag = "%s-%s" % (name, "during" if during else "before")
    d = ctx.duration
    files = {k: os.path.join(ctx.work, "%s-%s.json" % (tag, k)) for k in
             ("relay", "sig", "health", "atk")}
    ready = {k: os.path.join(ctx.work, "%s-%s.ready" % (tag, k)) for k in files}
    for p in list(files.values()) + list(ready.values()):
        if os.path.exists(p):
            os.unlink(p)
    res = {"phase": "during" if during else "before", "errors": []}
    atk = None
    if during:
        extra = ["--nsrc", str(ctx.nsrc)] if ctx.nsrc else []
        atk, atk_log = spawn(ctx, ["attacker", name, "--out", files["atk"], "--ready",
                                   ready["atk"], "--duration", "%g" % d, "--build",
                                   ctx.build] + extra, tag + "-atk")
        if not wait_file(ready["atk"], atk, 60):
            atk.kill()
            atk.wait()
            res["errors"].append("attacker not ready: %s" % (read_json(files["atk"]) or
                                                             tag + "-atk.err"))
            atk = None
    vic = {}
    for k in ("relay", "sig", "health"):
        vic[k], _ = spawn(ctx, ["victim-" + k, "--out", files[k], "--ready", ready[k]],
                          "%s-%s" % (tag, k))
    gw = GwVictim(ctx, tag, d)
    for k, p in vic.items():
        if not wait_file(ready[k], p, 30):
            res["errors"].append("victim %s not ready (%s)" % (
                k, (read_json(files[k]) or {}).get("setup_error", "see %s-%s.err" % (tag, k))))
    t_wait = mono()
    while gw.up_at is None and mono() - t_wait < 25 and gw.p.poll() is None:
        time.sleep(0.05)
    if gw.up_at is None:
        res["errors"].append("gateway victim: legs not up (%s)" % "; ".join(gw.lines[-3:]))
        t0 = mono()
    else:
        t0 = gw.up_at + 2.0
        while mono() < t0:
            time.sleep(0.01)
    m0 = scrape()
    if atk is not None:
        atk.send_signal(signal.SIGUSR1)
    gmax = {g: 0.0 for g in GAUGES}
    scrape_fail = 0
    t_end = t0 + d
    while mono() < t_end:
        s0 = mono()
        m = scrape(timeout=1.0)
        if m is None:
            scrape_fail += 1
        else:
            for g in GAUGES:
                gmax[g] = max(gmax[g], m.get(g, 0.0))
        time.sleep(max(0.0, min(0.5 - (mono() - s0), t_end - mono())))
    t1 = mono()
    m1 = scrape(timeout=3.0)
    for p in vic.values():
        p.send_signal(signal.SIGTERM)
    gwres = gw.finish(d + 40)
    for k, p in vic.items():
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            res["errors"].append("victim %s hung" % k)
    ares = None
    if atk is not None:
        try:
            atk.wait(max(60, d + 60))
        except subprocess.TimeoutExpired:
            atk.kill()
            atk.wait()
            res["errors"].append("attacker hung")
        ares = read_json(files["atk"])
        if ares is None:
            res["errors"].append("attacker wrote nothing (see %s-atk.err)" % tag)
        elif "error" in ares:
            res["errors"].append("attacker: %s" % ares["error"])
        m2 = scrape(timeout=3.0)
        res["m2"] = m2
    res.update({"t0": t0, "t1": t1, "m0": m0, "m1": m1, "gauge_max": gmax,
                "scrape_failures": scrape_fail, "attacker": ares,
                "sottod_alive": srv.alive()})
    res["relay"] = relay_stats(read_json(files["relay"]), t0, t1)
    res["health"] = health_stats(read_json(files["health"]), t0, t1)
    res["sig"] = sig_stats(read_json(files["sig"]), t0, t1)
    res["gw"] = gw_stats(gwres)
    return res


def relay_stats(j, t0, t1):
    if not j or j.get("setup_error"):
        return {"error": (j or {}).get("setup_error", "no result")}
    lost = total = 0
    for sent, got in ((j["sent_a"], set(j["recv_by_b"])), (j["sent_b"], set(j["recv_by_a"]))):
        for seq, t in enumerate(sent):
            if t0 <= t <= t1:
                total += 1
                lost += seq not in got
    ctl = [c for c in j["ctl"] if t0 - 1 <= c[0] <= t1]
    fails = [c for c in ctl if not c[2]]
    rtts = [c[3] * 1000 for c in ctl if c[2] and c[3] is not None]
    return {"sent": total, "lost": lost, "loss_pct": 100.0 * lost / total if total else None,
            "ctl": len(ctl), "ctl_failures": len(fails), "ctl_p99_ms": pct(rtts, 99),
            "ctl_max_ms": max(rtts) if rtts else None, "alive": all(j["alive"])}


def health_stats(j, t0, t1):
    if not j:
        return {"error": "no result"}
    polls = [p for p in j["polls"] if t0 <= p[0] <= t1]
    ms = [p[1] for p in polls]
    bad = [p for p in polls if p[2] is not None or p[1] > 1000.0]
    return {"polls": len(polls), "failures": len(bad),
            "why": sorted(set(str(p[2]) for p in bad))[:3],
            "p50": pct(ms, 50), "p99": pct(ms, 99), "max": max(ms) if ms else None}


def sig_stats(j, t0, t1):
    if not j:
        return {"error": "no result"}
    if j.get("setup_error") and not j.get("joins"):
        return {"error": j["setup_error"]}
    js = [x for x in j["joins"] if t0 <= x["t"] <= t1]
    ms = [x["ms"] for x in js if x["ms"] is not None]
    bad = [x for x in js if x["err"]]
    return {"joins": len(js), "failures": len(bad),
            "why": sorted(set(x["err"] for x in bad))[:3],
            "p50": pct(ms, 50), "p99": pct(ms, 99), "max": max(ms) if ms else None}


def gw_stats(j):
    if not j:
        return {"error": "no result"}
    exp = 2 * j.get("sent", 0)          # each stream goes to the two others
    rcvd = j.get("received", 0)
    lost = max(0, exp - rcvd)
    return {"legs": j.get("legs"), "up": j.get("up"), "held": j.get("held"),
            "ended": j.get("lost"), "failed": j.get("failed"), "expected": exp,
            "received": rcvd, "lost": lost,
            "loss_pct": 100.0 * lost / exp if exp else None}


def series_delta(m0, m1, prefix):
    out = {}
    if not m0 or not m1:
        return out
    for k, v in m1.items():
        if k.startswith(prefix):
            dv = v - m0.get(k, 0.0)
            if dv:
                out[k[len(prefix):] or k] = dv
    return out


def evidence(name, ph):
    """What sottod's /metrics says about the attack (DURING window)."""
    m0, m1 = ph.get("m0"), ph.get("m2") or ph.get("m1")
    if not m0 or not m1:
        return "metrics: no scrape"
    drops = series_delta(m0, m1, "sotto_dataplane_drops_total")
    rl = series_delta(m0, m1, "sotto_rate_limit_hits_total")
    sig_rl = series_delta(m0, m1, "sotto_signaling_rate_limit_hits_total")
    parts = []
    if drops:
        parts.append("drops " + ", ".join("%s %d" % (k.split('"')[1], v)
                                          for k, v in sorted(drops.items())))
    if rl:
        parts.append("stun rate-limited %d" % sum(rl.values()))
    if sig_rl:
        parts.append("signaling rate-limited " + ", ".join(
            "%s %d" % (k.split('"')[1], v) for k, v in sorted(sig_rl.items())))
    ex = mdelta(m0, m1, "sotto_exception_packets_total")
    exn = mdelta(m0, m1, "sotto_exception_new_packets_total")
    if ex:
        parts.append("to control %d%s" % (ex, " (new work %d)" % exn
                                          if "sotto_exception_new_packets_total" in m1 else ""))
    g = ph["gauge_max"]
    parts.append("max ring depth %d%s" % (
        g["sotto_exception_ring_depth"],
        ", new %d" % g["sotto_exception_new_ring_depth"]
        if "sotto_exception_new_ring_depth" in m1 else " (no new-work ring)"))
    if name == "conn_flood":
        parts.append("tcp connections max %d, refused %d" % (
            g["sotto_tcp_connections"],
            mdelta(m0, m1, "sotto_tcp_connections_refused_total") or 0))
    if name.startswith("gw_"):
        for fam in ("sotto_gateway_ice_checks_total", "sotto_gateway_consent_checks_total"):
            dd = series_delta(m0, m1, fam)
            if dd:
                parts.append("%s %s" % (fam.split("_")[2], ", ".join(
                    "%s %d" % (k.split('"')[1], v) for k, v in sorted(dd.items()))))
        for k in ("sotto_gateway_leg_moves_total", "sotto_gateway_dtls_unknown_source_total"):
            v = mdelta(m0, m1, k)
            if v:
                parts.append("%s %d" % (k[len("sotto_gateway_"):-len("_total")], v))
    if name in ("even_port", "invites"):
        err = series_delta(m0, m1, "sotto_turn_error_responses_total")
        if err:
            parts.append("turn errors " + ", ".join("%s %d" % (k, v) for k, v in sorted(err.items())))
    if ph.get("scrape_failures"):
        parts.append("%d scrapes failed" % ph["scrape_failures"])
    return "; ".join(parts)


def police_bound(nsrc, secs):
    """What nsrc sources may hand the control thread in secs: the
    dataplane's per-source policer (config.c: twice requests_per_source,
    at least 100/s; burst half that, at least 50), SLACK s more for the
    queues, and room for the victims' own new work (their checks and
    handshakes)."""
    return nsrc * (POLICE * (secs + SLACK) + POLICE_BURST) + 300


def to_control(m0, m1):
    """Packets handed to the control thread as new work (or all of them,
    from a sottod that does not tell them apart)."""
    v = mdelta(m0, m1, "sotto_exception_new_packets_total")
    if m1 and "sotto_exception_new_packets_total" in m1:
        return v, "new work"
    return mdelta(m0, m1, "sotto_exception_packets_total"), "all exceptions"


def fill_from_metrics(name, ph):
    """The half of a limit that only sottod's counters show: what the
    spoofed floods got handed to the control thread."""
    a = ph.get("attacker")
    if not a or "error" in a or name not in ("spoof_flood", "gw_hello", "gw_junk"):
        return
    m0, m1 = ph.get("m0"), ph.get("m2") or ph.get("m1")
    if not m0 or not m1:
        a["held"] = False
        a["through_text"] = (a.get("through_text", "") + "; no /metrics").lstrip("; ")
        return
    n, what = to_control(m0, m1)
    pb = police_bound(a["sources"], a["seconds"])
    a["to_control"], a["police_bound"] = n, pb
    if name == "spoof_flood":
        a["held"] = a["held"] and n <= pb
        a["through_text"] += "; %d to the control thread (%s)" % (n, what)
        a["bound_text"] += "; <= %d to control (%d/s per source + burst)" % (pb, POLICE)
        return
    if name == "gw_hello":
        seen = mdelta(m0, m1, "sotto_gateway_dtls_unknown_source_total") or 0
        kind = "ClientHellos"
    else:
        seen = (mdelta(m0, m1, 'sotto_gateway_ice_checks_total{result="malformed"}') or 0) + \
            (mdelta(m0, m1, "sotto_gateway_dtls_unknown_source_total") or 0)
        kind = "junk datagrams"
    a["through"], a["bound"] = n, pb
    a["held"] = n <= pb
    a["through_text"] = "%d of %d %s to the control thread (%s; %d looked at by the gateway)" % (
        n, a["sent"], kind, what, seen)
    a["bound_text"] = "<= %d (%d/s per source + burst)" % (pb, POLICE)


def verdict(name, before, during):
    """(pass, [why it failed])."""
    why = []
    a = during.get("attacker")
    if during["errors"]:
        why += during["errors"]
    if not during["sottod_alive"]:
        why.append("sottod exited during the attack")
    if a and "held" in a and not a["held"]:
        why.append("limit not held: %s (want %s)" % (a["through_text"], a["bound_text"]))
    r = during["relay"]
    if "error" in r:
        why.append("relay victim: %s" % r["error"])
    else:
        if r["loss_pct"] is None or r["loss_pct"] >= 0.1:
            why.append("relay victim lost %s of %d packets" % (r["lost"], r["sent"]))
        if r["ctl_failures"]:
            why.append("relay victim: %d Refresh/ChannelBind unanswered" % r["ctl_failures"])
        if not r["alive"]:
            why.append("relay victim's allocation ended")
    g = during["gw"]
    if "error" in g:
        why.append("gateway victim: %s" % g["error"])
    else:
        if g["loss_pct"] is None or g["loss_pct"] >= 0.1:
            why.append("gateway victim lost %d of %d packets" % (g["lost"], g["expected"]))
        if g["ended"] or g["held"] != 3:
            why.append("gateway victim: %s of 3 legs held, %s ended" % (g["held"], g["ended"]))
    h = during["health"]
    if "error" in h or h["failures"] or not h["polls"]:
        why.append("/healthz: %s" % (h.get("error") or "%d of %d polls failed or took > 1 s %s" %
                                     (h["failures"], h["polls"], h["why"])))
    s = during["sig"]
    if "error" in s:
        why.append("join victim: %s" % s["error"])
    elif s["failures"] or not s["joins"]:
        why.append("join victim: %d of %d joins failed %s" % (s["failures"], s["joins"], s["why"]))
    return not why, why


def fmt(v, unit="", nd=1):
    if v is None:
        return "-"
    return ("%%.%df%%s" % nd) % (v, unit)


def goal(before, during):
    """The issue's goal for /healthz during an attack: p99 <= 50 ms and
    <= twice its idle (BEFORE) p99. Reported, not asserted."""
    h0, h1 = (before or {}).get("health", {}), during["health"]
    if "error" in h1 or h1.get("p99") is None:
        return "-"
    miss = []
    if h1["p99"] > 50.0:
        miss.append(">50ms")
    if h0 and h0.get("p99") and h1["p99"] > 2 * h0["p99"]:
        miss.append(">2x_idle")
    return "yes" if not miss else "no(%s)" % ",".join(miss)


def report(ctx, results):
    """The table (markdown), detail lines and RESULT lines."""
    print()
    print("sottod: %s" % ctx.sottod)
    print("optional keys: %s" % (", ".join("%s.%s=%s" % v for v in ctx.keys.values())
                                 or "none accepted"))
    print("window: %g s per phase%s" % (ctx.duration, "" if ctx.check else
                                         ", BEFORE = victims alone, DURING = with the attacker"))
    print()
    print("| attack | attacker | got through | bound | held | relay loss % B/D | "
          "gw loss % B/D | /healthz p50/p99/max ms B → D | join→offer p99 ms B → D | "
          "hz goal | verdict |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, before, during, ok, why in results:
        a = during.get("attacker") or {}
        b = before or {}

        def loss(ph, k):
            return fmt((ph.get(k) or {}).get("loss_pct"), "", 2) if ph else "-"

        def hz(ph):
            h = (ph or {}).get("health") or {}
            return "%s/%s/%s" % (fmt(h.get("p50")), fmt(h.get("p99")), fmt(h.get("max"))) \
                if h.get("polls") else "-"

        def jo(ph):
            return fmt(((ph or {}).get("sig") or {}).get("p99"))

        rate = "%.0f %s" % (a["rate"], a.get("rate_unit", "")) if "rate" in a else "-"
        print("| %s | %s | %s | %s | %s | %s / %s | %s / %s | %s → %s | %s → %s | %s | %s |" % (
            name, rate, a.get("through_text", a.get("error", "-")), a.get("bound_text", "-"),
            {True: "yes", False: "**no**"}.get(a.get("held"), "-"),
            loss(b, "relay"), loss(during, "relay"), loss(b, "gw"), loss(during, "gw"),
            hz(b), hz(during), jo(b), jo(during), goal(before, during),
            "PASS" if ok else "**FAIL**"))
    print()
    for name, before, during, ok, why in results:
        print("%s: %s" % (name, evidence(name, during)))
        r = during["relay"]
        if "error" not in r:
            print("  relay victim: %d packets, %d lost; Refresh/ChannelBind p99 %s ms, max %s ms, %d failed" % (
                r["sent"], r["lost"], fmt(r["ctl_p99_ms"]), fmt(r["ctl_max_ms"]), r["ctl_failures"]))
        for w in why:
            print("  FAIL: %s" % w)
    print()
    for name, before, during, ok, why in results:
        a = during.get("attacker") or {}
        h0, h1 = (before or {}).get("health", {}), during["health"]
        s0, s1 = (before or {}).get("sig", {}), during["sig"]
        kv = [("attack", name), ("sottod", ctx.sottod),
              ("atk_rate", "%.0f" % a.get("rate", 0)), ("atk_unit", a.get("rate_unit", "-").replace(" ", "_")),
              ("through", "%g" % a.get("through", -1)), ("bound", "%g" % a.get("bound", -1)),
              ("held", int(bool(a.get("held"))))]
        for tag, ph in (("before", before), ("during", during)):
            if not ph:
                continue
            kv += [("relay_loss_pct_" + tag, fmt(ph["relay"].get("loss_pct"), "", 3)),
                   ("gw_loss_pct_" + tag, fmt(ph["gw"].get("loss_pct"), "", 3)),
                   ("hz_p50_ms_" + tag, fmt(ph["health"].get("p50"), "", 2)),
                   ("hz_p99_ms_" + tag, fmt(ph["health"].get("p99"), "", 2)),
                   ("hz_max_ms_" + tag, fmt(ph["health"].get("max"), "", 2)),
                   ("join_offer_p99_ms_" + tag, fmt(ph["sig"].get("p99"), "", 2))]
        kv += [("goal_hz", goal(before, during)), ("pass", int(ok))]
        print("RESULT " + " ".join("%s=%s" % (k, v) for k, v in kv))
    sys.stdout.flush()


def run(a):
    ctx = a
    ctx.sottod = os.path.abspath(a.sottod)
    ctx.build = os.path.abspath(a.build)
    for tool in (os.path.join(ctx.build, "perf", "attack", "atk_flood"),
                 os.path.join(ctx.build, "perf", "gateway", "gw_load")):
        if not os.access(tool, os.X_OK):
            say("SKIP: %s not built (meson -Dperf=true)" % tool)
            return 77
    names = []
    for n in a.attacks or ["all"]:
        if n in ALIASES:
            names += [x for x in ALIASES[n] if x not in names]
        elif n in ATTACKS:
            if n not in names:
                names.append(n)
        else:
            say("unknown attack %r (%s)" % (n, ", ".join(ATTACKS)))
            return 2
    ctx.work = a.work or os.path.join("/tmp", "sotto-attack-%d" % os.getpid())
    os.makedirs(ctx.work, exist_ok=True)
    ctx.keys = probe_keys(ctx.sottod, ctx.work)
    extra = {(sec, key): val for sec, key, val in ctx.keys.values()}
    ctx.config = yaml_config(extra)
    ok, msg = check_config(ctx.sottod, ctx.config, os.path.join(ctx.work, "check.yaml"))
    if not ok:
        say("the generated config is refused: %s" % msg)
        return 1
    say("sottod %s; optional keys accepted: %s; work dir %s" % (
        ctx.sottod, ", ".join(sorted(ctx.keys)) or "none", ctx.work))
    results = []
    t_all = mono()
    for name in names:
        say("--- %s" % name)
        try:
            srv = Server(ctx, name)
        except RuntimeError as e:
            say("FAIL: %s" % e)
            results.append((name, None, {"errors": [str(e)], "sottod_alive": False,
                                         "relay": {"error": "-"}, "gw": {"error": "-"},
                                         "health": {"error": "-"}, "sig": {"error": "-"},
                                         "gauge_max": {g: 0 for g in GAUGES}},
                            False, [str(e)]))
            continue
        before = None
        try:
            if not ctx.check:
                before = phase(ctx, srv, name, False)
            during = phase(ctx, srv, name, True)
            fill_from_metrics(name, during)
        finally:
            rc = srv.stop()
        ok, why = verdict(name, before, during)
        if rc not in (0, None):
            ok = False
            why.append("sottod exit status %d after SIGTERM (%s)" % (rc, srv.log))
        results.append((name, before, during, ok, why))
        say("%s: %s%s" % (name, "PASS" if ok else "FAIL", "" if ok else ": " + "; ".join(why)))
    report(ctx, results)
    say("%d attacks in %.0f s" % (len(names), mono() - t_all))
    failed = [r[0] for r in results if not r[3]]
    if a.keep or failed:
        say("logs in %s" % ctx.work)
    else:
        subprocess.run(["rm", "-rf", ctx.work])
    if failed:
        say("FAILED: %s" % " ".join(failed))
    return 1 if (failed and ctx.check) else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--sottod", required=True)
    r.add_argument("--build", required=True, help="meson build dir (atk_flood, gw_load)")
    r.add_argument("--duration", type=float, default=10.0)
    r.add_argument("--nsrc", type=int, default=0, help="spoofed sources (default per attack)")
    r.add_argument("--check", action="store_true", help="pass/fail: DURING only, exit 1 on a failure")
    r.add_argument("--work", help="scratch directory (default /tmp/sotto-attack-PID)")
    r.add_argument("--keep", action="store_true", help="keep the scratch directory")
    r.add_argument("attacks", nargs="*", help="names or 1..8 or all")
    for v in ("victim-relay", "victim-sig", "victim-health"):
        s = sub.add_parser(v)
        s.add_argument("--out", required=True)
        s.add_argument("--ready", required=True)
    s = sub.add_parser("attacker")
    s.add_argument("name", choices=ATTACKS)
    s.add_argument("--out", required=True)
    s.add_argument("--ready", required=True)
    s.add_argument("--duration", type=float, required=True)
    s.add_argument("--build", required=True)
    s.add_argument("--nsrc", type=int, default=0)
    a = p.parse_args()
    if a.cmd == "run":
        a.duration = max(1.0, min(a.duration, 120.0))
        return run(a)
    if a.cmd == "attacker":
        a.duration = max(1.0, min(a.duration, 120.0))
        return attacker(a)
    return {"victim-relay": victim_relay, "victim-sig": victim_sig,
            "victim-health": victim_health}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
