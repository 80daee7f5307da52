#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
Per-source and per-room limits attacked at ten times their value, and the
metrics every refusal is counted in, run by
tests/integration/signaling_limits.sh against two sottod it started:

  plain  HTTP on 127.0.0.1: http.max_connections_per_ip CAP, small
         rooms/joins-per-IP and invites-per-room limits
  tls    HTTPS on 127.0.0.1: http.tls_handshakes_per_ip_per_second RATE

and reads the plain one's memory (/proc/PID/mem) for tokens and
credentials that passed through it.

Each source address is a loopback address of its own (127.9.x.y); Linux
routes all of 127.0.0.0/8 on lo. The IPv6 /64 and /48 keys of the same
limits are tested in tests/unit/test_rate_limit.c (loopback has only ::1).
The requests and WebSockets themselves are test_api.py's.

Each check prints PASS or FAIL; the exit status is 0 when all passed.
"""

import argparse
import os
import socket
import ssl
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_api as ta  # noqa: E402  (helpers: api, check, describe)

_ip_n = 0


def fresh_ip():
    """A loopback source address of its own, apart from test_api's."""
    global _ip_n
    _ip_n += 1
    return "127.9.%d.%d" % (_ip_n // 250, _ip_n % 250 + 1)


def scrape(port):
    """The metrics of the sottod whose metrics listen on port, as
    {series: value}."""
    r = ta.exchange(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
                    b"Connection: close\r\n\r\n", src=fresh_ip())
    if r is None or r.status != 200:
        raise RuntimeError("no metrics on %d: %s" % (port, ta.describe(r)))
    out = {}
    for ln in r.body.decode().splitlines():
        if ln and not ln.startswith("#"):
            name, _, v = ln.rpartition(" ")
            out[name] = float(v)
    return out


def delta(before, after, series):
    if series not in after:
        return None
    return after[series] - before.get(series, 0)


def connect(port, src):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5.0)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def is_closed(s, wait):
    """Has the server closed s (EOF or reset) within wait seconds?"""
    s.settimeout(wait)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


REFUSED = 'sotto_tcp_connections_refused_per_source_total{limit="%s"}'
SIG_LIMIT = 'sotto_signaling_rate_limit_hits_total{limit="%s"}'


@ta.group
def conn_cap(a):
    port, cap = a.plain_port, a.cap
    before = scrape(a.plain_metrics)
    ip = fresh_ip()
    socks = [connect(port, ip) for _ in range(10 * cap)]
    # the refused ones are closed as soon as accepted: give the server a
    # moment, then an idle connection that is still open was kept
    time.sleep(0.5)
    closed = [is_closed(s, 0.2) for s in socks]
    kept = closed.count(False)
    ta.check("conns: %d connections from one address -> %d kept (the "
             "cap), the rest closed at once" % (10 * cap, cap),
             kept == cap, "kept %d" % kept)
    r = ta.api(port, "GET", "/healthz", src=fresh_ip())
    ta.check("conns: another address still gets in (200)",
             r is not None and r.status == 200, ta.describe(r))
    r = ta.api(port, "GET", "/healthz", src=ip)
    ta.check("conns: the address at its cap gets no answer",
             r is None, ta.describe(r))
    after = scrape(a.plain_metrics)
    d = delta(before, after, REFUSED % "connections_per_ip")
    ta.check("conns: every refusal is counted in %s"
             % (REFUSED % "connections_per_ip"),
             d == 10 * cap - kept + 1, "delta %r, want %d"
             % (d, 10 * cap - kept + 1))
    d2 = delta(before, after, "sotto_tcp_connections_refused_total")
    ta.check("conns: ... and in sotto_tcp_connections_refused_total",
             d2 is not None and d is not None and d2 >= d, "delta %r" % d2)
    for s in socks:
        s.close()
    # the places come back when the connections close
    ok = False
    for _ in range(30):
        r = ta.api(port, "GET", "/healthz", src=ip)
        if r is not None and r.status == 200:
            ok = True
            break
        time.sleep(0.1)
    ta.check("conns: once they close, the address gets in again", ok)


@ta.group
def tls_rate(a):
    port, rate = a.tls_port, a.rate
    ctx = ssl.create_default_context(cafile=a.ca)
    before = scrape(a.tls_metrics)

    def hello(src):
        s = connect(port, src)
        try:
            t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
            t.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: close\r\n\r\n")
            ok = t.recv(64).startswith(b"HTTP/1.1 200")
            t.close()
            return ok
        except (ssl.SSLError, OSError):
            s.close()
            return False

    ip = fresh_ip()
    t0 = time.monotonic()
    got = [hello(ip) for _ in range(10 * rate)]
    elapsed = time.monotonic() - t0
    ok, refused = got.count(True), got.count(False)
    most = rate + int(rate * elapsed) + 1
    ta.check("tls: %d handshakes at once from one address -> the burst "
             "(%d) and the refill, no more (at most %d in %.2f s)"
             % (10 * rate, rate, most, elapsed),
             rate <= ok <= most, "%d handshakes done" % ok)
    ta.check("tls: another address still gets a handshake at once",
             hello(fresh_ip()))
    after = scrape(a.tls_metrics)
    d = delta(before, after, REFUSED % "tls_handshakes_per_ip")
    ta.check("tls: every refusal is counted in %s"
             % (REFUSED % "tls_handshakes_per_ip"),
             d == refused, "delta %r, want %d" % (d, refused))


@ta.group
def signaling_counters(a):
    """The signaling limits' refusals, each in its own label of
    sotto_signaling_rate_limit_hits_total."""
    port = a.plain_port
    before = scrape(a.plain_metrics)
    # rooms per address
    ip = fresh_ip()
    codes = [ta.api(port, "POST", "/v1/rooms", src=ip) for _ in
             range(10 * a.rooms_per_min)]
    rooms_refused = sum(1 for r in codes if r is not None and r.status == 429)
    # invites per room: max_participants 2 + the rate at once
    room = ta.api(port, "POST", "/v1/rooms", src=fresh_ip()).json()
    codes = [ta.api(port, "POST", "/v1/rooms/%s/invites" % room["room"],
                    token=room["token"], src=fresh_ip())
             for _ in range(10 * (2 + a.invites_per_min))]
    inv_refused = sum(1 for r in codes if r is not None and r.status == 429)
    ta.check("counters: invites at ten times the room's budget are refused",
             inv_refused >= 9 * (2 + a.invites_per_min) - 1,
             "%d refused" % inv_refused)
    # credentials per address: twice joins_per_ip_per_minute
    ip = fresh_ip()
    codes = [ta.api(port, "POST", "/v1/credentials", token=room["token"],
                    src=ip) for _ in range(10 * 2 * a.joins_per_min)]
    cred_refused = sum(1 for r in codes if r is not None and r.status == 429)
    ta.check("counters: credentials at ten times the per-address rate are "
             "refused", cred_refused >= 9 * 2 * a.joins_per_min - 1,
             "%d refused" % cred_refused)
    after = scrape(a.plain_metrics)
    for label, n in (("room_create_per_ip", rooms_refused),
                     ("invites_per_room", inv_refused),
                     ("credentials_per_ip", cred_refused)):
        d = delta(before, after, SIG_LIMIT % label)
        ta.check("counters: %s grew by the %d refusals" % (SIG_LIMIT % label,
                                                           n),
                 d == n, "delta %r" % d)


def readable_regions(pid):
    """(start, end) of every writable private mapping of pid: the heap,
    the stacks, anonymous memory — where freed buffers live."""
    out = []
    with open("/proc/%d/maps" % pid) as f:
        for ln in f:
            parts = ln.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if parts[1].startswith("rw") and parts[1][3] == "p":
                out.append((lo, hi))
    return out


def memory_holds(pid, needles):
    """Which of needles (bytes) occur anywhere in pid's writable memory."""
    found = set()
    with open("/proc/%d/mem" % pid, "rb", buffering=0) as mem:
        for lo, hi in readable_regions(pid):
            off = lo
            while off < hi:
                n = min(hi - off, 16 << 20)
                try:
                    mem.seek(off)
                    chunk = mem.read(n + 256 if off + n < hi else n)
                except OSError:
                    break
                for x in needles:
                    if x in chunk:
                        found.add(x)
                off += n
    return found


@ta.group
def wiped(a):
    """Bearer tokens, JSON bodies and TURN credentials are wiped before
    their buffers are freed or reused: once the requests are answered and
    their connections closed, none is left anywhere in sottod's memory."""
    port, pid = a.plain_port, a.plain_pid
    try:
        open("/proc/%d/mem" % pid, "rb").close()
        with open("/proc/%d/maps" % pid) as f:
            asan = "libasan" in f.read()
    except OSError as e:
        print("SKIP (not counted): wiped: cannot read /proc/%d/mem (%s); "
              "Yama's ptrace_scope or another user" % (pid, e), flush=True)
        return
    if asan:
        # its heap lives in terabytes of reserved shadow and allocator
        # space, and its quarantine holds freed blocks on purpose
        print("SKIP (not counted): wiped: an ASan build's memory is not "
              "scanned", flush=True)
        return
    marker = "wipe-" + os.urandom(20).hex()
    body_marker = "body-" + os.urandom(20).hex()
    room = ta.api(port, "POST", "/v1/rooms", src=fresh_ip()).json()
    ctok = room["token"]
    secrets_seen = {ctok}
    for i in range(20):
        # a bearer nobody issued (refused), one that works, a JSON body
        ta.api(port, "POST", "/v1/credentials", token=marker, src=fresh_ip())
        r = ta.api(port, "POST", "/v1/credentials", token=ctok,
                   src=fresh_ip())
        if r is not None and r.status == 200:
            secrets_seen.add(r.json()["credential"])
        if i < 2:
            r = ta.api(port, "POST", "/v1/rooms/%s/invites" % room["room"],
                       token=ctok, body={"ttl": 3600, "x": body_marker},
                       src=fresh_ip())
            if r is not None and r.status == 201:
                secrets_seen.add(r.json()["token"])
    # keep-alive: one connection, several requests, then closed
    s = connect(port, fresh_ip())
    for _ in range(3):
        s.sendall(("POST /v1/credentials HTTP/1.1\r\nHost: x\r\n"
                   "Authorization: Bearer %s\r\nContent-Length: 0\r\n\r\n"
                   % ctok).encode())
        ta.read_response(s)
    s.close()
    time.sleep(1.5)  # the server frees closed connections on its tick
    needles = {marker.encode(): "a refused bearer token",
               body_marker.encode(): "a JSON request body"}
    for x in secrets_seen:
        needles[x.encode()] = "a room token or TURN credential"
    found = memory_holds(pid, list(needles))
    ta.check("wiped: none of %d bearer tokens, request bodies, room tokens "
             "and TURN credentials is left in sottod's memory" % len(needles),
             not found and len(secrets_seen) >= 3,
             "found: %s" % sorted({needles[x] for x in found}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plain-port", type=int, required=True)
    ap.add_argument("--plain-metrics", type=int, required=True)
    ap.add_argument("--tls-port", type=int, required=True)
    ap.add_argument("--tls-metrics", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--cap", type=int, required=True)
    ap.add_argument("--rate", type=int, required=True)
    ap.add_argument("--rooms-per-min", type=int, required=True)
    ap.add_argument("--joins-per-min", type=int, required=True)
    ap.add_argument("--invites-per-min", type=int, required=True)
    ap.add_argument("--plain-pid", type=int, required=True)
    a = ap.parse_args()
    try:
        s = socket.socket()
        s.bind(("127.9.0.1", 0))
        s.close()
    except OSError as e:
        print("SKIP: cannot bind 127.9.0.1 (%s)" % e)
        return 77
    err = ta.wait_ready([a.plain_port])
    if err:
        print("FAIL: " + err)
        return 1
    conn_cap(a)
    tls_rate(a)
    signaling_counters(a)
    wiped(a)
    failed = [r for r in ta._results if not r[1]]
    print("\n%d checks, %d passed, %d failed" %
          (len(ta._results), len(ta._results) - len(failed), len(failed)))
    for name, _, _ in failed:
        print("  FAILED: %s" % name)
    sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
