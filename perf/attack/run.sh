#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Hostile load against sottod, one attacker at a time beside its victims
# (README.md). Builds a network namespace of its own, runs attack.py in it
# and removes it on exit, whatever happens.
#
#   perf/attack/run.sh [--build DIR] [--sottod PATH] [--duration S]
#                      [--nsrc N] [--check] [--keep] [--work DIR] [ATTACK...]
#
#   --build DIR     meson build dir with perf/ (atk_flood, gw_load); build/
#   --sottod PATH   the daemon to attack (default DIR/sottod); any sottod
#                   that takes the config, e.g. /work/baseline/build/sottod
#   --duration S    seconds per phase (10; CI uses 3)
#   --nsrc N        spoofed sources for the floods (default per attack)
#   --check         pass/fail for CI: no BEFORE phase, exit 1 on a failure
#   --keep          keep the scratch directory (kept anyway on a failure)
#   --work DIR      the scratch directory (default /tmp/sotto-attack-PID)
#   ATTACK          send_flood chandata_flood spoof_flood invites even_port
#                   v6_spread conn_flood gw_forged gw_hello gw_junk, or
#                   1..8, or all (the default)
#
# Prints a markdown table (BEFORE / DURING per attack) and RESULT lines.
# Exit: 0 (without --check: everything ran), 1 a failure, 2 usage, 77 a
# missing prerequisite (root, ip, the perf tools). Needs root: namespaces,
# raw sockets for the spoofed sources.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$root/build
sottod=""
args=()

usage() {
	sed -n '4,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--sottod) sottod=$2; shift 2 ;;
	--duration | --nsrc | --work) args+=("$1" "$2"); shift 2 ;;
	--check | --keep) args+=("$1"); shift ;;
	-h | --help) usage ;;
	--*) echo "run.sh: unknown option $1" >&2; usage ;;
	*) args+=("$1"); shift ;;
	esac
done
[ -n "$sottod" ] || sottod=$build/sottod

skip() {
	echo "run.sh: SKIP: $*" >&2
	exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespace, raw sockets)"
for c in ip /usr/bin/python3; do
	command -v "$c" >/dev/null 2>&1 || skip "'$c' not found"
done
[ -x "$sottod" ] || skip "no sottod at $sottod"
/usr/bin/python3 -c 'import websockets' 2>/dev/null ||
	skip "python3-websockets missing (scripts/deps.sh)"

# Namespaces of runs that were killed outright (SIGKILL skips the trap):
# named after their pid, removed once that pid is gone.
for f in /run/netns/sotto-atk-*; do
	[ -e "$f" ] || continue
	pid=${f##*-}
	[[ $pid =~ ^[0-9]+$ ]] || continue
	[ -d "/proc/$pid" ] && continue
	ip netns pids "$(basename "$f")" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
	ip netns del "$(basename "$f")" 2>/dev/null || true
done

ns=sotto-atk-$$
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	local i pids sig
	# everything in the namespace is this run's own
	for sig in TERM KILL; do
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		[ -n "$pids" ] || break
		# shellcheck disable=SC2086 # one pid a word
		kill -s "$sig" $pids 2>/dev/null || true
		for ((i = 0; i < 30; i++)); do
			[ -n "$(ip netns pids "$ns" 2>/dev/null || true)" ] || break
			sleep 0.1
		done
	done
	ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# The topology (README.md): one namespace; sottod's TURN addresses on lo
# (198.18.0.0/24 is all local there, like 127/8), HTTP, metrics and the
# gateway on 127.0.0.1; the spoofed prefixes routed out of atk0 to a
# next hop whose MAC is atk1's, so every answer to a spoofed source is
# sent (and counted on atk0) and then dropped at atk1 (no forwarding).
ip netns add "$ns"
n=(ip -n "$ns")
"${n[@]}" link set lo up
"${n[@]}" addr add 198.18.0.1/24 dev lo
"${n[@]}" -6 addr add 2001:db8:1::1/128 dev lo nodad
"${n[@]}" link add atk0 type veth peer name atk1
for i in atk0 atk1; do
	ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$i.router_solicitations=0" \
		"net.ipv6.conf.$i.accept_ra=0" "net.ipv6.conf.$i.dad_transmits=0"
	"${n[@]}" link set "$i" up
done
mac=$("${n[@]}" -o link show atk1 | sed -E 's/.*link\/ether ([0-9a-f:]+).*/\1/')
"${n[@]}" route add 198.18.128.0/17 via 198.18.127.254 dev atk0 onlink
"${n[@]}" neigh replace 198.18.127.254 lladdr "$mac" dev atk0 nud permanent
"${n[@]}" -6 route add 2001:db8:48::/48 via fe80::1 dev atk0
"${n[@]}" -6 neigh replace fe80::1 lladdr "$mac" dev atk0 nud permanent
# attack 6's HTTP sources: one address in each of 64 /64s of the /48
# (local, so they can hold TCP connections), outside the flood's /64s
{
	for ((i = 0; i < 64; i++)); do
		printf 'address add 2001:db8:48:%x::2/128 dev lo nodad\n' $((0x100 + i))
	done
} | "${n[@]}" -6 -batch -

ulimit -n 65536 2>/dev/null || true
rc=0
ip netns exec "$ns" /usr/bin/python3 "$here/attack.py" run --sottod "$sottod" \
	--build "$build" "${args[@]}" || rc=$?
exit "$rc"
