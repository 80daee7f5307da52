#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Send indications count against turn.limits.requests_per_source (issue 21):
# a client that relays its traffic in Send indications is held to the
# per-source request rate like any STUN request, while the same client on
# channels is not (ChannelData never reaches the control thread). coturn's
# turnutils_uclient, client to client (-y: the peers are sottod's own
# relayed addresses, so no peer allow entry is needed), on a sottod with
# requests_per_source 20 (burst 40).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
lib_init "$@"
only_sottod "sotto's per-source limit and its metrics"
need_cmd curl

port=$(free_port 34960) || exit 1
T_PORT=$port
T_METRICS_LISTEN="127.0.0.1:$((port + 9))"
cfg="$T_DIR/sotto-limit.yaml"
write_config "$cfg" "$port" 52900 52999 0
sed -i 's/^    requests_per_source: [0-9]*$/    requests_per_source: 20/' "$cfg"
grep -q '^    requests_per_source: 20$' "$cfg" ||
	fail "cannot set turn.limits.requests_per_source in $cfg"

SERVER_LOG="$T_DIR/server.log"
if [ "$T_DRIVER" = dpdk ]; then
	spawn "$SERVER_LOG" ip netns exec "$GW_NS" "$SOTTOD" -c "$cfg"
else
	spawn "$SERVER_LOG" "$SOTTOD" -c "$cfg"
fi
SERVER_PID=$SPAWN_PID
wait_stun "$T_SRV4" "$port"

hits='sotto_rate_limit_hits_total{limit="stun_requests_per_source"}'
sends='sotto_turn_send_indications_total'
common=(-y -c -W "$T_SECRET" -u alice -p "$port" -l 100)

# 1. channels: 2 x 100 messages, above 20/s, all delivered, none limited
metrics_scrape "$T_DIR/m0.txt"
uclient_expect_ok channels "${common[@]}" -m 1 -n 100 "$T_SRV4"
metrics_scrape "$T_DIR/m1.txt"
expect_deltas "$T_DIR/m0.txt" "$T_DIR/m1.txt" "$hits = 0" "$sends = 0"

# 2. Send indications from the same source, several clients at once: about
# ten times what the limit lets through in the run's few seconds. Most are
# dropped before they are relayed, and counted.
uclient send "${common[@]}" -s -m 10 -n 100 "$T_SRV4"
uclient_counts
metrics_scrape "$T_DIR/m2.txt"
if [ -z "$UC_SENT" ] || [ -z "$UC_RECV" ] || [ "$UC_SENT" -lt 600 ]; then
	show_uclient_log
	check_fail "send: uclient did not finish its run (exit $UC_RC, sent ${UC_SENT:-?})"
elif [ "$UC_RECV" -ge $((UC_SENT / 4)) ]; then
	show_uclient_log
	check_fail "send: $UC_RECV of $UC_SENT Send indications relayed: not limited"
else
	log "ok: send: $UC_RECV of $UC_SENT relayed"
fi
delta_of "$T_DIR/m1.txt" "$T_DIR/m2.txt" "$sends" ||
	check_fail "$sends: $DELTA_WHY"
relayed=${DELTA:-0}
delta_of "$T_DIR/m1.txt" "$T_DIR/m2.txt" "$hits" ||
	check_fail "$hits: $DELTA_WHY"
limited=${DELTA:-0}
# the dataplane's per-source policer (twice the limit, at least 100/s)
# stops part of the flood before the control thread sees it
policed_m='sotto_dataplane_drops_total{reason="exception_policed"}'
delta_of "$T_DIR/m1.txt" "$T_DIR/m2.txt" "$policed_m" ||
	check_fail "$policed_m: $DELTA_WHY"
policed=${DELTA:-0}
# every Send indication the limit let through is counted as handled, the
# rest as limited, by the control thread or by the policer in front of
# it: together at least what uclient sent
if [ $((relayed + limited + policed)) -lt "${UC_SENT:-0}" ] ||
	[ $((limited + policed)) -lt $((relayed)) ]; then
	check_fail "send: $relayed handled, $limited limited, $policed policed, for ${UC_SENT:-?} sent"
else
	log "ok: send: $relayed handled, $limited rate-limited, $policed policed"
fi

server_stop TERM
lib_done
