/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test-only (tests/integration/sandbox.sh), never in sottod: loaded with
 * LD_PRELOAD, it wraps libc's clock_gettime, which sottod's control thread
 * calls all the time. SOTTO_TEST_FORBIDDEN_AFTER seconds after the first
 * call, the main (control) thread makes a system call no filter allows
 * only the workers may make (poll, with nothing to wait for), which the
 * control thread's seccomp filter must refuse.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int
clock_gettime(clockid_t id, struct timespec *ts)
{
	static int (*real)(clockid_t, struct timespec *);
	static struct timespec start;
	static long after = -1;
	struct timespec now;

	if (real == NULL) {
		const char *s = getenv("SOTTO_TEST_FORBIDDEN_AFTER");

		real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT,
								    "clock_gettime");
		after = s != NULL ? atol(s) : -1;
		real(CLOCK_MONOTONIC, &start);
	}
	if (after >= 0 && real(CLOCK_MONOTONIC, &now) == 0 &&
	    now.tv_sec - start.tv_sec >= after &&
	    syscall(SYS_gettid) == getpid())
		syscall(SYS_poll, NULL, 0, 0);
	return real(id, ts);
}
