/* SPDX-License-Identifier: BSD-3-Clause */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int
sotto_addr_from_sockaddr(struct sotto_addr *a, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		sotto_addr_v4(a, s4->sin_addr.s_addr, ntohs(s4->sin_port));
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		sotto_addr_v6(a, s6->sin6_addr.s6_addr, ntohs(s6->sin6_port));
		return 0;
	}
	return -EAFNOSUPPORT;
}

socklen_t
sotto_addr_to_sockaddr_u(const struct sotto_addr *a, union sotto_sockaddr *su)
{
	memset(su, 0, sizeof(*su));
	if (a->family == AF_INET) {
		su->in.sin_family = AF_INET;
		su->in.sin_port = htons(a->port);
		memcpy(&su->in.sin_addr, a->ip, 4);
		return sizeof(su->in);
	}
	su->in6.sin6_family = AF_INET6;
	su->in6.sin6_port = htons(a->port);
	memcpy(&su->in6.sin6_addr, a->ip, 16);
	return sizeof(su->in6);
}

socklen_t
sotto_addr_to_sockaddr(const struct sotto_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	return sotto_addr_to_sockaddr_u(a, (union sotto_sockaddr *)ss);
}

char *
sotto_addr_str(const struct sotto_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (a->family == AF_INET) {
		inet_ntop(AF_INET, a->ip, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, a->port);
	} else if (a->family == AF_INET6) {
		inet_ntop(AF_INET6, a->ip, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, a->port);
	} else {
		snprintf(buf, len, "(none)");
	}
	return buf;
}

int
sotto_addr_parse(struct sotto_addr *a, const char *s, int default_port)
{
	char host[INET6_ADDRSTRLEN];
	const char *port = NULL;
	size_t n;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL || (n = (size_t)(end - s - 1)) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, n);
		host[n] = '\0';
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return -EINVAL;
	} else {
		const char *colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			colon = NULL; /* bare IPv6 literal */
		n = colon ? (size_t)(colon - s) : strlen(s);
		if (n >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, n);
		host[n] = '\0';
		if (colon)
			port = colon + 1;
	}

	long p = default_port;
	if (port != NULL) {
		char *end;
		if (*port < '0' || *port > '9')
			return -EINVAL; /* strtol would take " 80" and "+80" */
		p = strtol(port, &end, 10);
		if (*end != '\0' || p < 0 || p > 65535)
			return -EINVAL;
	}
	if (p < 0)
		return -EINVAL;

	uint8_t buf[16];
	if (inet_pton(AF_INET, host, buf) == 1) {
		uint32_t v4;
		memcpy(&v4, buf, 4);
		sotto_addr_v4(a, v4, (uint16_t)p);
		return 0;
	}
	if (inet_pton(AF_INET6, host, buf) == 1) {
		sotto_addr_v6(a, buf, (uint16_t)p);
		return 0;
	}
	return -EINVAL;
}
