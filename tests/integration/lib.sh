# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
#
# Shared helpers for the integration tests. A test script does
#
#     . "$(dirname "$0")/lib.sh"
#     lib_init "$@"            # $1: path to sottod (or $SOTTOD)
#
# and then uses server_start / wait_stun / uclient_* / server_stop. Every
# process started through these helpers is killed on exit, and the temp dir
# is removed (kept, with its path printed, when the test failed).
#
# Exit codes follow meson/automake: 0 pass, 1 fail, 77 skip.
#
# Drivers: SOTTO_DRIVER=udp (the default) runs sottod on kernel sockets on
# loopback. SOTTO_DRIVER=dpdk runs it on the dpdk driver in a topology of
# its own (scripts/netns.sh, docs/testing.md): sottod in a gateway network
# namespace with an AF_XDP port on one end of a veth pair, the clients and
# UDP peers in a client namespace on the other end, hugepages on a private
# mount (scripts/hugepages.sh). lib_init builds both and the exit trap
# removes them, whatever the test's outcome. Tests name addresses through
# variables, never literally:
#
#   T_SRV4, T_SRV6    the server's addresses (listen and relay)
#   T_CLI4, T_CLI6    the clients' own addresses, where peers and sinks bind
#
# and run every client through in_cli (uclient, peer_start, sink_start and
# stun_binding do this themselves).
#
# Development aid: passing the path of coturn's `turnserver` instead of sottod
# runs the same TURN tests against coturn started by hand in the foreground on
# loopback with equivalent options (tests that only make sense for sottod
# skip). This is how the tests themselves are checked against a known-good
# relay: a test that fails there is a broken test, not a broken sottod.

set -u

T_NAME=$(basename "$0" .sh)
T_DIR=""
T_PIDS=()
T_FAILED=0
T_KEEP=0
SERVER_PID=""
SERVER_LOG=""
SERVER_KIND=sottod
SOTTOD=""

T_DRIVER=${SOTTO_DRIVER:-udp}
T_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# udp: traffic never leaves loopback, and the server, clients and peers
# share its addresses. dpdk: lib_init switches these to the veth topology's.
T_SRV4=127.0.0.1
T_SRV6=::1
T_CLI4=127.0.0.1
T_CLI6=::1
# Older names for the server addresses (the same as the clients' in udp mode).
T_V4=$T_SRV4
T_V6=$T_SRV6

# dpdk mode: the topology's name (namespaces, hugepage mount, EAL file
# prefix), its namespaces, and how sottod gets memory.
T_NET=""
GW_NS=""
CLI_NS=""
GW_IF=""
T_HUGEDIR=""
# The prefix that runs a command in the client namespace (empty in udp
# mode). spawn takes it inline rather than through in_cli: a backgrounded
# shell function is a subshell, and its pid would not be the client's.
CLI_EXEC=()
# Which DPDK PMD drives the gateway end of the veth: af_xdp (default) or
# af_packet.
T_PMD=${SOTTO_TEST_PMD:-af_xdp}
# 2 MB hugepages per run and the EAL's share of them (MB): the pool, tables
# and rings of the generated config take about 200 MB.
T_HUGE_PAGES=${T_HUGE_PAGES:-256}
T_EAL_MB=256

# The secret the generated configs use; the shipped dev secret is tested
# separately against the embedded config.
T_SECRET="integration-test-secret-$$"
T_REALM=sotto.local

# How long one external command may run (seconds).
T_TIMEOUT=${T_TIMEOUT:-120}
# How long a command expected to stop by itself (expect_exit) may run.
T_EXPECT_TIMEOUT=${T_EXPECT_TIMEOUT:-30}

# What AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer print
# when they report (build-asan/, scripts/test.sh).
T_SANITIZER_RE='AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:'

log() { printf '%s: %s\n' "$T_NAME" "$*" >&2; }

fail() {
	log "FAIL: $*"
	T_FAILED=1
	exit 1
}

# skip REASON: exit 77. After a check_fail a skip would hide that failure
# (meson reads 77 as a skip whatever came before), so then it fails.
skip() {
	if [ "$T_FAILED" -ne 0 ]; then
		log "FAIL: cannot skip ($*): a check failed before"
		exit 1
	fi
	log "SKIP: $*"
	exit 77
}

# check COND_DESCRIPTION -- records a failure but goes on, so one run
# reports every broken case.
check_fail() {
	log "FAIL: $*"
	T_FAILED=1
}

lib_cleanup() {
	local rc=$?
	local p
	# Kill in reverse start order, then reap.
	for ((i = ${#T_PIDS[@]} - 1; i >= 0; i--)); do
		p=${T_PIDS[i]}
		proc_alive "$p" && kill -TERM "$p" 2>/dev/null
	done
	for ((i = 0; i < 20; i++)); do
		local any=0
		for p in "${T_PIDS[@]}"; do
			proc_alive "$p" && any=1
		done
		[ "$any" -eq 0 ] && break
		sleep 0.1
	done
	for p in "${T_PIDS[@]}"; do
		proc_alive "$p" && kill -KILL "$p" 2>/dev/null
	done
	for p in "${T_PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	[ -n "$T_NET" ] && dpdk_teardown "$T_NET"
	if [ "$T_FAILED" -ne 0 ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; }; then
		T_KEEP=1
	fi
	if [ -n "$T_DIR" ] && [ -d "$T_DIR" ]; then
		if [ "$T_KEEP" -eq 1 ]; then
			log "logs kept in $T_DIR"
		else
			rm -rf "$T_DIR"
		fi
	fi
	# a recorded failure wins over a pass and over a skip (an exit 77
	# that did not come through skip)
	if { [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]; } && [ "$T_FAILED" -ne 0 ]; then
		rc=1
	fi
	exit "$rc"
}

need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 ||
			skip "'$c' not found (scripts/deps.sh installs it)"
	done
}

lib_init() {
	SOTTOD=${1:-${SOTTOD:-}}
	[ -n "$SOTTOD" ] || fail "usage: $0 PATH_TO_SOTTOD (or set SOTTOD)"
	[ -x "$SOTTOD" ] || fail "sottod not executable: $SOTTOD"
	case $(basename "$SOTTOD") in
	turnserver) SERVER_KIND=turnserver ;;
	*) SERVER_KIND=sottod ;;
	esac
	case $T_DRIVER in
	udp | dpdk) ;;
	*) fail "SOTTO_DRIVER must be udp or dpdk, not '$T_DRIVER'" ;;
	esac
	need_cmd timeout openssl base64 ss turnutils_stunclient \
		turnutils_uclient turnutils_peer
	# The environment must not override the generated configs.
	unset SOTTO_TURN_SECRET
	T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sotto-it-$T_NAME.XXXXXX") ||
		fail "mktemp"
	trap lib_cleanup EXIT
	trap 'exit 1' INT TERM HUP
	log "server: $SERVER_KIND ($SOTTOD), driver: $T_DRIVER, tmp: $T_DIR"
	if [ "$T_DRIVER" = dpdk ]; then
		dpdk_setup
	fi
}

only_sottod() {
	[ "$SERVER_KIND" = sottod ] || skip "$* (sottod only)"
}

# only_driver DRIVER REASON: for tests that mean one driver only (meson
# registers them for that one).
only_driver() {
	[ "$T_DRIVER" = "$1" ] || skip "$2 ($1 driver only)"
}

# in_cli CMD...: run CMD where the clients live (the client namespace in
# dpdk mode, here in udp mode). In the background, use
# spawn LOG "${CLI_EXEC[@]}" CMD... instead.
in_cli() {
	"${CLI_EXEC[@]}" "$@"
}

# udp_port_busy PORT: true if something listens on UDP PORT (any address)
# where the clients and peers live. In dpdk mode sottod's ports are not
# kernel sockets, and nothing else runs in the topology's fresh namespaces.
udp_port_busy() {
	[ -n "$(in_cli ss -Hlun "sport = :$1" 2>/dev/null)" ]
}

# tcp_port_busy PORT: something listens on TCP PORT (HTTP, metrics: always
# on loopback, in the test's own namespace).
tcp_port_busy() {
	[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
}

# --- dpdk topology ---------------------------------------------------------

# dpdk_setup: the namespaces, the veth and the hugepages for this test run;
# switches the T_SRV*/T_CLI* addresses to the topology's.
dpdk_setup() {
	[ "$(id -u)" -eq 0 ] ||
		skip "the dpdk driver tests need root (network namespaces, hugepages, AF_XDP)"
	[ "$SERVER_KIND" = sottod ] ||
		skip "the dpdk topology runs sottod only (compare with coturn on loopback, SOTTO_DRIVER=udp)"
	need_cmd ip ethtool flock mountpoint
	case $T_PMD in
	af_xdp | af_packet) ;;
	*) fail "SOTTO_TEST_PMD must be af_xdp or af_packet, not '$T_PMD'" ;;
	esac
	dpdk_sweep_stale
	# "it-" marks the topologies of these tests (dpdk_sweep_stale touches
	# no others), then the test for `ip netns`, and the pid for uniqueness.
	local short=${T_NAME//_/-}
	T_NET="it-${short:0:10}-$$"
	local vars k v rc i
	vars=$("$T_REPO/scripts/netns.sh" up "$T_NET") ||
		fail "scripts/netns.sh up $T_NET failed"
	while IFS='=' read -r k v; do
		case $k in
		GW_NS) GW_NS=$v ;;
		CLI_NS) CLI_NS=$v ;;
		GW_IF) GW_IF=$v ;;
		V4_GW) T_SRV4=$v ;;
		V6_GW) T_SRV6=$v ;;
		V4_CLI) T_CLI4=$v ;;
		V6_CLI) T_CLI6=$v ;;
		esac
	done <<<"$vars"
	T_V4=$T_SRV4
	T_V6=$T_SRV6
	CLI_EXEC=(ip netns exec "$CLI_NS")
	T_HUGEDIR=$("$T_REPO/scripts/hugepages.sh" up "$T_NET" "$T_HUGE_PAGES" 2>"$T_DIR/hugepages.err")
	rc=$?
	if [ "$rc" -eq 77 ]; then
		# Still a real test of the driver, on ordinary pages; said
		# loudly so a CI log shows it.
		T_HUGEDIR=""
		log "NOTE: no hugepages ($(cat "$T_DIR/hugepages.err")); sottod runs with --no-huge"
	elif [ "$rc" -ne 0 ]; then
		cat "$T_DIR/hugepages.err" >&2
		fail "scripts/hugepages.sh up $T_NET failed"
	fi
	log "topology $T_NET: sottod in $GW_NS on $GW_IF ($T_PMD, $T_SRV4, $T_SRV6), clients in $CLI_NS ($T_CLI4, $T_CLI6), hugepages: ${T_HUGEDIR:-none}"
}

# dpdk_teardown NAME: everything dpdk_setup made. Each step is idempotent
# and runs even when an earlier one failed.
dpdk_teardown() {
	local name=$1
	"$T_REPO/scripts/netns.sh" down "$name" ||
		log "WARNING: scripts/netns.sh down $name failed"
	"$T_REPO/scripts/hugepages.sh" down "$name" ||
		log "WARNING: scripts/hugepages.sh down $name failed"
	# The EAL's runtime directory for --file-prefix (empty after a clean
	# exit; a killed sottod leaves its files).
	rm -rf "/var/run/dpdk/sotto-$name"
}

# dpdk_sweep_stale: remove what runs of these tests left behind when they
# were killed outright (SIGKILL skips the exit trap). Their topologies end
# in the pid of the test; only those whose test no longer exists go.
dpdk_sweep_stale() {
	local f name pid
	for f in /run/netns/sotto-gw-it-*-[0-9]* /run/sotto-hugepages/it-*-[0-9]*; do
		[ -e "$f" ] || continue
		name=$(basename "$f")
		name=${name#sotto-gw-}
		name=${name%.added}
		pid=${name##*-}
		[[ $pid =~ ^[0-9]+$ ]] || continue
		[ -d "/proc/$pid" ] && continue
		log "removing the topology of a dead run: $name"
		dpdk_teardown "$name"
	done
}

# free_port BASE: prints the first free UDP port in BASE..BASE+19.
# Use as: port=$(free_port 34780) || exit 1
free_port() {
	local p
	for ((p = $1; p < $1 + 20; p++)); do
		if ! udp_port_busy "$p"; then
			echo "$p"
			return 0
		fi
	done
	log "FAIL: no free UDP port in $1..$(($1 + 19))"
	return 1
}

# free_tcp_port BASE: the first free TCP port in BASE..BASE+19.
free_tcp_port() {
	local p
	for ((p = $1; p < $1 + 20; p++)); do
		if ! tcp_port_busy "$p"; then
			echo "$p"
			return 0
		fi
	done
	log "FAIL: no free TCP port in $1..$(($1 + 19))"
	return 1
}

# free_port_pair BASE: like free_port, for two consecutive ports.
free_port_pair() {
	local p
	for ((p = $1; p < $1 + 20; p += 2)); do
		if ! udp_port_busy "$p" && ! udp_port_busy $((p + 1)); then
			echo "$p"
			return 0
		fi
	done
	log "FAIL: no two free UDP ports in $1..$(($1 + 19))"
	return 1
}

# --- credentials -----------------------------------------------------------

# rest_username EXPIRY USER
rest_username() { printf '%s:%s' "$1" "$2"; }

# rest_password SECRET USERNAME: base64(HMAC-SHA1(secret, username))
rest_password() {
	printf %s "$2" | openssl dgst -binary -sha1 -hmac "$1" | base64
}

# --- server ----------------------------------------------------------------

# dpdk_eal_yaml: the dataplane.dpdk section for the topology.
dpdk_eal_yaml() {
	local vdev
	if [ "$T_PMD" = af_xdp ]; then
		# One queue: the veth has one, and sottod runs one worker.
		vdev="net_af_xdp0,iface=$GW_IF,start_queue=0,queue_count=1"
	else
		vdev="net_af_packet0,iface=$GW_IF"
	fi
	printf '    eal:\n'
	if [ -n "$T_HUGEDIR" ]; then
		# Only this run's mount; --huge-unlink so no page file outlives
		# sottod, even a killed one.
		printf '      - "--huge-dir=%s"\n' "$T_HUGEDIR"
		printf '      - "--huge-unlink"\n'
	else
		printf '      - "--no-huge"\n'
	fi
	printf '      - "--file-prefix=sotto-%s"\n' "$T_NET"
	printf '      - "--no-shconf"\n'
	printf '      - "--no-pci"\n'
	printf '      - "-m"\n'
	printf '      - "%s"\n' "$T_EAL_MB"
	printf '      - "--vdev=%s"\n' "$vdev"
	printf '    ports:\n'
	printf '      - device: "net_%s0"\n' "$T_PMD"
	printf '        ipv4: "%s/24"\n' "$T_SRV4"
	printf '        ipv6: "%s/64"\n' "$T_SRV6"
}

# write_config FILE PORT RELAY_MIN RELAY_MAX ALLOW_PEERS(0|1) [SECRET]
# A sottod config listening on T_SRV4:PORT and [T_SRV6]:PORT, relaying on
# T_SRV4 and T_SRV6. With ALLOW_PEERS=1, peers on the clients' addresses
# (turnutils_peer on T_CLI4/T_CLI6) are allowed; without it, they are
# denied: by the built-in policy (loopback; 198.18.0.0/15 in dpdk mode) or,
# for the dpdk topology's IPv6 client address (the documentation prefix is
# deliberately not in the built-in list), by a deny entry.
write_config() {
	local file=$1 port=$2 pmin=$3 pmax=$4 allow=$5 secret=${6:-$T_SECRET}
	{
		printf '# generated by tests/integration/%s.sh\n' "$T_NAME"
		printf 'log_level: info\n'
		printf 'dataplane:\n'
		printf '  driver: %s\n' "$T_DRIVER"
		printf '  workers: 1\n'
		if [ "$T_DRIVER" = dpdk ]; then
			# Workers sleep when idle: CI has 2 CPUs for sottod and
			# the clients together.
			printf '  idle: adaptive\n'
			printf '  dpdk:\n'
			dpdk_eal_yaml
		fi
		printf 'turn:\n'
		printf '  listen:\n'
		printf '    - "%s:%s"\n' "$T_SRV4" "$port"
		printf '    - "[%s]:%s"\n' "$T_SRV6" "$port"
		printf '  relay:\n'
		printf '    addresses:\n'
		printf '      - "%s"\n' "$T_SRV4"
		printf '      - "%s"\n' "$T_SRV6"
		printf '    port_min: %s\n' "$pmin"
		printf '    port_max: %s\n' "$pmax"
		printf '  realm: "%s"\n' "$T_REALM"
		# coturn's uclient picks channel numbers from RFC 5766's
		# 0x4000-0x7FFF, not RFC 8656's 0x4000-0x4FFF.
		printf '  channel_range: rfc5766\n'
		printf '  auth:\n'
		printf '    secrets:\n'
		printf '      - "%s"\n' "$secret"
		# uclient's clients share one username and one source IP.
		printf '  limits:\n'
		printf '    allocations: 4096\n'
		printf '    allocations_per_user: 1024\n'
		printf '    requests_per_source: 100000\n'
		if [ "$allow" -eq 1 ] && [ "$T_DRIVER" = dpdk ]; then
			printf '  peers:\n'
			printf '    allow:\n'
			printf '      - "198.18.0.0/15"\n'
			printf '      - "2001:db8::/32"\n'
		elif [ "$allow" -eq 1 ]; then
			printf '  peers:\n'
			printf '    allow:\n'
			printf '      - "127.0.0.0/8"\n'
			printf '      - "::1/128"\n'
			# the test peers share the relay's loopback addresses
			printf '    allow_own:\n'
			printf '      - "%s"\n' "$T_SRV4"
			printf '      - "%s"\n' "$T_SRV6"
		elif [ "$T_DRIVER" = dpdk ]; then
			printf '  peers:\n'
			printf '    deny:\n'
			printf '      - "%s/128"\n' "$T_CLI6"
		fi
		# the built-in metrics port and control socket are shared by
		# every sottod on the host: tests use none and their own
		printf 'metrics:\n'
		printf '  listen: "%s"\n' "${T_METRICS_LISTEN:-}"
		printf 'control:\n'
		printf '  socket: "%s.sock"\n' "$file"
	} >"$file"
}

# spawn LOGFILE CMD...: run CMD in the background, remember its pid in
# SPAWN_PID and T_PIDS.
spawn() {
	local out=$1
	shift
	"$@" >"$out" 2>&1 &
	SPAWN_PID=$!
	T_PIDS+=("$SPAWN_PID")
}

# server_start PORT RELAY_MIN RELAY_MAX ALLOW_LOOPBACK [SECRET]
# Starts the server on a generated config and waits until it answers a STUN
# binding on both loopback addresses. Sets SERVER_PID, SERVER_LOG, T_PORT.
server_start() {
	local port=$1 pmin=$2 pmax=$3 allow=$4 secret=${5:-$T_SECRET}
	local n=${T_SERVER_N:-0}
	T_SERVER_N=$((n + 1))
	T_PORT=$port
	if [ "$T_DRIVER" = udp ] && udp_port_busy "$port"; then
		fail "UDP port $port is already in use"
	fi
	SERVER_LOG="$T_DIR/server$n.log"
	if [ "$SERVER_KIND" = turnserver ]; then
		local args=(-n --listening-ip="$T_V4" --listening-ip="$T_V6"
			--listening-port="$port" --relay-ip="$T_V4" --relay-ip="$T_V6"
			--min-port="$pmin" --max-port="$pmax" --use-auth-secret
			--static-auth-secret="$secret" --realm="$T_REALM" --no-cli
			--no-tls --no-dtls --no-tcp-relay --log-file=stdout
			--simple-log --pidfile="$T_DIR/turnserver$n.pid"
			--userdb="$T_DIR/turnserver$n.db" --no-rfc5780
			--no-software-attribute)
		[ "$allow" -eq 1 ] && args+=(--allow-loopback-peers)
		spawn "$SERVER_LOG" "$SOTTOD" "${args[@]}"
	else
		local cfg="$T_DIR/sotto$n.yaml"
		write_config "$cfg" "$port" "$pmin" "$pmax" "$allow" "$secret"
		if [ "$T_DRIVER" = dpdk ]; then
			# ip netns exec execs sottod in place: SPAWN_PID is
			# sottod's own pid, so signals reach it directly.
			spawn "$SERVER_LOG" ip netns exec "$GW_NS" "$SOTTOD" -c "$cfg"
		else
			spawn "$SERVER_LOG" "$SOTTOD" -c "$cfg"
		fi
	fi
	SERVER_PID=$SPAWN_PID
	wait_stun "$T_SRV4" "$port"
	wait_stun "$T_SRV6" "$port"
}

# server_start_default: sottod on its embedded config (127.0.0.1:3478, ::1).
server_start_default() {
	only_driver udp "the embedded config listens on loopback"
	T_PORT=3478
	udp_port_busy 3478 && fail "UDP port 3478 is already in use (a sottod from scripts/run.sh?)"
	SERVER_LOG="$T_DIR/server-default.log"
	spawn "$SERVER_LOG" "$SOTTOD"
	SERVER_PID=$SPAWN_PID
	wait_stun "$T_V4" 3478
	wait_stun "$T_V6" 3478
}

# A process that exited but is not reaped yet still answers kill -0, so look
# at its state: Z (zombie) or X (dead) means gone.
proc_alive() {
	local st
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
	st=$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$st" != Z ] && [ "$st" != X ]
}

server_alive() { proc_alive "$SERVER_PID"; }

show_server_log() {
	[ -n "$SERVER_LOG" ] && [ -f "$SERVER_LOG" ] || return 0
	log "--- last lines of $SERVER_LOG:"
	tail -n 30 "$SERVER_LOG" >&2
	log "---"
}

# stun_binding HOST PORT [OUTFILE]: one binding request from the clients'
# side to HOST; true if it got the client's own address (T_CLI4 or T_CLI6,
# by HOST's family) back as the mapped (reflexive) address.
stun_binding() {
	local host=$1 port=$2 out=${3:-/dev/null}
	local text me=$T_CLI4
	case $host in *:*) me=$T_CLI6 ;; esac
	text=$(in_cli timeout 3 turnutils_stunclient -p "$port" "$host" 2>&1)
	printf '%s\n' "$text" >"$out"
	printf '%s\n' "$text" | grep -qF "UDP reflexive addr: $me:"
}

# wait_stun HOST PORT: up to ~20 s for the server to answer.
wait_stun() {
	local host=$1 port=$2 i
	for ((i = 0; i < 40; i++)); do
		if ! server_alive; then
			wait "$SERVER_PID"
			local rc=$?
			show_server_log
			fail "server exited (status $rc) before answering STUN on $host:$port"
		fi
		stun_binding "$host" "$port" && return 0
		sleep 0.5
	done
	show_server_log
	fail "no STUN binding answer from $host:$port within 20 s"
}

# server_stop [SIGNAL]: signal the server and require exit status 0 within
# T_STOP_TIMEOUT (default 10) seconds, then require its port to be closed.
server_stop() {
	local sig=${1:-TERM} i rc limit=${T_STOP_TIMEOUT:-10}
	[ -n "$SERVER_PID" ] || return 0
	server_alive || {
		wait "$SERVER_PID"
		rc=$?
		show_server_log
		SERVER_PID=""
		fail "server had already exited (status $rc) before SIG$sig"
	}
	kill -s "$sig" "$SERVER_PID"
	for ((i = 0; i < limit * 10; i++)); do
		server_alive || break
		sleep 0.1
	done
	if server_alive; then
		show_server_log
		kill -KILL "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
		SERVER_PID=""
		fail "server still running $limit s after SIG$sig"
	fi
	wait "$SERVER_PID"
	rc=$?
	SERVER_PID=""
	if [ "$SERVER_KIND" = turnserver ]; then
		# coturn does not exit 0 on signals; only sottod's status is tested.
		return 0
	fi
	if [ "$rc" -ne 0 ]; then
		show_server_log
		fail "server exit status $rc after SIG$sig (want 0)"
	fi
	if sanitizer_report "$SERVER_LOG"; then
		fail "a sanitizer report in $SERVER_LOG"
	fi
	if [ "$T_DRIVER" = dpdk ]; then
		# No kernel socket to look for: the port (and its AF_XDP
		# socket) is gone if nothing runs in the gateway namespace.
		local left
		left=$(ip netns pids "$GW_NS" 2>/dev/null)
		[ -z "$left" ] ||
			fail "processes still in $GW_NS after the server exited: $left"
	elif udp_port_busy "$T_PORT"; then
		fail "UDP port $T_PORT still open after the server exited"
	fi
	log "server stopped on SIG$sig with status 0"
}

# --- exit statuses ---------------------------------------------------------

# sanitizer_report FILE: true, with the report shown, if FILE holds one.
sanitizer_report() {
	[ -f "$1" ] && grep -Eq "$T_SANITIZER_RE" "$1" || return 1
	log "--- sanitizer report in $1:"
	grep -E -A 20 "$T_SANITIZER_RE" "$1" | head -n 60 >&2
	log "---"
}

# expect_exit NAME STATUS REGEX CMD...: runs CMD (at most T_EXPECT_TIMEOUT
# s), its stdout and stderr in EX_OUT ($T_DIR/NAME.out), its exit status in
# EX_RC. The check passes if CMD exits with exactly STATUS, its output
# matches the extended REGEX ("" for any) and holds no sanitizer report.
# Not "any non-zero": in build-asan/ an error path that crashes, leaks or
# hits UB exits non-zero too (ASan with 1, the same as a refusal), and must
# fail the test rather than pass for the refusal. Otherwise check_fail,
# return 1.
expect_exit() {
	local name=$1 want=$2 re=$3 why=""
	shift 3
	EX_OUT="$T_DIR/$name.out"
	timeout "$T_EXPECT_TIMEOUT" "$@" >"$EX_OUT" 2>&1
	EX_RC=$?
	if sanitizer_report "$EX_OUT"; then
		why="a sanitizer report (exit $EX_RC)"
	elif [ "$EX_RC" -eq 124 ] && [ "$want" -ne 124 ]; then
		why="still running after $T_EXPECT_TIMEOUT s"
	elif [ "$EX_RC" -ne "$want" ]; then
		why="exit $EX_RC, want $want"
	elif [ -n "$re" ] && ! grep -Eq -- "$re" "$EX_OUT"; then
		why="exit $EX_RC but no /$re/ in its output"
	fi
	if [ -n "$why" ]; then
		log "--- $EX_OUT:"
		tail -n 20 "$EX_OUT" >&2
		log "---"
		check_fail "$name: $why"
		return 1
	fi
	log "ok: $name: exit $EX_RC${re:+, /$re/}"
}

# --- metrics -----------------------------------------------------------------

# metrics_scrape FILE: sottod's /metrics (T_METRICS_LISTEN, where sottod
# runs: its namespace in dpdk mode) into FILE.
metrics_scrape() {
	local ns=()
	[ -n "${T_METRICS_LISTEN:-}" ] || fail "metrics_scrape: no T_METRICS_LISTEN"
	[ "$T_DRIVER" = dpdk ] && ns=(ip netns exec "$GW_NS")
	"${ns[@]}" curl -sf --max-time 5 "http://$T_METRICS_LISTEN/metrics" >"$1" ||
		fail "cannot scrape http://$T_METRICS_LISTEN/metrics"
}

# metric FILE SERIES: the value of one sample, SERIES written exactly as
# exposed (name{labels}), or "none" if the scrape has no such sample.
metric() {
	awk -v s="$2" '$1 == s { v = $NF; found = 1 } END { print found ? v : "none" }' "$1"
}

# Families whose series appear only once they count something: absent from
# a scrape, such a series reads 0 (sotto_turn_error_responses_total by
# method and code: turn_server_errors emits the non-zero ones). Any other absent series is a failure (a
# renamed or lost counter must not read as "0, as wanted").
T_METRICS_SPARSE='sotto_turn_error_responses_total'

# expect_deltas BEFORE AFTER SPEC...: SPEC is "SERIES OP N": the growth of
# SERIES from scrape BEFORE to scrape AFTER must be OP (= >= <=) N. Until all
# hold, AFTER is scraped again for up to ~3 s: a worker counts a datagram
# that gets no answer (a drop) a little after the client sent it. Returns 1
# after a check_fail per SPEC that does not hold.
expect_deltas() {
	local before=$1 after=$2 spec series op n try bad=0
	shift 2
	for ((try = 0; try < 15; try++)); do
		bad=0
		for spec in "$@"; do
			read -r series op n <<<"$spec"
			delta_of "$before" "$after" "$series" || { bad=1; break; }
			delta_holds "$DELTA" "$op" "$n" || { bad=1; break; }
		done
		[ "$bad" -eq 0 ] && break
		sleep 0.2
		metrics_scrape "$after"
	done
	bad=0
	for spec in "$@"; do
		read -r series op n <<<"$spec"
		if ! delta_of "$before" "$after" "$series"; then
			check_fail "$series: $DELTA_WHY"
			bad=1
		elif ! delta_holds "$DELTA" "$op" "$n"; then
			check_fail "$series grew by $DELTA ($DELTA_B -> $DELTA_A), want $op $n"
			bad=1
		else
			log "ok: $series +$DELTA ($op $n)"
		fi
	done
	return "$bad"
}

# delta_of BEFORE AFTER SERIES: DELTA (and DELTA_B, DELTA_A), or return 1
# with DELTA_WHY.
delta_of() {
	local fam=${3%%\{*}
	DELTA_B=$(metric "$1" "$3")
	DELTA_A=$(metric "$2" "$3")
	if [[ " $T_METRICS_SPARSE " == *" $fam "* ]]; then
		[ "$DELTA_B" = none ] && DELTA_B=0
		[ "$DELTA_A" = none ] && DELTA_A=0
	fi
	if [ "$DELTA_B" = none ] || [ "$DELTA_A" = none ]; then
		DELTA_WHY="not in /metrics (before: $DELTA_B, after: $DELTA_A)"
		return 1
	fi
	if ! [[ $DELTA_B =~ ^[0-9]+$ && $DELTA_A =~ ^[0-9]+$ ]]; then
		DELTA_WHY="not a count ($DELTA_B -> $DELTA_A)"
		return 1
	fi
	DELTA=$((DELTA_A - DELTA_B))
}

delta_holds() {
	case $2 in
	=) [ "$1" -eq "$3" ] ;;
	'>=') [ "$1" -ge "$3" ] ;;
	'<=') [ "$1" -le "$3" ] ;;
	*) fail "expect_deltas: bad operator '$2'" ;;
	esac
}

# --- clients ---------------------------------------------------------------

# uclient NAME ARGS...: runs turnutils_uclient with ARGS (the server address
# last), output in $T_DIR/NAME.log; sets UC_RC, UC_LOG.
uclient() {
	local name=$1
	shift
	UC_LOG="$T_DIR/$name.log"
	in_cli timeout "$T_TIMEOUT" turnutils_uclient "$@" >"$UC_LOG" 2>&1
	UC_RC=$?
	return 0
}

# uclient_counts: parse UC_LOG's final totals into UC_SENT, UC_RECV, UC_LOST.
# coturn prints "start_mclient: tot_send_msgs=S, tot_recv_msgs=R" and
# "Total lost packets L (p%)" once the run is complete.
uclient_counts() {
	local line
	UC_SENT=""
	UC_RECV=""
	UC_LOST=""
	line=$(grep -E 'start_mclient: tot_send_msgs=[0-9]+, tot_recv_msgs=[0-9]+$' "$UC_LOG" | tail -n 1)
	if [ -n "$line" ]; then
		UC_SENT=$(printf '%s\n' "$line" | sed -E 's/.*tot_send_msgs=([0-9]+).*/\1/')
		UC_RECV=$(printf '%s\n' "$line" | sed -E 's/.*tot_recv_msgs=([0-9]+).*/\1/')
	fi
	line=$(grep -E 'Total lost packets [0-9]+' "$UC_LOG" | tail -n 1)
	if [ -n "$line" ]; then
		UC_LOST=$(printf '%s\n' "$line" | sed -E 's/.*Total lost packets ([0-9]+).*/\1/')
	fi
}

show_uclient_log() {
	log "--- last lines of $UC_LOG (exit $UC_RC):"
	tail -n 15 "$UC_LOG" >&2
	log "---"
}

# uclient_expect_ok NAME ARGS...: the run must complete with every message
# delivered: exit 0, totals printed, sent > 0, received == sent, 0 lost.
uclient_expect_ok() {
	local name=$1
	uclient "$@"
	uclient_counts
	if [ "$UC_RC" -ne 0 ] || [ -z "$UC_SENT" ] || [ -z "$UC_LOST" ] ||
		[ "$UC_SENT" -eq 0 ] || [ "$UC_RECV" -ne "$UC_SENT" ] ||
		[ "$UC_LOST" -ne 0 ]; then
		show_uclient_log
		server_alive || show_server_log
		check_fail "$name: want exit 0 and all messages back; got exit $UC_RC, sent ${UC_SENT:-?}, received ${UC_RECV:-?}, lost ${UC_LOST:-?}"
		return 1
	fi
	log "ok: $name: sent $UC_SENT, received $UC_RECV, lost 0"
}

# uclient_expect_nodata NAME ARGS...: nothing may be relayed: either the
# client gives up with an error (non-zero exit) or it receives nothing.
# Sets UC_LOG for callers that look for the error text.
uclient_expect_nodata() {
	local name=$1
	uclient "$@"
	uclient_counts
	if [ "$UC_RC" -eq 124 ]; then
		show_uclient_log
		check_fail "$name: client hung (killed after $T_TIMEOUT s)"
		return 1
	fi
	if [ "$UC_RC" -eq 0 ] && { [ -z "$UC_RECV" ] || [ "$UC_RECV" -ne 0 ]; }; then
		show_uclient_log
		check_fail "$name: want failure or 0 received; got exit 0, received ${UC_RECV:-?}"
		return 1
	fi
	if [ -n "$UC_RECV" ] && [ "$UC_RECV" -ne 0 ]; then
		show_uclient_log
		check_fail "$name: $UC_RECV messages were relayed"
		return 1
	fi
	log "ok: $name: refused (exit $UC_RC, received ${UC_RECV:-0})"
}

# peer_start PORT ADDR: a turnutils_peer (UDP echo) on ADDR:PORT. It binds
# PORT+1 too (its "RTCP" socket), so pick PORT with free_port_pair.
peer_start() {
	local port=$1 addr=$2
	udp_port_busy "$port" && fail "UDP port $port (peer) is already in use"
	spawn "$T_DIR/peer-$port.log" "${CLI_EXEC[@]}" turnutils_peer -p "$port" -L "$addr"
	local i
	for ((i = 0; i < 50; i++)); do
		udp_port_busy "$port" && return 0
		sleep 0.1
	done
	fail "turnutils_peer did not bind $addr:$port"
}

# sink_start PORT ADDR FILE: a UDP sink on ADDR:PORT that appends one line
# per datagram received to FILE (so a test can tell that nothing arrived).
sink_start() {
	local port=$1 addr=$2 file=$3
	udp_port_busy "$port" && fail "UDP port $port (sink) is already in use"
	: >"$file"
	spawn "$T_DIR/sink-$port.log" "${CLI_EXEC[@]}" /usr/bin/python3 -c '
import socket, sys
port, addr, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((addr, port))
with open(path, "a") as f:
    while True:
        data, src = s.recvfrom(65535)
        f.write("%s %d\n" % (src[0], len(data)))
        f.flush()
' "$port" "$addr" "$file"
	local i
	for ((i = 0; i < 50; i++)); do
		udp_port_busy "$port" && return 0
		sleep 0.1
	done
	fail "UDP sink did not bind $addr:$port"
}

# lib_done: exit with the verdict of every check_fail so far.
lib_done() {
	if [ "$T_FAILED" -ne 0 ]; then
		exit 1
	fi
	log "PASS"
	exit 0
}
