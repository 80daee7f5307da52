/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A process as the load generators see it: the server's (and their own)
 * CPU time, memory, run-queue wait and UDP drops from /proc; their own
 * descriptor limit and stop signals.
 *
 * Every probe of another process takes its pid and returns -1 for a pid
 * <= 0 (none given) or one that is gone; getpid() names this process.
 */
#ifndef PL_PROC_H
#define PL_PROC_H

#include <signal.h>
#include <stdint.h>

/* set by SIGINT and SIGTERM once pl_proc_catch_stop() ran */
extern volatile sig_atomic_t pl_stop;

/* SIGINT and SIGTERM set pl_stop; SIGPIPE is ignored (a peer that closed
 * shows up as EPIPE/EOF, not as a signal). */
void pl_proc_catch_stop(void);

/* The soft RLIMIT_NOFILE up to the hard one: a socket per connection or
 * allocation. */
void pl_proc_raise_nofile(void);

/* utime + stime of the whole process (all threads), in seconds. */
double pl_proc_cpu_s(int pid);

/* VmRSS in kB. */
long pl_proc_rss_kb(int pid);

/* Seconds the process's threads spent runnable but waiting for a CPU
 * (/proc/PID/task/TID/schedstat, second field): on a shared machine, time
 * taken by other processes shows here and not as CPU time. */
double pl_proc_runq_wait_s(int pid);

/* Datagrams the kernel dropped on a full receive buffer, summed over the
 * UDP sockets the process holds ("drops" of /proc/PID/net/udp{,6} in the
 * process's own network namespace, matched by socket inode). */
long long pl_proc_udp_drops(int pid);

/* The same for the UDP sockets bound to port (any address, every
 * reuseport socket) in our network namespace: a server's socket that
 * overflowed while the server did not read it shows here and in none of
 * its own counters. */
int64_t pl_udp_port_drops(unsigned port);

/* Our own CPU time (getrusage): tells whether the generator, not the
 * server, was the limit. */
double pl_self_cpu_s(void);

#endif
