/* SPDX-License-Identifier: MIT
 * bench_rank.c - ops/s for rank.c on a jam-sized load (100k ideas, 1M votes), each figure set
 * beside a naive baseline so the ratio is visible: a sorted array (memmove on every change) for
 * inserts and votes, and an unsorted score array (linear scan) for rank_of and top-20.
 * Naive runs use smaller counts where they are O(n) per op. Seeded: every run does the same work.
 */
#include "rank.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ITEMS 100000
#define VOTES 1000000
#define QUERIES 100000
#define TOPS 10000
#define TOP_K 20

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Keeps results alive so the compiler cannot drop the work being timed. */
static volatile uint64_t sink;

/* Prints one figure and returns ops/s for the ratio lines. */
static double report(const char *who, const char *what, long ops, double secs)
{
    double rate = (double)ops / secs;
    double us = secs * 1e6 / (double)ops;
    if (rate >= 1e6)
        printf("%s: %s: %.2f M ops/s (%.3f us/op)\n", who, what, rate / 1e6, us);
    else
        printf("%s: %s: %.1f k ops/s (%.3f us/op)\n", who, what, rate / 1e3, us);
    return rate;
}

static void ratio(double fast, double slow)
{
    printf("  -> rank is %.1fx the naive rate\n", fast / slow);
}

/* Initial scores and the vote stream are drawn once, so rank and naive do the same work. */
static int64_t init_score[ITEMS + 1];
static uint32_t vote_id[VOTES];
static int8_t vote_delta[VOTES];
static uint32_t query_id[QUERIES];

static void make_workload(void)
{
    for (uint32_t id = 1; id <= ITEMS; id++)
        init_score[id] = rnd(100); /* as if replayed from storage mid-jam: many ties */
    for (long i = 0; i < VOTES; i++) {
        vote_id[i] = 1 + rnd(ITEMS);
        vote_delta[i] = rnd(5) ? 1 : -1; /* 80% votes, 20% retractions */
    }
    for (long i = 0; i < QUERIES; i++)
        query_id[i] = 1 + rnd(ITEMS);
}

/* ------------------------------------------------------------------------------------------ */
/* rank.c                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static double r_insert, r_votes, r_rank_of, r_top;

/* Returns the index in its final state, for check_same_answers. */
static struct rank *bench_rank(void)
{
    char what[96];
    struct rank *r = rank_new(1);
    double t0 = now_s();
    for (uint32_t id = 1; id <= ITEMS; id++)
        rank_insert(r, id, init_score[id]);
    snprintf(what, sizeof(what), "%d inserts", ITEMS);
    r_insert = report("rank", what, ITEMS, now_s() - t0);

    t0 = now_s();
    for (long i = 0; i < VOTES; i++) {
        uint32_t id = vote_id[i];
        rank_set(r, id, rank_score(r, id) + vote_delta[i]);
    }
    snprintf(what, sizeof(what), "%d votes over %d items", VOTES, ITEMS);
    r_votes = report("rank", what, VOTES, now_s() - t0);

    uint64_t acc = 0;
    t0 = now_s();
    for (long i = 0; i < QUERIES; i++)
        acc += (uint64_t)rank_of(r, query_id[i]);
    snprintf(what, sizeof(what), "%d rank_of over %d items", QUERIES, ITEMS);
    r_rank_of = report("rank", what, QUERIES, now_s() - t0);

    uint32_t out[TOP_K];
    t0 = now_s();
    for (long i = 0; i < TOPS; i++) {
        rank_top(r, TOP_K, out);
        acc += out[i % TOP_K];
    }
    snprintf(what, sizeof(what), "%d rank_top(%d) over %d items", TOPS, TOP_K, ITEMS);
    r_top = report("rank", what, TOPS, now_s() - t0);

    sink = acc;
    return r;
}

/* ------------------------------------------------------------------------------------------ */
/* Naive baselines                                                                             */
/* ------------------------------------------------------------------------------------------ */

struct entry {
    int64_t score;
    uint32_t id;
};

static int64_t score_of[ITEMS + 1];
static uint32_t pos_of[ITEMS + 1];
static struct entry sorted[ITEMS];
static size_t n_sorted;

static int is_before(struct entry a, struct entry b)
{
    return a.score > b.score || (a.score == b.score && a.id < b.id);
}

/* First index whose entry does not sort before 'e'. */
static size_t lower_bound(struct entry e)
{
    size_t lo = 0, hi = n_sorted;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (is_before(sorted[mid], e))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void reindex(size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        pos_of[sorted[i].id] = (uint32_t)i;
}

static void sorted_insert(uint32_t id, int64_t score)
{
    struct entry e = {score, id};
    size_t at = lower_bound(e);
    memmove(&sorted[at + 1], &sorted[at], (n_sorted - at) * sizeof(sorted[0]));
    sorted[at] = e;
    n_sorted++;
    reindex(at, n_sorted);
}

/* Move one entry to its new place, shifting the entries in between by one. */
static void sorted_set(uint32_t id, int64_t score)
{
    size_t from = pos_of[id];
    memmove(&sorted[from], &sorted[from + 1], (n_sorted - from - 1) * sizeof(sorted[0]));
    n_sorted--;
    struct entry e = {score, id};
    size_t at = lower_bound(e);
    memmove(&sorted[at + 1], &sorted[at], (n_sorted - at) * sizeof(sorted[0]));
    sorted[at] = e;
    n_sorted++;
    reindex(from < at ? from : at, (from < at ? at : from) + 1);
}

static int64_t linear_rank_of(uint32_t id)
{
    struct entry me = {score_of[id], id};
    int64_t pos = 0;
    for (uint32_t i = 1; i <= ITEMS; i++)
        pos += is_before((struct entry){score_of[i], i}, me);
    return pos;
}

/* One pass keeping the best k in a small insertion-sorted buffer. */
static void linear_top(size_t k, uint32_t *out)
{
    struct entry best[TOP_K];
    size_t n = 0;
    for (uint32_t i = 1; i <= ITEMS; i++) {
        struct entry e = {score_of[i], i};
        if (n == k && !is_before(e, best[n - 1]))
            continue;
        size_t j = n < k ? n++ : n - 1;
        while (j > 0 && is_before(e, best[j - 1])) {
            best[j] = best[j - 1];
            j--;
        }
        best[j] = e;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = best[i].id;
}

static void bench_naive(void)
{
    char what[96];
    /* Inserting in random-score order costs a memmove of half the array on average. */
    double t0 = now_s();
    for (uint32_t id = 1; id <= ITEMS; id++)
        sorted_insert(id, init_score[id]);
    snprintf(what, sizeof(what), "%d inserts", ITEMS);
    ratio(r_insert, report("naive sorted array", what, ITEMS, now_s() - t0));

    enum { NAIVE_VOTES = 100000 };
    t0 = now_s();
    for (long i = 0; i < NAIVE_VOTES; i++) {
        uint32_t id = vote_id[i];
        sorted_set(id, sorted[pos_of[id]].score + vote_delta[i]);
    }
    snprintf(what, sizeof(what), "%d votes over %d items", NAIVE_VOTES, ITEMS);
    ratio(r_votes, report("naive sorted array", what, NAIVE_VOTES, now_s() - t0));

    /* The linear baselines read a plain score array, brought to the same end state as rank's. */
    for (uint32_t id = 1; id <= ITEMS; id++)
        score_of[id] = init_score[id];
    for (long i = 0; i < VOTES; i++)
        score_of[vote_id[i]] += vote_delta[i];

    enum { NAIVE_QUERIES = 1000, NAIVE_TOPS = 1000 };
    uint64_t acc = 0;
    t0 = now_s();
    for (long i = 0; i < NAIVE_QUERIES; i++)
        acc += (uint64_t)linear_rank_of(query_id[i]);
    snprintf(what, sizeof(what), "%d rank_of over %d items", NAIVE_QUERIES, ITEMS);
    ratio(r_rank_of, report("naive linear scan", what, NAIVE_QUERIES, now_s() - t0));

    uint32_t out[TOP_K];
    t0 = now_s();
    for (long i = 0; i < NAIVE_TOPS; i++) {
        linear_top(TOP_K, out);
        acc += out[i % TOP_K];
    }
    snprintf(what, sizeof(what), "%d top(%d) over %d items", NAIVE_TOPS, TOP_K, ITEMS);
    ratio(r_top, report("naive linear scan", what, NAIVE_TOPS, now_s() - t0));
    sink = acc;
}

/* Both sides must agree after the same votes, or the comparison means nothing. The sorted array
 * saw fewer votes, so it is checked only for being in order with a correct position index. */
static int check_same_answers(const struct rank *r)
{
    uint32_t a[TOP_K], b[TOP_K];
    rank_top(r, TOP_K, a);
    linear_top(TOP_K, b);
    int ok = memcmp(a, b, sizeof(a)) == 0;
    for (long i = 0; ok && i < 100; i++)
        ok = rank_of(r, query_id[i]) == linear_rank_of(query_id[i]);
    for (size_t i = 0; ok && i < n_sorted; i++)
        ok = pos_of[sorted[i].id] == i && (i == 0 || is_before(sorted[i - 1], sorted[i]));
    return ok;
}

int main(void)
{
    make_workload();
    struct rank *r = bench_rank();
    bench_naive();
    int ok = check_same_answers(r);
    rank_free(r);
    if (!ok) {
        fprintf(stderr, "bench_rank: rank and the naive baseline disagree\n");
        return 1;
    }
    return 0;
}
