/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_PRIVDROP_H
#define SOTTO_PRIVDROP_H

/*
 * Dropping privileges once sottod holds what only root can open: the EAL's
 * memory, DPDK ports, sockets on privileged ports. See docs/security.md.
 *
 * Linux keeps uids, gids, supplementary groups, capabilities, the bounding
 * set and no_new_privs per thread, and when sottod can drop, the EAL has
 * already started its lcore and interrupt threads. privdrop_apply()
 * therefore changes every thread of the process: the calling thread
 * directly, each other one through a signal whose handler makes the same
 * system calls (glibc does this for setuid(); libcap's cap_set_proc() does
 * not), and then reads every thread's /proc/self/task/TID/status to check
 * that the kernel agrees.
 *
 *   before rte_eal_init():   privdrop_lookup()  (a missing user stops here)
 *   ports and sockets open,
 *   before the workers run:  privdrop_apply()   (from the control thread)
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/capability.h>
#include <sys/types.h>

#include "config.h"

#define PRIVDROP_MAX_GROUPS 64
#define PRIVDROP_MAX_KEEP 8
#define PRIVDROP_MAX_THREADS 256

/* Who to become, looked up while NSS still works as root would see it. */
struct privdrop_ids {
	char user[64];
	char group[64];
	uid_t uid;
	gid_t gid;
	/* the user's groups as initgroups() would set them, gid included */
	gid_t groups[PRIVDROP_MAX_GROUPS];
	unsigned n_groups;
};

/*
 * Resolves run_as.user and run_as.group (NULL or "" = the user's primary
 * group). 0, -ENOENT (no such user or group, logged), -EINVAL (uid or any
 * gid 0: that is no drop, logged), -E2BIG (too many groups) or -errno of an
 * NSS failure.
 */
int privdrop_lookup(const char *user, const char *group,
		    struct privdrop_ids *ids);

/*
 * The capabilities the control thread still needs once the configured
 * driver runs (docs/security.md "Privileges" has the measurements): udp
 * CAP_NET_BIND_SERVICE if relay ports start below 1024, else none; dpdk
 * CAP_NET_ADMIN if a port is an AF_XDP vdev (net_af_xdp*), else none.
 * Writes at most cap of them to out; returns how many, or -ENOSPC /
 * -EINVAL.
 */
int privdrop_caps_needed(const struct sotto_config *cfg, cap_value_t *out,
			 unsigned cap);

/*
 * Drops privileges in every thread of the process. Call it from the thread
 * that keeps the capabilities in keep (the control thread), after every
 * privileged open and before the workers are launched.
 *
 * Started as root with ids: every thread gets ids' uid, gid and groups;
 * the calling thread keeps exactly keep (permitted and effective), the
 * other threads no capability at all; the bounding set of every thread is
 * cut to keep; inheritable and ambient sets are emptied; no_new_privs is
 * set. Then every thread's credentials are checked, and so is that
 * setuid(0) and setgid(0) fail.
 * Root without ids: the same, but the uid stays 0 (logged as a warning).
 * Not root, holding capabilities (e.g. systemd's AmbientCapabilities=):
 * capabilities as above; the bounding set only with CAP_SETPCAP.
 * Not root, holding none: nothing to do, logged.
 *
 * 0, or -errno; after an error the threads may differ, so the caller must
 * exit rather than run.
 */
int privdrop_apply(const struct privdrop_ids *ids, const cap_value_t *keep,
		   unsigned n_keep);

/* One thread's credentials, as /proc/<pid>/task/<tid>/status shows them. */
struct privdrop_creds {
	uid_t uid[4];   /* real, effective, saved, filesystem */
	gid_t gid[4];
	gid_t groups[PRIVDROP_MAX_GROUPS];
	unsigned n_groups;
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	int no_new_privs;
};

/* Parses a status file's text. 0, or -EINVAL if a line is missing or
 * malformed, -E2BIG beyond PRIVDROP_MAX_GROUPS groups. */
int privdrop_creds_parse(const char *status, struct privdrop_creds *c);

#endif
