#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Writes the seed corpora for tests/fuzz (STUN and ChannelData)."""
import hashlib
import hmac
import os
import struct
import sys
import zlib

COOKIE = 0x2112A442
root = sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus"

RFC5769 = {
    "rfc5769_2.1_request": "000100582112a442b7e7a701bc34d686fa87dfae"
    "802200105354554e207465737420636c69656e74"
    "002400046e0001ff80290008932ff9b151263b36"
    "000600096576746a3a68367659202020"
    "000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2"
    "80280004e57a3bcf",
    "rfc5769_2.2_ipv4_response": "0101003c2112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000080001a147e112a643"
    "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7"
    "80280004c07d4c96",
    "rfc5769_2.3_ipv6_response": "010100482112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9"
    "00080014a382954e4be67bf11784c97c8292c275bfe3ed41"
    "80280004c8fb0b4c",
    "rfc5769_2.4_long_term": "000100602112a44278ad3433c6ad72c029da412e"
    "00060012e3839ee38388e383aae38383e382afe382b90000"
    "0015001c662f2f3439396b393534643"
    "64f4c33346f4c394653547679363473 41"
    "0014000b6578616d706c652e6f726700"
    "00080014f67024656dd64a3e02b8e0712e85c9a28ca89666",
}


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)


def xaddr(ip, port, tid):
    x = port ^ (COOKIE >> 16)
    if len(ip) == 4:
        a = struct.unpack("!I", ip)[0] ^ COOKIE
        return struct.pack("!BBHI", 0, 1, x, a)
    pad = struct.pack("!I", COOKIE) + tid
    return struct.pack("!BBH", 0, 2, x) + bytes(p ^ q for p, q in zip(ip, pad))


def msg(method, cls, tid, attrs, key=None, fp=False):
    t = (method & 0xF) | ((method & 0x70) << 1) | ((method & 0xF80) << 2) | cls
    body = b"".join(attr(a, v) for a, v in attrs)
    if key is not None:
        hdr = struct.pack("!HHI", t, len(body) + 24, COOKIE) + tid
        mac = hmac.new(key, hdr + body, hashlib.sha1).digest()
        body += attr(0x0008, mac)
    if fp:
        hdr = struct.pack("!HHI", t, len(body) + 8, COOKIE) + tid
        crc = zlib.crc32(hdr + body) ^ 0x5354554E
        body += attr(0x8028, struct.pack("!I", crc))
    return struct.pack("!HHI", t, len(body), COOKIE) + tid + body


def u32(v):
    return struct.pack("!I", v)


tid = bytes(range(1, 13))
v4 = bytes([192, 0, 2, 1])
v6 = bytes.fromhex("20010db8123456780011223344556677")
key = hashlib.md5(b"1700000000:alice:sotto.example:secret").digest()
user = b"1700000000:alice"
realm = b"sotto.example"
nonce = b"0123456789abcdef"
auth = [(0x0006, user), (0x0014, realm), (0x0015, nonce)]

stun = {k: bytes.fromhex(v.replace(" ", "")) for k, v in RFC5769.items()}
stun.update({
    "binding_plain": msg(0x001, 0x000, tid, []),
    "binding_fp": msg(0x001, 0x000, tid, [(0x8022, b"sotto")], fp=True),
    "ice_check": msg(0x001, 0x000, tid, [
        (0x0006, b"abcd:efgh"), (0x0024, u32(0x6E0001FF)),
        (0x0025, b""), (0x802A, bytes(8))], key=b"icepassword", fp=True),
    "binding_success_v6": msg(0x001, 0x100, tid,
                              [(0x0020, xaddr(v6, 32853, tid))],
                              key=b"icepassword", fp=True),
    "allocate_noauth": msg(0x003, 0x000, tid, [(0x0019, u32(17 << 24))]),
    "allocate_401": msg(0x003, 0x110, tid, [
        (0x0009, bytes([0, 0, 4, 1]) + b"Unauthorized"),
        (0x0014, realm), (0x0015, nonce)], fp=True),
    "allocate_auth": msg(0x003, 0x000, tid, [
        (0x0019, u32(17 << 24)), (0x000D, u32(600)), (0x001A, b""),
        (0x0018, b"\x80"), (0x0017, b"\x02\0\0\0")] + auth,
        key=key, fp=True),
    "allocate_success": msg(0x003, 0x100, tid, [
        (0x0016, xaddr(v4, 49152, tid)), (0x0020, xaddr(v4, 32853, tid)),
        (0x000D, u32(600))], key=key, fp=True),
    "refresh_zero": msg(0x004, 0x000, tid, [(0x000D, u32(0))] + auth,
                        key=key),
    "create_permission": msg(0x008, 0x000, tid, [
        (0x0012, xaddr(v4, 0, tid)), (0x0012, xaddr(v6, 0, tid))] + auth,
        key=key, fp=True),
    "channel_bind": msg(0x009, 0x000, tid, [
        (0x000C, struct.pack("!HH", 0x4000, 0)),
        (0x0012, xaddr(v4, 5000, tid))] + auth, key=key),
    "send_indication": msg(0x006, 0x010, tid, [
        (0x0012, xaddr(v4, 5000, tid)), (0x0013, b"hello, peer")]),
    "data_indication": msg(0x007, 0x010, tid, [
        (0x0012, xaddr(v6, 5000, tid)), (0x0013, bytes(range(37)))]),
    "stale_nonce": msg(0x004, 0x110, tid, [
        (0x0009, bytes([0, 0, 4, 38]) + b"Stale Nonce"),
        (0x0014, realm), (0x0015, nonce)]),
    "unknown_required": msg(0x003, 0x000, tid, [
        (0x0030, b"x"), (0x7FFF, b""), (0x8050, b"opt")]),
})
# attributes after MESSAGE-INTEGRITY, ignored by the parser
m = msg(0x001, 0x000, tid, [(0x0006, b"u")], key=b"k")
extra = attr(0x8022, b"ignored") + attr(0x001C, bytes(32))
m = m[:2] + struct.pack("!H", len(m) - 20 + len(extra)) + m[4:] + extra
stun["after_integrity"] = m
# FINGERPRINT not last, and a truncated attribute
m = msg(0x001, 0x000, tid, [(0x8022, b"x")], fp=True)
stun["fingerprint_not_last"] = (m[:2] + struct.pack("!H", len(m) - 20 + 8)
                                + m[4:] + attr(0x8022, b"late"))
m = msg(0x001, 0x000, tid, [(0x8022, b"abcd")])
stun["truncated_attr"] = m[:22] + b"\x00\x09" + m[24:]

chandata = {
    "empty": struct.pack("!HH", 0x4000, 0),
    "rtp": struct.pack("!HH", 0x4001, 12) + bytes.fromhex(
        "80e1000100000001deadbeef"),
    "padded": struct.pack("!HH", 0x4fff, 5) + b"abcde\0\0\0",
    "max_channel": struct.pack("!HH", 0x4fff, 160) + bytes(160),
    "bad_channel": struct.pack("!HH", 0x5000, 4) + b"abcd",
    "short": struct.pack("!HH", 0x4000, 8) + b"abcd",
}

for sub, files in (("stun", stun), ("chandata", chandata)):
    d = os.path.join(root, sub)
    os.makedirs(d, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
