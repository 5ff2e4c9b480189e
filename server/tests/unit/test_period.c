/* SPDX-License-Identifier: MIT
 * test_period.c - unit tests for period.c: the period before anything is measured, its bounds,
 * the step response of a simulated loop whose cost per frame changes, and the absence of
 * oscillation when every sample is noisy.
 */
#include "period.h"
#include "test.h"

#include <math.h>
#include <stdint.h>

#define SAMPLE_US 500000.0 /* the loop samples every 500 ms */
#define QUIET_PASSES 300.0
#define BUSY_PASSES 100.0

static const struct period_params params = {.floor_ms = 50, .budget_pct = 75};

/* A loop with these true costs: 'write_us' per frame, 'pass_us' per pass, 'work' of the core
 * on everything else (done in quiet passes), every client one frame per period. 'noise' scales
 * the sample's CPU figures (1 = exact). */
struct machine {
    double write_us, pass_us, work;
};

static struct period_sample sample(const struct machine *m, size_t clients, int64_t period_ms,
                                   double noise_quiet, double noise_busy)
{
    double writes = (double)clients * (SAMPLE_US / 1000.0) / (double)period_ms;
    double quiet = (QUIET_PASSES * m->pass_us + m->work * SAMPLE_US) * noise_quiet;
    double busy = (BUSY_PASSES * m->pass_us + writes * m->write_us) * noise_busy;
    return (struct period_sample){
        .wall_us = (int64_t)SAMPLE_US,
        .cpu_us = (int64_t)(quiet + busy),
        .quiet_cpu_us = (int64_t)quiet,
        .passes = (uint64_t)(QUIET_PASSES + BUSY_PASSES),
        .quiet_passes = (uint64_t)QUIET_PASSES,
        .writes = (uint64_t)writes,
    };
}

/* The period at which this machine uses exactly the budget. */
static double ideal_ms(const struct machine *m, size_t clients)
{
    double fixed = ((QUIET_PASSES + BUSY_PASSES) * m->pass_us) / SAMPLE_US + m->work;
    return (double)clients * m->write_us / (1000.0 * (params.budget_pct / 100.0 - fixed));
}

/* A seeded generator of noise factors in [1 - amp, 1 + amp]. */
static double noise(uint64_t *state, double amp)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    double u = (double)(*state >> 11) / 9007199254740992.0;
    return 1 + amp * (2 * u - 1);
}

TEST(before_any_sample_the_prior_cost)
{
    struct period p = {0};
    /* 5,000 clients x 15 us per frame within 75% of a core: 100 ms. */
    CHECK_EQ_INT(period_update(&p, &params, NULL, 5000), 100);
    struct period q = {0};
    CHECK_EQ_INT(period_update(&q, &params, NULL, 1000), 50); /* 20 ms: the tick is the floor */
    struct period r = {0};
    CHECK_EQ_INT(period_update(&r, &params, NULL, 0), 50);
}

TEST(bounded_by_the_tick_and_the_maximum)
{
    struct period p = {0};
    CHECK_EQ_INT(period_update(&p, &params, NULL, 10000000), PERIOD_MAX_MS);
    struct machine m = {.write_us = 8, .pass_us = 20, .work = 0.05};
    for (int i = 0; i < 50; i++) {
        struct period_sample s = sample(&m, 10000000, p.period_ms, 1, 1);
        int64_t ms = period_update(&p, &params, &s, 10000000);
        CHECK(ms >= params.floor_ms && ms <= PERIOD_MAX_MS);
    }
    CHECK_EQ_INT(p.period_ms, PERIOD_MAX_MS);
    /* A tick above the maximum wins: the timer cannot push more often anyway. */
    struct period_params slow = {.floor_ms = 3000, .budget_pct = 75};
    struct period q = {0};
    CHECK_EQ_INT(period_update(&q, &slow, NULL, 10), 3000);
    CHECK_EQ_INT(period_update(&q, &slow, NULL, 10000000), 3000);
}

TEST(settles_on_the_budget)
{
    struct machine m = {.write_us = 10, .pass_us = 40, .work = 0.10};
    struct period p = {0};
    period_update(&p, &params, NULL, 8000);
    for (int i = 0; i < 30; i++) {
        struct period_sample s = sample(&m, 8000, p.period_ms, 1, 1);
        period_update(&p, &params, &s, 8000);
    }
    double ideal = ideal_ms(&m, 8000);
    CHECK(fabs((double)p.period_ms - ideal) <= ideal * PERIOD_DEADBAND);
    /* and the loop's share of the core is then close to the budget */
    CHECK(fabs(p.cpu_share - 0.75) < 0.10);
}

TEST(step_response_to_a_dearer_frame)
{
    struct machine m = {.write_us = 8, .pass_us = 30, .work = 0.05};
    struct period p = {0};
    size_t n = 5000;
    for (int i = 0; i < 30; i++) {
        struct period_sample s = sample(&m, n, p.period_ms ? p.period_ms : 50, 1, 1);
        period_update(&p, &params, &s, n);
    }
    double before = ideal_ms(&m, n);
    CHECK(fabs((double)p.period_ms - before) <= before * PERIOD_DEADBAND);
    m.write_us *= 2.5; /* the machine got busier: every frame costs 2.5x */
    double after = ideal_ms(&m, n);
    int reached = -1;
    int64_t prev = p.period_ms;
    for (int i = 0; i < 40; i++) {
        struct period_sample s = sample(&m, n, p.period_ms, 1, 1);
        int64_t ms = period_update(&p, &params, &s, n);
        CHECK((double)ms <= (double)prev * PERIOD_STEP_UP + 1); /* bounded steps */
        CHECK((double)ms <= after * (1 + PERIOD_DEADBAND) + 1); /* no overshoot */
        prev = ms;
        if (reached < 0 && fabs((double)ms - after) <= after * PERIOD_DEADBAND)
            reached = i;
    }
    CHECK(reached >= 0 && reached <= 12);
    CHECK(fabs((double)p.period_ms - after) <= after * PERIOD_DEADBAND);
    /* and back: cheaper frames shorten it again, a quarter at most per sample */
    m.write_us /= 2.5;
    prev = p.period_ms;
    for (int i = 0; i < 40; i++) {
        struct period_sample s = sample(&m, n, p.period_ms, 1, 1);
        int64_t ms = period_update(&p, &params, &s, n);
        CHECK((double)ms >= (double)prev * PERIOD_STEP_DOWN - 1);
        prev = ms;
    }
    CHECK(fabs((double)p.period_ms - before) <= before * PERIOD_DEADBAND);
}

TEST(no_oscillation_on_noisy_samples)
{
    struct machine m = {.write_us = 12, .pass_us = 50, .work = 0.08};
    size_t n = 10000;
    struct period p = {0};
    uint64_t seed = 16;
    for (int i = 0; i < 40; i++) {
        struct period_sample s = sample(&m, n, p.period_ms ? p.period_ms : 50, noise(&seed, 0.3),
                                        noise(&seed, 0.3));
        period_update(&p, &params, &s, n);
    }
    double ideal = ideal_ms(&m, n);
    int changes = 0;
    int64_t lo = p.period_ms, hi = p.period_ms, prev = p.period_ms;
    for (int i = 0; i < 400; i++) {
        struct period_sample s = sample(&m, n, p.period_ms, noise(&seed, 0.3), noise(&seed, 0.3));
        int64_t ms = period_update(&p, &params, &s, n);
        changes += ms != prev;
        prev = ms;
        lo = ms < lo ? ms : lo;
        hi = ms > hi ? ms : hi;
    }
    /* +-30% on every sample: the period moves rarely and stays near the ideal */
    CHECK(changes <= 40);
    CHECK((double)lo >= ideal * 0.75 && (double)hi <= ideal * 1.25);
}

TEST(odd_samples_are_ignored)
{
    struct period p = {0};
    period_update(&p, &params, NULL, 5000);
    struct period_sample bad = {.wall_us = 500000,
                                .cpu_us = 100,
                                .quiet_cpu_us = 200,
                                .passes = 10,
                                .quiet_passes = 5,
                                .writes = 1000};
    CHECK_EQ_INT(period_update(&p, &params, &bad, 5000), 100);
    bad = (struct period_sample){.wall_us = 0, .cpu_us = 400000, .writes = 100000};
    CHECK_EQ_INT(period_update(&p, &params, &bad, 5000), 100);
    CHECK(p.write_us == 0); /* nothing was learnt */
    /* too few frames to price them: the prior stays */
    struct period_sample few = {.wall_us = 500000,
                                .cpu_us = 100000,
                                .quiet_cpu_us = 90000,
                                .passes = 100,
                                .quiet_passes = 90,
                                .writes = 10};
    period_update(&p, &params, &few, 5000);
    CHECK(p.write_us == 0);
}

int main(void)
{
    RUN(before_any_sample_the_prior_cost);
    RUN(bounded_by_the_tick_and_the_maximum);
    RUN(settles_on_the_budget);
    RUN(step_response_to_a_dearer_frame);
    RUN(no_oscillation_on_noisy_samples);
    RUN(odd_samples_are_ignored);
    return test_done();
}
