#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The web client's flows, end to end, with three headless Chromiums
(A the creator, B and C who get links) on one sottod. Run by
tests/integration/browser_flows.sh:

    flows_test.py --base http://127.0.0.1:18380 --tmpdir DIR \\
        --server-pid PID --token-key KID:SECRET --shots DIR

In order (each needs the one before):
  relay     A starts a 1:1 call; B's invite opens a pre-join screen that
            says what kind of call it is and asks for no microphone; B
            joins; both show the same code once connected, A's invite is
            gone. C opens the same (single-use) link: refused in plain
            words, no retry, no microphone asked; A is told. Codes match on
            both. B leaves: A sees "the other person left", B sees "you
            left" with Rejoin. A new invite for C: the room locked itself,
            C is refused, A is told. A invites someone else, C joins: A's
            code changed and is flagged. A reloads: asked first, then back
            on a rejoin screen (token in sessionStorage, nothing in
            localStorage), rejoins, and C's code change is flagged. C
            presses "Codes are different": the call ends for C, A sees C
            leave.
  errors    expired, damaged and dead links: a screen each, no retry, no
            microphone asked.
  keyboard  A and B make a call with Tab and Enter only: start, join,
            codes match, mute (aria-pressed), leave.
  stop      A rejoins B; sottod is stopped (SIGTERM): both say "Lost
            connection to the server" (not "the other person"), try to
            come back, then offer Rejoin.
Every screen on the way goes through a11y.Auditor (axe-core, contrast,
44 px targets, no address shown, screenshots at 1280x900 and 390x844).
No page may log a CSP violation or an uncaught error.

Exit status: 0 pass, 1 fail, 77 skip.
"""

import argparse
import base64
import concurrent.futures
import hashlib
import hmac
import json
import os
import signal
import sys
import time
import traceback
import urllib.error
import urllib.request

from a11y import Auditor
from sotto_browser import Failure, Page, Skip, log, redact, wait_for


BEFOREUNLOAD_JS = """
const ev = new Event('beforeunload', {cancelable: true});
window.dispatchEvent(ev);
return ev.defaultPrevented;
"""


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def forge(key, room, role="member", exp_in=3600, iat_in=-5):
    """A token signed with the server's key (the test wrote its config)."""
    kid, secret = key
    now = int(time.time())
    hdr = {"alg": "HS256", "typ": "JWT", "kid": kid}
    claims = {"room": room, "role": role, "iat": now + iat_in, "exp": now + exp_in,
              "jti": os.urandom(16).hex()}
    si = b64(json.dumps(hdr).encode()) + "." + b64(json.dumps(claims).encode())
    return si + "." + b64(hmac.new(secret.encode(), si.encode(), hashlib.sha256).digest())


def api(base, method, path, token=None, body=None):
    req = urllib.request.Request(base.rstrip("/") + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Origin", base.rstrip("/"))
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def creator_token(page):
    rec, n_local = page.stored()
    if n_local:
        raise Failure(f"{page.name}: localStorage holds {n_local} item(s); nothing may be kept there")
    if not rec:
        raise Failure(f"{page.name}: no call record in sessionStorage")
    rec = json.loads(rec)
    if rec.get("role") != "creator":
        raise Failure(f"{page.name}: sessionStorage record is for role {rec.get('role')}")
    return rec["token"]


def connected(states):
    return all(s.get("state") == "connected" and s.get("dtlsState") == "connected"
               and s.get("code") and s.get("packetsReceived", 0) > 0 for s in states)


def expect(cond, what):
    if not cond:
        raise Failure(what)


def no_retry(page, st, code):
    """A permanent refusal: its own screen, no way to try the same again,
    no microphone asked."""
    expect(st.get("screen") == "problem" and st.get("problem") == code,
           f"{page.name}: want the problem screen for {code}, got screen {st.get('screen')} "
           f"problem {st.get('problem')}")
    expect(not st.get("retryOffered"), f"{page.name}: {code}: a retry is offered")
    expect(not page.shown("rejoin") and not page.shown("join"),
           f"{page.name}: {code}: Rejoin or Join is shown")
    expect(page.text("new-call") == "Start a new call",
           f"{page.name}: {code}: the button says {page.text('new-call')!r}")
    expect(page.gum() == 0, f"{page.name}: {code}: the microphone was asked for")
    expect(page.active_id() == "new-call",
           f"{page.name}: {code}: focus on {page.active_id()!r}, want the next step")


def notices(page):
    return page.state().get("notices") or []


def tab_to(page, target, limit=40):
    """Moves focus with Tab alone until it is on target; fails if Tab never
    gets there (a control keyboard users cannot reach)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    for _ in range(limit):
        if page.active_id() == target:
            return
        ActionChains(page.driver).send_keys(Keys.TAB).perform()
    raise Failure(f"{page.name}: Tab never reached #{target} (stuck at {page.active_id()!r})")


def press_enter(page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    ActionChains(page.driver).send_keys(Keys.ENTER).perform()


def flow_relay(a, b, c, args, aud):
    base = args.base.rstrip("/") + "/"
    a.open(base)
    wait_for([a], lambda s: s[0].get("screen") == "start", 15, "A's start screen")
    expect(a.gum() == 0, "A: the start screen asked for the microphone")
    aud.screen(a, "start", "Start: the kind of call, in plain words, and what the server sees")
    a.click("mode-gateway")
    expect(a.shown("group-options") and "sees the audio" in a.text("start-sees"),
           "A: choosing a group call shows no name field or no line on what the server sees")
    aud.screen(a, "start-group", "Start, group chosen: an optional name, one link or one per person")
    a.click("mode-relay")
    a.click("start")
    st = wait_for([a], lambda s: s[0].get("state") == "waiting" and s[0].get("inviteLink"), 20,
                  "A waiting with an invite link")[0]
    link = st["inviteLink"]
    expect(a.active_id() == "copy", f"A: focus on {a.active_id()!r} after Start, want the Copy button")
    expect(a.shown("invite-panel"), "A: the invite link is not shown while waiting")
    ctok = creator_token(a)
    aud.screen(a, "waiting", "The creator waits: the invite link, once")

    b.open(link)
    st = wait_for([b], lambda s: s[0].get("screen") == "prejoin", 15, "B's pre-join screen")[0]
    expect("#join" not in b.driver.current_url, "B: the invite token stays in the address bar")
    kind = b.text("prejoin-kind")
    expect("two people" in kind and "end to end" in kind, f"B: pre-join says {kind!r}")
    expect("cannot hear" in b.text("prejoin-sees"), f"B: what the server sees: {b.text('prejoin-sees')!r}")
    expect(b.gum() == 0, "B: the pre-join screen asked for the microphone")
    expect(b.active_id() == "join", f"B: focus on {b.active_id()!r}, want Join")
    aud.screen(b, "prejoin", "An invite opened: what kind of call, before any microphone")
    b.click("join")
    sa, sb = wait_for([a, b], connected, 40, "A and B connected with a code")
    expect(b.gum() == 1, f"B: the microphone was asked for {b.gum()} times after Join, want 1")
    expect(sa["code"] == sb["code"], f"codes differ: {sa['code']} / {sb['code']}")
    expect(a.text("code") == sa["codeText"] and b.text("code") == sa["codeText"],
           "the code on screen is not the call's")
    expect(not a.shown("invite-panel"), "A: the invite link is still shown once connected")
    expect(sa.get("locked") is True, "A: the 1:1 room did not lock itself with two in")
    expect(b.active_id() == "codes-match", f"B: focus on {b.active_id()!r} once connected, want Codes match")
    expect(not a.shown("code-alert"), "A: a code-change alert on the first code")
    code1 = sa["code"]
    aud.screen(a, "connected", "Connected: the security code, read aloud")
    a.driver.find_element("css selector", "#details summary").click()
    expect("through the server" in a.text("path"), f"A: technical details: path {a.text('path')!r}")
    aud.screen(a, "details", "Technical details, opened: no address of anyone")
    a.driver.find_element("css selector", "#details summary").click()

    # The same link again: single-use.
    c.open(link)
    st = wait_for([c], lambda s: s[0].get("screen") == "problem", 15, "C refused")[0]
    no_retry(c, st, "invite_used")
    expect("already been used" in c.text("problem-text"), f"C: says {c.text('problem-text')!r}")
    wait_for([a], lambda s: any("tried to join" in n for n in s[0].get("notices") or []), 10,
             "A told that someone else tried to join")
    aud.screen(c, "link-used", "A single-use link opened twice: refused, no retry")

    a.click("codes-match")
    b.click("codes-match")
    wait_for([a, b], lambda s: all(x.get("codeConfirmed") == x.get("code") for x in s), 5,
             "both pages to record Codes match")
    expect(a.shown("verified") and not a.shown("codes-match"), "A: Codes match is not recorded on screen")
    aud.screen(a, "codes-matched", "Codes compared and matching")

    b.click("leave")
    wait_for([a, b], lambda s: s[0].get("state") == "peer-left" and s[1].get("state") == "ended",
             10, "A to see B leave", fail_on_error=False)
    sb = b.state()
    expect(sb.get("problem") == "left" and b.shown("rejoin") and b.shown("new-call"),
           "B: after Leave, want 'You left' with Rejoin and Start a new call")
    expect(not b.shown("verify-panel") and not b.shown("mute") and sb.get("code") is None,
           "B: the code or call controls stay on screen after leaving")
    expect(b.active_id() == "rejoin", f"B: focus on {b.active_id()!r} after Leave, want Rejoin")
    expect(b.js(BEFOREUNLOAD_JS) is False, "B: asks before leaving a page whose call is over")
    expect("left" in a.text("status"), f"A: status {a.text('status')!r}")
    aud.screen(a, "peer-left", "The other person left")
    aud.screen(b, "you-left", "You left: Rejoin or start a new call")

    # The room locked itself: a new invite does not get a third person in.
    status, inv = api(args.base, "POST", f"/v1/rooms/{sa['room']}/invites", ctok, {"single_use": True})
    expect(status == 201, f"invite: {status} {inv}")
    before = len([n for n in notices(a) if "tried to join" in n])
    c.open(base + "#join=" + inv["token"])
    st = wait_for([c], lambda s: s[0].get("screen") == "problem", 15, "C refused by the lock")[0]
    no_retry(c, st, "room_locked")
    aud.screen(c, "locked", "A locked call: refused, no retry")
    wait_for([a], lambda s: len([n for n in s[0].get("notices") or [] if "tried to join" in n]) > before,
             10, "A told that a third person was kept out")

    # A lets someone else in: C.
    a.click("invite-more")
    st = wait_for([a], lambda s: s[0].get("state") == "waiting" and s[0].get("inviteLink") != link,
                  10, "A's new invite")[0]
    expect(st.get("locked") is False, "A: inviting someone else left the room locked")
    c.open(st["inviteLink"])
    wait_for([c], lambda s: s[0].get("screen") == "prejoin", 15, "C's pre-join")
    c.click("join")
    sa, sc = wait_for([a, c], connected, 40, "A and C connected")
    expect(sa["code"] != code1, "A: the code did not change with another person")
    expect(sa.get("codeChanged") is True and a.shown("code-alert"),
           "A: a new person in the seat is not flagged")
    expect("changed" in a.text("code-alert"), f"A: alert says {a.text('code-alert')!r}")
    expect(sa.get("codeConfirmed") is None and a.shown("codes-match"), "A: asked to compare again? no")
    expect(sc.get("codeChanged") is False, "C: flagged a change on its first code")
    aud.screen(a, "code-changed", "Someone else in the seat: the code changed, flagged")
    a.click("codes-match")
    wait_for([a], lambda s: s[0].get("codeChanged") is False and s[0].get("codeConfirmed") == s[0].get("code"),
             5, "A: Codes match clears the alert")
    expect(not a.shown("code-alert"), "A: the alert stays after Codes match")

    # The creator reloads: asked first, then back with its token.
    ctok_before = creator_token(a)
    # The page asks before it is left during a call: its beforeunload
    # handler cancels the event (what makes the browser ask).
    expect(a.js(BEFOREUNLOAD_JS) is True, "A: leaving the page during a call is not asked about")
    a.reload()
    wait_for([a], lambda s: s[0].get("screen") == "rejoin", 15, "A's rejoin screen")
    expect(creator_token(a) == ctok_before, "A: the creator token is not kept for the tab")
    expect(a.gum() == 0, "A: the rejoin screen asked for the microphone")
    aud.screen(a, "rejoin", "Reloaded during a call: rejoin")
    wait_for([c], lambda s: s[0].get("state") == "peer-left", 10, "C to see A go")
    a.click("join")
    sa, sc = wait_for([a, c], connected, 40, "A back with C")
    expect(sc.get("codeChanged") is True and c.shown("code-alert"),
           "C: the creator's rejoin (a new code) is not flagged")
    aud.screen(c, "code-changed-rejoin", "The other person rejoined: the code changed, flagged")

    c.click("codes-differ")
    wait_for([c], lambda s: s[0].get("state") == "ended", 5, "C's call to end", fail_on_error=False)
    sc = c.state()
    expect(sc.get("problem") == "codes_differ" and not c.shown("rejoin"),
           f"C: after Codes are different: problem {sc.get('problem')}, rejoin shown {c.shown('rejoin')}")
    expect(c.stored()[0] is None, "C: the seat is still kept after hanging up on a bad code")
    aud.screen(c, "codes-differ", "Codes differ: hung up, start again another way")
    wait_for([a], lambda s: s[0].get("state") == "peer-left", 10, "A to see C go", fail_on_error=False)
    return sa["room"]


def flow_errors(b, args, aud):
    base = args.base.rstrip("/") + "/"
    key = args.key
    room = os.urandom(16).hex()
    for name, token, code, shot in (
            ("expired", forge(key, room, exp_in=-60, iat_in=-7200), "expired", True),
            ("damaged", "eyJhbGciOi.not-a-token", "bad_link", True),
            ("ended", forge(key, room), "invalid_token", True)):
        b.open(base + "#join=" + token)
        st = wait_for([b], lambda s: s[0].get("screen") == "problem", 15, f"B: {name} link refused",
                      fail_on_error=False)[0]
        no_retry(b, st, code)
        log(f"B: {name} link: {b.text('problem-text')!r} / {b.text('problem-next')!r}")
        if shot:
            aud.screen(b, f"link-{name}", f"The {name} link: refused, no retry")


def flow_keyboard(a, b, args, aud):
    base = args.base.rstrip("/") + "/"
    for p in (a, b):
        p.js("sessionStorage.clear()")
    a.open(base)
    wait_for([a], lambda s: s[0].get("screen") == "start", 15, "A's start screen")
    tab_to(a, "start")
    press_enter(a)
    st = wait_for([a], lambda s: s[0].get("state") == "waiting" and s[0].get("inviteLink"), 20,
                  "A waiting (keyboard)")[0]
    b.open(st["inviteLink"])
    wait_for([b], lambda s: s[0].get("screen") == "prejoin", 15, "B's pre-join (keyboard)")
    tab_to(b, "join")
    press_enter(b)
    wait_for([a, b], connected, 40, "A and B connected (keyboard)")
    for p in (b, a):
        tab_to(p, "codes-match")
        press_enter(p)
    wait_for([a, b], lambda s: all(x.get("codeConfirmed") == x.get("code") for x in s), 5,
             "codes matched by keyboard")
    tab_to(a, "mute")
    press_enter(a)
    expect(a.js("return document.getElementById('mute').getAttribute('aria-pressed')") == "true"
           and a.state().get("muted") is True and a.shown("muted-badge"),
           "A: Mute by keyboard: aria-pressed, state or badge missing")
    aud.screen(a, "muted", "Muted: the button pressed and a badge")
    press_enter(a)
    expect(a.js("return document.getElementById('mute').getAttribute('aria-pressed')") == "false",
           "A: unmute by keyboard")
    tab_to(b, "leave")
    press_enter(b)
    wait_for([a, b], lambda s: s[0].get("state") == "peer-left" and s[1].get("state") == "ended",
             10, "B left by keyboard", fail_on_error=False)
    log("keyboard only: start, join, codes match, mute, leave")


def flow_stop(a, b, args, aud):
    # B comes back (Rejoin, its seat), A is there: a call again.
    b.click("rejoin")
    wait_for([a, b], connected, 40, "A and B connected again")
    log(f"stopping sottod (pid {args.server_pid})")
    t0 = time.monotonic()
    os.kill(args.server_pid, signal.SIGTERM)
    wait_for([a, b], lambda s: all(x.get("state") == "server-lost" for x in s), 10,
             "both pages to say they lost the server", fail_on_error=False)
    log(f"both say so after {time.monotonic() - t0:.1f} s")
    for p in (a, b):
        text = p.text("status")
        expect("Lost connection to the server" in text, f"{p.name}: status {text!r}")
        expect("other person" not in text, f"{p.name}: blames the other person: {text!r}")
        expect(not p.shown("verify-panel"), f"{p.name}: the code stays on screen without the server")
    aud.screen(a, "server-lost", "The server is gone: said so, trying to reconnect")
    wait_for([a, b], lambda s: all(x.get("state") == "server-lost" and x.get("retryOffered") for x in s),
             20, "both to stop trying and offer Rejoin", fail_on_error=False)
    expect(a.text("status") == "Lost connection to the server.", f"A: status {a.text('status')!r}")
    aud.screen(a, "server-lost-final", "The server stays gone: Rejoin or leave")


def check_console(pages):
    bad = []
    for page in pages:
        for line in page.collect_console():
            if "Content Security Policy" in line or "Uncaught" in line:
                bad.append(f"{page.name}: {line}")
    if bad:
        raise Failure("browser console: " + " | ".join(bad))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", required=True)
    p.add_argument("--tmpdir", required=True)
    p.add_argument("--server-pid", type=int, required=True)
    p.add_argument("--token-key", required=True, help="KID:SECRET of the server's token key")
    p.add_argument("--shots", required=True, help="where screenshots go")
    p.add_argument("--only", help="comma list of flows (relay,errors,keyboard,stop)")
    args = p.parse_args()
    kid, _, secret = args.token_key.partition(":")
    args.key = (kid, secret)
    only = set(args.only.split(",")) if args.only else None

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    pages = []
    rc = 1
    t0 = time.monotonic()
    try:
        aud = Auditor(args.shots)
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(Page, n, args.tmpdir) for n in ("a", "b", "c")]
        errors = [f.exception() for f in futures if f.exception() is not None]
        pages = [f.result() for f in futures if f.exception() is None]
        if errors:
            raise errors[0]
        a, b, c = pages
        for name, fn in (("relay", lambda: flow_relay(a, b, c, args, aud)),
                         ("errors", lambda: flow_errors(b, args, aud)),
                         ("keyboard", lambda: flow_keyboard(a, b, args, aud)),
                         ("stop", lambda: flow_stop(a, b, args, aud))):
            if only and name not in only:
                continue
            t1 = time.monotonic()
            log(f"--- {name}")
            fn()
            log(f"--- {name}: passed in {time.monotonic() - t1:.1f} s")
        check_console(pages)
        rc = 0
        log(f"PASS ({aud.checked} screens checked, {aud.axe_runs} axe runs, "
            f"{time.monotonic() - t0:.0f} s)")
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
