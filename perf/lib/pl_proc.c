/* SPDX-License-Identifier: BSD-3-Clause */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "pl_proc.h"

volatile sig_atomic_t pl_stop;

static void
on_stop(int sig)
{
	(void)sig;
	pl_stop = 1;
}

void
pl_proc_catch_stop(void)
{
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	signal(SIGPIPE, SIG_IGN);
}

void
pl_proc_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

double
pl_proc_cpu_s(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	ssize_t r;
	int fd;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return -1;
	buf[r] = '\0';
	/* comm may hold spaces and parens: fields restart after the last
	 * ')'; after ") ": state(3) ... utime(14) stime(15) */
	p = strrchr(buf, ')');
	if (p == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
		   &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

long
pl_proc_rss_kb(int pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

double
pl_proc_runq_wait_s(int pid)
{
	char path[320], line[128];
	unsigned long long run, wait, sum = 0;
	struct dirent *d;
	DIR *dir;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (dir == NULL)
		return -1;
	while ((d = readdir(dir)) != NULL) {
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", pid,
			 d->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fgets(line, sizeof(line), f) &&
		    sscanf(line, "%llu %llu", &run, &wait) == 2)
			sum += wait;
		fclose(f);
	}
	closedir(dir);
	return (double)sum / 1e9;
}

static int
cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* The inodes of the sockets pid holds, sorted; their count, -1 if the
 * process is gone. */
static ssize_t
socket_inodes(int pid, uint64_t **out)
{
	char path[300], link[64];
	uint64_t *ino = NULL, v;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		ssize_t r;

		snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, de->d_name);
		r = readlink(path, link, sizeof(link) - 1);
		if (r <= 0)
			continue;
		link[r] = '\0';
		if (sscanf(link, "socket:[%" SCNu64 "]", &v) != 1)
			continue;
		if (n == cap) {
			uint64_t *p;

			cap = cap ? 2 * cap : 1024;
			p = realloc(ino, cap * sizeof(*ino));
			if (p == NULL)
				break;
			ino = p;
		}
		ino[n++] = v;
	}
	closedir(d);
	if (n > 0)
		qsort(ino, n, sizeof(*ino), cmp_u64);
	*out = ino;
	return (ssize_t)n;
}

long long
pl_proc_udp_drops(int pid)
{
	static const char *const tabs[] = { "udp", "udp6" };
	char path[300], line[512];
	long long drops = 0;
	uint64_t *ino = NULL;
	ssize_t n;

	if (pid <= 0)
		return -1;
	n = socket_inodes(pid, &ino);
	if (n <= 0) {
		free(ino);
		return n < 0 ? -1 : 0;
	}
	for (unsigned t = 0; t < 2; t++) {
		FILE *f;

		/* the process's own network namespace: the server may run
		 * in another one than ours */
		snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, tabs[t]);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		while (fgets(line, sizeof(line), f)) {
			unsigned long long inode, dr;
			uint64_t v;

			/* sl local rem st tx:rx tr:when retr uid timeout inode
			 * ref pointer drops */
			if (sscanf(line, "%*s %*s %*s %*s %*s %*s %*s %*s %*s "
				   "%llu %*s %*s %llu", &inode, &dr) != 2)
				continue;
			v = inode;
			if (bsearch(&v, ino, (size_t)n, sizeof(*ino), cmp_u64))
				drops += (long long)dr;
		}
		fclose(f);
	}
	free(ino);
	return drops;
}

int64_t
pl_udp_port_drops(unsigned port)
{
	static const char *const files[] = { "/proc/net/udp", "/proc/net/udp6" };
	int64_t sum = -1;

	for (unsigned f = 0; f < 2; f++) {
		FILE *fp = fopen(files[f], "r");
		char line[512];

		if (fp == NULL)
			continue;
		if (sum < 0)
			sum = 0;
		while (fgets(line, sizeof(line), fp)) {
			char *colon, *last;
			unsigned lport;

			/* "  sl: ADDR:PORT REMOTE ... drops" */
			colon = strchr(line, ':');
			if (colon == NULL || (colon = strchr(colon + 1, ':')) == NULL ||
			    sscanf(colon + 1, "%x", &lport) != 1 || lport != port)
				continue;
			/* the kernel pads each line with spaces */
			for (size_t n = strlen(line);
			     n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' ');
			     n--)
				line[n - 1] = '\0';
			last = strrchr(line, ' ');
			if (last != NULL)
				sum += strtoll(last + 1, NULL, 10);
		}
		fclose(fp);
	}
	return sum;
}

double
pl_self_cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return -1;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	       ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}
