#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# DTLS-SRTP server legs: handshakes per second per core beside the bound
# `openssl speed` puts on them, and memory per leg (method: README.md).
#
#   perf/dtls/run.sh [-b BUILD_DIR] [-- bench options]
#
# Environment: RUNS (3 per group), HANDSHAKES (3000 per run), LEGS (10000
# held for the memory count), SPEED_SECONDS (3 per openssl speed test),
# CPU (the core everything is pinned to; 0).
set -eu

build=build
while [ $# -gt 0 ]; do
	case "$1" in
	-b) build=$2; shift 2 ;;
	--) shift; break ;;
	*) echo "usage: $0 [-b BUILD_DIR] [-- bench options]" >&2; exit 2 ;;
	esac
done
bench=$build/perf/dtls/bench_dtls
if [ ! -x "$bench" ]; then
	echo "$0: no $bench; build first (ninja -C $build)" >&2
	exit 1
fi

runs=${RUNS:-3}
handshakes=${HANDSHAKES:-3000}
legs=${LEGS:-10000}
speed_s=${SPEED_SECONDS:-3}
cpu=${CPU:-0}
pin=()
if command -v taskset > /dev/null; then
	pin=(taskset -c "$cpu")
fi

model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
echo "machine: $model, $(nproc) cpus; $(openssl version)"
echo "pinned to cpu $cpu: ${pin[*]:-no taskset}"
# other work on the machine shows in every figure, the bound's included
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# the primitives a server handshake needs, on the same core
echo "== ${pin[*]} openssl speed -seconds $speed_s ecdsap256 ecdhp256 ecdhx25519"
speed=$(timeout 120 "${pin[@]}" openssl speed -seconds "$speed_s" \
	ecdsap256 ecdhp256 ecdhx25519 2> /dev/null)
echo "$speed" | grep -E 'sign/s|op/s|nistp256|X25519'
read -r sign verify < <(echo "$speed" |
	awk '/ecdsa \(nistp256\)/ { print $(NF-1), $NF }')
p256=$(echo "$speed" | awk '/ecdh \(nistp256\)/ { print $NF }')
x25519=$(echo "$speed" | awk '/ecdh \(X25519\)/ { print $NF }')
if [ -z "${sign:-}" ] || [ -z "$p256" ] || [ -z "$x25519" ]; then
	echo "$0: could not read openssl speed's output" >&2
	exit 1
fi
echo

median() { sort -g | awk '{ v[NR] = $1 } END {
	if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2];
	else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }

summary="RESULT sign_s=$sign verify_s=$verify ecdh_p256_s=$p256 ecdh_x25519_s=$x25519"
# TLS 1.2 reads supported_groups for the certificate's curve too, so a
# client must offer P-256 for our ECDSA P-256 certificate: "X25519:P-256"
# is what browsers send, and the server takes X25519 from it
for groups in P-256 X25519:P-256; do
	group=${groups%%:*}
	derive=$p256
	[ "$group" = X25519 ] && derive=$x25519
	results=()
	for i in $(seq "$runs"); do
		# memory once, on the last run: it does not depend on the group
		m=0
		[ "$group" = X25519 ] && [ "$i" = "$runs" ] && m=$legs
		echo "== $group run $i/$runs: $bench -n $handshakes -m $m -g $groups -S $sign -V $verify -E $derive $*"
		# bounded: about 1 ms per handshake, 1.5 per held leg
		out=$(timeout 300 "${pin[@]}" "$bench" -n "$handshakes" -m "$m" \
			-g "$groups" -S "$sign" -V "$verify" -E "$derive" "$@")
		echo "$out" | grep -v '^RESULT'
		results+=("$(echo "$out" | grep '^RESULT')")
		echo
	done
	g=$(echo "$group" | tr -d '-' | tr 'A-Z' 'a-z')
	hs=$(printf '%s\n' "${results[@]}" | field hs_per_s | median)
	us=$(printf '%s\n' "${results[@]}" | field server_us | median)
	cert=$(printf '%s\n' "${results[@]}" | field cert_us | median)
	nocert=$(printf '%s\n' "${results[@]}" | field hs_per_s_nocert | median)
	bound=$(printf '%s\n' "${results[@]}" | field bound | median)
	bnc=$(printf '%s\n' "${results[@]}" | field bound_nocert | median)
	echo "-- $group, median of $runs: $hs handshakes/s per core" \
		"($us us each, $cert us of it the leg certificate);" \
		"openssl speed bound $bound/s;" \
		"without the per-leg certificate $nocert/s, bound $bnc/s"
	echo
	summary="$summary ${g}_hs_per_s=$hs ${g}_server_us=$us ${g}_cert_us=$cert ${g}_bound=$bound ${g}_hs_per_s_nocert=$nocert ${g}_bound_nocert=$bnc"
	if [ "$group" = X25519 ]; then
		last=${results[$((runs - 1))]}
		for k in mem_mid mem_est rss_mid rss_est; do
			summary="$summary $k=$(echo "$last" | field $k)"
		done
	fi
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$summary"
