/* SPDX-License-Identifier: MIT
 * handlers.c - the client messages and the write path (see handlers.h). A write goes: decode
 * (codec) -> check against the room plus writes in flight (room_check) -> append to the jam's
 * stream (store) -> when Redis has answered and the tail has applied the entry in stream order
 * (room_apply, whichever of the two comes first waits for the other): ack the sender with apply's
 * outcome, and leave the change in the room's delta, which the next tick encodes once
 * (broadcast.h) into the jam's ring of shared frames.
 */
#include "handlers.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "auth.h"
#include "codec.h"
#include "config.h"
#include "hub.h"
#include "jam.h"
#include "log.h"
#include "net.h"
#include "now.h"
#include "resume.h"
#include "room.h"
#include "session.h"
#include "store.h"
#include "view.h"
#include "words.h"

enum write_kind {
    WRITE_JOIN,     /* a citizen or moderator joins: a welcome follows */
    WRITE_EVENT,    /* post, vote, unvote, a moderator action: an ack follows */
    WRITE_CLOCK,    /* the server's clock ended a phase: nobody to answer */
    WRITE_SHOWINGS, /* discover answers' showings: nobody to answer */
};

/* A join that lost its pid to another process's join is sent again with a fresh pid this many
 * times: each loss means another join of the jam reached the stream first, so only a storm of
 * joins spread over several processes loses twice. */
#define HANDLERS_JOIN_TRIES 16
/* `similar`: at most three items (what a phone shows under its text box), and no weaker match than
 * a cosine of 0.3 (below it, tried on civic proposals, two texts share one common word at best). */
#define HANDLERS_SIMILAR_MAX 3
#define HANDLERS_SIMILAR_MIN_SCORE 0.3
/* `discover`: five items, a phone's screenful of cards. */
#define HANDLERS_DISCOVER_MAX 5

/* An event of a jam waiting for the store, then for the tail. */
struct write {
    struct pending base;
    enum write_kind kind;
    uint64_t session_id; /* 0 = none */
    struct jam *jam;     /* borrowed: jams live until shutdown */
    struct event ev;     /* owned */
    int tries;           /* joins sent again (HANDLERS_JOIN_TRIES) */
    int64_t sent_ms;     /* when it was last appended (store and apply latency) */
    bool answered;       /* the tail applied it before the store confirmed it: the sender has
                            its answer, the confirmation only frees this */
    int64_t stored_ms;   /* when the store confirmed it (it waits in jam.awaiting from then) */
};

/* The states of a write in jam.doubt: its retry reads the stream first (see doubt_check). */
#define DOUBT_IDLE ((void *)1)
#define DOUBT_READING ((void *)2)

static void op_key(char *buf, size_t size, int64_t pid, const char *op)
{
    snprintf(buf, size, "%" PRId64 ":%s", pid, op);
}

static void write_free(struct pending *base)
{
    struct write *w = (struct write *)base;
    event_clear(&w->ev);
    free(w);
}

static void after_write(struct pending *base, const struct store_result *res, const struct now *now,
                        void *arg);

static struct write *write_new(enum write_kind kind, struct jam *j, uint64_t session_id)
{
    struct write *w = xcalloc(1, sizeof *w);
    w->base.done = after_write;
    w->base.free = write_free;
    w->kind = kind;
    w->jam = j;
    w->session_id = session_id;
    return w;
}

/* Append the checked event 'w->ev' to its jam's stream and count it as in flight. Takes
 * ownership of 'w' in every case. Returns 0 or the store's error (nothing reserved). */
static int submit(struct hub *h, struct write *w, const struct now *now)
{
    struct jam *j = w->jam;
    w->ev.at_ms = now->wall_ms;
    w->sent_ms = now->ms;
    char *json = codec_event_encode(&w->ev);
    struct event *ev = &w->ev; /* still ours if the append is queued */
    /* The clock's events are housekeeping: only the holder of the jam's lease stores them. */
    int rc = w->kind == WRITE_CLOCK ? hub_append_held(h, j->key, json, &w->base, now->ms)
                                    : hub_append(h, j->key, json, NULL, NULL, &w->base, now->ms);
    free(json);
    if (rc == 0)
        room_reserve(j->room, ev);
    return rc;
}

static void send_welcome(struct hub *h, struct session *s, bool resumed, const struct now *now)
{
    struct token t = {
        .pid = s->pid, .role = s->role, .exp_s = now->wall_ms / 1000 + h->cfg->token_ttl_s};
    snprintf(t.jam, sizeof t.jam, "%s", s->jam->code);
    char token[MSG_TOKEN_MAX + 1];
    if (auth_token_sign(h->key, h->key_len, &t, token, sizeof token) < 0)
        abort(); /* MSG_TOKEN_MAX + 1 always suffices (auth.h) */
    const struct participant *p = room_participant(s->jam->room, s->pid);
    hub_send(s, view_welcome(token, s->pid, s->role, p ? p->nickname : NULL, resumed));
    if (!h->storage_up)
        hub_send(s, view_status(false)); /* joined during an outage: say so at once */
}

/* The secret of invite 'id' of jam 'j' (auth_invite_secret): derived again whenever it is needed,
 * never kept. */
static void invite_secret(const struct hub *h, const struct jam *j, int64_t id,
                          char out[AUTH_INVITE_SECRET_CHARS + 1])
{
    if (auth_invite_secret(h->key, h->key_len, j->code, j->room->cfg.secret_sha256, id, out) < 0)
        abort(); /* the key is set at start-up; HMAC-SHA256 fails only if OpenSSL is broken */
}

/* The ack of op 'op', from its recorded outcome: the first answer and every retry's are equal
 * (an invite's carries its secret, derived again). */
static void send_ack(const struct hub *h, struct session *s, const char *op,
                     const struct op_done *done)
{
    if (done->invite) {
        char secret[AUTH_INVITE_SECRET_CHARS + 1];
        invite_secret(h, s->jam, done->item, secret);
        hub_send(s, view_ack_invite(op, done->event_id, done->item, secret));
        return;
    }
    hub_send(s, view_ack(op, done->event_id, done->item, done->has_budget, done->budget_left));
}

/* ---- the messages -------------------------------------------------------------------------- */

/* Whether 'p' sees items waiting for review in full: moderators, and the author of one. They
 * reach it in private `queued` frames, which neither the ring nor the stream's catch-up has, so
 * such a rejoin gets a snapshot instead of a resume (moderators are few, and so are authors with
 * a post still in the queue). */
static bool sees_queue(const struct room *r, const struct participant *p)
{
    if (!p || !r->cfg.settings.premoderation)
        return false;
    if (p->role == ROLE_MODERATOR)
        return true;
    for (size_t i = r->n_items; i-- > 0;)
        if (r->items[i]->pending && r->items[i]->author == p->pid)
            return true;
    return false;
}

/* A rejoin with a session token: the same participant, resumed from 'last_event_id' if it can be
 * (from the ring, else from the stream), else with a snapshot (flagged resync if one was asked). */
static void rejoin(struct hub *h, struct session *s, const struct msg *m, const struct now *now)
{
    struct token t;
    int rc = auth_token_verify(h->key, h->key_len, m->token, now->wall_ms / 1000, &t);
    struct jam *j = rc == 0 ? hub_find_jam(h, t.jam) : NULL;
    const struct participant *p = j && t.role != ROLE_SCREEN ? room_participant(j->room, t.pid)
                                                             : NULL;
    if (p && p->removed) {
        hub_send_error(s, NULL, room_err_removed, NULL, now->ms);
        return;
    }
    if (p && room_invite_revoked(j->room, p)) {
        hub_send_error(s, NULL, room_err_invite_revoked, NULL, now->ms);
        return;
    }
    bool ok = j && (t.role == ROLE_SCREEN ? t.pid == 0 : p != NULL);
    if (!ok) {
        hub_send_error(s, NULL, "bad_token",
                       rc == -ETIMEDOUT ? "the session token has expired: join again" : NULL,
                       now->ms);
        return;
    }
    jam_attach(j, s, t.pid, t.role);
    uint64_t seq;
    bool resumed = false;
    /* A moderator sees hidden counts in private `counts` frames: not in the ring, so a snapshot. */
    bool counts_private = p && p->role == ROLE_MODERATOR && room_hidden_kinds(j->room);
    /* ... and the invites in private `invites` frames. */
    bool invites_private = p && p->role == ROLE_MODERATOR && j->room->n_invites;
    bool may_resume = m->last_event_id[0] && !sees_queue(j->room, p) && !counts_private &&
                      !invites_private;
    if (may_resume && jam_ring_resume_point(j, m->last_event_id, &seq)) {
        s->cursor = seq;
        s->wants_snapshot = WANT_NONE;
        resumed = true;
    } else if (may_resume && resume_start(h, s, m->last_event_id)) {
        resumed = true;
    } else if (m->last_event_id[0]) {
        /* could not resume (or the queue, which only a snapshot has in full): a full snapshot,
         * flagged as such */
        s->wants_snapshot = WANT_RESYNC;
    }
    send_welcome(h, s, resumed, now);
}

/* Admission per source address (hub.h): every join takes a token of the address's join bucket;
 * one that names a code (a guess, if it is wrong) is refused outright while the address has used
 * up its failed guesses, before the code or secret is looked at, so that the answer says nothing
 * about them. A rejoin with a token is no guess (an HMAC cannot be guessed) and passes. */
static bool refused_by_address(struct hub *h, struct session *s, bool guess, const struct now *now)
{
    int64_t wait = guess ? hub_admit(h, ADMIT_GUESS, s->addr, now->ms) : 0;
    const char *what = "too many failed join attempts from this address";
    if (!wait) {
        wait = hub_admit(h, ADMIT_JOIN, s->addr, now->ms);
        what = "too many joins from this address";
    }
    if (!wait)
        return false;
    char message[96];
    snprintf(message, sizeof message, "%s: retry in %lld s", what, (long long)(wait + 999) / 1000);
    hub_send_error(s, NULL, "rate_limited", message, now->ms);
    return true;
}

/* The named invite whose secret 'secret' is (revoked or not), or NULL: a hash compared with each
 * of at most MSG_INVITES_MAX, in constant time each. */
static const struct room_invite *invite_of_secret(const struct room *r, const char *secret)
{
    if (!secret || strlen(secret) != AUTH_INVITE_SECRET_CHARS)
        return NULL;
    for (size_t i = 0; i < r->n_invites; i++)
        if (auth_secret_matches(secret, r->invites[i].secret_sha256))
            return &r->invites[i];
    return NULL;
}

static void handle_join(struct hub *h, struct session *s, struct msg *m, const struct now *now)
{
    if (s->jam || s->joining) {
        hub_send_error(s, NULL, "already_joined", NULL, now->ms);
        return;
    }
    if (refused_by_address(h, s, !m->token, now))
        return;
    if (m->token) {
        rejoin(h, s, m, now);
        return;
    }
    struct jam *j = hub_find_jam(h, m->code);
    if (!j) {
        hub_guess_failed(h, s->addr, "no_such_jam", now->ms);
        hub_send_error(s, NULL, "no_such_jam", NULL, now->ms);
        return;
    }
    if (m->as == ROLE_SCREEN) {
        jam_attach(j, s, 0, ROLE_SCREEN);
        send_welcome(h, s, false, now);
        return;
    }
    const struct room_invite *inv = NULL;
    if (m->as == ROLE_MODERATOR &&
        !(m->secret && auth_secret_matches(m->secret, j->room->cfg.secret_sha256)) &&
        !(inv = invite_of_secret(j->room, m->secret))) {
        hub_guess_failed(h, s->addr, "bad_secret", now->ms);
        hub_send_error(s, NULL, "bad_secret", NULL, now->ms);
        return;
    }
    m->invite = inv ? inv->id : 0; /* room_check_join refuses a revoked one */
    struct write *w = write_new(WRITE_JOIN, j, s->id);
    const char *err = room_check_join(j->room, m, &w->ev);
    if (err) {
        write_free(&w->base);
        hub_send_error(s, NULL, err,
                       m->as == ROLE_MODERATOR && strcmp(err, "nickname_required") == 0
                           ? "a moderator joins with a nickname: every console and the public "
                             "log show who acted"
                           : NULL,
                       now->ms);
        return;
    }
    if (submit(h, w, now) < 0) {
        hub_send_error(s, NULL, "storage_unavailable", NULL, now->ms);
        return;
    }
    s->joining = true;
}

/* A read of the stream after what the jam has applied, for the retry of a write in doubt. */
struct doubt_read {
    struct pending base;
    struct jam *jam; /* borrowed: jams live until shutdown */
    int64_t pid;
    char op[MSG_OP_MAX + 1];
};

static void doubt_read_free(struct pending *base)
{
    free(base);
}

/* The entries after what the jam had applied when the read was sent: if the write in doubt is
 * not among them (and they reach the stream's end), it never landed and its retry may append;
 * if it is, the tail will apply it and the retry then gets its original ack. */
static void after_doubt_read(struct pending *base, const struct store_result *res,
                             const struct now *now, void *arg)
{
    (void)now, (void)arg;
    struct doubt_read *d = (struct doubt_read *)base;
    char key[32 + MSG_OP_MAX];
    op_key(key, sizeof key, d->pid, d->op);
    bool landed = res->err || res->n_entries == STORE_READ_MAX;
    for (size_t i = 0; i < res->n_entries && !landed; i++) {
        struct event ev;
        struct codec_error ce;
        const struct stream_entry *e = &res->entries[i];
        if (codec_event_decode(e->payload, e->len, &ev, &ce) < 0)
            continue;
        landed = ev.by == d->pid && strcmp(ev.op, d->op) == 0;
        event_clear(&ev);
    }
    if (landed)
        smap_put(&d->jam->doubt, key, DOUBT_IDLE); /* ask again at the next retry */
    else
        smap_del(&d->jam->doubt, key);
    free(d);
}

/* A retry of the write 'key' whose first attempt the store could not confirm
 * (storage_timeout/storage_unavailable): the attempt may still have landed, and the tail may not
 * have handed it over yet (after an outage it reconnects too), so appending again would store the
 * op twice. Reads the stream after what the jam applied first. Returns true: the retry must wait
 * (busy); false: no read could be sent, append. */
static bool doubt_check(struct hub *h, struct jam *j, const char *key, const struct now *now)
{
    if (smap_get(&j->doubt, key) == DOUBT_READING)
        return true;
    struct doubt_read *d = xcalloc(1, sizeof *d);
    d->base.done = after_doubt_read;
    d->base.free = doubt_read_free;
    d->jam = j;
    const char *colon = strchr(key, ':');
    d->pid = strtoll(key, NULL, 10);
    snprintf(d->op, sizeof d->op, "%s", colon ? colon + 1 : "");
    const char *after = j->room->chain.id[0] ? j->room->chain.id : "0-0";
    uint64_t ctx = pending_next_ctx(&h->pending);
    if (store_read(h->store, j->key, after, false, STORE_READ_MAX, ctx, now->ms) < 0) {
        free(d);
        return false;
    }
    pending_add(&h->pending, ctx, &d->base);
    smap_put(&j->doubt, key, DOUBT_READING);
    return true;
}

/* A replication barrier for the retry of an applied op (see needs_confirm). */
struct confirm {
    struct pending base;
    struct jam *jam; /* borrowed: jams live until shutdown */
    uint64_t session_id;
    char key[32 + MSG_OP_MAX]; /* its "pid:op" in jam.doubt */
    char op[MSG_OP_MAX + 1];
    struct op_done done;
};

static void confirm_free(struct pending *base)
{
    free(base);
}

/* Notes that the replicas have the stream up to 'id' (a write or barrier they confirmed: they
 * have every entry before it too). */
static void replicated_upto(struct jam *j, const char *id)
{
    if (id[0] && (!j->replicated[0] || stream_id_cmp(id, j->replicated) > 0))
        snprintf(j->replicated, sizeof j->replicated, "%s", id);
}

static void after_confirm(struct pending *base, const struct store_result *res,
                          const struct now *now, void *arg)
{
    struct hub *h = arg;
    struct confirm *c = (struct confirm *)base;
    struct session *s = hub_find_session(h, c->session_id);
    if (res->err) {
        smap_put(&c->jam->doubt, c->key, DOUBT_IDLE);
        if (s)
            hub_send_error(s, c->op, res->err, NULL, now->ms);
    } else {
        replicated_upto(c->jam, c->done.event_id);
        smap_del(&c->jam->doubt, c->key);
        if (s)
            send_ack(h, s, c->op, &c->done);
    }
    free(c);
}

/* With --replicas an ack says the replicas have the entry. The first attempt's ack said so; an op
 * the jam applied from the primary's stream without that (its write failed with replica_timeout
 * or an outcome unknown, or another process wrote it) may not be on any replica yet: a failover
 * now would lose it. Entries up to j->replicated are known to be there. */
static bool needs_confirm(const struct hub *h, const struct jam *j, const struct op_done *done)
{
    return h->cfg->replicas > 0 &&
           (!j->replicated[0] || stream_id_cmp(done->event_id, j->replicated) > 0);
}

/* Sends the barrier for the retry of 'op' whose outcome is 'done'; the ack or the error follows
 * (after_confirm). */
static void confirm_then_ack(struct hub *h, struct session *s, const char *key, const char *op,
                             const struct op_done *done, const struct now *now)
{
    struct jam *j = s->jam;
    struct confirm *c = xcalloc(1, sizeof *c);
    c->base.done = after_confirm;
    c->base.free = confirm_free;
    c->jam = j;
    c->session_id = s->id;
    snprintf(c->key, sizeof c->key, "%s", key);
    snprintf(c->op, sizeof c->op, "%s", op);
    c->done = *done;
    uint64_t ctx = pending_next_ctx(&h->pending);
    if (store_confirm(h->store, j->key, done->event_id, ctx, now->ms) < 0) {
        free(c);
        hub_send_error(s, op, "storage_unavailable", NULL, now->ms);
        return;
    }
    pending_add(&h->pending, ctx, &c->base);
    smap_put(&j->doubt, key, DOUBT_READING);
}

/* post, vote, unvote and every moderator action. */
static void handle_write(struct hub *h, struct session *s, struct msg *m, const struct now *now)
{
    struct jam *j = s->jam;
    if (s->role != ROLE_CITIZEN && s->role != ROLE_MODERATOR) {
        hub_send_error(s, m->op, "forbidden", NULL, now->ms);
        return;
    }
    char key[32 + MSG_OP_MAX];
    op_key(key, sizeof key, s->pid, m->op);
    const struct op_done *done = room_op_done(j->room, s->pid, m->op);
    if (done) {
        /* A retry of an applied op: the original ack, no effect (once the replicas have it). */
        if (smap_get(&j->doubt, key) == DOUBT_READING) {
            hub_send_error(s, m->op, "busy", NULL, now->ms);
        } else if (needs_confirm(h, j, done)) {
            confirm_then_ack(h, s, key, m->op, done, now);
        } else {
            smap_del(&j->doubt, key);
            send_ack(h, s, m->op, done);
        }
        return;
    }
    if (smap_get(&j->pending_ops, key) || s->inflight >= SESSION_MAX_INFLIGHT ||
        (smap_get(&j->doubt, key) && doubt_check(h, j, key, now))) {
        hub_send_error(s, m->op, "busy", NULL, now->ms);
        return;
    }
    int64_t wait = m->type == MSG_POST && s->role == ROLE_CITIZEN
                       ? hub_admit(h, ADMIT_POST, s->addr, now->ms)
                       : 0; /* "Per source address": a flood of fresh participants */
    if (wait) {
        char message[64];
        snprintf(message, sizeof message, "too many posts from this address: retry in %lld s",
                 (long long)(wait + 999) / 1000);
        hub_send_error(s, m->op, "rate_limited", message, now->ms);
        return;
    }
    struct write *w = write_new(WRITE_EVENT, j, s->id);
    const char *err = room_check(j->room, s->pid, s->role, m, &w->ev);
    if (err) {
        write_free(&w->base);
        hub_send_error(s, m->op, err, NULL, now->ms);
        return;
    }
    if (w->ev.type == EV_INVITE_CREATED) { /* the stream holds the hash a join is checked against */
        char secret[AUTH_INVITE_SECRET_CHARS + 1];
        invite_secret(h, j, w->ev.invite, secret);
        auth_sha256_hex(secret, strlen(secret), w->ev.invite_sha256);
    }
    if (submit(h, w, now) < 0) {
        hub_send_error(s, m->op, "storage_unavailable", NULL, now->ms);
        return;
    }
    smap_put(&j->pending_ops, key, w);
    s->inflight++;
}

struct similar_filter {
    const struct room *r;
    enum kind kind;
    int64_t asker;
};

static bool similar_accepts(uint32_t id, void *ctx)
{
    const struct similar_filter *f = ctx;
    const struct item *it = room_item(f->r, id);
    return it && it->kind == f->kind && !it->hidden && !it->pending && !it->merged_into &&
           it->author != f->asker; /* a duplicate: its target is the one to vote for */
}

/* Up to three visible items of the kind being written like the text typed so far (issue 14.1),
 * so that the phone can offer a vote instead of a duplicate. A read: nothing is stored. */
static void handle_similar(struct hub *h, struct session *s, struct msg *m, const struct now *now)
{
    (void)h;
    if (s->last_similar_ms && now->ms - s->last_similar_ms < SESSION_SIMILAR_INTERVAL_MS) {
        hub_send_error(s, NULL, "rate_limited", "at most two similar queries per second", now->ms);
        return;
    }
    s->last_similar_ms = now->ms;
    struct similar_filter f = {s->jam->room, m->kind, s->pid};
    uint32_t ids[HANDLERS_SIMILAR_MAX];
    size_t n = words_similar(s->jam->room->words, m->text, strlen(m->text),
                             HANDLERS_SIMILAR_MIN_SCORE, similar_accepts, &f, HANDLERS_SIMILAR_MAX,
                             ids);
    hub_send(s, view_similar(ids, n));
}

/* A discover view (issue 12.1): the least-shown items for this participant. A read: nothing is
 * stored now; the offer is counted and reaches the stream in the next showings event. */
static void handle_discover(struct hub *h, struct session *s, struct msg *m, const struct now *now)
{
    (void)h, (void)m;
    if (s->role != ROLE_CITIZEN && s->role != ROLE_MODERATOR) {
        hub_send_error(s, NULL, "forbidden", NULL, now->ms);
        return;
    }
    if (s->last_discover_ms && now->ms - s->last_discover_ms < SESSION_DISCOVER_INTERVAL_MS) {
        hub_send_error(s, NULL, "rate_limited", "at most one discover per second", now->ms);
        return;
    }
    s->last_discover_ms = now->ms;
    uint32_t ids[HANDLERS_DISCOVER_MAX];
    size_t n = room_discover(s->jam->room, s->pid, HANDLERS_DISCOVER_MAX, ids);
    room_offered(s->jam->room, ids, n);
    hub_send(s, view_discover(ids, n));
}

static void handle_sync(struct hub *h, struct session *s, struct msg *m, const struct now *now)
{
    (void)m;
    if (s->last_sync_ms && now->ms - s->last_sync_ms < SESSION_SYNC_INTERVAL_MS) {
        hub_send_error(s, NULL, "rate_limited", "at most one sync per second", now->ms);
        return;
    }
    if (hub_admit(h, ADMIT_SYNC, s->addr, now->ms)) {
        hub_send_error(s, NULL, "rate_limited", "too many syncs from this address", now->ms);
        return;
    }
    s->last_sync_ms = now->ms;
    resume_end(s, false); /* a resync snapshot; a page of a catch-up still being read is not sent */
}

static void handle_ping(struct hub *h, struct session *s, struct msg *m, const struct now *now)
{
    (void)h, (void)now;
    hub_send(s, view_pong(m->has_t, m->t));
}

#define NEEDS_JOIN 1u

static const struct handler {
    void (*fn)(struct hub *h, struct session *s, struct msg *m, const struct now *now);
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
    [MSG_SIMILAR] = {handle_similar, NEEDS_JOIN},
    [MSG_PING] = {handle_ping, 0},
    [MSG_REMOVE] = {handle_write, NEEDS_JOIN},
    [MSG_REINSTATE] = {handle_write, NEEDS_JOIN},
    [MSG_MUTE] = {handle_write, NEEDS_JOIN},
    [MSG_UNMUTE] = {handle_write, NEEDS_JOIN},
    [MSG_SPOTLIGHT] = {handle_write, NEEDS_JOIN},
    [MSG_UNSPOTLIGHT] = {handle_write, NEEDS_JOIN},
    [MSG_PIN] = {handle_write, NEEDS_JOIN},
    [MSG_UNPIN] = {handle_write, NEEDS_JOIN},
    [MSG_ANNOUNCE] = {handle_write, NEEDS_JOIN},
    [MSG_UNANNOUNCE] = {handle_write, NEEDS_JOIN},
    [MSG_APPROVE] = {handle_write, NEEDS_JOIN},
    [MSG_REJECT] = {handle_write, NEEDS_JOIN},
    [MSG_CLAIM] = {handle_write, NEEDS_JOIN},
    [MSG_RELEASE] = {handle_write, NEEDS_JOIN},
    [MSG_MERGE] = {handle_write, NEEDS_JOIN},
    [MSG_UNMERGE] = {handle_write, NEEDS_JOIN},
    [MSG_SET_REVEAL] = {handle_write, NEEDS_JOIN},
    [MSG_SET_EXPORTS] = {handle_write, NEEDS_JOIN},
    [MSG_INVITE] = {handle_write, NEEDS_JOIN},
    [MSG_REVOKE_INVITE] = {handle_write, NEEDS_JOIN},
    [MSG_DISCOVER] = {handle_discover, NEEDS_JOIN},
    [MSG_SET_ORDER] = {handle_write, NEEDS_JOIN},
    [MSG_RENAME_THEME] = {handle_write, NEEDS_JOIN},
    [MSG_MERGE_THEMES] = {handle_write, NEEDS_JOIN},
    [MSG_UNMERGE_THEME] = {handle_write, NEEDS_JOIN},
    [MSG_HIDE_THEME] = {handle_write, NEEDS_JOIN},
    [MSG_UNHIDE_THEME] = {handle_write, NEEDS_JOIN},
};

void handlers_on_message(struct session *s, const char *text, size_t len, void *arg)
{
    struct hub *h = arg;
    const struct now now = net_now();
    if (s->close_code)
        return;
    if (!session_rate_ok(s, now.ms)) {
        hub_send_error(s, NULL, "rate_limited", NULL, now.ms);
        return;
    }
    struct msg m;
    struct codec_error ce;
    if (codec_decode(text, len, &m, &ce) < 0) {
        hub_send_error(s, ce.op, ce.code, ce.message, now.ms);
        return;
    }
    metrics_count(&h->metrics.received, msg_type_name(m.type), 1);
    const struct handler *hd = &handlers[m.type];
    if (!h->ready && m.type != MSG_PING)
        hub_send_error(s, m.op, "busy", "the server is recovering its state: retry shortly",
                       now.ms);
    else if (!hd->fn)
        hub_send_error(s, m.op, "unknown_type", NULL, now.ms);
    else if ((hd->flags & NEEDS_JOIN) && !s->jam)
        hub_send_error(s, m.op, "not_joined", NULL, now.ms);
    else
        hd->fn(h, s, &m, &now);
    msg_clear(&m);
}

void handlers_check_deadline(struct hub *h, struct jam *j, const struct now *now)
{
    struct event ev;
    if (!room_check_deadline(j->room, now->wall_ms, &ev))
        return;
    struct write *w = write_new(WRITE_CLOCK, j, 0);
    w->ev = ev;
    if (submit(h, w, now) < 0)
        log_warn("jam %s: deadline passed but storage is unavailable", j->code);
}

void handlers_flush_showings(struct hub *h, struct jam *j, const struct now *now)
{
    struct room *r = j->room;
    if (!r->offered.used || now->ms - j->showings_sent_ms < HANDLERS_SHOWINGS_MS)
        return;
    struct write *w = write_new(WRITE_SHOWINGS, j, 0);
    if (!room_take_showings(r, &w->ev)) {
        write_free(&w->base);
        return;
    }
    j->showings_sent_ms = now->ms;
    if (submit(h, w, now) < 0) /* exposure is approximate by design: a lost batch is not retried */
        log_warn("jam %s: showings not stored: storage is unavailable", j->code);
}

/* ---- the store's answer, then apply's ------------------------------------------------------ */

/* The write is done: no longer in flight. */
static void settle(struct jam *j, struct write *w, struct session *s)
{
    room_unreserve(j->room, &w->ev);
    if (w->kind == WRITE_EVENT) {
        char key[32 + MSG_OP_MAX];
        op_key(key, sizeof key, w->ev.by, w->ev.op);
        smap_del(&j->pending_ops, key);
        if (s && s->inflight)
            s->inflight--;
    }
}

/* The tail applied our entry 'id' with outcome 'err' (room_apply's): answer the sender. Returns
 * false when the write was sent again instead (a join whose pid another join took). */
static bool answer(struct hub *h, struct write *w, const char *id, const char *err,
                   const struct now *now)
{
    struct jam *j = w->jam;
    struct session *s = hub_find_session(h, w->session_id);
    settle(j, w, s);
    if (err == room_err_pid_taken && w->kind == WRITE_JOIN && s && w->tries < HANDLERS_JOIN_TRIES) {
        w->tries++;
        w->ev.pid = j->room->next_pid; /* past the pid the other join took */
        if (submit(h, w, now) < 0) {
            s->joining = false;
            hub_send_error(s, NULL, "storage_unavailable", NULL, now->ms);
        }
        return false;
    }
    const struct op_done *done = w->kind == WRITE_EVENT ? room_op_done(j->room, w->ev.by, w->ev.op)
                                                        : NULL;
    if (w->kind == WRITE_JOIN && s)
        s->joining = false;
    if (err == room_err_duplicate_op) {
        /* The op reached the stream twice (a retry after an unknown outcome): one effect. */
        if (s && done)
            send_ack(h, s, w->ev.op, done);
    } else if (err == room_err_pid_taken) {
        if (s)
            hub_send_error(s, NULL, "busy", "too many joins at once: join again", now->ms);
    } else if (err) {
        /* Checked against this process's state, but an entry before it (the participant's own
         * write through another process, a removal, a clock event) changed what it meets. */
        log_debug("jam %s: event %s lost to an earlier entry (%s)", j->code, id, err);
        if (s)
            hub_send_error(s, w->ev.op, err, NULL, now->ms);
    } else if (w->kind == WRITE_JOIN) {
        if (s) {
            jam_attach(j, s, w->ev.pid, w->ev.role);
            send_welcome(h, s, false, now);
        }
    } else if (s && done) {
        send_ack(h, s, w->ev.op, done);
    }
    return true;
}

static void finish(struct hub *h, struct write *w, const char *id, const char *err,
                   const struct now *now)
{
    if (answer(h, w, id, err, now))
        write_free(&w->base);
}

/* A write of ours met its applied entry: at the apply, or at the store's reply after it. */
static void applied_counted(struct metrics *m, const struct write *w, const struct now *now)
{
    m->applied_own++;
    metrics_observe(m, METRICS_APPLY_MS, now->ms - w->sent_ms);
}

static void after_write(struct pending *base, const struct store_result *res, const struct now *now,
                        void *arg)
{
    struct hub *h = arg;
    struct write *w = (struct write *)base;
    struct jam *j = w->jam;
    metrics_observe(&h->metrics, METRICS_STORE_MS, now->ms - w->sent_ms);
    if (w->answered) {
        write_free(base);
        return;
    }
    if (res->err) {
        struct session *s = hub_find_session(h, w->session_id);
        settle(j, w, s);
        if (w->kind == WRITE_JOIN && s)
            s->joining = false;
        if (s)
            hub_send_error(s, w->ev.op, res->err, NULL, now->ms);
        if (w->kind == WRITE_EVENT &&
            (res->err == store_err_timeout || res->err == store_err_unavailable ||
             res->err == store_err_replica)) {
            char key[32 + MSG_OP_MAX];
            op_key(key, sizeof key, w->ev.by, w->ev.op);
            smap_put(&j->doubt, key, DOUBT_IDLE);
        }
        if (w->kind == WRITE_CLOCK && res->err != store_err_fenced)
            log_warn("jam %s: phase_ended not stored (%s); retrying at the next tick", j->code,
                     res->err);
        write_free(base);
        return;
    }
    if (h->cfg->replicas > 0)
        replicated_upto(j, res->id); /* the store's reply came after the WAIT */
    if (stream_id_cmp(res->id, j->room->chain.id) > 0) {
        w->stored_ms = now->ms;
        smap_put(&j->awaiting, res->id, base); /* the tail has not applied it yet */
    } else {
        applied_counted(&h->metrics, w, now);
        finish(h, w, res->id, jam_verdict(j, res->id), now);
    }
}

void handlers_on_applied(struct hub *h, struct jam *j, const char *id, const struct event *ev,
                         const char *err, const struct now *now)
{
    struct write *w = smap_del(&j->awaiting, id);
    if (w) {
        applied_counted(&h->metrics, w, now);
        finish(h, w, id, err, now);
        return;
    }
    /* Ours but not confirmed yet (the tail was quicker than the store's reply): answer now, so
     * that the ack still comes before the update that shows its effect. Not with --replicas: the
     * store's reply is then the replicas' confirmation (WAIT), which an ack must wait for; the
     * reply finds this outcome among the jam's verdicts. */
    char key[32 + MSG_OP_MAX];
    op_key(key, sizeof key, ev->by, ev->op);
    w = ev->op[0] && h->cfg->replicas <= 0 ? smap_get(&j->pending_ops, key) : NULL;
    if (w && !w->answered) {
        applied_counted(&h->metrics, w, now);
        w->answered = true;
        answer(h, w, id, err, now);
    } else if (err) {
        jam_verdict_add(j, id, err);
    }
}

/* ---- writes the tail has not applied in time ------------------------------------------------ */

/* Expired writes taken per jam and tick: the rest wait for the next tick (50 ms). */
#define HANDLERS_EXPIRE_BATCH 64

void handlers_expire_awaiting(struct hub *h, struct jam *j, const struct now *now)
{
    const char *ids[HANDLERS_EXPIRE_BATCH];
    size_t n = 0;
    const char *id;
    void *v;
    for (size_t pos = 0; n < HANDLERS_EXPIRE_BATCH && smap_next(&j->awaiting, &pos, &id, &v);)
        if (now->ms - ((struct write *)v)->stored_ms >= h->cfg->redis_timeout_ms)
            ids[n++] = id;
    for (size_t i = 0; i < n; i++) {
        char key[MSG_EVENT_ID_MAX + 1];
        snprintf(key, sizeof key, "%s", ids[i]); /* the map owns ids[i] until the delete */
        struct write *w = smap_del(&j->awaiting, key);
        struct session *s = hub_find_session(h, w->session_id);
        log_warn("jam %s: entry %s stored but not read back from the stream in %ld ms: its "
                 "write fails with apply_timeout",
                 j->code, key, h->cfg->redis_timeout_ms);
        settle(j, w, s);
        if (w->kind == WRITE_JOIN && s)
            s->joining = false;
        if (s && w->kind != WRITE_CLOCK)
            hub_send_error(s, w->ev.op, "apply_timeout", NULL, now->ms);
        if (w->kind == WRITE_EVENT) {
            /* Stored: the retry must find it in the stream rather than append it again. */
            char op[32 + MSG_OP_MAX];
            op_key(op, sizeof op, w->ev.by, w->ev.op);
            smap_put(&j->doubt, op, DOUBT_IDLE);
        }
        write_free(&w->base);
    }
}
