# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
#
# What the benchmark scripts share. Sourced, not run:
#
#   . "$(dirname "$0")/../lib/lib.sh"
#
# Functions are pl_-prefixed. The scripts that start servers keep the
# server's pid in srv_pid, its scratch directory in work (pl_workdir) and
# the pinning in the arrays pin_srv and pin_lg (pl_pin_init); the build
# directory is build. Everything is on loopback or, for bench_veth.sh, in
# its own network namespaces; every wait is bounded.

pl_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
pl_name=$(basename "$0" .sh)
# sottod wants 16+ characters; the load generators get it too
pl_secret=bench-secret-$$-$RANDOM$RANDOM

# pl_help: the header comment of the script (from its 4th line): --help
pl_help() {
	sed -n '4,/^[^#]/{/^#/p}' "$0"
}

pl_die() {
	echo "$pl_name: $*" >&2
	exit 1
}

# ---- results ----------------------------------------------------------------

# pl_field KEY [LINE]: the value of KEY=value in LINE, or in each line of
# stdin ("RESULT a=1 b=2", "mode=c2p packets=5")
pl_field() {
	local re="s/^\(.* \)\{0,1\}$1=\([^ ]*\).*/\2/p"

	if [ $# -gt 1 ]; then
		sed -n "$re" <<<"$2"
	else
		sed -n "$re"
	fi
}

# pl_median [DECIMALS]: the median of the numbers on stdin, one a line
# (the mean of the middle two, DECIMALS places, for an even count)
pl_median() {
	sort -g | awk -v d="${1:-2}" '{ v[NR] = $1 } END {
		if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2];
		else printf "%.*f\n", d, (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# pl_md_block TITLE [FILE]: a blank line, TITLE, and FILE (stdin without
# one) as a fenced block: a run log under a report's table
pl_md_block() {
	printf '\n%s\n\n```\n' "$1"
	if [ $# -gt 1 ]; then cat "$2"; else cat; fi
	echo '```'
}

# pl_table_head LABEL SERVERS...: a markdown table's head, a column a
# server, headed "$(LABEL SERVER)"
pl_table_head() {
	local label=$1 s

	shift
	printf '| |'
	for s; do printf ' %s |' "$("$label" "$s")"; done
	echo
	printf '| --- |'
	for s; do printf ' --- |'; done
	echo
}

# pl_row TITLE CELL SERVERS...: a markdown row, "| TITLE |" and then
# "$(CELL SERVER) |" for each server
pl_row() {
	local title=$1 cell=$2 s

	shift 2
	printf '| %s |' "$title"
	for s; do printf ' %s |' "$("$cell" "$s")"; done
	echo
}

# ---- the machine --------------------------------------------------------------

pl_cpu_model() { grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'; }
pl_loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# One socket per allocation, connection or leg on each side: the
# descriptor limit as high as we may, for us and the servers we start.
pl_raise_nofile() {
	ulimit -Hn 1048576 2>/dev/null || true
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
}

# pl_pin_init [yes|no]: with 2+ CPUs (and not "no"), pin_srv pins a
# server to CPU 1 and pin_lg a load generator to CPU 0; empty otherwise.
# Both servers of a comparison thus get the same budget, one core,
# whatever their thread layout.
pl_pin_init() {
	if [ "$(nproc)" -ge 2 ] && [ "${1:-yes}" = yes ]; then
		pin_srv=(taskset -c 1)
		pin_lg=(taskset -c 0)
	else
		pin_srv=()
		pin_lg=()
	fi
}

# pl_pin_to CPU: pl_pin pins a benchmark to CPU when taskset is there and
# the machine has that CPU; empty otherwise
pl_pin_to() {
	pl_pin=()
	if command -v taskset >/dev/null && [ "$1" -lt "$(nproc)" ]; then
		pl_pin=(taskset -c "$1")
	fi
}

# ---- micro-benchmarks' run.sh -----------------------------------------------

# pl_bench_args [--optional] SUBJECT "$@": reads -b BUILD_DIR (build,
# $pl_root/build by default) and, after --, the benchmark's own options
# (pl_args: set -- "${pl_args[@]}" after the call); bench is
# BUILD_DIR/perf/SUBJECT/bench_SUBJECT, and must be built unless
# --optional
pl_bench_args() {
	local need=yes subject

	if [ "$1" = --optional ]; then
		need=no
		shift
	fi
	subject=$1
	shift
	build=$pl_root/build
	while [ $# -gt 0 ]; do
		case $1 in
		-b) build=$2; shift 2 ;;
		--) shift; break ;;
		*) echo "usage: $0 [-b BUILD_DIR] [-- bench options]" >&2; exit 2 ;;
		esac
	done
	pl_args=("$@")
	bench=$build/perf/$subject/bench_$subject
	if [ $need = yes ] && [ ! -x "$bench" ]; then
		echo "$0: no $bench; build first (ninja -C $build)" >&2
		exit 1
	fi
}

# ---- servers ------------------------------------------------------------------

# pl_find_sottod: sottod in $build, or nothing
pl_find_sottod() {
	local c

	for c in "$build/sottod" "$build/control/sottod"; do
		[ -x "$c" ] && { echo "$c"; return 0; }
	done
	return 0
}

# pl_workdir PREFIX: work, a fresh directory removed on exit with the
# server stopped first; pl_on_exit, if the script defines it, runs
# between the two
pl_workdir() {
	work=$(mktemp -d "/tmp/$1.XXXXXX")
	srv_pid=
	trap pl_cleanup EXIT
	trap 'exit 130' INT TERM HUP
}

pl_cleanup() {
	pl_server_stop
	if declare -F pl_on_exit >/dev/null; then
		pl_on_exit
	fi
	rm -rf "$work"
}

# pl_server_stop: SIGTERM to srv_pid, SIGKILL if it still runs after
# pl_stop_tenths tenths of a second (50); then pl_after_stop, if the
# script defines it
pl_server_stop() {
	local tenths=${pl_stop_tenths:-50}

	if [ -n "${srv_pid:-}" ] && kill -0 "$srv_pid" 2>/dev/null; then
		kill -TERM "$srv_pid" 2>/dev/null || true
		for _ in $(seq "$tenths"); do
			kill -0 "$srv_pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$srv_pid" 2>/dev/null; then
			echo "   server $srv_pid ignored SIGTERM for $((tenths / 10)) s, killing it" >&2
			kill -KILL "$srv_pid" 2>/dev/null || true
		fi
	fi
	if [ -n "${srv_pid:-}" ]; then
		wait "$srv_pid" 2>/dev/null || true
	fi
	srv_pid=
	if declare -F pl_after_stop >/dev/null; then
		pl_after_stop
	fi
	return 0
}

# pl_start_sottod YAML LOG: sottod (the one pl_find_sottod found, in
# sottod) with config YAML, output to LOG, pinned as a server; srv_pid
pl_start_sottod() {
	"${pin_srv[@]}" "$sottod" -c "$1" >"$2" 2>&1 &
	srv_pid=$!
}

# pl_server_wait WHAT LOG TRIES PAUSE CHECK...: runs CHECK every PAUSE s,
# TRIES times at most, while srv_pid lives; 0 once CHECK succeeds, 1 if it
# never did; if the server dies, the end of LOG and exit
pl_server_wait() {
	local what=$1 log=$2 tries=$3 pause=$4

	shift 4
	for _ in $(seq "$tries"); do
		sleep "$pause"
		kill -0 "$srv_pid" 2>/dev/null || {
			echo "$pl_name: $what died:" >&2
			tail -20 "$log" >&2
			exit 1
		}
		"$@" && return 0
	done
	return 1
}

# pl_server_settle S: every thread of srv_pid on the server's CPU (sottod's
# EAL sets its lcores' affinity itself at start: pinned again, every
# server really gets the one core), then S seconds to settle
pl_server_settle() {
	if [ ${#pin_srv[@]} -gt 0 ]; then
		taskset -a -p -c 1 "$srv_pid" >/dev/null
	fi
	sleep "$1"
}

# pl_server_alive WHAT LOG: exits with the end of LOG if srv_pid is gone
# (a server of someone else's on the port answers too)
pl_server_alive() {
	kill -0 "$srv_pid" 2>/dev/null && return 0
	echo "$pl_name: $1 exited at start:" >&2
	tail -5 "$2" >&2
	exit 1
}

# pl_tcp_in_use PORT: something accepts TCP connections on 127.0.0.1:PORT
pl_tcp_in_use() { { exec 8<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null && exec 8<&- 8>&-; }
# pl_udp_in_use PORT: a UDP socket is bound to PORT (ss; else assume free)
pl_udp_in_use() { ss -Hlun "sport = :$1" 2>/dev/null | grep -q .; }

# pl_free_ports tcp|udp BASE SPAN N: a port in BASE..BASE+SPAN-1 with it
# and the N-1 above it free (20 tries; the last one else). Below the
# ephemeral range, so no clash with our own client ports; other processes
# on this machine run servers too.
pl_free_ports() {
	local proto=$1 base=$2 span=$3 n=$4 p i

	for _ in $(seq 20); do
		p=$((base + RANDOM % span))
		for ((i = 0; i < n; i++)); do
			"pl_${proto}_in_use" $((p + i)) && continue 2
		done
		break
	done
	echo "$p"
}

# pl_healthy PORT: GET /healthz on 127.0.0.1:PORT answers 200
pl_healthy() {
	local line=

	{ exec 9<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
	printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&9
	read -r -t 2 line <&9 || true
	exec 9<&- 9>&-
	[[ $line == *" 200 "* ]]
}

# pl_log_summary LOG: sottod's warnings and errors, counted, most first
pl_log_summary() {
	sed -e '/^$/d' -e '/level=info/d' -e 's/^time=[^ ]* //' "$1" 2>/dev/null |
		sort | uniq -c | sort -rn
}

# ---- sottod's bench configs ---------------------------------------------------

# pl_yaml_dataplane DRIVER WORKERS: the dataplane section
pl_yaml_dataplane() {
	cat <<EOF
dataplane:
  driver: $1
  workers: $2
  idle: adaptive
EOF
}

# pl_yaml_turn IP PORT PORT_MIN PORT_MAX [PEERS]: the turn section, realm
# bench.local, pl_secret; with PEERS (a CIDR) the relay benchmarks' limits,
# high enough never to bind, and that peer range
pl_yaml_turn() {
	cat <<EOF
turn:
  listen:
    - $1:$2
  relay:
    addresses:
      - $1
    port_min: $3
    port_max: $4
  realm: bench.local
  auth:
    secrets:
      - $pl_secret
EOF
	[ $# -gt 4 ] || return 0
	cat <<EOF
  limits:
    allocations: 100000
    allocations_per_user: 10
    permissions_per_allocation: 32
    bandwidth: 0
    requests_per_source: 100000
  peers:
    allow:
      - $5
EOF
}

# pl_yaml_signaling PORT MAX_ROOMS [MAX_PARTICIPANTS]: the HTTP API on
# 127.0.0.1:PORT and signaling with anonymous rooms and the bench's
# origin. Every client is 127.0.0.1: per-IP and global limits off (0).
pl_yaml_signaling() {
	cat <<EOF
http:
  listen:
    - 127.0.0.1:$1
  max_connections: 60000
  max_connections_per_ip: 0
  tls_handshakes_per_ip_per_second: 0
signaling:
  origins:
    - http://127.0.0.1:$1
  allow_no_origin: false
  anonymous_rooms: true
  # every client is 127.0.0.1: per-IP and global limits off (0)
  rooms_per_ip_per_minute: 0
  joins_per_ip_per_minute: 0
  joins_per_second: 0
  max_rooms: $2
  web_client: false
EOF
	[ $# -gt 2 ] && echo "  max_participants: $3"
	return 0
}

# pl_yaml_sockets [METRICS]: the metrics listener (none by default: the
# default port may be taken) and no control socket
pl_yaml_sockets() {
	cat <<EOF
metrics:
  listen: "${1:-}"
control:
  socket: ""
EOF
}

# pl_coturn_args IP PORT PORT_MIN PORT_MAX USERDB: pl_coturn, coturn's
# turnserver as the relay benchmarks run it: no config file, UDP only,
# REST secret pl_secret, one relay thread plus its listener, auth and
# admin threads (all pinned to the one core sottod gets too). The caller
# adds the peer rule.
pl_coturn_args() {
	pl_coturn=(turnserver -n --listening-ip="$1" --listening-port="$2"
		--relay-ip="$1" --min-port="$3" --max-port="$4"
		--use-auth-secret --static-auth-secret="$pl_secret"
		--realm=bench.local
		--no-cli --no-tls --no-dtls --no-tcp --no-tcp-relay
		--no-software-attribute --relay-threads=1
		--log-file=stdout --simple-log --userdb="$5")
}

# ---- the relay step-up -------------------------------------------------------

# pl_passes RESULT N: all N streams ran and loss stayed <= 0.1 %
pl_passes() {
	[ "$(pl_field streams "$1")" = "$2" ] &&
		awk -v l="$(pl_field loss_pct "$1")" 'BEGIN { exit !(l <= 0.1) }'
}

# pl_load_step SERVER N: one step on a fresh server, the caller's
# step_start SERVER N TRY (sets srv_pid and srv_log) and step_load N (a
# relay_load run); prints its RESULT line. A server that exits during the
# run (cpu_s=-1.00: its /proc entry went away) is reported and the step
# run once more; a second death counts as a fail.
pl_load_step() {
	local s=$1 n=$2 res try

	for try in 1 2; do
		step_start "$s" "$n" "$try"
		res=$(step_load "$n" | grep '^RESULT' || true)
		if kill -0 "$srv_pid" 2>/dev/null; then
			pl_server_stop
			break
		fi
		echo "   $s exited during the $n-stream run (try $try):" >&2
		tail -5 "$srv_log" >&2
		pl_server_stop
		res="$res server_died=1"
	done
	[ -n "$res" ] || res="RESULT streams=0 loss_pct=100"
	echo "$res"
}

# pl_step_up SERVER LOG: streams double from 100 while loss stays <= 0.1 %
# (up to max_streams), then, with bisect=1, one bisection step; CPU s per
# million delivered packets at fixed_load streams, with a run of its own
# if the step-up did not pass there. Each step is the caller's
# run_load SERVER N (a RESULT line), logged to LOG. Fills the caller's
# associative arrays best, best_res and cpu_fixed for SERVER.
pl_step_up() {
	local s=$1 log=$2 n=100 lo=0 hi=0 r

	best[$s]=0
	best_res[$s]=
	cpu_fixed[$s]=n/a
	while [ "$n" -le "$max_streams" ]; do
		r=$(run_load "$s" "$n")
		echo "$s $n $r" >>"$log"
		echo "   $n streams: loss $(pl_field loss_pct "$r") %, p99 $(pl_field p99_us "$r") us, server cpu $(pl_field cpu_s "$r") s, loadgen cpu $(pl_field loadgen_cpu_s "$r") s" >&2
		if [ "$n" = "$fixed_load" ]; then
			cpu_fixed[$s]=$(pl_field cpu_s_per_mpkt "$r")
		fi
		if pl_passes "$r" "$n"; then
			best[$s]=$n; best_res[$s]=$r; lo=$n
		else
			hi=$n
			break
		fi
		n=$((n * 2))
	done
	if [ "$bisect" = 1 ] && [ "$hi" -gt 0 ] && [ "$lo" -gt 0 ]; then
		n=$(((lo + hi) / 2 / 2 * 2))
		r=$(run_load "$s" "$n")
		echo "$s $n $r" >>"$log"
		echo "   $n streams: loss $(pl_field loss_pct "$r") %" >&2
		if pl_passes "$r" "$n"; then
			best[$s]=$n; best_res[$s]=$r
		fi
	fi
	if [ "${cpu_fixed[$s]}" = n/a ] && [ "${best[$s]}" -lt "$fixed_load" ]; then
		r=$(run_load "$s" "$fixed_load")
		echo "$s $fixed_load $r" >>"$log"
		cpu_fixed[$s]=$(pl_field cpu_s_per_mpkt "$r")
	fi
}

pl_best_cell() { echo "${best[$1]:-n/a}"; }
pl_loss_cell() { pl_field loss_pct "${best_res[$1]:-}"; }
pl_latency_cell() {
	echo "$(pl_field p50_us "${best_res[$1]:-}") / $(pl_field p99_us "${best_res[$1]:-}")"
}
pl_jitter_cell() { pl_field jitter_us "${best_res[$1]:-}"; }
pl_cpu_cell() { echo "${cpu_fixed[$1]:-n/a}"; }

# pl_relay_rows SERVERS...: the rows both relay benchmarks report
pl_relay_rows() {
	pl_row 'streams held at <= 0.1 % loss (50 pps x 172 B each)' pl_best_cell "$@"
	pl_row 'loss % at that load' pl_loss_cell "$@"
	pl_row 'one-way latency p50 / p99 at that load (us)' pl_latency_cell "$@"
	pl_row 'jitter at that load (us, RFC 3550)' pl_jitter_cell "$@"
	pl_row "server CPU s per million delivered packets at $fixed_load streams" pl_cpu_cell "$@"
}
