/* SPDX-License-Identifier: MIT
 * test_metrics.c - labelled counters (cut values, the "other" overflow), histogram buckets
 * (cumulative, +Inf, sum in seconds) and the text exposition (HELP/TYPE before each family,
 * label values escaped).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "test.h"

static struct metrics m;
static struct metrics_labels conns;

static char *encode(void)
{
    struct metrics_gauges g = {&conns, 3, true, 1250, 74, 9500, 17, 5};
    return metrics_encode(&m, &g);
}

static bool has(const char *text, const char *line)
{
    char want[256];
    snprintf(want, sizeof want, "\n%s\n", line);
    return strstr(text, want) != NULL;
}

TEST(labelled_counts)
{
    struct metrics_labels l = {0};
    metrics_count(&l, "vote", 1);
    metrics_count(&l, "vote", 2);
    metrics_count(&l, "post", 1);
    CHECK_EQ_INT(metrics_get(&l, "vote"), 3);
    CHECK_EQ_INT(metrics_get(&l, "post"), 1);
    CHECK_EQ_INT(metrics_get(&l, "join"), 0);
    CHECK_EQ_INT(l.used, 2);
    char long_value[80];
    memset(long_value, 'x', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = '\0';
    metrics_count(&l, long_value, 1);
    metrics_count(&l, long_value, 1);
    CHECK_EQ_INT(l.used, 3);
    CHECK_EQ_INT(strlen(l.v[2].value), METRICS_LABEL_MAX);
    CHECK_EQ_INT(l.v[2].n, 2);
}

TEST(overflow_goes_to_other)
{
    struct metrics_labels l = {0};
    char v[16];
    for (int i = 0; i < METRICS_LABELS_MAX + 10; i++) {
        snprintf(v, sizeof v, "c%d", i);
        metrics_count(&l, v, 1);
    }
    CHECK_EQ_INT(l.used, METRICS_LABELS_MAX);
    CHECK_EQ_INT(metrics_get(&l, METRICS_OTHER), 11);
    CHECK_EQ_INT(metrics_get(&l, "c0"), 1);
}

TEST(histogram_buckets)
{
    memset(&m, 0, sizeof m);
    metrics_observe(&m, METRICS_STORE_MS, 0);
    metrics_observe(&m, METRICS_STORE_MS, 1);
    metrics_observe(&m, METRICS_STORE_MS, 7);
    metrics_observe(&m, METRICS_STORE_MS, 60000);
    metrics_observe(&m, METRICS_STORE_MS, -5);
    char *t = encode();
    CHECK(has(t, "cojam_store_latency_seconds_bucket{le=\"0.001\"} 3"));
    CHECK(has(t, "cojam_store_latency_seconds_bucket{le=\"0.005\"} 3"));
    CHECK(has(t, "cojam_store_latency_seconds_bucket{le=\"0.010\"} 4"));
    CHECK(has(t, "cojam_store_latency_seconds_bucket{le=\"10.000\"} 4"));
    CHECK(has(t, "cojam_store_latency_seconds_bucket{le=\"+Inf\"} 5"));
    CHECK(has(t, "cojam_store_latency_seconds_sum 60.008"));
    CHECK(has(t, "cojam_store_latency_seconds_count 5"));
    CHECK(has(t, "cojam_tick_duration_seconds_count 0"));
    free(t);
}

TEST(exposition)
{
    memset(&m, 0, sizeof m);
    memset(&conns, 0, sizeof conns);
    metrics_count(&conns, "citizen", 2);
    metrics_count(&m.errors, "already_voted", 1);
    metrics_count(&m.closes, "a\"b\\c\nd", 1);
    m.deliveries = 42;
    char *t = encode();
    CHECK(strncmp(t, "# HELP cojam_connections ", 25) == 0);
    CHECK(has(t, "# TYPE cojam_connections gauge"));
    CHECK(has(t, "cojam_connections{role=\"citizen\"} 2"));
    CHECK(has(t, "cojam_jams 3"));
    CHECK(has(t, "cojam_redis_up 1"));
    CHECK(has(t, "cojam_broadcast_period_seconds 1.250"));
    CHECK(has(t, "cojam_loop_cpu_percent 74"));
    CHECK(has(t, "cojam_frame_write_cost_seconds 0.000009500"));
    CHECK(has(t, "# TYPE cojam_errors_sent_total counter"));
    CHECK(has(t, "cojam_errors_sent_total{code=\"already_voted\"} 1"));
    CHECK(has(t, "cojam_closes_total{code=\"a\\\"b\\\\c\\nd\"} 1"));
    CHECK(has(t, "cojam_deliveries_total 42"));
    CHECK(has(t, "# TYPE cojam_partial_writes_total counter"));
    CHECK(has(t, "cojam_partial_writes_total 5"));
    CHECK(has(t, "# TYPE cojam_redis_batches_total counter"));
    CHECK(has(t, "cojam_redis_batches_total 17"));
    CHECK(has(t, "# TYPE cojam_apply_latency_seconds histogram"));
    CHECK(t[strlen(t) - 1] == '\n');
    /* every sample line follows its family's TYPE line */
    CHECK(strstr(t, "# TYPE cojam_jams gauge") < strstr(t, "cojam_jams 3"));
    free(t);
}

int main(void)
{
    RUN(labelled_counts);
    RUN(overflow_goes_to_other);
    RUN(histogram_buckets);
    RUN(exposition);
    return test_done();
}
