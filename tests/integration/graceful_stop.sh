#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Graceful stop: with live allocations, SIGTERM and SIGINT each make sottod
# exit with status 0 within 5 s, and its listen port is closed afterwards.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
lib_init "$@"
only_sottod "exit status on signals"

pmin=52200
pmax=52599

# relay_ports_open: true if the server has a socket bound in the relay range
# (the clients' own ephemeral ports may fall in that range too). The dpdk
# driver has no kernel sockets; there the live client's once-a-second
# progress line showing messages coming back proves its allocations relay.
relay_ports_open() {
	if [ "$T_DRIVER" = dpdk ]; then
		grep -Eq 'tot_recv_msgs=[1-9]' "$T_DIR/live-$sig.log"
		return
	fi
	ss -Hlunp | grep -F "pid=$SERVER_PID," | awk -v lo="$pmin" -v hi="$pmax" '{
		n = split($4, a, ":"); p = a[n] + 0
		if (p >= lo && p <= hi) found = 1
	} END { exit !found }'
}

for sig in TERM INT; do
	port=$(free_port 34880) || exit 1
	server_start "$port" "$pmin" "$pmax" 1
	peer=$(free_port_pair 34890) || exit 1
	peer_start "$peer" "$T_CLI4"
	peer_pid=$SPAWN_PID
	uclient_expect_ok "before-$sig" -c -W "$T_SECRET" -u erin -p "$port" \
		-e "$T_CLI4" -r "$peer" -m 4 -n 10 "$T_SRV4"
	# uclient deallocates when it is done; -h keeps this one's four
	# allocations (and their traffic) live while the server stops.
	spawn "$T_DIR/live-$sig.log" "${CLI_EXEC[@]}" turnutils_uclient -h -c -W "$T_SECRET" \
		-u erin -p "$port" -e "$T_CLI4" -r "$peer" -m 4 -n 100000 "$T_SRV4"
	live_pid=$SPAWN_PID
	for ((i = 0; i < 100; i++)); do
		relay_ports_open && break
		sleep 0.1
	done
	relay_ports_open || check_fail "no relay port open while allocations are live"
	sleep 1
	proc_alive "$live_pid" || check_fail "the live client exited early (see $T_DIR/live-$sig.log)"
	T_STOP_TIMEOUT=5 server_stop "$sig"
	kill "$live_pid" "$peer_pid" 2>/dev/null
	wait "$live_pid" "$peer_pid" 2>/dev/null
done

lib_done
