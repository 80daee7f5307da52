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

. "$(dirname "$0")/../lib/lib.sh"

pl_bench_args dtls "$@"
set -- "${pl_args[@]}"

runs=${RUNS:-3}
handshakes=${HANDSHAKES:-3000}
legs=${LEGS:-10000}
speed_s=${SPEED_SECONDS:-3}
cpu=${CPU:-0}
pl_pin_to "$cpu"
pin=("${pl_pin[@]}")

echo "machine: $(pl_cpu_model), $(nproc) cpus; $(openssl version)"
echo "pinned to cpu $cpu: ${pin[*]:-no taskset}"
# other work on the machine shows in every figure, the bound's included
echo "load average at start: $(pl_loadavg)"
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
	hs=$(printf '%s\n' "${results[@]}" | pl_field hs_per_s | pl_median 1)
	us=$(printf '%s\n' "${results[@]}" | pl_field server_us | pl_median 1)
	cert=$(printf '%s\n' "${results[@]}" | pl_field cert_us | pl_median 1)
	nocert=$(printf '%s\n' "${results[@]}" | pl_field hs_per_s_nocert | pl_median 1)
	bound=$(printf '%s\n' "${results[@]}" | pl_field bound | pl_median 1)
	bnc=$(printf '%s\n' "${results[@]}" | pl_field bound_nocert | pl_median 1)
	echo "-- $group, median of $runs: $hs handshakes/s per core" \
		"($us us each, $cert us of it the leg certificate);" \
		"openssl speed bound $bound/s;" \
		"without the per-leg certificate $nocert/s, bound $bnc/s"
	echo
	summary="$summary ${g}_hs_per_s=$hs ${g}_server_us=$us ${g}_cert_us=$cert ${g}_bound=$bound ${g}_hs_per_s_nocert=$nocert ${g}_bound_nocert=$bnc"
	if [ "$group" = X25519 ]; then
		last=${results[$((runs - 1))]}
		for k in mem_mid mem_est rss_mid rss_est; do
			summary="$summary $k=$(echo "$last" | pl_field $k)"
		done
	fi
done
echo "load average at end: $(pl_loadavg)"
echo "$summary"
