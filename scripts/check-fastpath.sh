#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Fails if a fast-path file calls something the per-packet loop must not:
# memory allocation, locks, sleeping, blocking syscalls or logging.
# A line may opt out with a "fastpath-allow: <why>" comment.
set -u
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
files=(
	dataplane/bucket.h
	dataplane/dp.h
	dataplane/fastpath.c
	dataplane/dpdk/dpdk_worker.c
	dataplane/dpdk/l2l3.c
	dataplane/gw/dp_gw.h
	dataplane/gw/dp_gw_fwd.c
	dataplane/gw/dp_gw_priv.h
	dataplane/udp/udp_worker.c
	dataplane/wire/bytes.h
	dataplane/wire/chandata.h
	dataplane/wire/srtp.c
	dataplane/wire/srtp.h
)
forbidden='\b(malloc|calloc|realloc|free|strdup|rte_malloc|rte_zmalloc|rte_free|printf|fprintf|puts|syslog|log_(err|warn|info|debug|msg)|RTE_LOG|rte_panic|abort|pthread_mutex_[a-z]+|pthread_cond_[a-z]+|rte_spinlock_[a-z]+|sleep|usleep|nanosleep|read|write|send|sendto|sendmsg|recv|recvfrom|recvmsg|ioctl|open|close|epoll_wait|poll|select)[[:space:]]*\('
status=0
for f in "${files[@]}"; do
	if [ ! -f "$top/$f" ]; then
		echo "check-fastpath: $f is missing" >&2
		status=1
		continue
	fi
	# strip comments before looking, keep line numbers
	hits=$(sed -e 's://.*$::' "$top/$f" | grep -nE "$forbidden" |
		grep -v 'fastpath-allow:' || true)
	if [ -n "$hits" ]; then
		echo "check-fastpath: forbidden call in $f:" >&2
		echo "$hits" >&2
		status=1
	fi
done
[ $status -eq 0 ] && echo "check-fastpath: ${#files[@]} files clean"
exit $status
