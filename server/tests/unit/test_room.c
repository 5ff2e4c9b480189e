/* SPDX-License-Identifier: MIT
 * test_room.c - the jam state machine through its public API: checks, reservations, apply,
 * clock transitions with event timestamps, budgets, hiding, op de-duplication and the delta.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "room.h"
#include "test.h"

static struct room *new_room(unsigned votes_per_phase)
{
    struct jam_config c = {0};
    strcpy(c.code, "123456");
    c.title = "T";
    c.question = "Q";
    c.agenda[0] = (struct agenda_step){PHASE_EXPLORE, 60};
    c.agenda[1] = (struct agenda_step){PHASE_IDEATE, 0};
    c.agenda[2] = (struct agenda_step){PHASE_DESIGN, 30};
    c.agenda[3] = (struct agenda_step){PHASE_RESULTS, 0};
    c.n_agenda = 4;
    c.settings = (struct jam_settings){true, votes_per_phase, 2, 50};
    struct room_limits lim = {100, 100};
    struct room *r = room_new(&c, &lim);
    struct event e = {.type = EV_JAM_CREATED, .at_ms = 1000};
    CHECK(room_apply(r, "1-0", &e, NULL) == NULL);
    return r;
}

static unsigned long long seq = 1;

/* Check, reserve, unreserve and apply a message as the server does; returns the error or NULL. */
static const char *write_msg(struct room *r, int64_t pid, enum role role, struct msg *m,
                             int64_t at_ms, struct room_result *res)
{
    struct event e;
    const char *err = room_check(r, pid, role, m, &e);
    if (err)
        return err;
    e.at_ms = at_ms;
    room_reserve(r, &e);
    room_unreserve(r, &e);
    char id[32];
    snprintf(id, sizeof id, "%llu-0", ++seq);
    err = room_apply(r, id, &e, res);
    event_clear(&e);
    return err;
}

static int64_t join(struct room *r, enum role role, const char *nick)
{
    struct msg m = {.type = MSG_JOIN, .as = role, .nickname = (char *)nick};
    struct event e;
    CHECK(room_check_join(r, &m, &e) == NULL);
    room_reserve(r, &e);
    room_unreserve(r, &e);
    char id[32];
    snprintf(id, sizeof id, "%llu-0", ++seq);
    CHECK(room_apply(r, id, &e, NULL) == NULL);
    int64_t pid = e.pid;
    event_clear(&e);
    return pid;
}

static const char *room_check_err_helper(struct room *r, int64_t pid, struct msg *m)
{
    struct event e;
    const char *err = room_check(r, pid, ROLE_CITIZEN, m, &e);
    if (!err)
        event_clear(&e);
    return err ? err : "ok";
}

static struct msg mk(enum msg_type t, const char *op)
{
    struct msg m = {.type = t};
    snprintf(m.op, sizeof m.op, "%s", op);
    return m;
}

TEST(lobby_refuses_posts_and_citizen_moderation)
{
    struct room *r = new_room(2);
    int64_t c = join(r, ROLE_CITIZEN, "Ana");
    struct msg m = mk(MSG_POST, "p1");
    m.kind = KIND_PROBLEM;
    m.text = "Hot streets";
    CHECK_EQ_STR(write_msg(r, c, ROLE_CITIZEN, &m, 2000, NULL), "not_running");
    struct msg s = mk(MSG_START, "s1");
    CHECK_EQ_STR(write_msg(r, c, ROLE_CITIZEN, &s, 2000, NULL), "forbidden");
    CHECK_EQ_STR(write_msg(r, 0, ROLE_SCREEN, &m, 2000, NULL), "forbidden");
    room_free(r);
}

TEST(phases_decide_kinds_and_parents)
{
    struct room *r = new_room(0);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo"), c = join(r, ROLE_CITIZEN, NULL);
    struct msg s = mk(MSG_START, "s1");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &s, 10000, NULL) == NULL);
    struct msg idea = mk(MSG_POST, "i1");
    idea.kind = KIND_IDEA;
    idea.text = "Trees";
    CHECK_EQ_STR(write_msg(r, c, ROLE_CITIZEN, &idea, 11000, NULL), "wrong_phase");
    struct msg prob = mk(MSG_POST, "p1");
    prob.kind = KIND_PROBLEM;
    prob.text = "Heat";
    struct room_result res;
    CHECK(write_msg(r, c, ROLE_CITIZEN, &prob, 11000, &res) == NULL);
    CHECK_EQ_INT(res.item, 1);
    struct msg shortp = mk(MSG_POST, "p2");
    shortp.kind = KIND_PROBLEM;
    shortp.text = "x";
    CHECK_EQ_STR(write_msg(r, c, ROLE_CITIZEN, &shortp, 11000, NULL), "too_short");
    struct msg go = mk(MSG_SET_PHASE, "g1");
    go.phase = PHASE_IDEATE;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &go, 12000, NULL) == NULL);
    idea.parent = 5;
    CHECK_EQ_STR(write_msg(r, c, ROLE_CITIZEN, &idea, 12000, NULL), "bad_parent");
    idea.parent = 1;
    CHECK(write_msg(r, c, ROLE_CITIZEN, &idea, 12000, &res) == NULL);
    CHECK_EQ_INT(r->items[1]->parent, 1);
    CHECK_EQ_INT(r->items[1]->kind, KIND_IDEA);
    go.phase = PHASE_DESIGN;
    snprintf(go.op, sizeof go.op, "g2");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &go, 13000, NULL) == NULL);
    struct msg ref = mk(MSG_POST, "r1");
    ref.kind = KIND_REFINEMENT;
    ref.text = "Shade sails";
    CHECK_EQ_STR(write_msg(r, c, ROLE_CITIZEN, &ref, 13000, NULL), "bad_parent");
    ref.parent = 1; /* a problem, not an idea */
    CHECK_EQ_STR(write_msg(r, c, ROLE_CITIZEN, &ref, 13000, NULL), "bad_parent");
    ref.parent = 2;
    CHECK(write_msg(r, c, ROLE_CITIZEN, &ref, 13000, NULL) == NULL);
    go.phase = PHASE_DIFFUSE; /* not on this agenda */
    snprintf(go.op, sizeof go.op, "g3");
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &go, 14000, NULL), "bad_phase");
    room_free(r);
}

TEST(budget_refund_and_pending_votes)
{
    struct room *r = new_room(2);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo"), c = join(r, ROLE_CITIZEN, "Ana");
    struct msg s = mk(MSG_START, "s1");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &s, 1000, NULL) == NULL);
    for (int i = 0; i < 3; i++) {
        struct msg p = mk(MSG_POST, "");
        snprintf(p.op, sizeof p.op, "p%d", i);
        p.kind = KIND_PROBLEM;
        p.text = "Problem text";
        CHECK(write_msg(r, mod, ROLE_MODERATOR, &p, 1000, NULL) == NULL);
    }
    struct room_result res;
    struct msg v = mk(MSG_VOTE, "v1");
    v.item = 1;
    CHECK(write_msg(r, c, ROLE_CITIZEN, &v, 1000, &res) == NULL);
    CHECK_EQ_INT(res.budget_left, 1);
    snprintf(v.op, sizeof v.op, "v2");
    CHECK_EQ_STR(write_msg(r, c, ROLE_CITIZEN, &v, 1000, NULL), "already_voted");

    /* A vote in flight counts against the budget and blocks the same item. */
    struct msg v2 = mk(MSG_VOTE, "v3");
    v2.item = 2;
    struct event pending;
    CHECK(room_check(r, c, ROLE_CITIZEN, &v2, &pending) == NULL);
    room_reserve(r, &pending);
    struct msg v3 = mk(MSG_VOTE, "v4");
    v3.item = 3;
    CHECK_EQ_STR(room_check_err_helper(r, c, &v3), "budget_exhausted");
    CHECK_EQ_STR(room_check_err_helper(r, c, &v2), "busy");
    room_unreserve(r, &pending);
    CHECK(room_apply(r, "900-0", &pending, &res) == NULL);
    event_clear(&pending);
    CHECK_EQ_INT(res.budget_left, 0);
    CHECK_EQ_STR(write_msg(r, c, ROLE_CITIZEN, &v3, 1000, NULL), "budget_exhausted");

    struct msg u = mk(MSG_UNVOTE, "u1");
    u.item = 1;
    CHECK(write_msg(r, c, ROLE_CITIZEN, &u, 1000, &res) == NULL);
    CHECK_EQ_INT(res.budget_left, 1);
    CHECK_EQ_STR(write_msg(r, c, ROLE_CITIZEN, &u, 1000, NULL), "not_voted");
    CHECK(write_msg(r, c, ROLE_CITIZEN, &v3, 1000, NULL) == NULL);
    CHECK_EQ_INT(r->total_votes, 2);
    room_free(r);
}

TEST(clock_pause_resume_extend_and_deadline)
{
    struct room *r = new_room(0);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo");
    struct msg m = mk(MSG_START, "s");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &m, 100000, NULL) == NULL);
    CHECK_EQ_INT(room_deadline(r), 160000);
    CHECK_EQ_INT(room_remaining(r, 130000), 30000);
    m = mk(MSG_PAUSE, "p");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &m, 130000, NULL) == NULL);
    CHECK_EQ_INT(room_remaining(r, 999999), 30000);
    CHECK_EQ_INT(room_deadline(r), 0);
    m = mk(MSG_PAUSE, "p2");
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &m, 131000, NULL), "not_running");
    m = mk(MSG_EXTEND, "e");
    m.seconds = 10;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &m, 140000, NULL) == NULL);
    m = mk(MSG_RESUME, "r");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &m, 200000, NULL) == NULL);
    CHECK_EQ_INT(room_deadline(r), 240000);
    struct event e;
    CHECK(!room_check_deadline(r, 239999, &e));
    CHECK(room_check_deadline(r, 240000, &e));
    CHECK_EQ_INT(e.index, 0);
    e.at_ms = 240010;
    room_reserve(r, &e);
    struct event e2;
    CHECK(!room_check_deadline(r, 250000, &e2)); /* one clock event in flight at a time */
    struct msg post = mk(MSG_POST, "x");
    post.kind = KIND_PROBLEM;
    post.text = "During barrier";
    CHECK_EQ_STR(room_check_err_helper(r, mod, &post), "busy"); /* a clock event is in flight */
    room_unreserve(r, &e);
    CHECK(room_apply(r, "999-0", &e, NULL) == NULL);
    CHECK_EQ_INT(r->clock.index, 1);
    CHECK(!r->clock.has_deadline); /* ideate has no deadline */
    CHECK(!room_check_deadline(r, 10000000, &e2));
    /* A stale phase_ended (another index) does not apply. */
    CHECK_EQ_STR(room_apply(r, "1000-0", &e, NULL), "not_running");
    m = mk(MSG_EXTEND, "e2");
    m.seconds = 5;
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &m, 300000, NULL), "not_running");
    CHECK_EQ_INT(r->n_modlog, 5);
    room_free(r);
}

TEST(barrier_makes_citizen_writes_busy)
{
    struct room *r = new_room(0);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo"), c = join(r, ROLE_CITIZEN, "Ana");
    struct msg m = mk(MSG_START, "s");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &m, 1000, NULL) == NULL);
    struct msg pause = mk(MSG_PAUSE, "p");
    struct event e;
    CHECK(room_check(r, mod, ROLE_MODERATOR, &pause, &e) == NULL);
    room_reserve(r, &e);
    struct msg post = mk(MSG_POST, "x");
    post.kind = KIND_PROBLEM;
    post.text = "During barrier";
    CHECK_EQ_STR(room_check_err_helper(r, c, &post), "busy");
    room_unreserve(r, &e);
    event_clear(&e);
    CHECK_EQ_STR(room_check_err_helper(r, c, &post), "ok");
    room_free(r);
}

TEST(hide_unhide_and_ranking)
{
    struct room *r = new_room(0);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo"), a = join(r, ROLE_CITIZEN, "A"),
            b = join(r, ROLE_CITIZEN, "B");
    struct msg m = mk(MSG_START, "s");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &m, 1000, NULL) == NULL);
    for (int i = 0; i < 3; i++) {
        struct msg p = mk(MSG_POST, "");
        snprintf(p.op, sizeof p.op, "p%d", i);
        p.kind = KIND_PROBLEM;
        p.text = "Some problem";
        CHECK(write_msg(r, a, ROLE_CITIZEN, &p, 1000, NULL) == NULL);
    }
    struct msg v = mk(MSG_VOTE, "v1");
    v.item = 3;
    CHECK(write_msg(r, a, ROLE_CITIZEN, &v, 1000, NULL) == NULL);
    CHECK(write_msg(r, b, ROLE_CITIZEN, &v, 1000, NULL) == NULL);
    v.item = 2;
    snprintf(v.op, sizeof v.op, "v2");
    CHECK(write_msg(r, b, ROLE_CITIZEN, &v, 1000, NULL) == NULL);
    uint32_t top[5];
    CHECK_EQ_INT(room_top(r, KIND_PROBLEM, 5, top), 3);
    CHECK_EQ_INT(top[0], 3);
    CHECK_EQ_INT(top[1], 2);
    CHECK_EQ_INT(top[2], 1);
    struct msg h = mk(MSG_HIDE, "h1");
    h.item = 3;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &h, 1000, NULL) == NULL);
    CHECK_EQ_INT(room_top(r, KIND_PROBLEM, 5, top), 2);
    CHECK_EQ_INT(top[0], 2);
    snprintf(v.op, sizeof v.op, "v3");
    v.item = 3;
    CHECK_EQ_STR(room_check_err_helper(r, a, &v), "item_hidden");
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &h, 1000, NULL), "item_hidden");
    struct msg u = mk(MSG_UNHIDE, "h2");
    u.item = 3;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &u, 1000, NULL) == NULL);
    CHECK_EQ_INT(room_top(r, KIND_PROBLEM, 5, top), 3);
    CHECK_EQ_INT(top[0], 3);
    CHECK_EQ_INT(r->items[2]->votes, 2);
    u.item = 99;
    snprintf(u.op, sizeof u.op, "h3");
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &u, 1000, NULL), "no_such_item");
    room_free(r);
}

TEST(op_ids_take_effect_once)
{
    struct room *r = new_room(0);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo"), a = join(r, ROLE_CITIZEN, "A");
    struct msg m = mk(MSG_START, "s");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &m, 1000, NULL) == NULL);
    struct msg p = mk(MSG_POST, "same");
    p.kind = KIND_PROBLEM;
    p.text = "Once only";
    struct event e;
    CHECK(room_check(r, a, ROLE_CITIZEN, &p, &e) == NULL);
    e.at_ms = 1000;
    CHECK(room_apply(r, "50-0", &e, NULL) == NULL);
    /* The same event reaching the stream twice (a retry after an unknown outcome). */
    CHECK_EQ_STR(room_apply(r, "51-0", &e, NULL), "duplicate_op");
    event_clear(&e);
    CHECK_EQ_INT(r->n_items, 1);
    const struct op_done *d = room_op_done(r, a, "same");
    CHECK(d != NULL);
    CHECK_EQ_STR(d ? d->event_id : NULL, "50-0");
    CHECK_EQ_INT(d ? d->item : 0, 1);
    CHECK(room_op_done(r, mod, "same") == NULL); /* ops are per participant */
    room_free(r);
}

/* Apply the event just checked into ev[*n] with the next stream id, as after Redis answered. */
static const char *apply_logged(struct room *r, struct event *ev, char (*ids)[16], size_t *n,
                                struct room_result *res)
{
    snprintf(ids[*n], sizeof ids[*n], "%zu-0", 10 + *n);
    ev[*n].at_ms = 1000;
    const char *err = room_apply(r, ids[*n], &ev[*n], res);
    ++*n;
    return err;
}

/* An op's record is its ack: event id, item, and budget_left as it was right after the event by
 * the stream alone (a vote of the same participant still in flight does not change it), so a
 * replay of the same events and a snapshot of the room record the very same ack. */
TEST(op_record_is_the_original_ack)
{
    struct room *live = new_room(3), *replayed = new_room(3);
    struct event ev[8];
    char ids[8][16];
    size_t n = 0;
    struct room_result res;
    struct msg jm = {.type = MSG_JOIN, .as = ROLE_MODERATOR, .nickname = "Mo"};
    struct msg jc = {.type = MSG_JOIN, .as = ROLE_CITIZEN, .nickname = "Ana"};
    CHECK(room_check_join(live, &jm, &ev[n]) == NULL);
    int64_t mod = ev[n].pid;
    CHECK(apply_logged(live, ev, ids, &n, NULL) == NULL);
    CHECK(room_check_join(live, &jc, &ev[n]) == NULL);
    int64_t c = ev[n].pid;
    CHECK(apply_logged(live, ev, ids, &n, NULL) == NULL);
    struct msg start = mk(MSG_START, "s"), p1 = mk(MSG_POST, "p1"), p2 = mk(MSG_POST, "p2");
    p1.kind = p2.kind = KIND_PROBLEM;
    p1.text = p2.text = "Hot squares";
    struct msg v1 = mk(MSG_VOTE, "v1"), u1 = mk(MSG_UNVOTE, "u1"), v2 = mk(MSG_VOTE, "v2");
    struct msg v3 = mk(MSG_VOTE, "v3");
    v1.item = u1.item = v2.item = 1;
    v3.item = 2;
    CHECK(room_check(live, mod, ROLE_MODERATOR, &start, &ev[n]) == NULL);
    CHECK(apply_logged(live, ev, ids, &n, NULL) == NULL);
    CHECK(room_check(live, c, ROLE_CITIZEN, &p1, &ev[n]) == NULL);
    CHECK(apply_logged(live, ev, ids, &n, NULL) == NULL);
    CHECK(room_check(live, c, ROLE_CITIZEN, &p2, &ev[n]) == NULL);
    CHECK(apply_logged(live, ev, ids, &n, NULL) == NULL);
    /* v1 is stored while v3 of the same participant is in flight (and then fails). */
    struct event inflight;
    CHECK(room_check(live, c, ROLE_CITIZEN, &v1, &ev[n]) == NULL);
    CHECK(room_check(live, c, ROLE_CITIZEN, &v3, &inflight) == NULL);
    room_reserve(live, &inflight);
    CHECK(apply_logged(live, ev, ids, &n, &res) == NULL);
    CHECK_EQ_INT(res.budget_left, 2);
    CHECK_EQ_INT(room_budget_left(live, room_participant(live, c)), 1); /* what may be checked */
    room_unreserve(live, &inflight);
    event_clear(&inflight);
    CHECK(room_check(live, c, ROLE_CITIZEN, &u1, &ev[n]) == NULL);
    CHECK(apply_logged(live, ev, ids, &n, &res) == NULL);
    CHECK_EQ_INT(res.budget_left, 3);
    CHECK(room_check(live, c, ROLE_CITIZEN, &v2, &ev[n]) == NULL);
    CHECK(apply_logged(live, ev, ids, &n, &res) == NULL);
    CHECK_EQ_INT(res.budget_left, 2);

    const struct op_done *d;
    CHECK((d = room_op_done(live, c, "v1")) && d->has_budget && d->budget_left == 2);
    CHECK((d = room_op_done(live, c, "u1")) && d->has_budget && d->budget_left == 3);
    CHECK((d = room_op_done(live, c, "v2")) && d->has_budget && d->budget_left == 2);
    CHECK((d = room_op_done(live, c, "p2")) && !d->has_budget && d->item == 2);
    CHECK((d = room_op_done(live, mod, "s")) && !d->has_budget && d->item == 0);

    for (size_t i = 0; i < n; i++)
        CHECK(room_apply(replayed, ids[i], &ev[i], NULL) == NULL);
    unsigned char *buf;
    size_t len;
    room_snapshot_encode(live, false, &buf, &len);
    struct room_limits lim = {100, 100};
    struct room *copy = room_snapshot_decode(buf, len, &lim);
    CHECK(copy != NULL);
    const struct room *others[] = {replayed, copy};
    const char *ops[] = {"s", "p1", "p2", "v1", "u1", "v2"};
    for (size_t o = 0; o < 2; o++)
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
            int64_t pid = i == 0 ? mod : c;
            const struct op_done *x = room_op_done(live, pid, ops[i]);
            const struct op_done *y = others[o] ? room_op_done(others[o], pid, ops[i]) : NULL;
            CHECK(x && y);
            if (x && y) {
                CHECK_EQ_STR(y->event_id, x->event_id);
                CHECK_EQ_INT(y->item, x->item);
                CHECK_EQ_INT(y->has_budget, x->has_budget);
                CHECK_EQ_INT(y->budget_left, x->budget_left);
            }
        }
    free(buf);
    room_free(copy);
    for (size_t i = 0; i < n; i++)
        event_clear(&ev[i]);
    room_free(live);
    room_free(replayed);
}

TEST(delta_tracks_one_tick)
{
    struct room *r = new_room(0);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo");
    room_delta_reset(r);
    CHECK_EQ_STR(r->delta.prev, r->last_id);
    struct msg m = mk(MSG_START, "s");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &m, 1000, NULL) == NULL);
    CHECK(r->delta.clock);
    CHECK_EQ_STR(r->delta.from, r->last_id);
    struct msg p = mk(MSG_POST, "p");
    p.kind = KIND_PROBLEM;
    p.text = "Delta";
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &p, 1000, NULL) == NULL);
    CHECK_EQ_INT(r->delta.n_items, 1);
    CHECK(stream_id_cmp(r->delta.to, r->delta.from) > 0);
    uint32_t top[4];
    size_t n;
    CHECK(room_top_changed(r, KIND_PROBLEM, 4, top, &n));
    CHECK(!room_top_changed(r, KIND_PROBLEM, 4, top, &n));
    room_delta_reset(r);
    CHECK_EQ_INT(r->delta.n_items, 0);
    CHECK_EQ_STR(r->delta.from, "");
    room_free(r);
}

/* What a catch-up read of the stream reports: every item a stored event touched, once, judged
 * by the current state (a post's item comes from its op's recorded outcome, and a duplicate of an
 * applied op touches nothing); clock and stats when they changed. */
struct stored {
    char id[32];
    struct event e;
};

static void store_event(struct room *r, struct stored *st, size_t *n, int64_t pid, enum role role,
                        struct msg *m, int64_t at_ms)
{
    struct stored *x = &st[(*n)++];
    CHECK(room_check(r, pid, role, m, &x->e) == NULL);
    x->e.at_ms = at_ms;
    snprintf(x->id, sizeof x->id, "%llu-0", ++seq);
    CHECK(room_apply(r, x->id, &x->e, NULL) == NULL);
}

TEST(touch_reports_what_stored_events_changed)
{
    struct room *r = new_room(0);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo"), cit = join(r, ROLE_CITIZEN, "Ci");
    struct stored st[16];
    size_t n = 0;
    struct msg m = mk(MSG_START, "s");
    store_event(r, st, &n, mod, ROLE_MODERATOR, &m, 1000);
    m = mk(MSG_POST, "p1");
    m.kind = KIND_PROBLEM;
    m.text = "First";
    store_event(r, st, &n, mod, ROLE_MODERATOR, &m, 1000);
    size_t from = n; /* the client saw everything up to here */
    m = mk(MSG_POST, "x");
    m.kind = KIND_PROBLEM;
    m.text = "Second";
    store_event(r, st, &n, cit, ROLE_CITIZEN, &m, 1000);
    /* The same op stored again (a retry after an unknown outcome): no effect when applied. */
    st[n] = st[n - 1];
    st[n].e.text = xstrdup(st[n - 1].e.text);
    snprintf(st[n].id, sizeof st[n].id, "%llu-0", ++seq);
    CHECK_EQ_STR(room_apply(r, st[n].id, &st[n].e, NULL), "duplicate_op");
    n++;
    m = mk(MSG_VOTE, "v");
    m.item = 1;
    store_event(r, st, &n, cit, ROLE_CITIZEN, &m, 1000);
    m = mk(MSG_HIDE, "h");
    m.item = 2;
    store_event(r, st, &n, mod, ROLE_MODERATOR, &m, 1000);
    m = mk(MSG_PAUSE, "pz");
    store_event(r, st, &n, mod, ROLE_MODERATOR, &m, 2000);

    struct room_delta d;
    memset(&d, 0, sizeof d);
    for (size_t i = from; i < n; i++)
        room_touch(r, st[i].id, &st[i].e, &d);
    CHECK_EQ_STR(d.from, st[from].id);
    CHECK_EQ_STR(d.to, st[n - 1].id);
    CHECK_EQ_INT(d.n_items, 1); /* item 2: posted, then hidden; the duplicate adds nothing */
    CHECK(d.n_items == 1 && d.items[0] == 2);
    CHECK(d.n_votes == 1 && d.votes[0] == 1);
    CHECK(d.kinds == 1u << KIND_PROBLEM);
    CHECK(d.clock && d.stats);
    room_delta_clear(&d);
    CHECK(d.items == NULL && d.n_items == 0 && !d.clock);

    /* The duplicate alone touches nothing; the pause alone only the clock. */
    room_touch(r, st[from + 1].id, &st[from + 1].e, &d);
    CHECK(d.n_items == 0 && d.n_votes == 0 && !d.stats && !d.clock);
    CHECK_EQ_STR(d.to, st[from + 1].id);
    room_touch(r, st[n - 1].id, &st[n - 1].e, &d);
    CHECK(d.n_items == 0 && d.clock && !d.stats);
    CHECK_EQ_STR(d.from, st[from + 1].id);
    room_delta_clear(&d);
    for (size_t i = 0; i < n; i++)
        event_clear(&st[i].e);
    room_free(r);
}

TEST(join_rules)
{
    struct room *r = new_room(0);
    r->cfg.settings.anonymous_allowed = false;
    struct msg m = {.type = MSG_JOIN, .as = ROLE_CITIZEN, .anonymous = true};
    struct event e;
    CHECK_EQ_STR(room_check_join(r, &m, &e), "anonymous_not_allowed");
    m.anonymous = false;
    CHECK_EQ_STR(room_check_join(r, &m, &e), "nickname_required");
    m.nickname = "Ana";
    CHECK(room_check_join(r, &m, &e) == NULL);
    int64_t first = e.pid;
    room_reserve(r, &e);
    struct event e2;
    CHECK(room_check_join(r, &m, &e2) == NULL);
    CHECK(e2.pid != first); /* joins in flight get distinct ids */
    event_clear(&e2);
    room_unreserve(r, &e);
    event_clear(&e);
    room_free(r);
}

/* A room with every kind of state: items, hidden, votes across phases, ops, modlog, anonymous. */
static struct room *busy_room(void)
{
    struct room *r = new_room(3);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo"), a = join(r, ROLE_CITIZEN, "A"),
            b = join(r, ROLE_CITIZEN, NULL);
    struct msg m = mk(MSG_START, "s");
    write_msg(r, mod, ROLE_MODERATOR, &m, 1000, NULL);
    for (int i = 0; i < 4; i++) {
        struct msg p = mk(MSG_POST, "");
        snprintf(p.op, sizeof p.op, "p%d", i);
        p.kind = KIND_PROBLEM;
        p.text = "A problem \u00e9";
        write_msg(r, i % 2 ? a : b, ROLE_CITIZEN, &p, 1000, NULL);
    }
    for (int i = 1; i <= 3; i++) {
        struct msg v = mk(MSG_VOTE, "");
        snprintf(v.op, sizeof v.op, "v%d", i);
        v.item = 5 - i;
        write_msg(r, a, ROLE_CITIZEN, &v, 1000, NULL);
        write_msg(r, b, ROLE_CITIZEN, &v, 1000, NULL);
    }
    struct msg h = mk(MSG_HIDE, "h");
    h.item = 2;
    h.reason = "spam";
    write_msg(r, mod, ROLE_MODERATOR, &h, 1500, NULL);
    struct msg pause = mk(MSG_PAUSE, "pz");
    write_msg(r, mod, ROLE_MODERATOR, &pause, 2000, NULL);
    return r;
}

TEST(snapshot_round_trip_is_exact)
{
    struct room *r = busy_room();
    unsigned char *a, *b;
    size_t alen, blen;
    room_snapshot_encode(r, true, &a, &alen);
    struct room_limits lim = {100, 100};
    struct room *copy = room_snapshot_decode(a, alen, &lim);
    CHECK(copy != NULL);
    if (copy) {
        room_snapshot_encode(copy, true, &b, &blen);
        CHECK_EQ_INT(blen, alen);
        CHECK(blen == alen && memcmp(a, b, alen) == 0);
        free(b);
        /* Derived state is rebuilt, not stored. */
        uint32_t t1[8], t2[8];
        size_t n1 = room_top(r, KIND_PROBLEM, 8, t1), n2 = room_top(copy, KIND_PROBLEM, 8, t2);
        CHECK_EQ_INT(n1, n2);
        CHECK(memcmp(t1, t2, n1 * sizeof *t1) == 0);
        CHECK_EQ_INT(copy->total_votes, r->total_votes);
        CHECK_EQ_INT(r->n_citizens, 2); /* the moderator is a participant, not a citizen */
        CHECK_EQ_INT(copy->n_citizens, r->n_citizens);
        CHECK(room_op_done(copy, 2, "v1") != NULL);
        CHECK_EQ_INT(copy->clock.state, CLOCK_PAUSED);
        /* The copy goes on exactly like the original. */
        struct msg resume = mk(MSG_RESUME, "rs");
        CHECK(write_msg(copy, 1, ROLE_MODERATOR, &resume, 3000, NULL) == NULL);
        room_free(copy);
    }
    free(a);
    room_free(r);
}

TEST(snapshot_decode_rejects_every_truncation_and_garbage)
{
    struct room *r = busy_room();
    unsigned char *a;
    size_t alen;
    room_snapshot_encode(r, false, &a, &alen);
    struct room_limits lim = {100, 100};
    int accepted = 0;
    for (size_t n = 0; n < alen; n++) {
        struct room *x = room_snapshot_decode(a, n, &lim);
        accepted += x != NULL;
        room_free(x);
    }
    CHECK_EQ_INT(accepted, 0);
    unsigned char junk[256];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i * 37 + 11);
    memcpy(junk, "CJS2", 4);
    CHECK(room_snapshot_decode(junk, sizeof junk, &lim) == NULL);
    free(a);
    room_free(r);
}

int main(void)
{
    RUN(lobby_refuses_posts_and_citizen_moderation);
    RUN(phases_decide_kinds_and_parents);
    RUN(budget_refund_and_pending_votes);
    RUN(clock_pause_resume_extend_and_deadline);
    RUN(barrier_makes_citizen_writes_busy);
    RUN(hide_unhide_and_ranking);
    RUN(op_ids_take_effect_once);
    RUN(op_record_is_the_original_ack);
    RUN(delta_tracks_one_tick);
    RUN(touch_reports_what_stored_events_changed);
    RUN(join_rules);
    RUN(snapshot_round_trip_is_exact);
    RUN(snapshot_decode_rejects_every_truncation_and_garbage);
    return test_done();
}
