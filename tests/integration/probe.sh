#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# sottoctl probe: a synthetic call (two allocations, an Opus tone over a
# channel) through the relay.
#
#   healthy relay                  -> exit 0, nothing lost, 1 kHz comes back,
#                                     both allocations deleted at the end
#   the same over IPv6, and with ChannelBind/Refresh during the call
#   turn.limits.bandwidth 2k       -> exit 1, loss reported
#   nothing on the port            -> exit 3
#   wrong secret                   -> exit 3, "authentication failed"
#   p99 and jitter limits of 0     -> exit 1, those two named
#   bad options                    -> exit 2
#
# Usage: probe.sh SOTTOD PROBE, where PROBE is run as "$PROBE probe ARGS"
# (sottoctl).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
lib_init "$1"

PROBE=${2:-${PROBE:-}}
[ -n "$PROBE" ] || fail "usage: $0 SOTTOD PROBE (or set PROBE)"
[ -x "$PROBE" ] || fail "not executable: $PROBE"
need_cmd python3

# The host's scheduling is not under test (CI shares 2 CPUs between the
# relay, the probe and sanitizers): latency and jitter get room, loss,
# frequency and level keep the probe's defaults.
RELAXED=(--max-p99 1000 --max-jitter 200)

printf '%s\n' "$T_SECRET" >"$T_DIR/secret"
printf '# not this one\n\nwrong-secret-%s\n' "$$" >"$T_DIR/wrong-secret"

# run_probe NAME ARGS...: runs the probe where the clients live; sets
# P_RC, P_OUT (stdout file), P_ERR (stderr file). A sanitizer report on
# stderr fails the test whatever the exit status.
run_probe() {
	local name=$1
	shift
	P_OUT="$T_DIR/probe-$name.out"
	P_ERR="$T_DIR/probe-$name.err"
	in_cli timeout "$T_TIMEOUT" "$PROBE" probe "$@" >"$P_OUT" 2>"$P_ERR"
	P_RC=$?
	# the expected exit statuses below (2, 3...) must not stand in for a
	# sanitized sottoctl that crashed or leaked on the way there
	if sanitizer_report "$P_ERR"; then
		check_fail "$name: a sanitizer report from sottoctl probe (exit $P_RC)"
	fi
	return 0
}

show_probe() {
	log "--- $1: exit $P_RC, stdout:"
	cat "$P_OUT" >&2
	log "--- stderr:"
	cat "$P_ERR" >&2
	log "---"
}

# json_check EXPR: evaluates the Python expression EXPR with d = the JSON
# object the probe printed; true if it holds.
json_check() {
	python3 -c '
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)
' "$P_OUT" "$1" 2>>"$P_ERR"
}

# expect NAME RC EXPR DESCRIPTION: exit code RC and EXPR true of the JSON.
expect() {
	local name=$1 rc=$2 expr=$3 what=$4
	if [ "$P_RC" -ne "$rc" ] || ! json_check "$expr"; then
		show_probe "$name"
		check_fail "$name: want exit $rc and $what"
		return 1
	fi
	log "ok: $name: exit $P_RC, $what"
}

# allocs_balanced: every allocation sottod created was deleted by a
# Refresh with lifetime 0 (the probe cleans up after itself).
allocs_balanced() {
	local name=$1 made gone
	[ "$SERVER_KIND" = sottod ] || return 0
	made=$(grep -c 'msg="allocation created"' "$SERVER_LOG")
	gone=$(grep -c 'msg="allocation removed".*reason="refresh with lifetime 0"' "$SERVER_LOG")
	if [ "$made" -eq 0 ] || [ "$made" -ne "$gone" ]; then
		show_server_log
		check_fail "$name: $made allocations created, $gone deleted"
		return 1
	fi
	log "ok: $name: $made allocations created and deleted"
}

port=$(free_port 34940) || exit 1
# sottod lets a caller's peer be another relayed address of the same
# gateway; coturn needs loopback peers allowed for that.
allow=0
[ "$SERVER_KIND" = turnserver ] && allow=1
server_start "$port" 52800 52899 "$allow"

# 1. Healthy relay.
run_probe healthy --server "$T_SRV4:$port" --secret-file "$T_DIR/secret" \
	--seconds 3 --json "${RELAXED[@]}"
expect healthy 0 \
	'd["pass"] and d["sent"] == 150 and d["lost"] == 0 and
	 abs(d["tone"]["hz"] - 1000) <= 20 and
	 abs(d["tone"]["dbfs"] - d["tone"]["sent_dbfs"]) <= 3 and
	 d["failed"] == []' \
	"150 packets, none lost, 1 kHz at the level sent"
allocs_balanced healthy

# The human-readable block, over IPv6, with a 440 Hz tone.
run_probe ipv6 --server "[$T_SRV6]:$port" --secret-file "$T_DIR/secret" \
	--seconds 2 --tone-hz 440 "${RELAXED[@]}"
if [ "$P_RC" -ne 0 ] || ! grep -q '^  result       PASS$' "$P_OUT" ||
	! grep -qE '^  tone +4(3[5-9]|4[0-5])\.[0-9] Hz' "$P_OUT"; then
	show_probe ipv6
	check_fail "ipv6: want exit 0, PASS and a 440 Hz tone"
else
	log "ok: ipv6: PASS, $(grep '^  tone' "$P_OUT" | tr -s ' ' | sed 's/^ //')"
fi

# Latency and jitter thresholds no relay can meet: those two checks, and
# only they, fail.
run_probe strict --server "$T_SRV4:$port" --secret-file "$T_DIR/secret" \
	--seconds 1 --max-p99 0 --max-jitter 0 --json
expect strict 1 'd["failed"] == ["latency", "jitter"] and d["lost"] == 0' \
	"latency and jitter named as the failures"

# ChannelBind and Refresh every second during the call: 10 requests to set
# up and tear down, 4 per refresh round (t0+1 s, t0+2 s).
run_probe refresh --server "$T_SRV4:$port" --secret-file "$T_DIR/secret" \
	--seconds 3 --refresh-interval 1 --json "${RELAXED[@]}"
expect refresh 0 'd["pass"] and d["lost"] == 0 and d["requests"] >= 18' \
	"no loss across two refresh rounds (18+ requests)"
allocs_balanced refresh

# 4. Wrong secret: the authenticated Allocate gets 401 again.
run_probe wrong-secret --server "$T_SRV4:$port" \
	--secret-file "$T_DIR/wrong-secret" --seconds 1 --json
expect wrong-secret 3 \
	'not d["pass"] and "authentication failed" in d["error"]' \
	"an authentication error"
grep -q 'authentication failed' "$P_ERR" ||
	check_fail "wrong-secret: no message on stderr"

# Usage errors.
run_probe usage --server "$T_SRV4:$port" --secret-file "$T_DIR/secret" \
	--seconds 0
[ "$P_RC" -eq 2 ] || { show_probe usage; check_fail "usage: --seconds 0 exited $P_RC, want 2"; }
run_probe no-secret --server "$T_SRV4:$port"
[ "$P_RC" -eq 2 ] || { show_probe no-secret; check_fail "no-secret: exited $P_RC, want 2"; }

server_alive || fail "server died during the probes"
server_stop TERM

# 3. Nothing listening (the server just stopped, its port is closed).
start=$(date +%s)
run_probe no-server --server "$T_SRV4:$port" --secret-file "$T_DIR/secret" \
	--seconds 1
took=$(($(date +%s) - start))
if [ "$P_RC" -ne 3 ] || ! grep -qE 'no TURN server|no answer' "$P_ERR"; then
	show_probe no-server
	check_fail "no-server: want exit 3 and a message saying so"
elif [ "$took" -gt 10 ]; then
	check_fail "no-server: took $took s (want <= 10: 3 tries in 5 s)"
else
	log "ok: no-server: exit 3 in $took s: $(cat "$P_ERR")"
fi

# 2. A relay capped at 2 kB/s per allocation and direction: a 32 kb/s
# stream loses about half its packets.
if [ "$SERVER_KIND" = sottod ]; then
	bw_port=$(free_port 34950) || exit 1
	cfg="$T_DIR/sotto-bw.yaml"
	write_config "$cfg" "$bw_port" 52900 52999 0
	sed -i 's/^  limits:$/  limits:\n    bandwidth: 2k/' "$cfg"
	grep -q '^    bandwidth: 2k$' "$cfg" || fail "could not set the bandwidth in $cfg"
	T_PORT=$bw_port
	SERVER_LOG="$T_DIR/server-bw.log"
	if [ "$T_DRIVER" = dpdk ]; then
		spawn "$SERVER_LOG" ip netns exec "$GW_NS" "$SOTTOD" -c "$cfg"
	else
		spawn "$SERVER_LOG" "$SOTTOD" -c "$cfg"
	fi
	SERVER_PID=$SPAWN_PID
	wait_stun "$T_SRV4" "$bw_port"

	run_probe bandwidth --server "$T_SRV4:$bw_port" \
		--secret-file "$T_DIR/secret" --seconds 3 --json "${RELAXED[@]}"
	expect bandwidth 1 \
		'not d["pass"] and "loss" in d["failed"] and
		 d["loss_pct"] >= 10 and d["received"] > 0' \
		"loss of 10 % or more reported as the failure"
	grep -q 'FAIL: loss' "$P_ERR" ||
		check_fail "bandwidth: stderr does not name the loss"
	allocs_balanced bandwidth
	server_stop TERM
else
	log "bandwidth case skipped: turn.limits.bandwidth is a sottod setting"
fi

lib_done
