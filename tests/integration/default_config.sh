#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# sottod with no -c runs the embedded configs/sotto.yaml: STUN/TURN on
# 127.0.0.1:3478 and [::1]:3478, and the development secret from that file
# mints working credentials (as the README shows).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
lib_init "$@"
only_sottod "embedded default config"
only_driver udp "embedded default config (loopback)"

repo=$(cd "$(dirname "$0")/../.." && pwd)
# The first entry under turn.auth.secrets in the shipped file.
secret=$(awk '/^ *secrets:/ { s = 1; next } s && /^ *- / { sub(/^ *- */, ""); gsub(/"/, ""); print; exit }' \
	"$repo/configs/sotto.yaml")
[ -n "$secret" ] || fail "no secret found in configs/sotto.yaml"

peer=$(free_port_pair 34910) || exit 1
peer_start "$peer" "$T_V4"
server_start_default

for host in "$T_V4" "$T_V6"; do
	stun_binding "$host" 3478 || check_fail "no STUN answer on $host:3478"
done

# Credentials made the README way, with openssl.
user=$(rest_username $(($(date +%s) + 3600)) readme)
pass=$(rest_password "$secret" "$user")
uclient_expect_ok default-peer -c -u "$user" -w "$pass" -e "$T_V4" -r "$peer" \
	-m 2 -n 20 -p 3478 "$T_V4"
uclient_expect_ok default-c2c -y -c -W "$secret" -u readme -m 2 -n 20 -p 3478 "$T_V4"

server_stop TERM
lib_done
