#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Two headless Chromiums call each other through sotto (web client, HTTP
API, WebSocket signaling, TURN relay). Run by tests/integration/
browser_call.sh and browser_tamper.sh, which start sottod (and the tamper
proxy) and pass their addresses.

    call_test.py call   --base http://127.0.0.1:18380 --relay 127.0.0.1:50000-50999 --tmpdir DIR
    call_test.py tamper --base ... --relay ... --tmpdir DIR --ws-b ws://127.0.0.1:18381/v1/ws

call: page A starts a call (?autostart=1), page B opens A's invite link.
Both must end on a relay<->relay candidate pair whose addresses are sotto's
relay addresses, DTLS connected, audio bytes flowing in, and the same
verification code, which must also be what docs/signaling.md's formula
gives for the two fingerprints. B goes through the pre-join screen first
(no microphone asked for before "Join with microphone"). Then B leaves and
A must see it, and B opens the invite with its signature changed and must
show the refusal in plain words, without a retry. No page may log a CSP
violation or an uncaught error.

tamper: B signals through a proxy that swaps the DTLS fingerprint in one
direction. ICE must connect on both sides (so the test cannot pass because
nothing works), DTLS must never reach connected within the bound and must
fail on at least one side, and the two codes must differ.

Exit status: 0 pass, 1 fail, 77 skip.
"""

import argparse
import concurrent.futures
import signal
import sys
import time
import traceback
import urllib.parse

from sotto_browser import Failure, Page, Skip, log, redact, verification_code, wait_for


def page_url(base, ws=None, autostart=False):
    q = {}
    if autostart:
        q["autostart"] = "1"
    if ws:
        q["ws"] = ws
    return base.rstrip("/") + "/" + ("?" + urllib.parse.urlencode(q) if q else "")


def invite_url(link, ws=None):
    """The invite link as B opens it; with ws, plus ?ws= before the
    fragment (the link itself has no query)."""
    head, sep, frag = link.partition("#")
    if not sep or not frag.startswith("join="):
        raise Failure(f"invite link without #join=: {redact(link)}")
    if ws:
        head += "?" + urllib.parse.urlencode({"ws": ws})
    return head + "#" + frag


def start_call(a, b, args):
    """A creates the room, B follows the invite. Returns A's invite link."""
    a.open(page_url(args.base, args.ws_a, autostart=True))
    st = wait_for([a], lambda s: bool(s[0].get("inviteLink")), 30, "A's invite link")[0]
    link = st["inviteLink"]
    log(f"A: invite link {redact(link)}")
    base = urllib.parse.urlsplit(args.base)
    got = urllib.parse.urlsplit(link)
    if (got.scheme, got.netloc, got.path, got.query) != (base.scheme, base.netloc, "/", ""):
        raise Failure(f"invite link {redact(link)} is not {args.base}/#join=…")
    if a.value("invite-link") != link:
        raise Failure("the invite link shown on the page is not window.sotto.inviteLink")
    b.open(invite_url(link, args.ws_b))
    # The pre-join screen: the kind of call, and no microphone asked for
    # before "Join with microphone".
    wait_for([b], lambda s: s[0].get("screen") == "prejoin", 30, "B's pre-join screen")
    if b.gum() != 0:
        raise Failure("B: the pre-join screen asked for the microphone")
    b.click("join")
    return link


def parse_relay(spec):
    addr, _, ports = spec.rpartition(":")
    lo, _, hi = ports.partition("-")
    return addr, int(lo), int(hi)


def check_relay_pair(name, st, relay):
    addr, lo, hi = relay
    problems = []
    for side in ("local", "remote"):
        ctype = st.get(f"{side}CandidateType")
        a = st.get(f"{side}Address")
        port = st.get(f"{side}Port")
        if ctype != "relay":
            problems.append(f"{side} candidate type {ctype}, want relay")
        if a != addr or not isinstance(port, int) or not lo <= port <= hi:
            problems.append(f"{side} candidate {a}:{port}, want {addr}:{lo}-{hi}")
    if problems:
        raise Failure(f"{name}: selected pair: " + "; ".join(problems))


def summary(name, st):
    log(f"{name}: state={st.get('state')} role={st.get('role')} room={str(st.get('room'))[:8]} "
        f"peer={st.get('peer')} remotePeer={st.get('remotePeer')}")
    log(f"{name}: pair {st.get('localCandidateType')} {st.get('localAddress')}:{st.get('localPort')}"
        f" ({st.get('relayProtocol')}) <-> {st.get('remoteCandidateType')} "
        f"{st.get('remoteAddress')}:{st.get('remotePort')}, ice {st.get('iceState')}")
    log(f"{name}: dtls {st.get('dtlsState')} (role {st.get('dtlsRole')}, {st.get('tlsVersion')}, "
        f"{st.get('dtlsCipher')}), srtp {st.get('srtpCipher')}, "
        f"received {st.get('bytesReceived')} B / {st.get('packetsReceived')} packets, "
        f"sent {st.get('bytesSent')} B")
    log(f"{name}: fingerprints local {st.get('localFingerprint')} remote {st.get('remoteFingerprint')}")
    log(f"{name}: code {st.get('codeText')}")


def check_console(pages):
    """The client must run under sottod's strict CSP without violations and
    without uncaught exceptions."""
    bad = []
    for page in pages:
        for line in page.collect_console():
            if "Content Security Policy" in line or "Uncaught" in line:
                bad.append(f"{page.name}: {line}")
    if bad:
        raise Failure("browser console: " + " | ".join(bad))


def run_call(a, b, args):
    relay = parse_relay(args.relay)
    link = start_call(a, b, args)

    def established(states):
        return all(s.get("state") == "connected" and s.get("dtlsState") == "connected"
                   and s.get("localCandidateType") and s.get("remoteCandidateType")
                   and s.get("code") and s.get("packetsReceived", 0) > 0
                   for s in states)

    t0 = time.monotonic()
    sa, sb = wait_for([a, b], established, args.timeout, "both pages connected with audio in")
    log(f"both connected after {time.monotonic() - t0:.1f} s")
    summary("A", sa)
    summary("B", sb)

    if (sa.get("role"), sb.get("role")) != ("creator", "member"):
        raise Failure(f"roles {sa.get('role')}/{sb.get('role')}, want creator/member")
    if sa.get("room") != sb.get("room"):
        raise Failure(f"rooms differ: {sa.get('room')} / {sb.get('room')}")
    if not sa.get("peer") or sa.get("peer") == sb.get("peer"):
        raise Failure(f"peer ids {sa.get('peer')} / {sb.get('peer')}")
    if sa.get("remotePeer") != sb.get("peer") or sb.get("remotePeer") != sa.get("peer"):
        raise Failure("the pages do not name each other as their peer")

    check_relay_pair("A", sa, relay)
    check_relay_pair("B", sb, relay)
    # Both ends of one path: A's remote candidate is B's relayed address.
    if ((sa["remoteAddress"], sa["remotePort"]) != (sb["localAddress"], sb["localPort"]) or
            (sb["remoteAddress"], sb["remotePort"]) != (sa["localAddress"], sa["localPort"])):
        raise Failure("the two selected pairs are not the two ends of one relay path")

    for name, st in (("A", sa), ("B", sb)):
        if not st.get("dtlsCipher") or not st.get("srtpCipher"):
            raise Failure(f"{name}: no negotiated DTLS/SRTP cipher in getStats")

    # Audio keeps arriving.
    r1 = [sa["bytesReceived"], sb["bytesReceived"]]
    time.sleep(2)
    sa2, sb2 = a.state(), b.state()
    r2 = [sa2["bytesReceived"], sb2["bytesReceived"]]
    log(f"bytesReceived A {r1[0]} -> {r2[0]}, B {r1[1]} -> {r2[1]} over 2 s")
    for name, x, y in (("A", r1[0], r2[0]), ("B", r1[1], r2[1])):
        if y <= x:
            raise Failure(f"{name}: inbound audio bytes did not grow ({x} -> {y})")

    # The verification code.
    for name, st in (("A", sa), ("B", sb)):
        want = verification_code(st["localFingerprint"], st["remoteFingerprint"])
        if st["code"] != want:
            raise Failure(f"{name}: code {st['code']}, docs/signaling.md's formula gives {want}")
    if sa["localFingerprint"] != sb["remoteFingerprint"] or sb["localFingerprint"] != sa["remoteFingerprint"]:
        raise Failure("fingerprints changed in transit without a proxy")
    if sa["code"] != sb["code"]:
        raise Failure(f"codes differ: A {sa['code']}, B {sb['code']}")
    shown = a.text("code")
    if shown != f"{sa['code'][:3]} {sa['code'][3:]}" or b.text("code") != shown:
        raise Failure(f"displayed codes: A {shown!r}, B {b.text('code')!r}")
    log(f"same verification code on both pages: {shown}")

    # Leaving: B's Leave button; A must be told.
    b.click("leave")
    sa3, sb3 = wait_for([a, b], lambda s: s[0].get("state") == "peer-left" and s[1].get("state") == "ended"
                        and s[1].get("problem") == "left", 10, "A to see B leave", fail_on_error=False)
    log(f"after B left: A {sa3['state']}, B {sb3['state']}")

    # A server error reaches the user: the invite with its signature
    # changed must be refused (401 invalid_token) before anything is
    # asked for, and the page must say so in plain words, with no retry.
    head, payload, sig = urllib.parse.urlsplit(link).fragment[len("join="):].split(".")
    forged = ".".join([head, payload, sig[::-1] if sig[::-1] != sig else sig[1:] + sig[0]])
    b.js("sessionStorage.clear()")
    b.open(urllib.parse.urlsplit(link)._replace(fragment="join=" + forged).geturl())
    sb4 = wait_for([b], lambda s: s[0].get("screen") == "problem", 15,
                   "B to show the refused forged invite", fail_on_error=False)[0]
    shown = b.text("problem-text")
    log(f"forged invite: B shows {shown!r}")
    if sb4.get("problem") != "invalid_token" or shown != sb4.get("problemText") or \
            sb4.get("retryOffered") or b.gum() != 0:
        raise Failure(f"forged invite: want invalid_token shown without a retry or a microphone, got "
                      f"problem {sb4.get('problem')!r}, page {shown!r}, retry {sb4.get('retryOffered')}")
    check_console([a, b])


def run_tamper(a, b, args):
    """One side receives a swapped fingerprint (which one depends on the
    proxy's direction; the test finds out from the fingerprints). That
    side's DTLS must refuse the other's certificate. If it is the DTLS
    client, the handshake stops before either side finishes, so neither may
    ever reach connected. If it is the DTLS server, the client may finish
    first (in DTLS 1.3, which Chromium speaks, the client's handshake is
    over once it sends its Finished, before the server has checked the
    client's certificate) and show connected for a moment; then it must
    still fail and receive no audio."""
    relay = parse_relay(args.relay)
    start_call(a, b, args)
    t0 = time.monotonic()
    deadline = t0 + args.timeout
    pages = {"A": a, "B": b}
    ever = {n: {"dtls": False, "ice": False, "bytes": 0} for n in pages}
    last = {}
    while True:
        for name, page in pages.items():
            st = page.state()
            last[name] = st
            if st.get("dtlsEverConnected") or st.get("dtlsState") == "connected":
                ever[name]["dtls"] = True
            if st.get("iceEverConnected"):
                ever[name]["ice"] = True
            ever[name]["bytes"] = max(ever[name]["bytes"], st.get("bytesReceived") or 0)
        # Both DTLS transports dead and both codes shown: nothing more
        # can happen.
        if all(st.get("dtlsState") in ("failed", "closed") and st.get("code") for st in last.values()):
            break
        if time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    log(f"watched for {time.monotonic() - t0:.1f} s (bound {args.timeout} s)")
    sa, sb = last["A"], last["B"]
    summary("A", sa)
    summary("B", sb)
    for name in pages:
        log(f"{name}: history: " + " | ".join(last[name].get("history", [])[-25:]))

    failures = []
    for name in pages:
        if not ever[name]["ice"]:
            failures.append(f"{name}: ICE never connected (the test proves nothing unless the "
                            f"relay path works and only DTLS refuses)")
        if ever[name]["bytes"]:
            failures.append(f"{name}: received {ever[name]['bytes']} bytes of audio")
        if last[name].get("dtlsState") != "failed":
            failures.append(f"{name}: DTLS {last[name].get('dtlsState')} at the end, want failed")
    victims = [(n, o) for n, o in (("A", "B"), ("B", "A"))
               if last[n].get("remoteFingerprint") and
               last[n].get("remoteFingerprint") != last[o].get("localFingerprint")]
    if len(victims) != 1:
        failures.append(f"want exactly one page to have received a swapped fingerprint, got {victims}")
    else:
        victim, other = victims[0]
        # The DTLS role is gone from getStats once the transport failed;
        # the a=setup lines say it (RFC 5763: "active" is the client).
        v = last[victim]
        client = v.get("localSetup") == "active" or (
            v.get("localSetup") == "actpass" and v.get("remoteSetup") == "passive")
        role = "client" if client else "server"
        log(f"{victim} received a fingerprint that is not {other}'s; {victim} is the DTLS {role}")
        if ever[victim]["dtls"]:
            failures.append(f"{victim}: DTLS reached connected with a swapped fingerprint")
        if role == "client" and ever[other]["dtls"]:
            failures.append(f"{other}: DTLS reached connected although its peer (the DTLS client) "
                            f"holds a swapped fingerprint")
        if role == "server" and ever[other]["dtls"]:
            log(f"{other} (DTLS 1.3 client) saw connected before {victim} refused its certificate")
    if not sa.get("code") or not sb.get("code"):
        failures.append(f"a page shows no verification code (A {sa.get('code')}, B {sb.get('code')})")
    else:
        if sa["code"] == sb["code"]:
            failures.append(f"both pages show code {sa['codeText']} although a fingerprint was swapped")
        for name, st in (("A", sa), ("B", sb)):
            want = verification_code(st["localFingerprint"], st["remoteFingerprint"])
            if st["code"] != want:
                failures.append(f"{name}: code {st['code']}, docs/signaling.md's formula gives {want}")
    for name, st in (("A", sa), ("B", sb)):
        if st.get("localCandidateType") and st.get("localCandidateType") != "relay":
            failures.append(f"{name}: local candidate {st.get('localCandidateType')}, want relay")
        if st.get("localAddress") and st.get("localAddress") != relay[0]:
            failures.append(f"{name}: local address {st.get('localAddress')}, want {relay[0]}")
    if failures:
        raise Failure("; ".join(failures))
    check_console([a, b])
    log(f"codes differ: A {sa['codeText']}, B {sb['codeText']}; DTLS failed on both; "
        f"ICE connected on both; no audio")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=("call", "tamper"))
    p.add_argument("--base", required=True, help="sottod's HTTP origin, e.g. http://127.0.0.1:18380")
    p.add_argument("--relay", required=True, help="ADDR:MIN-MAX, sotto's relay address and ports")
    p.add_argument("--tmpdir", required=True, help="where the Chromium profiles and logs go")
    p.add_argument("--ws-a", help="?ws= for page A")
    p.add_argument("--ws-b", help="?ws= for page B")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds to wait for the call (call: 30) or to watch it not connect (tamper: 20)")
    args = p.parse_args()
    if args.timeout is None:
        args.timeout = 30.0 if args.mode == "call" else 20.0

    # The shell script's cleanup sends SIGTERM: unwind so the browsers quit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    pages = []
    rc = 1
    try:
        # Both browsers start at once: each takes seconds on a busy box.
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(Page, n, args.tmpdir) for n in ("a", "b")]
        errors = []
        for f in futures:
            if f.exception() is None:
                pages.append(f.result())
            else:
                errors.append(f.exception())
        if errors:
            raise errors[0]
        (run_call if args.mode == "call" else run_tamper)(pages[0], pages[1], args)
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
