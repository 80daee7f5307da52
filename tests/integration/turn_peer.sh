#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A TURN client and a plain UDP peer (turnutils_peer, an echo server) on an
# allowed loopback address: uclient -e sends through its relayed address and
# must get every message echoed back, over channels and over Send/Data
# indications, IPv4 and IPv6.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
lib_init "$@"

port=$(free_port 34820) || exit 1
peer4=$(free_port_pair 34830) || exit 1
peer_start "$peer4" "$T_CLI4"
peer6=$(free_port_pair $((peer4 + 2))) || exit 1
peer_start "$peer6" "$T_CLI6"
server_start "$port" 51000 51399 1

common=(-c -W "$T_SECRET" -u bob -p "$port")

uclient_expect_ok peer-channels "${common[@]}" -e "$T_CLI4" -r "$peer4" -m 10 -n 50 -l 172 "$T_SRV4"
uclient_expect_ok peer-send "${common[@]}" -s -e "$T_CLI4" -r "$peer4" -m 10 -n 50 -l 172 "$T_SRV4"
uclient_expect_ok peer-ipv6 "${common[@]}" -x -e "$T_CLI6" -r "$peer6" -m 10 -n 50 -l 172 "$T_SRV6"
uclient_expect_ok peer-ipv6-send "${common[@]}" -x -s -e "$T_CLI6" -r "$peer6" -m 10 -n 50 -l 172 "$T_SRV6"

server_stop TERM
lib_done
