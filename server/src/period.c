/* SPDX-License-Identifier: MIT
 * period.c - the broadcast period's controller (see period.h): smoothed costs in, a period out.
 */
#include "period.h"

#include <stdbool.h>

static double smooth(double old, double sample, int primed)
{
    return primed ? old + PERIOD_ALPHA * (sample - old) : sample;
}

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* The costs of one sample. A pass that writes frames also pays what a quiet pass pays (the poll
 * over every socket, timers); what it costs beyond that is the frames'. */
static void observe(struct period *p, const struct period_sample *s)
{
    if (s->quiet_passes)
        p->pass_us = smooth(p->pass_us, (double)s->quiet_cpu_us / (double)s->quiet_passes,
                            p->pass_us > 0);
    /* 'other' is this sample's CPU less its own frames at this sample's own price: the smoothed
     * price lags a change, and the lag must not show as a jump in 'other' (the period would
     * overshoot, then sit in the deadband). */
    double write_us = p->write_us > 0 ? p->write_us : PERIOD_PRIOR_WRITE_US;
    if (s->writes >= PERIOD_MIN_WRITES) {
        double busy_cpu = (double)(s->cpu_us - s->quiet_cpu_us);
        double busy_passes = (double)(s->passes - s->quiet_passes);
        double per_write = (busy_cpu - busy_passes * p->pass_us) / (double)s->writes;
        /* Never below a tenth of the plain share, never above it: a noisy pass cost must not
         * make frames look free. */
        double plain = busy_cpu / (double)s->writes;
        per_write = clamp(per_write, plain / 10, plain);
        p->write_us = smooth(p->write_us, per_write, p->write_us > 0);
        write_us = per_write;
    }
    double wall = (double)s->wall_us;
    double other = clamp(((double)s->cpu_us - (double)s->writes * write_us) / wall, 0, 1);
    int primed = p->period_ms > 0;
    p->other = smooth(p->other, other, primed);
    p->cpu_share = smooth(p->cpu_share, clamp((double)s->cpu_us / wall, 0, 1), primed);
}

int64_t period_target(const struct period *p, const struct period_params *k, size_t clients)
{
    double budget = clamp(k->budget_pct / 100.0, 0.01, 1);
    double left = budget - p->other;
    if (left < budget * PERIOD_MIN_SHARE)
        left = budget * PERIOD_MIN_SHARE;
    double write_us = p->write_us > 0 ? p->write_us : PERIOD_PRIOR_WRITE_US;
    double ms = (double)clients * write_us / (1000.0 * left);
    double floor_ms = (double)k->floor_ms;
    double max_ms = floor_ms > PERIOD_MAX_MS ? floor_ms : PERIOD_MAX_MS;
    return (int64_t)(clamp(ms, floor_ms, max_ms) + 0.5);
}

int64_t period_update(struct period *p, const struct period_params *k,
                      const struct period_sample *s, size_t clients)
{
    if (s && s->wall_us > 0 && s->cpu_us >= 0 && s->quiet_cpu_us >= 0 &&
        s->quiet_cpu_us <= s->cpu_us && s->quiet_passes <= s->passes)
        observe(p, s);
    int64_t target = period_target(p, k, clients);
    int64_t cur = p->period_ms;
    if (cur <= 0) {
        p->period_ms = target;
        return target;
    }
    double ratio = (double)target / (double)cur;
    /* The deadband holds inside the bounds; a target at a bound is always reached. */
    bool bound = target == k->floor_ms || target >= PERIOD_MAX_MS;
    if (!bound && ratio > 1 - PERIOD_DEADBAND && ratio < 1 + PERIOD_DEADBAND)
        return cur;
    double next = (double)cur * clamp(ratio, PERIOD_STEP_DOWN, PERIOD_STEP_UP);
    p->period_ms = (int64_t)(next + 0.5);
    if (p->period_ms < k->floor_ms)
        p->period_ms = k->floor_ms;
    return p->period_ms;
}
