#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The dpdk driver's test topology: two network namespaces joined by a veth
# pair. sottod runs in the gateway namespace with its DPDK port (AF_XDP or
# AF_PACKET vdev) on the gateway end; the TURN clients and UDP peers run in
# the client namespace, which holds the kernel's addresses.
#
#   scripts/netns.sh up NAME     build it; prints shell assignments for eval
#   scripts/netns.sh down NAME   tear it down (idempotent, safe from a trap)
#
#   +-- netns sotto-gw-NAME ------+        +-- netns sotto-cli-NAME ------+
#   | sottod (dpdk driver)        |        | turnutils_*, peers           |
#   | port on gw0, no kernel IPs: |  veth  | cli0  198.18.0.2/24          |
#   |   198.18.0.1/24             |========|       2001:db8:1::2/64       |
#   |   2001:db8:1::1/64          |        |                              |
#   +-----------------------------+        +------------------------------+
#
# NAME keeps concurrent runs apart (letters, digits, '-', at most 20
# characters). The veth is created directly inside the namespaces, so its
# ends never exist in the host namespace and their short fixed names cannot
# clash with anything there. Addresses are from the benchmarking range
# 198.18.0.0/15 (RFC 2544) and the documentation prefix 2001:db8::/32: they
# are never routed, and they stay inside namespaces that this script owns.
# Needs root.
set -euo pipefail

GW_IF=gw0
CLI_IF=cli0
V4_GW=198.18.0.1
V4_CLI=198.18.0.2
V4_PREFIX=24
V6_GW=2001:db8:1::1
V6_CLI=2001:db8:1::2
V6_PREFIX=64

die() {
	printf 'netns.sh: %s\n' "$*" >&2
	exit 1
}

usage() {
	printf 'usage: %s up|down NAME\n' "$0" >&2
	exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
name=$2
[[ $name =~ ^[A-Za-z0-9-]{1,20}$ ]] || die "bad NAME '$name' (letters, digits, '-', 1..20 chars)"
gw_ns=sotto-gw-$name
cli_ns=sotto-cli-$name

ns_exists() { [ -e "/run/netns/$1" ]; }

# kill_ns NS: end whatever still runs in NS (a sottod or client left by a
# test that was itself killed). A process inside keeps the namespace, and
# with it the veth, alive after `ip netns del`. The namespace is this run's
# own, so everything in it was started by this run.
kill_ns() {
	local ns=$1 pids i
	ns_exists "$ns" || return 0
	for sig in TERM KILL; do
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		[ -n "$pids" ] || return 0
		# shellcheck disable=SC2086 # one pid a word
		kill -s "$sig" $pids 2>/dev/null || true
		for ((i = 0; i < 30; i++)); do
			[ -n "$(ip netns pids "$ns" 2>/dev/null || true)" ] || return 0
			sleep 0.1
		done
	done
}

down() {
	local ns
	for ns in "$gw_ns" "$cli_ns"; do
		kill_ns "$ns"
		if ns_exists "$ns"; then
			# Deleting either namespace destroys the veth pair.
			ip netns del "$ns" 2>/dev/null || true
		fi
		ns_exists "$ns" && die "could not delete namespace $ns"
	done
	return 0
}

up() {
	[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
	if ns_exists "$gw_ns" || ns_exists "$cli_ns"; then
		die "namespaces for '$name' exist already (scripts/netns.sh down $name)"
	fi
	# Half-built topologies are removed again.
	trap 'down' ERR
	ip netns add "$gw_ns"
	ip netns add "$cli_ns"
	ip link add "$GW_IF" netns "$gw_ns" type veth peer name "$CLI_IF" netns "$cli_ns"

	local g=(ip netns exec "$gw_ns") c=(ip netns exec "$cli_ns")
	# The kernel must leave the gateway end alone: no IPv6 (it would answer
	# neighbour solicitations and send its own router solicitations), no
	# addresses; sottod answers ARP, ND and ping there itself.
	"${g[@]}" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	"${g[@]}" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
	"${g[@]}" ip link set lo up
	"${g[@]}" ip link set "$GW_IF" up
	# AF_PACKET and AF_XDP see a frame as the peer's veth hands it over; with
	# TX checksum offload on, a UDP checksum there is only partial (the
	# kernel would finish it on a real NIC), and sottod would drop the
	# datagram as corrupt. Off on both ends, so frames carry full checksums
	# either way.
	"${g[@]}" ethtool -K "$GW_IF" tx off rx off >/dev/null
	"${c[@]}" ethtool -K "$CLI_IF" tx off >/dev/null

	"${c[@]}" ip link set lo up
	"${c[@]}" ip addr add "$V4_CLI/$V4_PREFIX" dev "$CLI_IF"
	# nodad: the address is usable at once, and the kernel sends no DAD
	# probes that sottod would have to ignore.
	"${c[@]}" ip addr add "$V6_CLI/$V6_PREFIX" dev "$CLI_IF" nodad
	"${c[@]}" ip link set "$CLI_IF" up
	trap - ERR

	cat <<EOF
GW_NS=$gw_ns
CLI_NS=$cli_ns
GW_IF=$GW_IF
CLI_IF=$CLI_IF
V4_GW=$V4_GW
V4_CLI=$V4_CLI
V4_PREFIX=$V4_PREFIX
V6_GW=$V6_GW
V6_CLI=$V6_CLI
V6_PREFIX=$V6_PREFIX
EOF
}

case $cmd in
up) up ;;
down) down ;;
*) usage ;;
esac
