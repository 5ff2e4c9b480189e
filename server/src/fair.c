/* SPDX-License-Identifier: MIT
 * fair.c - fair attention: two rank.h indexes over the same visible items, one by fewest showings
 * (score = -shown, so rank's "best first" is "least shown first", ties to the older item) and one
 * by the Wilson lower bound. Counts live in an array indexed by id, like rank's nodes.
 */
#include "fair.h"

#include "alloc.h"
#include "rank.h"

#include <errno.h>
#include <math.h>
#include <string.h>

struct counts {
    uint32_t votes, shown;
};

struct fair {
    struct rank *by_shown; /* owned; score -shown */
    struct rank *by_score; /* owned; score fair_wilson() */
    struct counts *c;      /* owned; indexed by id */
    size_t cap;
};

/* z for a two-sided 95% interval: the usual choice for ranking by "lower bound of the true rate"
 * (Evan Miller, "How Not To Sort By Average Rating"). */
#define WILSON_Z 1.959964

int64_t fair_wilson(uint32_t votes, uint32_t trials)
{
    double n = trials > votes ? trials : votes;
    if (n == 0)
        return 0;
    double p = votes / n, z2 = WILSON_Z * WILSON_Z;
    double lb = (p + z2 / (2 * n) - WILSON_Z * sqrt((p * (1 - p) + z2 / (4 * n)) / n)) /
                (1 + z2 / n);
    /* IEEE-754 double arithmetic and sqrt are exact-rounded, so every process computes the same
     * integer from the same counts: the order is a function of the stream alone. */
    return lb <= 0 ? 0 : (int64_t)(lb * 1e6);
}

static void grow(struct fair *f, uint32_t id)
{
    if (id < f->cap)
        return;
    size_t cap = f->cap ? f->cap : 64;
    while (cap <= id)
        cap *= 2;
    f->c = xrealloc(f->c, cap * sizeof(*f->c));
    memset(f->c + f->cap, 0, (cap - f->cap) * sizeof(*f->c));
    f->cap = cap;
}

struct fair *fair_new(uint32_t seed)
{
    struct fair *f = xcalloc(1, sizeof(*f));
    f->by_shown = rank_new(seed);
    f->by_score = rank_new(seed ^ 0x9e3779b9u);
    return f;
}

void fair_free(struct fair *f)
{
    if (!f)
        return;
    rank_free(f->by_shown);
    rank_free(f->by_score);
    free(f->c);
    free(f);
}

int fair_add(struct fair *f, uint32_t id, uint32_t votes, uint32_t shown)
{
    int rc = rank_insert(f->by_shown, id, -(int64_t)shown);
    if (rc)
        return rc;
    grow(f, id);
    f->c[id] = (struct counts){votes, shown};
    rank_insert(f->by_score, id, fair_wilson(votes, shown));
    return 0;
}

int fair_remove(struct fair *f, uint32_t id)
{
    int rc = rank_remove(f->by_shown, id);
    if (rc)
        return rc;
    rank_remove(f->by_score, id);
    return 0;
}

int fair_set_votes(struct fair *f, uint32_t id, uint32_t votes)
{
    if (!rank_has(f->by_shown, id))
        return -ENOENT;
    f->c[id].votes = votes;
    return rank_set(f->by_score, id, fair_wilson(votes, f->c[id].shown));
}

int fair_expose(struct fair *f, uint32_t id, uint32_t n)
{
    if (!rank_has(f->by_shown, id))
        return -ENOENT;
    struct counts *c = &f->c[id];
    c->shown = c->shown > UINT32_MAX - n ? UINT32_MAX : c->shown + n;
    rank_set(f->by_shown, id, -(int64_t)c->shown);
    return rank_set(f->by_score, id, fair_wilson(c->votes, c->shown));
}

uint32_t fair_shown(const struct fair *f, uint32_t id)
{
    return id < f->cap ? f->c[id].shown : 0;
}

size_t fair_count(const struct fair *f)
{
    return rank_count(f->by_shown);
}

size_t fair_pick(const struct fair *f, size_t k, bool (*skip)(uint32_t id, void *ctx), void *ctx,
                 uint32_t *out)
{
    enum { WINDOW = 64 };
    uint32_t cand[WINDOW];
    size_t got = 0;
    for (size_t from = 0; got < k && from < FAIR_SCAN_MAX; from += WINDOW) {
        size_t n = rank_range(f->by_shown, from, WINDOW, cand);
        for (size_t i = 0; i < n && got < k; i++)
            if (!skip || !skip(cand[i], ctx))
                out[got++] = cand[i];
        if (n < WINDOW)
            break;
    }
    return got;
}

size_t fair_top(const struct fair *f, size_t k, uint32_t *out)
{
    return rank_top(f->by_score, k, out);
}

int64_t fair_score(const struct fair *f, uint32_t id)
{
    return rank_score(f->by_score, id);
}
