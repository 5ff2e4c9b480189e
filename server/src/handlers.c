/* SPDX-License-Identifier: MIT
 * handlers.c - the policy glue (see handlers.h). A write goes: decode (codec) -> check against the
 * room plus writes in flight (room_check) -> append to the jam's stream (store) -> when Redis has
 * answered: apply (room_apply), ack the sender at once, and leave the change in the room's delta,
 * which the next tick encodes once (view_update) into the jam's ring of shared frames. Clients
 * pull frames from the ring at their own pace through hub_next_frame().
 */
#include "handlers.h"

#include <errno.h>
#include <malloc.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "auth.h"
#include "catchup.h"
#include "codec.h"
#include "config.h"
#include "frame.h"
#include "hash.h"
#include "log.h"
#include "net.h"
#include "replay.h"
#include "room.h"
#include "session.h"
#include "store.h"
#include "view.h"

#define JAMS_SET "cojam:jams"
#define RESYNC_LIMIT 3
#define RESYNC_WINDOW_MS 60000
#define CATCHUP_READS 16       /* catch-up page reads in flight at once, all jams together */
#define CATCHUP_IDLE_MS 10000  /* a page nobody asked for in this long is dropped */

/* A per-jam ring of shared, immutable, pre-framed updates. Sequence q lives in slots[q % cap]
 * while head - q <= cap; a session's cursor is the next sequence it has to send. */
struct ring {
    struct frame **slots; /* owned references */
    char (*prev)[MSG_EVENT_ID_MAX + 1]; /* per slot: the update's prev and to ids, for resume */
    char (*to)[MSG_EVENT_ID_MAX + 1];
    size_t cap;
    uint64_t head;
};

struct jam {
    char code[MSG_CODE_LEN + 1];
    char key[64];             /* the stream key */
    struct room *room;        /* owned */
    struct ring ring;
    struct session *members;  /* borrowed: sessions unlink themselves on close */
    uint32_t online;
    struct smap pending_ops;  /* "pid:op" of writes in flight -> (void *)1 */
    int64_t next_push_ms;     /* monotonic: the next broadcast is due then */
    int64_t last_stats_push_ms;
    char *snap_body;          /* owned: citizens' and screens' snapshot body, see snapshot_for */
    size_t snap_body_len;
    char snap_body_id[MSG_EVENT_ID_MAX + 1];
    int64_t snap_body_ms;
    uint64_t snap_events;     /* n_events covered by the newest snapshot stored or in flight */
    bool snap_inflight;
    struct catchup_cache pages; /* stream pages read for resumes */
};

enum pending_kind {
    PENDING_WRITE, PENDING_JOIN, PENDING_CREATE, PENDING_CLOCK, PENDING_SNAPSHOT,
    PENDING_PAGE, /* a catch-up read (no event) */
};

/* One append waiting for Redis. */
struct pending {
    enum pending_kind kind;
    uint64_t session_id;   /* 0 = none */
    uint64_t http_id;      /* create */
    struct jam *jam;       /* borrowed; NULL for create */
    char code[MSG_CODE_LEN + 1];
    char secret[AUTH_SECRET_CHARS + 1]; /* create: the moderator secret to return once */
    uint64_t snap_events;  /* snapshot: the n_events it covers */
    struct catchup_page *page; /* page: borrowed from jam->pages (kept while 'reading') */
    struct event ev;       /* owned */
};

struct hub {
    const struct config *cfg;  /* borrowed */
    struct store *store;       /* borrowed */
    struct net *net;           /* borrowed */
    uint8_t key[128];
    size_t key_len;
    char *admin_token;         /* owned */
    char *public_url;          /* owned */
    struct smap jams;          /* code -> struct jam * (owned) */
    struct smap creating;      /* codes being created -> (void *)1 */
    struct imap pending;       /* ctx -> struct pending * (owned) */
    uint64_t next_ctx;
    struct imap sessions;      /* session id -> struct session * (borrowed) */
    uint64_t next_session_id;
    bool ready;
    struct replay *replay;     /* owned while recovering */
    int64_t recovery_started_ms;
    bool storage_up;
    int64_t last_sweep_ms;
    unsigned snapshots_since_trim;
    unsigned reads;            /* catch-up page reads in flight */
    struct queued_read { struct jam *jam; struct catchup_page *page; } *read_queue; /* owned:
                                  FIFO of pages waiting for a read slot */
    size_t rq_head, rq_len, rq_cap;
};

static int replay_payload(struct hub *h, const char *code, const char *id, const char *payload,
                          size_t len);
static void recover_some(struct hub *h);

/* ---- small helpers ------------------------------------------------------------------------- */

static struct jam *find_jam(const struct hub *h, const char *code)
{
    return smap_get(&h->jams, code);
}

static struct session *find_session(const struct hub *h, uint64_t id)
{
    uint64_t p;
    return id && imap_get(&h->sessions, id, &p) ? (struct session *)(uintptr_t)p : NULL;
}

static void op_key(char *buf, size_t size, int64_t pid, const char *op)
{
    snprintf(buf, size, "%" PRId64 ":%s", pid, op);
}

/* Queue a private frame (takes ownership of 'json'). A session whose queue is full is too slow
 * to be worth buffering for: it is closed with 4001 rather than allowed to grow our memory. */
static void send_json(struct session *s, char *json)
{
    struct frame *f = frame_from_string(json);
    if (session_enqueue(s, f) < 0) {
        session_mark_close(s, 4001, "too slow");
        net_close(s);
    } else {
        net_want_write(s);
    }
    frame_unref(f);
}

static void send_error(struct session *s, const char *op, const char *code, const char *message,
                       int64_t now_ms)
{
    log_debug("session %llu (pid %lld): error %s for op '%s'", (unsigned long long)s->id,
              (long long)s->pid, code, op ? op : "");
    send_json(s, view_error(op, code, message));
    if (view_error_by_client(code) && session_count_error(s, now_ms)) {
        session_mark_close(s, 4003, "too many errors");
        net_close(s);
    }
}

/* ---- jams and their rings ------------------------------------------------------------------ */

static struct jam *jam_new(struct hub *h, const struct jam_config *cfg)
{
    struct jam *j = xcalloc(1, sizeof *j);
    snprintf(j->code, sizeof j->code, "%s", cfg->code);
    snprintf(j->key, sizeof j->key, "cojam:jam:%s:events", cfg->code);
    struct room_limits limits = {(uint32_t)h->cfg->max_items, (uint32_t)h->cfg->max_participants};
    j->room = room_new(cfg, &limits);
    j->ring.cap = (size_t)h->cfg->ring_frames;
    j->ring.slots = xcalloc(j->ring.cap, sizeof *j->ring.slots);
    j->ring.prev = xcalloc(j->ring.cap, sizeof *j->ring.prev);
    j->ring.to = xcalloc(j->ring.cap, sizeof *j->ring.to);
    smap_init(&j->pending_ops);
    smap_put(&h->jams, j->code, j);
    return j;
}

static void jam_free(void *p)
{
    struct jam *j = p;
    for (size_t i = 0; i < j->ring.cap; i++)
        frame_unref(j->ring.slots[i]);
    free(j->ring.slots);
    free(j->ring.prev);
    free(j->ring.to);
    free(j->snap_body);
    catchup_cache_free(&j->pages);
    smap_deinit(&j->pending_ops, NULL);
    room_free(j->room);
    free(j);
}

/* Push the update for the room's current delta (takes ownership of 'f'). */
static void ring_push(struct jam *j, struct frame *f)
{
    size_t i = j->ring.head % j->ring.cap;
    const struct room_delta *d = &j->room->delta;
    frame_unref(j->ring.slots[i]);
    j->ring.slots[i] = f;
    memcpy(j->ring.prev[i], d->prev, sizeof j->ring.prev[i]);
    memcpy(j->ring.to[i], d->to[0] ? d->to : j->room->last_id, sizeof j->ring.to[i]);
    j->ring.head++;
    for (struct session *s = j->members; s; s = s->next_member)
        net_want_write(s);
}

static void attach(struct jam *j, struct session *s, int64_t pid, enum role role)
{
    s->jam = j;
    s->pid = pid;
    s->role = role;
    s->prev_member = NULL;
    s->next_member = j->members;
    if (j->members)
        j->members->prev_member = s;
    j->members = s;
    s->cursor = j->ring.head;
    s->wants_snapshot = 1;
    if (role != ROLE_SCREEN) /* "online" counts people; screens are not */
        room_set_online(j->room, ++j->online);
}

static void detach(struct session *s)
{
    struct jam *j = s->jam;
    if (!j)
        return;
    if (s->prev_member)
        s->prev_member->next_member = s->next_member;
    else
        j->members = s->next_member;
    if (s->next_member)
        s->next_member->prev_member = s->prev_member;
    s->jam = NULL;
    if (s->role != ROLE_SCREEN)
        room_set_online(j->room, --j->online);
}

/* Where a client that last saw 'last_id' resumes in the ring: the first frame it is missing.
 * Returns false when the ring no longer holds everything after 'last_id' (or it is unknown). */
static bool ring_resume_point(const struct jam *j, const char *last_id, uint64_t *seq)
{
    const struct ring *g = &j->ring;
    if (room_id_cmp(last_id, j->room->last_id) > 0 || !strchr(last_id, '-'))
        return false; /* from the future, or from another epoch of this jam */
    uint64_t oldest = g->head > g->cap ? g->head - g->cap : 0;
    for (uint64_t q = oldest; q < g->head; q++) {
        size_t i = q % g->cap;
        if (room_id_cmp(g->to[i], last_id) > 0) {
            if (room_id_cmp(g->prev[i], last_id) > 0)
                return false; /* a gap: the frames that would close it are gone */
            *seq = q;
            return true;
        }
    }
    /* Nothing after last_id in the ring: resumable only if nothing was applied after it either
     * (what is applied but not yet broadcast goes out at the next tick). */
    *seq = g->head;
    return room_id_cmp(j->room->delta.prev, last_id) <= 0;
}

static void send_welcome(struct hub *h, struct session *s, bool resumed)
{
    struct token t = {.pid = s->pid, .role = s->role,
                      .exp_s = net_wall_ms() / 1000 + h->cfg->token_ttl_s};
    snprintf(t.jam, sizeof t.jam, "%s", s->jam->code);
    char token[MSG_TOKEN_MAX + 1];
    if (auth_token_sign(h->key, h->key_len, &t, token, sizeof token) < 0)
        abort(); /* MSG_TOKEN_MAX + 1 always suffices (auth.h) */
    const struct participant *p = room_participant(s->jam->room, s->pid);
    send_json(s, view_welcome(token, s->pid, s->role, p ? p->nickname : NULL, resumed));
    if (!h->storage_up)
        send_json(s, view_status(false)); /* joined during an outage: say so at once */
}

static void pending_free(struct pending *p)
{
    event_clear(&p->ev);
    free(p);
}

/* ---- resume from the stream ---------------------------------------------------------------- */

/* A client whose last event id the ring no longer covers gets the missed events read back from
 * the jam's stream, a page at a time (catchup.h), one update per page: the events' ids and the
 * current values of what they touched. Pages are shared by the sessions resuming from the same id
 * and read at most CATCHUP_READS at a time. A session asks for its next page only once its
 * previous update has left its queue, so a slow phone costs one page of memory, not its backlog.
 * When the pages reach the id up to which the ring has broadcast, the ring's next frame follows.
 * An id the stream does not have, a failed read, more missed events than --resume-max-events, or
 * more bytes of updates than a snapshot of the jam would take end it with a snapshot marked
 * resync instead. */

static bool catchup_possible(const struct hub *h, const struct jam *j, const char *last_id)
{
    /* A malformed id compares as 0-0, so the first comparison refuses it too. */
    return h->cfg->resume_max_events > 0 && store_is_up(h->store) &&
           room_id_cmp(last_id, "0-1") >= 0 && room_id_cmp(last_id, j->room->last_id) < 0;
}

static void catchup_begin(struct session *s, const char *last_id)
{
    memset(&s->catchup, 0, sizeof s->catchup);
    s->catchup.on = true;
    snprintf(s->catchup.after, sizeof s->catchup.after, "%s", last_id);
    s->wants_snapshot = 0;
}

/* Ends the catch-up: caught up (the ring's frames follow), or not (a resync snapshot instead). */
static void catchup_end(struct session *s, bool caught_up)
{
    s->catchup.on = false;
    s->catchup.waiting = false;
    s->cursor = s->jam->ring.head;
    if (!caught_up)
        s->wants_snapshot = 2;
    net_want_write(s);
}

/* The shared snapshot body of citizens and screens, encoded at most once per tick and state (a
 * join storm encodes the jam once per tick, not once per client). */
static const char *shared_snapshot_body(struct hub *h, struct jam *j)
{
    int64_t now = net_now_ms();
    if (!j->snap_body || strcmp(j->snap_body_id, j->room->last_id) != 0 ||
        now - j->snap_body_ms >= h->cfg->tick_ms) {
        free(j->snap_body);
        j->snap_body = view_snapshot_body(j->room, false, net_wall_ms(), (unsigned)h->cfg->rank_top);
        j->snap_body_len = strlen(j->snap_body);
        memcpy(j->snap_body_id, j->room->last_id, sizeof j->snap_body_id);
        j->snap_body_ms = now;
    }
    return j->snap_body;
}

/* Send page 'p' to session 's' (which waited for it, or found it read). */
static void catchup_deliver(struct hub *h, struct session *s, struct catchup_page *p)
{
    struct jam *j = s->jam;
    struct catchup *c = &s->catchup;
    int64_t now = net_now_ms();
    c->waiting = false;
    c->events += p->events;
    if (c->events > (uint64_t)h->cfg->resume_max_events) {
        catchup_end(s, false);
        return;
    }
    if (!p->frame || strcmp(p->frame_id, j->room->last_id) != 0 ||
        now - p->frame_ms >= h->cfg->tick_ms) {
        frame_unref(p->frame);
        p->frame = frame_from_string(
            view_catchup(j->room, &p->touched, net_wall_ms(), (unsigned)h->cfg->rank_top));
        memcpy(p->frame_id, j->room->last_id, sizeof p->frame_id);
        p->frame_ms = now;
    }
    p->used_ms = now;
    shared_snapshot_body(h, j);
    if (c->bytes + p->frame->len > j->snap_body_len) {
        catchup_end(s, false); /* a snapshot is cheaper now */
        return;
    }
    if (session_enqueue(s, p->frame) < 0) {
        catchup_end(s, false);
        return;
    }
    c->bytes += p->frame->len;
    c->found = true;
    memcpy(c->after, p->to, sizeof c->after);
    if (room_id_cmp(c->after, j->room->delta.prev) >= 0)
        catchup_end(s, true);
    else
        net_want_write(s); /* the next page is asked for when this update has left the queue */
}

/* Every waiter of 'p' gets it (filled) or a resync (failed; then 'p' is dropped). */
static void catchup_answer(struct hub *h, struct jam *j, struct catchup_page *p, bool filled)
{
    for (size_t i = 0; i < p->n_waiters; i++) {
        struct session *s = find_session(h, p->waiters[i]);
        if (!s || s->jam != j || !s->catchup.on || !s->catchup.waiting ||
            strcmp(s->catchup.after, p->after) != 0)
            continue; /* gone, or synced meanwhile */
        if (filled)
            catchup_deliver(h, s, p);
        else
            catchup_end(s, false);
    }
    p->n_waiters = 0;
    if (!filled)
        catchup_drop(&j->pages, p);
}

static void catchup_issue(struct hub *h, struct jam *j, struct catchup_page *p, int64_t now_ms)
{
    struct pending *pd = xcalloc(1, sizeof *pd);
    pd->kind = PENDING_PAGE;
    pd->jam = j;
    pd->page = p;
    uint64_t ctx = ++h->next_ctx;
    if (store_read(h->store, j->key, p->after, p->first, CATCHUP_PAGE + p->first, ctx,
                   now_ms) < 0) {
        pending_free(pd);
        p->reading = false;
        catchup_answer(h, j, p, false);
        return;
    }
    imap_put(&h->pending, ctx, (uint64_t)(uintptr_t)pd);
    h->reads++;
}

/* Read page 'p' now, or when a read slot frees up. */
static void catchup_read(struct hub *h, struct jam *j, struct catchup_page *p, int64_t now_ms)
{
    if (h->reads < CATCHUP_READS) {
        catchup_issue(h, j, p, now_ms);
        return;
    }
    if (h->rq_len == h->rq_cap) {
        size_t cap = h->rq_cap ? h->rq_cap * 2 : 16;
        struct queued_read *q = xmalloc(cap * sizeof *q);
        for (size_t i = 0; i < h->rq_len; i++)
            q[i] = h->read_queue[(h->rq_head + i) % h->rq_cap];
        free(h->read_queue);
        h->read_queue = q;
        h->rq_cap = cap;
        h->rq_head = 0;
    }
    h->read_queue[(h->rq_head + h->rq_len++) % h->rq_cap] = (struct queued_read){j, p};
}

/* Session 's' needs the page after s->catchup.after. */
static void catchup_next(struct hub *h, struct session *s, int64_t now_ms)
{
    struct jam *j = s->jam;
    struct catchup_page *p = catchup_find(&j->pages, s->catchup.after);
    if (p && !p->reading) {
        catchup_deliver(h, s, p);
        return;
    }
    bool fresh = !p;
    if (fresh)
        p = catchup_add(&j->pages, s->catchup.after, !s->catchup.found, now_ms);
    catchup_wait(p, s->id);
    s->catchup.waiting = true;
    if (fresh)
        catchup_read(h, j, p, now_ms);
}

/* The read of page 'p' of jam 'j' finished. */
static void catchup_page_read(struct hub *h, struct jam *j, struct catchup_page *p,
                              const struct store_result *res)
{
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
    catchup_answer(h, j, p, !res->err && f == CATCHUP_FILLED);
    int64_t now_ms = net_now_ms();
    while (h->reads < CATCHUP_READS && h->rq_len) {
        struct queued_read q = h->read_queue[h->rq_head];
        h->rq_head = (h->rq_head + 1) % h->rq_cap;
        h->rq_len--;
        catchup_issue(h, q.jam, q.page, now_ms);
    }
}

/* ---- the write path ------------------------------------------------------------------------ */

/* Append 'p->ev' to 'key' and track it. Takes ownership of 'p' in every case. Returns 0 or the
 * store's error (p freed, nothing reserved). */
static int submit(struct hub *h, struct pending *p, const char *key, int64_t now_ms)
{
    char *json = codec_event_encode(&p->ev);
    uint64_t ctx = ++h->next_ctx;
    if (p->kind == PENDING_CREATE)
        store_track(h->store, key, ""); /* a new stream: nothing to catch up on */
    int rc = store_append(h->store, key, json, p->kind == PENDING_CREATE ? JAMS_SET : NULL,
                          p->kind == PENDING_CREATE ? p->code : NULL, ctx, now_ms);
    free(json);
    if (rc < 0) {
        pending_free(p);
        return rc;
    }
    if (p->jam)
        room_reserve(p->jam->room, &p->ev);
    imap_put(&h->pending, ctx, (uint64_t)(uintptr_t)p);
    return 0;
}

static void handle_join(struct hub *h, struct session *s, struct msg *m, int64_t now_ms)
{
    if (s->jam || s->joining) {
        send_error(s, NULL, "already_joined", NULL, now_ms);
        return;
    }
    if (m->token) {
        struct token t;
        int rc = auth_token_verify(h->key, h->key_len, m->token, net_wall_ms() / 1000, &t);
        struct jam *j = rc == 0 ? find_jam(h, t.jam) : NULL;
        bool ok = j && (t.role == ROLE_SCREEN ? t.pid == 0 : room_participant(j->room, t.pid) != NULL);
        if (!ok) {
            send_error(s, NULL, "bad_token",
                       rc == -ETIMEDOUT ? "the session token has expired: join again" : NULL, now_ms);
            return;
        }
        attach(j, s, t.pid, t.role);
        uint64_t seq;
        bool resumed = false;
        if (m->last_event_id[0] && ring_resume_point(j, m->last_event_id, &seq)) {
            s->cursor = seq;
            s->wants_snapshot = 0;
            resumed = true;
        } else if (m->last_event_id[0] && catchup_possible(h, j, m->last_event_id)) {
            catchup_begin(s, m->last_event_id);
            resumed = true;
        } else if (m->last_event_id[0]) {
            s->wants_snapshot = 2; /* could not resume: a full snapshot, flagged as such */
        }
        send_welcome(h, s, resumed);
        return;
    }
    struct jam *j = find_jam(h, m->code);
    if (!j) {
        send_error(s, NULL, "no_such_jam", NULL, now_ms);
        return;
    }
    if (m->as == ROLE_SCREEN) {
        attach(j, s, 0, ROLE_SCREEN);
        send_welcome(h, s, false);
        return;
    }
    if (m->as == ROLE_MODERATOR &&
        !(m->secret && auth_secret_matches(m->secret, j->room->cfg.secret_sha256))) {
        send_error(s, NULL, "bad_secret", NULL, now_ms);
        return;
    }
    struct pending *p = xcalloc(1, sizeof *p);
    const char *err = room_check_join(j->room, m, &p->ev);
    if (err) {
        pending_free(p);
        send_error(s, NULL, err, NULL, now_ms);
        return;
    }
    p->kind = PENDING_JOIN;
    p->session_id = s->id;
    p->jam = j;
    p->ev.at_ms = net_wall_ms();
    if (submit(h, p, j->key, now_ms) < 0) {
        send_error(s, NULL, "storage_unavailable", NULL, now_ms);
        return;
    }
    s->joining = true;
}

/* The ack of op 'op', from its recorded outcome: the first answer and every retry's are equal. */
static void send_ack(struct session *s, const char *op, const struct op_done *done)
{
    send_json(s, view_ack(op, done->event_id, done->item, done->has_budget, done->budget_left));
}

/* post, vote, unvote and every moderator action. */
static void handle_write(struct hub *h, struct session *s, struct msg *m, int64_t now_ms)
{
    struct jam *j = s->jam;
    if (s->role != ROLE_CITIZEN && s->role != ROLE_MODERATOR) {
        send_error(s, m->op, "forbidden", NULL, now_ms);
        return;
    }
    const struct op_done *done = room_op_done(j->room, s->pid, m->op);
    if (done) {
        send_ack(s, m->op, done); /* a retry of an applied op: the original ack, no effect */
        return;
    }
    char key[32 + MSG_OP_MAX];
    op_key(key, sizeof key, s->pid, m->op);
    if (smap_get(&j->pending_ops, key) || s->inflight >= SESSION_MAX_INFLIGHT) {
        send_error(s, m->op, "busy", NULL, now_ms);
        return;
    }
    struct pending *p = xcalloc(1, sizeof *p);
    const char *err = room_check(j->room, s->pid, s->role, m, &p->ev);
    if (err) {
        pending_free(p);
        send_error(s, m->op, err, NULL, now_ms);
        return;
    }
    p->kind = PENDING_WRITE;
    p->session_id = s->id;
    p->jam = j;
    p->ev.at_ms = net_wall_ms();
    if (submit(h, p, j->key, now_ms) < 0) {
        send_error(s, m->op, "storage_unavailable", NULL, now_ms);
        return;
    }
    smap_put(&j->pending_ops, key, (void *)1);
    s->inflight++;
}

static void handle_sync(struct hub *h, struct session *s, struct msg *m, int64_t now_ms)
{
    (void)h, (void)m, (void)now_ms;
    catchup_end(s, false); /* a resync snapshot; a page of a catch-up still being read is not sent */
}

static void handle_ping(struct hub *h, struct session *s, struct msg *m, int64_t now_ms)
{
    (void)h, (void)now_ms;
    send_json(s, view_pong(m->has_t, m->t));
}

#define NEEDS_JOIN 1u

static const struct handler {
    void (*fn)(struct hub *h, struct session *s, struct msg *m, int64_t now_ms);
    unsigned flags;
} handlers[MSG__COUNT] = {
    [MSG_JOIN] = {handle_join, 0},
    [MSG_POST] = {handle_write, NEEDS_JOIN},
    [MSG_VOTE] = {handle_write, NEEDS_JOIN},
    [MSG_UNVOTE] = {handle_write, NEEDS_JOIN},
    [MSG_START] = {handle_write, NEEDS_JOIN},
    [MSG_SET_PHASE] = {handle_write, NEEDS_JOIN},
    [MSG_PAUSE] = {handle_write, NEEDS_JOIN},
    [MSG_RESUME] = {handle_write, NEEDS_JOIN},
    [MSG_EXTEND] = {handle_write, NEEDS_JOIN},
    [MSG_HIDE] = {handle_write, NEEDS_JOIN},
    [MSG_UNHIDE] = {handle_write, NEEDS_JOIN},
    [MSG_SYNC] = {handle_sync, NEEDS_JOIN},
    [MSG_PING] = {handle_ping, 0},
};

void hub_on_message(struct session *s, const char *text, size_t len, void *arg)
{
    struct hub *h = arg;
    int64_t now_ms = net_now_ms();
    if (s->close_code)
        return;
    if (!session_rate_ok(s, now_ms)) {
        send_error(s, NULL, "rate_limited", NULL, now_ms);
        return;
    }
    struct msg m;
    struct codec_error ce;
    if (codec_decode(text, len, &m, &ce) < 0) {
        send_error(s, ce.op, ce.code, ce.message, now_ms);
        return;
    }
    const struct handler *hd = &handlers[m.type];
    if (!h->ready && m.type != MSG_PING)
        send_error(s, m.op, "busy", "the server is recovering its state: retry shortly", now_ms);
    else if (!hd->fn)
        send_error(s, m.op, "unknown_type", NULL, now_ms);
    else if ((hd->flags & NEEDS_JOIN) && !s->jam)
        send_error(s, m.op, "not_joined", NULL, now_ms);
    else
        hd->fn(h, s, &m, now_ms);
    msg_clear(&m);
}

/* ---- completions from the store ------------------------------------------------------------ */

static void after_create(struct hub *h, struct pending *p, const struct store_result *res)
{
    smap_del(&h->creating, p->code);
    if (res->err) {
        net_http_reply(h->net, p->http_id, res->err == store_err_fenced ? 409 : 503,
                       view_http_error(res->err, NULL));
        return;
    }
    struct jam *j = jam_new(h, &p->ev.jam);
    room_apply(j->room, res->id, &p->ev, NULL);
    room_delta_reset(j->room);
    store_track(h->store, j->key, res->id);
    log_info("jam %s created (%s)", j->code, res->id);
    net_http_reply(h->net, p->http_id, 201, view_created(p->code, p->secret, h->public_url));
}

static void after_append(struct hub *h, const struct store_result *res)
{
    uint64_t v;
    if (!imap_get(&h->pending, res->ctx, &v))
        return;
    imap_del(&h->pending, res->ctx);
    struct pending *p = (struct pending *)(uintptr_t)v;
    if (p->kind == PENDING_CREATE) {
        after_create(h, p, res);
        pending_free(p);
        return;
    }
    struct jam *j = p->jam;
    if (p->kind == PENDING_PAGE) {
        h->reads--;
        catchup_page_read(h, j, p->page, res);
        pending_free(p);
        return;
    }
    if (p->kind == PENDING_SNAPSHOT) {
        j->snap_inflight = false;
        if (res->err)
            log_warn("jam %s: snapshot not stored (%s); the next tick tries again", j->code, res->err);
        else
            j->snap_events = p->snap_events;
        pending_free(p);
        return;
    }
    struct session *s = find_session(h, p->session_id);
    int64_t now_ms = net_now_ms();
    room_unreserve(j->room, &p->ev);
    if (p->kind == PENDING_WRITE) {
        char key[32 + MSG_OP_MAX];
        op_key(key, sizeof key, p->ev.by, p->ev.op);
        smap_del(&j->pending_ops, key);
        if (s && s->inflight)
            s->inflight--;
    }
    if (res->err) {
        if (p->kind == PENDING_JOIN && s)
            s->joining = false;
        if (s && p->kind != PENDING_CLOCK)
            send_error(s, p->ev.op, res->err, NULL, now_ms);
        if (p->kind == PENDING_CLOCK && res->err != store_err_fenced)
            log_warn("jam %s: phase_ended not stored (%s); retrying at the next tick", j->code,
                     res->err);
        pending_free(p);
        return;
    }
    const char *err = room_apply(j->room, res->id, &p->ev, NULL);
    const struct op_done *done =
        p->kind == PENDING_WRITE ? room_op_done(j->room, p->ev.by, p->ev.op) : NULL;
    if (err && strcmp(err, "duplicate_op") == 0) {
        /* The op reached the stream twice (a retry after an unknown outcome): one effect. */
        if (s && done)
            send_ack(s, p->ev.op, done);
    } else if (err) {
        log_error("jam %s: checked event %s did not apply (%s)", j->code, res->id, err);
        if (s)
            send_error(s, p->ev.op, "internal", NULL, now_ms);
    } else if (p->kind == PENDING_JOIN) {
        if (s) {
            s->joining = false;
            attach(j, s, p->ev.pid, p->ev.role);
            send_welcome(h, s, false);
        }
    } else if (s && done) {
        send_ack(s, p->ev.op, done);
    }
    pending_free(p);
}

/* An entry found in a stream after a reconnect: an append whose reply was lost did land. */
static void after_found(struct hub *h, const struct store_result *res)
{
    char code[MSG_CODE_LEN + 1];
    if (!res->key || sscanf(res->key, "cojam:jam:%6[0-9]:events", code) != 1)
        return;
    replay_payload(h, code, res->id, res->payload, strlen(res->payload));
}

static void broadcast_status(struct hub *h, bool up)
{
    for (size_t i = 0; i < h->sessions.cap; i++)
        if (h->sessions.state[i] == 1) {
            struct session *s = (struct session *)(uintptr_t)h->sessions.vals[i];
            if (s->jam)
                send_json(s, view_status(up));
        }
}

void hub_on_wake(void *arg)
{
    struct hub *h = arg;
    if (h->replay)
        recover_some(h);
    struct store_result results[64];
    size_t n;
    while ((n = store_poll(h->store, results, 64)) > 0) {
        for (size_t i = 0; i < n; i++) {
            struct store_result *res = &results[i];
            switch (res->kind) {
            case STORE_APPENDED:
            case STORE_RANGE:
                after_append(h, res);
                break;
            case STORE_FOUND:
                after_found(h, res);
                break;
            case STORE_FENCED: {
                char code[MSG_CODE_LEN + 1] = "";
                if (res->key)
                    sscanf(res->key, "cojam:jam:%6[0-9]:events", code);
                log_warn("jam %s: another cojamd (%s) holds its writes; this one refuses them "
                         "(not_owner) until it can take the jam over", code, res->owner);
                break;
            }
            case STORE_UP:
            case STORE_DOWN:
                if (h->storage_up != (res->kind == STORE_UP)) {
                    h->storage_up = res->kind == STORE_UP;
                    log_warn("storage %s", h->storage_up ? "up again" : "down: writes fail");
                    broadcast_status(h, h->storage_up);
                }
                break;
            }
            store_result_clear(res);
        }
    }
}

/* ---- the broadcast side -------------------------------------------------------------------- */

/* A session's snapshot: the shared body (shared_snapshot_body) plus its own "you"; moderators
 * see hidden items in full, so theirs is encoded for them. */
static char *snapshot_for(struct hub *h, struct jam *j, struct session *s)
{
    const struct participant *p = s->pid ? room_participant(j->room, s->pid) : NULL;
    bool resync = s->wants_snapshot == 2;
    if (s->role == ROLE_MODERATOR)
        return view_snapshot(j->room, s->role, p, net_wall_ms(), (unsigned)h->cfg->rank_top, resync);
    const char *body = shared_snapshot_body(h, j);
    return view_snapshot_with(j->room, j->snap_body_id, body, p, resync);
}

struct frame *hub_next_frame(struct session *s, bool *more, void *arg)
{
    struct hub *h = arg;
    struct frame *f = session_dequeue(s);
    struct jam *j = s->jam;
    if (j && s->catchup.on && !s->catchup.waiting && !s->q_len)
        catchup_next(h, s, net_now_ms()); /* the previous page is leaving: the next one */
    if (!f && j && !s->catchup.on) {
        uint64_t behind = j->ring.head - s->cursor;
        if (!s->wants_snapshot && behind > j->ring.cap) {
            /* Too far behind for the ring: a fresh snapshot instead, a few times at most. */
            int64_t now_ms = net_now_ms();
            if (now_ms - s->resync_window_ms > RESYNC_WINDOW_MS) {
                s->resync_window_ms = now_ms;
                s->resyncs = 0;
            }
            if (++s->resyncs >= RESYNC_LIMIT) {
                session_mark_close(s, 4001, "too slow");
                net_close(s);
                *more = false;
                return NULL;
            }
            s->wants_snapshot = 2;
        }
        if (s->wants_snapshot) {
            f = frame_from_string(snapshot_for(h, j, s));
            h->snapshots_since_trim++;
            s->wants_snapshot = 0;
            s->cursor = j->ring.head;
        } else if (behind) {
            f = frame_ref(j->ring.slots[s->cursor % j->ring.cap]);
            s->cursor++;
        }
    }
    *more = s->q_len || (s->jam && !s->catchup.on &&
                         (s->wants_snapshot || s->cursor != s->jam->ring.head));
    return f;
}

/* Store a snapshot once enough events accumulated since the last one: at least --snapshot-every,
 * and at least a quarter of the jam, so a restart replays at most a fifth of a big jam while the
 * cost of encoding (on the loop: about 60 ms per million events) stays rare. */
static void maybe_snapshot(struct hub *h, struct jam *j, int64_t now_ms)
{
    const struct room *r = j->room;
    uint64_t since = r->n_events - j->snap_events, every = (uint64_t)h->cfg->snapshot_every;
    if (j->snap_inflight || since < every || since < r->n_events / 4 || !store_is_up(h->store))
        return;
    unsigned char *buf;
    size_t len;
    room_snapshot_encode(r, false, &buf, &len);
    char key[64];
    snprintf(key, sizeof key, "cojam:jam:%s:snapshot", j->code);
    struct pending *p = xcalloc(1, sizeof *p);
    p->kind = PENDING_SNAPSHOT;
    p->jam = j;
    p->snap_events = r->n_events;
    uint64_t ctx = ++h->next_ctx;
    if (store_put(h->store, j->key, key, buf, len, ctx, now_ms) < 0) {
        pending_free(p);
    } else {
        imap_put(&h->pending, ctx, (uint64_t)(uintptr_t)p);
        j->snap_inflight = true;
    }
    free(buf);
}

static void sweep_sessions(struct hub *h, int64_t now_ms)
{
    for (size_t i = 0; i < h->sessions.cap; i++)
        if (h->sessions.state[i] == 1) {
            struct session *s = (struct session *)(uintptr_t)h->sessions.vals[i];
            if (!s->jam && !s->joining && !s->close_code &&
                now_ms - s->opened_ms > SESSION_JOIN_TIMEOUT_MS) {
                session_mark_close(s, 4002, "no join in time");
                net_close(s);
            }
        }
}

/* One delivered frame costs about 5-9 us of CPU here, nearly all of it in the kernel's send path
 * (load-tests profile; STACK-NOTES: 4-6 us). So the broadcast period grows with the audience to
 * keep every jam together under --max-deliveries-per-s: at the default 60,000/s that is the
 * 50 ms tick up to 3,000 clients, 83 ms at 5,000 and 167 ms at 10,000. */
static int64_t broadcast_period_ms(const struct hub *h)
{
    int64_t period = h->cfg->tick_ms;
    int64_t need = (int64_t)net_clients(h->net) * 1000 / h->cfg->max_deliveries;
    return need > period ? need : period;
}

void hub_on_tick(int64_t now_ms, void *arg)
{
    struct hub *h = arg;
    int64_t wall = net_wall_ms(), period = broadcast_period_ms(h);
    for (size_t i = 0; i < h->jams.cap; i++) {
        if (h->jams.state[i] != 1)
            continue;
        struct jam *j = h->jams.vals[i];
        struct event ev;
        if (room_check_deadline(j->room, wall, &ev)) {
            struct pending *p = xcalloc(1, sizeof *p);
            p->kind = PENDING_CLOCK;
            p->jam = j;
            p->ev = ev;
            p->ev.at_ms = wall;
            if (submit(h, p, j->key, now_ms) < 0)
                log_warn("jam %s: deadline passed but storage is unavailable", j->code);
        }
        if (h->ready)
            maybe_snapshot(h, j, now_ms);
        if (j->pages.n)
            catchup_sweep(&j->pages, now_ms, CATCHUP_IDLE_MS);
        /* Due within half a tick counts as due: the timer fires every tick_ms. */
        if (now_ms + h->cfg->tick_ms / 2 < j->next_push_ms)
            continue;
        /* Joins and counters alone (no item, vote or clock change) go out once a second: in a
         * join storm of thousands a push per tick to everyone already in would cost more than the
         * joins. The delta keeps accumulating, so the next update still covers every event. */
        const struct room_delta *d = &j->room->delta;
        if (!d->n_items && !d->n_votes && !d->clock && now_ms - j->last_stats_push_ms < 1000)
            continue;
        char *json = view_update(j->room, wall, (unsigned)h->cfg->rank_top);
        if (json) {
            ring_push(j, frame_from_string(json));
            room_delta_reset(j->room);
            j->next_push_ms = now_ms + period;
            j->last_stats_push_ms = now_ms;
        }
    }
    store_expire(h->store, now_ms);
    if (now_ms - h->last_sweep_ms >= 1000) {
        h->last_sweep_ms = now_ms;
        sweep_sessions(h, now_ms);
        /* A join storm leaves the heap full of freed snapshot buffers between the sessions'
         * long-lived blocks; give those pages back (measured: 5.5 -> 4.0 KB per idle connection
         * after 5,000 joins to a jam of 50 ideas). */
        if (h->snapshots_since_trim >= 500) {
            h->snapshots_since_trim = 0;
            malloc_trim(0);
        }
    }
}

/* ---- sessions ------------------------------------------------------------------------------ */

void hub_on_open(struct session *s, void *arg)
{
    struct hub *h = arg;
    s->id = ++h->next_session_id;
    imap_put(&h->sessions, s->id, (uint64_t)(uintptr_t)s);
}

void hub_on_close(struct session *s, void *arg)
{
    struct hub *h = arg;
    detach(s);
    imap_del(&h->sessions, s->id);
}

/* ---- HTTP API ------------------------------------------------------------------------------ */

/* SHA-256 of the canonical snapshot: equal states, equal digests (crash-recovery tests). */
static char *digest(const struct room *r)
{
    unsigned char *buf;
    size_t len;
    char hex[65];
    room_snapshot_encode(r, true, &buf, &len);
    auth_sha256_hex(buf, len, hex);
    free(buf);
    return view_digest(r->last_id, r->n_events, hex);
}

static bool admin_ok(const struct hub *h, const char *auth)
{
    const char *prefix = "Bearer ";
    size_t n = strlen(h->admin_token);
    if (strncmp(auth, prefix, strlen(prefix)) != 0)
        return false;
    auth += strlen(prefix);
    return strlen(auth) == n && auth_equal(auth, h->admin_token, n);
}

static void create_jam(struct hub *h, const struct http_request *req)
{
    if (!admin_ok(h, req->auth)) {
        net_http_reply(h->net, req->id, 401, view_http_error("unauthorized", "a valid admin token is needed"));
        return;
    }
    struct pending *p = xcalloc(1, sizeof *p);
    struct codec_error ce;
    if (codec_jam_config_decode(req->body, req->body_len, &p->ev.jam, &ce) < 0) {
        pending_free(p);
        net_http_reply(h->net, req->id, 400, view_http_error(ce.code, ce.message));
        return;
    }
    /* A fresh code: 10^6 codes, so a few draws find a free one unless the server is near full. */
    int tries = 0;
    do {
        if (auth_random_code(p->code) < 0 || ++tries > 50) {
            pending_free(p);
            net_http_reply(h->net, req->id, 503, view_http_error("internal", "no free join code"));
            return;
        }
    } while (find_jam(h, p->code) || smap_get(&h->creating, p->code));
    if (auth_random_secret(p->secret) < 0) {
        pending_free(p);
        net_http_reply(h->net, req->id, 503, view_http_error("internal", "no randomness"));
        return;
    }
    memcpy(p->ev.jam.code, p->code, sizeof p->code);
    auth_sha256_hex(p->secret, strlen(p->secret), p->ev.jam.secret_sha256);
    p->ev.type = EV_JAM_CREATED;
    p->ev.at_ms = net_wall_ms();
    p->kind = PENDING_CREATE;
    p->http_id = req->id;
    char key[64], code[MSG_CODE_LEN + 1];
    memcpy(code, p->code, sizeof code);
    snprintf(key, sizeof key, "cojam:jam:%s:events", code);
    if (submit(h, p, key, net_now_ms()) < 0) {
        net_http_reply(h->net, req->id, 503, view_http_error("storage_unavailable", NULL));
        return;
    }
    smap_put(&h->creating, code, (void *)1);
}

void hub_on_http(const struct http_request *req, void *arg)
{
    struct hub *h = arg;
    const char *path = req->path;
    bool get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
    if (strcmp(path, "/healthz") == 0) {
        net_http_reply(h->net, req->id, h->ready ? 200 : 503,
                       view_health(h->ready ? "ready" : "recovering", net_clients(h->net),
                                   h->jams.used, h->storage_up));
        return;
    }
    if (!h->ready) {
        net_http_reply(h->net, req->id, 503,
                       view_http_error("recovering", "the server is recovering its state"));
        return;
    }
    if (strcmp(path, "/api/jams") == 0) {
        if (post)
            create_jam(h, req);
        else
            net_http_reply(h->net, req->id, 405, view_http_error("bad_method", "use POST"));
        return;
    }
    char code[16] = "", rest[16] = "";
    if (get && sscanf(path, "/api/jams/%15[0-9]%15s", code, rest) >= 1 && strlen(code) == MSG_CODE_LEN) {
        struct jam *j = find_jam(h, code);
        if (!j)
            net_http_reply(h->net, req->id, 404, view_http_error("no_such_jam", NULL));
        else if (!rest[0])
            net_http_reply(h->net, req->id, 200, view_summary(j->room, net_wall_ms()));
        else if (strcmp(rest, "/log") == 0)
            net_http_reply(h->net, req->id, 200, view_modlog(j->room));
        else if (strcmp(rest, "/digest") == 0)
            net_http_reply(h->net, req->id, 200, digest(j->room));
        else
            net_http_reply(h->net, req->id, 404, view_http_error("not_found", "no such resource"));
        return;
    }
    net_http_reply(h->net, req->id, 404, view_http_error("not_found", "no such resource"));
}

/* ---- life cycle and replay ----------------------------------------------------------------- */

struct hub *hub_new(const struct config *cfg, struct store *store, const uint8_t *token_key,
                    size_t token_key_len, const char *admin_token, const char *public_url)
{
    struct hub *h = xcalloc(1, sizeof *h);
    h->cfg = cfg;
    h->store = store;
    if (token_key_len > sizeof h->key)
        token_key_len = sizeof h->key;
    memcpy(h->key, token_key, token_key_len);
    h->key_len = token_key_len;
    h->admin_token = xstrdup(admin_token);
    h->public_url = xstrdup(public_url);
    smap_init(&h->jams);
    smap_init(&h->creating);
    imap_init(&h->pending);
    imap_init(&h->sessions);
    h->storage_up = true;
    return h;
}

void hub_free(struct hub *h)
{
    if (!h)
        return;
    replay_free(h->replay);
    for (size_t i = 0; i < h->pending.cap; i++)
        if (h->pending.state[i] == 1)
            pending_free((struct pending *)(uintptr_t)h->pending.vals[i]);
    imap_deinit(&h->pending);
    imap_deinit(&h->sessions);
    free(h->read_queue);
    smap_deinit(&h->creating, NULL);
    smap_deinit(&h->jams, jam_free);
    free(h->admin_token);
    free(h->public_url);
    free(h);
}

void hub_set_net(struct hub *h, struct net *n)
{
    h->net = n;
}

size_t hub_jam_count(const struct hub *h)
{
    return h->jams.used;
}

/* Apply one stored event of jam 'code' (recovery, or an entry found after a reconnect). Events
 * at or before the jam's last applied id are skipped: a found entry may be one we applied. */
static int replay_event(struct hub *h, const char *code, const char *id, const struct event *ev)
{
    struct jam *j = find_jam(h, code);
    if (!j) {
        if (ev->type != EV_JAM_CREATED || strcmp(ev->jam.code, code) != 0) {
            log_error("jam %s: stream does not start with jam_created (%s); skipped", code, id);
            return -EINVAL;
        }
        j = jam_new(h, &ev->jam);
    } else if (room_id_cmp(id, j->room->last_id) <= 0) {
        return 0;
    }
    const char *err = room_apply(j->room, id, ev, NULL);
    if (err && strcmp(err, "duplicate_op") != 0)
        log_warn("jam %s: event %s (%s) has no effect: %s", code, id, event_type_name(ev->type), err);
    if (!h->ready)
        room_delta_reset(j->room); /* nobody is listening yet: no broadcast backlog */
    return err && strcmp(err, "duplicate_op") != 0 ? -EINVAL : 0;
}

static int replay_payload(struct hub *h, const char *code, const char *id, const char *payload,
                          size_t len)
{
    struct event ev;
    struct codec_error ce;
    if (codec_event_decode(payload, len, &ev, &ce) < 0) {
        log_error("jam %s: event %s unreadable (%s: %s); skipped", code, id, ce.code, ce.message);
        return -EINVAL;
    }
    int rc = replay_event(h, code, id, &ev);
    event_clear(&ev);
    return rc;
}

static void on_replay_item(struct replay_item *it, void *arg)
{
    struct hub *h = arg;
    switch (it->kind) {
    case REPLAY_ROOM: {
        struct jam *j = jam_new(h, &it->room->cfg);
        room_free(j->room);
        j->room = it->room;
        j->room->limits.max_items = (uint32_t)h->cfg->max_items;
        j->room->limits.max_participants = (uint32_t)h->cfg->max_participants;
        j->snap_events = j->room->n_events;
        it->room = NULL;
        break;
    }
    case REPLAY_EVENT:
        replay_event(h, it->code, it->id, &it->ev);
        break;
    case REPLAY_BAD:
        break;
    case REPLAY_JAM_DONE: {
        struct jam *j = find_jam(h, it->code);
        if (j)
            store_track(h->store, j->key, j->room->last_id);
        break;
    }
    }
}

/* Apply a slice of the recovery, so the loop keeps answering /healthz and pings meanwhile. */
static void recover_some(struct hub *h)
{
    if (!replay_poll(h->replay, 20000, on_replay_item, h)) {
        net_wake(h->net);
        return;
    }
    size_t events, jams, snapshots;
    replay_stats(h->replay, &events, &jams, &snapshots);
    replay_free(h->replay);
    h->replay = NULL;
    h->ready = true;
    log_info("recovered %zu jams (%zu from snapshots) and %zu stream events in %lld ms: ready", jams,
             snapshots, events, (long long)(net_now_ms() - h->recovery_started_ms));
}

void hub_start_recovery(struct hub *h, struct replay *rp)
{
    h->replay = rp;
    h->ready = false;
    h->recovery_started_ms = net_now_ms();
    net_wake(h->net);
}
