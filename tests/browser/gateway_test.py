#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Three headless Chromiums in one gateway-mode room (web client, HTTP API,
WebSocket signaling, sotto's ICE-lite DTLS-SRTP gateway). Run by
tests/integration/gateway_browser.sh, which starts sottod with a gateway
section and passes its addresses.

    gateway_test.py --base http://127.0.0.1:18380 --gateway 127.0.0.1:18379 \\
        --slots 3 --tmpdir DIR

Each page's fake microphone plays its own tone from a WAV file (A 440 Hz,
B 550 Hz, C 660 Hz). Page A chooses a group call with one link for
everyone and starts it, B and C open A's invite link, see on the pre-join
screen that it is a group call (no microphone asked yet) and join. Then
every page
must show, from the web client's window.sotto (getStats):
  - the room in gateway mode with --slots slots, the other two as
    participants, the hop-by-hop notice instead of a verification code;
  - DTLS connected (the transport's dtlsState) with SRTP cipher
    AEAD_AES_128_GCM;
  - a selected candidate pair whose remote end is a host candidate on
    --gateway, and no other remote candidate at all (so no caller ever
    sees another caller's address); with --loopback-only, whose local end
    is a loopback address, with --local-address, whose local end is that
    address;
  - inbound-rtp audio on as many slots as there are other callers, with
    bytes and packets growing on each;
  - through Web Audio on the slots' <audio> elements, the other two tones
    and not its own (sotto never sends a caller its own voice).
With --leg-loss (the gateway's consent_timeout), B's Chromium is then
frozen (SIGSTOP) for longer than that: sotto must end B's leg for lack of
consent and tell B (gateway-leg-ended, consent_lost); once thawed, B must
offer again on its own and be back, sending and receiving, and A and C must
hear it again. Then C leaves and A and B must see it. No page may log a
CSP violation or an uncaught error.

Exit status: 0 pass, 1 fail, 77 skip.
"""

import argparse
import concurrent.futures
import math
import os
import signal
import struct
import sys
import time
import traceback
import urllib.parse
import wave

from sotto_browser import Failure, Page, Skip, log, redact, wait_for

TONES = {"a": 440, "b": 550, "c": 660}
# A tone counts as heard on a slot within this many dB of the slot's peak;
# our own must be at least OWN_DB below the peak of every slot with sound.
FOUND_DB = 6.0
OWN_DB = 20.0
# Slots quieter than this (dB of the summed band power, Web Audio dBFS
# scale) carry no sound.
SILENT_DB = -60.0

# Chromium pairs its loopback host candidates with sotto's 127.0.0.1
# only with this flag (RFC 8445 §5.1.1.1 keeps loopback out of ICE). Given
# only when --gateway is a loopback address: elsewhere (the dpdk driver's
# veth) a loopback candidate has nothing to pair with.
LOOPBACK_FLAGS = ["--allow-loopback-in-peer-connection"]

# Averages the power spectrum of every slot's <audio> for `seconds` through
# Web Audio and returns, per slot, the peak frequency and the levels of the
# given tones relative to it. Run by selenium (DevTools), not subject to
# the page's CSP.
ANALYSE_JS = r"""
const [tones, own, seconds, done] = arguments;
(async () => {
  const els = [...document.querySelectorAll('#slot-audio audio')];
  const ctx = new AudioContext();
  await ctx.resume();
  const slots = els.map((el) => {
    const an = ctx.createAnalyser();
    an.fftSize = 16384;
    an.smoothingTimeConstant = 0;
    ctx.createMediaStreamSource(el.srcObject).connect(an);
    return { id: el.id, an, acc: new Float64Array(an.frequencyBinCount), n: 0 };
  });
  const f = new Float32Array(16384 / 2);
  const steps = Math.round(seconds * 10);
  for (let k = 0; k < steps; k++) {
    await new Promise((r) => setTimeout(r, 100));
    for (const s of slots) {
      s.an.getFloatFrequencyData(f);
      for (let i = 0; i < f.length; i++)
        s.acc[i] += Math.pow(10, f[i] / 10);
      s.n++;
    }
  }
  const binHz = ctx.sampleRate / 16384;
  const band = (acc, hz) => {
    let p = 0;
    for (let i = Math.max(0, Math.floor((hz - 10) / binHz)); i <= Math.ceil((hz + 10) / binHz) && i < acc.length; i++)
      p += acc[i];
    return p;
  };
  const db = (x) => (x > 0 ? 10 * Math.log10(x) : -400);
  const out = slots.map((s) => {
    const acc = s.acc.map((x) => x / Math.max(1, s.n));
    let k = 0;
    for (let i = Math.floor(100 / binHz); i < Math.floor(4000 / binHz); i++)
      if (acc[i] > acc[k]) k = i;
    const peakHz = k * binHz;
    const peak = band(acc, peakHz);
    const rel = {};
    for (const t of tones)
      rel[t] = Math.round((db(band(acc, t)) - db(peak)) * 10) / 10;
    return { id: s.id, peakHz: Math.round(peakHz * 10) / 10, peakDb: Math.round(db(peak) * 10) / 10,
             tonesRelDb: rel, ownRelDb: Math.round((db(band(acc, own)) - db(peak)) * 10) / 10 };
  });
  await ctx.close();
  done({ sampleRate: ctx.sampleRate, slots: out });
})().catch((e) => done({ error: String(e) }));
"""


def write_tone(path, hz, seconds=10, rate=48000, level=0.3):
    """A mono 16-bit WAV of a sine tone; Chromium loops it as the fake
    microphone. A whole number of periods per file keeps the loop clean."""
    n = int(rate * seconds)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(
            struct.pack("<h", int(round(level * 32767 * math.sin(2 * math.pi * hz * i / rate))))
            for i in range(n)))


def is_loopback(addr):
    return isinstance(addr, str) and (addr == "::1" or addr.startswith("127."))


def parse_addr(spec):
    host, _, port = spec.rpartition(":")
    return host.strip("[]"), int(port)


def summary(name, st):
    log(f"{name}: state={st.get('state')} mode={st.get('mode')} slots={st.get('slots')} "
        f"role={st.get('role')} room={str(st.get('room'))[:8]} peer={st.get('peer')} "
        f"participants={st.get('participants')}")
    log(f"{name}: pair {st.get('localCandidateType')} {st.get('localAddress')}:{st.get('localPort')}"
        f" <-> {st.get('remoteCandidateType')} {st.get('remoteAddress')}:{st.get('remotePort')}, "
        f"ice {st.get('iceState')}; remote candidates {st.get('remoteCandidates')}")
    log(f"{name}: dtls {st.get('dtlsState')} (role {st.get('dtlsRole')}, {st.get('tlsVersion')}, "
        f"{st.get('dtlsCipher')}), srtp {st.get('srtpCipher')}, sent {st.get('bytesSent')} B")
    for s in st.get("inbound") or []:
        log(f"{name}:   slot {s.get('slot')} (mid {s.get('mid')}, ssrc {s.get('ssrc')}): "
            f"{s.get('bytesReceived')} B / {s.get('packetsReceived')} packets, "
            f"lost {s.get('packetsLost')}, level {s.get('audioLevel')}")


def check_console(pages):
    bad = []
    for page in pages:
        for line in page.collect_console():
            if "Content Security Policy" in line or "Uncaught" in line:
                bad.append(f"{page.name}: {line}")
    if bad:
        raise Failure("browser console: " + " | ".join(bad))


def receiving(st):
    """Slots with audio packets in."""
    return {s["slot"]: s for s in st.get("inbound") or [] if s.get("packetsReceived", 0) > 0}


def growing(page, seconds=1.5):
    """The slots whose packet count grows over `seconds`."""
    x = receiving(page.state())
    time.sleep(seconds)
    y = receiving(page.state())
    return sorted(k for k, v in y.items() if v["packetsReceived"] > x.get(k, {}).get("packetsReceived", 0))


def browser_pids(page):
    """The page's Chromium: the process whose command line names its
    profile (not chromedriver, which does not) and all its descendants."""
    parent, roots = {}, set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parent[int(d)] = ppid
        if f"--user-data-dir={page.profile}" in cmd:
            roots.add(int(d))
    out = set(roots)
    while True:
        more = {p for p, pp in parent.items() if pp in out and p not in out}
        if not more:
            return out
        out |= more


def leg_loss(pages, args):
    """B goes silent for longer than the consent timeout; sotto ends its
    leg and tells it; B offers again and is back."""
    a, b, c = pages
    before = b.state()
    pids = browser_pids(b)
    if not pids:
        raise Failure("B: no Chromium process found to freeze")
    hold = args.leg_loss + 5
    log(f"B: freezing its {len(pids)} Chromium processes for {hold:g} s (consent timeout "
        f"{args.leg_loss:g} s); its pair was {before.get('localAddress')}:{before.get('localPort')}")
    for pid in pids:
        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:
            pass
    try:
        time.sleep(hold)
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    log("B: thawed")
    others = len(pages) - 1
    # The old connection may show failed for a moment before the notice is
    # read: no early failure on that.
    st = wait_for([b], lambda s: s[0].get("legEnded", 0) >= 1 and s[0].get("state") == "connected"
                  and s[0].get("dtlsState") == "connected"
                  and s[0].get("localPort") != before.get("localPort")
                  and len(receiving(s[0])) >= others,
                  30, "B to be told its leg ended, offer again and receive", fail_on_error=False)[0]
    log(f"B: leg ended ({st.get('legEndedReason')}), offered again: now {st.get('localAddress')}:"
        f"{st.get('localPort')} <-> {st.get('remoteAddress')}:{st.get('remotePort')}, "
        f"srtp {st.get('srtpCipher')}; history: " +
        " | ".join(x for x in st.get("history", []) if "leg" in x or "error" in x or "offer" in x))
    failures = []
    if st.get("legEnded") != 1 or st.get("legEndedReason") != "consent_lost":
        failures.append(f"B: {st.get('legEnded')} leg(s) ended, reason {st.get('legEndedReason')!r}; "
                        f"want one, consent_lost")
    if st.get("lastError"):
        failures.append(f"B: still shows {st.get('lastError')!r} once connected again")
    for p in pages:
        g = growing(p)
        log(f"{p.name.upper()}: slots receiving after B's new leg: {g}")
        if len(g) < others:
            failures.append(f"{p.name.upper()}: audio grows on slots {g} after B's new leg, "
                            f"want {others}")
    if failures:
        raise Failure("; ".join(failures))


def run(pages, args):
    a, b, c = pages
    gw_host, gw_port = parse_addr(args.gateway)
    others = len(pages) - 1

    # audio=raw: no noise suppression, which learns a steady tone as noise
    # and removes it. A chooses a group call with one link for everyone.
    q = urllib.parse.urlencode({"mode": "gateway", "audio": "raw"})
    a.open(args.base.rstrip("/") + "/?" + q)
    wait_for([a], lambda s: s[0].get("screen") == "start", 30, "A's start screen")
    a.click("reusable")
    a.click("start")
    st = wait_for([a], lambda s: bool(s[0].get("inviteLink")), 30, "A's invite link")[0]
    link = st["inviteLink"]
    if st.get("inviteSingleUse") is not False:
        raise Failure("A: 'One link for everyone' made a single-use link")
    log(f"A: invite link {redact(link)}")
    head, _, frag = link.partition("#")
    for p in (b, c):
        p.open(head + "?audio=raw#" + frag)
    # The pre-join screen says it is a group call through the server
    # before anything is asked for.
    for p in (b, c):
        wait_for([p], lambda s: s[0].get("screen") == "prejoin", 30, f"{p.name}'s pre-join screen")
        kind = p.text("prejoin-kind")
        if "group" not in kind or p.gum() != 0:
            raise Failure(f"{p.name}: pre-join says {kind!r}, microphone asked {p.gum()} times")
        p.click("join")

    def established(states):
        return all(s.get("state") == "connected" and s.get("mode") == "gateway"
                   and s.get("dtlsState") == "connected"
                   and len(s.get("participants") or []) == others
                   and len(receiving(s)) >= others
                   for s in states)

    t0 = time.monotonic()
    states = wait_for(pages, established, args.timeout,
                      f"every page connected to the gateway and receiving {others} slots")
    log(f"all connected and receiving after {time.monotonic() - t0:.1f} s")
    for p, s in zip(pages, states):
        summary(p.name.upper(), s)

    failures = []
    peers = {p.name: s.get("peer") for p, s in zip(pages, states)}
    if len(set(peers.values())) != len(pages) or not all(peers.values()):
        failures.append(f"peer ids {peers}")
    rooms = {s.get("room") for s in states}
    if len(rooms) != 1:
        failures.append(f"the pages are in different rooms: {rooms}")
    for p, s in zip(pages, states):
        n = p.name.upper()
        if s.get("slots") != args.slots:
            failures.append(f"{n}: {s.get('slots')} slots, want {args.slots}")
        want = sorted(v for k, v in peers.items() if k != p.name)
        if sorted(s.get("participants") or []) != want:
            failures.append(f"{n}: participants {s.get('participants')}, want {want}")
        # getStats names it after the RFC 7714 profile, with Chromium's
        # SRTP_ prefix.
        if s.get("srtpCipher") not in ("SRTP_AEAD_AES_128_GCM", "AEAD_AES_128_GCM"):
            failures.append(f"{n}: SRTP cipher {s.get('srtpCipher')}, want AEAD_AES_128_GCM")
        if args.loopback_only and not is_loopback(s.get("localAddress")):
            failures.append(f"{n}: selected pair's local end {s.get('localAddress')}, want a "
                            f"loopback address (the browsers run in a namespace with only lo)")
        if args.local_address and s.get("localAddress") != args.local_address:
            failures.append(f"{n}: selected pair's local end {s.get('localAddress')}, want "
                            f"{args.local_address}")
        if s.get("dtlsState") != "connected" or not s.get("dtlsCipher"):
            failures.append(f"{n}: DTLS {s.get('dtlsState')} cipher {s.get('dtlsCipher')}")
        if (s.get("remoteCandidateType"), s.get("remoteAddress"), s.get("remotePort")) != \
                ("host", gw_host, gw_port):
            failures.append(f"{n}: selected pair's remote end {s.get('remoteCandidateType')} "
                            f"{s.get('remoteAddress')}:{s.get('remotePort')}, want host "
                            f"{args.gateway}")
        rc = s.get("remoteCandidates") or []
        strangers = [r for r in rc if (r.get("address"), r.get("port")) != (gw_host, gw_port)]
        if not rc or strangers:
            failures.append(f"{n}: remote candidates {rc}: want only {args.gateway}")
        if s.get("code") or s.get("codeText"):
            failures.append(f"{n}: shows a verification code ({s.get('codeText')}) in gateway mode")
        if not p.driver.find_element("id", "gateway-notice").is_displayed():
            failures.append(f"{n}: the hop-by-hop notice is not shown")
        if p.shown("verify-panel"):
            failures.append(f"{n}: the security code is shown")
        shown = p.driver.find_elements("css selector", "#people li")
        if len(shown) != len(pages):
            failures.append(f"{n}: {len(shown)} participants listed on the page, want {len(pages)}")
    if failures:
        raise Failure("; ".join(failures))

    # Audio keeps arriving on every slot that had some.
    before = [receiving(s) for s in states]
    time.sleep(2)
    after = [receiving(p.state()) for p in pages]
    for p, x, y in zip(pages, before, after):
        for slot, s in x.items():
            b1, b2 = s["bytesReceived"], y.get(slot, {}).get("bytesReceived", 0)
            p1, p2 = s["packetsReceived"], y.get(slot, {}).get("packetsReceived", 0)
            log(f"{p.name.upper()}: slot {slot}: {b1} -> {b2} B, {p1} -> {p2} packets over 2 s")
            if b2 <= b1 or p2 <= p1:
                failures.append(f"{p.name.upper()}: slot {slot}: inbound audio did not grow "
                                f"({b1} -> {b2} B, {p1} -> {p2} packets)")
    if failures:
        raise Failure("; ".join(failures))

    # What each page hears, slot by slot.
    tones = sorted(TONES.values())
    for p in pages:
        own = TONES[p.name]
        p.driver.set_script_timeout(args.listen + 10)
        res = p.driver.execute_async_script(ANALYSE_JS, tones, own, args.listen)
        if not isinstance(res, dict) or res.get("error"):
            failures.append(f"{p.name.upper()}: Web Audio analysis failed: {res}")
            continue
        sounding = [s for s in res["slots"] if s["peakDb"] > SILENT_DB]
        for s in res["slots"]:
            log(f"{p.name.upper()}: {s['id']}: peak {s['peakHz']} Hz at {s['peakDb']} dB, "
                f"tones {s['tonesRelDb']} dB, own {own} Hz {s['ownRelDb']} dB")
        for t in tones:
            if t == own:
                continue
            if not any(s["tonesRelDb"][str(t)] >= -FOUND_DB for s in sounding):
                failures.append(f"{p.name.upper()}: {t} Hz not heard on any slot")
        for s in sounding:
            if s["ownRelDb"] > -OWN_DB:
                failures.append(f"{p.name.upper()}: own {own} Hz on {s['id']} at {s['ownRelDb']} dB "
                                f"(want <= -{OWN_DB:.0f} dB)")
    if failures:
        raise Failure("; ".join(failures))

    if args.leg_loss:
        leg_loss(pages, args)

    # C leaves: A and B are told.
    c.click("leave")
    peer_c = peers["c"]
    wait_for([a, b], lambda s: all(peer_c not in (x.get("participants") or []) and
                                   len(x.get("participants") or []) == others - 1 for x in s),
             10, "A and B to see C leave")
    sc = c.state()
    if sc.get("state") != "ended" or sc.get("problem") != "left":
        raise Failure(f"C: state {sc.get('state')} ({sc.get('problem')}) after Leave, want ended (left)")
    log("C left; A and B list one other participant")
    check_console(pages)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", required=True, help="sottod's HTTP origin")
    p.add_argument("--gateway", required=True, help="sotto's gateway media address IP:PORT")
    p.add_argument("--slots", type=int, default=3, help="the gateway's slots (default 3)")
    p.add_argument("--tmpdir", required=True, help="where the Chromium profiles, WAVs and logs go")
    p.add_argument("--timeout", type=float, default=40.0,
                   help="seconds for the three pages to connect (default 40)")
    p.add_argument("--leg-loss", type=float, metavar="CONSENT_TIMEOUT",
                   help="also freeze B past the gateway's consent timeout (s) and "
                   "require it to be told and to come back")
    p.add_argument("--loopback-only", action="store_true",
                   help="the selected pairs' local ends must be loopback addresses too")
    p.add_argument("--local-address", metavar="IP",
                   help="the selected pairs' local ends must be this address")
    p.add_argument("--listen", type=float, default=3.0,
                   help="seconds of audio each page analyses (default 3)")
    args = p.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    pages = []
    rc = 1
    base_flags = LOOPBACK_FLAGS if is_loopback(parse_addr(args.gateway)[0]) else []
    try:
        flags = {}
        for name, hz in TONES.items():
            wav = os.path.join(args.tmpdir, f"tone-{name}-{hz}.wav")
            write_tone(wav, hz)
            flags[name] = base_flags + [f"--use-file-for-fake-audio-capture={wav}"]
        with concurrent.futures.ThreadPoolExecutor(len(TONES)) as pool:
            futures = [pool.submit(Page, n, args.tmpdir, flags[n]) for n in TONES]
        errors = []
        for f in futures:
            if f.exception() is None:
                pages.append(f.result())
            else:
                errors.append(f.exception())
        if errors:
            raise errors[0]
        run(pages, args)
        rc = 0
        log("PASS")
    except Skip as e:
        log(f"SKIP: {e}")
        rc = 77
    except Failure as e:
        log(f"FAIL: {e}")
        for page in pages:
            page.dump()
    except Exception:
        log("FAIL: unexpected error")
        traceback.print_exc()
        for page in pages:
            page.dump()
    finally:
        for page in pages:
            page.quit()
    return rc


if __name__ == "__main__":
    sys.exit(main())
