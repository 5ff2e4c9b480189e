/* SPDX-License-Identifier: MIT
 * loop.c - what runs on a wake and on every tick (see loop.h). It reads the clock once per entry
 * and hands the time down.
 */
#include "loop.h"

#include <malloc.h>
#include <stdbool.h>

#include "api.h"
#include "broadcast.h"
#include "catchup.h"
#include "config.h"
#include "handlers.h"
#include "hub.h"
#include "jam.h"
#include "keys.h"
#include "log.h"
#include "net.h"
#include "now.h"
#include "recovery.h"
#include "session.h"
#include "store.h"

#define LOOP_RESULTS 64           /* store results taken per store_poll */
#define LOOP_SWEEP_PERIOD_MS 1000 /* sessions that never joined; heap trimming */
#define LOOP_TRIM_SNAPSHOTS 500   /* snapshots sent between two heap trims */
/* The close code of a drain: RFC 6455's registry has 1012 "Service Restart", which tells a client
 * to reconnect (phones do so on any close: web-client/public/js/conn.js). */
#define LOOP_DRAIN_CLOSE 1012
/* After the writes' bound, how long the closes may take before the loop stops anyway: a close
 * frame is sent after the frames queued before it (at most 64, session.h). */
#define LOOP_DRAIN_GRACE_MS 1000
/* The period's controller samples the loop this often: ten ticks, thousands of frames at a few
 * thousand clients, enough to price one; and it follows a change within a few seconds. */
#define LOOP_PERIOD_SAMPLE_MS 500

static void on_result(struct hub *h, const struct store_result *res, const struct now *now)
{
    char code[MSG_CODE_LEN + 1] = "";
    switch (res->kind) {
    case STORE_APPENDED:
        h->metrics.appended += res->err == NULL;
        pending_complete(&h->pending, res, now, h);
        break;
    case STORE_RANGE:
        pending_complete(&h->pending, res, now, h);
        break;
    case STORE_TAILED:
        recovery_apply_tailed(h, res, now);
        break;
    case STORE_FENCED:
        if (res->key)
            keys_stream_code(res->key, code);
        log_warn("jam %s: another cojamd (%s) holds its writes; this one refuses them "
                 "(not_owner) until it can take the jam over",
                 code, res->owner);
        break;
    case STORE_UP:
    case STORE_DOWN:
        if (h->storage_up != (res->kind == STORE_UP)) {
            h->storage_up = res->kind == STORE_UP;
            log_warn("storage %s", h->storage_up ? "up again" : "down: writes fail");
            broadcast_status(h, h->storage_up);
        }
        break;
    }
}

void loop_on_wake(void *arg)
{
    struct hub *h = arg;
    const struct now now = net_now();
    recovery_poll(h, &now);
    struct store_result results[LOOP_RESULTS];
    size_t n;
    while ((n = store_poll(h->store, results, LOOP_RESULTS)) > 0) {
        for (size_t i = 0; i < n; i++) {
            on_result(h, &results[i], &now);
            store_result_clear(&results[i]);
        }
    }
}

/* Close the sessions that opened but did not join in time. */
static void sweep_sessions(struct hub *h, const struct now *now)
{
    uint64_t v;
    for (size_t pos = 0; imap_next(&h->sessions, &pos, NULL, &v);) {
        struct session *s = (struct session *)(uintptr_t)v;
        if (!s->jam && !s->joining && !s->close_code &&
            now->ms - s->opened_ms > SESSION_JOIN_TIMEOUT_MS) {
            session_mark_close(s, 4002, "no join in time");
            net_close(s);
        }
    }
}

/* SIGTERM (net_drain): new connections are refused already; a session with no write in flight
 * is closed with 1012 after what is queued for it, one with writes in flight once they are
 * answered (each is bounded by --redis-timeout-ms: the store's timeout, then apply_timeout), so
 * nothing acknowledged is cut off; once every session is gone, or the bound and a grace have
 * passed, the loop stops and main releases the leases (store_free). */
static void drain(struct hub *h, const struct now *now)
{
    if (!h->draining) {
        h->draining = true;
        h->drain_started_ms = now->ms;
        log_info("draining: new connections refused; %zu session(s) to close with %d once their "
                 "writes are answered",
                 h->sessions.used, LOOP_DRAIN_CLOSE);
    }
    int64_t waited = now->ms - h->drain_started_ms;
    bool late = waited >= h->cfg->redis_timeout_ms;
    uint64_t v;
    for (size_t pos = 0; imap_next(&h->sessions, &pos, NULL, &v);) {
        struct session *s = (struct session *)(uintptr_t)v;
        if (s->close_code || s->drain_code || (!late && (s->inflight || s->joining)))
            continue;
        session_mark_close_drained(s, LOOP_DRAIN_CLOSE, "server restarting: reconnect");
        net_close(s);
    }
    if (h->sessions.used == 0 || waited >= h->cfg->redis_timeout_ms + LOOP_DRAIN_GRACE_MS) {
        log_info("drained in %lld ms (%zu session(s) still open)", (long long)waited,
                 h->sessions.used);
        net_stop(h->net);
    }
}

int64_t loop_on_tick(int64_t now_ms, void *arg)
{
    struct hub *h = arg;
    const struct now now = {now_ms, net_wall_ms()};
    if (now.ms - h->period_sampled_ms >= LOOP_PERIOD_SAMPLE_MS) {
        h->period_sampled_ms = now.ms;
        broadcast_calibrate(h, now.ms);
    }
    int64_t period_ms = broadcast_period_ms(h);
    int64_t next_ms = h->cfg->tick_ms;
    void *v;
    for (size_t pos = 0; smap_next(&h->jams, &pos, NULL, &v);) {
        struct jam *j = v;
        handlers_check_deadline(h, j, &now);
        handlers_expire_awaiting(h, j, &now);
        handlers_flush_showings(h, j, &now);
        recovery_maybe_snapshot(h, j, &now);
        if (j->pages.n)
            catchup_sweep(&j->pages, now.ms, CATCHUP_IDLE_MS);
        int64_t due_ms = broadcast_jam(h, j, period_ms, &now);
        if (due_ms < next_ms)
            next_ms = due_ms;
        broadcast_words(j, &now);
    }
    store_expire(h->store, now.ms);
    if (net_is_draining(h->net))
        drain(h, &now);
    if (now.ms - h->last_sweep_ms >= LOOP_SWEEP_PERIOD_MS) {
        h->last_sweep_ms = now.ms;
        sweep_sessions(h, &now);
        hub_admit_sweep(h, now.ms);
        /* A join storm leaves the heap full of freed snapshot buffers between the sessions'
         * long-lived blocks; give those pages back (measured: 5.5 -> 4.0 KB per idle connection
         * after 5,000 joins to a jam of 50 ideas). */
        if (h->snapshots_since_trim >= LOOP_TRIM_SNAPSHOTS) {
            h->snapshots_since_trim = 0;
            malloc_trim(0);
        }
    }
    /* The tick's one second clock read: how long the tick took is the point of measuring it. */
    metrics_observe(&h->metrics, METRICS_TICK_MS, net_now_ms() - now_ms);
    return next_ms;
}

void loop_callbacks(struct hub *h, struct net_callbacks *cbs)
{
    *cbs = (struct net_callbacks){
        .arg = h,
        .on_open = hub_on_open,
        .on_message = handlers_on_message,
        .next_frame = broadcast_next_frame,
        .on_close = hub_on_close,
        .on_wake = loop_on_wake,
        .on_tick = loop_on_tick,
        .tick_arg = h,
        .on_http = api_on_http,
        .on_http_headers = api_on_http_headers,
    };
}
