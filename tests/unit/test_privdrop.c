/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Privilege drop: the per-driver capability lists, the status parser, the
 * user lookup, and (as root) privdrop_apply() in forked children that have
 * the threads sottod has at that point: EAL lcores and the interrupt
 * thread, plus threads blocked in a system call.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include "check.h"
#include "privdrop.h"

#define BIT(c) (1ULL << (c))

static void
test_caps_needed(void)
{
	struct sotto_config cfg;
	cap_value_t c[PRIVDROP_MAX_KEEP];

	config_defaults(&cfg);
	CHECK_EQ(cfg.dataplane.driver, DP_DRIVER_UDP);
	CHECK_EQ(privdrop_caps_needed(&cfg, c, 8), 0);
	cfg.turn.port_min = 1024;
	CHECK_EQ(privdrop_caps_needed(&cfg, c, 8), 0);
	/* relay sockets below 1024 are bound at run time */
	cfg.turn.port_min = 1023;
	CHECK_EQ(privdrop_caps_needed(&cfg, c, 8), 1);
	CHECK_EQ(c[0], CAP_NET_BIND_SERVICE);
	CHECK_EQ(privdrop_caps_needed(&cfg, c, 0), -ENOSPC);

	/* dpdk: relayed ports are table entries, no bind, whatever the range */
	cfg.dataplane.driver = DP_DRIVER_DPDK;
	cfg.turn.port_min = 80;
	CHECK_EQ(privdrop_caps_needed(&cfg, c, 8), 0);
	snprintf(cfg.dataplane.dpdk.ports[0].device,
		 sizeof(cfg.dataplane.dpdk.ports[0].device), "0000:01:00.0");
	snprintf(cfg.dataplane.dpdk.ports[1].device,
		 sizeof(cfg.dataplane.dpdk.ports[1].device), "net_af_packet0");
	cfg.dataplane.dpdk.n_ports = 2;
	CHECK_EQ(privdrop_caps_needed(&cfg, c, 8), 0);
	/* AF_XDP: the XDP program comes off the interface at stop */
	snprintf(cfg.dataplane.dpdk.ports[1].device,
		 sizeof(cfg.dataplane.dpdk.ports[1].device), "net_af_xdp1");
	CHECK_EQ(privdrop_caps_needed(&cfg, c, 8), 1);
	CHECK_EQ(c[0], CAP_NET_ADMIN);
	/* only once for several AF_XDP ports */
	snprintf(cfg.dataplane.dpdk.ports[0].device,
		 sizeof(cfg.dataplane.dpdk.ports[0].device), "net_af_xdp0");
	CHECK_EQ(privdrop_caps_needed(&cfg, c, 8), 1);
	CHECK_EQ(privdrop_caps_needed(&cfg, c, 0), -ENOSPC);

	cfg.dataplane.driver = (enum dp_driver)7;
	CHECK_EQ(privdrop_caps_needed(&cfg, c, 8), -EINVAL);
	config_free(&cfg);
}

static const char status_text[] =
	"Name:\tsottod\n"
	"Umask:\t0022\n"
	"State:\tS (sleeping)\n"
	"Tgid:\t4242\n"
	"Uid:\t65534\t65534\t65534\t65534\n"
	"Gid:\t65534\t65534\t65534\t65534\n"
	"FDSize:\t64\n"
	"Groups:\t65534 27 \n"
	"NStgid:\t4242\n"
	"CapInh:\t0000000000000000\n"
	"CapPrm:\t0000000000000400\n"
	"CapEff:\t0000000000000400\n"
	"CapBnd:\t0000000000001400\n"
	"CapAmb:\t0000000000000000\n"
	"NoNewPrivs:\t1\n"
	"Seccomp:\t0\n";

static void
test_creds_parse(void)
{
	struct privdrop_creds c;
	char buf[2048], *p;

	CHECK_EQ(privdrop_creds_parse(status_text, &c), 0);
	CHECK_EQ(c.uid[0], 65534);
	CHECK_EQ(c.uid[3], 65534);
	CHECK_EQ(c.gid[2], 65534);
	CHECK_EQ(c.n_groups, 2);
	CHECK_EQ(c.groups[1], 27);
	CHECK_EQ(c.cap_inh, 0);
	CHECK_EQ(c.cap_prm, BIT(CAP_NET_BIND_SERVICE));
	CHECK_EQ(c.cap_eff, BIT(CAP_NET_BIND_SERVICE));
	CHECK_EQ(c.cap_bnd, BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_NET_ADMIN));
	CHECK_EQ(c.cap_amb, 0);
	CHECK_EQ(c.no_new_privs, 1);

	/* no supplementary groups: "Groups:\t\n" */
	snprintf(buf, sizeof(buf), "%s", status_text);
	p = strstr(buf, "Groups:");
	memcpy(p, "Groups:\t         ", 17); /* over "65534 27 " */
	CHECK_EQ(privdrop_creds_parse(buf, &c), 0);
	CHECK_EQ(c.n_groups, 0);

	/* a line missing, or mangled: refused, never taken as zero */
	static const char *const drop[] = { "Uid:", "Gid:", "Groups:",
		"CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:",
		"NoNewPrivs:" };
	for (unsigned i = 0; i < sizeof(drop) / sizeof(drop[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", status_text);
		p = strstr(buf, drop[i]);
		p[0] = 'X';
		CHECK_EQ(privdrop_creds_parse(buf, &c), -EINVAL);
	}
	snprintf(buf, sizeof(buf), "%s", status_text);
	p = strstr(buf, "Uid:\t65534\t65534\t65534\t65534");
	p[strlen("Uid:\t65534\t65534\t65534")] = '\n'; /* three ids */
	CHECK_EQ(privdrop_creds_parse(buf, &c), -EINVAL);
	snprintf(buf, sizeof(buf), "%s", status_text);
	p = strstr(buf, "CapEff:\t0000000000000400");
	p[8] = 'g';
	CHECK_EQ(privdrop_creds_parse(buf, &c), -EINVAL);
	snprintf(buf, sizeof(buf), "%s", status_text);
	p = strstr(buf, "NoNewPrivs:\t1");
	p[12] = '2';
	CHECK_EQ(privdrop_creds_parse(buf, &c), -EINVAL);

	/* more groups than fit */
	int n = snprintf(buf, sizeof(buf), "Uid:\t1\t1\t1\t1\nGid:\t1\t1\t1\t1\nGroups:\t");
	for (int i = 0; i <= PRIVDROP_MAX_GROUPS; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%d ", i + 100);
	snprintf(buf + n, sizeof(buf) - (size_t)n, "\n%s",
		 strstr(status_text, "CapInh:"));
	CHECK_EQ(privdrop_creds_parse(buf, &c), -E2BIG);

	/* the kernel's own text for this process */
	int fd = open("/proc/self/status", O_RDONLY);
	ssize_t r = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	CHECK(r > 0);
	if (fd >= 0)
		close(fd);
	if (r > 0) {
		buf[r] = '\0';
		CHECK_EQ(privdrop_creds_parse(buf, &c), 0);
		CHECK_EQ(c.uid[0], getuid());
		CHECK_EQ(c.uid[1], geteuid());
		CHECK_EQ(c.gid[0], getgid());
		CHECK_EQ(c.no_new_privs, prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	}
}

static void
test_lookup(void)
{
	struct privdrop_ids ids;
	char longname[100];

	CHECK_EQ(privdrop_lookup("sotto-no-such-user-h7", NULL, &ids), -ENOENT);
	CHECK_EQ(privdrop_lookup("", NULL, &ids), -EINVAL);
	CHECK_EQ(privdrop_lookup(NULL, NULL, &ids), -EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK_EQ(privdrop_lookup(longname, NULL, &ids), -ENAMETOOLONG);
	/* uid 0 is no drop */
	CHECK_EQ(privdrop_lookup("root", NULL, &ids), -EINVAL);

	if (getpwnam("nobody") == NULL || getgrnam("nogroup") == NULL) {
		fprintf(stderr, "test_privdrop: no nobody/nogroup here, "
			"lookups of existing users not tested\n");
		return;
	}
	CHECK_EQ(privdrop_lookup("nobody", "nogroup", &ids), 0);
	CHECK_EQ(ids.uid, getpwnam("nobody")->pw_uid);
	CHECK_EQ(ids.gid, getgrnam("nogroup")->gr_gid);
	CHECK(strcmp(ids.user, "nobody") == 0);
	CHECK(strcmp(ids.group, "nogroup") == 0);
	CHECK(ids.n_groups >= 1);
	/* the primary group when none is named */
	CHECK_EQ(privdrop_lookup("nobody", NULL, &ids), 0);
	CHECK_EQ(ids.gid, getpwnam("nobody")->pw_gid);
	CHECK_EQ(privdrop_lookup("nobody", "", &ids), 0);
	CHECK_EQ(privdrop_lookup("nobody", "sotto-no-such-group-h7", &ids),
		 -ENOENT);
	/* group 0 would be root's group-owned files */
	CHECK_EQ(privdrop_lookup("nobody", "root", &ids), -EINVAL);
}

/* ---- privdrop_apply() in children (root only) ---- */

static struct privdrop_creds
thread_creds(pid_t tid)
{
	struct privdrop_creds c;
	char path[64], buf[8192];
	int fd;
	ssize_t r;

	memset(&c, 0xff, sizeof(c));
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	fd = open(path, O_RDONLY);
	r = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (r > 0) {
		buf[r] = '\0';
		if (privdrop_creds_parse(buf, &c) < 0)
			memset(&c, 0xff, sizeof(c));
	}
	return c;
}

/* Every thread: uid/gid (unless -1), caps (the caller's, the others'),
 * bounding set, no_new_privs. Returns the number of threads seen. */
static int
check_all_threads(long uid, long gid, uint64_t caller_caps, uint64_t bnd,
		  int nnp)
{
	pid_t self = (pid_t)syscall(SYS_gettid);
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	CHECK(d != NULL);
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		pid_t t = (pid_t)atoi(e->d_name);
		struct privdrop_creds c = thread_creds(t);
		uint64_t want = t == self ? caller_caps : 0;
		n++;
		for (int i = 0; i < 4; i++) {
			if (uid >= 0)
				CHECK_EQ(c.uid[i], uid);
			if (gid >= 0)
				CHECK_EQ(c.gid[i], gid);
		}
		CHECK_EQ(c.cap_prm, want);
		CHECK_EQ(c.cap_eff, want);
		CHECK_EQ(c.cap_inh, 0);
		CHECK_EQ(c.cap_amb, 0);
		CHECK_EQ(c.cap_bnd, bnd);
		CHECK_EQ(c.no_new_privs, nnp);
	}
	if (d)
		closedir(d);
	return n;
}

static int
bind_udp_port(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), ret = 0;

	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static bool
low_ports_privileged(void)
{
	char b[32] = "";
	int fd = open("/proc/sys/net/ipv4/ip_unprivileged_port_start", O_RDONLY);
	long v = 1024;

	if (fd >= 0) {
		if (read(fd, b, sizeof(b) - 1) > 0)
			v = strtol(b, NULL, 10);
		close(fd);
	}
	return v > 900;
}

static int pipe_fds[2];

/* Blocked in read() while the drop happens; must come out of it intact. */
static void *
blocked_reader(void *arg)
{
	char c;
	ssize_t r;

	(void)arg;
	do {
		r = read(pipe_fds[0], &c, 1);
	} while (r < 0 && errno == EINTR);
	return (void *)(intptr_t)(r == 1 && c == 'x');
}

/* What a worker lcore can do after the drop. */
struct lcore_probe {
	uint16_t port;
	int bind_ret;
	long setuid_ret;
	int setuid_errno;
};

static int
lcore_probe(void *arg)
{
	struct lcore_probe *p = arg;

	p->bind_ret = bind_udp_port(p->port);
	p->setuid_ret = syscall(SYS_setuid, 0);
	p->setuid_errno = errno;
	return 0;
}

/* As root with run_as nobody/nogroup, in a process with EAL lcores. */
static int
child_full_drop(void)
{
	struct privdrop_ids ids;
	cap_value_t keep[] = { CAP_NET_BIND_SERVICE };
	char *argv[] = { "test", "--no-huge", "--no-pci", "--no-shconf",
			 "--no-telemetry", "-m", "64", "--lcores",
			 "(0-2)@(0-1)", "--log-level", "*:error", NULL };
	struct lcore_probe probe = { 0 };
	pthread_t th;
	void *ok = NULL;

	if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0)
		return 2;
	if (pipe(pipe_fds) < 0 ||
	    pthread_create(&th, NULL, blocked_reader, NULL) != 0)
		return 2;
	usleep(20000); /* let it block */
	CHECK_EQ(privdrop_lookup("nobody", "nogroup", &ids), 0);
	CHECK_EQ(privdrop_apply(&ids, keep, 1), 0);

	int n = check_all_threads(ids.uid, ids.gid, BIT(CAP_NET_BIND_SERVICE),
				  BIT(CAP_NET_BIND_SERVICE), 1);
	/* main, two lcores, the interrupt thread, the reader */
	CHECK(n >= 5);
	CHECK(syscall(SYS_setuid, 0) < 0 && errno == EPERM);
	CHECK(syscall(SYS_setgid, 0) < 0 && errno == EPERM);
	CHECK(setgroups(0, NULL) < 0 && errno == EPERM);
	CHECK_EQ(prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0), 0);

	/* the control thread keeps its low port; a worker has nothing */
	if (low_ports_privileged()) {
		for (probe.port = 900; probe.port < 1000; probe.port++) {
			int r = bind_udp_port(probe.port);
			if (r == -EADDRINUSE)
				continue;
			CHECK_EQ(r, 0);
			break;
		}
		unsigned lc = rte_get_next_lcore(-1, 1, 0);
		CHECK_EQ(rte_eal_remote_launch(lcore_probe, &probe, lc), 0);
		rte_eal_wait_lcore(lc);
		CHECK_EQ(probe.bind_ret, -EACCES);
		CHECK(probe.setuid_ret < 0 && probe.setuid_errno == EPERM);
	}

	/* the thread blocked in read() carries on */
	CHECK_EQ(write(pipe_fds[1], "x", 1), 1);
	pthread_join(th, &ok);
	CHECK(ok == (void *)1);
	rte_eal_cleanup();
	return check_failures ? 1 : 0;
}

/* Root without run_as: uid 0 stays, the capabilities go. */
static int
child_root_caps_only(void)
{
	pthread_t th;

	if (pipe(pipe_fds) < 0 ||
	    pthread_create(&th, NULL, blocked_reader, NULL) != 0)
		return 2;
	CHECK_EQ(privdrop_apply(NULL, NULL, 0), 0);
	check_all_threads(0, 0, 0, 0, 1);
	if (low_ports_privileged()) {
		int r = -EADDRINUSE;
		for (uint16_t p = 900; p < 1000 && r == -EADDRINUSE; p++)
			r = bind_udp_port(p);
		CHECK_EQ(r, -EACCES); /* uid 0, but no CAP_NET_BIND_SERVICE */
	}
	CHECK_EQ(write(pipe_fds[1], "x", 1), 1);
	pthread_join(th, NULL);
	return check_failures ? 1 : 0;
}

static void *
deaf_thread(void *arg)
{
	sigset_t all;

	(void)arg;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;)
		pause();
	return NULL;
}

/* A thread that cannot be reached: the drop must fail, not half-succeed
 * silently, and the process must not die of the signal afterwards. */
static int
child_unreachable_thread(void)
{
	struct privdrop_ids ids;
	pthread_t th;

	if (pthread_create(&th, NULL, deaf_thread, NULL) != 0)
		return 2;
	usleep(20000);
	CHECK_EQ(privdrop_lookup("nobody", "nogroup", &ids), 0);
	CHECK_EQ(privdrop_apply(&ids, NULL, 0), -ETIMEDOUT);
	/* the pending signal is discarded, not fatal, once unblocked */
	usleep(20000);
	return check_failures ? 1 : 0;
}

/* Not root and no capabilities: nothing to do, nothing done. */
static int
child_unprivileged(void)
{
	struct privdrop_ids ids;

	CHECK_EQ(privdrop_lookup("nobody", "nogroup", &ids), 0);
	if (setgroups(1, &ids.gid) < 0 || setresgid(ids.gid, ids.gid, ids.gid) < 0 ||
	    setresuid(ids.uid, ids.uid, ids.uid) < 0)
		return 2;
	CHECK_EQ(privdrop_apply(&ids, NULL, 0), 0);
	CHECK_EQ(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0);
	return check_failures ? 1 : 0;
}

/* Not root but holding capabilities, as systemd's User= with
 * AmbientCapabilities= starts it: caps cut to keep, no CAP_SETPCAP so the
 * bounding set stays as it was. */
static int
child_unprivileged_with_caps(void)
{
	struct privdrop_ids ids;
	cap_value_t keep[] = { CAP_NET_BIND_SERVICE };
	cap_value_t held[] = { CAP_NET_BIND_SERVICE, CAP_NET_ADMIN };
	cap_t c;
	uint64_t bnd = 0;

	CHECK_EQ(privdrop_lookup("nobody", "nogroup", &ids), 0);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 ||
	    setgroups(1, &ids.gid) < 0 ||
	    setresgid(ids.gid, ids.gid, ids.gid) < 0 ||
	    setresuid(ids.uid, ids.uid, ids.uid) < 0)
		return 2;
	c = cap_init();
	cap_set_flag(c, CAP_PERMITTED, 2, held, CAP_SET);
	cap_set_flag(c, CAP_EFFECTIVE, 2, held, CAP_SET);
	if (cap_set_proc(c) < 0)
		return 2;
	cap_free(c);
	for (int i = 0; i <= CAP_LAST_CAP && i < 64; i++)
		if (prctl(PR_CAPBSET_READ, i, 0, 0, 0) == 1)
			bnd |= BIT(i);
	CHECK_EQ(privdrop_apply(&ids, keep, 1), 0);
	check_all_threads(ids.uid, ids.gid, BIT(CAP_NET_BIND_SERVICE), bnd, 1);
	return check_failures ? 1 : 0;
}

static void
run_child(const char *name, int (*fn)(void))
{
	pid_t pid;
	int st = 0;

	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		/* the child counts its own checks */
		check_failures = 0;
		_exit(fn());
	}
	CHECK(pid > 0);
	if (pid <= 0)
		return;
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "test_privdrop: %s: child %s %d\n", name,
			WIFEXITED(st) ? "exited" : "killed by signal",
			WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		CHECK(0);
	} else {
		CHECK(1);
	}
}

int
main(void)
{
	test_caps_needed();
	test_creds_parse();
	test_lookup();
	if (geteuid() != 0 || getpwnam("nobody") == NULL ||
	    getgrnam("nogroup") == NULL) {
		fprintf(stderr, "test_privdrop: privdrop_apply() not tested: "
			"needs root and the users nobody/nogroup\n");
	} else {
		run_child("full drop with EAL lcores", child_full_drop);
		run_child("root without run_as", child_root_caps_only);
		run_child("unreachable thread", child_unreachable_thread);
		run_child("not root", child_unprivileged);
		run_child("not root with capabilities",
			  child_unprivileged_with_caps);
	}
	return check_done("test_privdrop");
}
