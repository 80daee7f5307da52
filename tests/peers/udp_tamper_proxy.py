#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A UDP proxy between one WebRTC peer and sotto's gateway that tampers.

The peer sends to --listen; the proxy passes every datagram on to
--upstream from one socket of its own (so the gateway sees the proxy's
address, as behind a NAT: the ICE check, DTLS and SRTP all come from
there) and passes the gateway's datagrams back to the peer. Once
--start-after SRTP (not SRTCP) packets have gone up, for the next
--inject of them it also sends the gateway, per packet P:

  flip     a copy of P with one bit of its encrypted payload flipped, just
           BEFORE P itself (so its index is new to the replay window and
           only the authentication tag can refuse it: srtp_auth);
  replay   the SRTP packet forwarded --replay-lag packets before P, again
           (already accepted: srtp_replay);
  foreign  a copy of P from a third socket, another source port the
           gateway has no leg for (gw_unknown_leg).

Anything the gateway sends to that third socket is counted (it must be
nothing). The counts go to --stats as JSON (rewritten every 0.5 s and at
exit): packets each way by kind (stun, dtls, rtp, rtcp, other), injected
per kind, and what flowed each way after the last injection. Runs until
SIGTERM/SIGINT or --duration. Loopback addresses only.
"""

import argparse
import ipaddress
import json
import os
import re
import select
import signal
import socket
import sys
import time

STOP = False


def on_signal(signum, frame):
    global STOP
    STOP = True


def parse_addr(text):
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)|([0-9.]+):(\d+)", text)
    if not m:
        raise ValueError("not IP:PORT or [IPv6]:PORT: %r" % text)
    ip = ipaddress.ip_address(m.group(1) or m.group(3))
    if not ip.is_loopback:
        raise ValueError("%s is not a loopback address" % ip)
    return str(ip), int(m.group(2) or m.group(4))


def kind(p):
    """RFC 7983 demultiplexing, and RTP vs RTCP by payload type (RFC 5761)."""
    if not p:
        return "other"
    b = p[0]
    if b <= 3:
        return "stun"
    if 20 <= b <= 63:
        return "dtls"
    if 128 <= b <= 191 and len(p) >= 12:
        return "rtcp" if 64 <= (p[1] & 0x7F) <= 95 else "rtp"
    return "other"


def payload_offset(p):
    """Where an RTP packet's payload starts, or None (RFC 3550 §5.1, §5.3.1)."""
    off = 12 + 4 * (p[0] & 0x0F)
    if p[0] & 0x10:
        if len(p) < off + 4:
            return None
        off += 4 + 4 * int.from_bytes(p[off + 2:off + 4], "big")
    return off if off < len(p) else None


# the largest SRTP tag (AEAD_AES_128_GCM); AES128_CM_SHA1_80 has 10 bytes
MAX_TAG = 16


def flipped(p):
    """p with one bit flipped in the middle of its encrypted payload (never
    in the header or the tag), or None if it has no such byte."""
    off = payload_offset(p)
    if off is None or len(p) - MAX_TAG <= off:
        return None
    i = off + (len(p) - MAX_TAG - off) // 2
    q = bytearray(p)
    q[i] ^= 0x10
    return bytes(q)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", required=True, help="IP:PORT the peer sends to")
    ap.add_argument("--upstream", required=True, help="the gateway's IP:PORT")
    ap.add_argument("--start-after", type=int, default=50,
                    help="SRTP packets passed on untouched first")
    ap.add_argument("--inject", type=int, default=20,
                    help="packets to tamper with (each kind once per packet)")
    ap.add_argument("--replay-lag", type=int, default=3)
    ap.add_argument("--stats", required=True, help="JSON counts go here")
    ap.add_argument("--duration", type=float, default=120.0)
    args = ap.parse_args()
    try:
        listen = parse_addr(args.listen)
        up = parse_addr(args.upstream)
    except ValueError as e:
        ap.error(str(e))
    fam = socket.AF_INET6 if ":" in up[0] else socket.AF_INET
    any_lo = "::1" if fam == socket.AF_INET6 else "127.0.0.1"

    front = socket.socket(socket.AF_INET6 if ":" in listen[0] else socket.AF_INET,
                          socket.SOCK_DGRAM)
    front.bind(listen)
    back = socket.socket(fam, socket.SOCK_DGRAM)
    back.bind((any_lo, 0))
    foreign = socket.socket(fam, socket.SOCK_DGRAM)
    foreign.bind((any_lo, 0))
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    kinds = ("stun", "dtls", "rtp", "rtcp", "other")
    st = {
        "listen": "%s:%d" % front.getsockname()[:2],
        "upstream_from": "%s:%d" % back.getsockname()[:2],
        "foreign_from": "%s:%d" % foreign.getsockname()[:2],
        "up": {k: 0 for k in kinds},
        "down": {k: 0 for k in kinds},
        "injected": {"flip": 0, "replay": 0, "foreign": 0},
        "skipped_short": 0,
        "to_foreign": 0,
        "from_elsewhere": 0,
        "after": {"up_rtp": 0, "down_rtp": 0, "down_rtcp": 0},
        "started_at": None, "done_at": None, "done": False,
        "peer": None,
    }
    history = []  # SRTP packets forwarded up, newest last
    rtp_up = 0
    peer = None
    t_end = time.monotonic() + args.duration
    next_write = 0.0

    def write_stats():
        tmp = args.stats + ".tmp"
        with open(tmp, "w") as f:
            json.dump(st, f)
        os.replace(tmp, args.stats)

    print("udp_tamper_proxy: %s -> %s from %s (foreign %s)" %
          (st["listen"], "%s:%d" % up, st["upstream_from"], st["foreign_from"]),
          file=sys.stderr, flush=True)
    write_stats()
    while not STOP and time.monotonic() < t_end:
        try:
            r, _, _ = select.select([front, back, foreign], [], [], 0.1)
        except InterruptedError:
            continue
        if front in r:
            data, src = front.recvfrom(65535)
            if peer is None:
                st["peer"] = "%s:%d" % src[:2]
            peer = src
            k = kind(data)
            st["up"][k] += 1
            if k == "rtp":
                rtp_up += 1
                tampering = (rtp_up > args.start_after and
                             st["injected"]["flip"] < args.inject)
                if tampering:
                    bad = flipped(data)
                    if bad is None:
                        st["skipped_short"] += 1
                        tampering = False
                if tampering:
                    if st["started_at"] is None:
                        st["started_at"] = time.time()
                    back.sendto(bad, up)
                    st["injected"]["flip"] += 1
                back.sendto(data, up)
                if tampering:
                    if len(history) >= args.replay_lag:
                        back.sendto(history[-args.replay_lag], up)
                        st["injected"]["replay"] += 1
                    foreign.sendto(data, up)
                    st["injected"]["foreign"] += 1
                    if st["injected"]["flip"] >= args.inject:
                        st["done"] = True
                        st["done_at"] = time.time()
                elif st["done"]:
                    st["after"]["up_rtp"] += 1
                history.append(data)
                del history[:-16]
            else:
                back.sendto(data, up)
        if back in r:
            data, src = back.recvfrom(65535)
            if (src[0], src[1]) != up:
                st["from_elsewhere"] += 1
            else:
                k = kind(data)
                st["down"][k] += 1
                if st["done"] and k in ("rtp", "rtcp"):
                    st["after"]["down_" + k] += 1
                if peer is not None:
                    front.sendto(data, peer)
        if foreign in r:
            foreign.recvfrom(65535)
            st["to_foreign"] += 1
        now = time.monotonic()
        if now >= next_write:
            write_stats()
            next_write = now + 0.5
    write_stats()
    return 0


if __name__ == "__main__":
    sys.exit(main())
