#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Gateway consent (RFC 7675), end to end: sotto sends DTLS and media only
to an address that has answered sotto's own ICE checks, with aiortc
callers (full ICE agents: they answer a Binding request from their peer)
and UDP sinks that never answer anything.

Four aiortc callers join one gateway room of sottod, and two sinks stand
for addresses their owners do not control (a victim's). A sink is a UDP
socket on another loopback port that counts what reaches it by kind
(STUN requests, STUN responses, DTLS, SRTP, anything else) and never
sends a thing of its own; the forger sends from a sink's socket, as a
spoofed source would, what only the participant can make: ICE checks
with the participant's own credentials (its ufrag and the answer's ufrag
and ice-pwd), so every one of them is valid.

  A  (440 Hz) forges a first check. Its answer in hand but before aiortc
     starts ICE, a valid check with USE-CANDIDATE from sink S1 and a
     ClientHello from there: the gateway answers the check and asks S1
     itself, but S1 never answers, so A's leg must not bind there: S1 gets
     no DTLS (no server flight) and no media, and aiortc's own checks then
     bring A's call up as usual.
  B  (550 Hz) forges a move. Once the room is up, valid checks with
     USE-CANDIDATE from sink S2 every 0.5 s for --forge seconds: S2 must
     get no DTLS and no media, the leg must not move
     (sotto_gateway_leg_moves_total +0), and B's call goes on (B still
     receives media from the others, and A from B).
  M  (660 Hz) mute: once up, it stops answering the gateway's checks (its
     aioice drops every Binding request from the gateway) while aiortc
     still sends its own checks every 5 s. Its leg must end with
     gateway-leg-ended consent_lost within --consent seconds of the first
     unanswered check, not earlier than --consent - 7 s (the last answered
     check went out at most 6 s before), and M must receive nothing but
     STUN answers from the gateway after --consent seconds from muting (no
     media, no DTLS): the last media datagram within --consent + 0.5 s.
  D  (1000 Hz) deaf from the start: it answers none of the gateway's
     checks. It must never receive a DTLS datagram, and its leg ends at
     the handshake timeout (--handshake s after its offer, + 1.5 s).

Counters between a scrape before the first caller and one at the end:
sotto_gateway_consent_checks_total{result="answered"} grew (everyone's
checks answered by aiortc), {result="timeout"} by at least 3 (S2's probe,
M's checks, D's probe), sotto_gateway_legs_ended_total{reason=
"consent_lost"} +1, {reason="handshake_timeout"} +1, nothing else ended,
sotto_gateway_leg_moves_total +0.

Every check is printed on stderr ("ok: ..." / "FAIL: ..."), a RESULT
line with JSON on stdout. Exit 0 every check passed, 1 one failed, 2
usage, 77 aiortc (or numpy, websockets) missing. Loopback only.
"""

import argparse
import asyncio
import json
import os
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# Each exits 77 with a SKIP line when aiortc, numpy or websockets is missing.
import aiortc_peer as ap  # noqa: E402
import gw_dtls_probe as gp  # noqa: E402

import aioice.ice  # noqa: E402
import websockets  # noqa: E402
from aiortc import (  # noqa: E402
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError  # noqa: E402

T0 = time.monotonic()
G = "sotto_gateway_"
TONES = {"A": 440.0, "B": 550.0, "M": 660.0, "D": 1000.0}


def say(msg):
    print("gw_consent: [%6.2f] %s" % (time.monotonic() - T0, msg),
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


def kind(data):
    """RFC 7983 first byte, STUN split into requests and the rest."""
    if not data:
        return "other"
    b = data[0]
    if b <= 3:
        return "stun_request" if data[:2] == b"\x00\x01" else "stun_other"
    if 20 <= b <= 63:
        return "dtls"
    if 128 <= b <= 191:
        return "srtp"
    return "other"


# --- what reaches each caller's aiortc ---------------------------------------

_orig_received = aioice.ice.StunProtocol.datagram_received


def _received(self, data, addr):
    caller = getattr(self.receiver, "_gw_caller", None)
    if caller is not None and caller.datagram(data, addr):
        return
    _orig_received(self, data, addr)


aioice.ice.StunProtocol.datagram_received = _received


class Sink(asyncio.DatagramProtocol):
    """A loopback UDP port that counts what arrives, by kind, and never
    answers. The forger sends from its socket."""

    def __init__(self, name):
        self.name = name
        self.counts = {k: 0 for k in ("stun_request", "stun_other", "dtls",
                                      "srtp", "other")}
        self.bytes = 0
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.counts[kind(data)] += 1
        self.bytes += len(data)

    @property
    def addr(self):
        return self.transport.get_extra_info("sockname")[:2]

    def non_stun(self):
        return self.counts["dtls"] + self.counts["srtp"] + self.counts["other"]


class Caller:
    def __init__(self, name, args, checks):
        self.name = name
        self.args = args
        self.c = checks
        self.tone = ap.ToneTrack(TONES[name], 0.2)
        self.ws = None
        self.pc = None
        self.slots = None
        self.tasks = []
        self.answer_sdp = None
        self.answer = asyncio.Event()
        self.connected = asyncio.Event()
        self.ended = None          # (time, reason) of gateway-leg-ended
        self.ended_ev = asyncio.Event()
        self.errors = []
        self.deaf_from = None      # from then on the gateway's checks are dropped
        self.rx = {k: 0 for k in ("stun_request", "stun_other", "dtls", "srtp",
                                  "other")}
        self.srtp_times = []
        self.last_media = None     # last non-STUN datagram from the gateway
        self.dropped = 0           # the gateway's checks we did not answer
        self.hold_answer = False   # A: the forger goes first
        self.offer_sent = None

    # (the event loop's thread) a datagram for our aioice; True: drop it
    def datagram(self, data, addr):
        now = time.monotonic()
        k = kind(data)
        self.rx[k] += 1
        if k in ("dtls", "srtp", "other"):
            self.last_media = now
            if k == "srtp":
                self.srtp_times.append(now)
        if k == "stun_request" and self.deaf_from is not None and now >= self.deaf_from:
            self.dropped += 1
            return True
        return False

    def srtp_between(self, t0, t1):
        return sum(1 for t in self.srtp_times if t0 <= t < t1)

    async def send(self, obj):
        await self.ws.send(json.dumps(obj))

    async def join(self, token):
        url = self.args.api.replace("http://", "ws://", 1) + "/v1/ws"
        self.ws = await websockets.connect(url, open_timeout=10, max_size=1 << 16,
                                           compression=None)
        await self.send({"type": "join", "token": token})
        m = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
        if m.get("type") != "joined" or m.get("mode") != "gateway":
            raise ap.CheckFailed("%s: join: %r" % (self.name, m))
        self.slots = m.get("slots")

    async def dispatch(self):
        try:
            async for raw in self.ws:
                m = json.loads(raw)
                t = m.get("type")
                if t == "answer" and m.get("from") == "gateway" and self.answer_sdp is None:
                    self.answer_sdp = m["sdp"]
                    self.answer.set()
                    if not self.hold_answer:
                        await self.apply_answer()
                elif t == "gateway-leg-ended":
                    if self.ended is None:
                        self.ended = (time.monotonic(), m.get("reason"))
                        say("%s: gateway-leg-ended %r" % (self.name, m.get("reason")))
                    self.ended_ev.set()
                elif t == "error":
                    self.errors.append(m)
                    say("%s: error from the server: %r" % (self.name, m))
        except websockets.ConnectionClosed:
            pass
        except Exception as e:  # aiortc refusing the answer
            self.errors.append("%s: %s" % (type(e).__name__, e))
            say("%s: %s: %s" % (self.name, type(e).__name__, e))

    async def apply_answer(self):
        await self.pc.setRemoteDescription(
            RTCSessionDescription(sdp=self.answer_sdp, type="answer"))

    def tag_transports(self):
        """Our aioice connections report their datagrams to us."""
        for t in self.pc.getTransceivers():
            conn = t.sender.transport.transport.iceGatherer._connection
            conn._gw_caller = self

    def credentials(self):
        """(our ufrag, our pwd, the answer's ufrag, its pwd): what the
        gateway's leg checks (the first, BUNDLE-tagged section's)."""
        ours = self.pc.localDescription.sdp
        return (ap_attr(ours, "ice-ufrag"), ap_attr(ours, "ice-pwd"),
                ap_attr(self.answer_sdp, "ice-ufrag"), ap_attr(self.answer_sdp, "ice-pwd"))

    async def offer(self, token):
        await self.join(token)
        pc = self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver(self.tone, direction="sendrecv")
        for _ in range(self.slots - 1):
            pc.addTransceiver("audio", direction="recvonly")

        @pc.on("track")
        def on_track(track):
            async def drain():
                try:
                    while True:
                        await track.recv()
                except MediaStreamError:
                    pass
            self.tasks.append(asyncio.ensure_future(drain()))

        @pc.on("connectionstatechange")
        def on_conn():
            if pc.connectionState == "connected":
                self.connected.set()

        self.tasks.append(asyncio.ensure_future(self.dispatch()))
        await pc.setLocalDescription(await pc.createOffer())
        self.tag_transports()
        self.offer_sent = time.monotonic()
        await self.send({"type": "offer", "to": "gateway", "sdp": pc.localDescription.sdp})
        try:
            await asyncio.wait_for(self.answer.wait(), 10)
        except asyncio.TimeoutError:
            raise ap.CheckFailed("%s: no answer from the gateway" % self.name)

    async def wait_connected(self, timeout):
        try:
            await asyncio.wait_for(self.connected.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        ok = self.c.check(self.connected.is_set(), "%s: ICE and DTLS up (%s)" % (
            self.name, "connected" if self.connected.is_set() else
            "not within %g s, state %s" % (timeout, self.pc.connectionState)))
        if ok:
            pairs = ap.nominated_pairs(self.pc)
            say("%s connected: %s" % (self.name, ", ".join(
                "%s:%d -> %s:%d" % (lo.host, lo.port, r.host, r.port)
                for _, lo, r in pairs)))
        return ok

    async def close(self):
        try:
            await self.send({"type": "leave"})
        except Exception:
            pass
        if self.pc is not None:
            await self.pc.close()
        for t in self.tasks:
            t.cancel()
        if self.ws is not None:
            await self.ws.close()


def ap_attr(sdp, name):
    v = ap.sdp_attr(sdp.splitlines(), name)
    return v[0] if v else None


def scrape(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        text = r.read().decode()
    out = []
    for line in text.splitlines():
        m = gp.METRIC_RE.match(line)
        if m and not line.startswith("#"):
            out.append((m.group(1), m.group(2) or "", float(m.group(3))))
    return out


class Run:
    def __init__(self, args):
        self.a = args
        self.c = Checks()
        self.result = {}
        self.callers = {n: Caller(n, args, self.c) for n in TONES}
        self.sinks = {}
        self.gw = gp.parse_addr(args.gateway_addr)

    async def snap(self):
        return await asyncio.to_thread(scrape, self.a.metrics)

    def delta(self, m0, m1, name, label, op, want):
        d = gp.mval(m1, name, label) - gp.mval(m0, name, label)
        ok = {"eq": d == want, "ge": d >= want}[op]
        self.c.check(ok, "%s%s %+d (want %s %d)" % (
            name, "{%s}" % label if label else "", d, op, want))
        return d

    async def sink(self, name):
        loop = asyncio.get_running_loop()
        _, s = await loop.create_datagram_endpoint(lambda: Sink(name),
                                                   local_addr=("127.0.0.1", 0))
        self.sinks[name] = s
        say("sink %s on %s:%d" % (name, *s.addr))
        return s

    def forge(self, sink, caller, hello=False):
        """A valid check with USE-CANDIDATE for caller's leg, from sink."""
        ufrag, _, ans_ufrag, ans_pwd = caller.credentials()
        req = gp.stun_request("%s:%s" % (ans_ufrag, ufrag), ans_pwd, os.urandom(12),
                              use_candidate=True)
        sink.transport.sendto(req, self.gw)
        if hello:
            sink.transport.sendto(gp.client_hello([0x0007, 0x0001]), self.gw)

    async def run(self):
        a, c = self.a, self.c
        A, B, M, D = (self.callers[n] for n in "ABMD")
        m0 = await self.snap()
        creator = await ap.api(a.api, "/v1/rooms", {"max_participants": 4,
                                                     "mode": "gateway"},
                               origin=a.api, want=201)
        inv = await ap.api(a.api, "/v1/rooms/%s/invites" % creator["room"], {},
                           token=creator["token"], origin=a.api, want=201)
        s1, s2 = await self.sink("S1"), await self.sink("S2")

        # A: the forged first check (and ClientHello) from S1 goes first
        A.hold_answer = True
        await A.offer(inv["token"])
        self.forge(s1, A, hello=True)
        say("A: forged a valid check with USE-CANDIDATE and a ClientHello from "
            "S1 %s:%d before its own ICE" % s1.addr)
        await asyncio.sleep(0.3)
        await A.apply_answer()
        a_up = await A.wait_connected(a.connect_timeout)
        for x in (B, M):
            await x.offer(inv["token"])
        D.deaf_from = 0.0
        await D.offer(inv["token"])
        b_up = await B.wait_connected(a.connect_timeout)
        m_up = await M.wait_connected(a.connect_timeout)
        c.check(s1.non_stun() == 0 and s1.counts["dtls"] == 0,
                "S1 got no DTLS and no media (%s)" % s1.counts)
        await asyncio.sleep(1.0)

        # M stops answering the gateway's checks; B forges a move to S2
        t_mute = time.monotonic()
        M.deaf_from = t_mute
        say("M: from now on the gateway's checks go unanswered")
        t_forge = time.monotonic()
        n_forged = 0
        while time.monotonic() < t_forge + a.forge:
            self.forge(s2, B)
            n_forged += 1
            await asyncio.sleep(0.5)
        await asyncio.sleep(0.5)
        t_forge_end = time.monotonic()
        span = t_forge_end - t_forge
        c.check(s2.non_stun() == 0, "S2 got no DTLS and no media after %d forged "
                "checks with USE-CANDIDATE over %.1f s (%s)" % (n_forged, span, s2.counts))
        m1 = await self.snap()
        self.delta(m0, m1, G + "leg_moves_total", "", "eq", 0)
        if a_up and b_up:
            na, nb = A.srtp_between(t_forge, t_forge_end), B.srtp_between(t_forge, t_forge_end)
            # 50 packets/s from each other caller: B hears A and M
            c.check(nb >= 40 * span, "B kept receiving media meanwhile: %d SRTP "
                    "datagrams in %.1f s" % (nb, span))
            c.check(na >= 40 * span, "A kept receiving media (B's among it): %d "
                    "SRTP datagrams in %.1f s" % (na, span))

        # M's leg ends for consent; D's at the handshake timeout
        wait = t_mute + a.consent + 3 - time.monotonic()
        try:
            await asyncio.wait_for(M.ended_ev.wait(), max(0.0, wait))
        except asyncio.TimeoutError:
            pass
        if m_up:
            end = M.ended
            c.check(end is not None and end[1] == "consent_lost",
                    "M: gateway-leg-ended consent_lost (got %s)" % (end and end[1]))
            if end is not None:
                dt = end[0] - t_mute
                c.check(a.consent - 7 <= dt <= a.consent + 0.5,
                        "M: ended %.2f s after it stopped answering (want %d..%g)"
                        % (dt, a.consent - 7, a.consent + 0.5))
            await asyncio.sleep(1.5)
            last = M.last_media
            c.check(last is not None and last - t_mute <= a.consent + 0.5,
                    "M: its last media or DTLS datagram %s after it stopped answering "
                    "(want <= %g s)" % ("never" if last is None else
                                        "%.2f s" % (last - t_mute), a.consent + 0.5))
            c.check(M.dropped >= a.consent // 6 - 1,
                    "M: %d of the gateway's checks went unanswered" % M.dropped)
        self.result["M"] = {"rx": M.rx, "dropped": M.dropped,
                            "ended": M.ended and round(M.ended[0] - t_mute, 3)}

        wait = D.offer_sent + a.handshake + 1.5 - time.monotonic()
        if wait > 0:
            try:
                await asyncio.wait_for(D.ended_ev.wait(), wait)
            except asyncio.TimeoutError:
                pass
        c.check(D.ended is not None and D.ended[1] == "handshake_timeout",
                "D: gateway-leg-ended handshake_timeout (got %s)" % (D.ended and D.ended[1]))
        c.check(D.rx["dtls"] == 0 and D.rx["srtp"] == 0,
                "D, deaf to the gateway's checks, never got DTLS or media (%s; "
                "%d checks unanswered)" % (D.rx, D.dropped))
        c.check(not D.connected.is_set(), "D never connected")

        # A and B are still in their call
        t = time.monotonic()
        await asyncio.sleep(2.0)
        if a_up and b_up:
            na, nb = A.srtp_between(t, t + 2), B.srtp_between(t, t + 2)
            c.check(na >= 60 and nb >= 60, "A and B still receive media at the end "
                    "(%d and %d SRTP datagrams in 2 s)" % (na, nb))
        for x in (A, B):
            c.check(x.ended is None and not x.errors,
                    "%s: no gateway-leg-ended, no error (%s, %s)" % (x.name, x.ended, x.errors))
        c.check(s1.non_stun() == 0 and s2.non_stun() == 0,
                "at the end: S1 %s, S2 %s: no DTLS, no media" % (s1.counts, s2.counts))
        # a probe is 8 requests at most; S1's was cut short by A's own
        c.check(s1.counts["stun_request"] <= 8 and s2.counts["stun_request"] <= 8,
                "the gateway's checks to the sinks: S1 %d, S2 %d (one probe each, "
                "at most 8)"
                % (s1.counts["stun_request"], s2.counts["stun_request"]))
        self.result["sinks"] = {n: s.counts for n, s in self.sinks.items()}

        m2 = await self.snap()
        C = G + "consent_checks_total"
        E = G + "legs_ended_total"
        self.delta(m0, m2, C, 'result="answered"', "ge", 3)
        self.delta(m0, m2, C, 'result="timeout"', "ge", 3)
        self.delta(m0, m2, E, 'reason="consent_lost"', "eq", 1)
        self.delta(m0, m2, E, 'reason="handshake_timeout"', "eq", 1)
        self.delta(m0, m2, E, "", "eq", 2)
        self.delta(m0, m2, G + "leg_moves_total", "", "eq", 0)
        self.result["consent_checks"] = {
            r: gp.mval(m2, C, 'result="%s"' % r) - gp.mval(m0, C, 'result="%s"' % r)
            for r in ("sent", "answered", "timeout", "error", "bad_response")}

    async def main(self):
        try:
            await asyncio.wait_for(self.run(), self.a.timeout)
        except asyncio.TimeoutError:
            self.c.check(False, "no result within %g s" % self.a.timeout)
        except ap.CheckFailed as e:
            self.c.check(False, str(e))
        except (OSError, websockets.WebSocketException) as e:
            self.c.check(False, "%s: %s" % (type(e).__name__, e))
        try:
            await asyncio.wait_for(asyncio.gather(
                *(x.close() for x in self.callers.values()), return_exceptions=True), 5)
        except asyncio.TimeoutError:
            say("closing took more than 5 s")
        for s in self.sinks.values():
            s.transport.close()
        self.result["checks"] = self.c.items
        self.result["pass"] = self.c.passed
        print("RESULT " + json.dumps(self.result), flush=True)
        say("PASS" if self.c.passed else "FAIL")
        return 0 if self.c.passed else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--api", required=True, help="sottod's HTTP base URL (http://127.0.0.1:PORT)")
    p.add_argument("--metrics", required=True, help="sottod's http://127.0.0.1:PORT/metrics")
    p.add_argument("--gateway-addr", required=True, help="sotto's gateway media IP:PORT")
    p.add_argument("--consent", type=int, default=30, help="sottod's gateway.consent_timeout")
    p.add_argument("--handshake", type=int, default=15,
                   help="sottod's gateway.handshake_timeout")
    p.add_argument("--forge", type=float, default=3.0,
                   help="seconds of forged checks from S2")
    p.add_argument("--connect-timeout", type=float, default=10.0)
    p.add_argument("--timeout", type=float, default=120.0, help="for the whole run (s)")
    args = p.parse_args()
    for u in (args.api, args.metrics):
        if not u.startswith(("http://127.", "http://[::1]")):
            p.error("%s is not on loopback" % u)
    try:
        gp.parse_addr(args.gateway_addr)
    except ValueError as e:
        p.error("--gateway-addr: %s" % e)
    if args.consent < 8:
        p.error("--consent must be >= 8 (M's end is checked within consent - 7 s)")
    args.api = args.api.rstrip("/")
    aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"]
    return asyncio.run(Run(args).main())


if __name__ == "__main__":
    sys.exit(main())
