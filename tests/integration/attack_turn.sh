#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Issue 21, TURN under hostile load: Send indications (1) and ChannelData
# (2) at 10x turn.limits.bandwidth, Binding/Allocate floods from 64 spoofed
# sources at 10x requests_per_source (3), EVEN-PORT reservation churn from
# 8 sources (5).
# perf/attack/run.sh --check runs each attack against a fresh sottod in a
# network namespace of its own, with victims beside it (a relay call, a
# gateway room, WebSocket joins, /healthz polled every 50 ms), and fails
# if the attacked limit did not hold (at the attacker's sink and in
# /metrics), a victim lost 0.1 % of its media or more, a victim's
# allocation or leg ended, a join failed, or a /healthz poll failed or
# took over a second (perf/attack/README.md). Needs root; udp driver only.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
lib_init "$@"
only_sottod "the attacks use sottod's HTTP API, signaling, gateway and /metrics"
only_driver udp "perf/attack/run.sh runs sottod on the udp driver in its own namespace"
[ "$(id -u)" -eq 0 ] || skip "needs root (a network namespace, raw sockets)"
need_cmd ip
build=$(cd "$(dirname "$SOTTOD")" && pwd)
for t in perf/attack/atk_flood perf/gateway/gw_load; do
	[ -x "$build/$t" ] || skip "$build/$t not built (meson -Dperf=true)"
done
/usr/bin/python3 -c 'import websockets, aiortc, aioice, av, numpy' 2>"$T_DIR/import.err" ||
	skip "needs python3-websockets and python3-aiortc: $(tail -n 1 "$T_DIR/import.err")"
export PYTHONDONTWRITEBYTECODE=1

"$T_REPO/perf/attack/run.sh" --check --build "$build" --sottod "$SOTTOD" \
	--work "$T_DIR/attack" --duration 3 send_flood chandata_flood spoof_flood even_port
rc=$?
case $rc in
0) lib_done ;;
77) skip "perf/attack/run.sh: a prerequisite is missing (see above)" ;;
*) fail "perf/attack/run.sh exited $rc: a limit or a victim failed (table above; logs in $T_DIR/attack)" ;;
esac
