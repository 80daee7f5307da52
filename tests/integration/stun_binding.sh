#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# STUN Binding (RFC 8489) over IPv4 and IPv6: turnutils_stunclient
# must get its own address back as the mapped address, and many requests in
# a row must all be answered.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
lib_init "$@"

port=$(free_port 34780) || exit 1
server_start "$port" 50000 50399 1

for host in "$T_SRV4" "$T_SRV6"; do
	out="$T_DIR/stun-$host.txt"
	if stun_binding "$host" "$port" "$out"; then
		log "ok: binding over $host: $(grep -m1 'UDP reflexive addr' "$out")"
	else
		cat "$out" >&2
		check_fail "no mapped address from $host:$port"
	fi
done

# 20 bindings in a row, all answered (no per-source limit at this rate).
n=0
for ((i = 0; i < 20; i++)); do
	stun_binding "$T_SRV4" "$port" && n=$((n + 1))
done
[ "$n" -eq 20 ] || check_fail "only $n of 20 bindings answered"
[ "$n" -eq 20 ] && log "ok: 20 of 20 bindings answered"

server_stop TERM
lib_done
