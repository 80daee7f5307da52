#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A WebRTC voice peer (aiortc) that calls through sottod.

It speaks sottod's HTTP API and WebSocket protocol (docs/signaling.md):
creates a room and mints an invite (--create), or joins with an invite
(--token-file); takes TURN credentials from POST /v1/credentials; gathers
only relayed candidates on sottod's TURN server; offers or answers as the
protocol says; sends a sine tone as Opus; records the audio it receives and
finds its dominant frequency with an FFT.

Checks, each reported on stderr and in the RESULT line on stdout:
  - the credentials are TURN REST credentials with iceTransportPolicy "relay";
  - the SDP that arrives through the server carries relay candidates only,
    all on --relay-ip inside --relay-ports, and audio payload types that
    are all Opus (or telephone-event): aiortc offers Opus, PCMU and PCMA
    unless --opus-only, so this is the server's policy at work;
  - our sender encodes Opus;
  - ICE nominated a pair whose local AND remote candidates are relay
    candidates on --relay-ip inside --relay-ports (nothing bypassed sotto);
  - at least --min-seconds of audio arrived, counted in samples and in
    wall-clock time, with at most 20% of the frames missing (gaps in the
    sender's RTP timestamps);
  - the received audio's dominant frequency is --expect Hz (within
    --tolerance), it is not silence, and the peer's own --tone is at least
    20 dB below it (so it is the other side's audio, not an echo of ours).

Exit status: 0 every check passed, 1 a check failed or the call did not
happen in time, 2 bad usage, 77 aiortc (or numpy, websockets) is missing.
"""

import argparse
import asyncio
import base64
import fractions
import json
import logging
import math
import os
import re
import sys
import time
import traceback
import urllib.error
import urllib.request

# Log times count from here: aiortc's import alone takes a second or more.
T0 = time.monotonic()

try:
    import numpy as np
    import websockets
    from aioice import TransportPolicy
    from aiortc import (
        MediaStreamTrack,
        RTCConfiguration,
        RTCIceServer,
        RTCPeerConnection,
        RTCRtpSender,
        RTCSessionDescription,
    )
    from aiortc.mediastreams import MediaStreamError
    from aiortc.sdp import candidate_from_sdp
    from av import AudioFrame
except ImportError as exc:
    print("aiortc_peer: SKIP: %s (Debian: python3-aiortc python3-numpy "
          "python3-websockets)" % exc, file=sys.stderr)
    sys.exit(77)

RATE = 48000
PTIME = 0.020
SAMPLES = int(RATE * PTIME)
# The opening of the received audio that the analysis ignores: the Opus
# encoder and decoder start from silence and the jitter buffer settles.
WARMUP_S = 0.5
# How far below the peak the peer's own tone must be (dB).
OWN_REJECT_DB = 20.0
# Quieter than this (dBFS RMS) is silence, whatever its spectrum.
SILENCE_DBFS = -45.0

NAME = "peer"


def say(msg):
    print("%s: [%6.2f] %s" % (NAME, time.monotonic() - T0, msg),
          file=sys.stderr, flush=True)


class CheckFailed(Exception):
    pass


class Checks:
    """Every check is recorded; the run fails if any failed."""

    def __init__(self):
        self.items = []

    def check(self, ok, what):
        self.items.append({"ok": bool(ok), "what": what})
        say("%s: %s" % ("ok" if ok else "FAIL", what))
        return ok

    def require(self, ok, what):
        if not self.check(ok, what):
            raise CheckFailed(what)

    @property
    def passed(self):
        return bool(self.items) and all(i["ok"] for i in self.items)


# --- HTTP API ---------------------------------------------------------------


def http_post(base, path, body, token=None, origin=None):
    data = json.dumps(body if body is not None else {}).encode()
    req = urllib.request.Request(base + path, data=data, method="POST")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if origin:
        req.add_header("Origin", origin)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        obj = json.loads(raw.decode()) if raw else None
    except ValueError:
        obj = None
    say("POST %s -> %d %s" % (path, status, redact(obj)))
    return status, obj


def redact(obj):
    """The response for the log, without tokens and TURN passwords."""
    if not isinstance(obj, dict):
        return obj
    out = {}
    for k, v in obj.items():
        if k in ("token", "credential"):
            out[k] = "<%d chars>" % len(v) if isinstance(v, str) else v
        elif k == "iceServers" and isinstance(v, list):
            out[k] = [redact(s) for s in v]
        else:
            out[k] = v
    return out


async def api(base, path, body, token=None, origin=None, want=200):
    status, obj = await asyncio.to_thread(http_post, base, path, body, token,
                                          origin)
    if status != want or not isinstance(obj, dict):
        raise CheckFailed("POST %s: want %d and a JSON object, got %d %r" %
                          (path, want, status, redact(obj)))
    return obj


# --- media ------------------------------------------------------------------


class ToneTrack(MediaStreamTrack):
    """A sine tone, 20 ms mono s16 frames at 48 kHz, paced in real time."""

    kind = "audio"

    def __init__(self, freq, level=0.3):
        super().__init__()
        self.freq = freq
        self.amp = level * 32767
        self.n = 0
        self.start = None
        self.frames = 0

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        if self.start is None:
            self.start = time.monotonic()
        else:
            wait = self.start + self.n / RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        t = (np.arange(SAMPLES) + self.n) / RATE
        pcm = np.round(self.amp * np.sin(2 * math.pi * self.freq * t))
        frame = AudioFrame.from_ndarray(pcm.astype(np.int16).reshape(1, -1),
                                        format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self.n
        frame.time_base = fractions.Fraction(1, RATE)
        self.n += SAMPLES
        self.frames += 1
        return frame


class Recorder:
    """Reads the remote track until `seconds` of audio have arrived."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.chunks = []
        self.samples = 0
        self.rate = None
        self.frames = 0
        self.first_wall = None
        self.last_wall = None
        self.first_pts = None
        self.last_pts = None
        self.frame_samples = None
        self.done = asyncio.Event()
        self.ended = False
        self.error = None

    async def run(self, track):
        try:
            while self.rate is None or self.samples < self.seconds * self.rate:
                frame = await track.recv()
                now = time.monotonic()
                # aiortc's Opus decoder gives packed s16 stereo at 48 kHz.
                if frame.format.name != "s16":
                    raise CheckFailed("received frames in %s, not s16" %
                                      frame.format.name)
                ch = len(frame.layout.channels)
                arr = frame.to_ndarray().reshape(-1, ch)
                pcm = arr.astype(np.float64).mean(axis=1) / 32768.0
                if self.first_wall is None:
                    self.first_wall = now
                    self.first_pts = frame.pts
                    self.rate = frame.sample_rate
                    self.frame_samples = frame.samples
                    say("first audio frame: %d Hz, %d channel(s), %d samples" %
                        (frame.sample_rate, ch, frame.samples))
                self.last_wall = now
                self.last_pts = frame.pts
                self.chunks.append(pcm)
                self.samples += len(pcm)
                self.frames += 1
        except MediaStreamError:
            self.ended = True
        except CheckFailed as e:
            self.error = str(e)
        finally:
            self.done.set()

    def audio(self):
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0)

    def stats(self):
        if not self.frames:
            return {"frames": 0, "audio_s": 0.0, "wall_s": 0.0,
                    "rtp_span_s": 0.0, "missing_frames": 0}
        # The decoder stamps each frame with its RTP timestamp (48 kHz for
        # Opus), so the span of timestamps is how much the sender sent while
        # we listened; frames that never arrived show as the difference.
        span = (self.last_pts - self.first_pts) % (1 << 32) + self.frame_samples
        expected = span // self.frame_samples
        return {
            "frames": self.frames,
            "audio_s": round(self.samples / self.rate, 3),
            "wall_s": round(self.last_wall - self.first_wall, 3),
            "rtp_span_s": round(span / self.rate, 3),
            "missing_frames": int(max(0, expected - self.frames)),
        }


def band_power(power, freqs, f, half=10.0):
    sel = (freqs >= f - half) & (freqs <= f + half)
    return float(power[sel].sum()) if sel.any() else 0.0


def db(x):
    return 10 * math.log10(x) if x > 0 else -math.inf


def analyze(pcm, rate, expect, own):
    """Dominant frequency (Hann-windowed FFT, parabolic peak interpolation)
    and the levels of the expected and the own tone."""
    skip = int(WARMUP_S * rate)
    x = pcm[skip:] if len(pcm) > 2 * skip else pcm
    if len(x) < rate // 10:
        return None
    x = x - x.mean()
    rms = math.sqrt(float(np.mean(x * x)))
    w = np.hanning(len(x))
    spec = np.abs(np.fft.rfft(x * w))
    power = spec * spec
    freqs = np.fft.rfftfreq(len(x), 1.0 / rate)
    sel = (freqs >= 50) & (freqs <= 8000)
    idx = np.flatnonzero(sel)
    k = int(idx[np.argmax(spec[sel])])
    peak = float(freqs[k])
    if 0 < k < len(spec) - 1 and spec[k] > 0:
        a, b, c = (math.log(max(spec[k + d], 1e-30)) for d in (-1, 0, 1))
        denom = a - 2 * b + c
        if denom != 0:
            peak += 0.5 * (a - c) / denom * (freqs[1] - freqs[0])
    p_peak = band_power(power, freqs, peak)
    return {
        "analyzed_s": round(len(x) / rate, 3),
        "dominant_hz": round(peak, 2),
        "rms_dbfs": round(db(rms * rms), 1),
        "expect_rel_db": round(db(band_power(power, freqs, expect)) - db(p_peak), 1),
        "own_rel_db": round(db(band_power(power, freqs, own)) - db(p_peak), 1),
    }


# --- SDP and ICE checks -----------------------------------------------------

CAND_RE = re.compile(r"^a=candidate:(\S+) (\d+) (\S+) (\d+) (\S+) (\d+) typ (\S+)")


def sdp_candidates(sdp):
    out = []
    for line in sdp.splitlines():
        m = CAND_RE.match(line.strip())
        if m:
            out.append({"ip": m.group(5), "port": int(m.group(6)),
                        "type": m.group(7), "proto": m.group(3).lower()})
    return out


def sdp_audio_codecs(sdp):
    """The encoding names of the payload types on the audio m-lines."""
    names = {}
    pts = []
    in_audio = False
    for line in sdp.splitlines():
        line = line.strip()
        if line.startswith("m="):
            f = line[2:].split()
            in_audio = f[0] == "audio" and len(f) > 3 and f[1] != "0"
            if in_audio:
                pts.extend(f[3:])
        elif in_audio and line.startswith("a=rtpmap:"):
            pt, enc = line[9:].split(None, 1)
            names[pt] = enc.split("/")[0].lower()
    return [names.get(pt, "pt" + pt) for pt in pts]


def in_relay(ip, port, args):
    return ip == args.relay_ip and args.port_min <= port <= args.port_max


def force_relay(pc):
    """Relay-only gathering: aiortc 1.4's RTCConfiguration has no
    iceTransportPolicy, but the aioice Connection under each transceiver's
    RTCIceGatherer (created by addTransceiver, used by setLocalDescription)
    has transport_policy. TransportPolicy.RELAY stops it from offering host
    candidates; it still binds host sockets and can pair them with remote
    candidates, which is why the nominated pair is checked afterwards."""
    for t in pc.getTransceivers():
        conn = t.sender.transport.transport.iceGatherer._connection
        conn._transport_policy = TransportPolicy.RELAY


def nominated_pairs(pc):
    """The pairs ICE nominated, from the aioice Connection's _nominated
    (component -> CandidatePair) behind each transceiver's RTCIceTransport."""
    pairs = []
    seen = set()
    for t in pc.getTransceivers():
        conn = t.sender.transport.transport._connection
        if id(conn) in seen:
            continue
        seen.add(id(conn))
        for comp, pair in sorted(conn._nominated.items()):
            pairs.append((comp, pair.local_candidate, pair.remote_candidate))
    return pairs


# --- the call ---------------------------------------------------------------


class Peer:
    def __init__(self, args):
        self.args = args
        self.checks = Checks()
        self.result = {"name": args.name, "tone_hz": args.tone,
                       "expect_hz": args.expect}
        self.ws = None
        self.pc = None
        self.remote = None
        self.recorder = Recorder(args.seconds)
        self.record_task = None
        self.answer = None
        self.peer_left = asyncio.Event()
        self.server_error = None
        self.server_error_seen = asyncio.Event()
        self.connected = asyncio.Event()
        self.ice_failed = asyncio.Event()

    async def send(self, obj):
        await self.ws.send(json.dumps(obj))

    async def recv(self):
        raw = await self.ws.recv()
        try:
            m = json.loads(raw)
        except ValueError:
            raise CheckFailed("server sent a non-JSON message: %r" % raw[:200])
        if not isinstance(m, dict) or "type" not in m:
            raise CheckFailed("server sent a message without type: %r" % m)
        return m

    async def tokens(self):
        a = self.args
        if a.create:
            room = await api(a.api, "/v1/rooms", {"max_participants": 2},
                             origin=a.origin, want=201)
            self.checks.require(
                re.fullmatch(r"[0-9a-f]{32}", str(room.get("room", ""))) and
                isinstance(room.get("token"), str),
                "POST /v1/rooms: a 32-hex room id and a token")
            inv = await api(a.api, "/v1/rooms/%s/invites" % room["room"], {},
                            token=room["token"], origin=a.origin, want=201)
            self.checks.require(isinstance(inv.get("token"), str),
                                "POST /v1/rooms/{id}/invites: a member token")
            tmp = a.invite_out + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"room": room["room"], "token": inv["token"]}, f)
            os.replace(tmp, a.invite_out)
            self.result["room"] = room["room"]
            return room["token"]
        # Wait for the creator's invite.
        while not os.path.exists(a.token_file):
            await asyncio.sleep(0.1)
        with open(a.token_file) as f:
            inv = json.load(f)
        self.result["room"] = inv["room"]
        return inv["token"]

    async def credentials(self, token):
        c = await api(self.args.api, "/v1/credentials", {}, token=token,
                      origin=self.args.origin)
        user = c.get("username", "")
        m = re.fullmatch(r"(\d+):(.+)", user) if isinstance(user, str) else None
        self.checks.require(m and int(m.group(1)) > time.time(),
                            "credentials: username %r is expiry:user with a future expiry" % user)
        try:
            raw = base64.b64decode(c.get("credential", ""), validate=True)
        except (ValueError, TypeError):
            raw = b""
        self.checks.require(len(raw) == 20,
                            "credentials: credential is base64 of a 20-byte HMAC-SHA1")
        self.checks.check(c.get("iceTransportPolicy") == "relay",
                          "credentials: iceTransportPolicy is %r (want 'relay')" %
                          c.get("iceTransportPolicy"))
        servers = []
        for s in c.get("iceServers") or []:
            urls = s.get("urls")
            servers.append(RTCIceServer(urls=urls, username=s.get("username"),
                                        credential=s.get("credential")))
        turn = [s for s in servers
                if any(u.startswith("turn:") for u in
                       (s.urls if isinstance(s.urls, list) else [s.urls]))]
        self.checks.require(turn, "credentials: iceServers lists a turn: URL (%s)" %
                            [s.urls for s in servers])
        return servers

    async def join(self, token):
        url = self.args.api.replace("http://", "ws://", 1).replace(
            "https://", "wss://", 1) + "/v1/ws"
        self.ws = await websockets.connect(url, origin=self.args.origin,
                                           open_timeout=10, max_size=1 << 16,
                                           compression=None)
        await self.send({"type": "join", "token": token})
        m = await self.recv()
        if m["type"] == "error":
            raise CheckFailed("join refused: %r" % m)
        self.checks.require(
            m["type"] == "joined" and re.fullmatch(r"[0-9a-f]{16}", str(m.get("peer", ""))),
            "joined as peer %s (role %s, peers %s)" %
            (m.get("peer"), m.get("role"), m.get("peers")))
        self.result["peer"] = m["peer"]
        self.result["role"] = m.get("role")
        if m.get("peers"):
            self.remote = m["peers"][0]
            return True
        while True:
            m = await self.recv()
            if m["type"] == "peer-joined":
                self.remote = m["peer"]
                say("peer %s joined" % self.remote)
                return False
            if m["type"] == "error":
                raise CheckFailed("server error while waiting: %r" % m)
            if m["type"] != "pong":
                raise CheckFailed("unexpected %r before peer-joined" % m)

    def make_pc(self, servers):
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        self.tone = ToneTrack(self.args.tone)
        t = pc.addTransceiver(self.tone, direction="sendrecv")
        if self.args.opus_only:
            opus = [c for c in RTCRtpSender.getCapabilities("audio").codecs
                    if c.mimeType.lower() == "audio/opus"]
            t.setCodecPreferences(opus)
        force_relay(pc)

        @pc.on("track")
        def on_track(track):
            if track.kind == "audio" and self.record_task is None:
                say("remote audio track")
                self.record_task = asyncio.ensure_future(
                    self.recorder.run(track))

        @pc.on("iceconnectionstatechange")
        def on_ice():
            say("ICE %s" % pc.iceConnectionState)
            if pc.iceConnectionState == "failed":
                self.ice_failed.set()

        @pc.on("connectionstatechange")
        def on_conn():
            say("connection %s" % pc.connectionState)
            if pc.connectionState == "connected":
                self.connected.set()
            elif pc.connectionState == "failed":
                self.ice_failed.set()

        return pc

    def log_sdp(self, what, sdp):
        if self.args.log_sdp:
            say("--- %s:\n%s--- end of %s" % (what, sdp, what))

    def check_remote_sdp(self, sdp, kind):
        self.log_sdp(kind + " from the server", sdp)
        cands = sdp_candidates(sdp)
        self.result["remote_sdp_candidates"] = cands
        self.checks.check(cands, "%s from the server carries candidates (%d)" %
                          (kind, len(cands)))
        bad = [c for c in cands
               if c["type"] != "relay" or not in_relay(c["ip"], c["port"], self.args)]
        self.checks.check(not bad, "%s: every candidate is relay on %s:%d-%d (others: %s)" %
                          (kind, self.args.relay_ip, self.args.port_min,
                           self.args.port_max, bad))
        codecs = sdp_audio_codecs(sdp)
        self.result["remote_audio_codecs"] = codecs
        self.checks.check(codecs and codecs[0] == "opus" and
                          all(c in ("opus", "telephone-event") for c in codecs),
                          "%s: audio payload types %s are Opus" % (kind, codecs))

    async def on_message(self, m):
        t = m["type"]
        if t == "offer" and not self.offerer:
            if m.get("from") != self.remote:
                raise CheckFailed("offer from %r, not %r" % (m.get("from"), self.remote))
            self.check_remote_sdp(m["sdp"], "offer")
            await self.pc.setRemoteDescription(
                RTCSessionDescription(sdp=m["sdp"], type="offer"))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            self.result["local_sdp_candidates"] = sdp_candidates(
                self.pc.localDescription.sdp)
            self.log_sdp("our answer", self.pc.localDescription.sdp)
            await self.send({"type": "answer", "to": self.remote,
                             "sdp": self.pc.localDescription.sdp})
            say("answer sent")
        elif t == "answer" and self.offerer and self.answer is None:
            if m.get("from") != self.remote:
                raise CheckFailed("answer from %r, not %r" % (m.get("from"), self.remote))
            self.answer = m["sdp"]
            self.check_remote_sdp(m["sdp"], "answer")
            await self.pc.setRemoteDescription(
                RTCSessionDescription(sdp=m["sdp"], type="answer"))
        elif t == "candidate":
            c = m.get("candidate")
            # aiortc puts all its candidates and end-of-candidates in the
            # SDP; trickled ones come from other peers (browsers).
            if c and c.get("candidate"):
                cand = candidate_from_sdp(c["candidate"].split(":", 1)[1])
                cand.sdpMid = c.get("sdpMid")
                cand.sdpMLineIndex = c.get("sdpMLineIndex")
                self.checks.check(cand.type == "relay" and in_relay(cand.ip, cand.port, self.args),
                                  "trickled candidate %s %s:%d is relay in range" %
                                  (cand.type, cand.ip, cand.port))
                await self.pc.addIceCandidate(cand)
        elif t == "peer-left":
            if m.get("peer") == self.remote:
                say("peer %s left" % self.remote)
                self.peer_left.set()
        elif t == "error":
            self.server_error = m
            say("server error: %r" % m)
            self.server_error_seen.set()
        elif t != "pong":
            say("ignored %r" % m)

    async def dispatch(self):
        try:
            while True:
                await self.on_message(await self.recv())
        except websockets.ConnectionClosed as e:
            say("signaling closed: %s" % e)

    async def call(self):
        a = self.args
        token = await self.tokens()
        servers = await self.credentials(token)
        self.offerer = await self.join(token)
        self.result["offerer"] = self.offerer
        self.pc = self.make_pc(servers)
        dispatcher = asyncio.ensure_future(self.dispatch())
        if self.offerer:
            await self.pc.setLocalDescription(await self.pc.createOffer())
            self.result["local_sdp_candidates"] = sdp_candidates(
                self.pc.localDescription.sdp)
            self.log_sdp("our offer", self.pc.localDescription.sdp)
            await self.send({"type": "offer", "to": self.remote,
                             "sdp": self.pc.localDescription.sdp})
            say("offer sent")

        # Wait for the recording, or for something that ends the call.
        waits = {
            "recorded": asyncio.ensure_future(self.recorder.done.wait()),
            "peer-left": asyncio.ensure_future(self.peer_left.wait()),
            "ice-failed": asyncio.ensure_future(self.ice_failed.wait()),
            "server-error": asyncio.ensure_future(self.server_error_seen.wait()),
            "signaling-closed": dispatcher,
        }
        done, _ = await asyncio.wait(waits.values(),
                                     return_when=asyncio.FIRST_COMPLETED)
        for name, fut in waits.items():
            if fut in done:
                break
        if dispatcher.done() and dispatcher.exception():
            raise dispatcher.exception()
        for fut in waits.values():
            if fut is not dispatcher and not fut.done():
                fut.cancel()
        if self.server_error:
            self.checks.check(False, "no error from the server (got %r)" % self.server_error)
        self.checks.check(name == "recorded" and not self.recorder.ended and
                          self.recorder.error is None,
                          "recording finished (ended by: %s%s%s)" %
                          (name, ", track ended" if self.recorder.ended else "",
                           ", " + self.recorder.error if self.recorder.error else ""))

        self.check_codec()
        self.check_path()
        self.check_audio()

        # Keep sending for the other side, which may still be listening,
        # until it leaves or the linger time is over.
        if not self.peer_left.is_set():
            try:
                await asyncio.wait_for(self.peer_left.wait(), a.linger)
            except asyncio.TimeoutError:
                pass
        self.result["tone_frames_sent"] = self.tone.frames
        try:
            await self.send({"type": "leave"})
        except websockets.ConnectionClosed:
            pass
        dispatcher.cancel()

    def check_codec(self):
        """What our sender encodes with: the first of the transceiver's
        negotiated codecs (aiortc 1.4 keeps them in the private _codecs;
        RTCRtpSender.send() is given them and encodes with the first)."""
        for t in self.pc.getTransceivers():
            codecs = [c.mimeType.lower() for c in t._codecs]
            self.result["send_codec"] = codecs[0] if codecs else None
            self.checks.check(codecs and codecs[0] == "audio/opus",
                              "sending %s (negotiated %s)" %
                              (codecs[0] if codecs else None, codecs))

    def check_path(self):
        pairs = nominated_pairs(self.pc)
        self.result["nominated"] = [
            {"component": comp,
             "local": "%s %s:%d" % (l.type, l.host, l.port),
             "remote": "%s %s:%d" % (r.type, r.host, r.port)}
            for comp, l, r in pairs]
        self.checks.check(pairs, "ICE nominated a pair (%s)" % self.result["nominated"])
        for comp, l, r in pairs:
            self.checks.check(l.type == "relay" and in_relay(l.host, l.port, self.args),
                              "component %d: local candidate %s %s:%d is our relay on sotto" %
                              (comp, l.type, l.host, l.port))
            self.checks.check(r.type == "relay" and in_relay(r.host, r.port, self.args),
                              "component %d: remote candidate %s %s:%d is a relay on sotto" %
                              (comp, r.type, r.host, r.port))

    def check_audio(self):
        a = self.args
        st = self.recorder.stats()
        self.result["received"] = st
        say("received %(frames)d frames, %(audio_s).2f s of audio over %(wall_s).2f s "
            "(sender's clock %(rtp_span_s).2f s, %(missing_frames)d frames missing)" % st)
        self.checks.check(st["audio_s"] >= a.min_seconds and st["wall_s"] >= a.min_seconds - 0.1,
                          "received audio for >= %.1f s (%.2f s of audio, %.2f s wall)" %
                          (a.min_seconds, st["audio_s"], st["wall_s"]))
        sent = st["frames"] + st["missing_frames"]
        self.checks.check(sent and st["missing_frames"] <= 0.2 * sent,
                          "at most 20%% of frames missing (%d of %d)" %
                          (st["missing_frames"], sent))
        an = analyze(self.recorder.audio(), self.recorder.rate or RATE,
                     a.expect, a.tone) if st["frames"] else None
        self.result["analysis"] = an
        if an is None:
            self.checks.check(False, "enough audio to analyze")
            return
        say("measured: dominant %.2f Hz, level %.1f dBFS, %g Hz at %.1f dB and own %g Hz "
            "at %.1f dB relative to the peak, over %.2f s" %
            (an["dominant_hz"], an["rms_dbfs"], a.expect, an["expect_rel_db"],
             a.tone, an["own_rel_db"], an["analyzed_s"]))
        self.checks.check(an["rms_dbfs"] > SILENCE_DBFS,
                          "not silence (%.1f dBFS > %.0f)" % (an["rms_dbfs"], SILENCE_DBFS))
        self.checks.check(abs(an["dominant_hz"] - a.expect) <= a.tolerance,
                          "dominant frequency %.2f Hz is %g +- %g Hz" %
                          (an["dominant_hz"], a.expect, a.tolerance))
        self.checks.check(an["own_rel_db"] <= -OWN_REJECT_DB,
                          "own tone %g Hz absent (%.1f dB <= -%.0f dB)" %
                          (a.tone, an["own_rel_db"], OWN_REJECT_DB))

    async def close(self):
        if self.pc is not None:
            await self.pc.close()
        if self.record_task is not None:
            self.record_task.cancel()
        if self.ws is not None:
            await self.ws.close()


async def run(args):
    peer = Peer(args)
    err = None
    try:
        await asyncio.wait_for(peer.call(), args.timeout)
    except asyncio.TimeoutError:
        err = "no result within %g s" % args.timeout
    except CheckFailed as e:
        err = str(e)
    except (OSError, websockets.WebSocketException) as e:
        err = "%s: %s" % (type(e).__name__, e)
    except Exception as e:  # aiortc refusing an SDP, a bug here: still a RESULT
        traceback.print_exc()
        err = "%s: %s" % (type(e).__name__, e)
    if err:
        peer.checks.check(False, err)
        if peer.recorder.frames and "received" not in peer.result:
            peer.result["received"] = peer.recorder.stats()
    try:
        await asyncio.wait_for(peer.close(), 5)
    except asyncio.TimeoutError:
        say("close took more than 5 s")
    peer.result["checks"] = peer.checks.items
    peer.result["pass"] = peer.checks.passed
    print("RESULT " + json.dumps(peer.result), flush=True)
    say("PASS" if peer.checks.passed else "FAIL")
    return 0 if peer.checks.passed else 1


def main():
    global NAME
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--api", required=True, help="sottod's HTTP base URL, e.g. http://127.0.0.1:8080")
    p.add_argument("--origin", help="Origin header for HTTP and the WebSocket (default: none)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--create", action="store_true",
                   help="create the room and mint an invite into --invite-out")
    g.add_argument("--token-file", help="join with the invite in this file (waits for it)")
    p.add_argument("--invite-out", help="where --create writes {room, token}")
    p.add_argument("--tone", type=float, required=True, help="frequency to send (Hz)")
    p.add_argument("--expect", type=float, required=True, help="frequency to find (Hz)")
    p.add_argument("--tolerance", type=float, default=10.0, help="Hz (default 10)")
    p.add_argument("--seconds", type=float, default=4.0,
                   help="audio to record (default 4)")
    p.add_argument("--min-seconds", type=float, default=3.0,
                   help="audio that must arrive (default 3)")
    p.add_argument("--linger", type=float, default=4.0,
                   help="keep sending this long after recording, unless the other leaves")
    p.add_argument("--relay-ip", default="127.0.0.1", help="sotto's relay address")
    p.add_argument("--relay-ports", default="49152-65535", help="sotto's relay port range MIN-MAX")
    p.add_argument("--timeout", type=float, default=45.0, help="for the whole call (s)")
    p.add_argument("--name", default="peer")
    p.add_argument("--opus-only", action="store_true",
                   help="offer/answer Opus only (default: aiortc's Opus, PCMU "
                   "and PCMA, and the server's SDP policy must leave Opus)")
    p.add_argument("--log-sdp", action="store_true",
                   help="print the SDP sent and received on stderr")
    p.add_argument("-v", "--verbose", action="store_true", help="aiortc/aioice debug logs")
    args = p.parse_args()
    if args.create and not args.invite_out:
        p.error("--create needs --invite-out")
    m = re.fullmatch(r"(\d+)-(\d+)", args.relay_ports)
    if not m:
        p.error("--relay-ports must be MIN-MAX")
    args.port_min, args.port_max = int(m.group(1)), int(m.group(2))
    if args.seconds < args.min_seconds:
        p.error("--seconds must be >= --min-seconds")
    args.api = args.api.rstrip("/")
    NAME = args.name
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(name)s: %(message)s")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
