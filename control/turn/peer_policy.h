/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_PEER_POLICY_H
#define SOTTO_PEER_POLICY_H

/*
 * Which peers a TURN client may reach. Addresses are first normalised to what
 * the kernel or NIC would send to (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible
 * ::a.b.c.d, NAT64 64:ff9b::/96 and 6to4 2002::/16 become the IPv4 address;
 * 0.0.0.0 and :: mean "this host"), then checked in this order:
 *   1. one of the gateway's own listening addresses (ip:port) → deny, always
 *   2. a configured deny CIDR → deny
 *   3. one of the gateway's own IPs (relay, listener, gateway media): allow
 *      ports in the relay range (two callers on one gateway); any other
 *      port only if an allow_own CIDR names the address; deny the rest.
 *      Before the allow list, so an allow range that covers an own IP
 *      does not open every port of this host.
 *   4. a configured allow CIDR → allow
 *   5. a built-in denied range (loopback, 0/8, ::, link-local incl.
 *      169.254.169.254, RFC 1918, CGNAT 100.64/10, unique-local fc00::/7,
 *      multicast, broadcast, reserved 240/4, Teredo 2001::/32, ISATAP
 *      interface identifiers ::0:5efe:a.b.c.d / ::200:5efe:a.b.c.d under
 *      any prefix; documentation ranges are allowed) → deny
 *   6. otherwise allow.
 * With check_port false (CreatePermission: permissions are per IP) rules 1
 * and the port test of rule 3 are skipped.
 */
#include <stdbool.h>

#include "addr.h"
#include "config.h"

struct peer_policy;

struct peer_policy *peer_policy_new(const struct sotto_cidr *allow,
				    unsigned n_allow,
				    const struct sotto_cidr *deny,
				    unsigned n_deny);
void peer_policy_free(struct peer_policy *p);

/* Own addresses that may be peers on any port (rule 3); replaces any
 * earlier list. 0 or -ENOMEM. */
int peer_policy_set_allow_own(struct peer_policy *p,
			      const struct sotto_cidr *c, unsigned n);

/* The gateway's own addresses. 0 or -ENOSPC. */
int peer_policy_add_listener(struct peer_policy *p, const struct sotto_addr *a);
int peer_policy_add_relay_ip(struct peer_policy *p, const struct sotto_addr *ip,
			     uint16_t port_min, uint16_t port_max);

/* Normalise an address in place (see above); returns a. */
struct sotto_addr *peer_addr_normalize(struct sotto_addr *a);

/* Normalises *a in place and says whether it may be a peer. */
bool peer_policy_allowed(const struct peer_policy *p, struct sotto_addr *a,
			 bool check_port);

/* CIDR text "10.0.0.0/8", "::1/128", "1.2.3.4" (host). 0 or -EINVAL. */
int sotto_cidr_parse(struct sotto_cidr *c, const char *s);
bool sotto_cidr_match(const struct sotto_cidr *c, const struct sotto_addr *a);

#endif
