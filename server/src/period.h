/* SPDX-License-Identifier: MIT
 * period.h - the broadcast period that keeps the loop within a CPU budget. Pure: the loop hands
 * it, once per sample interval, what net measured over that interval (the loop thread's CPU
 * time, its passes, the frames it wrote); it keeps smoothed costs and answers the period.
 *
 * The model: the loop spends a share 'other' of its core on everything but writing frames
 * (reading, polling, encoding, the store's completions) and 'write_us' per frame written. Every
 * client gets one update per period, so at N clients and a period of P ms the frames cost
 * N * write_us / (1000 * P) of the core; the period is the shortest P that keeps
 * other + that within the budget, between the tick and PERIOD_MAX_MS.
 *
 * It does not oscillate on noisy input: costs are smoothed (PERIOD_ALPHA), a target within
 * PERIOD_DEADBAND of the current period leaves it alone, and a step moves at most a factor
 * PERIOD_STEP_UP up or PERIOD_STEP_DOWN down. Zeroed memory is the state before the first sample.
 */
#ifndef COJAM_PERIOD_H
#define COJAM_PERIOD_H

#include <stddef.h>
#include <stdint.h>

/* A screen more than two seconds behind the room no longer looks live; beyond this the period
 * stops growing and the loop goes over its budget instead. */
#define PERIOD_MAX_MS 2000
/* Before anything was measured, one frame is taken to cost this: the raw fan-out probe measured
 * 6-12 us per 60-byte send on these 2-core machines at 1,000-5,000 sockets, and cojam delivered
 * at about 0.7 of that (issue 16). */
#define PERIOD_PRIOR_WRITE_US 15.0
#define PERIOD_ALPHA 0.25     /* weight of a new sample in the smoothed costs */
#define PERIOD_DEADBAND 0.12  /* a target within 12% of the period leaves it as it is */
#define PERIOD_STEP_UP 2.0    /* at most doubles per sample: overload is met quickly */
#define PERIOD_STEP_DOWN 0.75 /* shrinks by at most a quarter per sample */
#define PERIOD_MIN_WRITES 200 /* fewer frames in a sample say too little about their cost */
#define PERIOD_MIN_SHARE 0.25 /* of the budget always left to frames, whatever 'other' takes */

/* What the loop measured over one sample interval. */
struct period_sample {
    int64_t wall_us;       /* how long the interval was */
    int64_t cpu_us;        /* the loop thread's CPU time over it */
    int64_t quiet_cpu_us;  /* of that, in passes that wrote no frame */
    uint64_t passes;       /* loop passes */
    uint64_t quiet_passes; /* of them, passes that wrote no frame */
    uint64_t writes;       /* frames written */
};

struct period_params {
    int64_t floor_ms; /* the tick: the period is never shorter */
    int budget_pct;   /* of one core, 1-100 */
};

struct period {
    double write_us;  /* smoothed CPU per frame written, beyond its pass's own cost; 0 = none yet */
    double pass_us;   /* smoothed CPU of a pass that writes nothing */
    double other;     /* smoothed share of the core spent on everything but frames */
    double cpu_share; /* smoothed share of the core the loop used */
    int64_t period_ms; /* the current period; 0 before the first period_update */
};

/* Fold sample 's' (NULL or an empty one: nothing measured) into 'p' and return the period for
 * 'clients' clients under 'k'. */
int64_t period_update(struct period *p, const struct period_params *k,
                      const struct period_sample *s, size_t clients);

/* The period the costs in 'p' call for at 'clients' clients, before deadband and step limits
 * (what period_update moves towards). */
int64_t period_target(const struct period *p, const struct period_params *k, size_t clients);

#endif
