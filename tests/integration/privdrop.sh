#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Privilege drop: sottod started as root with `run_as: {user: nobody,
# group: nogroup}` ends up, in every one of its threads (main, EAL lcores,
# EAL interrupt thread, io_uring workers), with nobody's uids and
# nogroup's gids and no other group, no_new_privs set, an empty inheritable
# and ambient set, and a bounding set and capabilities cut to what the driver
# needs at run time: nothing for udp and for dpdk on AF_PACKET;
# CAP_NET_ADMIN, in the control thread only, for dpdk on AF_XDP (to take
# the XDP program off the interface when the port closes).
# TURN still relays afterwards, and the daemon still stops with status 0
# (and, on dpdk, leaves no XDP program behind). A run_as user that does not
# exist stops sottod before it binds anything. Started as an ordinary user,
# sottod drops nothing and says so; started as one with ambient
# capabilities (as packaging/sottod.service does), it drops those.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
lib_init "$@"
only_sottod "privilege drop"
[ "$(id -u)" -eq 0 ] || skip "needs root (sottod must start as root to drop privileges)"
need_cmd getent setpriv
getent passwd nobody >/dev/null || skip "no user 'nobody'"
getent group nogroup >/dev/null || skip "no group 'nogroup'"

nobody_uid=$(id -u nobody)
nogroup_gid=$(getent group nogroup | cut -d: -f3)

# What stays, as /proc shows it (hex): udp relays on kernel sockets above
# 1024 and needs nothing, nor does AF_PACKET; AF_XDP keeps CAP_NET_ADMIN
# (bit 12).
if [ "$T_DRIVER" = dpdk ] && [ "$T_PMD" = af_xdp ]; then
	want_main=0000000000001000
else
	want_main=0000000000000000
fi
want_bnd=$want_main

pmin=50400
pmax=50999

# start_with CONFIG: like server_start, on a config of our own.
start_with() {
	local cfg=$1 n=${T_SERVER_N:-0}
	T_SERVER_N=$((n + 1))
	SERVER_LOG="$T_DIR/server$n.log"
	if [ "$T_DRIVER" = dpdk ]; then
		spawn "$SERVER_LOG" ip netns exec "$GW_NS" "$SOTTOD" -c "$cfg"
	else
		spawn "$SERVER_LOG" "$SOTTOD" -c "$cfg"
	fi
	SERVER_PID=$SPAWN_PID
	wait_stun "$T_SRV4" "$T_PORT"
	wait_stun "$T_SRV6" "$T_PORT"
}

# status_field FILE NAME: the value(s) after "NAME:" in a status file.
status_field() {
	sed -n "s/^$2:[[:space:]]*//p" "$1" | tr -s ' \t' ' ' | sed 's/ *$//'
}

# check_threads WHEN: every thread's credentials as /proc shows them.
check_threads() {
	local when=$1 t tid st comm n=0 v want
	for t in /proc/"$SERVER_PID"/task/*; do
		tid=${t##*/}
		# a thread may exit between the glob and the read
		st=$(cat "$t/status" 2>/dev/null) || continue
		printf '%s\n' "$st" >"$T_DIR/status-$when-$tid"
		st="$T_DIR/status-$when-$tid"
		comm=$(cat "$t/comm" 2>/dev/null)
		n=$((n + 1))
		v=$(status_field "$st" Uid)
		[ "$v" = "$nobody_uid $nobody_uid $nobody_uid $nobody_uid" ] ||
			check_fail "$when: thread $tid ($comm): Uid $v"
		v=$(status_field "$st" Gid)
		[ "$v" = "$nogroup_gid $nogroup_gid $nogroup_gid $nogroup_gid" ] ||
			check_fail "$when: thread $tid ($comm): Gid $v"
		v=$(status_field "$st" Groups)
		[ "$v" = "$nogroup_gid" ] ||
			check_fail "$when: thread $tid ($comm): Groups '$v', want '$nogroup_gid'"
		want=0000000000000000
		[ "$tid" = "$SERVER_PID" ] && want=$want_main
		for f in CapPrm CapEff; do
			v=$(status_field "$st" "$f")
			[ "$v" = "$want" ] ||
				check_fail "$when: thread $tid ($comm): $f $v, want $want"
		done
		for f in CapInh CapAmb; do
			v=$(status_field "$st" "$f")
			[ "$v" = 0000000000000000 ] ||
				check_fail "$when: thread $tid ($comm): $f $v, want 0"
		done
		v=$(status_field "$st" CapBnd)
		[ "$v" = "$want_bnd" ] ||
			check_fail "$when: thread $tid ($comm): CapBnd $v, want $want_bnd"
		v=$(status_field "$st" NoNewPrivs)
		[ "$v" = 1 ] ||
			check_fail "$when: thread $tid ($comm): NoNewPrivs $v, want 1"
	done
	# main, the EAL interrupt thread and one lcore at the least
	[ "$n" -ge 3 ] || check_fail "$when: only $n threads found"
	log "ok: $when: $n threads checked"
}

# xdp_attached: true if an XDP program sits on the gateway interface.
xdp_attached() {
	ip netns exec "$GW_NS" ip -d link show dev "$GW_IF" 2>/dev/null |
		grep -Eq 'prog/xdp|xdp(generic|drv|offload)? '
}

# --- started as root, run_as nobody ----------------------------------------

T_PORT=$(free_port 34820) || exit 1
cfg="$T_DIR/privdrop.yaml"
write_config "$cfg" "$T_PORT" "$pmin" "$pmax" 0
printf 'run_as:\n  user: nobody\n  group: nogroup\n' >>"$cfg"
start_with "$cfg"
grep -q "component=privdrop msg=\"privileges dropped\" user=\"nobody\" uid=$nobody_uid group=\"nogroup\"" "$SERVER_LOG" ||
	{ show_server_log; check_fail "no 'privileges dropped' line for nobody in the log"; }
check_threads after-start

uclient_expect_ok relay-after-drop -y -c -W "$T_SECRET" -u alice -p "$T_PORT" \
	-m 4 -n 10 -l 172 "$T_SRV4"
uclient_expect_ok relay-after-drop-ipv6 -y -c -W "$T_SECRET" -u alice \
	-p "$T_PORT" -x -m 4 -n 10 -l 172 "$T_SRV6"
# threads started since (io_uring workers) inherit the dropped credentials
check_threads after-traffic

server_stop TERM
if [ "$T_DRIVER" = dpdk ] && [ "$T_PMD" = af_xdp ] && xdp_attached; then
	check_fail "an XDP program is still attached to $GW_IF after sottod stopped"
fi
grep -E 'level=(error|warn) ' "$SERVER_LOG" >&2 &&
	check_fail "errors or warnings in the log of a run that dropped privileges"

# --- a run_as user that does not exist ---------------------------------------

T_PORT=$(free_port 34840) || exit 1
cfg="$T_DIR/privdrop-nouser.yaml"
write_config "$cfg" "$T_PORT" "$pmin" "$pmax" 0
printf 'run_as:\n  user: sotto-no-such-user\n' >>"$cfg"
ns=()
[ "$T_DRIVER" = dpdk ] && ns=(ip netns exec "$GW_NS")
if expect_exit nouser 1 'msg="run_as.user does not exist" user="sotto-no-such-user"' \
	"${ns[@]}" "$SOTTOD" -c "$cfg"; then
	! grep -q "ready" "$EX_OUT" ||
		check_fail "run_as.user that does not exist: sottod got as far as ready"
fi

# --- not root (udp only: dpdk needs root to start) --------------------------
# As an ordinary user, sottod drops nothing. As the systemd unit starts it
# (packaging/sottod.service: User=, AmbientCapabilities=, NoNewPrivileges=),
# it gives up the capabilities it holds in every thread.

# start_as NAME SETPRIV_ARGS...: sottod on a fresh config under setpriv.
start_as() {
	local name=$1
	shift
	T_PORT=$(free_port 34860) || exit 1
	# a directory of nobody's, for the config and the control socket
	local dir="$T_DIR/as-$name"
	local cfg="$dir/privdrop.yaml"
	chmod 0711 "$T_DIR"
	if ! mkdir "$dir" || ! chown nobody:nogroup "$dir"; then
		fail "cannot make $dir for nobody"
	fi
	write_config "$cfg" "$T_PORT" "$pmin" "$pmax" 0
	chmod 0644 "$cfg"
	SERVER_LOG="$T_DIR/server-$name.log"
	spawn "$SERVER_LOG" setpriv --reuid=nobody --regid=nogroup \
		--init-groups "$@" "$SOTTOD" -c "$cfg"
	SERVER_PID=$SPAWN_PID
	wait_stun "$T_SRV4" "$T_PORT"
}

if [ "$T_DRIVER" = udp ]; then
	start_as user --inh-caps=-all
	grep -q 'component=privdrop msg="not started as root and holding no capabilities' "$SERVER_LOG" ||
		{ show_server_log; check_fail "as a user: no 'not started as root' line"; }
	# nothing to drop, but the seccomp filters (control/daemon/sandbox.c)
	# need no_new_privs to load without CAP_SYS_ADMIN
	v=$(status_field "/proc/$SERVER_PID/status" NoNewPrivs)
	[ "$v" = 1 ] || check_fail "as a user: NoNewPrivs $v, want 1 (set for the seccomp filters)"
	v=$(status_field "/proc/$SERVER_PID/status" Seccomp)
	[ "$v" = 2 ] || check_fail "as a user: Seccomp $v, want 2 (filters loaded)"
	uclient_expect_ok relay-as-user -y -c -W "$T_SECRET" -u alice \
		-p "$T_PORT" -m 2 -n 10 -l 172 "$T_SRV4"
	server_stop TERM

	start_as ambient --inh-caps=+net_bind_service \
		--ambient-caps=+net_bind_service --no-new-privs
	grep -q 'component=privdrop msg="capabilities dropped" caps=none bounding_set=kept' "$SERVER_LOG" ||
		{ show_server_log; check_fail "with ambient caps: no 'capabilities dropped' line"; }
	# no CAP_SETPCAP: the bounding set is the service manager's to cut
	want_bnd=$(status_field "/proc/$SERVER_PID/status" CapBnd)
	check_threads ambient-caps
	uclient_expect_ok relay-ambient -y -c -W "$T_SECRET" -u alice \
		-p "$T_PORT" -m 2 -n 10 -l 172 "$T_SRV4"
	server_stop TERM
fi

lib_done
