#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A group call as its people see it, with three headless Chromiums on a
sottod with gateway mode (tests/integration/browser_group.sh):

    group_test.py --base http://127.0.0.1:18380 --tmpdir DIR \\
        --token-key KID:SECRET --shots DIR [--names-file FILE]

A (the host) starts a group call with a name and single-use links; B opens
the first link, sees on the pre-join screen that the call goes through the
server, gives a name and joins; A makes a second link ("Invite someone")
and C joins without a name. Then:
  - names: every page lists the others by name (C as "Guest 1"), the host
    marked; join notices on the pages already there;
  - speaking: B's microphone plays a tone, A's and C's are silent: A and
    C show B speaking, nobody shows A or C speaking;
  - muted: C mutes (aria-pressed, a badge); A and B show C muted;
  - Lock: A locks the room (aria-pressed); a new link is refused with
    "locked", no retry, A told;
  - Remove: A removes C: C's page says so with no retry, A and B get a
    notice; B leaves: A gets "Ben … left".
Every screen on the way goes through a11y.Auditor. With --names-file, the
names used are written there, for the shell to look for in the server's
log (they must not be in it).

Exit status: 0 pass, 1 fail, 77 skip.
"""

import argparse
import concurrent.futures
import json
import os
import signal
import sys
import time
import traceback

from a11y import Auditor
from flows_test import api, check_console, creator_token, expect, no_retry
from gateway_test import LOOPBACK_FLAGS, write_tone
from sotto_browser import Failure, Page, Skip, log, wait_for

NAME_A = "Ana Lindqvist"
NAME_B = "Ben Okonkwo"


def people(page):
    """What the page lists: [(name text, classes, badges)]."""
    return page.js("""
      return [...document.querySelectorAll('#people li')].map((li) => ({
        name: li.querySelector('.name').textContent,
        speaking: li.classList.contains('speaking'),
        badges: [...li.querySelectorAll('.badge')].map((b) => b.textContent),
        remove: !!li.querySelector('button.remove'),
      }));""")


def person(page, name):
    for p in people(page):
        if p["name"] == name:
            return p
    return None


def connected_gw(n_others):
    def ok(states):
        return all(s.get("state") == "connected" and s.get("mode") == "gateway"
                   and len(s.get("participants") or []) == n_others for s in states)
    return ok


def run(a, b, c, args, aud):
    base = args.base.rstrip("/") + "/"
    a.open(base + "?mode=gateway")
    wait_for([a], lambda s: s[0].get("screen") == "start", 15, "A's start screen")
    a.driver.find_element("id", "start-name").send_keys(NAME_A)
    a.click("start")
    st = wait_for([a], lambda s: s[0].get("inviteLink") and s[0].get("state") in ("waiting", "connected"),
                  30, "A in the group call with a link")[0]
    expect(st.get("inviteSingleUse") is True, "A: a group link is not single-use by default")
    wait_for([a], lambda s: s[0].get("state") == "connected", 30, "A connected to the gateway")
    expect(a.shown("gateway-notice") and not a.shown("verify-panel"),
           "A: the not-end-to-end notice is missing, or a security code is shown")
    expect("sees the audio" in a.text("call-sees"), f"A: what the server sees: {a.text('call-sees')!r}")
    aud.screen(a, "group-waiting", "A group call started: the host's link, the not-end-to-end notice")

    # B's tone as it is (no noise suppression, which learns a steady tone
    # as noise and removes it).
    head, _, frag = st["inviteLink"].partition("#")
    b.open(head + "?audio=raw#" + frag)
    wait_for([b], lambda s: s[0].get("screen") == "prejoin", 15, "B's pre-join")
    kind = b.text("prejoin-kind")
    expect("group" in kind and "server" in kind, f"B: pre-join says {kind!r}")
    expect(b.shown("join-name") and b.gum() == 0, "B: no name field, or the microphone was asked for")
    b.driver.find_element("id", "join-name").send_keys(NAME_B)
    aud.screen(b, "group-prejoin", "A group invite: through the server, an optional name")
    b.click("join")
    wait_for([a, b], connected_gw(1), 40, "A and B in the group call")
    wait_for([a], lambda s: f"{NAME_B} joined." in (s[0].get("notices") or []), 10, "A told that B joined")
    expect(not a.shown("invite-panel"), "A: the invite link stays shown once someone joined")

    a.click("invite-more")
    st = wait_for([a], lambda s: s[0].get("inviteLink") != st["inviteLink"] and a.shown("invite-panel"),
                  10, "A's second link")[0]
    c.open(st["inviteLink"])
    wait_for([c], lambda s: s[0].get("screen") == "prejoin", 15, "C's pre-join")
    c.click("join")
    wait_for([a, b, c], connected_gw(2), 40, "A, B and C in the group call")

    # Names, the host, join notices.
    def names_ok(states):
        return (person(a, NAME_B) and person(a, "Guest 1") and person(b, NAME_A)
                and person(b, "Guest 1") and person(c, NAME_A) and person(c, NAME_B))
    wait_for([a], lambda s: names_ok(s), 10, "everyone listed by name")
    expect("host" in person(b, NAME_A)["badges"], "B: the host is not marked")
    expect(person(a, f"{NAME_A} (you)") is not None, "A: its own name is not listed")
    expect(person(a, NAME_B)["remove"] and not person(b, "Guest 1")["remove"],
           "Remove is shown to someone other than the host, or not to the host")
    expect("Guest 1 joined." in (b.state().get("notices") or []), "B: no notice of C joining")

    # Speaking: B plays a tone, A and C are silent.
    wait_for([a], lambda s: person(a, NAME_B)["speaking"] and person(c, NAME_B)["speaking"], 15,
             "A and C to show B speaking")
    time.sleep(1.0)
    expect(not person(a, "Guest 1")["speaking"] and not person(b, NAME_A)["speaking"],
           "someone silent is shown speaking")

    # Muted: C mutes.
    c.click("mute")
    expect(c.js("return document.getElementById('mute').getAttribute('aria-pressed')") == "true",
           "C: Mute is not aria-pressed")
    wait_for([a], lambda s: "muted" in person(a, "Guest 1")["badges"] and
             "muted" in person(b, "Guest 1")["badges"], 10, "A and B to show C muted")
    aud.screen(a, "group-call", "A group call, the host's view: names, speaking, muted, Lock and Remove")
    aud.screen(b, "group-call-member", "A group call, a guest's view")

    # Lock: a new person is kept out, the host told.
    a.click("lock")
    wait_for([a], lambda s: s[0].get("locked") is True, 10, "A's room locked")
    expect(a.js("return document.getElementById('lock').getAttribute('aria-pressed')") == "true",
           "A: Lock is not aria-pressed")
    ctok = creator_token(a)
    status, inv = api(args.base, "POST", f"/v1/rooms/{a.state()['room']}/invites", ctok, {"single_use": True})
    expect(status == 201, f"invite: {status} {inv}")
    d = args.extra
    d.open(base + "#join=" + inv["token"])
    st = wait_for([d], lambda s: s[0].get("screen") == "problem", 15, "the locked room refusing",
                  fail_on_error=False)[0]
    no_retry(d, st, "room_locked")
    wait_for([a], lambda s: any("locked" in n and "kept out" in n for n in s[0].get("notices") or []),
             10, "A told someone was kept out")

    # Remove C.
    a.js("document.querySelector('#people li[data-peer=\"' + arguments[0] + '\"] button.remove').click()",
         c.state()["peer"])
    sc = wait_for([c], lambda s: s[0].get("state") == "ended", 10, "C removed", fail_on_error=False)[0]
    expect(sc.get("problem") == "kicked" and "removed" in c.text("status") and not c.shown("rejoin"),
           f"C: after Remove: problem {sc.get('problem')}, status {c.text('status')!r}, "
           f"rejoin {c.shown('rejoin')}")
    aud.screen(c, "removed", "Removed by the host: no way back in")
    wait_for([a, b], lambda s: "Guest 1 was removed." in (s[0].get("notices") or []) and
             "Guest 1 left." in (s[1].get("notices") or []), 10, "A and B told of C")
    b.click("leave")
    wait_for([a], lambda s: f"{NAME_B} left." in (s[0].get("notices") or []), 10, "A told that B left")
    expect(len(a.state().get("participants") or []) == 0, "A: people still listed after all left")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", required=True)
    p.add_argument("--tmpdir", required=True)
    p.add_argument("--token-key", required=True)
    p.add_argument("--shots", required=True)
    p.add_argument("--loopback", action="store_true",
                   help="the gateway is on loopback: Chromium may pair loopback candidates")
    p.add_argument("--names-file")
    args = p.parse_args()
    if args.names_file:
        with open(args.names_file, "w") as f:
            f.write(f"{NAME_A}\n{NAME_B}\n")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    pages = []
    rc = 1
    t0 = time.monotonic()
    try:
        aud = Auditor(args.shots)
        base_flags = LOOPBACK_FLAGS if args.loopback else []
        tone = os.path.join(args.tmpdir, "tone-b.wav")
        quiet = os.path.join(args.tmpdir, "silence.wav")
        write_tone(tone, 550, seconds=4)
        write_tone(quiet, 550, seconds=1, level=0.0)
        flags = {"a": [f"--use-file-for-fake-audio-capture={quiet}"],
                 "b": [f"--use-file-for-fake-audio-capture={tone}"],
                 "c": [f"--use-file-for-fake-audio-capture={quiet}"],
                 "d": []}
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(Page, n, args.tmpdir, base_flags + flags[n]) for n in "abcd"]
        errors = [f.exception() for f in futures if f.exception() is not None]
        pages = [f.result() for f in futures if f.exception() is None]
        if errors:
            raise errors[0]
        args.extra = pages[3]
        run(pages[0], pages[1], pages[2], args, aud)
        check_console(pages)
        rc = 0
        log(f"PASS ({aud.checked} screens checked, {time.monotonic() - t0:.0f} s)")
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
