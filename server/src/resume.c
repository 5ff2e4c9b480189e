/* SPDX-License-Identifier: MIT
 * resume.c - the catch-up driver of resume.h. The pages themselves (what a range of the stream
 * touched) are catchup.c's; this file reads them through the store, shares them between the
 * sessions waiting for them and queues their updates.
 */
#include "resume.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "catchup.h"
#include "config.h"
#include "fifo.h"
#include "frame.h"
#include "hub.h"
#include "jam.h"
#include "log.h"
#include "net.h"
#include "now.h"
#include "room.h"
#include "session.h"
#include "store.h"
#include "view.h"

struct resume {
    struct hub *hub;     /* borrowed */
    unsigned reads;      /* page reads in flight */
    struct fifo waiting; /* owned struct page_read: reads waiting for a slot */
};

/* A page read, waiting for a read slot or for the store. */
struct page_read {
    struct pending base;
    struct resume *rs;
    struct jam *jam;           /* borrowed: jams live until shutdown */
    struct catchup_page *page; /* borrowed from jam->pages, kept while 'reading' */
};

struct resume *resume_new(struct hub *h)
{
    struct resume *rs = xcalloc(1, sizeof *rs);
    rs->hub = h;
    h->resume = rs;
    return rs;
}

void resume_free(struct resume *rs)
{
    if (!rs)
        return;
    struct pending *p;
    while ((p = fifo_pop(&rs->waiting)))
        p->free(p);
    fifo_deinit(&rs->waiting);
    free(rs);
}

bool resume_start(struct hub *h, struct session *s, const char *last_id)
{
    /* A malformed id compares as 0-0, so the first comparison refuses it too. storage_up is the
     * loop's view (down only once the store said so): just after a start the link may not be up
     * yet, and the page read then waits for it instead of the resume failing (60-recovery). */
    if (h->cfg->resume_max_events <= 0 || !h->storage_up || stream_id_cmp(last_id, "0-1") < 0 ||
        stream_id_cmp(last_id, s->jam->room->last_id) >= 0)
        return false;
    memset(&s->catchup, 0, sizeof s->catchup);
    s->catchup.on = true;
    snprintf(s->catchup.after, sizeof s->catchup.after, "%s", last_id);
    s->wants_snapshot = WANT_NONE;
    return true;
}

void resume_end(struct session *s, bool caught_up)
{
    s->catchup.on = false;
    s->catchup.waiting = false;
    s->cursor = s->jam->ring.head;
    if (!caught_up)
        s->wants_snapshot = WANT_RESYNC;
    net_want_write(s);
}

/* Send page 'p' to session 's' (which waited for it, or found it read). */
static void deliver(struct hub *h, struct session *s, struct catchup_page *p, const struct now *now)
{
    struct jam *j = s->jam;
    struct catchup *c = &s->catchup;
    c->waiting = false;
    c->events += p->events;
    if (c->events > (uint64_t)h->cfg->resume_max_events) {
        resume_end(s, false);
        return;
    }
    if (!p->frame || strcmp(p->frame_id, j->room->last_id) != 0 ||
        now->ms - p->frame_ms >= jam_cache_max_age_ms(h->cfg)) {
        frame_unref(p->frame);
        p->frame = frame_from_string(
            view_catchup(j->room, &p->touched, now->wall_ms, (unsigned)h->cfg->rank_top));
        memcpy(p->frame_id, j->room->last_id, sizeof p->frame_id);
        p->frame_ms = now->ms;
    }
    p->used_ms = now->ms;
    jam_snapshot_body(j, h->cfg, now->ms, now->wall_ms);
    if (c->bytes + p->frame->len > j->snap_body_len) {
        resume_end(s, false); /* a snapshot is cheaper now */
        return;
    }
    if (session_enqueue(s, p->frame) < 0) {
        resume_end(s, false);
        return;
    }
    c->bytes += p->frame->len;
    c->found = true;
    memcpy(c->after, p->to, sizeof c->after);
    if (stream_id_cmp(c->after, j->room->delta.prev) >= 0)
        resume_end(s, true);
    else
        net_want_write(s); /* the next page is asked for when this update has left the queue */
}

/* Every waiter of 'p' gets it (filled) or a resync (failed; then 'p' is dropped). */
static void answer(struct hub *h, struct jam *j, struct catchup_page *p, bool filled,
                   const struct now *now)
{
    for (size_t i = 0; i < p->n_waiters; i++) {
        struct session *s = hub_find_session(h, p->waiters[i]);
        if (!s || s->jam != j || !s->catchup.on || !s->catchup.waiting ||
            strcmp(s->catchup.after, p->after) != 0)
            continue; /* gone, or synced meanwhile */
        if (filled)
            deliver(h, s, p, now);
        else
            resume_end(s, false);
    }
    p->n_waiters = 0;
    if (!filled)
        catchup_drop(&j->pages, p);
}

static void page_read_free(struct pending *base)
{
    free(base);
}

static void after_page_read(struct pending *base, const struct store_result *res,
                            const struct now *now, void *arg);

static void issue(struct resume *rs, struct page_read *pr, const struct now *now)
{
    struct hub *h = rs->hub;
    struct jam *j = pr->jam;
    struct catchup_page *p = pr->page;
    uint64_t ctx = pending_next_ctx(&h->pending);
    if (store_read(h->store, j->key, p->after, p->first, CATCHUP_PAGE + p->first, ctx, now->ms) <
        0) {
        free(pr);
        p->reading = false;
        answer(h, j, p, false, now);
        return;
    }
    pending_add(&h->pending, ctx, &pr->base);
    rs->reads++;
}

/* Read page 'p' now, or when a read slot frees up. */
static void read_page(struct resume *rs, struct jam *j, struct catchup_page *p,
                      const struct now *now)
{
    struct page_read *pr = xcalloc(1, sizeof *pr);
    pr->base.done = after_page_read;
    pr->base.free = page_read_free;
    pr->rs = rs;
    pr->jam = j;
    pr->page = p;
    if (rs->reads < RESUME_READS)
        issue(rs, pr, now);
    else
        fifo_push(&rs->waiting, pr);
}

void resume_next(struct hub *h, struct session *s, const struct now *now)
{
    struct jam *j = s->jam;
    struct catchup_page *p = catchup_find(&j->pages, s->catchup.after);
    if (p && !p->reading) {
        deliver(h, s, p, now);
        return;
    }
    bool fresh = !p;
    if (fresh)
        p = catchup_add(&j->pages, s->catchup.after, !s->catchup.found, now->ms);
    catchup_wait(p, s->id);
    s->catchup.waiting = true;
    if (fresh)
        read_page(h->resume, j, p, now);
}

/* The read of a page finished. */
static void after_page_read(struct pending *base, const struct store_result *res,
                            const struct now *now, void *arg)
{
    struct page_read *pr = (struct page_read *)base;
    struct resume *rs = pr->rs;
    struct hub *h = arg;
    struct jam *j = pr->jam;
    struct catchup_page *p = pr->page;
    free(pr);
    rs->reads--;
    enum catchup_fill f = CATCHUP_NOTHING;
    if (res->err)
        log_debug("jam %s: catch-up read after %s failed (%s)", j->code, p->after, res->err);
    else if ((f = catchup_fill(p, j->room, res->entries, res->n_entries, j->room->delta.prev)) ==
             CATCHUP_NOTHING)
        log_warn("jam %s: the stream has nothing after %s up to %s, which was broadcast", j->code,
                 p->after, j->room->delta.prev);
    else if (f == CATCHUP_UNKNOWN_ID)
        log_debug("jam %s: last_event_id %s is not in the stream", j->code, p->after);
    p->reading = false;
    answer(h, j, p, !res->err && f == CATCHUP_FILLED, now);
    while (rs->reads < RESUME_READS && fifo_len(&rs->waiting))
        issue(rs, fifo_pop(&rs->waiting), now);
}
