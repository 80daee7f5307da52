/* SPDX-License-Identifier: BSD-3-Clause */
#include "privdrop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* The id system calls that take 32-bit ids (the plain ones are 16-bit on
 * i386 and 32-bit ARM). */
#ifdef SYS_setresuid32
#define NR_SETRESUID SYS_setresuid32
#define NR_SETRESGID SYS_setresgid32
#define NR_SETGROUPS SYS_setgroups32
#define NR_SETUID SYS_setuid32
#define NR_SETGID SYS_setgid32
#else
#define NR_SETRESUID SYS_setresuid
#define NR_SETRESGID SYS_setresgid
#define NR_SETGROUPS SYS_setgroups
#define NR_SETUID SYS_setuid
#define NR_SETGID SYS_setgid
#endif

/* How long the other threads get to run the signal handler. They are idle
 * (lcores waiting for work, the EAL interrupt thread in epoll_wait), so
 * this is only reached by a thread that blocks the signal. */
#define BROADCAST_TIMEOUT_MS 2000
#define RES_PENDING 1

#define STATUS_MAX 16384

/* ---- looking up the user ---- */

static void
gid_name(gid_t gid, char *out, size_t len)
{
	struct group gr, *grp = NULL;
	char buf[16384];

	if (getgrgid_r(gid, &gr, buf, sizeof(buf), &grp) == 0 && grp)
		snprintf(out, len, "%s", gr.gr_name);
	else
		snprintf(out, len, "%u", (unsigned)gid);
}

int
privdrop_lookup(const char *user, const char *group, struct privdrop_ids *ids)
{
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	char buf[16384];
	int ret, ng;

	memset(ids, 0, sizeof(*ids));
	if (user == NULL || user[0] == '\0')
		return -EINVAL;
	if (strlen(user) >= sizeof(ids->user) ||
	    (group && strlen(group) >= sizeof(ids->group)))
		return -ENAMETOOLONG;

	/* getpwnam_r: 0 and no entry is "not found"; an error number means
	 * NSS itself failed (e.g. an LDAP server is down) */
	ret = getpwnam_r(user, &pw, buf, sizeof(buf), &pwp);
	if (pwp == NULL) {
		if (ret != 0) {
			log_err("privdrop", "run_as.user cannot be looked up "
				"user=\"%s\" error=\"%s\"", user, strerror(ret));
			return -ret;
		}
		log_err("privdrop", "run_as.user does not exist user=\"%s\"",
			user);
		return -ENOENT;
	}
	snprintf(ids->user, sizeof(ids->user), "%s", user);
	ids->uid = pw.pw_uid;
	ids->gid = pw.pw_gid;

	if (group && group[0] != '\0') {
		ret = getgrnam_r(group, &gr, buf, sizeof(buf), &grp);
		if (grp == NULL) {
			if (ret != 0) {
				log_err("privdrop", "run_as.group cannot be "
					"looked up group=\"%s\" error=\"%s\"",
					group, strerror(ret));
				return -ret;
			}
			log_err("privdrop", "run_as.group does not exist "
				"group=\"%s\"", group);
			return -ENOENT;
		}
		ids->gid = gr.gr_gid;
		snprintf(ids->group, sizeof(ids->group), "%s", group);
	} else {
		gid_name(ids->gid, ids->group, sizeof(ids->group));
	}

	if (ids->uid == 0) {
		log_err("privdrop", "run_as.user has uid 0, which drops "
			"nothing: use an unprivileged user user=\"%s\"", user);
		return -EINVAL;
	}

	/* what initgroups() would set: lets an operator grant a device or a
	 * hugepage directory through group membership */
	ng = PRIVDROP_MAX_GROUPS;
	if (getgrouplist(ids->user, ids->gid, ids->groups, &ng) < 0) {
		log_err("privdrop", "run_as.user is in too many groups "
			"user=\"%s\" max=%d", user, PRIVDROP_MAX_GROUPS);
		return -E2BIG;
	}
	ids->n_groups = (unsigned)ng;
	for (unsigned i = 0; i < ids->n_groups; i++) {
		if (ids->groups[i] == 0) {
			log_err("privdrop", "run_as would keep group 0 (root), "
				"which can read and write root's group-owned "
				"files: use another group user=\"%s\"", user);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- what each driver needs ---- */

static int
add_cap(cap_value_t *out, unsigned cap, unsigned *n, cap_value_t c)
{
	if (*n == cap)
		return -ENOSPC;
	out[(*n)++] = c;
	return 0;
}

int
privdrop_caps_needed(const struct sotto_config *cfg, cap_value_t *out,
		     unsigned cap)
{
	unsigned n = 0;
	int ret = 0;

	switch (cfg->dataplane.driver) {
	case DP_DRIVER_UDP:
		/* the control thread binds a relay socket at every Allocate;
		 * nothing else after start is privileged */
		if (cfg->turn.port_min < 1024)
			ret = add_cap(out, cap, &n, CAP_NET_BIND_SERVICE);
		break;
	case DP_DRIVER_DPDK:
		/* Relayed addresses are table entries, not sockets, and the
		 * workers only poll and kick queues that are open already.
		 * Measured (docs/security.md): AF_PACKET needs nothing after
		 * start; AF_XDP needs CAP_NET_ADMIN when the port closes, to
		 * take its XDP program off the interface (bpf_xdp_detach(),
		 * netlink), or the program stays behind after sottod exits. */
		for (unsigned i = 0; i < cfg->dataplane.dpdk.n_ports; i++) {
			if (strncmp(cfg->dataplane.dpdk.ports[i].device,
				    "net_af_xdp", 10) == 0) {
				ret = add_cap(out, cap, &n, CAP_NET_ADMIN);
				break;
			}
		}
		break;
	default:
		return -EINVAL;
	}
	return ret < 0 ? ret : (int)n;
}

/* ---- parsing /proc/.../status ---- */

/* The text after "name:" on the line that starts with it. */
static const char *
field(const char *s, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = s; p != NULL && *p != '\0';) {
		if (strncmp(p, name, len) == 0 && p[len] == ':')
			return p + len + 1;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

static int
parse_ids(const char *p, unsigned *out)
{
	char *end;

	if (p == NULL)
		return -EINVAL;
	for (int i = 0; i < 4; i++) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		unsigned long v = strtoul(p, &end, 10);
		if (errno || v > UINT32_MAX)
			return -EINVAL;
		out[i] = (unsigned)v;
		p = end;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '\n' || *p == '\0' ? 0 : -EINVAL;
}

static int
parse_hex64(const char *p, uint64_t *out)
{
	char *end;

	if (p == NULL)
		return -EINVAL;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 16);
	if (errno || (*end != '\n' && *end != '\0'))
		return -EINVAL;
	*out = v;
	return 0;
}

static int
parse_groups(const char *p, gid_t *g, unsigned *n)
{
	char *end;

	if (p == NULL)
		return -EINVAL;
	*n = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\n' || *p == '\0')
			return 0;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (*n == PRIVDROP_MAX_GROUPS)
			return -E2BIG;
		errno = 0;
		unsigned long v = strtoul(p, &end, 10);
		if (errno || v > UINT32_MAX)
			return -EINVAL;
		g[(*n)++] = (gid_t)v;
		p = end;
	}
}

int
privdrop_creds_parse(const char *s, struct privdrop_creds *c)
{
	unsigned ids[4];
	uint64_t nnp;
	int ret;

	memset(c, 0, sizeof(*c));
	if ((ret = parse_ids(field(s, "Uid"), ids)) < 0)
		return ret;
	for (int i = 0; i < 4; i++)
		c->uid[i] = ids[i];
	if ((ret = parse_ids(field(s, "Gid"), ids)) < 0)
		return ret;
	for (int i = 0; i < 4; i++)
		c->gid[i] = ids[i];
	if ((ret = parse_groups(field(s, "Groups"), c->groups,
				&c->n_groups)) < 0 ||
	    (ret = parse_hex64(field(s, "CapInh"), &c->cap_inh)) < 0 ||
	    (ret = parse_hex64(field(s, "CapPrm"), &c->cap_prm)) < 0 ||
	    (ret = parse_hex64(field(s, "CapEff"), &c->cap_eff)) < 0 ||
	    (ret = parse_hex64(field(s, "CapBnd"), &c->cap_bnd)) < 0 ||
	    (ret = parse_hex64(field(s, "CapAmb"), &c->cap_amb)) < 0 ||
	    /* decimal 0/1, which parses the same in hex */
	    (ret = parse_hex64(field(s, "NoNewPrivs"), &nnp)) < 0)
		return ret;
	if (nnp > 1)
		return -EINVAL;
	c->no_new_privs = (int)nnp;
	return 0;
}

/* ---- the drop, one thread at a time ---- */

struct drop_plan {
	bool set_ids;
	bool drop_bound;
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	size_t n_groups;
	unsigned last_cap;
	uint64_t keep;   /* the caller's permitted and effective set, and
			  * every thread's bounding set */
};

/* Which call of drop_thread() failed, for the message. */
enum drop_step {
	STEP_NO_NEW_PRIVS,
	STEP_BOUNDING_SET,
	STEP_SETGROUPS,
	STEP_SETRESGID,
	STEP_KEEPCAPS,
	STEP_SETRESUID,
	STEP_CAPSET,
};

static const char *const step_names[] = {
	[STEP_NO_NEW_PRIVS] = "prctl(PR_SET_NO_NEW_PRIVS)",
	[STEP_BOUNDING_SET] = "prctl(PR_CAPBSET_DROP) (needs CAP_SETPCAP)",
	[STEP_SETGROUPS] = "setgroups (needs CAP_SETGID)",
	[STEP_SETRESGID] = "setresgid (needs CAP_SETGID)",
	[STEP_KEEPCAPS] = "prctl(PR_SET_KEEPCAPS)",
	[STEP_SETRESUID] = "setresuid (needs CAP_SETUID)",
	[STEP_CAPSET] = "capset",
};

/*
 * Runs in each thread, the others from a signal handler: system calls
 * only, nothing that allocates or locks. Everything that needs a
 * capability (CAP_SETPCAP for the bounding set, CAP_SETGID/CAP_SETUID)
 * comes before capset() gives it up. On failure *step says which call.
 */
static int
drop_thread(const struct drop_plan *p, bool caller, int *step)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
		.pid = 0,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	uint64_t mine = caller ? p->keep : 0;

	*step = STEP_NO_NEW_PRIVS;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0)
		return -errno;
	*step = STEP_BOUNDING_SET;
	if (p->drop_bound) {
		for (unsigned c = 0; c <= p->last_cap; c++)
			if (!(p->keep & (1ULL << c)) &&
			    prctl(PR_CAPBSET_DROP, (unsigned long)c, 0L, 0L,
				  0L) < 0)
				return -errno;
	}
	if (p->set_ids) {
		*step = STEP_SETGROUPS;
		if (syscall(NR_SETGROUPS, p->n_groups, p->groups) < 0)
			return -errno;
		*step = STEP_SETRESGID;
		if (syscall(NR_SETRESGID, p->gid, p->gid, p->gid) < 0)
			return -errno;
		/* keep the permitted set across the uid change (it would be
		 * cleared); capset() below cuts it to what is kept */
		*step = STEP_KEEPCAPS;
		if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0)
			return -errno;
		*step = STEP_SETRESUID;
		if (syscall(NR_SETRESUID, p->uid, p->uid, p->uid) < 0)
			return -errno;
		*step = STEP_KEEPCAPS;
		if (prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) < 0)
			return -errno;
	}
	/* empty inheritable set: the kernel then clears the ambient set too */
	for (unsigned i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
		d[i].effective = (uint32_t)(mine >> (32 * i));
		d[i].permitted = (uint32_t)(mine >> (32 * i));
		d[i].inheritable = 0;
	}
	*step = STEP_CAPSET;
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	return 0;
}

/* ---- broadcasting it to the other threads ---- */

static struct {
	const struct drop_plan *plan;
	pid_t pid;
	unsigned n;
	pid_t tid[PRIVDROP_MAX_THREADS];
	int res[PRIVDROP_MAX_THREADS]; /* RES_PENDING, 0 or -errno */
	int step[PRIVDROP_MAX_THREADS]; /* enum drop_step of a failure */
} bc;

static void
on_drop_signal(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	pid_t self = (pid_t)syscall(SYS_gettid);

	(void)sig;
	(void)uc;
	/* only our own tgkill(): anyone else sending this signal gets
	 * nothing done */
	if (si->si_code != SI_TKILL || si->si_pid != bc.pid)
		goto out;
	for (unsigned i = 0; i < bc.n; i++) {
		if (bc.tid[i] == self) {
			int r = drop_thread(bc.plan, false, &bc.step[i]);
			__atomic_store_n(&bc.res[i], r, __ATOMIC_RELEASE);
			break;
		}
	}
out:
	errno = saved;
}

static int
read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	ssize_t r;

	if (fd < 0)
		return -errno;
	while (got + 1 < len && (r = read(fd, buf + got, len - 1 - got)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int err = -errno;
			close(fd);
			return err;
		}
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	return 0;
}

/* The process's threads, in no particular order. Count, or -errno. */
static int
list_threads(pid_t *tids, unsigned max)
{
	DIR *dir = opendir("/proc/self/task");
	struct dirent *e;
	unsigned n = 0;

	if (dir == NULL)
		return -errno;
	while ((e = readdir(dir)) != NULL) {
		char *end;
		long v = strtol(e->d_name, &end, 10);
		if (e->d_name[0] < '1' || e->d_name[0] > '9' || *end != '\0')
			continue;
		if (n == max) {
			closedir(dir);
			return -E2BIG;
		}
		tids[n++] = (pid_t)v;
	}
	closedir(dir);
	return (int)n;
}

/* io_uring's io-wq workers show up as threads, but they run no user code
 * and take no signals; each request they run carries the credentials of
 * the thread that submitted it (io_prep_async_work()). */
#define PF_IO_WORKER 0x00000010

static bool
is_io_worker(pid_t tid, char *comm, size_t comm_len)
{
	char path[64], buf[1024];
	unsigned long flags = 0;
	const char *p;

	snprintf(comm, comm_len, "?");
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return false;
	p = strchr(buf, '(');
	const char *q = strrchr(buf, ')');
	if (p && q && q > p)
		snprintf(comm, comm_len, "%.*s", (int)(q - p - 1), p + 1);
	/* after "pid (comm) ": state ppid pgrp session tty_nr tpgid flags */
	if (q == NULL ||
	    sscanf(q + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
		return false;
	return (flags & PF_IO_WORKER) != 0;
}

/* A real-time signal nobody has a handler for. */
static int
pick_signal(void)
{
	for (int s = SIGRTMIN + 4; s <= SIGRTMAX; s++) {
		struct sigaction old;
		if (sigaction(s, NULL, &old) == 0 &&
		    !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL)
			return s;
	}
	return -EBUSY;
}

static int
broadcast(const struct drop_plan *plan, pid_t self)
{
	pid_t tids[PRIVDROP_MAX_THREADS];
	struct sigaction sa, old;
	struct timespec tick = { 0, 1000000 };
	int n, sig, ret = 0;

	sig = pick_signal();
	if (sig < 0) {
		log_err("privdrop", "no free real-time signal to reach the "
			"other threads");
		return sig;
	}
	n = list_threads(tids, PRIVDROP_MAX_THREADS);
	if (n < 0) {
		log_err("privdrop", "cannot list threads in /proc/self/task "
			"error=\"%s\"", strerror(-n));
		return n;
	}

	bc.plan = plan;
	bc.pid = getpid();
	bc.n = 0;
	for (int i = 0; i < n; i++) {
		char comm[32];
		if (tids[i] == self)
			continue;
		if (is_io_worker(tids[i], comm, sizeof(comm))) {
			log_warn("privdrop", "io_uring worker keeps the "
				 "credentials it was started with tid=%d "
				 "comm=\"%s\"", (int)tids[i], comm);
			continue;
		}
		bc.tid[bc.n] = tids[i];
		bc.res[bc.n] = RES_PENDING;
		bc.n++;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_drop_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (sigaction(sig, &sa, &old) < 0)
		return -errno;

	for (unsigned i = 0; i < bc.n; i++) {
		if (syscall(SYS_tgkill, bc.pid, bc.tid[i], sig) < 0) {
			if (errno != ESRCH) {
				ret = -errno;
				break;
			}
			/* it exited in between: nothing left to drop */
			__atomic_store_n(&bc.res[i], 0, __ATOMIC_RELEASE);
		}
	}

	for (unsigned waited = 0; ret == 0; waited++) {
		unsigned pending = 0;
		for (unsigned i = 0; i < bc.n; i++)
			if (__atomic_load_n(&bc.res[i], __ATOMIC_ACQUIRE) ==
			    RES_PENDING)
				pending++;
		if (pending == 0)
			break;
		if (waited == BROADCAST_TIMEOUT_MS) {
			ret = -ETIMEDOUT;
			break;
		}
		nanosleep(&tick, NULL);
	}

	for (unsigned i = 0; i < bc.n; i++) {
		int r = __atomic_load_n(&bc.res[i], __ATOMIC_ACQUIRE);
		char comm[32];
		if (r == 0)
			continue;
		is_io_worker(bc.tid[i], comm, sizeof(comm));
		if (r == RES_PENDING)
			log_err("privdrop", "thread did not run the drop "
				"(signal blocked?) tid=%d comm=\"%s\" "
				"signal=%d", (int)bc.tid[i], comm, sig);
		else
			log_err("privdrop", "thread failed to drop tid=%d "
				"comm=\"%s\" call=\"%s\" error=\"%s\"",
				(int)bc.tid[i], comm, step_names[bc.step[i]],
				strerror(-r));
		if (ret == 0)
			ret = r == RES_PENDING ? -ETIMEDOUT : r;
	}

	/* A late signal must not kill the process with the default action
	 * of a real-time signal: after a failure, ignore it instead. */
	if (ret == 0) {
		sigaction(sig, &old, NULL);
	} else {
		sa.sa_handler = SIG_IGN;
		sa.sa_flags = 0;
		sigaction(sig, &sa, NULL);
	}
	return ret;
}

/* ---- checking the result ---- */

static bool
same_groups(const gid_t *a, unsigned na, const gid_t *b, unsigned nb)
{
	/* the kernel sorts and the user's list may repeat the primary gid */
	for (unsigned i = 0; i < na; i++) {
		bool found = false;
		for (unsigned j = 0; j < nb && !found; j++)
			found = a[i] == b[j];
		if (!found)
			return false;
	}
	for (unsigned j = 0; j < nb; j++) {
		bool found = false;
		for (unsigned i = 0; i < na && !found; i++)
			found = a[i] == b[j];
		if (!found)
			return false;
	}
	return true;
}

static int
check_thread(const struct drop_plan *p, pid_t tid, bool caller,
	     uint64_t bound_before)
{
	char path[64], comm[32], buf[STATUS_MAX];
	struct privdrop_creds c;
	uint64_t want = caller ? p->keep : 0;
	/* dropping never adds to the bounding set */
	uint64_t want_bnd = p->drop_bound ? p->keep & bound_before
					  : bound_before;
	int ret;

	if (is_io_worker(tid, comm, sizeof(comm)))
		return 0;
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	ret = read_small(path, buf, sizeof(buf));
	if (ret == -ENOENT)
		return 0; /* exited */
	if (ret == 0)
		ret = privdrop_creds_parse(buf, &c);
	if (ret < 0) {
		log_err("privdrop", "cannot read a thread's status tid=%d "
			"comm=\"%s\" error=\"%s\"", (int)tid, comm,
			strerror(-ret));
		return ret;
	}
	for (int i = 0; i < 4 && p->set_ids; i++) {
		if (c.uid[i] != p->uid || c.gid[i] != p->gid) {
			log_err("privdrop", "thread kept other ids tid=%d "
				"comm=\"%s\" uid=%u gid=%u", (int)tid, comm,
				(unsigned)c.uid[i], (unsigned)c.gid[i]);
			return -EPERM;
		}
	}
	if (p->set_ids &&
	    !same_groups(c.groups, c.n_groups, p->groups, (unsigned)p->n_groups)) {
		log_err("privdrop", "thread kept other supplementary groups "
			"tid=%d comm=\"%s\"", (int)tid, comm);
		return -EPERM;
	}
	if (c.cap_prm != want || c.cap_eff != want || c.cap_inh != 0 ||
	    c.cap_amb != 0 || c.cap_bnd != want_bnd || c.no_new_privs != 1) {
		log_err("privdrop", "thread kept other capabilities tid=%d "
			"comm=\"%s\" cap_prm=%016llx cap_eff=%016llx "
			"cap_inh=%016llx cap_amb=%016llx cap_bnd=%016llx "
			"no_new_privs=%d want_prm=%016llx want_bnd=%016llx",
			(int)tid, comm, (unsigned long long)c.cap_prm,
			(unsigned long long)c.cap_eff,
			(unsigned long long)c.cap_inh,
			(unsigned long long)c.cap_amb,
			(unsigned long long)c.cap_bnd, c.no_new_privs,
			(unsigned long long)want, (unsigned long long)want_bnd);
		return -EPERM;
	}
	return 0;
}

static int
verify(const struct drop_plan *p, pid_t self, uint64_t bound_before,
       unsigned *n_threads)
{
	pid_t tids[PRIVDROP_MAX_THREADS];
	int n, ret;

	if (p->set_ids) {
		uid_t r, e, s;
		gid_t rg, eg, sg;
		if (getresuid(&r, &e, &s) < 0 || r != p->uid || e != p->uid ||
		    s != p->uid || getresgid(&rg, &eg, &sg) < 0 ||
		    rg != p->gid || eg != p->gid || sg != p->gid) {
			log_err("privdrop", "getresuid/getresgid disagree "
				"with the drop");
			return -EPERM;
		}
		/* the raw calls: glibc's would try every thread, and if one
		 * could get root back, this one will */
		if (syscall(NR_SETUID, 0) == 0 || errno != EPERM ||
		    syscall(NR_SETGID, 0) == 0 || errno != EPERM) {
			log_err("privdrop", "setuid(0) or setgid(0) did not "
				"fail with EPERM after the drop");
			return -EPERM;
		}
	}
	/* every thread, listed again: one started meanwhile would show */
	n = list_threads(tids, PRIVDROP_MAX_THREADS);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		ret = check_thread(p, tids[i], tids[i] == self, bound_before);
		if (ret < 0)
			return ret;
	}
	*n_threads = (unsigned)n;
	return 0;
}

/* ---- the whole drop ---- */

static int
own_caps(uint64_t *prm, uint64_t *eff)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
		.pid = 0,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	*prm = (uint64_t)d[1].permitted << 32 | d[0].permitted;
	*eff = (uint64_t)d[1].effective << 32 | d[0].effective;
	return 0;
}

static uint64_t
own_bound(unsigned last_cap)
{
	uint64_t b = 0;

	for (unsigned c = 0; c <= last_cap; c++)
		if (prctl(PR_CAPBSET_READ, (unsigned long)c, 0L, 0L, 0L) == 1)
			b |= 1ULL << c;
	return b;
}

static void
cap_names(uint64_t mask, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (unsigned c = 0; c < 64; c++) {
		if (!(mask & (1ULL << c)))
			continue;
		char *name = cap_to_name((cap_value_t)c);
		int w = snprintf(out + used, len - used, "%s%s",
				 used ? "," : "", name ? name : "?");
		cap_free(name);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
	if (out[0] == '\0')
		snprintf(out, len, "none");
}

int
privdrop_apply(const struct privdrop_ids *ids, const cap_value_t *keep,
	       unsigned n_keep)
{
	struct drop_plan plan = { 0 };
	pid_t self = (pid_t)syscall(SYS_gettid);
	uint64_t want = 0, prm = 0, eff = 0, bound_before;
	char names[512];
	unsigned n_threads = 0;
	int max_bits = cap_max_bits(), ret;

	if (max_bits < 1 || max_bits > 64)
		return -ENOTSUP;
	plan.last_cap = (unsigned)max_bits - 1;
	for (unsigned i = 0; i < n_keep; i++) {
		if (keep[i] < 0 || (unsigned)keep[i] > plan.last_cap)
			return -EINVAL;
		want |= 1ULL << keep[i];
	}
	if ((ret = own_caps(&prm, &eff)) < 0)
		return ret;

	if (geteuid() != 0 && prm == 0) {
		if (ids && ids->uid != geteuid())
			log_warn("privdrop", "run_as ignored: not started as "
				 "root user=\"%s\" uid=%u", ids->user,
				 (unsigned)geteuid());
		log_info("privdrop", "not started as root and holding no "
			 "capabilities: no privileges to drop uid=%u",
			 (unsigned)geteuid());
		return 0;
	}
	if (geteuid() == 0 && ids) {
		plan.set_ids = true;
		plan.uid = ids->uid;
		plan.gid = ids->gid;
		plan.groups = ids->groups;
		plan.n_groups = ids->n_groups;
	} else if (geteuid() == 0) {
		log_warn("privdrop", "running as root: set run_as to run "
			 "as an unprivileged user; dropping capabilities only");
	} else if (ids && ids->uid != geteuid()) {
		log_warn("privdrop", "run_as ignored: not started as root; "
			 "dropping capabilities only user=\"%s\" uid=%u",
			 ids->user, (unsigned)geteuid());
	}

	if (want & ~prm) {
		cap_names(want & ~prm, names, sizeof(names));
		log_warn("privdrop", "cannot keep capabilities not held "
			 "caps=%s", names);
		want &= prm;
	}
	plan.keep = want;
	/* PR_CAPBSET_DROP needs CAP_SETPCAP; a service started without it
	 * has its bounding set from the service manager */
	plan.drop_bound = (eff & (1ULL << CAP_SETPCAP)) != 0;
	bound_before = own_bound(plan.last_cap);

	ret = broadcast(&plan, self);
	if (ret == 0) {
		int step = 0;
		ret = drop_thread(&plan, true, &step);
		if (ret < 0)
			log_err("privdrop", "control thread failed to drop "
				"call=\"%s\" error=\"%s\"", step_names[step],
				strerror(-ret));
	}
	if (ret == 0)
		ret = verify(&plan, self, bound_before, &n_threads);
	if (ret < 0) {
		log_err("privdrop", "dropping privileges failed "
			"error=\"%s\"", strerror(-ret));
		return ret;
	}

	cap_names(plan.keep, names, sizeof(names));
	if (plan.set_ids)
		log_info("privdrop", "privileges dropped user=\"%s\" uid=%u "
			 "group=\"%s\" gid=%u groups=%u caps=%s threads=%u",
			 ids->user, (unsigned)ids->uid, ids->group,
			 (unsigned)ids->gid, ids->n_groups, names, n_threads);
	else
		log_info("privdrop", "capabilities dropped caps=%s "
			 "bounding_set=%s threads=%u", names,
			 plan.drop_bound ? "cut" : "kept", n_threads);
	return 0;
}
