/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * seccomp filters per thread class (sandbox.h). The lists are what each
 * class was seen to call across the unit, integration, dpdk and browser
 * suites and the benchmarks, run with the filters in SANDBOX_LOG mode
 * (docs/security.md says how to repeat that after an upgrade).
 */
#include "sandbox.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#include "log.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Every thread: memory, locks, time, signals, its own end. */
static const char *const common_calls[] = {
	"brk", "clock_gettime", "clock_nanosleep", "close", "exit",
	"exit_group", "futex", "getpid", "gettid", "madvise", "mmap",
	"mprotect", "munmap", "nanosleep", "read", "restart_syscall",
	"rt_sigprocmask", "rt_sigreturn", "sched_yield", "write",
};

/* Dataplane workers, inside their loop: the udp driver's io_uring (and the
 * relay socket a close command ends), the dpdk driver's PMDs (AF_XDP and
 * AF_PACKET kick the kernel with sendto/poll). */
static const char *const worker_calls[] = {
	"io_uring_enter", "poll", "recvfrom", "sendto",
};

/* The control thread once running: its io_uring; relayed sockets opened
 * and closed (udp driver); the config file on reload; random numbers for
 * nonces, tokens and DTLS; driver counters (getsockopt). */
static const char *const control_calls[] = {
	"bind", "fstat", "getpeername", "getrandom", "getsockname", "getsockopt",
	"io_uring_enter", "io_uring_register", "ioctl", "lseek",
	"newfstatat", "openat", "setsockopt", "shutdown", "socket", "unlink",
};

/* The control thread with the dpdk driver: what stopping AF_XDP and
 * AF_PACKET ports and releasing hugepage memory take at exit (netlink,
 * BPF maps, hugepage file locks). */
static const char *const dpdk_control_calls[] = {
	"bpf", "flock", "mkdir", "recvmsg", "sendto", "statfs",
};

/* The ASan+UBSan test build only: LeakSanitizer's check at exit (a
 * tracer thread that stops the others and lists them from /proc), the
 * sanitizers' signal stacks. */
static const char *const sanitizer_calls[] = {
#if defined(__SANITIZE_ADDRESS__)
	"clone", "getdents", "getdents64", "getppid", "open", "prctl",
	"ptrace", "rt_sigaction", "sigaltstack", "wait4",
#endif
	NULL,
};

/* The EAL's own threads (interrupt handling). */
static const char *const eal_calls[] = {
	"epoll_ctl", "epoll_wait", "epoll_pwait",
};

/* Only between the process filter and a thread's own: loading that one,
 * and a udp worker's io_uring set-up. */
static const char *const setup_calls[] = {
	"io_uring_setup", "prctl", "seccomp",
};

static enum sandbox_mode mode = SANDBOX_ON;
static bool dpdk;
static __thread const char *thread_class = "EAL";

void
sandbox_set_mode(enum sandbox_mode m, bool dpdk_driver)
{
	mode = m;
	dpdk = dpdk_driver;
}

/* async-signal-safe: a fixed message, the number written by hand */
static void
on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char num[12], *p = num + sizeof(num);
	unsigned v = (unsigned)si->si_syscall;
	const char *c = thread_class;
	ssize_t r;

	(void)sig;
	(void)uc;
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	r = write(2, "sottod: seccomp: a ", 19);
	r = write(2, c, strlen(c));
	r = write(2, " thread made forbidden system call ", 35);
	r = write(2, p, (size_t)(num + sizeof(num) - p));
	r = write(2, " (see docs/security.md, O5); exiting\n", 37);
	(void)r;
	_exit(SANDBOX_EXIT);
}

static int
add(scmp_filter_ctx ctx, const char *const *calls, unsigned n)
{
	for (unsigned i = 0; i < n && calls[i] != NULL; i++) {
		int nr = seccomp_syscall_resolve_name(calls[i]);

		/* a name this architecture does not have: nothing to allow */
		if (nr == __NR_SCMP_ERROR)
			continue;
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

struct calls {
	const char *const *v;
	unsigned n;
};
#define CALLS(a) { (a), N(a) }

/* A filter allowing the common calls and those of lists; stacked on the
 * thread's (or with tsync every thread's) filters. */
static int
load(const char *what, bool tsync, const struct calls *lists, unsigned n)
{
	scmp_filter_ctx ctx;
	int rc;

	if (mode == SANDBOX_OFF)
		return 0;
	ctx = seccomp_init(mode == SANDBOX_LOG ? SCMP_ACT_LOG : SCMP_ACT_TRAP);
	if (ctx == NULL)
		return -ENOMEM;
	rc = add(ctx, common_calls, N(common_calls));
	for (unsigned i = 0; rc == 0 && i < n; i++)
		rc = add(ctx, lists[i].v, lists[i].n);
	if (rc == 0 && tsync)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0)
		log_err("sandbox", "%s filter: %s", what, strerror(-rc));
	return rc;
}

int
sandbox_process(void)
{
	struct sigaction sa;

	if (mode == SANDBOX_OFF) {
		log_warn("sandbox", "seccomp filters off");
		return 0;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -errno;
	const struct calls all[] = {
		CALLS(worker_calls), CALLS(control_calls), CALLS(eal_calls),
		CALLS(setup_calls), CALLS(sanitizer_calls),
		CALLS(dpdk_control_calls),
	};

	return load("process", true, all, N(all) - !dpdk);
}

int
sandbox_worker(struct dp_worker *w)
{
	const struct calls own[] = { CALLS(worker_calls) };

	(void)w;
	thread_class = "worker";
	return load("worker", false, own, N(own));
}

int
sandbox_control(void)
{
	const struct calls own[] = {
		CALLS(control_calls), CALLS(sanitizer_calls),
		CALLS(dpdk_control_calls),
	};
	int rc;

	thread_class = "control";
	rc = load("control", false, own, N(own) - !dpdk);
	if (rc == 0 && mode != SANDBOX_OFF)
		log_info("sandbox", "seccomp filters %s for workers and control",
			 mode == SANDBOX_LOG ? "logging" : "on");
	return rc;
}
