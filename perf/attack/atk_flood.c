/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * atk_flood: UDP datagrams from many spoofed source addresses at a paced
 * rate, for a bounded time and count, through one raw socket (IPv4:
 * IPPROTO_RAW, which implies IP_HDRINCL; IPv6: IPPROTO_RAW, which implies
 * IPV6_HDRINCL since Linux 4.5). perf/attack/attack.py runs it inside the
 * network namespace it creates (README.md): the spoofed prefixes are
 * routed out of a veth there, so whatever sottod answers them is counted
 * on that veth and goes nowhere else.
 *
 *   atk_flood --dst IP:PORT --src IP --nsrc N [--src-step64]
 *             --rate PPS --duration S [--count N]
 *             --payload HEX [--payload HEX ...] [--tid OFF]
 *
 * Source i is --src plus i: the last 32 bits of an IPv4 address, or with
 * --src-step64 the fourth 16-bit group of an IPv6 one (a new /64 for each
 * source, all in one /48). Each source has its own source port. Payloads
 * are sent in turn; --tid OFF overwrites 12 bytes at OFF (a STUN
 * transaction id) with fresh random bytes in each datagram, so no two
 * requests are the same. Prints one JSON object: sent, bytes, errors,
 * seconds, pps. Exit 0, 2 on bad usage, 1 when the socket cannot be made
 * (77: no CAP_NET_RAW).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/udp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define AF_MAX_PAYLOADS 16
#define AF_MAX_LEN 1400
#define AF_BATCH 64
#define AF_MAX_SRC 65536

struct af_opts {
	int family;
	struct in_addr dst4, src4;
	struct in6_addr dst6, src6;
	uint16_t dport;
	unsigned nsrc;
	bool step64;
	double rate, duration;
	uint64_t count;
	int tid_off;
	uint8_t *payload[AF_MAX_PAYLOADS];
	size_t plen[AF_MAX_PAYLOADS];
	unsigned npayload;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rng(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dull;
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: atk_flood --dst IP:PORT --src IP --nsrc N [--src-step64]\n"
		"                 --rate PPS --duration S [--count N]\n"
		"                 --payload HEX [--payload HEX ...] [--tid OFF]\n");
	exit(2);
}

static int
hex_decode(const char *s, uint8_t **out, size_t *len)
{
	size_t n = strlen(s);
	uint8_t *p;

	if (n == 0 || n % 2 || n / 2 > AF_MAX_LEN)
		return -1;
	p = malloc(n / 2);
	if (p == NULL)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1) {
			free(p);
			return -1;
		}
		p[i] = (uint8_t)v;
	}
	*out = p;
	*len = n / 2;
	return 0;
}

/* "1.2.3.4:5" or "[::1]:5" */
static int
parse_dst(struct af_opts *o, const char *s)
{
	char host[64];
	const char *colon;
	unsigned long port;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(host))
			return -1;
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = '\0';
		colon = end + 1;
		if (inet_pton(AF_INET6, host, &o->dst6) != 1)
			return -1;
		o->family = AF_INET6;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
			return -1;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		if (inet_pton(AF_INET, host, &o->dst4) != 1)
			return -1;
		o->family = AF_INET;
	}
	port = strtoul(colon + 1, NULL, 10);
	if (port == 0 || port > 65535)
		return -1;
	o->dport = (uint16_t)port;
	return 0;
}

static uint32_t
sum16(const void *p, size_t len, uint32_t sum)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

static uint16_t
fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* One datagram from source i into buf; its length. */
static size_t
build(const struct af_opts *o, unsigned i, const uint8_t *pl, size_t plen,
      uint8_t *buf)
{
	struct udphdr *u;
	size_t ulen = sizeof(*u) + plen;
	uint16_t sport = (uint16_t)(20000 + i % 40000);

	if (o->family == AF_INET) {
		struct iphdr *ip = (struct iphdr *)buf;

		memset(ip, 0, sizeof(*ip));
		ip->version = 4;
		ip->ihl = 5;
		ip->ttl = 64;
		ip->protocol = IPPROTO_UDP;
		ip->tot_len = htons((uint16_t)(sizeof(*ip) + ulen));
		ip->saddr = htonl(ntohl(o->src4.s_addr) + i);
		ip->daddr = o->dst4.s_addr;
		/* the kernel fills in the IP id and checksum (raw(7)) */
		u = (struct udphdr *)(ip + 1);
		u->source = htons(sport);
		u->dest = htons(o->dport);
		u->len = htons((uint16_t)ulen);
		u->check = 0; /* optional in IPv4 */
		memcpy(u + 1, pl, plen);
		if (o->tid_off >= 0 && (size_t)o->tid_off + 12 <= plen) {
			uint64_t a = rng(), b = rng();
			memcpy((uint8_t *)(u + 1) + o->tid_off, &a, 8);
			memcpy((uint8_t *)(u + 1) + o->tid_off + 8, &b, 4);
		}
		return sizeof(*ip) + ulen;
	} else {
		struct ip6_hdr *ip = (struct ip6_hdr *)buf;
		uint32_t sum, ph[2];

		memset(ip, 0, sizeof(*ip));
		ip->ip6_flow = htonl(6u << 28);
		ip->ip6_plen = htons((uint16_t)ulen);
		ip->ip6_nxt = IPPROTO_UDP;
		ip->ip6_hops = 64;
		ip->ip6_src = o->src6;
		if (o->step64) {
			uint16_t g = (uint16_t)(ntohs(ip->ip6_src.s6_addr16[3]) + i);
			ip->ip6_src.s6_addr16[3] = htons(g);
		} else {
			uint32_t low = ntohl(ip->ip6_src.s6_addr32[3]) + i;
			ip->ip6_src.s6_addr32[3] = htonl(low);
		}
		ip->ip6_dst = o->dst6;
		u = (struct udphdr *)(ip + 1);
		u->source = htons(sport);
		u->dest = htons(o->dport);
		u->len = htons((uint16_t)ulen);
		u->check = 0;
		memcpy(u + 1, pl, plen);
		if (o->tid_off >= 0 && (size_t)o->tid_off + 12 <= plen) {
			uint64_t a = rng(), b = rng();
			memcpy((uint8_t *)(u + 1) + o->tid_off, &a, 8);
			memcpy((uint8_t *)(u + 1) + o->tid_off + 8, &b, 4);
		}
		/* RFC 8200 §8.1: mandatory over IPv6 */
		ph[0] = htonl((uint32_t)ulen);
		ph[1] = htonl(IPPROTO_UDP);
		sum = sum16(&ip->ip6_src, 32, 0);
		sum = sum16(ph, sizeof(ph), sum);
		sum = sum16(u, ulen, sum);
		u->check = htons(fold(sum));
		if (u->check == 0)
			u->check = 0xffff;
		return sizeof(*ip) + ulen;
	}
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dst", required_argument, NULL, 'd' },
		{ "src", required_argument, NULL, 's' },
		{ "nsrc", required_argument, NULL, 'n' },
		{ "src-step64", no_argument, NULL, '6' },
		{ "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'c' },
		{ "payload", required_argument, NULL, 'p' },
		{ "tid", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	struct af_opts o = { .nsrc = 1, .tid_off = -1, .duration = 1 };
	const char *src = NULL;
	static uint8_t bufs[AF_BATCH][AF_MAX_LEN + 64];
	struct mmsghdr msgs[AF_BATCH];
	struct iovec iov[AF_BATCH];
	struct sockaddr_storage dst;
	socklen_t dlen;
	uint64_t sent = 0, bytes = 0, errors = 0, t0, t_end, t;
	unsigned next_src = 0, next_pl = 0;
	int c, fd;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (parse_dst(&o, optarg) < 0)
				usage();
			break;
		case 's': src = optarg; break;
		case 'n': o.nsrc = (unsigned)strtoul(optarg, NULL, 10); break;
		case '6': o.step64 = true; break;
		case 'r': o.rate = strtod(optarg, NULL); break;
		case 't': o.duration = strtod(optarg, NULL); break;
		case 'c': o.count = strtoull(optarg, NULL, 10); break;
		case 'i': o.tid_off = atoi(optarg); break;
		case 'p':
			if (o.npayload == AF_MAX_PAYLOADS ||
			    hex_decode(optarg, &o.payload[o.npayload],
				       &o.plen[o.npayload]) < 0)
				usage();
			o.npayload++;
			break;
		default: usage();
		}
	}
	/* bounded in rate, time and sources, whatever the caller asks */
	if (o.family == 0 || src == NULL || o.npayload == 0 || o.nsrc == 0 ||
	    o.nsrc > AF_MAX_SRC || o.rate <= 0 || o.rate > 2e6 ||
	    o.duration <= 0 || o.duration > 600)
		usage();
	if (o.family == AF_INET ? inet_pton(AF_INET, src, &o.src4) != 1
				: inet_pton(AF_INET6, src, &o.src6) != 1)
		usage();
	rng_state ^= now_ns() ^ ((uint64_t)getpid() << 32);

	fd = socket(o.family, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		fprintf(stderr, "atk_flood: raw socket: %s\n", strerror(errno));
		return errno == EPERM ? 77 : 1;
	}
	memset(&dst, 0, sizeof(dst));
	if (o.family == AF_INET) {
		struct sockaddr_in *d = (struct sockaddr_in *)&dst;
		d->sin_family = AF_INET;
		d->sin_addr = o.dst4;
		dlen = sizeof(*d);
	} else {
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)&dst;
		d->sin6_family = AF_INET6;
		d->sin6_addr = o.dst6;
		dlen = sizeof(*d);
	}

	t0 = now_ns();
	t_end = t0 + (uint64_t)(o.duration * 1e9);
	while ((t = now_ns()) < t_end && (o.count == 0 || sent < o.count)) {
		uint64_t due = (uint64_t)((double)(t - t0) * o.rate / 1e9) + 1;
		unsigned n;
		int r;

		if (due <= sent) {
			struct timespec ts = { 0, 200000 };
			nanosleep(&ts, NULL);
			continue;
		}
		n = due - sent > AF_BATCH ? AF_BATCH : (unsigned)(due - sent);
		if (o.count && sent + n > o.count)
			n = (unsigned)(o.count - sent);
		for (unsigned k = 0; k < n; k++) {
			iov[k].iov_base = bufs[k];
			iov[k].iov_len = build(&o, next_src, o.payload[next_pl],
					       o.plen[next_pl], bufs[k]);
			memset(&msgs[k], 0, sizeof(msgs[k]));
			msgs[k].msg_hdr.msg_name = &dst;
			msgs[k].msg_hdr.msg_namelen = dlen;
			msgs[k].msg_hdr.msg_iov = &iov[k];
			msgs[k].msg_hdr.msg_iovlen = 1;
			next_src = (next_src + 1) % o.nsrc;
			next_pl = (next_pl + 1) % o.npayload;
		}
		r = sendmmsg(fd, msgs, n, 0);
		if (r < 0) {
			errors += n;
			sent += n; /* paced on attempts: never a busy retry */
			continue;
		}
		for (int k = 0; k < r; k++)
			bytes += iov[k].iov_len;
		errors += n - (unsigned)r;
		sent += n;
	}
	t = now_ns();
	printf("{\"sent\": %" PRIu64 ", \"ok\": %" PRIu64 ", \"bytes\": %" PRIu64
	       ", \"errors\": %" PRIu64 ", \"seconds\": %.3f, \"pps\": %.0f}\n",
	       sent, sent - errors, bytes, errors, (double)(t - t0) / 1e9,
	       (double)(sent - errors) * 1e9 / (double)(t - t0));
	close(fd);
	for (unsigned i = 0; i < o.npayload; i++)
		free(o.payload[i]);
	return 0;
}
