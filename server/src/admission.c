/* SPDX-License-Identifier: MIT
 * admission.c - token buckets per source address as one "full again at" time each (see
 * admission.h). A bucket with a token to give is one whose full-again time is at most
 * tolerance_us ahead of now; taking a token moves it interval_us further. No I/O, no clock.
 */
#include "admission.h"

void admission_init(struct admission *a, double per_s, unsigned burst, size_t max_keys)
{
    a->interval_us = (int64_t)(1e6 / per_s);
    if (a->interval_us < 1)
        a->interval_us = 1;
    a->tolerance_us = (int64_t)(burst ? burst - 1 : 0) * a->interval_us;
    a->max_keys = max_keys ? max_keys : 1;
    imap_init(&a->full_at);
}

void admission_deinit(struct admission *a)
{
    imap_deinit(&a->full_at);
}

/* The key whose bucket this address uses: its own, or the shared one once the table is full. */
static uint64_t bucket_of(const struct admission *a, uint64_t key)
{
    if (imap_get(&a->full_at, key, NULL) || a->full_at.used < a->max_keys)
        return key;
    return 0;
}

static int64_t full_at(const struct admission *a, uint64_t key, int64_t now_us)
{
    uint64_t v;
    if (!imap_get(&a->full_at, key, &v) || (int64_t)v < now_us)
        return now_us;
    return (int64_t)v;
}

int64_t admission_wait_ms(const struct admission *a, uint64_t key, int64_t now_ms)
{
    int64_t now_us = now_ms * 1000;
    int64_t ahead = full_at(a, bucket_of(a, key), now_us) - now_us;
    if (ahead <= a->tolerance_us)
        return 0;
    return (ahead - a->tolerance_us + 999) / 1000;
}

void admission_charge(struct admission *a, uint64_t key, int64_t now_ms)
{
    int64_t now_us = now_ms * 1000;
    if (a->full_at.used >= a->max_keys && !imap_get(&a->full_at, key, NULL))
        admission_sweep(a, now_ms);
    uint64_t k = bucket_of(a, key);
    imap_put(&a->full_at, k, (uint64_t)(full_at(a, k, now_us) + a->interval_us));
}

int64_t admission_take(struct admission *a, uint64_t key, int64_t now_ms)
{
    int64_t wait = admission_wait_ms(a, key, now_ms);
    if (!wait)
        admission_charge(a, key, now_ms);
    return wait;
}

void admission_sweep(struct admission *a, int64_t now_ms)
{
    uint64_t key, v;
    for (size_t pos = 0; imap_next(&a->full_at, &pos, &key, &v);)
        if ((int64_t)v <= now_ms * 1000)
            imap_del(&a->full_at, key);
}
