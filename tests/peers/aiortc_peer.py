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

Gateway mode (--gateway, docs/signaling.md "Gateway mode"): --create
makes a room with "mode": "gateway"; the peer takes no TURN credentials
(no iceServers at all: sotto is an ICE-lite endpoint with a host
candidate), offers to "gateway" one sendrecv audio transceiver (the tone)
plus slots-1 recvonly ones (slots from the "joined" message), all BUNDLEd,
and records every remote track on its own. Checks:
  - the room is a gateway room ("mode" on create and join, "slots");
  - our offer carries the ssrc-audio-level extension, and the answer
    keeps it;
  - the answer: a=ice-lite, a=setup:passive, a sha-256 fingerprint, Opus
    only, udp host candidates all on --gateway-addr, one audio m-line per
    slot (the first sendrecv, the others sendonly), each with one a=ssrc
    with cname sotto, all SSRCs distinct;
  - ICE nominated a pair whose remote candidate is --gateway-addr (and,
    with --local-ip, whose local one is ours there);
  - DTLS connected, with an allowed SRTP profile (aiortc 1.4 offers only
    SRTP_AES128_CM_SHA1_80; SRTP_AEAD_AES_128_GCM is allowed too);
  - every tone of --expect (a list) is on some slot, with at least
    --min-seconds of audio on that slot and at most -6 dB below that
    slot's peak, and --tone, our own, is at least 20 dB below the peak on
    every slot that carries sound (sotto never sends us our own voice),
    and no more slots carry sound than there are tones to find;
  - no gateway-leg-ended and no error from the server.
With --signal-netns, the HTTP and WebSocket sockets are made inside that
network namespace (setns(2) around socket(2) in a worker thread), while
the media sockets stay in the namespace the peer runs in: the dpdk tests
reach sottod's signaling on a kernel socket in its namespace and its media
on the DPDK port.

Exit status: 0 every check passed, 1 a check failed or the call did not
happen in time, 2 bad usage, 77 aiortc (or numpy, websockets) is missing.
"""

import argparse
import asyncio
import base64
import ctypes
import fractions
import http.client
import json
import logging
import math
import os
import re
import socket
import sys
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

# Log times count from here: aiortc's import alone takes a second or more.
T0 = time.monotonic()

try:
    import numpy as np
    import websockets
    import aioice.ice
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

# Gateway mode: a tone counts as found on a slot at most this far below
# the slot's peak (dB).
FOUND_DB = 6.0
# SRTP profiles sotto may pick (RFC 7714, RFC 5764 names as OpenSSL has them).
SRTP_ALLOWED = ("SRTP_AEAD_AES_128_GCM", "SRTP_AES128_CM_SHA1_80")

# --signal-netns: where the HTTP and WebSocket sockets are made (None: here).
SIGNAL_NETNS = None
CLONE_NEWNET = 0x40000000


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


def signal_socket(family):
    """A TCP socket in the --signal-netns namespace. setns(2) moves only
    the calling thread, and a socket stays in the namespace it was made in,
    so this thread goes there for socket(2) and comes straight back; call
    it from a worker thread (asyncio.to_thread), never from the event
    loop's, where aiortc makes its media sockets."""
    if SIGNAL_NETNS is None:
        return socket.socket(family, socket.SOCK_STREAM)
    libc = ctypes.CDLL(None, use_errno=True)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(SIGNAL_NETNS, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if libc.setns(target, CLONE_NEWNET) != 0:
                e = ctypes.get_errno()
                raise OSError(e, "setns(%s): %s" % (SIGNAL_NETNS, os.strerror(e)))
            try:
                return socket.socket(family, socket.SOCK_STREAM)
            finally:
                if libc.setns(own, CLONE_NEWNET) != 0:
                    # A thread left in the wrong namespace could make
                    # anything there later: give up at once.
                    say("FAIL: cannot return from %s: %s" %
                        (SIGNAL_NETNS, os.strerror(ctypes.get_errno())))
                    os._exit(1)
        finally:
            os.close(target)
    finally:
        os.close(own)


def signal_connect(host, port, timeout):
    """A connected TCP socket to host:port in the signaling namespace."""
    err = None
    for fam, _, _, _, addr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                 flags=socket.AI_NUMERICHOST):
        s = signal_socket(fam)
        try:
            s.settimeout(timeout)
            s.connect(addr)
            return s
        except OSError as e:
            s.close()
            err = e
    raise err or OSError("no address for %s" % host)


class SignalHTTPConnection(http.client.HTTPConnection):
    def connect(self):
        self.sock = signal_connect(self.host, self.port, self.timeout)


def http_post(base, path, body, token=None, origin=None):
    data = json.dumps(body if body is not None else {}).encode()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    if origin:
        headers["Origin"] = origin
    if SIGNAL_NETNS is not None:
        u = urllib.parse.urlsplit(base)
        if u.scheme != "http":
            raise CheckFailed("--signal-netns takes an http:// API URL")
        conn = SignalHTTPConnection(u.hostname, u.port or 80, timeout=10)
        try:
            conn.request("POST", u.path + path, body=data, headers=headers)
            r = conn.getresponse()
            status, raw = r.status, r.read()
        finally:
            conn.close()
    else:
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


def analyze_tones(pcm, rate, tones, own):
    """analyze() for gateway mode: the dominant frequency of one slot and
    the level of each tone in `tones` and of our own, relative to the peak."""
    base = analyze(pcm, rate, tones[0] if tones else own, own)
    if base is None:
        return None
    skip = int(WARMUP_S * rate)
    x = pcm[skip:] if len(pcm) > 2 * skip else pcm
    x = x - x.mean()
    w = np.hanning(len(x))
    spec = np.abs(np.fft.rfft(x * w))
    power = spec * spec
    freqs = np.fft.rfftfreq(len(x), 1.0 / rate)
    p_peak = band_power(power, freqs, base["dominant_hz"])
    base.pop("expect_rel_db", None)
    base["tones_rel_db"] = {
        "%g" % f: round(db(band_power(power, freqs, f)) - db(p_peak), 1)
        for f in tones}
    return base


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


def sdp_sections(sdp):
    """(session lines, [media section lines]) with the m= line first."""
    session, media = [], []
    for line in sdp.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("m="):
            media.append([line])
        elif media:
            media[-1].append(line)
        else:
            session.append(line)
    return session, media


def sdp_attr(lines, name):
    """Values of a=name[:value] in lines ("" for a flag)."""
    out = []
    for line in lines:
        if line == "a=" + name:
            out.append("")
        elif line.startswith("a=%s:" % name):
            out.append(line[len(name) + 3:])
    return out


def parse_addr(text):
    """"IP:PORT" or "[IPv6]:PORT" -> (ip, port)."""
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)|([0-9.]+):(\d+)", text)
    if not m:
        raise ValueError("not IP:PORT or [IPv6]:PORT: %r" % text)
    ip = m.group(1) or m.group(3)
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    try:
        ip = socket.inet_ntop(fam, socket.inet_pton(fam, ip))
    except OSError:
        raise ValueError("not an IP address: %r" % ip)
    return ip, int(m.group(2) or m.group(4))


def same_ip(a, b):
    try:
        fa = socket.AF_INET6 if ":" in a else socket.AF_INET
        fb = socket.AF_INET6 if ":" in b else socket.AF_INET
        return fa == fb and socket.inet_pton(fa, a) == socket.inet_pton(fb, b)
    except OSError:
        return False


def is_gateway(ip, port, args):
    return any(same_ip(ip, gip) and port == gport for gip, gport in args.gateway_addrs)


def audio_first(media):
    """The first audio section's lines (the BUNDLE tag here)."""
    for m in media:
        if m[0].startswith("m=audio "):
            return m
    return []


def srtp_profile(pc):
    """The SRTP protection profile DTLS negotiated, from OpenSSL's
    SSL_get_selected_srtp_profile on aiortc's pyOpenSSL connection."""
    try:
        from OpenSSL._util import ffi, lib
        t = pc.getTransceivers()[0].sender.transport
        p = lib.SSL_get_selected_srtp_profile(t.ssl._ssl)
        if p == ffi.NULL:
            return None
        return ffi.string(p.name).decode()
    except Exception as e:  # private API of aiortc and pyOpenSSL
        say("cannot read the SRTP profile: %s: %s" % (type(e).__name__, e))
        return "unknown"


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
        # gateway mode
        self.slots = None
        self.peers = set()            # the others in the room now
        self.slot_recorders = []      # one per receiving transceiver, in order
        self.slot_tasks = []
        self.answer_seen = asyncio.Event()
        self.leg_ended = None
        self.leg_ended_seen = asyncio.Event()

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
            body = {"max_participants": 2}
            if a.gateway:
                body = {"max_participants": a.max_participants, "mode": "gateway"}
            room = await api(a.api, "/v1/rooms", body, origin=a.origin, want=201)
            self.checks.require(
                re.fullmatch(r"[0-9a-f]{32}", str(room.get("room", ""))) and
                isinstance(room.get("token"), str),
                "POST /v1/rooms: a 32-hex room id and a token")
            if a.gateway:
                self.checks.require(room.get("mode") == "gateway",
                                    "POST /v1/rooms: mode %r (want 'gateway')" %
                                    room.get("mode"))
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
        kw = {}
        if SIGNAL_NETNS is not None:
            u = urllib.parse.urlsplit(url)
            sock = await asyncio.to_thread(signal_connect, u.hostname,
                                           u.port or 80, 10)
            sock.setblocking(False)
            kw["sock"] = sock
        self.ws = await websockets.connect(url, origin=self.args.origin,
                                           open_timeout=10, max_size=1 << 16,
                                           compression=None, **kw)
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
        if self.args.gateway:
            slots = m.get("slots")
            self.checks.require(m.get("mode") == "gateway",
                                "joined: mode %r (want 'gateway')" % m.get("mode"))
            self.checks.require(isinstance(slots, int) and 1 <= slots <= 16,
                                "joined: slots %r is a number of slots" % slots)
            if self.args.slots:
                self.checks.check(slots == self.args.slots,
                                  "joined: %d slots (want %d)" % (slots, self.args.slots))
            self.slots = slots
            self.result["slots"] = slots
            self.peers = set(m.get("peers") or [])
            return True
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

    # --- gateway mode ---------------------------------------------------

    def make_gateway_pc(self):
        """One peer connection to sotto: no ICE servers (sotto's host
        candidate is all there is), our tone on a sendrecv transceiver and
        slots-1 recvonly ones, BUNDLEd (aiortc always offers BUNDLE)."""
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.tone = ToneTrack(self.args.tone)
        trs = [pc.addTransceiver(self.tone, direction="sendrecv")]
        for _ in range(self.slots - 1):
            trs.append(pc.addTransceiver("audio", direction="recvonly"))
        if self.args.opus_only:
            opus = [c for c in RTCRtpSender.getCapabilities("audio").codecs
                    if c.mimeType.lower() == "audio/opus"]
            for t in trs:
                t.setCodecPreferences(opus)
        self.slot_recorders = [None] * len(trs)

        @pc.on("track")
        def on_track(track):
            for i, t in enumerate(pc.getTransceivers()):
                if t.receiver.track is track and self.slot_recorders[i] is None:
                    say("remote audio track on m-line %d (mid %s)" % (i, t.mid))
                    rec = Recorder(math.inf)
                    self.slot_recorders[i] = rec
                    self.slot_tasks.append(asyncio.ensure_future(rec.run(track)))

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

    def check_gateway_answer(self, sdp):
        a = self.args
        self.log_sdp("answer from the gateway", sdp)
        session, media = sdp_sections(sdp)
        all_lines = session + [l for m in media for l in m]
        self.checks.check(sdp_attr(all_lines, "ice-lite"), "answer: a=ice-lite")
        setups = set(sdp_attr(all_lines, "setup"))
        self.checks.check(setups == {"passive"}, "answer: a=setup %s (want passive)" %
                          sorted(setups))
        fps = [v.split() for v in sdp_attr(all_lines, "fingerprint")]
        self.checks.check(fps and all(f[0].lower() == "sha-256" and
                                      re.fullmatch(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){31}", f[1])
                                      for f in fps if len(f) == 2),
                          "answer: sha-256 fingerprint(s) %s" % [f[0] for f in fps])
        cands = sdp_candidates(sdp)
        self.result["remote_sdp_candidates"] = cands
        self.checks.check(cands, "answer carries candidates (%d)" % len(cands))
        bad = [c for c in cands if c["type"] != "host" or c["proto"] != "udp" or
               not is_gateway(c["ip"], c["port"], a)]
        self.checks.check(not bad, "answer: every candidate is udp host on %s (others: %s)" %
                          (a.gateway_addr, bad))
        ext = [v for v in sdp_attr(audio_first(media), "extmap")
               if v.split()[-1] == "urn:ietf:params:rtp-hdrext:ssrc-audio-level"]
        self.checks.check(ext, "answer: the first m-line keeps the ssrc-audio-level "
                          "extension (%s)" % ext)
        codecs = sdp_audio_codecs(sdp)
        self.result["remote_audio_codecs"] = codecs
        self.checks.check(codecs and all(c == "opus" for c in codecs),
                          "answer: audio payload types %s are Opus" % codecs)
        audio = [m for m in media if m[0].startswith("m=audio ")]
        self.checks.check(len(audio) == self.slots,
                          "answer: %d audio m-lines (want %d)" % (len(audio), self.slots))
        ssrcs = []
        for i, m in enumerate(audio):
            if m[0].split()[1] == "0":
                self.checks.check(False, "answer: m-line %d is rejected (port 0)" % i)
                continue
            dirs = [l[2:] for l in m if l in ("a=sendrecv", "a=sendonly", "a=recvonly",
                                              "a=inactive")]
            want = "sendrecv" if i == 0 else "sendonly"
            self.checks.check(dirs == [want], "answer: m-line %d is %s (want %s)" %
                              (i, dirs, want))
            cn = [v.split(None, 1) for v in sdp_attr(m, "ssrc")]
            cn = [int(v[0]) for v in cn if len(v) == 2 and v[1] == "cname:sotto"]
            self.checks.check(len(cn) == 1, "answer: m-line %d has one a=ssrc with cname:sotto (%s)" %
                              (i, cn))
            ssrcs.extend(cn)
        self.checks.check(len(set(ssrcs)) == len(ssrcs),
                          "answer: the slot SSRCs %s are distinct" % ssrcs)
        self.result["slot_ssrcs"] = ssrcs

    async def on_gateway_message(self, m):
        t = m["type"]
        if t == "answer":
            if m.get("from") != "gateway":
                raise CheckFailed("answer from %r, not 'gateway'" % m.get("from"))
            if self.answer is not None:
                say("ignored a second answer")
                return
            self.answer = m["sdp"]
            self.check_gateway_answer(m["sdp"])
            await self.pc.setRemoteDescription(
                RTCSessionDescription(sdp=m["sdp"], type="answer"))
            self.answer_seen.set()
        elif t == "candidate":
            # sotto is ICE-lite: its one candidate is in the answer.
            say("ignored a trickled candidate from %r" % m.get("from"))
        elif t == "peer-joined":
            self.peers.add(m.get("peer"))
            say("peer %s joined (%d others)" % (m.get("peer"), len(self.peers)))
        elif t == "peer-left":
            self.peers.discard(m.get("peer"))
            say("peer %s left (%d others)" % (m.get("peer"), len(self.peers)))
            if not self.peers:
                self.peer_left.set()
        elif t == "gateway-leg-ended":
            self.leg_ended = m
            say("gateway leg ended: %r" % m)
            self.leg_ended_seen.set()
        elif t == "error":
            self.server_error = m
            say("server error: %r" % m)
            self.server_error_seen.set()
        elif t != "pong":
            say("ignored %r" % m)

    def recordings_done(self):
        """Enough audio for the analysis: as many slots as tones we expect
        each hold --seconds."""
        want = len(self.args.expect_list)
        full = [r for r in self.slot_recorders
                if r is not None and r.rate and r.samples >= self.args.seconds * r.rate]
        return len(full) >= want

    async def wait_recordings(self):
        while not self.recordings_done():
            await asyncio.sleep(0.1)

    async def call_gateway(self):
        a = self.args
        token = await self.tokens()
        await self.join(token)
        self.result["offerer"] = True
        self.pc = self.make_gateway_pc()
        dispatcher = asyncio.ensure_future(self.dispatch())
        await self.pc.setLocalDescription(await self.pc.createOffer())
        offer = self.pc.localDescription.sdp
        self.result["local_sdp_candidates"] = sdp_candidates(offer)
        self.log_sdp("our offer", offer)
        self.checks.check("urn:ietf:params:rtp-hdrext:ssrc-audio-level" in offer,
                          "our offer has the ssrc-audio-level extension")
        await self.send({"type": "offer", "to": "gateway", "sdp": offer})
        say("offer sent to the gateway")

        waits = {
            "recorded": asyncio.ensure_future(self.wait_recordings()),
            "ice-failed": asyncio.ensure_future(self.ice_failed.wait()),
            "server-error": asyncio.ensure_future(self.server_error_seen.wait()),
            "leg-ended": asyncio.ensure_future(self.leg_ended_seen.wait()),
            "signaling-closed": dispatcher,
        }
        try:
            done, _ = await asyncio.wait(waits.values(), timeout=a.record_timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in waits.values():
                if fut is not dispatcher and not fut.done():
                    fut.cancel()
        name = "record-timeout"
        for n, fut in waits.items():
            if fut in done:
                name = n
                break
        if dispatcher.done() and not dispatcher.cancelled() and dispatcher.exception():
            raise dispatcher.exception()
        if self.server_error:
            self.checks.check(False, "no error from the server (got %r)" % self.server_error)
        if self.leg_ended:
            self.checks.check(False, "no gateway-leg-ended (got %r)" % self.leg_ended)
        self.checks.check(self.answer is not None, "an answer from the gateway")
        self.checks.check(name == "recorded",
                          "recording finished (ended by: %s)" % name)

        self.check_codec()
        self.check_gateway_transport()
        self.check_gateway_audio()

        # Keep sending for the others, who may still be listening.
        if a.sync_dir:
            with open(os.path.join(a.sync_dir, a.name + ".done"), "w") as f:
                f.write("done\n")
        deadline = time.monotonic() + a.linger
        while time.monotonic() < deadline and self.peers:
            if a.sync_dir and a.group and len([f for f in os.listdir(a.sync_dir)
                                               if f.endswith(".done")]) >= a.group:
                break
            await asyncio.sleep(0.1)
        self.result["tone_frames_sent"] = self.tone.frames
        try:
            await self.send({"type": "leave"})
        except websockets.ConnectionClosed:
            pass
        dispatcher.cancel()

    def check_gateway_transport(self):
        a = self.args
        pairs = nominated_pairs(self.pc)
        self.result["nominated"] = [
            {"component": comp,
             "local": "%s %s:%d" % (l.type, l.host, l.port),
             "remote": "%s %s:%d" % (r.type, r.host, r.port)}
            for comp, l, r in pairs]
        self.checks.check(len(pairs) == 1, "ICE nominated one pair (BUNDLE, rtcp-mux): %s" %
                          self.result["nominated"])
        for comp, l, r in pairs:
            self.checks.check(is_gateway(r.host, r.port, a),
                              "component %d: remote candidate %s %s:%d is the gateway (%s)" %
                              (comp, r.type, r.host, r.port, a.gateway_addr))
            if a.local_ip:
                self.checks.check(same_ip(l.host, a.local_ip),
                                  "component %d: local candidate %s %s:%d is on %s" %
                                  (comp, l.type, l.host, l.port, a.local_ip))
        states = sorted({t.sender.transport.state for t in self.pc.getTransceivers()})
        self.result["dtls_state"] = states
        self.checks.check(states == ["connected"], "DTLS %s (want connected)" % states)
        prof = srtp_profile(self.pc)
        self.result["srtp_profile"] = prof
        self.checks.check(prof in SRTP_ALLOWED, "SRTP profile %s is one of %s" %
                          (prof, ", ".join(SRTP_ALLOWED)))

    def check_gateway_audio(self):
        a = self.args
        tones = a.expect_list
        slots = []
        for i, rec in enumerate(self.slot_recorders):
            st = rec.stats() if rec is not None else Recorder(0).stats()
            an = None
            if rec is not None and rec.frames:
                an = analyze_tones(rec.audio(), rec.rate or RATE, tones, a.tone)
            slots.append({"slot": i, "received": st, "analysis": an})
            if an:
                say("slot %d: %d frames, %.2f s of audio over %.2f s (%d missing); "
                    "dominant %.2f Hz, %.1f dBFS, tones %s dB, own %g Hz %.1f dB" %
                    (i, st["frames"], st["audio_s"], st["wall_s"], st["missing_frames"],
                     an["dominant_hz"], an["rms_dbfs"], an["tones_rel_db"], a.tone,
                     an["own_rel_db"]))
            else:
                say("slot %d: %d frames, nothing to analyze" % (i, st["frames"]))
        self.result["slots_received"] = slots
        sounding = [s for s in slots if s["analysis"] and
                    s["analysis"]["rms_dbfs"] > SILENCE_DBFS]
        for f in tones:
            where = [s for s in sounding
                     if s["analysis"]["tones_rel_db"]["%g" % f] >= -FOUND_DB and
                     s["received"]["audio_s"] >= a.min_seconds]
            self.checks.check(where, "%g Hz found on a slot with >= %.1f s of audio (%s)" %
                              (f, a.min_seconds,
                               ", ".join("slot %d: %.1f dB over %.2f s" %
                                         (s["slot"], s["analysis"]["tones_rel_db"]["%g" % f],
                                          s["received"]["audio_s"]) for s in sounding)
                               or "no slot carries sound"))
            for s in where:
                st = s["received"]
                sent = st["frames"] + st["missing_frames"]
                self.checks.check(st["missing_frames"] <= 0.2 * sent,
                                  "slot %d: at most 20%% of frames missing (%d of %d)" %
                                  (s["slot"], st["missing_frames"], sent))
        for s in sounding:
            self.checks.check(s["analysis"]["own_rel_db"] <= -OWN_REJECT_DB,
                              "slot %d: own tone %g Hz absent (%.1f dB <= -%.0f dB)" %
                              (s["slot"], a.tone, s["analysis"]["own_rel_db"], OWN_REJECT_DB))
        # sotto forwards only the others' voices: at most one slot per
        # other speaker carries sound.
        self.checks.check(len(sounding) <= len(tones),
                          "%d slot(s) carry sound, for %d other speaker(s)" %
                          (len(sounding), len(tones)))

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
        handler = self.on_gateway_message if self.args.gateway else self.on_message
        try:
            while True:
                await handler(await self.recv())
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
        # gateway mode: only the first transceiver sends
        trs = self.pc.getTransceivers()[:1] if self.args.gateway else self.pc.getTransceivers()
        for t in trs:
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
        for t in self.slot_tasks:
            t.cancel()
        if self.ws is not None:
            await self.ws.close()


async def run(args):
    peer = Peer(args)
    err = None
    try:
        await asyncio.wait_for(peer.call_gateway() if args.gateway else peer.call(),
                               args.timeout)
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
        if args.gateway and "slots_received" not in peer.result:
            peer.result["slots_received"] = [
                {"slot": i, "received": r.stats() if r else None}
                for i, r in enumerate(peer.slot_recorders)]
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
    p.add_argument("--expect", required=True,
                   help="frequency to find (Hz); gateway mode: a comma-separated list, "
                   "one per other speaker")
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
    g = p.add_argument_group("gateway mode")
    g.add_argument("--gateway", action="store_true",
                   help="a gateway-mode room: one leg to sotto, audio on slots")
    g.add_argument("--gateway-addr", help="sotto's gateway media address(es): IP:PORT or "
                   "[IPv6]:PORT, comma-separated")
    g.add_argument("--slots", type=int, help="the slots the room must have (default: any)")
    g.add_argument("--max-participants", type=int, default=3,
                   help="--create: the room's size (default 3)")
    g.add_argument("--local-ip", help="gather only this host address (aioice skips "
                   "loopback otherwise); the nominated pair must use it")
    g.add_argument("--signal-netns", help="make the HTTP and WebSocket sockets in this "
                   "network namespace (a /run/netns/NAME path; needs CAP_SYS_ADMIN)")
    g.add_argument("--sync-dir", help="write NAME.done here when recorded, and stop "
                   "lingering once --group peers have")
    g.add_argument("--group", type=int, help="peers writing to --sync-dir")
    args = p.parse_args()
    try:
        args.expect_list = [float(x) for x in args.expect.split(",") if x.strip()]
    except ValueError:
        p.error("--expect must be a number or a comma-separated list of numbers")
    if not args.expect_list:
        p.error("--expect names no frequency")
    if args.gateway:
        if not args.gateway_addr:
            p.error("--gateway needs --gateway-addr")
        try:
            args.gateway_addrs = [parse_addr(x.strip())
                                  for x in args.gateway_addr.split(",") if x.strip()]
        except ValueError as e:
            p.error("--gateway-addr: %s" % e)
        if args.local_ip:
            try:
                parse_addr(("[%s]:0" if ":" in args.local_ip else "%s:0") % args.local_ip)
            except ValueError:
                p.error("--local-ip: not an IP address")
        args.expect = args.expect_list
    elif len(args.expect_list) != 1:
        p.error("--expect takes one frequency without --gateway")
    else:
        args.expect = args.expect_list[0]
    if args.signal_netns:
        global SIGNAL_NETNS
        if not os.path.exists(args.signal_netns):
            p.error("--signal-netns: %s does not exist" % args.signal_netns)
        SIGNAL_NETNS = args.signal_netns
    if args.local_ip:
        local = args.local_ip
        aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: [local]
    # Gateway mode: stop waiting for audio early enough to report on it.
    args.record_timeout = max(5.0, args.timeout - args.linger - 5)
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
