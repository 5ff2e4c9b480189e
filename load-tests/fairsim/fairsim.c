/* SPDX-License-Identifier: MIT
 * fairsim.c - does the fair order find late ideas? A seeded simulation of one ideate phase run
 * through the server's own ranking code (server/src/rank.c and fair.c), once with the "top" order
 * (raw votes, what phones and the screen show today) and once with "fair" (discover views of the
 * least-shown items, ranking by the Wilson lower bound), printed side by side.
 *
 * The model: P participants with a shared hidden quality q of each idea (a participant who looks
 * at an idea likes it with probability q and votes, at most once, within a budget of B votes,
 * moving a vote from their weakest choice when the budget is spent). A few ideas
 * exist at the start, most arrive between 30% and 80% of the phase. Every participant looks at a
 * list of L items on average every ACT_EVERY seconds: in "top" the first L by votes; in "fair" every
 * other look is a discover view of L items they have not been shown, the others the first L of the
 * fair order. Figures: for the good ideas (true top quarter) that arrived mid-phase, seconds until
 * their first vote (median, p90; an idea never voted for counts the time left) and how many never
 * got one; for all ideas, Kendall's tau between the final order and the
 * true one, and how many of the true top 10 are in the final top 10.
 *
 * usage: fairsim [seeds] [participants] [ideas]   (defaults 5 300 200)
 * Exits 1 when fair does not beat top on the three figures it is for (a seeded, deterministic
 * check that load-tests/smoke.sh runs; no timing in it).
 */
#include "fair.h"
#include "rank.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PHASE_S = 600, LIST = 10, BUDGET = 5, ACT_EVERY = 20, EARLY = 20, TOPN = 10 };

static uint64_t rng_state;

static double urand(void) /* splitmix64 -> [0, 1) */
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

struct idea {
    double q;   /* hidden quality: P(vote | looked at it) */
    int posted; /* second it arrives */
    int first;  /* second of its first vote, -1 = none */
    uint32_t votes;
};

struct sim {
    int n_part, n_ideas, live; /* ideas 1..live have arrived (ideas are posted in id order) */
    struct idea *idea;         /* [1..n_ideas] */
    uint8_t *voted, *seen;     /* [part * (n_ideas + 1) + id] */
    uint32_t *mine;            /* [part * BUDGET]: the items each participant votes for */
    int *n_mine;
    struct rank *by_votes;
    struct fair *fair;
};

struct viewer {
    const struct sim *s;
    int p;
};

static bool already_seen(uint32_t id, void *ctx)
{
    const struct viewer *v = ctx;
    size_t at = (size_t)v->p * (size_t)(v->s->n_ideas + 1) + id;
    return v->s->seen[at] || v->s->voted[at];
}

static void count_vote(struct sim *s, uint32_t id, int delta)
{
    struct idea *it = &s->idea[id];
    it->votes = (uint32_t)((int)it->votes + delta);
    rank_set(s->by_votes, id, it->votes);
    fair_set_votes(s->fair, id, it->votes);
}

/* Participant 'p' looks at 'ids': each one they like (probability q) gets their vote; with the
 * budget spent, a liked item better than their weakest choice takes that vote (unvote + vote, as
 * "vote for your top three" works on a phone). */
static void look(struct sim *s, int p, int now, const uint32_t *ids, size_t n)
{
    uint32_t *mine = s->mine + (size_t)p * BUDGET;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = ids[i];
        size_t at = (size_t)p * (size_t)(s->n_ideas + 1) + id;
        s->seen[at] = 1;
        if (s->voted[at] || urand() >= s->idea[id].q)
            continue;
        int slot = s->n_mine[p];
        if (slot == BUDGET) {
            slot = 0;
            for (int j = 1; j < BUDGET; j++)
                if (s->idea[mine[j]].q < s->idea[mine[slot]].q)
                    slot = j;
            if (s->idea[mine[slot]].q >= s->idea[id].q)
                continue;
            s->voted[(size_t)p * (size_t)(s->n_ideas + 1) + mine[slot]] = 0;
            count_vote(s, mine[slot], -1);
        } else {
            s->n_mine[p]++;
        }
        mine[slot] = id;
        s->voted[at] = 1;
        if (s->idea[id].first < 0)
            s->idea[id].first = now;
        count_vote(s, id, +1);
    }
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

static int cmp_double_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

struct figures {
    double n_good, median_first, p90_first, never, tau, top_hits;
};

/* Kendall's tau-a of 'order' (best first) against the true quality. */
static double kendall(const struct sim *s, const uint32_t *order, size_t n)
{
    long conc = 0, disc = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            double a = s->idea[order[i]].q, b = s->idea[order[j]].q;
            if (a > b)
                conc++;
            else if (a < b)
                disc++;
        }
    long pairs = (long)n * (long)(n - 1) / 2;
    return pairs ? (double)(conc - disc) / (double)pairs : 0;
}

static struct figures run(uint64_t seed, bool fair_mode, int n_part, int n_ideas)
{
    rng_state = seed;
    struct sim s = {.n_part = n_part, .n_ideas = n_ideas};
    s.idea = calloc((size_t)n_ideas + 1, sizeof(*s.idea));
    s.voted = calloc((size_t)n_part * (size_t)(n_ideas + 1), 1);
    s.seen = calloc((size_t)n_part * (size_t)(n_ideas + 1), 1);
    s.mine = calloc((size_t)n_part * BUDGET, sizeof(*s.mine));
    s.n_mine = calloc((size_t)n_part, sizeof(int));
    s.by_votes = rank_new(1);
    s.fair = fair_new(1);
    for (int i = 1; i <= n_ideas; i++) {
        double u = urand();
        s.idea[i].q = 0.05 + 0.5 * u * u; /* most ideas mediocre, a few good */
        s.idea[i].first = -1;
        s.idea[i].posted = i <= EARLY ? 0
                                      : (int)(PHASE_S * (0.3 + 0.5 * (double)(i - EARLY) /
                                                                   (double)(n_ideas - EARLY)));
    }
    uint32_t ids[LIST];
    for (int now = 0; now < PHASE_S; now++) {
        while (s.live < n_ideas && s.idea[s.live + 1].posted <= now) {
            s.live++;
            rank_insert(s.by_votes, (uint32_t)s.live, 0);
            fair_add(s.fair, (uint32_t)s.live, 0, 0);
        }
        for (int p = 0; p < n_part; p++) {
            if (urand() >= 1.0 / ACT_EVERY)
                continue;
            size_t n;
            if (!fair_mode) {
                n = rank_top(s.by_votes, LIST, ids);
            } else if (urand() < 0.5) {
                struct viewer v = {&s, p};
                n = fair_pick(s.fair, LIST, already_seen, &v, ids);
                for (size_t i = 0; i < n; i++)
                    fair_expose(s.fair, ids[i], 1);
            } else {
                n = fair_top(s.fair, LIST, ids);
            }
            look(&s, p, now, ids, n);
        }
    }

    /* The late ideas worth finding: those in the true top quarter by quality. */
    double *qs = malloc((size_t)n_ideas * sizeof(*qs));
    for (int i = 0; i < n_ideas; i++)
        qs[i] = s.idea[i + 1].q;
    qsort(qs, (size_t)n_ideas, sizeof(*qs), cmp_double_desc);
    double good = qs[n_ideas / 4];
    free(qs);

    struct figures f = {0};
    int *waits = malloc((size_t)n_ideas * sizeof(int)), n_late = 0, n_never = 0;
    for (int i = EARLY + 1; i <= n_ideas; i++) {
        if (s.idea[i].q < good)
            continue;
        if (s.idea[i].first < 0) {
            n_never++;
            waits[n_late++] = PHASE_S - s.idea[i].posted; /* censored: counted as the time left */
        } else {
            waits[n_late++] = s.idea[i].first - s.idea[i].posted;
        }
    }
    qsort(waits, (size_t)n_late, sizeof(int), cmp_int);
    f.n_good = n_late;
    f.median_first = n_late ? waits[n_late / 2] : 0;
    f.p90_first = n_late ? waits[n_late * 9 / 10] : 0;
    f.never = n_never;

    uint32_t *order = malloc((size_t)n_ideas * sizeof(*order));
    size_t n = fair_mode ? fair_top(s.fair, (size_t)n_ideas, order)
                         : rank_top(s.by_votes, (size_t)n_ideas, order);
    f.tau = kendall(&s, order, n);
    uint32_t *truth = malloc((size_t)n_ideas * sizeof(*truth));
    for (int i = 0; i < n_ideas; i++)
        truth[i] = (uint32_t)i + 1;
    for (int i = 0; i < TOPN; i++) /* partial selection sort: the true top 10 */
        for (int j = i + 1; j < n_ideas; j++)
            if (s.idea[truth[j]].q > s.idea[truth[i]].q) {
                uint32_t t = truth[i];
                truth[i] = truth[j];
                truth[j] = t;
            }
    for (int i = 0; i < TOPN; i++)
        for (int j = 0; j < TOPN && j < (int)n; j++)
            if (order[j] == truth[i])
                f.top_hits++;

    free(truth);
    free(order);
    free(waits);
    rank_free(s.by_votes);
    fair_free(s.fair);
    free(s.n_mine);
    free(s.mine);
    free(s.seen);
    free(s.voted);
    free(s.idea);
    return f;
}

int main(int argc, char **argv)
{
    int seeds = argc > 1 ? atoi(argv[1]) : 5;
    int n_part = argc > 2 ? atoi(argv[2]) : 300;
    int n_ideas = argc > 3 ? atoi(argv[3]) : 200;
    if (seeds < 1 || n_part < 1 || n_ideas <= EARLY + 1 || n_ideas > 100000) {
        fprintf(stderr, "usage: fairsim [seeds>=1] [participants>=1] [ideas>%d]\n", EARLY + 1);
        return 2;
    }
    struct figures sum[2] = {{0}};
    for (int k = 0; k < seeds; k++)
        for (int m = 0; m < 2; m++) {
            struct figures f = run(0xfa1 + (uint64_t)k, m == 1, n_part, n_ideas);
            sum[m].n_good += f.n_good / seeds;
            sum[m].median_first += f.median_first / seeds;
            sum[m].p90_first += f.p90_first / seeds;
            sum[m].never += f.never / seeds;
            sum[m].tau += f.tau / seeds;
            sum[m].top_hits += f.top_hits / seeds;
        }
    printf("# fairsim: %d participants, %d ideas (%d at the start, the rest from 30%% to 80%% of a "
           "%d s phase), lists of %d, budget %d, mean of %d seeds\n",
           n_part, n_ideas, EARLY, PHASE_S, LIST, BUDGET, seeds);
    printf("%-46s %10s %10s\n", "", "top", "fair");
    printf("%-46s %10.1f %10.1f\n", "good late ideas (true top quarter, mid-phase)", sum[0].n_good,
           sum[1].n_good);
    printf("%-46s %10.0f %10.0f\n", "  seconds to their first vote, median", sum[0].median_first,
           sum[1].median_first);
    printf("%-46s %10.0f %10.0f\n", "  seconds to their first vote, p90", sum[0].p90_first,
           sum[1].p90_first);
    printf("%-46s %10.1f %10.1f\n", "  never voted for", sum[0].never, sum[1].never);
    printf("%-46s %10.3f %10.3f\n", "Kendall tau, final order vs true order", sum[0].tau,
           sum[1].tau);
    printf("%-46s %10.1f %10.1f\n", "true top 10 found in the final top 10", sum[0].top_hits,
           sum[1].top_hits);
    bool better = sum[1].median_first < sum[0].median_first && sum[1].never < sum[0].never &&
                  sum[1].top_hits > sum[0].top_hits;
    if (!better)
        printf("# fairsim: the fair order did not beat top\n");
    return better ? 0 : 1;
}
