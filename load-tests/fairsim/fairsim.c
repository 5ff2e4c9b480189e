/* SPDX-License-Identifier: MIT
 * fairsim.c - does the fair order find late ideas? A seeded simulation of one ideate phase run
 * through the server's own room core (server/src/room.c: room_check and room_apply for every join,
 * post, vote and unvote, room_discover for the discover views, room_take_showings batched into a
 * showings event every 2 s of simulated time, room_top_by for the lists), once with the "top"
 * order (raw votes) and once with "fair" (discover views of the least-shown items beside lists in
 * the Wilson-lower-bound order), printed side by side. No server, no network, no clock.
 *
 * The model: P participants with a shared hidden quality q of each idea (a participant who looks
 * at an idea likes it with probability q and votes, at most once, within the jam's budget of B
 * votes, moving a vote from their weakest choice when the budget is spent: an unvote then a vote).
 * A few ideas exist at the start, most arrive between 30% and 80% of the phase, each posted by a
 * random participant. Every participant looks at the app on average every ACT_EVERY seconds: in
 * "top" at the first L items by votes; in "fair" every other look is a discover view (the server's
 * 5 items), the others the first L of the fair order. Figures: for the good ideas (true top
 * quarter) that arrived mid-phase, seconds until their first vote (median, p90; an idea never voted
 * for counts the time left) and how many never got one; for all ideas, Kendall's tau between the
 * final order and the true one, and how many of the true top 10 are in the final top 10.
 *
 * usage: fairsim [seeds] [participants] [ideas]   (defaults 5 300 200)
 * Exits 1 when fair does not beat top on the three figures it is for (a seeded, deterministic
 * check that load-tests/smoke.sh runs; no timing in it).
 */
#include "codec.h"
#include "fair.h"
#include "room.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    PHASE_S = 600,
    LIST = 10,
    DISCOVER = 5, /* handlers.c's HANDLERS_DISCOVER_MAX */
    BUDGET = 5,
    ACT_EVERY = 20,
    EARLY = 20,
    TOPN = 10,
    SHOWINGS_EVERY_S = 2 /* handlers.c's HANDLERS_SHOWINGS_MS */
};

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
};

struct sim {
    struct room *room;
    int n_part, n_ideas, live; /* ideas 1..live have arrived (posted in id order) */
    struct idea *idea;         /* [1..n_ideas] */
    int64_t *pid;              /* [part]: its participant id in the room */
    uint64_t seq;              /* stream ids "<now ms>-<seq>" */
    int now;
};

static void fail(const char *what, const char *err)
{
    fprintf(stderr, "fairsim: %s: %s\n", what, err);
    exit(2);
}

/* Store and apply an event as the server does after Redis confirmed it. */
static const char *apply(struct sim *s, struct event *e)
{
    char id[48];
    e->at_ms = (int64_t)s->now * 1000 + 1;
    snprintf(id, sizeof id, "%lld-%llu", (long long)e->at_ms, (unsigned long long)++s->seq);
    const char *err = room_apply(s->room, id, e, NULL);
    event_clear(e);
    return err;
}

/* A client's write: checked against the room, then applied. */
static const char *write_msg(struct sim *s, int64_t pid, enum role role, struct msg *m)
{
    struct event e;
    snprintf(m->op, sizeof m->op, "o%llu", (unsigned long long)s->seq + 1);
    const char *err = room_check(s->room, pid, role, m, &e);
    return err ? err : apply(s, &e);
}

static int64_t join(struct sim *s, enum role role, const char *nick)
{
    struct msg m = {.type = MSG_JOIN, .as = role, .nickname = (char *)nick, .anonymous = !nick};
    struct event e;
    const char *err = room_check_join(s->room, &m, &e);
    int64_t pid = err ? 0 : e.pid;
    if (err || (err = apply(s, &e)))
        fail("join", err);
    return pid;
}

static const struct participant *part(const struct sim *s, int p)
{
    return room_participant(s->room, s->pid[p]);
}

static bool votes_for(const struct participant *pp, uint32_t id)
{
    for (size_t i = 0; i < pp->n_voted; i++)
        if (pp->voted[i] == id)
            return true;
    return false;
}

static void vote(struct sim *s, int p, enum msg_type type, uint32_t id)
{
    struct msg m = {.type = type, .item = id};
    const char *err = write_msg(s, s->pid[p], ROLE_CITIZEN, &m);
    if (err)
        fail(type == MSG_VOTE ? "vote" : "unvote", err);
}

/* Participant 'p' looks at 'ids': each one they like (probability q) gets their vote; with the
 * budget spent, a liked item better than their weakest choice takes that vote (unvote + vote, as
 * "vote for your top five" works on a phone). Their own ideas they pass over. */
static void look(struct sim *s, int p, const uint32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t id = ids[i];
        const struct participant *pp = part(s, p);
        const struct item *it = room_item(s->room, id);
        if (it->author == s->pid[p] || votes_for(pp, id) || urand() >= s->idea[id].q)
            continue;
        if (pp->n_voted >= BUDGET) {
            uint32_t weakest = pp->voted[0];
            for (size_t j = 1; j < pp->n_voted; j++)
                if (s->idea[pp->voted[j]].q < s->idea[weakest].q)
                    weakest = pp->voted[j];
            if (s->idea[weakest].q >= s->idea[id].q)
                continue;
            vote(s, p, MSG_UNVOTE, weakest);
        }
        vote(s, p, MSG_VOTE, id);
        if (s->idea[id].first < 0)
            s->idea[id].first = s->now;
    }
}

/* The discover answers' showings of the last 2 s, as one stored event. */
static void flush_showings(struct sim *s)
{
    struct event e;
    if (room_take_showings(s->room, &e)) {
        const char *err = apply(s, &e);
        if (err)
            fail("showings", err);
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
    double n_good, median_first, p90_first, never, median_all, tau, top_hits;
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
    struct jam_config c = {0};
    strcpy(c.code, "000001");
    c.title = "fairsim";
    c.question = "Q";
    c.agenda[0] = (struct agenda_step){PHASE_IDEATE, 0};
    c.n_agenda = 1;
    c.settings = (struct jam_settings){true, BUDGET, 1, 500, false, false};
    struct room_limits lim = {(uint32_t)n_ideas + 1, (uint32_t)n_part + 1};
    struct sim s = {.n_part = n_part, .n_ideas = n_ideas, .room = room_new(&c, &lim)};
    s.idea = calloc((size_t)n_ideas + 1, sizeof(*s.idea));
    s.pid = calloc((size_t)n_part, sizeof(*s.pid));
    struct event created = {.type = EV_JAM_CREATED};
    apply(&s, &created);
    int64_t mod = join(&s, ROLE_MODERATOR, "Mo");
    for (int p = 0; p < n_part; p++)
        s.pid[p] = join(&s, ROLE_CITIZEN, NULL);
    struct msg start = {.type = MSG_START};
    const char *err = write_msg(&s, mod, ROLE_MODERATOR, &start);
    if (err)
        fail("start", err);
    if (fair_mode) {
        struct msg order = {.type = MSG_SET_ORDER, .order = ORDER_FAIR};
        if ((err = write_msg(&s, mod, ROLE_MODERATOR, &order)))
            fail("set_order", err);
    }
    for (int i = 1; i <= n_ideas; i++) {
        double u = urand();
        s.idea[i].q = 0.05 + 0.5 * u * u; /* most ideas mediocre, a few good */
        s.idea[i].first = -1;
        s.idea[i].posted = i <= EARLY ? 0
                                      : (int)(PHASE_S * (0.3 + 0.5 * (double)(i - EARLY) /
                                                                   (double)(n_ideas - EARLY)));
    }
    uint32_t ids[LIST];
    for (s.now = 0; s.now < PHASE_S; s.now++) {
        while (s.live < n_ideas && s.idea[s.live + 1].posted <= s.now) {
            int by = (int)(urand() * n_part);
            struct msg m = {.type = MSG_POST, .kind = KIND_IDEA, .text = "an idea"};
            if ((err = write_msg(&s, s.pid[by], ROLE_CITIZEN, &m)))
                fail("post", err);
            s.live++;
        }
        for (int p = 0; p < n_part; p++) {
            if (urand() >= 1.0 / ACT_EVERY)
                continue;
            size_t n;
            if (!fair_mode) {
                n = room_top_by(s.room, KIND_IDEA, ORDER_TOP, LIST, ids);
            } else if (urand() < 0.5) {
                n = room_discover(s.room, s.pid[p], DISCOVER, ids);
                room_offered(s.room, ids, n);
            } else {
                n = room_top_by(s.room, KIND_IDEA, ORDER_FAIR, LIST, ids);
            }
            look(&s, p, ids, n);
        }
        if (s.now % SHOWINGS_EVERY_S == SHOWINGS_EVERY_S - 1)
            flush_showings(&s);
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
    int n_all = 0; /* every late idea, good or not: seconds to its first vote (censored alike) */
    for (int i = EARLY + 1; i <= n_ideas; i++)
        waits[n_all++] = (s.idea[i].first < 0 ? PHASE_S : s.idea[i].first) - s.idea[i].posted;
    qsort(waits, (size_t)n_all, sizeof(int), cmp_int);
    f.median_all = n_all ? waits[n_all / 2] : 0;

    uint32_t *order = malloc((size_t)n_ideas * sizeof(*order));
    size_t n = room_top(s.room, KIND_IDEA, (size_t)n_ideas, order); /* in the jam's order */
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
    room_free(s.room);
    free(s.pid);
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
            sum[m].median_all += f.median_all / seeds;
            sum[m].never += f.never / seeds;
            sum[m].tau += f.tau / seeds;
            sum[m].top_hits += f.top_hits / seeds;
        }
    printf("# fairsim (through room.c): %d participants, %d ideas (%d at the start, the rest from "
           "30%% "
           "to 80%% of a %d s phase), lists of %d, discover views of %d, budget %d, mean of %d "
           "seeds\n",
           n_part, n_ideas, EARLY, PHASE_S, LIST, DISCOVER, BUDGET, seeds);
    printf("%-46s %10s %10s\n", "", "top", "fair");
    printf("%-46s %10.1f %10.1f\n", "good late ideas (true top quarter, mid-phase)", sum[0].n_good,
           sum[1].n_good);
    printf("%-46s %10.0f %10.0f\n", "  seconds to their first vote, median", sum[0].median_first,
           sum[1].median_first);
    printf("%-46s %10.0f %10.0f\n", "  seconds to their first vote, p90", sum[0].p90_first,
           sum[1].p90_first);
    printf("%-46s %10.1f %10.1f\n", "  never voted for", sum[0].never, sum[1].never);
    printf("%-46s %10.0f %10.0f\n", "every late idea: seconds to first vote, median",
           sum[0].median_all, sum[1].median_all);
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
