/* SPDX-License-Identifier: MIT
 * bench_words.c - what the word cloud, live themes, similar items and the discover pick cost at
 * 10,000 items
 * (issue 12: "a benchmark prints its cost per new item at 10,000 items"). Items are 6-14 words
 * drawn from a 3,000-word vocabulary with Zipf-like frequencies plus stop words, as civic
 * proposals are; seeded, so every run does the same work. Per-operation latencies are measured
 * one by one and printed as p50/p99/max, since one slow call is what would show in vote latency.
 */
#include "fair.h"
#include "words.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ITEMS 10000
#define VOCAB 3000
#define REPS 2000

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, double *us, size_t n)
{
    qsort(us, n, sizeof(*us), cmp_double);
    printf("words: %s: p50 %.2f us, p99 %.2f us, max %.2f us (%zu calls)\n", what, us[n / 2],
           us[n * 99 / 100], us[n - 1], n);
}

/* Zipf-like: word k with weight 1/k, drawn by inverting a precomputed cumulative table. */
static double cum[VOCAB];
static const char *const STOP[] = {"the", "and", "for",  "with", "more", "die",
                                   "und", "les", "pour", "las",  "para", "que"};

static void make_text(char *buf, size_t cap)
{
    int n = 6 + (int)rnd(9);
    size_t at = 0;
    for (int i = 0; i < n && at + 32 < cap; i++) {
        if (rnd(3) == 0) {
            at += (size_t)snprintf(buf + at, cap - at, "%s ", STOP[rnd(12)]);
            continue;
        }
        double u = (double)rnd(1u << 30) / (double)(1u << 30) * cum[VOCAB - 1];
        size_t lo = 0, hi = VOCAB - 1;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (cum[mid] < u)
                lo = mid + 1;
            else
                hi = mid;
        }
        at += (size_t)snprintf(buf + at, cap - at, "w%04zuabc ", lo);
    }
    buf[at ? at - 1 : 0] = '\0';
}

static uint32_t votes[ITEMS + 1];

static uint32_t votes_of(uint32_t id, void *ctx)
{
    (void)ctx;
    return votes[id];
}

static bool skip_none(uint32_t id, void *ctx)
{
    (void)ctx;
    return id % 7 == 0; /* the viewer's own or voted items: some are passed over */
}

int main(void)
{
    double acc = 0;
    for (int k = 0; k < VOCAB; k++)
        cum[k] = (acc += 1.0 / (k + 1));
    static double us[ITEMS];
    char text[512];

    struct words *w = words_new();
    struct fair *f = fair_new(1);
    for (uint32_t id = 1; id <= ITEMS; id++) {
        make_text(text, sizeof(text));
        votes[id] = rnd(50);
        double t0 = now_us();
        words_add(w, id, text, strlen(text));
        us[id - 1] = now_us() - t0;
        fair_add(f, id, votes[id], 0);
    }
    report("words_add (a new item) up to 10000 items", us, ITEMS);

    /* The cost at 10,000: hide and re-add items already there (the jam keeps its size). */
    for (int i = 0; i < REPS; i++) {
        uint32_t id = 1 + rnd(ITEMS);
        make_text(text, sizeof(text));
        double t0 = now_us();
        words_add(w, id, text, strlen(text));
        us[i] = now_us() - t0;
    }
    report("words_add at 10000 items", us, REPS);

    struct word_count top[50];
    for (int i = 0; i < REPS; i++) {
        double t0 = now_us();
        words_top(w, 50, top);
        us[i] = now_us() - t0;
    }
    report("words_top(50) at 10000 items (the cloud, once a second)", us, REPS);

    struct theme th[8];
    size_t n_th = 0;
    for (int i = 0; i < REPS / 10; i++) {
        double t0 = now_us();
        n_th = words_themes(w, 8, votes_of, NULL, th);
        us[i] = now_us() - t0;
    }
    report("words_themes(8) at 10000 items (themes, once a second)", us, REPS / 10);
    printf("words: top word '%s' in %u items; %zu themes, the first '%s' with %u items\n",
           top[0].word, top[0].items, n_th, n_th ? th[0].word : "-", n_th ? th[0].items : 0);

    uint32_t sim[3];
    size_t found = 0;
    for (int i = 0; i < REPS; i++) {
        make_text(text, sizeof(text));
        double t0 = now_us();
        found += words_similar(w, text, strlen(text), 0.3, NULL, NULL, 3, sim);
        us[i] = now_us() - t0;
    }
    report("words_similar (3 items like a new text) at 10000 items", us, REPS);
    printf("words: similar found %.2f items per query on average\n", (double)found / REPS);

    uint32_t pick[10];
    for (int i = 0; i < REPS; i++) {
        double t0 = now_us();
        size_t got = fair_pick(f, 10, skip_none, NULL, pick);
        for (size_t k = 0; k < got; k++)
            fair_expose(f, pick[k], 1);
        us[i] = now_us() - t0;
    }
    report("fair_pick(10) + fair_expose at 10000 items (one discover view)", us, REPS);

    words_free(w);
    fair_free(f);
    return 0;
}
