/* SPDX-License-Identifier: MIT
 * catchup.c - shared pages of a jam's stream for resumes (see catchup.h).
 */
#include "catchup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "codec.h"
#include "frame.h"
#include "stream.h"

struct catchup_page *catchup_find(const struct catchup_cache *c, const char *after)
{
    for (size_t i = 0; i < c->n; i++) /* a few pages at most: a scan is enough */
        if (strcmp(c->pages[i]->after, after) == 0)
            return c->pages[i];
    return NULL;
}

static void page_free(struct catchup_page *p)
{
    room_delta_clear(&p->touched);
    frame_unref(p->frame);
    free(p->waiters);
    free(p);
}

static void remove_at(struct catchup_cache *c, size_t i)
{
    page_free(c->pages[i]);
    c->pages[i] = c->pages[--c->n];
}

struct catchup_page *catchup_add(struct catchup_cache *c, const char *after, bool first,
                                 int64_t now_ms)
{
    if (c->n == CATCHUP_PAGES_MAX) {
        size_t lru = c->n;
        for (size_t i = 0; i < c->n; i++)
            if (!c->pages[i]->reading &&
                (lru == c->n || c->pages[i]->used_ms < c->pages[lru]->used_ms))
                lru = i;
        if (lru < c->n)
            remove_at(c, lru);
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 8;
        c->pages = xrealloc(c->pages, c->cap * sizeof *c->pages);
    }
    struct catchup_page *p = xcalloc(1, sizeof *p);
    snprintf(p->after, sizeof p->after, "%s", after);
    p->first = first;
    p->reading = true;
    p->used_ms = now_ms;
    c->pages[c->n++] = p;
    return p;
}

void catchup_wait(struct catchup_page *p, uint64_t session_id)
{
    if (p->n_waiters == p->cap_waiters) {
        p->cap_waiters = p->cap_waiters ? p->cap_waiters * 2 : 8;
        p->waiters = xrealloc(p->waiters, p->cap_waiters * sizeof *p->waiters);
    }
    p->waiters[p->n_waiters++] = session_id;
}

enum catchup_fill catchup_fill(struct catchup_page *p, const struct room *r,
                               const struct stream_entry *entries, size_t n, const char *upto)
{
    size_t i = 0, bytes = 0;
    p->reading = false;
    if (p->first) {
        if (!n || strcmp(entries[0].id, p->after) != 0)
            return CATCHUP_UNKNOWN_ID;
        i = 1;
    }
    memset(&p->touched, 0, sizeof p->touched);
    memcpy(p->touched.prev, p->after, sizeof p->touched.prev);
    for (; i < n && stream_id_cmp(entries[i].id, upto) <= 0; i++) {
        const struct stream_entry *e = &entries[i];
        if (bytes && bytes + e->len > CATCHUP_PAGE_BYTES)
            break; /* the rest is the next page */
        bytes += e->len;
        struct event ev;
        struct codec_error ce;
        if (codec_event_decode(e->payload, e->len, &ev, &ce) < 0)
            memset(&ev, 0, sizeof ev); /* logged at recovery; it changed nothing: covered as is */
        room_touch(r, e->id, &ev, &p->touched);
        event_clear(&ev);
        p->events++;
    }
    if (!p->events)
        return CATCHUP_NOTHING;
    memcpy(p->to, p->touched.to, sizeof p->to);
    return CATCHUP_FILLED;
}

void catchup_drop(struct catchup_cache *c, struct catchup_page *p)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->pages[i] == p) {
            remove_at(c, i);
            return;
        }
}

void catchup_cache_free(struct catchup_cache *c)
{
    for (size_t i = 0; i < c->n; i++)
        page_free(c->pages[i]);
    free(c->pages);
    c->pages = NULL;
    c->n = c->cap = 0;
}

void catchup_sweep(struct catchup_cache *c, int64_t now_ms, int64_t idle_ms)
{
    for (size_t i = c->n; i-- > 0;)
        if (!c->pages[i]->reading && now_ms - c->pages[i]->used_ms >= idle_ms)
            remove_at(c, i);
    if (!c->n)
        catchup_cache_free(c);
}
