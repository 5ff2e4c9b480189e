/* SPDX-License-Identifier: MIT
 * metrics.h - the server's counters for GET /metrics: plain counters, counters by one label and
 * fixed-bucket histograms of milliseconds, plus their encoding in the Prometheus text exposition
 * format (version 0.0.4). Pure: it reads no clock (the glue passes the durations it measured) and
 * does no I/O. Trade-off: a labelled counter holds at most METRICS_LABELS_MAX values in a flat
 * array, searched linearly; its labels are the protocol's message types, error codes and close
 * codes (a few dozen, all ours), so a lookup is a few short compares and nothing grows.
 */
#ifndef COJAM_METRICS_H
#define COJAM_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_LABELS_MAX 64 /* values of one label: the error table has ~40 codes */
#define METRICS_LABEL_MAX 31  /* bytes of one label value; longer ones are cut */
#define METRICS_OTHER "other" /* where the values beyond METRICS_LABELS_MAX are counted */
#define METRICS_BUCKETS 13    /* bounds in metrics.c */

struct metrics_labels {
    size_t used;
    struct {
        char value[METRICS_LABEL_MAX + 1];
        uint64_t n;
    } v[METRICS_LABELS_MAX];
};

struct metrics_hist {
    uint64_t le[METRICS_BUCKETS]; /* observations <= each bound (not cumulative here) */
    uint64_t count;               /* every observation, +Inf included */
    int64_t sum_ms;
};

enum metrics_hist_id {
    METRICS_STORE_MS, /* an append sent to the store's reply */
    METRICS_APPLY_MS, /* an append sent to its ack, given from its apply */
    METRICS_TICK_MS,  /* one tick of the loop */
    METRICS_HIST__COUNT
};

/* Everything the glue counts; zeroed memory is an empty set (the hub embeds one). */
struct metrics {
    struct metrics_labels received;  /* client messages decoded, by type */
    struct metrics_labels errors;    /* error frames sent, by code */
    struct metrics_labels closes;    /* connections closed, by WebSocket close code */
    struct metrics_labels refused;   /* admission refusals, by kind */
    uint64_t appended;               /* appends the store confirmed */
    uint64_t applied;                /* stream entries applied, whoever wrote them */
    uint64_t applied_own;            /* those of them this process wrote, once matched to it */
    uint64_t deliveries, bytes_sent; /* frames handed to the transport, their payload bytes */
    uint64_t resyncs;                /* resync snapshots forced on sessions that fell behind */
    struct metrics_hist hist[METRICS_HIST__COUNT];
};

/* What is read at scrape time rather than counted. */
struct metrics_gauges {
    const struct metrics_labels *connections; /* open WebSocket sessions, by role */
    uint64_t jams;
    bool redis_up;
    int64_t period_ms;       /* the broadcast period in force */
    int64_t loop_cpu_pct;    /* the loop thread's smoothed CPU, % of one core */
    int64_t write_ns;        /* the measured CPU per frame written; 0 = not measured yet */
    uint64_t store_batches;  /* store_batches() */
    uint64_t partial_writes; /* net_partial_writes() */
};

/* Add 'by' to the count of 'value' (cut to METRICS_LABEL_MAX bytes; METRICS_OTHER once the set
 * is full). */
void metrics_count(struct metrics_labels *l, const char *value, uint64_t by);
/* The count of 'value', 0 when never counted. */
uint64_t metrics_get(const struct metrics_labels *l, const char *value);
/* One observation of 'ms' (negative counts as 0). */
void metrics_observe(struct metrics *m, enum metrics_hist_id h, int64_t ms);
/* The text exposition of 'm' and 'g' (malloc'd, NUL-terminated): every family with its HELP and
 * TYPE lines, names prefixed "cojam_", durations in seconds. */
char *metrics_encode(const struct metrics *m, const struct metrics_gauges *g);

#endif
