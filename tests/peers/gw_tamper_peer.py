#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""tests/peers/aiortc_peer.py --gateway with its media through a proxy.

    gw_tamper_peer.py --via IP:PORT AIORTC_PEER_ARGS...

runs aiortc_peer.py's gateway peer unchanged, except that the gateway
answer it hands to aiortc has every host candidate on --gateway-addr
rewritten to --via (tests/peers/udp_tamper_proxy.py listens there and
passes everything on to the gateway from its own socket). The answer's own
checks still run on the answer as sotto sent it; the check that the
nominated pair's remote end is the gateway accepts --via instead, which
is where this peer's media goes. Exit status as aiortc_peer.py's.
"""

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def take_via(argv):
    for i, a in enumerate(argv):
        if a == "--via" and i + 1 < len(argv):
            return argv[i + 1], argv[:i] + argv[i + 2:]
        if a.startswith("--via="):
            return a[6:], argv[:i] + argv[i + 1:]
    return None, argv


def main():
    via_text, rest = take_via(sys.argv[1:])
    if via_text is None:
        print("usage: gw_tamper_peer.py --via IP:PORT AIORTC_PEER_ARGS... "
              "(with --gateway)", file=sys.stderr)
        return 2
    sys.path.insert(0, HERE)
    import aiortc_peer as ap  # exits 77 itself if aiortc is missing

    for name in ("parse_addr", "RTCSessionDescription", "Peer", "say", "main",
                 "CheckFailed"):
        if not hasattr(ap, name):
            print("gw_tamper_peer: aiortc_peer.py has no %s: it changed under "
                  "this wrapper" % name, file=sys.stderr)
            return 1
    if not hasattr(ap.Peer, "check_gateway_transport"):
        print("gw_tamper_peer: aiortc_peer.Peer has no check_gateway_transport",
              file=sys.stderr)
        return 1
    try:
        via = ap.parse_addr(via_text)
    except ValueError as e:
        print("gw_tamper_peer: --via: %s" % e, file=sys.stderr)
        return 2
    orig_desc = ap.RTCSessionDescription
    orig_transport = ap.Peer.check_gateway_transport
    state = {"gateway_addrs": None}

    cand_re = re.compile(r"^(a=candidate:\S+ \d+ udp \d+ )(\S+) (\d+)( typ host.*)$",
                         re.I)

    def rewrite(sdp):
        out, n = [], 0
        gws = state["gateway_addrs"] or []
        for line in sdp.split("\n"):
            cr = "\r" if line.endswith("\r") else ""
            m = cand_re.match(line.rstrip("\r"))
            if m:
                try:
                    addr = ap.parse_addr(("[%s]:%s" if ":" in m.group(2) else "%s:%s") %
                                         (m.group(2), m.group(3)))
                except ValueError:
                    addr = None
                if addr in gws:
                    ip = via[0]
                    line = "%s%s %d%s%s" % (m.group(1), ip, via[1], m.group(4), cr)
                    n += 1
            out.append(line)
        ap.say("answer for aiortc: %d gateway candidate(s) rewritten to %s:%d" %
               (n, via[0], via[1]))
        if n == 0:
            raise ap.CheckFailed("no candidate of %s in the answer to send through "
                                 "the proxy" % gws)
        return "\n".join(out)

    def desc(sdp, type):
        if type == "answer":
            sdp = rewrite(sdp)
        return orig_desc(sdp=sdp, type=type)

    def check_transport(self):
        # our media goes to the proxy, which the gateway sees instead of us
        saved = self.args.gateway_addrs, self.args.gateway_addr
        self.args.gateway_addrs = [via]
        self.args.gateway_addr = "%s:%d (the proxy in front of %s)" % (
            via[0], via[1], saved[1])
        try:
            return orig_transport(self)
        finally:
            self.args.gateway_addrs, self.args.gateway_addr = saved

    orig_init = ap.Peer.__init__

    def init(self, args):
        orig_init(self, args)
        state["gateway_addrs"] = list(args.gateway_addrs)

    ap.RTCSessionDescription = desc
    ap.Peer.check_gateway_transport = check_transport
    ap.Peer.__init__ = init
    sys.argv = [os.path.join(HERE, "aiortc_peer.py")] + rest
    return ap.main()


if __name__ == "__main__":
    sys.exit(main())
