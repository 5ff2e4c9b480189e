/* SPDX-License-Identifier: MIT
 * catchup.h - pages of a jam's stream read back for resumes (proto/messages.md, "welcome"): a
 * page covers the stored events after one id up to another and records what they touched
 * (room_touch). A range of the stream never changes, so the page is shared: every session that
 * resumes from the same id (a room whose Wi-Fi dropped reconnects with one last id) waits for one
 * read and one decoding of each page, and, within a tick, one encoding of its update.
 * Pure: no I/O and no clock (times come in); handlers.c issues the reads and sends the frames.
 */
#ifndef COJAM_CATCHUP_H
#define COJAM_CATCHUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"
#include "room.h"
#include "stream.h"

struct frame;

#define CATCHUP_PAGE 256 /* stored events per page... */
#define CATCHUP_PAGE_BYTES                                                                         \
    (256u << 10)              /* ...and at most this much of their JSON, so that one
                                           update fits a session's queue (SESSION_QUEUE_BYTES) */
#define CATCHUP_PAGES_MAX 64  /* pages kept per jam; the least recently used goes */
#define CATCHUP_IDLE_MS 10000 /* a page nobody asked for in this long is dropped */

struct catchup_page {
    char after[MSG_EVENT_ID_MAX + 1]; /* the events after this id... */
    char to[MSG_EVENT_ID_MAX + 1];    /* ...up to this one ("" until read) */
    bool first;   /* read from 'after' inclusive, to check that the stream has it (a client's
                       own last id); later pages start at an id read before */
    bool reading; /* its read is queued or in flight: it is neither evicted nor swept */
    struct room_delta touched; /* prev = after, from/to, and what the events touched */
    uint32_t events;
    uint64_t *waiters; /* owned: ids of the sessions waiting for the read */
    size_t n_waiters, cap_waiters;
    struct frame *frame; /* owned reference: the update, encoded for the room at ... */
    char frame_id[MSG_EVENT_ID_MAX + 1]; /* ... this last applied id ... */
    int64_t frame_ms;                    /* ... at this time (its clock and counters age) */
    int64_t used_ms;
};

struct catchup_cache {
    struct catchup_page **pages; /* owned */
    size_t n, cap;
};

enum catchup_fill {
    CATCHUP_FILLED,     /* 'to', 'touched' and 'events' are set */
    CATCHUP_UNKNOWN_ID, /* a first page: the stream does not have 'after' */
    CATCHUP_NOTHING,    /* no event after 'after' up to 'upto': the stream lacks events the
                           loop applied (deleted, or trimmed under us) */
};

struct catchup_page *catchup_find(const struct catchup_cache *c, const char *after);
/* A new page to be read ('reading' set). When the cache is full the least recently used page
 * not being read is dropped first. */
struct catchup_page *catchup_add(struct catchup_cache *c, const char *after, bool first,
                                 int64_t now_ms);
void catchup_wait(struct catchup_page *p, uint64_t session_id);
/* Record the read of 'p': 'entries' (n of them, 'asked' were asked for) in stream order. Takes
 * the events up to 'upto' (the last id the ring has broadcast), at most CATCHUP_PAGE_BYTES of
 * them (at least one), and what they touch in room 'r'. Clears 'reading'. */
enum catchup_fill catchup_fill(struct catchup_page *p, const struct room *r,
                               const struct stream_entry *entries, size_t n, const char *upto);
/* Remove and free 'p'. */
void catchup_drop(struct catchup_cache *c, struct catchup_page *p);
/* Free the pages not being read and not used since 'idle_ms' before 'now_ms'. */
void catchup_sweep(struct catchup_cache *c, int64_t now_ms, int64_t idle_ms);
void catchup_cache_free(struct catchup_cache *c);

#endif
