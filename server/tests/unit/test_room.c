/* SPDX-License-Identifier: MIT
 * test_room.c - the jam state machine through its public API: checks, reservations, apply,
 * clock transitions with event timestamps, budgets, hiding, op de-duplication and the op table,
 * the delta, the event chain, and the restore calls of the snapshot decoder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "alloc.h"
#include "codec.h"
#include "room.h"
#include "snapshot.h"
#include "test.h"

#include "room_kit.h"

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
 * replay of the same events records the very same ack (test_snapshot.c: and so does a snapshot). */
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
    const char *ops[] = {"s", "p1", "p2", "v1", "u1", "v2"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        int64_t pid = i == 0 ? mod : c;
        const struct op_done *x = room_op_done(live, pid, ops[i]);
        const struct op_done *y = room_op_done(replayed, pid, ops[i]);
        CHECK(x && y);
        if (x && y) {
            CHECK_EQ_STR(y->event_id, x->event_id);
            CHECK_EQ_INT(y->item, x->item);
            CHECK_EQ_INT(y->has_budget, x->has_budget);
            CHECK_EQ_INT(y->budget_left, x->budget_left);
        }
    }
    for (size_t i = 0; i < n; i++)
        event_clear(&ev[i]);
    room_free(live);
    room_free(replayed);
}

TEST(delta_starts_at_the_creation)
{
    struct room *r = new_room(0); /* jam_created applied as "1-0" */
    CHECK_EQ_STR(r->delta.prev, "1-0");
    CHECK_EQ_STR(r->delta.from, "");
    join(r, ROLE_CITIZEN, "Ci");
    CHECK_EQ_STR(r->delta.prev, "1-0");
    CHECK(stream_id_cmp(r->delta.from, "1-0") > 0);
    room_free(r);
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

/* The event chain, computed here with OpenSSL directly from what a stream holds: the ids and the
 * stored payloads (codec_event_encode at append time, as handlers.c's submit does). */
struct stored_log {
    char id[16][16];
    char *json[16];
    size_t n;
};

static void log_event(struct room *r, struct stored_log *lg, struct event *e, const char *want)
{
    snprintf(lg->id[lg->n], sizeof lg->id[0], "%llu-0", ++seq);
    lg->json[lg->n] = codec_event_encode(e);
    const char *err = room_apply(r, lg->id[lg->n], e, NULL);
    CHECK_EQ_STR(err ? err : "ok", want);
    lg->n++;
    event_clear(e);
}

static void expected_head(const struct stored_log *lg, size_t skip_edit, const char *edit,
                          uint8_t out[32])
{
    memset(out, 0, 32);
    for (size_t i = 0; i < lg->n; i++) {
        const char *json = i == skip_edit && edit ? edit : lg->json[i];
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        unsigned len = 0;
        EVP_DigestInit_ex(c, EVP_sha256(), NULL);
        EVP_DigestUpdate(c, out, 32);
        EVP_DigestUpdate(c, lg->id[i], strlen(lg->id[i]));
        EVP_DigestUpdate(c, "\n", 1);
        EVP_DigestUpdate(c, json, strlen(json));
        EVP_DigestFinal_ex(c, out, &len);
        EVP_MD_CTX_free(c);
    }
}

/* Replay 'lg' (payload 'edit' in place of entry 'at', if given) into a fresh room. */
static struct room *replay_log(const struct stored_log *lg, size_t at, const char *edit)
{
    struct room *r = NULL;
    for (size_t i = 0; i < lg->n; i++) {
        const char *json = i == at && edit ? edit : lg->json[i];
        struct event e;
        struct codec_error ce;
        CHECK(codec_event_decode(json, strlen(json), &e, &ce) == 0);
        if (!r) {
            struct room_limits lim = {100, 100};
            r = room_new(&e.jam, &lim);
        }
        room_apply(r, lg->id[i], &e, NULL);
        event_clear(&e);
    }
    return r;
}

TEST(chain_links_every_stored_event_in_stream_order)
{
    struct stored_log lg = {0};
    struct jam_config c = {0};
    strcpy(c.code, "123456");
    c.title = "T";
    c.question = "Q";
    c.agenda[0] = (struct agenda_step){PHASE_EXPLORE, 60};
    c.n_agenda = 1;
    c.settings = (struct jam_settings){true, 0, 2, 50, false, false};
    strcpy(c.secret_sha256, "00");
    struct room_limits lim = {100, 100};
    struct room *r = room_new(&c, &lim);
    struct event e = {.type = EV_JAM_CREATED, .at_ms = 1000, .jam = c};
    e.jam.title = xstrdup("T");
    e.jam.question = xstrdup("Q");
    log_event(r, &lg, &e, "ok");
    CHECK_EQ_INT(r->chain.n, 1);
    struct msg jm = {.type = MSG_JOIN, .as = ROLE_MODERATOR, .nickname = "Mo"};
    CHECK(room_check_join(r, &jm, &e) == NULL);
    log_event(r, &lg, &e, "ok");
    jm.as = ROLE_CITIZEN, jm.nickname = "A";
    CHECK(room_check_join(r, &jm, &e) == NULL);
    log_event(r, &lg, &e, "ok");
    struct msg m = mk(MSG_START, "s");
    CHECK(room_check(r, 1, ROLE_MODERATOR, &m, &e) == NULL);
    e.at_ms = 2000;
    log_event(r, &lg, &e, "ok");
    m = mk(MSG_POST, "p");
    m.kind = KIND_PROBLEM;
    m.text = "No shade";
    CHECK(room_check(r, 2, ROLE_CITIZEN, &m, &e) == NULL);
    struct event again;
    CHECK(room_check(r, 2, ROLE_CITIZEN, &m, &again) == NULL);
    log_event(r, &lg, &e, "ok");
    log_event(r, &lg, &again, "duplicate_op"); /* stored twice: no second effect, still chained */
    m = mk(MSG_VOTE, "v");
    m.item = 1;
    CHECK(room_check(r, 2, ROLE_CITIZEN, &m, &e) == NULL);
    log_event(r, &lg, &e, "ok");
    m = mk(MSG_HIDE, "h");
    m.item = 1;
    m.reason = "dup";
    CHECK(room_check(r, 1, ROLE_MODERATOR, &m, &e) == NULL);
    log_event(r, &lg, &e, "ok");

    uint8_t want[32];
    expected_head(&lg, 0, NULL, want);
    CHECK(memcmp(r->chain.head, want, 32) == 0);
    CHECK_EQ_INT(r->chain.n, lg.n);
    CHECK_EQ_STR(r->chain.id, lg.id[lg.n - 1]);
    /* Each moderation entry holds the head right after its event. */
    CHECK(r->n_modlog == 2 && memcmp(r->modlog[1].chain, want, 32) == 0);

    /* Another process replaying the stream computes the same chain. */
    struct room *other = replay_log(&lg, 0, NULL);
    CHECK(memcmp(other->chain.head, want, 32) == 0);
    /* An entry judged already (at or before the chain's id) is not chained twice. */
    struct event late = {.type = EV_UNVOTED, .by = 2, .item = 1};
    snprintf(late.op, sizeof late.op, "late");
    room_apply(other, lg.id[2], &late, NULL);
    CHECK(memcmp(other->chain.head, want, 32) == 0);
    CHECK_EQ_INT(other->chain.n, lg.n);

    /* One vote edited in the stream: a different head, the one the edit predicts. */
    char *vote = lg.json[6];
    CHECK(strstr(vote, "\"t\":\"voted\"") != NULL);
    struct room *forged = replay_log(
        &lg, 6, "{\"t\":\"voted\",\"at\":2000,\"by\":2,\"op\":\"w\",\"item\":1}");
    uint8_t edited[32];
    expected_head(&lg, 6, "{\"t\":\"voted\",\"at\":2000,\"by\":2,\"op\":\"w\",\"item\":1}", edited);
    CHECK(memcmp(forged->chain.head, want, 32) != 0);
    CHECK(memcmp(forged->chain.head, edited, 32) == 0);

    char hex[65];
    room_chain_hex(want, hex);
    CHECK_EQ_INT(strlen(hex), 64);
    room_free(forged);
    room_free(other);
    room_free(r);
    for (size_t i = 0; i < lg.n; i++)
        free(lg.json[i]);
}

TEST(id_compare)
{
    CHECK(stream_id_cmp("1-0", "1-1") < 0);
    CHECK(stream_id_cmp("10-0", "9-5") > 0);
    CHECK(stream_id_cmp("5-5", "5-5") == 0);
    CHECK(stream_id_cmp("junk", "0-0") == 0);
}

/* The decoder's way in: each restore call refuses what contradicts the room restored so far and
 * changes nothing then; room_restore_done rebuilds rankings and totals from the items. */
TEST(restore_refuses_contradictions_and_rebuilds_rankings)
{
    struct jam_config c = {0};
    strcpy(c.code, "123456");
    c.title = "T";
    c.question = "Q";
    c.agenda[0] = (struct agenda_step){PHASE_EXPLORE, 60};
    c.agenda[1] = (struct agenda_step){PHASE_IDEATE, 0};
    c.n_agenda = 2;
    struct room_limits lim = {100, 100};
    struct room *r = room_new(&c, &lim);
    struct clock running_lobby = {.state = CLOCK_RUNNING, .index = -1};
    struct clock late = {.state = CLOCK_RUNNING, .index = 2};
    struct clock ok = {.state = CLOCK_PAUSED, .index = 1, .has_deadline = true, .remaining_ms = 5};
    CHECK(!room_restore_head(r, &running_lobby, "9-0", 7, 3));
    CHECK(!room_restore_head(r, &late, "9-0", 7, 3));
    CHECK(room_restore_head(r, &ok, "9-0", 7, 3));
    CHECK_EQ_STR(r->last_id, "9-0");
    CHECK_EQ_INT(r->n_events, 7);

    struct item it = {.id = 1, .kind = KIND_PROBLEM, .author = 1, .votes = 2, .text = "one"};
    struct item wrong_id = it, own_parent = it, bad_phase = it, no_text = it;
    wrong_id.id = 2;
    own_parent.parent = 1;
    bad_phase.phase_index = 2;
    no_text.text = NULL;
    CHECK(!room_restore_item(r, &wrong_id));
    CHECK(!room_restore_item(r, &own_parent));
    CHECK(!room_restore_item(r, &bad_phase));
    CHECK(!room_restore_item(r, &no_text));
    CHECK_EQ_INT(r->n_items, 0);
    CHECK(room_restore_item(r, &it));
    struct item hidden = {.id = 2, .kind = KIND_PROBLEM, .votes = 5, .hidden = true, .text = "two"};
    struct item idea = {.id = 3, .kind = KIND_IDEA, .parent = 1, .votes = 1, .text = "three"};
    CHECK(room_restore_item(r, &hidden));
    CHECK(room_restore_item(r, &idea));

    uint32_t used[JAM_MAX_PHASES] = {1, 1};
    struct participant *p = room_restore_participant(r, 1, ROLE_CITIZEN, "Ana", used);
    CHECK(p != NULL);
    CHECK(room_restore_participant(r, 1, ROLE_CITIZEN, NULL, used) == NULL); /* same pid */
    CHECK(room_restore_participant(r, 2, ROLE_SCREEN, NULL, used) == NULL);
    CHECK_EQ_INT(r->next_pid, 3); /* a restored pid is never handed out again */
    if (p) {
        CHECK_EQ_INT(p->used[1], 1);
        CHECK(room_restore_vote(r, p, 1, 0));
        CHECK(!room_restore_vote(r, p, 1, 1)); /* twice */
        CHECK(!room_restore_vote(r, p, 4, 1)); /* no such item */
        CHECK(!room_restore_vote(r, p, 3, 2)); /* no such agenda index */
        CHECK(room_restore_vote(r, p, 3, 1));
        int index = -1;
        CHECK(room_vote_index(r, 1, 3, &index));
        CHECK_EQ_INT(index, 1);
        CHECK(!room_vote_index(r, 1, 2, &index));
    }

    struct op_done done = {.event_id = "8-0", .item = 3};
    done.budget_left = -1;
    struct op_done no_budget_but_left = done;
    no_budget_but_left.budget_left = 4;
    CHECK(room_restore_op(r, 1, "p3", &done));
    CHECK(!room_restore_op(r, 1, "p3", &done)); /* an op takes effect once */
    CHECK(!room_restore_op(r, 1, "p4", &no_budget_but_left));
    const struct op_done *d = room_op_done(r, 1, "p3");
    CHECK(d && d->item == 3 && strcmp(d->event_id, "8-0") == 0);
    CHECK(room_op_done(r, 1, "p4") == NULL);

    struct mod_entry vote = {.event_id = "5-0", .type = EV_VOTED};
    struct mod_entry hide = {
        .event_id = "6-0", .type = EV_HIDDEN, .by = 1, .item = 2, .reason = "spam"};
    CHECK(!room_restore_moderation(r, &vote));
    CHECK(room_restore_moderation(r, &hide));
    CHECK_EQ_INT(r->n_modlog, 1);
    CHECK_EQ_STR(r->modlog[0].reason, "spam");

    room_restore_done(r);
    uint32_t top[4];
    CHECK_EQ_INT(room_top(r, KIND_PROBLEM, 4, top), 1); /* the hidden item is not ranked */
    CHECK_EQ_INT(top[0], 1);
    CHECK_EQ_INT(room_top(r, KIND_IDEA, 4, top), 1);
    CHECK_EQ_INT(r->n_visible, 2);
    CHECK_EQ_INT(r->total_votes, 8);
    CHECK_EQ_INT(r->delta.n_items, 0);
    CHECK_EQ_STR(r->delta.prev, "9-0");
    room_free(r);
}

/* The op table's hash is SipHash-2-4 of (pid, op) under the process key: the reference vectors
 * (key 00..0f, messages 00 01 02 ...: the first 8 bytes are the tweak), and another key gives
 * other hashes, so ids chosen to collide under one key do not collide under the next. */
TEST(op_hash_is_keyed_siphash)
{
    unsigned char key[16], other[16];
    for (int i = 0; i < 16; i++) {
        key[i] = (unsigned char)i;
        other[i] = (unsigned char)(0xA0 + i);
    }
    const unsigned char msg[17] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    uint64_t tweak = 0x0706050403020100ull;
    hash_seed(key);
    CHECK(hash_bytes(msg + 8, 0, tweak) == 0x93f5f5799a932462ull);
    CHECK(hash_bytes(msg + 8, 7, tweak) == 0xa129ca6149be45e5ull);
    CHECK(hash_bytes(msg + 8, 9, tweak) == 0x699ae9f52cbe4794ull);
    CHECK(hash_bytes("o1", 2, 7) != hash_bytes("o1", 2, 8)); /* the pid is hashed */
    uint64_t h = hash_bytes("o1", 2, 7);
    hash_seed(other);
    CHECK(hash_bytes("o1", 2, 7) != h);
    hash_seed(key); /* back to the default key, before any room exists again */
}

/* Several records under one hash (what a collision of op hashes is): all found, each removable. */
TEST(op_table_keeps_records_whose_hashes_collide)
{
    struct imap t;
    imap_init(&t);
    for (uint64_t v = 1; v <= 40; v++) /* 40 entries sharing a key overflow a 16-slot table */
        imap_add(&t, 99, v);
    imap_add(&t, 100, 1000);
    uint64_t seen = 0, sum = 0, v;
    for (size_t pos = 0; imap_probe(&t, 99, &pos, &v);) {
        seen++;
        sum += v;
    }
    CHECK_EQ_INT(seen, 40);
    CHECK_EQ_INT(sum, 40 * 41 / 2);
    CHECK(imap_del_pair(&t, 99, 17));
    CHECK(!imap_del_pair(&t, 99, 17));
    CHECK(!imap_del_pair(&t, 100, 17));
    seen = 0;
    for (size_t pos = 0; imap_probe(&t, 99, &pos, &v);)
        seen += v != 17;
    CHECK_EQ_INT(seen, 39);
    CHECK(imap_get(&t, 100, &v) && v == 1000);
    CHECK_EQ_INT(t.used, 40);
    imap_deinit(&t);
}

/* Many ops through room_apply (the table grows several times): each one found with its outcome,
 * only for its own participant, and room_op_next walks each record exactly once. */
TEST(op_table_finds_every_op_after_growth)
{
    struct room *r = new_room(0);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo"), a = join(r, ROLE_CITIZEN, "A"),
            b = join(r, ROLE_CITIZEN, "B");
    struct msg m = mk(MSG_START, "s");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &m, 1000, NULL) == NULL);
    struct msg p = mk(MSG_POST, "p");
    p.kind = KIND_PROBLEM;
    p.text = "Shade";
    CHECK(write_msg(r, a, ROLE_CITIZEN, &p, 1000, NULL) == NULL);
    enum { N = 3000 };
    for (int i = 0; i < N; i++) {
        struct msg v = mk(i % 2 ? MSG_UNVOTE : MSG_VOTE, "");
        snprintf(v.op, sizeof v.op, "op-%d", i);
        v.item = 1;
        CHECK(write_msg(r, a, ROLE_CITIZEN, &v, 1000, NULL) == NULL);
    }
    int found = 0, foreign = 0;
    for (int i = 0; i < N; i++) {
        char op[16];
        snprintf(op, sizeof op, "op-%d", i);
        const struct op_done *d = room_op_done(r, a, op);
        found += d && d->has_budget && d->budget_left == -1;
        foreign += room_op_done(r, b, op) != NULL;
    }
    CHECK_EQ_INT(found, N);
    CHECK_EQ_INT(foreign, 0);
    size_t walked = 0, own = 0;
    const struct room_op *o;
    for (size_t pos = 0; (o = room_op_next(r, &pos)) != NULL; walked++)
        own += o->pid == a && room_op_done(r, a, o->op) == &o->done;
    CHECK_EQ_INT(walked, N + 2); /* and "s", "p" */
    CHECK_EQ_INT(own, N + 1);
    room_free(r);
}

static struct msg post_msg(const char *op, const char *text)
{
    struct msg m = mk(MSG_POST, op);
    m.kind = KIND_PROBLEM;
    m.text = (char *)text;
    return m;
}

/* issue 10: one participant cannot fill the jam; hidden items give the room back. */
TEST(item_quota_per_participant_and_hidden_items_free_the_jam)
{
    struct room *r = new_room(0);
    r->limits.max_items = 6;
    r->quotas.items = 3;
    int64_t mod = join(r, ROLE_MODERATOR, "Mo"), a = join(r, ROLE_CITIZEN, "A"),
            b = join(r, ROLE_CITIZEN, "B");
    struct msg s = mk(MSG_START, "s1");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &s, 10000, NULL) == NULL);
    char op[16];
    for (int i = 0; i < 3; i++) {
        snprintf(op, sizeof op, "a%d", i);
        struct msg m = post_msg(op, "Spam");
        CHECK(write_msg(r, a, ROLE_CITIZEN, &m, 11000, NULL) == NULL);
    }
    struct msg more = post_msg("a3", "Spam");
    CHECK_EQ_STR(write_msg(r, a, ROLE_CITIZEN, &more, 11000, NULL), "quota_exceeded");
    struct msg other = post_msg("b0", "Heat");
    CHECK(write_msg(r, b, ROLE_CITIZEN, &other, 11000, NULL) == NULL);
    /* Hiding an item of A's does not give A its quota back... */
    struct msg hide = mk(MSG_HIDE, "h1");
    hide.item = 1;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &hide, 11000, NULL) == NULL);
    CHECK_EQ_STR(write_msg(r, a, ROLE_CITIZEN, &more, 11000, NULL), "quota_exceeded");
    /* ...and posts in flight count: B has 1 applied + 2 reserved = its quota of 3. */
    struct event e1, e2;
    struct msg b1 = post_msg("b1", "Heat"), b2 = post_msg("b2", "Heat"), b3 = post_msg("b3", "x2");
    CHECK(room_check(r, b, ROLE_CITIZEN, &b1, &e1) == NULL);
    room_reserve(r, &e1);
    CHECK(room_check(r, b, ROLE_CITIZEN, &b2, &e2) == NULL);
    room_reserve(r, &e2);
    CHECK_EQ_STR(room_check_err_helper(r, b, &b3), "quota_exceeded");
    room_unreserve(r, &e1);
    room_unreserve(r, &e2);
    event_clear(&e1);
    event_clear(&e2);
    /* max_items counts visible items: 4 stored, 3 visible; fill to 6 visible. */
    int64_t c = join(r, ROLE_CITIZEN, "C");
    for (int i = 0; i < 3; i++) {
        snprintf(op, sizeof op, "c%d", i);
        struct msg m = post_msg(op, "Idea");
        CHECK(write_msg(r, c, ROLE_CITIZEN, &m, 11000, NULL) == NULL);
    }
    struct msg full = post_msg("mo1", "Mine");
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &full, 11000, NULL), "jam_full");
    struct msg hide2 = mk(MSG_HIDE, "h2");
    hide2.item = 2;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &hide2, 11000, NULL) == NULL);
    /* Moderators have no item quota; the freed visible slot is theirs to take. */
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &full, 11000, NULL) == NULL);
    room_free(r);
}

TEST(pending_writes_per_participant_across_sessions)
{
    struct room *r = new_room(0);
    r->quotas.pending = 2;
    int64_t mod = join(r, ROLE_MODERATOR, "Mo"), a = join(r, ROLE_CITIZEN, "A");
    struct msg s = mk(MSG_START, "s1");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &s, 10000, NULL) == NULL);
    struct event e[2];
    struct msg m0 = post_msg("p0", "One"), m1 = post_msg("p1", "Two"), m2 = post_msg("p2", "Six");
    CHECK(room_check(r, a, ROLE_CITIZEN, &m0, &e[0]) == NULL);
    room_reserve(r, &e[0]);
    CHECK(room_check(r, a, ROLE_CITIZEN, &m1, &e[1]) == NULL);
    room_reserve(r, &e[1]);
    CHECK_EQ_STR(room_check_err_helper(r, a, &m2), "busy");
    room_unreserve(r, &e[0]);
    CHECK_EQ_STR(room_check_err_helper(r, a, &m2), "ok");
    room_unreserve(r, &e[1]);
    event_clear(&e[0]);
    event_clear(&e[1]);
    room_free(r);
}

/* issue 10: a moderator removes a citizen; the stream decides, so room_apply refuses the removed
 * participant's writes even when they were checked before the removal. */
TEST(remove_participant_hides_posts_and_refuses_its_writes)
{
    struct room *r = new_room(0);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo"), a = join(r, ROLE_CITIZEN, "A"),
            b = join(r, ROLE_CITIZEN, "B");
    struct msg s = mk(MSG_START, "s1");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &s, 10000, NULL) == NULL);
    struct msg a1 = post_msg("a1", "Spam"), a2 = post_msg("a2", "Spam"),
               b1 = post_msg("b1", "Heat");
    CHECK(write_msg(r, a, ROLE_CITIZEN, &a1, 11000, NULL) == NULL);
    CHECK(write_msg(r, b, ROLE_CITIZEN, &b1, 11000, NULL) == NULL);
    CHECK(write_msg(r, a, ROLE_CITIZEN, &a2, 11000, NULL) == NULL);
    /* A's third post is checked before the removal and applied after it. */
    struct event late;
    struct msg a3 = post_msg("a3", "Spam");
    CHECK(room_check(r, a, ROLE_CITIZEN, &a3, &late) == NULL);
    late.at_ms = 11500;
    struct msg rm = mk(MSG_REMOVE, "r1");
    rm.pid = a;
    rm.hide_posts = true;
    rm.reason = "flooding";
    CHECK_EQ_STR(write_msg(r, a, ROLE_CITIZEN, &rm, 12000, NULL), "forbidden");
    struct msg rm_mod = rm;
    rm_mod.pid = mod;
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &rm_mod, 12000, NULL), "forbidden");
    struct msg rm_none = rm;
    rm_none.pid = 99;
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &rm_none, 12000, NULL), "no_such_participant");
    room_delta_reset(r);
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &rm, 12000, NULL) == NULL);
    CHECK(room_participant(r, a)->removed);
    CHECK(room_item(r, 1)->hidden && room_item(r, 3)->hidden && !room_item(r, 2)->hidden);
    CHECK_EQ_INT(r->n_visible, 1);
    CHECK_EQ_INT(r->delta.n_items, 2);
    CHECK_EQ_INT(room_top(r, KIND_PROBLEM, 10, (uint32_t[10]){0}), 1);
    CHECK(room_apply(r, "900-0", &late, NULL) == room_err_removed);
    CHECK_EQ_INT(r->n_items, 3);
    event_clear(&late);
    CHECK_EQ_STR(write_msg(r, a, ROLE_CITIZEN, &a3, 13000, NULL), "removed");
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &rm, 13000, NULL), "already_removed");
    /* The log names the participant and the reason. */
    const struct mod_entry *m = &r->modlog[r->n_modlog - 1];
    CHECK_EQ_INT(m->type, EV_REMOVED);
    CHECK_EQ_INT(m->pid, a);
    CHECK(m->hide_posts);
    CHECK_EQ_STR(m->reason, "flooding");
    /* B is untouched. */
    struct msg b2 = post_msg("b2", "Shade");
    CHECK(write_msg(r, b, ROLE_CITIZEN, &b2, 13000, NULL) == NULL);
    room_free(r);
}

/* ---- apply is the judge: several processes, one stream ---------------------------------- */

/* The rooms of processes A and B and a fresh replay, fed the same stream. */
enum { PROC_A, PROC_B, REPLAY, N_ROOMS };

/* Apply 'e' to every room as the next stream entry; every room must reach the same verdict. */
static const char *apply_everywhere(struct room **rs, const struct event *e)
{
    char id[32];
    snprintf(id, sizeof id, "%llu-0", ++seq);
    const char *err = room_apply(rs[0], id, e, NULL);
    for (int i = 1; i < N_ROOMS; i++)
        CHECK(room_apply(rs[i], id, e, NULL) == err);
    return err;
}

/* Check 'm' on the room of the process it entered (against that room only, as the server does). */
static void check_on(struct room *r, int64_t pid, enum role role, struct msg *m, struct event *e)
{
    CHECK(room_check(r, pid, role, m, e) == NULL);
    e->at_ms = 1000;
}

/* A jam with a moderator (pid 1) and a citizen (pid 2), started, two problems posted. */
static void judge_rooms(struct room **rs, unsigned votes_per_phase)
{
    for (int i = 0; i < N_ROOMS; i++)
        rs[i] = new_room(votes_per_phase);
    struct msg jm = {.type = MSG_JOIN, .as = ROLE_MODERATOR, .nickname = "Mo"};
    struct msg jc = {.type = MSG_JOIN, .as = ROLE_CITIZEN, .nickname = "Ana"};
    struct event e;
    CHECK(room_check_join(rs[PROC_A], &jm, &e) == NULL);
    CHECK(apply_everywhere(rs, &e) == NULL);
    event_clear(&e);
    CHECK(room_check_join(rs[PROC_B], &jc, &e) == NULL);
    CHECK(apply_everywhere(rs, &e) == NULL);
    event_clear(&e);
    struct msg st = mk(MSG_START, "s");
    check_on(rs[PROC_A], 1, ROLE_MODERATOR, &st, &e);
    CHECK(apply_everywhere(rs, &e) == NULL);
    event_clear(&e);
    for (int i = 0; i < 2; i++) {
        struct msg p = mk(MSG_POST, i ? "p1" : "p0");
        p.kind = KIND_PROBLEM;
        p.text = "Problem text";
        check_on(rs[PROC_A], 1, ROLE_MODERATOR, &p, &e);
        CHECK(apply_everywhere(rs, &e) == NULL);
        event_clear(&e);
    }
}

/* Every room in the same state: equal canonical snapshots. */
static void check_same_state(struct room **rs)
{
    unsigned char *a, *b;
    size_t la, lb;
    snapshot_encode(rs[0], true, &a, &la);
    for (int i = 1; i < N_ROOMS; i++) {
        snapshot_encode(rs[i], true, &b, &lb);
        CHECK(la == lb && memcmp(a, b, la) == 0);
        free(b);
    }
    free(a);
}

static void free_rooms(struct room **rs)
{
    for (int i = 0; i < N_ROOMS; i++)
        room_free(rs[i]);
}

/* Two writes that each process accepted against its own state, in either stream order: the first
 * in the stream takes effect, the second is judged 'loser_err' everywhere and leaves no op
 * record (its retry would be judged afresh), and every room ends in the same state. */
static void judge_two(unsigned votes_per_phase, uint32_t item_a, uint32_t item_b,
                      const char *loser_err)
{
    for (int b_first = 0; b_first < 2; b_first++) {
        struct room *rs[N_ROOMS];
        judge_rooms(rs, votes_per_phase);
        struct msg va = mk(MSG_VOTE, "va"), vb = mk(MSG_VOTE, "vb");
        va.item = item_a;
        vb.item = item_b;
        struct event ea, eb;
        check_on(rs[PROC_A], 2, ROLE_CITIZEN, &va, &ea); /* one tab on A */
        check_on(rs[PROC_B], 2, ROLE_CITIZEN, &vb, &eb); /* the other on B */
        room_reserve(rs[PROC_A], &ea);
        room_reserve(rs[PROC_B], &eb);
        room_unreserve(rs[PROC_A], &ea);
        room_unreserve(rs[PROC_B], &eb);
        CHECK(apply_everywhere(rs, b_first ? &eb : &ea) == NULL);
        CHECK_EQ_STR(apply_everywhere(rs, b_first ? &ea : &eb), loser_err);
        for (int i = 0; i < N_ROOMS; i++) {
            CHECK((room_op_done(rs[i], 2, "va") != NULL) == !b_first);
            CHECK((room_op_done(rs[i], 2, "vb") != NULL) == (bool)b_first);
            CHECK_EQ_INT(rs[i]->total_votes, 1);
        }
        check_same_state(rs);
        event_clear(&ea);
        event_clear(&eb);
        free_rooms(rs);
    }
}

TEST(judge_same_participant_votes_from_two_processes)
{
    judge_two(0, 1, 1, "already_voted");
}

TEST(judge_last_budget_point_spent_twice)
{
    judge_two(1, 1, 2, "budget_exhausted");
}

/* Two processes hand out the same next pid: the join first in the stream keeps it, the other is
 * judged room_err_pid_taken everywhere, and a join again with the pid the loser now knows of
 * takes effect. */
TEST(judge_joins_that_took_the_same_pid)
{
    struct room *rs[N_ROOMS];
    judge_rooms(rs, 0);
    struct msg ja = {.type = MSG_JOIN, .as = ROLE_CITIZEN, .nickname = "Bo"};
    struct msg jb = {.type = MSG_JOIN, .as = ROLE_CITIZEN, .nickname = "Cy"};
    struct event ea, eb;
    CHECK(room_check_join(rs[PROC_A], &ja, &ea) == NULL);
    CHECK(room_check_join(rs[PROC_B], &jb, &eb) == NULL);
    CHECK_EQ_INT(ea.pid, eb.pid);
    CHECK(apply_everywhere(rs, &ea) == NULL);
    CHECK(apply_everywhere(rs, &eb) == room_err_pid_taken);
    CHECK_EQ_STR(room_participant(rs[REPLAY], ea.pid)->nickname, "Bo");
    eb.pid = rs[PROC_B]->next_pid;
    CHECK(eb.pid > ea.pid);
    CHECK(apply_everywhere(rs, &eb) == NULL);
    CHECK_EQ_INT(rs[REPLAY]->n_participants, 4);
    check_same_state(rs);
    event_clear(&ea);
    event_clear(&eb);
    free_rooms(rs);
}

/* A phase deadline stored twice (two lease holders in turn, or a retry): the second phase_ended
 * names a phase no longer running and has no effect anywhere. */
TEST(judge_phase_ended_twice)
{
    struct room *rs[N_ROOMS];
    judge_rooms(rs, 0);
    struct event ea, eb;
    CHECK(room_check_deadline(rs[PROC_A], 1000 + 60 * 1000, &ea));
    CHECK(room_check_deadline(rs[PROC_B], 1000 + 60 * 1000, &eb));
    CHECK(apply_everywhere(rs, &ea) == NULL);
    CHECK_EQ_STR(apply_everywhere(rs, &eb), "not_running");
    CHECK_EQ_INT(rs[REPLAY]->clock.index, 1);
    check_same_state(rs);
    free_rooms(rs);
}

/* A console knows items, not pids: a sanction may name its participant by one of its items. */
/* A moderator's event checked as the moderator, then stored under 'by': what room_apply makes of it. */
static const char *apply_as(struct room *r, int64_t mod, int64_t by, struct msg *m, int64_t at_ms)
{
    struct event e;
    const char *err = room_check(r, mod, ROLE_MODERATOR, m, &e);
    if (err)
        return err;
    e.by = by;
    e.at_ms = at_ms;
    char id[32];
    snprintf(id, sizeof id, "%llu-0", ++seq);
    err = room_apply(r, id, &e, NULL);
    event_clear(&e);
    return err;
}

/* The stream is the judge of who wrote what: an event only a moderator may write, stored under a
 * citizen's id or none (a faulty or older process, a hand-edited stream), is refused by
 * room_apply whatever the appending process checked, and changes nothing; the clock's own end
 * of a phase has no author. */
TEST(apply_refuses_moderator_events_by_anyone_else)
{
    struct room *r = new_room(0);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo"), cit = join(r, ROLE_CITIZEN, "Cy");
    struct msg m = mk(MSG_START, "s0");
    CHECK_EQ_STR(apply_as(r, mod, cit, &m, 1000), "forbidden");
    CHECK_EQ_INT(r->clock.state, CLOCK_LOBBY);
    CHECK_EQ_STR(apply_as(r, mod, 0, &m, 1000), "forbidden");
    CHECK(apply_as(r, mod, mod, &m, 1000) == NULL);
    struct msg p = post_msg("p1", "Heat");
    CHECK(write_msg(r, cit, ROLE_CITIZEN, &p, 1000, NULL) == NULL); /* item 1 */
    struct msg h = mk(MSG_HIDE, "h1");
    h.item = 1;
    CHECK_EQ_STR(apply_as(r, mod, cit, &h, 2000), "forbidden");
    CHECK(!r->items[0]->hidden);
    struct msg sp = mk(MSG_SPOTLIGHT, "sp1");
    sp.item = 1;
    CHECK_EQ_STR(apply_as(r, mod, cit, &sp, 2000), "forbidden");
    CHECK_EQ_INT(r->stage.spotlight, 0);
    struct msg mu = mk(MSG_MUTE, "mu1");
    mu.item = 1;
    CHECK_EQ_STR(apply_as(r, mod, 0, &mu, 2000), "forbidden");
    CHECK(!room_participant(r, cit)->muted);
    struct msg pa = mk(MSG_PAUSE, "pa1");
    CHECK_EQ_STR(apply_as(r, mod, cit, &pa, 3000), "forbidden");
    CHECK_EQ_INT(r->clock.state, CLOCK_RUNNING);
    /* the same events by the moderator take effect */
    CHECK(apply_as(r, mod, mod, &h, 4000) == NULL);
    CHECK(r->items[0]->hidden);
    /* the deadline's phase_ended names nobody and applies */
    struct event end;
    CHECK(room_check_deadline(r, room_deadline(r), &end));
    char id[32];
    snprintf(id, sizeof id, "%llu-0", ++seq);
    CHECK(room_apply(r, id, &end, NULL) == NULL);
    CHECK_EQ_INT(r->clock.index, 1);
    event_clear(&end);
    room_free(r);
}

TEST(sanction_by_item_names_its_author)
{
    struct room *r = new_room(0);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo"), a = join(r, ROLE_CITIZEN, "A");
    struct msg s = mk(MSG_START, "s1");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &s, 10000, NULL) == NULL);
    struct msg a1 = post_msg("a1", "Heat");
    CHECK(write_msg(r, a, ROLE_CITIZEN, &a1, 11000, NULL) == NULL); /* item 1, by A */
    struct msg m1 = post_msg("m1", "From the stage");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &m1, 11500, NULL) == NULL); /* item 2, by Mo */
    struct msg mu = mk(MSG_MUTE, "mu1");
    mu.item = 9;
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &mu, 12000, NULL), "no_such_item");
    mu.item = 2;
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &mu, 12000, NULL), "forbidden");
    mu.item = 1;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &mu, 12000, NULL) == NULL);
    CHECK(room_participant(r, a)->muted);
    CHECK_EQ_INT(r->modlog[r->n_modlog - 1].pid, a); /* the event names the pid */
    struct msg rm = mk(MSG_REMOVE, "rm1");
    rm.item = 1;
    rm.hide_posts = true;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &rm, 13000, NULL) == NULL);
    CHECK(room_participant(r, a)->removed && room_item(r, 1)->hidden);
    room_free(r);
}

/* Mute: the citizen keeps reading but cannot post or vote (also what was in flight); unmute lifts
 * it. Reinstate lifts a removal. Only moderators may; moderators cannot be muted. */
TEST(mute_unmute_and_reinstate)
{
    struct room *r = new_room(0);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo"), a = join(r, ROLE_CITIZEN, "A");
    struct msg s = mk(MSG_START, "s1");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &s, 10000, NULL) == NULL);
    struct msg a1 = post_msg("a1", "Heat");
    CHECK(write_msg(r, a, ROLE_CITIZEN, &a1, 11000, NULL) == NULL);
    struct event late;
    struct msg a2 = post_msg("a2", "Noise");
    CHECK(room_check(r, a, ROLE_CITIZEN, &a2, &late) == NULL);
    late.at_ms = 11500;
    struct msg mu = mk(MSG_MUTE, "mu1");
    mu.pid = a;
    mu.reason = "shouting";
    mu.preset = PRESET_ABUSIVE;
    CHECK_EQ_STR(write_msg(r, a, ROLE_CITIZEN, &mu, 12000, NULL), "forbidden");
    struct msg mu_mod = mu;
    mu_mod.pid = mod;
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &mu_mod, 12000, NULL), "forbidden");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &mu, 12000, NULL) == NULL);
    CHECK(room_participant(r, a)->muted);
    CHECK_EQ_STR(room_participant(r, a)->mod_reason, "shouting");
    CHECK(room_apply(r, "900-0", &late, NULL) == room_err_muted); /* in flight: no effect */
    event_clear(&late);
    CHECK_EQ_INT(r->n_items, 1);
    struct msg v = mk(MSG_VOTE, "v1");
    v.item = 1;
    CHECK_EQ_STR(write_msg(r, a, ROLE_CITIZEN, &v, 13000, NULL), "muted");
    CHECK_EQ_STR(write_msg(r, a, ROLE_CITIZEN, &a2, 13000, NULL), "muted");
    struct msg mu2 = mu;
    snprintf(mu2.op, sizeof mu2.op, "mu2");
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &mu2, 13000, NULL), "already_muted");
    const struct mod_entry *m = &r->modlog[r->n_modlog - 1];
    CHECK_EQ_INT(m->type, EV_MUTED);
    CHECK_EQ_INT(m->pid, a);
    CHECK_EQ_INT(m->preset, PRESET_ABUSIVE);
    struct msg um = mk(MSG_UNMUTE, "um1");
    um.pid = a;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &um, 14000, NULL) == NULL);
    CHECK(!room_participant(r, a)->muted && !room_participant(r, a)->mod_reason);
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &um, 14000, NULL), "not_muted");
    CHECK(write_msg(r, a, ROLE_CITIZEN, &v, 15000, NULL) == NULL);
    /* Removal and reinstatement. */
    struct msg re = mk(MSG_REINSTATE, "re1");
    re.pid = a;
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &re, 16000, NULL), "not_removed");
    struct msg rm = mk(MSG_REMOVE, "rm1");
    rm.pid = a;
    rm.preset = PRESET_PERSONAL_DATA;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &rm, 16000, NULL) == NULL);
    CHECK_EQ_INT(room_participant(r, a)->mod_preset, PRESET_PERSONAL_DATA);
    CHECK_EQ_STR(write_msg(r, a, ROLE_CITIZEN, &a2, 16500, NULL), "removed");
    snprintf(re.op, sizeof re.op, "re2");
    CHECK_EQ_STR(write_msg(r, a, ROLE_CITIZEN, &re, 17000, NULL), "removed");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &re, 17000, NULL) == NULL);
    CHECK(!room_participant(r, a)->removed);
    CHECK(write_msg(r, a, ROLE_CITIZEN, &a2, 18000, NULL) == NULL);
    room_free(r);
}

/* Spotlight and pins follow the item: hiding it clears both in the same event. The announcement
 * ends by the stored events' own times: unannounce after its end is refused by room_apply. */
TEST(spotlight_pins_and_announcement)
{
    struct room *r = new_room(0);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo"), a = join(r, ROLE_CITIZEN, "A");
    struct msg s = mk(MSG_START, "s1");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &s, 10000, NULL) == NULL);
    for (int i = 0; i < 12; i++) {
        char op[16];
        snprintf(op, sizeof op, "p%d", i);
        struct msg p = post_msg(op, "Heat");
        CHECK(write_msg(r, a, ROLE_CITIZEN, &p, 11000, NULL) == NULL);
    }
    struct msg sp = mk(MSG_SPOTLIGHT, "sp1");
    sp.item = 2;
    CHECK_EQ_STR(write_msg(r, a, ROLE_CITIZEN, &sp, 12000, NULL), "forbidden");
    room_delta_reset(r);
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &sp, 12000, NULL) == NULL);
    CHECK(r->delta.stage);
    CHECK_EQ_INT(r->stage.spotlight, 2);
    snprintf(sp.op, sizeof sp.op, "sp2");
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &sp, 12000, NULL), "already_spotlighted");
    sp.item = 99;
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &sp, 12000, NULL), "no_such_item");
    for (int i = 1; i <= 10; i++) {
        struct msg pin = mk(MSG_PIN, "");
        snprintf(pin.op, sizeof pin.op, "pin%d", i);
        pin.item = i;
        CHECK(write_msg(r, mod, ROLE_MODERATOR, &pin, 12500, NULL) == NULL);
    }
    struct msg pin = mk(MSG_PIN, "pin11");
    pin.item = 11;
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &pin, 12500, NULL), "pin_limit");
    pin.item = 3;
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &pin, 12500, NULL), "already_pinned");
    struct msg h = mk(MSG_HIDE, "h1");
    h.item = 2;
    h.reason = "duplicate of 1";
    h.preset = PRESET_DUPLICATE;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &h, 13000, NULL) == NULL);
    CHECK_EQ_INT(r->stage.spotlight, 0);
    CHECK_EQ_INT(r->stage.n_pinned, 9);
    CHECK_EQ_INT(r->stage.pinned[0], 1);
    CHECK_EQ_INT(r->stage.pinned[1], 3);
    CHECK_EQ_STR(room_item(r, 2)->hide_reason, "duplicate of 1");
    struct msg us = mk(MSG_UNSPOTLIGHT, "us1");
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &us, 13000, NULL), "no_spotlight");
    sp.item = 2;
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &sp, 13000, NULL), "item_hidden");
    struct msg un = mk(MSG_UNHIDE, "u1");
    un.item = 2;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &un, 13500, NULL) == NULL);
    CHECK(!room_item(r, 2)->hide_reason && !room_item(r, 2)->hide_preset);
    struct msg up = mk(MSG_UNPIN, "up1");
    up.item = 2;
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &up, 13500, NULL), "not_pinned");
    up.item = 1;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &up, 13500, NULL) == NULL);
    CHECK_EQ_INT(r->stage.pinned[0], 3);
    /* Announcements. */
    struct msg ua = mk(MSG_UNANNOUNCE, "ua1");
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &ua, 14000, NULL), "no_announcement");
    struct msg an = mk(MSG_ANNOUNCE, "an1");
    an.text = "Five minutes left";
    an.seconds = 60;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &an, 14000, NULL) == NULL);
    CHECK_EQ_STR(room_announcement(r, 73999), "Five minutes left");
    CHECK(room_announcement(r, 74000) == NULL);
    struct event late;
    CHECK(room_check(r, mod, ROLE_MODERATOR, &ua, &late) == NULL); /* the check has no clock */
    late.at_ms = 74000;
    CHECK_EQ_STR(room_apply(r, "900-0", &late, NULL), "no_announcement");
    event_clear(&late);
    snprintf(ua.op, sizeof ua.op, "ua2");
    struct msg an2 = mk(MSG_ANNOUNCE, "an2");
    an2.text = "Coffee in the foyer";
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &an2, 80000, NULL) == NULL);
    CHECK_EQ_STR(room_announcement(r, INT64_MAX), "Coffee in the foyer"); /* until cleared */
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &ua, 90000, NULL) == NULL);
    CHECK(room_announcement(r, 90000) == NULL);
    room_free(r);
}

/* Scribe entry: a moderator posts for a named person or from the floor; the item keeps who it is
 * for, the public log lists it; a citizen may not. */
TEST(scribe_entries_keep_their_provenance)
{
    struct room *r = new_room(0);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo"), a = join(r, ROLE_CITIZEN, "A");
    struct msg s = mk(MSG_START, "s1");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &s, 10000, NULL) == NULL);
    struct msg p = post_msg("sc1", "No benches near the clinic");
    p.on_behalf = "Mrs Okafor";
    CHECK_EQ_STR(write_msg(r, a, ROLE_CITIZEN, &p, 11000, NULL), "forbidden");
    size_t logged = r->n_modlog;
    struct room_result res;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &p, 11000, &res) == NULL);
    CHECK_EQ_STR(room_item(r, res.item)->on_behalf, "Mrs Okafor");
    CHECK_EQ_INT(room_item(r, res.item)->author, mod);
    CHECK_EQ_INT(r->n_modlog, logged + 1);
    const struct mod_entry *m = &r->modlog[r->n_modlog - 1];
    CHECK_EQ_INT(m->type, EV_POSTED);
    CHECK_EQ_INT(m->item, res.item);
    CHECK_EQ_STR(m->reason, "Mrs Okafor");
    struct msg floor = post_msg("sc2", "Too few bins");
    floor.on_behalf = "";
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &floor, 12000, &res) == NULL);
    CHECK_EQ_STR(room_item(r, res.item)->on_behalf, "");
    struct msg own = post_msg("p1", "My own");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &own, 12000, &res) == NULL);
    CHECK(room_item(r, res.item)->on_behalf == NULL);
    CHECK_EQ_INT(r->n_modlog, logged + 2); /* a moderator's own post is no log entry */
    room_free(r);
}

/* Lifting one sanction keeps the reason in force while the other still holds. */
TEST(reinstating_a_muted_participant_keeps_a_reason)
{
    struct room *r = new_room(0);
    int64_t mod = join(r, ROLE_MODERATOR, "Mo"), a = join(r, ROLE_CITIZEN, "A");
    struct msg mu = mk(MSG_MUTE, "mu1");
    mu.pid = a;
    mu.reason = "shouting";
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &mu, 1000, NULL) == NULL);
    struct msg rm = mk(MSG_REMOVE, "rm1");
    rm.pid = a;
    rm.reason = "kept shouting";
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &rm, 2000, NULL) == NULL);
    struct msg re = mk(MSG_REINSTATE, "re1");
    re.pid = a;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &re, 3000, NULL) == NULL);
    const struct participant *p = room_participant(r, a);
    CHECK(p->muted && !p->removed);
    CHECK(p->mod_reason && strcmp(p->mod_reason, "kept shouting") == 0);
    room_free(r);
}

/* ---- pre-moderation, the review queue and claims ------------------------------------------ */

static const char *queue_msg(struct room *r, int64_t pid, enum role role, enum msg_type type,
                             const char *op, uint32_t *ids, size_t n, int64_t at_ms)
{
    struct msg q = mk(type, op);
    q.items = ids;
    q.n_items = n;
    return write_msg(r, pid, role, &q, at_ms, NULL);
}

static uint32_t post_problem(struct room *r, int64_t pid, enum role role, const char *op,
                             int64_t at_ms)
{
    struct msg p = mk(MSG_POST, op);
    p.kind = KIND_PROBLEM;
    p.text = "Too hot at the stop";
    struct room_result res = {0};
    CHECK(write_msg(r, pid, role, &p, at_ms, &res) == NULL);
    return res.item;
}

TEST(invites_are_minted_by_the_organiser_and_revoked)
{
    struct room *r = new_room(0);
    int64_t org = join(r, ROLE_MODERATOR, "Ana"), cit = join(r, ROLE_CITIZEN, "Cy");
    int64_t id = 0, id2 = 0;
    const char *err;
    /* a citizen may not mint; the organiser (the jam's secret) may */
    struct msg inv = mk(MSG_INVITE, "i0");
    inv.nickname = "Bea";
    CHECK_EQ_STR(write_msg(r, cit, ROLE_CITIZEN, &inv, 2000, NULL), "forbidden");
    CHECK(mint_invite(r, org, "i1", "Bea", 2000, &id) == NULL);
    CHECK_EQ_INT(id, 1);
    CHECK(r->n_invites == 1 && strcmp(r->invites[0].name, "Bea") == 0 && r->invites[0].by == org);
    const struct op_done *done = room_op_done(r, org, "i1");
    CHECK(done && done->invite && done->item == 1 && !done->has_budget);
    CHECK_EQ_INT(r->modlog[r->n_modlog - 1].type, EV_INVITE_CREATED);
    CHECK_EQ_INT(r->modlog[r->n_modlog - 1].item, 1);
    /* a join with the invite's secret joins under its name, whatever the nickname said */
    int64_t bea = join_invited(r, id, &err);
    CHECK(bea > 0 && err == NULL);
    CHECK_EQ_STR(room_participant(r, bea)->nickname, "Bea");
    CHECK_EQ_INT(room_participant(r, bea)->invite, 1);
    /* an invited moderator moderates, but cannot mint or revoke invites */
    struct msg st = mk(MSG_START, "s");
    CHECK(write_msg(r, bea, ROLE_MODERATOR, &st, 2100, NULL) == NULL);
    CHECK_EQ_STR(mint_invite(r, bea, "i2", "Cem", 2200, NULL), "organiser_only");
    struct msg rv = mk(MSG_REVOKE_INVITE, "r1");
    rv.invite = id;
    CHECK_EQ_STR(write_msg(r, bea, ROLE_MODERATOR, &rv, 2200, NULL), "organiser_only");
    /* a hide Bea checked before the revocation was stored is refused at its apply */
    uint32_t item = post_problem(r, cit, ROLE_CITIZEN, "p1", 2300);
    struct msg hide = mk(MSG_HIDE, "h1");
    hide.item = item;
    struct event late;
    CHECK(room_check(r, bea, ROLE_MODERATOR, &hide, &late) == NULL);
    late.at_ms = 2450;
    /* a join with the invite in flight when it is revoked */
    struct msg jm = {.type = MSG_JOIN, .as = ROLE_MODERATOR, .invite = id};
    struct event late_join;
    CHECK(room_check_join(r, &jm, &late_join) == NULL);
    late_join.at_ms = 2450;
    CHECK(write_msg(r, org, ROLE_MODERATOR, &rv, 2400, NULL) == NULL);
    CHECK(r->invites[0].revoked);
    CHECK(room_invite_revoked(r, room_participant(r, bea)));
    CHECK(room_apply(r, "9000-0", &late, NULL) == room_err_invite_revoked);
    CHECK(!room_item(r, item)->hidden);
    CHECK(room_apply(r, "9000-1", &late_join, NULL) == room_err_invite_revoked);
    event_clear(&late);
    event_clear(&late_join);
    CHECK(write_msg(r, bea, ROLE_MODERATOR, &hide, 2500, NULL) == room_err_invite_revoked);
    CHECK(join_invited(r, id, &err) == 0 && err == room_err_invite_revoked);
    /* revoking again, or what does not exist */
    struct msg rv2 = mk(MSG_REVOKE_INVITE, "r2");
    rv2.invite = id;
    CHECK_EQ_STR(write_msg(r, org, ROLE_MODERATOR, &rv2, 2600, NULL), "already_revoked");
    rv2.invite = 7;
    CHECK_EQ_STR(write_msg(r, org, ROLE_MODERATOR, &rv2, 2600, NULL), "no_such_invite");
    /* the same op twice: one invite */
    struct msg again = mk(MSG_INVITE, "i3");
    again.nickname = "Dee";
    struct event e1, e2;
    CHECK(room_check(r, org, ROLE_MODERATOR, &again, &e1) == NULL);
    CHECK(room_check(r, org, ROLE_MODERATOR, &again, &e2) == NULL);
    strcpy(e1.invite_sha256, r->invites[0].secret_sha256);
    strcpy(e2.invite_sha256, r->invites[0].secret_sha256);
    CHECK(room_apply(r, "9001-0", &e1, NULL) == NULL);
    CHECK(room_apply(r, "9001-1", &e2, NULL) == room_err_duplicate_op);
    CHECK_EQ_INT(r->n_invites, 2);
    event_clear(&e2); /* filled again below */
    /* another process's invite with the id that landed first: busy, retried with the next id */
    struct msg other = mk(MSG_INVITE, "i4");
    other.nickname = "Eve";
    CHECK(room_check(r, org, ROLE_MODERATOR, &other, &e2) == NULL);
    strcpy(e2.invite_sha256, r->invites[0].secret_sha256);
    e2.invite = 2;
    CHECK_EQ_STR(room_apply(r, "9002-0", &e2, NULL), "busy");
    event_clear(&e1);
    event_clear(&e2);
    /* at most MSG_INVITES_MAX, revoked ones included */
    for (int i = 3; i <= MSG_INVITES_MAX; i++) {
        char op[16];
        snprintf(op, sizeof op, "n%d", i);
        CHECK(mint_invite(r, org, op, "Fay", 3000 + i, &id2) == NULL);
    }
    CHECK_EQ_INT(id2, MSG_INVITES_MAX);
    CHECK_EQ_STR(mint_invite(r, org, "full", "Gus", 4000, NULL), "too_many_invites");
    room_free(r);
}

TEST(approve_unhide_and_unmerge_stay_within_max_items)
{
    struct room *r = new_room_with(0, true);
    r->limits.max_items = 3;
    int64_t mod = join(r, ROLE_MODERATOR, "Bea"), a = join(r, ROLE_CITIZEN, "Ana");
    struct msg st = mk(MSG_START, "s");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &st, 1000, NULL) == NULL);
    uint32_t ids[4];
    for (int i = 0; i < 3; i++) {
        char op[16];
        snprintf(op, sizeof op, "p%d", i);
        ids[i] = post_problem(r, a, ROLE_CITIZEN, op, 2000);
    }
    uint32_t two[] = {ids[0], ids[1]}, last[] = {ids[2]};
    CHECK(queue_msg(r, mod, ROLE_MODERATOR, MSG_APPROVE, "a1", two, 2, 2100) == NULL);
    uint32_t own = post_problem(r, mod, ROLE_MODERATOR, "m1", 2200); /* 3 visible: full */
    CHECK_EQ_INT(r->n_visible, 3);
    CHECK_EQ_STR(queue_msg(r, mod, ROLE_MODERATOR, MSG_APPROVE, "a2", last, 1, 2300), "jam_full");
    /* an approve checked while there was room is refused by apply once the jam is full */
    struct msg hide = mk(MSG_HIDE, "h1");
    hide.item = own;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &hide, 2400, NULL) == NULL);
    struct msg ap = mk(MSG_APPROVE, "a3");
    ap.items = last;
    ap.n_items = 1;
    struct event late;
    CHECK(room_check(r, mod, ROLE_MODERATOR, &ap, &late) == NULL);
    late.at_ms = 2600;
    struct msg un = mk(MSG_UNHIDE, "u1");
    un.item = own;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &un, 2500, NULL) == NULL); /* full again */
    CHECK_EQ_STR(room_apply(r, "9100-0", &late, NULL), "jam_full");
    CHECK(room_item(r, ids[2])->pending);
    event_clear(&late);
    /* an unhide checked while there was room is refused by apply too */
    struct msg hide2 = mk(MSG_HIDE, "h2");
    hide2.item = own;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &hide2, 2700, NULL) == NULL);
    struct msg un2 = mk(MSG_UNHIDE, "u2");
    un2.item = own;
    CHECK(room_check(r, mod, ROLE_MODERATOR, &un2, &late) == NULL);
    late.at_ms = 2900;
    CHECK(queue_msg(r, mod, ROLE_MODERATOR, MSG_APPROVE, "a4", last, 1, 2800) == NULL);
    CHECK_EQ_STR(room_apply(r, "9100-1", &late, NULL), "jam_full");
    CHECK(room_item(r, own)->hidden);
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &un2, 3000, NULL), "jam_full");
    CHECK_EQ_INT(r->n_visible, 3);
    event_clear(&late);
    /* an unmerge puts its duplicates back among the visible items: within max_items too */
    uint32_t dup[] = {ids[1]};
    struct msg mg = mk(MSG_MERGE, "mg");
    mg.items = dup;
    mg.n_items = 1;
    mg.item = ids[0];
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &mg, 3100, NULL) == NULL);
    CHECK_EQ_INT(r->n_visible, 2);
    post_problem(r, mod, ROLE_MODERATOR, "m2", 3200);
    struct msg um = mk(MSG_UNMERGE, "um");
    um.item = ids[0];
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &um, 3300, NULL), "jam_full");
    CHECK_EQ_INT(room_item(r, ids[1])->merged_into, ids[0]);
    room_free(r);
}

TEST(premoderation_keeps_citizens_posts_pending_until_approved)
{
    struct room *r = new_room_with(0, true);
    int64_t mod = join(r, ROLE_MODERATOR, "Bea"), a = join(r, ROLE_CITIZEN, "Ana");
    struct msg st = mk(MSG_START, "s");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &st, 1000, NULL) == NULL);
    uint32_t id = post_problem(r, a, ROLE_CITIZEN, "p1", 2000);
    struct item *it = room_item(r, id);
    CHECK(it && it->pending && it->at_ms == 2000);
    CHECK_EQ_INT(r->n_visible, 0);
    uint32_t top[4];
    CHECK_EQ_INT(room_top(r, KIND_PROBLEM, 4, top), 0);
    /* not votable, no spotlight, pin or hide: it is reviewed first */
    struct msg v = mk(MSG_VOTE, "v1");
    v.item = id;
    CHECK_EQ_STR(room_check_err_helper(r, a, &v), "item_pending");
    struct msg sp = mk(MSG_SPOTLIGHT, "sp");
    sp.item = id;
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &sp, 2100, NULL), "item_pending");
    struct msg pin = mk(MSG_PIN, "pin");
    pin.item = id;
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &pin, 2100, NULL), "item_pending");
    struct msg hide = mk(MSG_HIDE, "h");
    hide.item = id;
    CHECK_EQ_STR(write_msg(r, mod, ROLE_MODERATOR, &hide, 2100, NULL), "item_pending");
    /* a moderator's own post and a scribe entry are never pending */
    uint32_t own = post_problem(r, mod, ROLE_MODERATOR, "m1", 2200);
    CHECK(!room_item(r, own)->pending);
    CHECK_EQ_INT(r->n_visible, 1);
    /* citizens and screens may not decide */
    uint32_t ids[] = {id};
    CHECK_EQ_STR(queue_msg(r, a, ROLE_CITIZEN, MSG_APPROVE, "a0", ids, 1, 2300), "forbidden");
    CHECK_EQ_STR(queue_msg(r, a, ROLE_CITIZEN, MSG_CLAIM, "c0", ids, 1, 2300), "forbidden");
    CHECK_EQ_STR(queue_msg(r, a, ROLE_CITIZEN, MSG_REJECT, "r0", ids, 1, 2300), "forbidden");
    CHECK_EQ_STR(queue_msg(r, a, ROLE_CITIZEN, MSG_RELEASE, "l0", ids, 1, 2300), "forbidden");
    CHECK_EQ_STR(queue_msg(r, 0, ROLE_SCREEN, MSG_APPROVE, "a0", ids, 1, 2300), "forbidden");
    room_delta_reset(r);
    CHECK(queue_msg(r, mod, ROLE_MODERATOR, MSG_APPROVE, "a1", ids, 1, 2400) == NULL);
    CHECK(!it->pending && !it->hidden);
    CHECK_EQ_INT(r->n_visible, 2);
    CHECK_EQ_INT(room_top(r, KIND_PROBLEM, 4, top), 2);
    CHECK_EQ_INT(r->delta.n_items, 1); /* the update shows it in full */
    CHECK_EQ_STR(queue_msg(r, mod, ROLE_MODERATOR, MSG_APPROVE, "a2", ids, 1, 2500), "not_pending");
    CHECK_EQ_STR(room_check_err_helper(r, a, &v), "ok");
    /* the public log: one entry with the items */
    const struct mod_entry *last = &r->modlog[r->n_modlog - 1];
    CHECK_EQ_INT(last->type, EV_APPROVED);
    CHECK(last->n_items == 1 && last->items[0] == id);
    room_free(r);
}

TEST(claims_hold_for_120_s_by_the_events_at)
{
    struct room *r = new_room_with(0, true);
    int64_t ma = join(r, ROLE_MODERATOR, "A"), mb = join(r, ROLE_MODERATOR, "B"),
            c = join(r, ROLE_CITIZEN, "Cy");
    struct msg st = mk(MSG_START, "s");
    CHECK(write_msg(r, ma, ROLE_MODERATOR, &st, 1000, NULL) == NULL);
    uint32_t id = post_problem(r, c, ROLE_CITIZEN, "p1", 1000);
    uint32_t ids[] = {id};
    const int64_t t = 10000;
    CHECK(queue_msg(r, ma, ROLE_MODERATOR, MSG_CLAIM, "ca", ids, 1, t) == NULL);
    CHECK(room_item(r, id)->claim_by == ma && room_item(r, id)->claim_until == t + ROOM_CLAIM_MS);
    CHECK_EQ_INT(r->delta.n_claims, 1);
    /* the check has no clock: B's approve is stored, and apply refuses it by its at */
    CHECK_EQ_STR(queue_msg(r, mb, ROLE_MODERATOR, MSG_APPROVE, "b1", ids, 1, t + ROOM_CLAIM_MS - 1),
                 "claimed");
    CHECK_EQ_STR(queue_msg(r, mb, ROLE_MODERATOR, MSG_CLAIM, "b2", ids, 1, t + 1), "claimed");
    CHECK_EQ_STR(queue_msg(r, mb, ROLE_MODERATOR, MSG_REJECT, "b3", ids, 1, t + 1), "claimed");
    CHECK_EQ_STR(queue_msg(r, mb, ROLE_MODERATOR, MSG_RELEASE, "b4", ids, 1, t + 1), "not_claimed");
    CHECK(room_item(r, id)->pending);
    /* A renews its own claim: 120 s from the renewal */
    CHECK(queue_msg(r, ma, ROLE_MODERATOR, MSG_CLAIM, "ca2", ids, 1, t + 60000) == NULL);
    CHECK_EQ_STR(queue_msg(r, mb, ROLE_MODERATOR, MSG_APPROVE, "b5", ids, 1, t + ROOM_CLAIM_MS),
                 "claimed");
    /* from at + 120 s on, the claim no longer holds: B may decide */
    CHECK(queue_msg(r, mb, ROLE_MODERATOR, MSG_CLAIM, "b6", ids, 1, t + 60000 + ROOM_CLAIM_MS) ==
          NULL);
    CHECK(room_item(r, id)->claim_by == mb);
    CHECK_EQ_STR(queue_msg(r, ma, ROLE_MODERATOR, MSG_RELEASE, "ca3", ids, 1, t + 200000),
                 "not_claimed");
    CHECK(queue_msg(r, mb, ROLE_MODERATOR, MSG_RELEASE, "b7", ids, 1, t + 200000) == NULL);
    CHECK(!room_item(r, id)->claim_by);
    CHECK_EQ_STR(queue_msg(r, mb, ROLE_MODERATOR, MSG_RELEASE, "b8", ids, 1, t + 200001),
                 "not_claimed");
    /* a claim that ran out is no claim for a release either */
    CHECK(queue_msg(r, ma, ROLE_MODERATOR, MSG_CLAIM, "ca4", ids, 1, t + 300000) == NULL);
    CHECK_EQ_STR(
        queue_msg(r, ma, ROLE_MODERATOR, MSG_RELEASE, "ca5", ids, 1, t + 300000 + ROOM_CLAIM_MS),
        "not_claimed");
    /* the claimer's own approve goes through and drops the claim */
    CHECK(queue_msg(r, ma, ROLE_MODERATOR, MSG_CLAIM, "ca6", ids, 1, t + 500000) == NULL);
    CHECK(queue_msg(r, ma, ROLE_MODERATOR, MSG_APPROVE, "ca7", ids, 1, t + 500001) == NULL);
    CHECK(!room_item(r, id)->claim_by && !room_item(r, id)->pending);
    room_free(r);
}

TEST(bulk_decisions_are_all_or_nothing)
{
    struct room *r = new_room_with(0, true);
    int64_t ma = join(r, ROLE_MODERATOR, "A"), mb = join(r, ROLE_MODERATOR, "B"),
            c = join(r, ROLE_CITIZEN, "Cy");
    struct msg st = mk(MSG_START, "s");
    CHECK(write_msg(r, ma, ROLE_MODERATOR, &st, 1000, NULL) == NULL);
    uint32_t p1 = post_problem(r, c, ROLE_CITIZEN, "p1", 1000),
             p2 = post_problem(r, c, ROLE_CITIZEN, "p2", 1000),
             p3 = post_problem(r, c, ROLE_CITIZEN, "p3", 1000);
    size_t log = r->n_modlog;
    uint32_t with_unknown[] = {p1, p2, 99};
    CHECK_EQ_STR(queue_msg(r, ma, ROLE_MODERATOR, MSG_APPROVE, "a1", with_unknown, 3, 2000),
                 "no_such_item");
    uint32_t two[] = {p2};
    CHECK(queue_msg(r, mb, ROLE_MODERATOR, MSG_CLAIM, "b1", two, 1, 2000) == NULL);
    uint32_t three[] = {p1, p2, p3};
    CHECK_EQ_STR(queue_msg(r, ma, ROLE_MODERATOR, MSG_APPROVE, "a2", three, 3, 2001), "claimed");
    CHECK(room_item(r, p1)->pending && room_item(r, p3)->pending); /* none of them */
    CHECK_EQ_INT(r->n_visible, 0);
    CHECK_EQ_INT(r->n_modlog, log + 1); /* B's claim only */
    /* a reject of several: one event, every item hidden with the reason its author sees */
    struct msg rej = mk(MSG_REJECT, "a3");
    uint32_t one_three[] = {p1, p3};
    rej.items = one_three;
    rej.n_items = 2;
    rej.reason = "off topic";
    rej.preset = PRESET_OFF_TOPIC;
    CHECK(write_msg(r, ma, ROLE_MODERATOR, &rej, 2002, NULL) == NULL);
    CHECK(room_item(r, p1)->hidden && room_item(r, p1)->rejected && !room_item(r, p1)->pending);
    CHECK(room_item(r, p3)->hide_reason && strcmp(room_item(r, p3)->hide_reason, "off topic") == 0);
    CHECK_EQ_INT(r->n_visible, 0);
    CHECK_EQ_INT(r->n_modlog, log + 2);
    /* unhiding a rejected item shows it: a second review */
    struct msg un = mk(MSG_UNHIDE, "a4");
    un.item = p1;
    CHECK(write_msg(r, ma, ROLE_MODERATOR, &un, 2003, NULL) == NULL);
    CHECK(!room_item(r, p1)->hidden && !room_item(r, p1)->rejected);
    CHECK_EQ_INT(r->n_visible, 1);
    /* a bulk hide of visible items: all or nothing too */
    uint32_t own1 = post_problem(r, ma, ROLE_MODERATOR, "m1", 2004),
             own2 = post_problem(r, ma, ROLE_MODERATOR, "m2", 2004);
    struct msg bh = mk(MSG_HIDE, "a5");
    uint32_t hide_bad[] = {own1, p2};
    bh.items = hide_bad;
    bh.n_items = 2;
    CHECK_EQ_STR(write_msg(r, ma, ROLE_MODERATOR, &bh, 2005, NULL), "item_pending");
    uint32_t hide_ok[] = {own1, own2, p1};
    bh.items = hide_ok;
    bh.n_items = 3;
    bh.preset = PRESET_DUPLICATE;
    CHECK(write_msg(r, ma, ROLE_MODERATOR, &bh, 2006, NULL) == NULL);
    CHECK(room_item(r, own1)->hidden && room_item(r, own2)->hidden && room_item(r, p1)->hidden);
    CHECK_EQ_INT(r->n_visible, 0);
    const struct mod_entry *last = &r->modlog[r->n_modlog - 1];
    CHECK(last->type == EV_HIDDEN && last->n_items == 3 && last->preset == PRESET_DUPLICATE);
    struct msg again = mk(MSG_HIDE, "a6");
    uint32_t hidden_one[] = {own1};
    again.items = hidden_one;
    again.n_items = 1;
    CHECK_EQ_STR(write_msg(r, ma, ROLE_MODERATOR, &again, 2007, NULL), "item_hidden");
    room_free(r);
}

TEST(queue_catch_up_touches_items_and_claims)
{
    struct room *r = new_room_with(0, true);
    int64_t ma = join(r, ROLE_MODERATOR, "A"), c = join(r, ROLE_CITIZEN, "Cy");
    struct msg st = mk(MSG_START, "s");
    CHECK(write_msg(r, ma, ROLE_MODERATOR, &st, 1000, NULL) == NULL);
    uint32_t p1 = post_problem(r, c, ROLE_CITIZEN, "p1", 1000);
    uint32_t ids[] = {p1};
    struct room_delta d = {0};
    struct event claim = {.type = EV_CLAIMED, .by = ma, .items = ids, .n_items = 1};
    room_touch(r, "9-0", &claim, &d);
    CHECK(d.n_claims == 1 && d.n_items == 0);
    struct event approve = {.type = EV_APPROVED, .by = ma, .items = ids, .n_items = 1};
    room_touch(r, "9-1", &approve, &d);
    CHECK(d.n_claims == 1 && d.n_items == 1 && d.stats);
    room_delta_clear(&d);
    room_free(r);
}

TEST(moderators_join_with_a_name_and_posts_of_removed_authors_leave_the_queue)
{
    struct room *r = new_room_with(0, true);
    struct msg m = {.type = MSG_JOIN, .as = ROLE_MODERATOR};
    struct event e;
    CHECK_EQ_STR(room_check_join(r, &m, &e), "nickname_required");
    m.nickname = "Bea";
    m.anonymous = true;
    CHECK_EQ_STR(room_check_join(r, &m, &e), "nickname_required");
    m.anonymous = false;
    CHECK(room_check_join(r, &m, &e) == NULL);
    event_clear(&e);
    int64_t mod = join(r, ROLE_MODERATOR, "Bea"), c = join(r, ROLE_CITIZEN, "Cy");
    struct msg st = mk(MSG_START, "s");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &st, 1000, NULL) == NULL);
    uint32_t p1 = post_problem(r, c, ROLE_CITIZEN, "p1", 1000);
    uint32_t ids[] = {p1};
    CHECK(queue_msg(r, mod, ROLE_MODERATOR, MSG_CLAIM, "c1", ids, 1, 1100) == NULL);
    struct msg rm = mk(MSG_REMOVE, "rm");
    rm.pid = c;
    rm.hide_posts = true;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &rm, 1200, NULL) == NULL);
    const struct item *it = room_item(r, p1);
    CHECK(it->hidden && !it->pending && !it->claim_by);
    CHECK_EQ_INT(r->n_visible, 0);
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
    RUN(op_hash_is_keyed_siphash);
    RUN(op_table_keeps_records_whose_hashes_collide);
    RUN(op_table_finds_every_op_after_growth);
    RUN(delta_starts_at_the_creation);
    RUN(delta_tracks_one_tick);
    RUN(touch_reports_what_stored_events_changed);
    RUN(join_rules);
    RUN(chain_links_every_stored_event_in_stream_order);
    RUN(id_compare);
    RUN(restore_refuses_contradictions_and_rebuilds_rankings);
    RUN(item_quota_per_participant_and_hidden_items_free_the_jam);
    RUN(pending_writes_per_participant_across_sessions);
    RUN(remove_participant_hides_posts_and_refuses_its_writes);
    RUN(judge_same_participant_votes_from_two_processes);
    RUN(judge_last_budget_point_spent_twice);
    RUN(judge_joins_that_took_the_same_pid);
    RUN(judge_phase_ended_twice);
    RUN(apply_refuses_moderator_events_by_anyone_else);
    RUN(sanction_by_item_names_its_author);
    RUN(mute_unmute_and_reinstate);
    RUN(spotlight_pins_and_announcement);
    RUN(scribe_entries_keep_their_provenance);
    RUN(reinstating_a_muted_participant_keeps_a_reason);
    RUN(premoderation_keeps_citizens_posts_pending_until_approved);
    RUN(claims_hold_for_120_s_by_the_events_at);
    RUN(bulk_decisions_are_all_or_nothing);
    RUN(queue_catch_up_touches_items_and_claims);
    RUN(moderators_join_with_a_name_and_posts_of_removed_authors_leave_the_queue);
    RUN(invites_are_minted_by_the_organiser_and_revoked);
    RUN(approve_unhide_and_unmerge_stay_within_max_items);
    return test_done();
}
