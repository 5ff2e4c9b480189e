/* SPDX-License-Identifier: MIT
 * admission.h - admission per source address: one token bucket per address and kind of request
 * (joins, syncs, failed guesses of a secret, public jam lookups), kept as the generic cell rate
 * algorithm's one number per address, the time at which its bucket is full again (RFC 2697's
 * token bucket, seen from the side of its "theoretical arrival time"). Pure: the caller passes the
 * monotonic time in ms and chooses the key (the peer's IPv4 address + 1; 0 = unknown).
 */
#ifndef COJAM_ADMISSION_H
#define COJAM_ADMISSION_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"

struct admission {
    int64_t interval_us;  /* one token per this long */
    int64_t tolerance_us; /* (burst - 1) intervals: how far ahead of now a bucket may run */
    size_t max_keys;      /* addresses tracked; beyond, new ones share the bucket of key 0 */
    struct imap full_at;  /* key -> the time (us) at which its bucket is full again */
};

/* 'per_s' tokens a second (> 0), at most 'burst' (>= 1) at once; 'max_keys' >= 1. */
void admission_init(struct admission *a, double per_s, unsigned burst, size_t max_keys);
void admission_deinit(struct admission *a);
/* 0 when 'key' may act at 'now_ms', else the ms until it may (rounded up, >= 1). Takes nothing. */
int64_t admission_wait_ms(const struct admission *a, uint64_t key, int64_t now_ms);
/* Take one token for 'key', whether or not there is one (a failed guess is counted after the
 * fact: it was already made). */
void admission_charge(struct admission *a, uint64_t key, int64_t now_ms);
/* admission_wait_ms, then admission_charge when that was 0: 0 = admitted. */
int64_t admission_take(struct admission *a, uint64_t key, int64_t now_ms);
/* Forget the addresses whose bucket is full again (they are as good as new). */
void admission_sweep(struct admission *a, int64_t now_ms);
static inline size_t admission_keys(const struct admission *a)
{
    return a->full_at.used;
}

#endif
