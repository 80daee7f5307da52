#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Client to client through the relay (turnutils_uclient -y): pairs of TURN
# clients send to each other's relayed address. Every message must come back:
# over channels (ChannelBind + ChannelData), over Send/Data indications (-s),
# with 50 clients at once, with RTCP allocations (EVEN-PORT and
# RESERVATION-TOKEN), and over IPv6 (-x: IPv6 relayed address, to the server's IPv6 address).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
lib_init "$@"

port=$(free_port 34800) || exit 1
# No loopback allow entry: sottod's peer policy lets relayed addresses of
# the gateway itself (its relay port range) be peers, so two callers on one
# gateway reach each other. coturn has no such rule and needs loopback peers.
allow=0
[ "$SERVER_KIND" = turnserver ] && allow=1
server_start "$port" 50400 50999 "$allow"

common=(-y -c -W "$T_SECRET" -u alice -p "$port")

uclient_expect_ok c2c-channels "${common[@]}" -m 10 -n 50 -l 172 "$T_SRV4"
uclient_expect_ok c2c-send "${common[@]}" -s -m 10 -n 50 -l 172 "$T_SRV4"
uclient_expect_ok c2c-50-clients "${common[@]}" -m 50 -n 50 -l 172 "$T_SRV4"
uclient_expect_ok c2c-large "${common[@]}" -m 4 -n 20 -l 1200 "$T_SRV4"
uclient_expect_ok c2c-ipv6 "${common[@]}" -x -m 10 -n 50 -l 172 "$T_SRV6"
uclient_expect_ok c2c-ipv6-send "${common[@]}" -x -s -m 10 -n 50 -l 172 "$T_SRV6"
# RTCP allocations: EVEN-PORT with the R bit, then RESERVATION-TOKEN.
uclient_expect_ok c2c-rtcp -y -W "$T_SECRET" -u alice -p "$port" -m 4 -n 20 -l 172 "$T_SRV4"

server_stop TERM
lib_done
