#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Hugepages for one test run of the dpdk driver, kept apart from everything
# else on the host:
#
#   scripts/hugepages.sh up NAME [PAGES]   reserve PAGES (default 256) 2 MB
#                                          pages on a private hugetlbfs
#                                          mount; prints its path
#   scripts/hugepages.sh down NAME         unmount it and give back the
#                                          pages this run added (idempotent)
#
# `up` exits 77 with the reason on stderr when hugepages cannot be had (not
# root, no hugetlbfs, not enough memory), so a test can skip or fall back.
#
# Why a private mount: the mount's min_size= makes the kernel reserve the
# pages for files on this mount alone at mount time (or refuse the mount), so
# a concurrent DPDK process cannot take them between `up` and sottod's
# start, and size= caps what this run can take from others. sottod gets it
# as --huge-dir.
#
# The pool (vm.nr_hugepages) is shared by the host: `up` grows it by what is
# missing and writes down by how much, `down` shrinks it by that much again.
# A lock serialises these read-modify-writes between concurrent runs. Pages
# still in use when the pool shrinks become surplus pages the kernel frees
# once their user lets go of them, so shrinking never takes memory from a
# running process.
set -euo pipefail

STATE_DIR=/run/sotto-hugepages
SYSFS=/sys/kernel/mm/hugepages/hugepages-2048kB

skip() {
	printf 'hugepages.sh: %s\n' "$*" >&2
	exit 77
}

die() {
	printf 'hugepages.sh: %s\n' "$*" >&2
	exit 1
}

usage() {
	printf 'usage: %s up NAME [PAGES] | down NAME\n' "$0" >&2
	exit 2
}

if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
cmd=$1
name=$2
pages=${3:-256}
[[ $name =~ ^[A-Za-z0-9-]{1,40}$ ]] || die "bad NAME '$name'"
if ! [[ $pages =~ ^[1-9][0-9]*$ ]]; then die "bad PAGES '$pages'"; fi

mnt=$STATE_DIR/$name
added_file=$STATE_DIR/$name.added

meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }

# with_lock CMD...: CMD under the pool lock (flock on fd 9).
with_lock() {
	mkdir -p "$STATE_DIR"
	(
		flock -w 30 9 || die "timed out waiting for $STATE_DIR/lock"
		"$@"
	) 9>"$STATE_DIR/lock"
}

# grow: make sure the pool has PAGES free and unreserved pages; record how
# many pages were added to it.
grow() {
	local total free rsvd avail want added=0
	total=$(cat "$SYSFS/nr_hugepages")
	free=$(meminfo HugePages_Free)
	rsvd=$(meminfo HugePages_Rsvd)
	avail=$((free - rsvd))
	if [ "$avail" -lt "$pages" ]; then
		# Growing the pool takes the memory at once: never ask for more
		# than half of what the host has available.
		local memavail_kb
		memavail_kb=$(meminfo MemAvailable)
		if [ $(((pages - avail) * 2048)) -gt $((memavail_kb / 2)) ]; then
			echo 0 >"$added_file"
			return 0
		fi
		want=$((total + pages - avail))
		echo "$want" >"$SYSFS/nr_hugepages" 2>/dev/null || true
		added=$(($(cat "$SYSFS/nr_hugepages") - total))
	fi
	echo "$added" >"$added_file"
}

# shrink: give back what grow added (never below zero).
shrink() {
	local added total
	[ -f "$added_file" ] || return 0
	added=$(cat "$added_file")
	if [ "$added" -gt 0 ]; then
		total=$(cat "$SYSFS/nr_hugepages")
		[ "$total" -ge "$added" ] || added=$total
		echo $((total - added)) >"$SYSFS/nr_hugepages" || true
	fi
	rm -f "$added_file"
}

down() {
	if mountpoint -q "$mnt" 2>/dev/null; then
		# Files left by a killed process would keep pages in use.
		rm -rf "${mnt:?}"/* 2>/dev/null || true
		umount "$mnt" || umount -l "$mnt" || die "cannot unmount $mnt"
	fi
	[ -d "$mnt" ] && rmdir "$mnt" 2>/dev/null
	[ -d "$STATE_DIR" ] || return 0
	with_lock shrink
}

up() {
	[ "$(id -u)" -eq 0 ] || skip "hugepages need root"
	grep -qw hugetlbfs /proc/filesystems || skip "the kernel has no hugetlbfs"
	[ -w "$SYSFS/nr_hugepages" ] || skip "no 2 MB hugepages ($SYSFS not writable)"
	mountpoint -q "$mnt" 2>/dev/null && die "$mnt is mounted already (scripts/hugepages.sh down $name)"
	with_lock grow
	mkdir -p "$mnt"
	local mb=$((pages * 2))
	if ! mount -t hugetlbfs -o "pagesize=2M,size=${mb}M,min_size=${mb}M,mode=0700" \
		"sotto-$name" "$mnt" 2>/dev/null; then
		local free
		free=$(meminfo HugePages_Free)
		down
		skip "cannot reserve $pages 2 MB hugepages (pool has $free free; memory too fragmented or too small?)"
	fi
	printf '%s\n' "$mnt"
}

case $cmd in
up) up ;;
down) down ;;
*) usage ;;
esac
