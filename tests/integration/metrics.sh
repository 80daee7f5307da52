#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# GET /metrics: the exposition passes promtool's checks, counters move when
# calls flow, and no label names a user, a room or an address.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
lib_init "$@"
only_sottod "sotto's metrics endpoint"
need_cmd curl promtool

port=$(free_port 34700) || exit 1
mport=$((port + 9))
T_METRICS_LISTEN="127.0.0.1:$mport"
# a distinctive REST user: it must not show up in any label
user="metricsprobeuser"
server_start "$port" 51100 51299 0

scrape() {
	curl -sf --max-time 5 "http://127.0.0.1:$mport/metrics" >"$1" ||
		fail "cannot scrape http://127.0.0.1:$mport/metrics"
}

# metric VALUE from a scrape: sum of every sample of that family whose
# labels contain $3 (or all)
value() {
	awk -v n="$2" -v l="${3:-}" '
		$1 ~ "^"n"($|{)" && index($1, l) { s += $NF }
		END { printf "%.0f\n", s }' "$1"
}

scrape "$T_DIR/before.txt"
if ! promtool check metrics <"$T_DIR/before.txt" >"$T_DIR/promtool.txt" 2>&1; then
	cat "$T_DIR/promtool.txt" >&2
	check_fail "promtool check metrics failed on the first scrape"
fi
for fam in sotto_build_info sotto_relayed_packets_total sotto_relayed_bytes_total \
	sotto_dataplane_drops_total sotto_turn_requests_total \
	sotto_turn_allocations sotto_turn_allocate_seconds_bucket \
	sotto_worker_busy_seconds_total sotto_mempool_in_use \
	sotto_exception_ring_depth sotto_uptime_seconds; do
	grep -q "^$fam" "$T_DIR/before.txt" || check_fail "no $fam in the exposition"
done
# every fast-path drop reason has its own series
for reason in malformed no_allocation no_permission bandwidth; do
	grep -q "^sotto_dataplane_drops_total{reason=\"$reason\"}" "$T_DIR/before.txt" ||
		check_fail "no drop series for reason $reason"
done

uclient_expect_ok metrics-calls -y -c -W "$T_SECRET" -u "$user" -p "$port" \
	-m 10 -n 50 -l 172 "$T_SRV4"

scrape "$T_DIR/after.txt"
promtool check metrics <"$T_DIR/after.txt" >"$T_DIR/promtool.txt" 2>&1 ||
	{ cat "$T_DIR/promtool.txt" >&2; check_fail "promtool check metrics failed after traffic"; }

moved() {
	local name=$1 labels=${2:-} b a
	b=$(value "$T_DIR/before.txt" "$name" "$labels")
	a=$(value "$T_DIR/after.txt" "$name" "$labels")
	if [ "$a" -gt "$b" ]; then
		log "ok: $name${labels:+ $labels} $b -> $a"
	else
		check_fail "$name${labels:+ $labels} did not grow ($b -> $a)"
	fi
}
moved sotto_relayed_packets_total 'direction="to_peer"'
moved sotto_relayed_packets_total 'direction="to_client"'
moved sotto_relayed_bytes_total 'direction="to_peer"'
moved sotto_turn_requests_total 'method="allocate"'
moved sotto_turn_requests_total 'method="channel_bind"'
moved sotto_turn_allocations_created_total
moved sotto_turn_channels_created_total
moved sotto_turn_allocate_seconds_count
moved sotto_worker_packets_total 'direction="rx"'
moved sotto_exception_packets_total
# the first Allocate of every client is challenged: 401 by method and code
moved sotto_turn_error_responses_total 'code="401"'

# anonymity and cardinality: no user, no address in any label
if grep -v '^#' "$T_DIR/after.txt" | grep -E "$user|127\.0\.0\.1|::1" >&2; then
	check_fail "a label carries a user or an address"
else
	log "ok: no user or address in $(grep -vc '^#' "$T_DIR/after.txt") samples"
fi

# wrong path and method
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/nope")
[ "$code" = 404 ] || check_fail "GET /nope answered $code, not 404"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$mport/metrics")
[ "$code" = 405 ] || check_fail "POST /metrics answered $code, not 405"

server_stop TERM
lib_done
