/* SPDX-License-Identifier: MIT
 * metrics.c - counters, labelled counters, histograms and their text exposition (see metrics.h).
 */
#include "metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

/* Bucket bounds in ms, the same for every histogram: the loop's clock has millisecond
 * resolution, and a store round trip or a tick is 1-10 ms when healthy, seconds when not. */
static const int64_t bounds_ms[METRICS_BUCKETS] = {1,   2,   5,    10,   25,   50,   100,
                                                   250, 500, 1000, 2500, 5000, 10000};

void metrics_count(struct metrics_labels *l, const char *value, uint64_t by)
{
    size_t len = strnlen(value, METRICS_LABEL_MAX);
    for (size_t i = 0; i < l->used; i++) {
        if (strncmp(l->v[i].value, value, len) == 0 && l->v[i].value[len] == '\0') {
            l->v[i].n += by;
            return;
        }
    }
    if (l->used >= METRICS_LABELS_MAX - 1 && strcmp(value, METRICS_OTHER) != 0) {
        metrics_count(l, METRICS_OTHER, by); /* the last slot is kept for it */
        return;
    }
    memcpy(l->v[l->used].value, value, len);
    l->v[l->used].value[len] = '\0';
    l->v[l->used].n = by;
    l->used++;
}

uint64_t metrics_get(const struct metrics_labels *l, const char *value)
{
    for (size_t i = 0; i < l->used; i++)
        if (strcmp(l->v[i].value, value) == 0)
            return l->v[i].n;
    return 0;
}

void metrics_observe(struct metrics *m, enum metrics_hist_id id, int64_t ms)
{
    struct metrics_hist *h = &m->hist[id];
    if (ms < 0)
        ms = 0;
    for (int i = 0; i < METRICS_BUCKETS; i++) {
        if (ms <= bounds_ms[i]) {
            h->le[i]++;
            break;
        }
    }
    h->count++;
    h->sum_ms += ms;
}

/* ---- the text format ------------------------------------------------------------------------ */

struct text {
    char *buf;
    size_t len, cap;
};

static void put(struct text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            abort(); /* only our own formats are used */
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        t->cap = (t->len + (size_t)n + 1) * 2;
        t->buf = xrealloc(t->buf, t->cap);
    }
}

static void head(struct text *t, const char *name, const char *type, const char *help)
{
    put(t, "# HELP cojam_%s %s\n# TYPE cojam_%s %s\n", name, help, name, type);
}

/* A label value with \, " and newline escaped, as the format requires. */
static void put_value(struct text *t, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            put(t, "\\%c", *v);
        else if (*v == '\n')
            put(t, "\\n");
        else
            put(t, "%c", *v);
    }
}

static void labelled(struct text *t, const char *name, const char *type, const char *help,
                     const char *label, const struct metrics_labels *l)
{
    head(t, name, type, help);
    for (size_t i = 0; i < l->used; i++) {
        put(t, "cojam_%s{%s=\"", name, label);
        put_value(t, l->v[i].value);
        put(t, "\"} %" PRIu64 "\n", l->v[i].n);
    }
}

static void plain(struct text *t, const char *name, const char *type, const char *help, uint64_t v)
{
    head(t, name, type, help);
    put(t, "cojam_%s %" PRIu64 "\n", name, v);
}

static void seconds(struct text *t, int64_t ms)
{
    put(t, "%" PRId64 ".%03" PRId64, ms / 1000, ms % 1000);
}

static void histogram(struct text *t, const char *name, const char *help,
                      const struct metrics_hist *h)
{
    head(t, name, "histogram", help);
    uint64_t cum = 0;
    for (int i = 0; i < METRICS_BUCKETS; i++) {
        cum += h->le[i];
        put(t, "cojam_%s_bucket{le=\"", name);
        seconds(t, bounds_ms[i]);
        put(t, "\"} %" PRIu64 "\n", cum);
    }
    put(t, "cojam_%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, h->count);
    put(t, "cojam_%s_sum ", name);
    seconds(t, h->sum_ms);
    put(t, "\ncojam_%s_count %" PRIu64 "\n", name, h->count);
}

char *metrics_encode(const struct metrics *m, const struct metrics_gauges *g)
{
    struct text t = {xmalloc(4096), 0, 4096};
    t.buf[0] = '\0';
    labelled(&t, "connections", "gauge", "Open WebSocket sessions by role.", "role",
             g->connections);
    plain(&t, "jams", "gauge", "Live jams held by this process.", g->jams);
    plain(&t, "redis_up", "gauge", "1 while the store reaches Redis, else 0.", g->redis_up);
    head(&t, "broadcast_period_seconds", "gauge",
         "The broadcast period in force (the tick or longer, chosen for the CPU budget).");
    put(&t, "cojam_broadcast_period_seconds ");
    seconds(&t, g->period_ms);
    put(&t, "\n");
    plain(&t, "loop_cpu_percent", "gauge", "The event loop thread's CPU, % of one core, smoothed.",
          (uint64_t)(g->loop_cpu_pct > 0 ? g->loop_cpu_pct : 0));
    int64_t ns = g->write_ns > 0 ? g->write_ns : 0;
    head(&t, "frame_write_cost_seconds", "gauge",
         "The loop's measured CPU per frame written (0 before it was measured).");
    put(&t, "cojam_frame_write_cost_seconds %" PRId64 ".%09" PRId64 "\n", ns / 1000000000,
        ns % 1000000000);
    labelled(&t, "messages_received_total", "counter", "Client messages decoded, by type.", "type",
             &m->received);
    labelled(&t, "errors_sent_total", "counter", "Error frames sent, by code.", "code", &m->errors);
    plain(&t, "events_appended_total", "counter", "Appends to a stream that Redis confirmed.",
          m->appended);
    plain(&t, "events_applied_total", "counter",
          "Stream entries applied (replay and tail), whoever wrote them.", m->applied);
    plain(&t, "own_events_applied_total", "counter",
          "Applied entries this process wrote, counted when matched to their write.",
          m->applied_own);
    plain(&t, "redis_batches_total", "counter",
          "Batches of requests sent to Redis, each one round trip and one fsync.",
          g->store_batches);
    histogram(&t, "store_latency_seconds", "From an append sent to the store's reply.",
              &m->hist[METRICS_STORE_MS]);
    histogram(&t, "apply_latency_seconds", "From an append sent to its ack, given at its apply.",
              &m->hist[METRICS_APPLY_MS]);
    histogram(&t, "tick_duration_seconds", "One tick of the event loop.",
              &m->hist[METRICS_TICK_MS]);
    plain(&t, "deliveries_total", "counter", "Frames handed to the transport.", m->deliveries);
    plain(&t, "sent_bytes_total", "counter", "Payload bytes of the frames handed to the transport.",
          m->bytes_sent);
    plain(
        &t, "partial_writes_total", "counter",
        "Frames the socket did not take whole (a slow reader): the rest left at its next POLLOUT.",
        g->partial_writes);
    plain(&t, "resyncs_total", "counter", "Resync snapshots sent to sessions that fell behind.",
          m->resyncs);
    labelled(&t, "closes_total", "counter", "Sessions closed, by WebSocket close code.", "code",
             &m->closes);
    labelled(&t, "admission_refusals_total", "counter",
             "Requests refused by the per-address limits, by kind.", "kind", &m->refused);
    return t.buf;
}
