#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# GET /metrics: the exposition passes promtool's checks, counters move by
# exactly what the test sent, and no label names a user, a room or an
# address.
#
# Two rounds of traffic, each between two scrapes:
#   1. a scripted client (below) whose every packet is known: 5 Binding
#      requests, an Allocate challenged (401) and one authenticated, a
#      CreatePermission, a Refresh to 0, and three datagrams the fast path
#      must drop, one per reason (no_channel, no_allocation, malformed).
#      Each counter must grow by exactly its share of that.
#   2. turnutils_uclient calls (client to client): the relayed packets and
#      bytes must equal what the clients sent and got back, every packet the
#      worker received must be accounted for (relayed, to the control
#      thread, or dropped), and nothing dropped. How many requests uclient
#      makes is its business (retransmits), so those counters are held to
#      relations (each allocation challenged once, timed once) instead.
# sottod sends nothing by itself in this config (no gateway, no signaling):
# between two scrapes its UDP counters move only with the test's traffic.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
lib_init "$@"
only_sottod "sotto's metrics endpoint"
need_cmd curl promtool

port=$(free_port 34700) || exit 1
mport=$((port + 9))
T_METRICS_LISTEN="127.0.0.1:$mport"
# a distinctive REST user: it must not show up in any label
user="metricsprobeuser"
server_start "$port" 51100 51299 0

D=$T_DRIVER
metrics_scrape "$T_DIR/before.txt"
if ! promtool check metrics <"$T_DIR/before.txt" >"$T_DIR/promtool.txt" 2>&1; then
	cat "$T_DIR/promtool.txt" >&2
	check_fail "promtool check metrics failed on the first scrape"
fi
for fam in sotto_build_info sotto_relayed_packets_total sotto_relayed_bytes_total \
	sotto_dataplane_drops_total sotto_turn_requests_total \
	sotto_turn_allocations sotto_turn_allocate_seconds_bucket \
	sotto_worker_busy_seconds_total sotto_mempool_in_use \
	sotto_exception_ring_depth sotto_uptime_seconds; do
	grep -q "^$fam" "$T_DIR/before.txt" || check_fail "no $fam in the exposition"
done
# every fast-path drop reason has its own series
for reason in malformed no_allocation no_channel no_permission bandwidth; do
	grep -q "^sotto_dataplane_drops_total{reason=\"$reason\"}" "$T_DIR/before.txt" ||
		check_fail "no drop series for reason $reason"
done

# --- 1. scripted traffic: exact deltas --------------------------------------

# turn_script HOST4 HOST6 PORT SECRET USER: sends the packets listed in the
# header, one at a time, never again (a retransmit would make the counts
# inexact: a request without an answer in 3 s fails the script instead).
cat >"$T_DIR/turn_script.py" <<'PY'
import base64, hashlib, hmac, os, socket, struct, sys, time, zlib

host4, host6, port, secret, user = sys.argv[1:6]
port = int(port)
COOKIE = 0x2112A442
BINDING, ALLOCATE, REFRESH, CREATE_PERMISSION = 0x001, 0x003, 0x004, 0x008
USERNAME, MI, ERROR_CODE, LIFETIME = 0x0006, 0x0008, 0x0009, 0x000D
XOR_PEER, REALM, NONCE, XOR_RELAYED = 0x0012, 0x0014, 0x0015, 0x0016
REQ_TRANSPORT, FINGERPRINT = 0x0019, 0x8028

def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)

def request(method, attrs, key=None):
    tid = os.urandom(12)
    body = b"".join(attrs)
    if key is not None:  # RFC 8489 §14.5: length counts MESSAGE-INTEGRITY
        hdr = struct.pack("!HHI", method, len(body) + 24, COOKIE) + tid
        body += attr(MI, hmac.new(key, hdr + body, hashlib.sha1).digest())
    hdr = struct.pack("!HHI", method, len(body) + 8, COOKIE) + tid
    crc = (zlib.crc32(hdr + body) ^ 0x5354554E) & 0xFFFFFFFF
    body += attr(FINGERPRINT, struct.pack("!I", crc))
    return tid, struct.pack("!HHI", method, len(body), COOKIE) + tid + body

def transact(s, dst, method, attrs, key=None, want=0x100):
    """One request, one answer: the class bits of the answer must be want
    (0x100 success, 0x110 error); returns {type: value}."""
    tid, pkt = request(method, attrs, key)
    s.sendto(pkt, dst)
    s.settimeout(3)
    while True:
        data = s.recv(65535)   # socket.timeout: no answer, fail
        if len(data) >= 20 and data[8:20] == tid:
            break
    mtype, = struct.unpack("!H", data[:2])
    got, off = {}, 20
    while off + 4 <= len(data):
        t, n = struct.unpack("!HH", data[off:off + 4])
        got[t] = data[off + 4:off + 4 + n]
        off += 4 + n + (-n % 4)
    cls = mtype & 0x110
    if cls != want:
        code = got.get(ERROR_CODE, b"\0\0\0\0")
        sys.exit("method 0x%03x: class 0x%03x, error %d, want class 0x%03x" %
                 (method, cls, code[2] * 100 + code[3], want))
    return got

def udp(fam, host):
    return socket.socket(fam, socket.SOCK_DGRAM), (host, port)

s4, srv4 = udp(socket.AF_INET, host4)
s6, srv6 = udp(socket.AF_INET6, host6)
for _ in range(3):
    transact(s4, srv4, BINDING, [])
for _ in range(2):
    transact(s6, srv6, BINDING, [])
print("5 bindings answered")

transport = attr(REQ_TRANSPORT, bytes([17, 0, 0, 0]))
got = transact(s4, srv4, ALLOCATE, [transport], want=0x110)
realm, nonce = got[REALM], got[NONCE]
code = got[ERROR_CODE]
assert code[2] * 100 + code[3] == 401, "first Allocate: want 401"
name = "%d:%s" % (time.time() + 3600, user)
password = base64.b64encode(hmac.new(secret.encode(), name.encode(),
                                     hashlib.sha1).digest())
key = hashlib.md5(name.encode() + b":" + realm + b":" + password).digest()
auth = [attr(USERNAME, name.encode()), attr(REALM, realm), attr(NONCE, nonce)]
got = transact(s4, srv4, ALLOCATE, auth + [transport], key)
relayed = got[XOR_RELAYED]
print("allocated (401 first)")
# the relayed address itself is a peer sottod allows (another relayed
# address of the same server), whatever the peer policy says of loopback
transact(s4, srv4, CREATE_PERMISSION, auth + [attr(XOR_PEER, relayed)], key)
print("permission created")

# ChannelData on a channel never bound (the allocation has a peer set now):
# no_channel. From a source with no allocation: no_allocation. A length
# past the end of the datagram: malformed.
s4.sendto(bytes([0x40, 0x01, 0, 4]) + b"abcd", srv4)
other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
other.sendto(bytes([0x40, 0x00, 0, 4]) + b"abcd", srv4)
other.sendto(bytes([0x40, 0x00, 0, 64]) + b"abcd", srv4)
print("3 datagrams to drop sent")

transact(s4, srv4, REFRESH, auth + [attr(LIFETIME, bytes(4))], key)
print("allocation deleted")
PY

metrics_scrape "$T_DIR/s1-before.txt"
if ! in_cli timeout 30 /usr/bin/python3 "$T_DIR/turn_script.py" "$T_SRV4" "$T_SRV6" \
	"$port" "$T_SECRET" "$user" >"$T_DIR/turn_script.log" 2>&1; then
	cat "$T_DIR/turn_script.log" >&2
	check_fail "the scripted client failed"
fi
metrics_scrape "$T_DIR/s1-after.txt"
# 9 requests to the control thread (5 Binding, 2 Allocate, CreatePermission,
# Refresh), each answered; 3 datagrams dropped by the worker.
expect_deltas "$T_DIR/s1-before.txt" "$T_DIR/s1-after.txt" \
	'sotto_turn_requests_total{method="binding"} = 5' \
	'sotto_turn_requests_total{method="allocate"} = 2' \
	'sotto_turn_requests_total{method="create_permission"} = 1' \
	'sotto_turn_requests_total{method="refresh"} = 1' \
	'sotto_turn_requests_total{method="channel_bind"} = 0' \
	'sotto_turn_auth_failures_total{reason="no_credentials"} = 1' \
	'sotto_turn_auth_failures_total{reason="bad_credentials"} = 0' \
	'sotto_turn_error_responses_total{method="allocate",code="401"} = 1' \
	'sotto_turn_allocations_created_total = 1' \
	'sotto_turn_allocate_seconds_count = 1' \
	'sotto_turn_permissions_created_total = 1' \
	'sotto_turn_channels_created_total = 0' \
	'sotto_turn_allocations = 0' \
	'sotto_dataplane_drops_total{reason="no_channel"} = 1' \
	'sotto_dataplane_drops_total{reason="no_allocation"} = 1' \
	'sotto_dataplane_drops_total{reason="malformed"} = 1' \
	'sotto_dataplane_drops_total{reason="no_permission"} = 0' \
	"sotto_relayed_packets_total{driver=\"$D\",direction=\"to_peer\"} = 0" \
	"sotto_relayed_packets_total{driver=\"$D\",direction=\"to_client\"} = 0" \
	'sotto_exception_packets_total = 9' \
	'sotto_worker_packets_total{worker="0",direction="rx"} = 12' \
	'sotto_worker_packets_total{worker="0",direction="tx"} = 9'

# --- 2. uclient calls: relayed exactly what was sent -------------------------

metrics_scrape "$T_DIR/s2-before.txt"
uclient_expect_ok metrics-calls -y -c -W "$T_SECRET" -u "$user" -p "$port" \
	-m 10 -n 50 -l 172 "$T_SRV4"
metrics_scrape "$T_DIR/after.txt"
promtool check metrics <"$T_DIR/after.txt" >"$T_DIR/promtool.txt" 2>&1 ||
	{ cat "$T_DIR/promtool.txt" >&2; check_fail "promtool check metrics failed after traffic"; }

# Client to client, each message crosses the relay twice: client A ->
# relay A (to_peer, towards relay B), relay B -> client B (to_client).
sent=${UC_SENT:-0}
expect_deltas "$T_DIR/s2-before.txt" "$T_DIR/after.txt" \
	"sotto_relayed_packets_total{driver=\"$D\",direction=\"to_peer\"} = $sent" \
	"sotto_relayed_packets_total{driver=\"$D\",direction=\"to_client\"} = $sent" \
	"sotto_relayed_bytes_total{driver=\"$D\",direction=\"to_peer\"} = $((sent * 172))" \
	"sotto_relayed_bytes_total{driver=\"$D\",direction=\"to_client\"} = $((sent * 172))" \
	'sotto_turn_allocations_created_total >= 1' \
	'sotto_turn_channels_created_total >= 1'
# nothing dropped on a clean run, whatever the reason
drops_b=$(awk '/^sotto_dataplane_drops_total[{]/ { s += $NF } END { print s + 0 }' "$T_DIR/s2-before.txt")
drops_a=$(awk '/^sotto_dataplane_drops_total[{]/ { s += $NF } END { print s + 0 }' "$T_DIR/after.txt")
[ "$drops_a" -eq "$drops_b" ] || check_fail "$((drops_a - drops_b)) datagrams dropped during clean calls: $(grep '^sotto_dataplane_drops_total' "$T_DIR/after.txt" | grep -v ' 0$' | tr '\n' ' ')"
# relations between what uclient's requests did
d() { delta_of "$T_DIR/s2-before.txt" "$T_DIR/after.txt" "$1" && printf '%s\n' "$DELTA"; }
have=1
created=$(d sotto_turn_allocations_created_total) || have=0
timed=$(d sotto_turn_allocate_seconds_count) || have=0
challenged=$(d 'sotto_turn_error_responses_total{method="allocate",code="401"}') || have=0
no_cred=$(d 'sotto_turn_auth_failures_total{reason="no_credentials"}') || have=0
allocs=$(d 'sotto_turn_requests_total{method="allocate"}') || have=0
binds=$(d 'sotto_turn_requests_total{method="channel_bind"}') || have=0
chans=$(d sotto_turn_channels_created_total) || have=0
rx=$(d 'sotto_worker_packets_total{worker="0",direction="rx"}') || have=0
exc=$(d sotto_exception_packets_total) || have=0
if [ "$have" -eq 0 ]; then
	check_fail "a series for the relations below is missing from /metrics"
else
	# each allocation is timed once, from its authenticated Allocate
	[ "$timed" -eq "$created" ] ||
		check_fail "allocate_seconds_count +$timed, allocations created +$created"
	# the first Allocate of every client is challenged: one 401, counted
	# as an authentication failure for want of credentials
	if [ "$challenged" -ne "$no_cred" ] || [ "$challenged" -lt "$created" ]; then
		check_fail "401 to Allocate +$challenged, no_credentials +$no_cred, allocations +$created"
	fi
	[ "$allocs" -ge $((created + challenged)) ] ||
		check_fail "Allocate requests +$allocs < $created allocations + $challenged challenges"
	[ "$binds" -ge "$chans" ] ||
		check_fail "ChannelBind requests +$binds < channels created +$chans"
	# every datagram the worker took in was relayed, handed to the control
	# thread, or dropped (none here)
	[ "$rx" -eq $((2 * sent + exc)) ] ||
		check_fail "worker rx +$rx, want relayed 2x$sent + control thread $exc"
	log "ok: $created allocations, $challenged challenged, $chans channels, rx $rx = 2x$sent + $exc"
fi

# anonymity and cardinality: no user, no address in any label
if grep -v '^#' "$T_DIR/after.txt" | grep -E "$user|127\.0\.0\.1|::1" >&2; then
	check_fail "a label carries a user or an address"
else
	log "ok: no user or address in $(grep -vc '^#' "$T_DIR/after.txt") samples"
fi

# wrong path and method
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/nope")
[ "$code" = 404 ] || check_fail "GET /nope answered $code, not 404"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$mport/metrics")
[ "$code" = 405 ] || check_fail "POST /metrics answered $code, not 405"

server_stop TERM
lib_done
