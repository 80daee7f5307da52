#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A WebSocket man in the middle for sotto's signaling (browser_tamper.sh).

It plays a malicious signaling path: it relays every message between a
browser and sottod's /v1/ws unchanged, except that in one direction it
swaps the sha-256 DTLS fingerprint of every offer and answer for another
well-formed one. The SDP policy accepts the result (the fingerprint is
valid), so only the endpoints can notice: DTLS must refuse the peer's
certificate and the two verification codes must differ.

    tamper_proxy.py --listen 127.0.0.1:18381 \
        --upstream ws://127.0.0.1:18380/v1/ws --direction to-server

--direction to-server tampers what the browser sends (its own offer or
answer, as the other browser will see it); to-client what it receives.
The browser's Origin header is passed upstream as is, so sottod's origin
check sees the page's origin. Prints "listening" once it accepts
connections, and one line per message and per swap.
"""

import argparse
import asyncio
import json
import os
import re
import signal
import sys

import websockets

FP_RE = re.compile(r"(a=fingerprint:sha-256[ \t]+)([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){31})")
MAX_MESSAGE = 1 << 20


def out(msg):
    print(f"tamper_proxy: {msg}", flush=True)


class Tamperer:
    """Replaces each distinct fingerprint with its own fake, the same one
    every time it is seen (a consistent attacker)."""

    def __init__(self):
        self.fakes = {}
        self.swaps = 0

    def fake_for(self, real):
        real = real.upper()
        if real not in self.fakes:
            while True:
                fake = ":".join(f"{b:02X}" for b in os.urandom(32))
                if fake != real:
                    break
            self.fakes[real] = fake
        return self.fakes[real]

    def sdp(self, sdp):
        n = 0

        def swap(m):
            nonlocal n
            n += 1
            fake = self.fake_for(m.group(2))
            out(f"swap {m.group(2).upper()} -> {fake}")
            return m.group(1) + fake

        new = FP_RE.sub(swap, sdp)
        self.swaps += n
        return new, n


async def pump(src, dst, label, tamperer):
    async for raw in src:
        data = raw
        kind = "?"
        if isinstance(raw, str):
            try:
                msg = json.loads(raw)
            except ValueError:
                msg = None
            if isinstance(msg, dict):
                kind = str(msg.get("type"))
                if tamperer and kind in ("offer", "answer") and isinstance(msg.get("sdp"), str):
                    msg["sdp"], n = tamperer.sdp(msg["sdp"])
                    if n == 0:
                        out(f"{label}: {kind} without a sha-256 fingerprint, passed unchanged")
                    data = json.dumps(msg)
        out(f"{label}: {kind}")
        await dst.send(data)


async def serve(args):
    tamperer = Tamperer()

    async def handler(client, path=None):
        origin = client.request_headers.get("Origin")
        out(f"browser connected, Origin {origin}")
        try:
            upstream = await websockets.connect(
                args.upstream, origin=origin, max_size=MAX_MESSAGE,
                ping_interval=None)
        except Exception as e:
            out(f"upstream {args.upstream} refused: {e}")
            await client.close(1011, "upstream refused")
            return
        to_server = pump(client, upstream, "to-server",
                         tamperer if args.direction == "to-server" else None)
        to_client = pump(upstream, client, "to-client",
                         tamperer if args.direction == "to-client" else None)
        tasks = [asyncio.ensure_future(to_server), asyncio.ensure_future(to_client)]
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in pending:
            t.cancel()
        for t in done:
            if t.exception() and not isinstance(t.exception(), websockets.ConnectionClosed):
                out(f"relay error: {t.exception()!r}")
        await upstream.close()
        await client.close()
        out(f"connection done, {tamperer.swaps} fingerprint(s) swapped so far")

    host, port = args.listen.rsplit(":", 1)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with websockets.serve(handler, host, int(port), max_size=MAX_MESSAGE):
        out(f"listening on {args.listen}, upstream {args.upstream}, tampering {args.direction}")
        await stop
    out(f"stopped, {tamperer.swaps} fingerprint(s) swapped")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listen", required=True, help="host:port to listen on (loopback)")
    p.add_argument("--upstream", required=True, help="sottod's ws:// URL")
    p.add_argument("--direction", choices=("to-server", "to-client"), default="to-server")
    args = p.parse_args()
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
