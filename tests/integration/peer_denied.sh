#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Peer address policy: with no allow entry in the config, peers on the
# clients' addresses are denied (RFC 8656 §9 / CVE-2020-26262): loopback in
# udp mode, 198.18.0.2 (built-in deny of 198.18.0.0/15) and 2001:db8:1::2 (a
# deny entry) in dpdk mode. Over IPv4 and IPv6:
#   - a ChannelBind to them gets 403 (uclient says so; sottod counts a 403
#     to channel_bind, and the peer as denied, once per ChannelBind);
#   - Send indications to them are dropped: every one that sottod handled
#     is counted as denied (and a CreatePermission, where the policy refuses
#     it outright, is a 403), and the peer, a UDP sink, receives 0 bytes.
# Control: the same clients, the same sinks, against a second sottod whose
# config allows those peers: each sink gets every Send indication's data,
# over IPv4 and over IPv6, so a setup that could never deliver cannot pass
# for a refusal.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
lib_init "$@"

port=$(free_port 34860) || exit 1
peer4=$(free_port 34870) || exit 1
sink_start "$peer4" "$T_CLI4" "$T_DIR/sink4.txt"
peer6=$(free_port $((peer4 + 1))) || exit 1
sink_start "$peer6" "$T_CLI6" "$T_DIR/sink6.txt"
if [ "$SERVER_KIND" = sottod ]; then
	mport=$(free_tcp_port 34880) || exit 1
	T_METRICS_LISTEN="127.0.0.1:$mport"
fi

common=(-c -W "$T_SECRET" -u dave -p "$port" -m 2 -n 10)
lines() { wc -l <"$1"; }

# scrape FILE: /metrics, where there are (sottod); else an empty file
scrape() {
	if [ "$SERVER_KIND" = sottod ]; then
		metrics_scrape "$1"
	else
		: >"$1"
	fi
}

# sinks_still FROM4 FROM6 NAME: neither sink got a datagram since.
sinks_still() {
	local n4 n6
	sleep 0.5
	n4=$(($(lines "$T_DIR/sink4.txt") - $1))
	n6=$(($(lines "$T_DIR/sink6.txt") - $2))
	if [ "$n4" -ne 0 ] || [ "$n6" -ne 0 ]; then
		check_fail "$3: the denied peers received $n4 (IPv4) and $n6 (IPv6) datagrams"
	fi
}

# denied_channel NAME ARGS...: the ChannelBind is refused with 403.
denied_channel() {
	local name=$1 s4 s6 b a
	shift
	s4=$(lines "$T_DIR/sink4.txt")
	s6=$(lines "$T_DIR/sink6.txt")
	scrape "$T_DIR/$name-before.txt"
	uclient_expect_nodata "$name" "${common[@]}" "$@"
	grep -q 'channel bind: error 403' "$UC_LOG" ||
		{ show_uclient_log; check_fail "$name: no 403 to the ChannelBind"; }
	sinks_still "$s4" "$s6" "$name"
	[ "$SERVER_KIND" = sottod ] || return 0
	scrape "$T_DIR/$name-after.txt"
	b="$T_DIR/$name-before.txt"
	a="$T_DIR/$name-after.txt"
	expect_deltas "$b" "$a" \
		'sotto_turn_error_responses_total{method="channel_bind",code="403"} >= 1' \
		'sotto_turn_channels_created_total = 0' || return 1
	# every ChannelBind refused, each as a denied peer, nothing else denied
	delta_of "$b" "$a" 'sotto_turn_error_responses_total{method="channel_bind",code="403"}' ||
		fail "$name: $DELTA_WHY"
	local refused=$DELTA
	expect_deltas "$b" "$a" \
		"sotto_turn_requests_total{method=\"channel_bind\"} = $refused" \
		"sotto_turn_peer_denied_total = $refused"
}

# denied_send NAME ARGS...: Send indications (-s) to a denied peer: not one
# byte arrives, and sottod counts every one it handled as denied.
denied_send() {
	local name=$1 s4 s6 b a sends perm403
	shift
	s4=$(lines "$T_DIR/sink4.txt")
	s6=$(lines "$T_DIR/sink6.txt")
	scrape "$T_DIR/$name-before.txt"
	uclient "$name" "${common[@]}" -s "$@"
	uclient_counts
	if [ "$UC_RC" -eq 124 ]; then
		show_uclient_log
		check_fail "$name: client hung (killed after $T_TIMEOUT s)"
	fi
	sinks_still "$s4" "$s6" "$name"
	[ "$SERVER_KIND" = sottod ] || return 0
	scrape "$T_DIR/$name-after.txt"
	b="$T_DIR/$name-before.txt"
	a="$T_DIR/$name-after.txt"
	# sottod allows a permission for one of its own relay addresses (in
	# udp mode the peers share 127.0.0.1 and ::1 with them) and checks the
	# port on each Send indication; a peer the policy refuses whatever the
	# port (dpdk mode) gets its CreatePermission refused with 403.
	delta_of "$b" "$a" 'sotto_turn_send_indications_total' || {
		check_fail "$name: sotto_turn_send_indications_total: $DELTA_WHY"
		return 1
	}
	sends=$DELTA
	delta_of "$b" "$a" 'sotto_turn_error_responses_total{method="create_permission",code="403"}' ||
		fail "$name: $DELTA_WHY"
	perm403=$DELTA
	if [ $((sends + perm403)) -eq 0 ]; then
		show_uclient_log
		check_fail "$name: no Send indication reached sottod and no CreatePermission was refused"
		return 1
	fi
	log "$name: $sends Send indications, $perm403 CreatePermission 403s (uclient: exit $UC_RC, sent ${UC_SENT:-?})"
	# with the permission granted, every Send indication uclient counted
	# as sent reached sottod
	if [ "$perm403" -eq 0 ] && [ "$sends" -ne "${UC_SENT:-0}" ]; then
		check_fail "$name: uclient sent ${UC_SENT:-?} Send indications, sottod handled $sends"
	fi
	expect_deltas "$b" "$a" \
		"sotto_turn_peer_denied_total = $((sends + perm403))" \
		'sotto_turn_channels_created_total = 0'
}

# --- denied ------------------------------------------------------------------

server_start "$port" 51800 52199 0
denied_channel denied-channel -e "$T_CLI4" -r "$peer4" "$T_SRV4"
denied_channel denied-ipv6 -x -e "$T_CLI6" -r "$peer6" "$T_SRV6"
denied_send denied-send -e "$T_CLI4" -r "$peer4" "$T_SRV4"
denied_send denied-ipv6-send -x -e "$T_CLI6" -r "$peer6" "$T_SRV6"
server_alive || fail "server died"
server_stop TERM

# --- control: the same clients and sinks, the peers allowed ------------------

# allowed_send NAME SINK ARGS...: every Send indication's data reaches SINK.
allowed_send() {
	local name=$1 sink=$2 s i
	shift 2
	s=$(lines "$sink")
	uclient "$name" "${common[@]}" -s "$@"
	uclient_counts
	if [ -z "$UC_SENT" ] || [ "$UC_SENT" -eq 0 ]; then
		show_uclient_log
		check_fail "$name: the client sent nothing (exit $UC_RC)"
		return 1
	fi
	for ((i = 0; i < 20; i++)); do
		[ $(($(lines "$sink") - s)) -ge "$UC_SENT" ] && break
		sleep 0.1
	done
	if [ $(($(lines "$sink") - s)) -ne "$UC_SENT" ]; then
		show_uclient_log
		check_fail "$name: the allowed peer received $(($(lines "$sink") - s)) of $UC_SENT datagrams"
		return 1
	fi
	log "ok: $name: the allowed peer received all $UC_SENT datagrams"
}

server_start "$port" 51800 52199 1
allowed_send allowed-send "$T_DIR/sink4.txt" -e "$T_CLI4" -r "$peer4" "$T_SRV4"
allowed_send allowed-ipv6-send "$T_DIR/sink6.txt" -x -e "$T_CLI6" -r "$peer6" "$T_SRV6"
server_alive || fail "server died"
server_stop TERM
lib_done
