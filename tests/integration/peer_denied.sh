#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Peer address policy: with no allow entry in the config, peers on the
# clients' addresses are denied (RFC 8656 §9 / CVE-2020-26262): loopback in
# udp mode, 198.18.0.2 (built-in deny of 198.18.0.0/15) and 2001:db8:1::2 (a
# deny entry) in dpdk mode. ChannelBind and CreatePermission to them at a
# port outside the relay range get 403, Send indications are dropped, and
# the peer (a UDP sink) receives nothing.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
lib_init "$@"

port=$(free_port 34860) || exit 1
peer4=$(free_port 34870) || exit 1
sink_start "$peer4" "$T_CLI4" "$T_DIR/sink4.txt"
peer6=$(free_port $((peer4 + 1))) || exit 1
sink_start "$peer6" "$T_CLI6" "$T_DIR/sink6.txt"
server_start "$port" 51800 52199 0

common=(-c -W "$T_SECRET" -u dave -p "$port" -m 2 -n 10)

uclient_expect_nodata denied-channel "${common[@]}" -e "$T_CLI4" -r "$peer4" "$T_SRV4"
grep -q '403' "$UC_LOG" || { show_uclient_log; check_fail "denied-channel: no 403 from ChannelBind"; }
uclient_expect_nodata denied-send "${common[@]}" -s -e "$T_CLI4" -r "$peer4" "$T_SRV4"
uclient_expect_nodata denied-ipv6 "${common[@]}" -x -e "$T_CLI6" -r "$peer6" "$T_SRV6"
grep -q '403' "$UC_LOG" || { show_uclient_log; check_fail "denied-ipv6: no 403 from ChannelBind"; }
uclient_expect_nodata denied-ipv6-send "${common[@]}" -x -s -e "$T_CLI6" -r "$peer6" "$T_SRV6"

# Whatever the client saw, the peers must not have received a datagram.
sleep 0.5
for f in "$T_DIR/sink4.txt" "$T_DIR/sink6.txt"; do
	n=$(wc -l <"$f")
	[ "$n" -eq 0 ] || check_fail "peer sink $(basename "$f") received $n datagrams"
done

# Control: the sink does count what reaches it (else the check above could
# never fail).
# shellcheck disable=SC2016 # expanded by the inner shell
in_cli bash -c 'printf x >"/dev/udp/$0/$1"' "$T_CLI4" "$peer4"
sleep 0.3
[ "$(wc -l <"$T_DIR/sink4.txt")" -eq 1 ] || check_fail "control datagram not counted by the sink"

server_alive || fail "server died"
server_stop TERM
lib_done
