#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A TCP byte relay from this network namespace into another one.

    netns_tcp_proxy.py --listen 127.0.0.1:18380 \\
        --upstream 127.0.0.1:18380 --upstream-netns /run/netns/NAME

Listens on --listen where it runs and, for each connection, opens a socket
to --upstream inside the namespace --upstream-netns (setns(2) with
CLONE_NEWNET around socket(2), then straight back: a socket keeps the
namespace it was made in) and copies bytes both ways until both sides have
closed. HTTP and WebSocket pass through unchanged, since it never looks at
them.

tests/integration/gateway_browser.sh runs it in the dpdk topology's client
namespace, where the Chromiums are, in front of sottod's HTTP listener on
loopback in sottod's own namespace: the pages' origin is then
http://127.0.0.1:PORT in the client namespace, a secure context as the web
client needs, while their media goes over the veth to sottod's DPDK port.

Prints "netns_tcp_proxy: listening on HOST:PORT" once it accepts; ends on
SIGTERM or SIGINT.
"""

import argparse
import ctypes
import os
import signal
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000


def say(msg):
    print(f"netns_tcp_proxy: {msg}", flush=True)


def parse_addr(spec):
    host, _, port = spec.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"want HOST:PORT, not {spec!r}")
    return host.strip("[]"), int(port)


class NetnsSocket:
    """Makes TCP sockets in the namespace at `path` (None: here). setns(2)
    moves only the calling thread, which comes back before it does anything
    else; the other threads (the listener's included) stay here."""

    def __init__(self, path):
        self.path = path
        self.libc = ctypes.CDLL(None, use_errno=True)
        if path is not None:
            # Fail at start, not on the first connection.
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            os.close(fd)

    def socket(self, family):
        if self.path is None:
            return socket.socket(family, socket.SOCK_STREAM)
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            target = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if self.libc.setns(target, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, f"setns({self.path}): {os.strerror(e)}")
                try:
                    return socket.socket(family, socket.SOCK_STREAM)
                finally:
                    if self.libc.setns(own, CLONE_NEWNET) != 0:
                        # A thread left in the other namespace must not
                        # go on: give up at once.
                        say(f"cannot return from {self.path}: "
                            f"{os.strerror(ctypes.get_errno())}")
                        os._exit(1)
            finally:
                os.close(target)
        finally:
            os.close(own)


def pump(src, dst, done):
    """Copies src to dst until src's EOF (or an error), then passes the
    EOF on. The second of the two pumps to finish closes both sockets."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    with done["lock"]:
        done["n"] += 1
        last = done["n"] == 2
    if last:
        src.close()
        dst.close()


def serve(conn, peer, upstream, maker, timeout):
    try:
        fam = socket.AF_INET6 if ":" in upstream[0] else socket.AF_INET
        up = maker.socket(fam)
        try:
            up.settimeout(timeout)
            up.connect(upstream)
            up.settimeout(None)
        except OSError as e:
            up.close()
            say(f"{peer[0]}:{peer[1]}: upstream {upstream[0]}:{upstream[1]}: {e}")
            conn.close()
            return
    except OSError as e:
        say(f"{peer[0]}:{peer[1]}: no upstream socket: {e}")
        conn.close()
        return
    done = {"lock": threading.Lock(), "n": 0}
    threading.Thread(target=pump, args=(up, conn, done), daemon=True).start()
    pump(conn, up, done)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listen", required=True, type=parse_addr, help="HOST:PORT to listen on, here")
    p.add_argument("--upstream", required=True, type=parse_addr,
                   help="HOST:PORT to connect to, in --upstream-netns")
    p.add_argument("--upstream-netns", help="a network namespace file (/run/netns/NAME); "
                   "default: this namespace")
    p.add_argument("--connect-timeout", type=float, default=5.0)
    args = p.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    try:
        maker = NetnsSocket(args.upstream_netns)
    except OSError as e:
        say(f"--upstream-netns: {e}")
        return 1
    host, port = args.listen
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        ls.bind((host, port))
        ls.listen(64)
    except OSError as e:
        say(f"cannot listen on {host}:{port}: {e}")
        return 1
    say(f"listening on {host}:{port}, upstream {args.upstream[0]}:{args.upstream[1]} in "
        f"{args.upstream_netns or 'this namespace'}")
    while True:
        conn, peer = ls.accept()
        threading.Thread(target=serve, args=(conn, peer, args.upstream, maker,
                                             args.connect_timeout), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
