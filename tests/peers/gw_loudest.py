#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Loudest-speaker forwarding, end to end: four aiortc callers in one
gateway room of sottod, each at its own level, and what every listener
hears on its slots.

Callers A, B, C and D each send a steady sine tone at a frequency of its
own (440, 660, 1000, 1500 Hz: well apart, none a harmonic of another) as
Opus, at a level in dBov (RMS re full scale, RFC 6464): the tone's
amplitude is sqrt(2) * 10^(level/20) of full scale. aiortc 1.4 computes
the RFC 6464 audio level of every frame it sends from the frame itself
(aiortc.rtp.compute_audio_level_dbov, RFC 6465 appendix A) and puts it in
the ssrc-audio-level header extension when the answer keeps that
extension, so the level sottod ranks by is the level of the audio: the
run checks that aiortc computes each caller's level from its frames
before it starts, and that the answer keeps the extension.

The callers join one after another in --order (each connected, ICE and
DTLS up, then --gap seconds, then the next), each offering one sendrecv
m-line and slots-1 recvonly ones (tests/peers/aiortc_peer.py's gateway
offer). Every receiving transceiver's track (a slot) is decoded and kept
with its arrival times. After --settle seconds, each listener's slots are
measured over --window seconds: the level of each caller's tone on each
slot, in dBFS RMS, from a Hann-windowed FFT (band +-10 Hz around the
tone). With --louder NAME=DBOV, that caller then changes its level, and
after --hold-wait seconds the slots are measured again.

A listener passes a phase when, with N slots, the tones it hears are
exactly the N loudest OTHER callers (by the levels of that phase): each
on exactly one slot, one tone per slot, each slot with at least
--min-audio seconds of audio in the window, and on each slot every other
caller's tone (our own included) at least --reject-db dB below that
slot's tone. A slot whose strongest tone is under --sound-dbfs carries
no tone.

A table per phase (stdout) shows what each slot carried; a RESULT line
(stdout, JSON) sums it up. Exit status: 0 every check passed, 1 a check
failed or the call did not happen in time, 2 bad usage, 77 aiortc (or
numpy, websockets) is missing.
"""

import argparse
import asyncio
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# Exits 77 with a SKIP line when aiortc, numpy or websockets is missing.
import aiortc_peer as ap  # noqa: E402

import aioice.ice  # noqa: E402
import numpy as np  # noqa: E402
import websockets  # noqa: E402
from aiortc import (  # noqa: E402
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc import rtp as aiortc_rtp  # noqa: E402
from aiortc.mediastreams import MediaStreamError  # noqa: E402

T0 = time.monotonic()
LEVEL_EXT = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
CALLERS = {"A": 440.0, "B": 660.0, "C": 1000.0, "D": 1500.0}
LEVELS = {"A": -10, "B": -20, "C": -30, "D": -50}
BAND_HZ = 10.0


def say(msg):
    print("gw_loudest: [%6.2f] %s" % (time.monotonic() - T0, msg),
          file=sys.stderr, flush=True)


def amplitude(dbov):
    """Peak amplitude (fraction of full scale) of a sine whose RMS is dbov."""
    return math.sqrt(2.0) * 10 ** (dbov / 20.0)


def aiortc_level(freq, dbov):
    """The RFC 6464 level aiortc puts on a frame of our tone."""
    tone = ap.ToneTrack(freq, amplitude(dbov))
    frame = asyncio.run(tone.recv())  # the first frame comes at once
    return aiortc_rtp.compute_audio_level_dbov(frame)


class SlotRecorder:
    """Decodes one remote track; keeps (arrival time, mono samples)."""

    def __init__(self, slot):
        self.slot = slot
        self.chunks = []
        self.rate = None
        self.error = None

    async def run(self, track):
        try:
            while True:
                frame = await track.recv()
                now = time.monotonic()
                if frame.format.name != "s16":
                    self.error = "frames in %s, not s16" % frame.format.name
                    return
                ch = len(frame.layout.channels)
                arr = frame.to_ndarray().reshape(-1, ch).astype(np.float32)
                self.rate = frame.sample_rate
                self.chunks.append((now, arr.mean(axis=1) / 32768.0))
        except MediaStreamError:
            pass

    def window(self, t0, t1):
        sel = [pcm for t, pcm in self.chunks if t0 <= t < t1]
        return np.concatenate(sel) if sel else np.zeros(0, dtype=np.float32)

    def trim(self, before):
        self.chunks = [c for c in self.chunks if c[0] >= before]


def tone_levels(pcm, rate, freqs):
    """Level in dBFS RMS of each frequency's tone in pcm: Hann-windowed
    FFT, power summed over +-BAND_HZ. For x = a cos(w n) the band holds
    (a^2 / 4) * N * sum(w^2), so rms^2 = a^2 / 2 = 2 band / (N sum(w^2))."""
    x = pcm.astype(np.float64)
    x = x - x.mean()
    w = np.hanning(len(x))
    spec = np.fft.rfft(x * w)
    power = (spec.real ** 2) + (spec.imag ** 2)
    f = np.fft.rfftfreq(len(x), 1.0 / rate)
    norm = len(x) * float(np.sum(w * w)) / 2.0
    out = {}
    for name, hz in freqs.items():
        sel = (f >= hz - BAND_HZ) & (f <= hz + BAND_HZ)
        p = float(power[sel].sum()) / norm
        out[name] = 10 * math.log10(p) if p > 0 else -math.inf
    return out


class Caller:
    def __init__(self, name, args):
        self.name = name
        self.args = args
        self.freq = CALLERS[name]
        self.dbov = LEVELS[name]
        self.tone = ap.ToneTrack(self.freq, amplitude(self.dbov))
        self.ws = None
        self.pc = None
        self.slots = None
        self.recorders = []
        self.tasks = []
        self.answer = asyncio.Event()
        self.connected = asyncio.Event()
        self.failed = None        # why the call broke, or None
        self.broken = asyncio.Event()
        self.dispatcher = None

    def set_level(self, dbov):
        self.dbov = dbov
        self.tone.amp = amplitude(dbov) * 32767

    def fail(self, why):
        if self.failed is None:
            self.failed = why
            say("%s: %s" % (self.name, why))
        self.broken.set()

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
        if self.slots != self.args.slots:
            raise ap.CheckFailed("%s: joined with %r slots, want %d" %
                                 (self.name, self.slots, self.args.slots))

    async def dispatch(self):
        try:
            async for raw in self.ws:
                m = json.loads(raw)
                t = m.get("type")
                if t == "answer" and m.get("from") == "gateway" and not self.answer.is_set():
                    self.check_answer(m["sdp"])
                    await self.pc.setRemoteDescription(
                        RTCSessionDescription(sdp=m["sdp"], type="answer"))
                    self.answer.set()
                elif t in ("error", "gateway-leg-ended"):
                    self.fail("server sent %r" % m)
        except websockets.ConnectionClosed as e:
            if not self.args.closing:
                self.fail("signaling closed: %s" % e)
        except ap.CheckFailed as e:
            self.fail(str(e))
        except Exception as e:  # aiortc refusing the answer
            self.fail("%s: %s" % (type(e).__name__, e))

    def check_answer(self, sdp):
        _, media = ap.sdp_sections(sdp)
        audio = [m for m in media if m[0].startswith("m=audio ") and m[0].split()[1] != "0"]
        if len(audio) != self.slots:
            raise ap.CheckFailed("%s: the answer has %d audio m-lines, want %d" %
                                 (self.name, len(audio), self.slots))
        ext = [v for v in ap.sdp_attr(audio[0], "extmap") if v.split()[-1] == LEVEL_EXT]
        if not ext:
            raise ap.CheckFailed("%s: the answer drops the %s extension: no "
                                 "levels would reach sottod" % (self.name, LEVEL_EXT))
        for i, m in enumerate(audio):
            cn = [v.split(None, 1) for v in ap.sdp_attr(m, "ssrc")]
            cn = [v[0] for v in cn if len(v) == 2 and v[1] == "cname:sotto"]
            if len(cn) != 1:
                raise ap.CheckFailed("%s: answer m-line %d: a=ssrc with cname:sotto "
                                     "%s, want one" % (self.name, i, cn))

    async def start(self, token):
        """Joins, offers, and returns once ICE and DTLS are up."""
        await self.join(token)
        pc = self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        trs = [pc.addTransceiver(self.tone, direction="sendrecv")]
        for _ in range(self.slots - 1):
            trs.append(pc.addTransceiver("audio", direction="recvonly"))
        self.recorders = [None] * len(trs)

        @pc.on("track")
        def on_track(track):
            for i, t in enumerate(pc.getTransceivers()):
                if t.receiver.track is track and self.recorders[i] is None:
                    rec = SlotRecorder(i)
                    self.recorders[i] = rec
                    self.tasks.append(asyncio.ensure_future(rec.run(track)))

        @pc.on("connectionstatechange")
        def on_conn():
            if pc.connectionState == "connected":
                self.connected.set()
            elif pc.connectionState == "failed":
                self.fail("connection failed")

        self.dispatcher = asyncio.ensure_future(self.dispatch())
        await pc.setLocalDescription(await pc.createOffer())
        if LEVEL_EXT not in pc.localDescription.sdp:
            raise ap.CheckFailed("%s: our offer lacks %s" % (self.name, LEVEL_EXT))
        await self.send({"type": "offer", "to": "gateway", "sdp": pc.localDescription.sdp})
        up = asyncio.ensure_future(self.connected.wait())
        broken = asyncio.ensure_future(self.broken.wait())
        try:
            await asyncio.wait([up, broken], timeout=self.args.connect_timeout,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            up.cancel()
            broken.cancel()
        if self.failed:
            raise ap.CheckFailed(self.failed)
        if not self.connected.is_set():
            raise ap.CheckFailed("%s: not connected within %g s (answer %s)" %
                                 (self.name, self.args.connect_timeout,
                                  "received" if self.answer.is_set() else "missing"))
        pairs = ap.nominated_pairs(pc)
        say("%s (%g Hz, %+d dBov) connected: %s" %
            (self.name, self.freq, self.dbov,
             ", ".join("%s:%d -> %s:%d" % (l.host, l.port, r.host, r.port)
                       for _, l, r in pairs)))

    async def close(self):
        try:
            await self.send({"type": "leave"})
        except Exception:
            pass
        if self.pc is not None:
            await self.pc.close()
        for t in self.tasks:
            t.cancel()
        if self.dispatcher is not None:
            self.dispatcher.cancel()
        if self.ws is not None:
            await self.ws.close()


def expectation(levels, listener, n):
    """The n loudest callers other than listener."""
    others = sorted((c for c in levels if c != listener), key=lambda c: -levels[c])
    return others[:n]


def measure(callers, levels, t0, t1, args, title):
    """Measures every listener's slots over [t0, t1); prints the table;
    returns (failures, a JSON-able summary)."""
    failures = []
    summary = {"phase": title, "levels_dbov": dict(levels), "window_s": round(t1 - t0, 2),
               "listeners": {}}
    names = list(CALLERS)
    print("\n%s" % title)
    print("  levels: %s dBov; window %.1f s; tone levels in dBFS RMS, "
          "* = the slot's tone" %
          (", ".join("%s %+d" % (c, levels[c]) for c in names), t1 - t0))
    print("  %-8s %-7s %-4s %6s  %s  %-7s %s" %
          ("listener", "expects", "slot", "audio",
           "  ".join("%s %4d Hz" % (c, CALLERS[c]) for c in names),
           "carries", "verdict"))
    for name in names:
        caller = callers[name]
        want = expectation(levels, name, caller.slots)
        got = []
        lines = []
        lst = {"expects": want, "slots": []}
        bad = []
        for i, rec in enumerate(caller.recorders):
            pcm = rec.window(t0, t1) if rec is not None else np.zeros(0)
            rate = (rec.rate if rec is not None else None) or ap.RATE
            audio_s = len(pcm) / rate
            lv = tone_levels(pcm, rate, CALLERS) if len(pcm) >= rate // 10 else \
                {c: -math.inf for c in names}
            top = max(names, key=lambda c: lv[c])
            carries = top if lv[top] > args.sound_dbfs else None
            verdict = [rec.error] if rec is not None and rec.error else []
            if carries is not None:
                got.append(carries)
                if audio_s < args.min_audio:
                    verdict.append("only %.2f s of audio (want >= %.1f)" %
                                   (audio_s, args.min_audio))
                for c in names:
                    if c != carries and lv[c] > lv[carries] - args.reject_db:
                        verdict.append("%s's tone only %.1f dB below %s's (want >= %.0f)" %
                                       (c, lv[carries] - lv[c], carries, args.reject_db))
            for v in verdict:
                bad.append("slot %d: %s" % (i, v))
            cells = "  ".join(("%s%9s" % ("*" if c == carries else " ",
                                          "%.1f" % lv[c] if lv[c] > -200 else "-inf"))
                              for c in names)
            lines.append((i, audio_s, cells, carries or "-", "; ".join(verdict) or "ok"))
            lst["slots"].append({"slot": i, "audio_s": round(audio_s, 2),
                                 "carries": carries,
                                 "tones_dbfs": {c: (round(lv[c], 1) if lv[c] > -200 else None)
                                                for c in names}})
        if sorted(got) != sorted(want) or len(set(got)) != len(got):
            bad.insert(0, "hears %s, want %s (each on one slot)" %
                       (",".join(got) or "nothing", ",".join(want)))
        lst["hears"] = got
        lst["pass"] = not bad
        summary["listeners"][name] = lst
        for k, (i, audio_s, cells, carries, verdict) in enumerate(lines):
            print("  %-8s %-7s %-4d %5.2fs %s  %-7s %s" %
                  (name if k == 0 else "", ",".join(want) if k == 0 else "",
                   i, audio_s, cells, carries, verdict))
        print("  %-8s %s" % ("", ("PASS: hears %s" % ",".join(sorted(got))) if not bad
                             else "FAIL: " + "; ".join(bad)))
        failures.extend("%s: %s: %s" % (title, name, b) for b in bad)
    sys.stdout.flush()
    return failures, summary


async def run_room(args, callers, result):
    creator = await ap.api(args.api, "/v1/rooms",
                           {"max_participants": len(CALLERS), "mode": "gateway"},
                           origin=args.api, want=201)
    if creator.get("mode") != "gateway":
        raise ap.CheckFailed("POST /v1/rooms: mode %r" % creator.get("mode"))
    inv = await ap.api(args.api, "/v1/rooms/%s/invites" % creator["room"], {},
                       token=creator["token"], origin=args.api, want=201)
    result["room"] = creator["room"]
    say("room %s, join order %s" % (creator["room"], ",".join(args.order)))

    for k, name in enumerate(args.order):
        if k:
            await asyncio.sleep(args.gap)
        await callers[name].start(inv["token"])

    def broken():
        return [c.failed for c in callers.values() if c.failed]

    levels = dict(LEVELS)
    await asyncio.sleep(args.settle)
    t0 = time.monotonic()
    await asyncio.sleep(args.window)
    t1 = time.monotonic()
    if broken():
        raise ap.CheckFailed("; ".join(broken()))
    f, s = measure(callers, levels, t0, t1, args,
                   "room %s, join order %s: after %.1f s" %
                   (args.label, ",".join(args.order), args.settle))
    result["phases"].append(s)
    result["failures"].extend(f)

    if args.louder:
        who, dbov = args.louder
        for c in callers.values():
            for r in c.recorders:
                if r is not None:
                    r.trim(t1)
        callers[who].set_level(dbov)
        levels[who] = dbov
        say("%s now at %+d dBov" % (who, dbov))
        await asyncio.sleep(args.hold_wait)
        t0 = time.monotonic()
        await asyncio.sleep(args.window)
        t1 = time.monotonic()
        if broken():
            raise ap.CheckFailed("; ".join(broken()))
        f, s = measure(callers, levels, t0, t1, args,
                       "room %s, join order %s: %s at %+d dBov for %.1f s" %
                       (args.label, ",".join(args.order), who, dbov, args.hold_wait))
        result["phases"].append(s)
        result["failures"].extend(f)


async def run(args):
    result = {"order": args.order, "phases": [], "failures": []}
    callers = {n: Caller(n, args) for n in CALLERS}
    err = None
    try:
        await asyncio.wait_for(run_room(args, callers, result), args.timeout)
    except asyncio.TimeoutError:
        err = "no result within %g s" % args.timeout
    except ap.CheckFailed as e:
        err = str(e)
    except (OSError, websockets.WebSocketException) as e:
        err = "%s: %s" % (type(e).__name__, e)
    if err:
        result["failures"].append(err)
    args.closing = True
    try:
        await asyncio.wait_for(asyncio.gather(*(c.close() for c in callers.values()),
                                              return_exceptions=True), 5)
    except asyncio.TimeoutError:
        say("closing took more than 5 s")
    result["pass"] = not result["failures"]
    print("RESULT " + json.dumps(result), flush=True)
    for f in result["failures"]:
        say("FAIL: %s" % f)
    say("PASS" if result["pass"] else "FAIL")
    return 0 if result["pass"] else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--api", required=True, help="sottod's HTTP base URL (http://127.0.0.1:PORT)")
    p.add_argument("--local-ip", default="127.0.0.1",
                   help="the one host address the callers gather (default 127.0.0.1)")
    p.add_argument("--slots", type=int, default=2, help="gateway.slots (default 2)")
    p.add_argument("--order", default="C,B,A,D", help="join order (default C,B,A,D)")
    p.add_argument("--label", default="1", help="the room's name in the table")
    p.add_argument("--gap", type=float, default=0.5,
                   help="seconds between one caller connected and the next joining")
    p.add_argument("--settle", type=float, default=3.0,
                   help="seconds after the last caller connected before measuring")
    p.add_argument("--window", type=float, default=3.0, help="measured seconds")
    p.add_argument("--louder", help="NAME=DBOV: then that caller changes its level")
    p.add_argument("--hold-wait", type=float, default=2.0,
                   help="seconds after --louder before measuring again")
    p.add_argument("--min-audio", type=float, default=2.0,
                   help="audio a slot carrying a tone must have in the window (s)")
    p.add_argument("--reject-db", type=float, default=20.0,
                   help="how far below a slot's tone every other one must be (dB)")
    p.add_argument("--sound-dbfs", type=float, default=-70.0,
                   help="a slot whose strongest tone is quieter carries none")
    p.add_argument("--connect-timeout", type=float, default=10.0)
    p.add_argument("--timeout", type=float, default=45.0, help="for the whole room (s)")
    args = p.parse_args()
    args.order = [x.strip() for x in args.order.split(",") if x.strip()]
    if sorted(args.order) != sorted(CALLERS):
        p.error("--order must name each of %s once" % ",".join(CALLERS))
    if args.louder:
        try:
            who, dbov = args.louder.split("=")
            args.louder = (who, int(dbov))
        except ValueError:
            p.error("--louder takes NAME=DBOV")
        if who not in CALLERS or not -127 <= args.louder[1] <= 0:
            p.error("--louder: a caller and a level in -127..0")
    if args.window < args.min_audio:
        p.error("--window must be >= --min-audio")
    args.closing = False
    local = args.local_ip
    aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: [local]

    # The levels sottod will read are the ones aiortc computes from our
    # frames; make sure they are the ones we mean.
    want = dict(LEVELS)
    if args.louder:
        want[args.louder[0] + "'"] = args.louder[1]
    bad = []
    for name, dbov in want.items():
        got = -aiortc_level(CALLERS[name[0]], dbov)
        say("%s: %g Hz, amplitude %.4f of full scale, aiortc's RFC 6464 level %d "
            "(-%d dBov)" % (name, CALLERS[name[0]], amplitude(dbov), got, got))
        if got != -dbov:
            bad.append("%s: aiortc computes %d, want %d" % (name, -got, dbov))
    if bad:
        say("FAIL: %s" % "; ".join(bad))
        return 1
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
