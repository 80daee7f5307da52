/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_ADDR_H
#define SOTTO_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

/*
 * A transport address as the dataplane keeps it: fixed size, no padding
 * holes, zero-filled so it can be a hash key as is. IPv4 uses ip[0..3].
 */
struct sotto_addr {
	uint8_t family;   /* AF_INET or AF_INET6; 0 = unset */
	uint8_t reserved; /* always 0 */
	uint16_t port;    /* host byte order */
	uint8_t ip[16];
};

#define SOTTO_ADDRSTRLEN 64 /* "[v6]:port" with room to spare */

static inline void
sotto_addr_v4(struct sotto_addr *a, uint32_t ip_be, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	a->port = port;
	memcpy(a->ip, &ip_be, 4);
}

static inline void
sotto_addr_v6(struct sotto_addr *a, const uint8_t ip[16], uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET6;
	a->port = port;
	memcpy(a->ip, ip, 16);
}

static inline bool
sotto_addr_eq(const struct sotto_addr *a, const struct sotto_addr *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* Same host, any port (TURN permissions are per IP, RFC 8656 §9). */
static inline bool
sotto_addr_ip_eq(const struct sotto_addr *a, const struct sotto_addr *b)
{
	return a->family == b->family &&
	       memcmp(a->ip, b->ip, a->family == AF_INET ? 4 : 16) == 0;
}

/* Room for either family, smaller than sockaddr_storage. */
union sotto_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* Conversions with struct sockaddr; return 0 or -EAFNOSUPPORT. */
int sotto_addr_from_sockaddr(struct sotto_addr *a, const struct sockaddr *sa);
/* Fills *ss, returns the sockaddr length to pass to the kernel. */
socklen_t sotto_addr_to_sockaddr(const struct sotto_addr *a,
				 struct sockaddr_storage *ss);
socklen_t sotto_addr_to_sockaddr_u(const struct sotto_addr *a,
				   union sotto_sockaddr *su);
/* "1.2.3.4:5" or "[::1]:5"; returns buf. */
char *sotto_addr_str(const struct sotto_addr *a, char *buf, size_t len);
/* Parses "1.2.3.4:5", "[::1]:5"; with default_port >= 0 the port may be
 * left out. Returns 0 or -EINVAL. */
int sotto_addr_parse(struct sotto_addr *a, const char *s, int default_port);

#endif
