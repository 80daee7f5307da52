#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# End-to-end relay benchmark over a veth pair: the same voice-call load
# through sottod on the dpdk driver (AF_XDP or AF_PACKET port on the veth),
# sottod on the udp driver, and coturn's turnserver, one after the other.
#
#   perf/relay/bench_veth.sh [--quick] [--build DIR] [--out FILE.md]
#                            [--servers "dpdk udp coturn"] [--max-streams N]
#                            [--pmd auto|af_xdp|af_packet] [--vdev-args ,K=V...]
#                            [--logs DIR]
#
# Topology (scripts/netns.sh, its own NAME, removed on any exit): the server
# runs in the gateway namespace on 198.18.0.1, the load generator in the
# client namespace with 200 extra source addresses 198.18.0.10-209/24 on the
# client end. dpdk: the gateway end has no kernel address, sottod's DPDK
# port is that end (AF_XDP; --pmd auto falls back to AF_PACKET when AF_XDP
# does not come up; --vdev-args appends PMD arguments, e.g.
# ",busy_budget=0" for AF_XDP). udp, coturn: the gateway end gets 198.18.0.1/24 in
# the kernel. Traffic stays inside the two namespaces.
#
# Load and pinning as bench_relay.sh: streams double from 100 until
# loss exceeds 0.1 % (full mode: then one bisection step), a fresh server
# for every step; CPU s per million delivered packets at 400 streams; every
# server thread on CPU 1, the load generator on CPU 0. Needs root.
set -euo pipefail

. "$(dirname "$0")/../lib/lib.sh"

root=$pl_root
build=$root/build
out=
quick=0
servers="dpdk udp coturn"
max_streams=12800
fixed_load=400
pmd=auto
vdev_args=
logs=

while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--build) build=$2; shift ;;
	--out) out=$2; shift ;;
	--servers) servers=$2; shift ;;
	--max-streams) max_streams=$2; shift ;;
	--pmd) pmd=$2; shift ;;
	--vdev-args) vdev_args=$2; shift ;;
	--logs) logs=$2; shift ;;
	-h|--help) pl_help; exit 0 ;;
	*) echo "bench_veth: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ -n "$out" ] || out=$build/bench_veth.md
case $pmd in
auto|af_xdp|af_packet) ;;
*) echo "bench_veth: --pmd auto, af_xdp or af_packet" >&2; exit 2 ;;
esac

if [ $quick = 1 ]; then
	dur=4; warm=1; bisect=0
	[ "$max_streams" -gt 1600 ] && max_streams=1600
else
	dur=8; warm=2; bisect=1
fi

[ "$(id -u)" -eq 0 ] || { echo "bench_veth: needs root (namespaces)" >&2; exit 77; }
for c in ip ethtool taskset; do
	command -v $c >/dev/null || { echo "bench_veth: no $c" >&2; exit 77; }
done
load=$build/perf/relay/relay_load
sottod=$(pl_find_sottod)
[ -x "$load" ] || { echo "bench_veth: no $load (ninja -C $build)" >&2; exit 77; }

port=3478
pmin=20000
pmax=60000
name=bveth-$$
srv_ip=198.18.0.1
src_base=198.18.0.10
src_n=200
huge_pages=512
eal_mb=960
srv_log=
topo=0
hugedir=
GW_NS=
CLI_NS=
GW_IF=
CLI_IF=

pl_raise_nofile
pl_pin_init
if [ ${#pin_srv[@]} -gt 0 ]; then
	lcores="(0-1)@1"
else
	lcores="(0-1)@0"
fi

in_gw() { ip netns exec "$GW_NS" "$@"; }
in_cli() { ip netns exec "$CLI_NS" "$@"; }

# gw_pids: whatever runs in the gateway namespace (only what we started).
gw_pids() { ip netns pids "$GW_NS" 2>/dev/null || true; }

# a dpdk sottod may take a while to let go of its port
pl_stop_tenths=100

# after every pl_server_stop: nothing of this server may stay in the
# namespace for the next one
pl_after_stop() {
	local p left

	[ -n "$GW_NS" ] || return 0
	for _ in $(seq 50); do
		[ -z "$(gw_pids)" ] && return 0
		sleep 0.1
	done
	left=$(gw_pids)
	echo "   left in $GW_NS after the server: $left; killing" >&2
	for p in $left; do kill -KILL "$p" 2>/dev/null || true; done
	sleep 0.2
}

# after pl_server_stop (pl_workdir's exit trap), before the work
# directory goes
pl_on_exit() {
	if [ $topo = 1 ]; then
		"$root/scripts/netns.sh" down "$name" ||
			echo "bench_veth: WARNING: netns.sh down $name failed" >&2
		"$root/scripts/hugepages.sh" down "$name" ||
			echo "bench_veth: WARNING: hugepages.sh down $name failed" >&2
		rm -rf "/var/run/dpdk/sotto-$name"
	fi
	if [ -n "$logs" ]; then
		mkdir -p "$logs" || true
		cp "$work"/*.log "$work"/*.yaml "$logs"/ 2>/dev/null || true
	fi
}
pl_workdir sotto-bench-veth

# --- topology ---------------------------------------------------------------

topo=1
eval "$("$root/scripts/netns.sh" up "$name")"
# the loadgen's sources: one client address per 1..200 allocations
{
	for i in $(seq 0 $((src_n - 1))); do
		echo "addr add 198.18.0.$((10 + i))/24 dev $CLI_IF"
	done
} | ip -n "$CLI_NS" -batch -
rc=0
hugedir=$("$root/scripts/hugepages.sh" up "$name" $huge_pages 2>"$work/huge.err") || rc=$?
if [ $rc = 77 ]; then
	hugedir=
	echo "bench_veth: no hugepages ($(cat "$work/huge.err")); dpdk runs with --no-huge" >&2
elif [ $rc != 0 ]; then
	cat "$work/huge.err" >&2
	exit 1
fi

# gw_ip on|off: the kernel's address on the gateway end (udp and coturn
# need it, the dpdk port must not have it). Looks at the interface itself:
# runs happen in subshells.
gw_ip() {
	local have=0
	[ -n "$(in_gw ip -4 -o addr show dev "$GW_IF")" ] && have=1
	if [ "$1" = on ] && [ $have = 0 ]; then
		in_gw ip addr add "$srv_ip/24" dev "$GW_IF"
	elif [ "$1" = off ] && [ $have = 1 ]; then
		in_gw ip addr flush dev "$GW_IF"
	fi
	# the client's neighbour entry may belong to the previous server
	in_cli ip neigh flush dev "$CLI_IF" 2>/dev/null || true
}

# --- servers ----------------------------------------------------------------

# pmd_used: af_xdp or af_packet once decided (auto tries af_xdp first)
pmd_used=$pmd
[ "$pmd" = auto ] && pmd_used=af_xdp

write_sotto_config() {
	local driver=$1 vdev dev
	{
		echo "# generated by perf/relay/bench_veth.sh"
		echo "log_level: ${SOTTO_LOG_LEVEL:-info}"
		pl_yaml_dataplane "$driver" 1
		if [ "$driver" = dpdk ]; then
			if [ "$pmd_used" = af_xdp ]; then
				vdev="net_af_xdp0,iface=$GW_IF,start_queue=0,queue_count=1"
			else
				vdev="net_af_packet0,iface=$GW_IF"
			fi
			vdev=$vdev$vdev_args
			dev=net_${pmd_used}0
			echo "  dpdk:"
			# control thread and worker both on the server's CPU
			echo "    lcores: \"$lcores\""
			echo "    eal:"
			if [ -n "$hugedir" ]; then
				echo "      - \"--huge-dir=$hugedir\""
				echo "      - \"--huge-unlink\""
			else
				echo "      - \"--no-huge\""
			fi
			echo "      - \"--file-prefix=sotto-$name\""
			echo "      - \"--no-shconf\""
			echo "      - \"--no-pci\""
			echo "      - \"-m\""
			echo "      - \"$eal_mb\""
			echo "      - \"--vdev=$vdev\""
			echo "    ports:"
			echo "      - device: \"$dev\""
			echo "        ipv4: \"$srv_ip/24\""
		fi
		pl_yaml_turn "$srv_ip" "$port" $pmin $pmax 198.18.0.0/15
	} >"$work/sotto-$driver.yaml"
}

lg() {
	in_cli "${pin_lg[@]}" "$load" -S "$pl_secret" -s $srv_ip -p $port \
		-B $src_base -b $src_n "$@"
}

# start_server WHICH LOGNAME: 0 when it answers TURN, 1 when it died or
# stayed silent for 30 s (the log says why).
start_server() {
	local which=$1
	srv_log=$work/$2.log
	case $which in
	dpdk)
		gw_ip off
		write_sotto_config dpdk
		# ip netns exec and taskset exec in place: $! is sottod (not
		# through a shell function, which would be a subshell)
		ip netns exec "$GW_NS" "${pin_srv[@]}" "$sottod" -c "$work/sotto-dpdk.yaml" \
			>"$srv_log" 2>&1 &
		;;
	udp)
		gw_ip on
		write_sotto_config udp
		ip netns exec "$GW_NS" "${pin_srv[@]}" "$sottod" -c "$work/sotto-udp.yaml" \
			>"$srv_log" 2>&1 &
		;;
	coturn)
		gw_ip on
		# as bench_relay.sh, on 198.18.0.1; coturn denies no private
		# range by default, the allowed range only says so
		pl_coturn_args $srv_ip $port $pmin $pmax "$work/turndb"
		ip netns exec "$GW_NS" "${pin_srv[@]}" "${pl_coturn[@]}" \
			--allowed-peer-ip=198.18.0.0-198.19.255.255 \
			>"$srv_log" 2>&1 &
		;;
	esac
	srv_pid=$!
	local t0=$SECONDS
	while :; do
		sleep 0.2
		kill -0 "$srv_pid" 2>/dev/null || {
			wait "$srv_pid" 2>/dev/null || true
			srv_pid=
			return 1
		}
		# ready when it answers: a 2-allocation hold run
		if lg -n 2 -r 0 -d 1 -R 100 -q >/dev/null 2>&1; then
			break
		fi
		[ $((SECONDS - t0)) -lt 30 ] || { pl_server_stop; return 1; }
	done
	pl_server_settle 0.5
	return 0
}

start_or_die() {
	start_server "$@" && return 0
	echo "bench_veth: $1 did not come up:" >&2
	tail -20 "$srv_log" >&2
	exit 1
}

# pick_pmd: with --pmd auto, AF_XDP if sottod comes up and relays on it,
# else AF_PACKET. Decided once, before the runs (which are subshells).
pick_pmd() {
	[ "$pmd" = auto ] || return 0
	if start_server dpdk dpdk-probe-af_xdp &&
		lg -n 20 -r 50 -l 172 -d 1 -w 0 -R 1000 -q 2>/dev/null |
		grep '^RESULT streams=20 ' >/dev/null; then
		pl_server_stop
		echo "   AF_XDP works: the dpdk port is net_af_xdp0" >&2
		return 0
	fi
	pl_server_stop
	echo "   sottod on AF_XDP did not relay; its log:" >&2
	tail -15 "$srv_log" >&2
	echo "   falling back to AF_PACKET" >&2
	pmd_used=af_packet
}

# counters sottod logs at SIGTERM, on one line
sotto_counters() {
	sed -n 's/.*\(relayed [0-9].*\|dropped [0-9].*\)/\1/p' "$1" |
		paste -sd ';' -
}

# a step of pl_step_up: a fresh server, the streams, sottod's counters
step_start() { start_or_die "$1" "$1-$2-$3"; }
step_load() {
	lg -n "$1" -r 50 -l 172 -d $dur -w $warm -R 5000 -P "$srv_pid" -q \
		2>"$work/lg.err"
}
run_load() {
	pl_load_step "$@"
	if [ "$1" != coturn ]; then
		echo "$1 $2 server: $(sotto_counters "$srv_log")" >>"$work/counters.txt"
	fi
}

declare -A best best_res cpu_fixed
runlog=$work/runs.txt
: >"$runlog"
: >"$work/counters.txt"
done_servers=

for s in $servers; do
	case $s in
	dpdk|udp)
		if [ -z "$sottod" ]; then
			echo "bench_veth: no sottod in $build, skipping $s" >&2
			continue
		fi ;;
	coturn)
		if ! command -v turnserver >/dev/null; then
			echo "bench_veth: no turnserver (apt-get install coturn), skipping" >&2
			continue
		fi ;;
	*) echo "bench_veth: unknown server $s" >&2; exit 2 ;;
	esac
	echo "== $s" >&2
	[ "$s" = dpdk ] && pick_pmd
	done_servers="$done_servers $s"
	pl_step_up "$s" "$runlog"
done

label() {
	case $1 in
	dpdk) echo "sottod dpdk ($pmd_used)" ;;
	udp) echo "sottod udp" ;;
	*) echo "$1" ;;
	esac
}

# shellcheck disable=SC2086 # $done_servers: the servers, one word each
{
	pl_table_head label $done_servers
	pl_relay_rows $done_servers
	echo
	echo "Mode: $([ $quick = 1 ] && echo quick || echo full) (${dur} s measured after ${warm} s warm-up per step)."
	echo "dpdk port: $pmd_used PMD on the veth's gateway end${vdev_args:+ (vdev arguments $vdev_args)}$([ -n "$hugedir" ] || echo ', --no-huge')."
	echo "Every server on CPU 1 (all threads), the load generator on CPU 0."
	echo "sottod's dpdk worker runs with idle: adaptive (it sleeps when its"
	echo "queue is empty), so its CPU time is comparable with the others'."
	pl_md_block "Runs (server, streams, relay_load RESULT line):" "$runlog"
	pl_md_block "sottod's counters at SIGTERM:" "$work/counters.txt"
} >"$out"
cat "$out"
