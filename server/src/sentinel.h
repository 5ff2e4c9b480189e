/* SPDX-License-Identifier: MIT
 * sentinel.h - the pure parts of following a Redis primary through Redis Sentinel: the list of
 * sentinels (--sentinels), the address a sentinel names for the primary, and the delay between
 * two rounds of asking. store.c does the asking (SENTINEL get-master-addr-by-name, then ROLE on
 * the address named; SENTINEL replicas for the tail); nothing here does I/O or reads a clock.
 */
#ifndef COJAM_SENTINEL_H
#define COJAM_SENTINEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sentinels in one list: deployments run 3 or 5 (a majority must agree on a failover); 16 is
 * room to spare while keeping the list a fixed array. */
#define SENTINEL_MAX 16
/* POSIX host names are at most 255 bytes; an IPv6 literal is at most 45. */
#define SENTINEL_HOST_MAX 255
/* A master name, as sentinel.conf's "sentinel monitor <name>" takes it: at most 64 bytes of
 * letters, digits and ".-_" (what cojamd accepts, not what Redis does: it puts the name on a
 * command line of its own). */
#define SENTINEL_NAME_MAX 64

struct sentinel_addr {
    char host[SENTINEL_HOST_MAX + 1];
    int port;
};

/* Parses "HOST:PORT[,HOST:PORT...]" (spaces around entries allowed; an IPv6 host in brackets,
 * "[::1]:26379") into out[0..max-1], *n the count. Returns 0, or -EINVAL for an empty list, an
 * entry without a port of 1..65535 in digits, an empty or overlong host, or more than 'max'
 * entries (nothing is guaranteed in 'out' then). */
int sentinel_parse_list(const char *list, struct sentinel_addr *out, size_t max, size_t *n);

/* The primary's address from the two strings of a get-master-addr-by-name reply (an ip and a
 * port in decimal; lengths given, not NUL-terminated). Returns 0, or -EINVAL when the ip is empty
 * or overlong or the port is not 1..65535 in digits. */
int sentinel_parse_reply(const char *ip, size_t ip_len, const char *port, size_t port_len,
                         struct sentinel_addr *out);

/* Whether a replica, as one entry of "SENTINEL replicas <name>" describes it, may serve the tail:
 * its 'flags' (a comma list, "slave" for a healthy one) name no s_down, o_down or disconnected,
 * and its master-link-status 'link' is "ok" (it is not loading a full resync). Either NULL: no. */
bool sentinel_replica_usable(const char *flags, const char *link);

/* A master name cojamd accepts (see SENTINEL_NAME_MAX). */
bool sentinel_name_ok(const char *name);

/* The delay before the next round of connection attempts. '*step_ms' is the state (0 before the
 * first failure, reset to 0 on success): it doubles from SENTINEL_BACKOFF_MIN_MS up to
 * SENTINEL_BACKOFF_MAX_MS, and the delay is the step jittered to 50-150% by 'rnd' (any random
 * 64-bit value), so that processes failing together do not retry in lockstep. */
#define SENTINEL_BACKOFF_MIN_MS 50
#define SENTINEL_BACKOFF_MAX_MS 2000
int64_t sentinel_backoff_ms(int *step_ms, uint64_t rnd);

#endif
