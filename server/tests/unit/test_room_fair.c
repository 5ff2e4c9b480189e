/* SPDX-License-Identifier: MIT
 * test_room_fair.c - the fair order in the room (issue 12.1): the discover selection, showings
 * counted by this process then applied from the stream (and the same on replay), the Wilson
 * order beside the vote order, and set_order (moderators only, in the log, in the update).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fair.h"
#include "room.h"
#include "snapshot.h"
#include "test.h"

#include "room_kit.h"

static struct msg mk(enum msg_type t, const char *op)
{
    struct msg m = {.type = t};
    snprintf(m.op, sizeof m.op, "%s", op);
    return m;
}

static const char *next_id(void)
{
    static char id[32];
    snprintf(id, sizeof id, "%llu-0", ++seq);
    return id;
}

/* A running explore phase with 'n' problems posted by 'author'. */
static struct room *jam_with_items(int n, int64_t *mod, int64_t *author)
{
    struct room *r = new_room(0);
    *mod = join(r, ROLE_MODERATOR, "Mo");
    *author = join(r, ROLE_CITIZEN, "Au");
    struct msg s = mk(MSG_START, "s");
    CHECK(write_msg(r, *mod, ROLE_MODERATOR, &s, 1000, NULL) == NULL);
    for (int i = 0; i < n; i++) {
        struct msg p = mk(MSG_POST, "");
        snprintf(p.op, sizeof p.op, "p%d", i);
        p.kind = KIND_PROBLEM;
        p.text = "Some problem";
        CHECK(write_msg(r, *author, ROLE_CITIZEN, &p, 1000, NULL) == NULL);
    }
    return r;
}

/* Take the offers counted so far and apply them as the stream would: returns the event's size. */
static size_t apply_showings(struct room *r)
{
    struct event e;
    if (!room_take_showings(r, &e))
        return 0;
    e.at_ms = 2000;
    char *json = codec_event_encode(&e); /* through the codec, as it is stored */
    struct event back;
    struct codec_error ce;
    CHECK(codec_event_decode(json, strlen(json), &back, &ce) == 0);
    char id[32];
    snprintf(id, sizeof id, "%llu-0", ++seq);
    CHECK(room_apply(r, id, &back, NULL) == NULL);
    size_t n = e.n_items;
    event_clear(&back);
    event_clear(&e);
    free(json);
    return n;
}

TEST(discover_skips_own_voted_hidden_and_least_shown_first)
{
    int64_t mod, au;
    struct room *r = jam_with_items(8, &mod, &au);
    int64_t c = join(r, ROLE_CITIZEN, "C");
    uint32_t ids[8];
    CHECK_EQ_INT(room_discover(r, au, 5, ids), 0); /* all 8 are the author's own */
    struct msg v = mk(MSG_VOTE, "v1");
    v.item = 2;
    CHECK(write_msg(r, c, ROLE_CITIZEN, &v, 1000, NULL) == NULL);
    struct msg h = mk(MSG_HIDE, "h1");
    h.item = 3;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &h, 1000, NULL) == NULL);
    size_t n = room_discover(r, c, 8, ids);
    CHECK_EQ_INT(n, 6); /* not 2 (voted for), not 3 (hidden) */
    for (size_t i = 0; i < n; i++)
        CHECK(ids[i] != 2 && ids[i] != 3);
    /* items 1, 4, 5 shown 3 times: the other three come first */
    struct event e = {.type = EV_SHOWINGS, .at_ms = 1500, .n_items = 3};
    uint32_t it[] = {1, 4, 5}, cnt[] = {3, 3, 3};
    e.items = it;
    e.counts = cnt;
    CHECK(room_apply(r, next_id(), &e, NULL) == NULL);
    CHECK_EQ_INT(r->items[0]->shown, 3);
    n = room_discover(r, c, 3, ids);
    CHECK_EQ_INT(n, 3);
    for (size_t i = 0; i < n; i++)
        CHECK(ids[i] == 6 || ids[i] == 7 || ids[i] == 8);
    /* a read: nothing changed, nothing offered */
    CHECK_EQ_INT(r->offered.used, 0);
    room_free(r);
}

TEST(discover_spreads_ties_over_participants_and_counts_offers)
{
    int64_t mod, au;
    struct room *r = jam_with_items(40, &mod, &au);
    int64_t c[10];
    for (int i = 0; i < 10; i++)
        c[i] = join(r, ROLE_CITIZEN, NULL);
    /* Ten participants asking before any showings are applied: the hash and this process's
     * offers spread them, so that no item is offered more than twice and most are offered. */
    uint32_t seen[41] = {0};
    for (int i = 0; i < 10; i++) {
        uint32_t ids[5];
        size_t n = room_discover(r, c[i], 5, ids);
        CHECK_EQ_INT(n, 5);
        room_offered(r, ids, n);
        for (size_t k = 0; k < n; k++)
            seen[ids[k]]++;
    }
    int distinct = 0, most = 0;
    for (int i = 1; i <= 40; i++) {
        distinct += seen[i] > 0;
        most = seen[i] > (uint32_t)most ? (int)seen[i] : most;
    }
    CHECK(distinct >= 25);
    CHECK(most <= 2);
    /* The offers become one showings event, items in id order, counts the offers. */
    struct event e;
    CHECK(room_take_showings(r, &e));
    CHECK_EQ_INT(e.type, EV_SHOWINGS);
    CHECK_EQ_INT(e.n_items, (size_t)distinct);
    uint32_t total = 0;
    for (size_t i = 0; i < e.n_items; i++) {
        CHECK(i == 0 || e.items[i - 1] < e.items[i]);
        CHECK_EQ_INT(e.counts[i], seen[e.items[i]]);
        total += e.counts[i];
    }
    CHECK_EQ_INT(total, 50);
    event_clear(&e);
    CHECK(!room_take_showings(r, &e)); /* taken: nothing left */
    room_free(r);
}

TEST(showings_apply_and_spread_the_counts)
{
    int64_t mod, au;
    struct room *r = jam_with_items(12, &mod, &au);
    int64_t c = join(r, ROLE_CITIZEN, "C");
    for (int round = 0; round < 4; round++) {
        uint32_t ids[5];
        size_t n = room_discover(r, c, 5, ids);
        room_offered(r, ids, n);
        CHECK(apply_showings(r) == n);
    }
    uint32_t sum = 0;
    for (size_t i = 0; i < r->n_items; i++)
        sum += r->items[i]->shown;
    CHECK_EQ_INT(sum, 20);
    /* least shown first: 20 showings over 12 items, none at 3 while another is at 1 */
    uint32_t lo = UINT32_MAX, hi = 0;
    for (size_t i = 0; i < r->n_items; i++) {
        lo = r->items[i]->shown < lo ? r->items[i]->shown : lo;
        hi = r->items[i]->shown > hi ? r->items[i]->shown : hi;
    }
    CHECK(hi - lo <= 1);
    /* an unknown item id is passed over; a showings event with a writer is refused */
    struct event e = {.type = EV_SHOWINGS, .at_ms = 3000, .n_items = 2};
    uint32_t it[] = {1, 99}, cnt[] = {2, 5};
    e.items = it;
    e.counts = cnt;
    uint32_t before = r->items[0]->shown;
    CHECK(room_apply(r, next_id(), &e, NULL) == NULL);
    CHECK_EQ_INT(r->items[0]->shown, before + 2);
    e.by = c;
    CHECK_EQ_STR(room_apply(r, next_id(), &e, NULL), "bad_value");
    CHECK_EQ_INT(r->items[0]->shown, before + 2);
    room_free(r);
}

TEST(fair_order_ranks_by_wilson_and_top_by_votes)
{
    int64_t mod, au;
    struct room *r = jam_with_items(3, &mod, &au);
    int64_t c[6];
    for (int i = 0; i < 6; i++)
        c[i] = join(r, ROLE_CITIZEN, NULL);
    /* item 1: 4 votes out of 40 showings; item 2: 3 votes out of 3; item 3: nothing */
    for (int i = 0; i < 4; i++) {
        struct msg v = mk(MSG_VOTE, "v1");
        v.item = 1;
        CHECK(write_msg(r, c[i], ROLE_CITIZEN, &v, 1000, NULL) == NULL);
    }
    for (int i = 0; i < 3; i++) {
        struct msg v = mk(MSG_VOTE, "v2");
        v.item = 2;
        CHECK(write_msg(r, c[i], ROLE_CITIZEN, &v, 1000, NULL) == NULL);
    }
    struct event e = {.type = EV_SHOWINGS, .at_ms = 1500, .n_items = 2};
    uint32_t it[] = {1, 2}, cnt[] = {40, 3};
    e.items = it;
    e.counts = cnt;
    CHECK(room_apply(r, next_id(), &e, NULL) == NULL);
    uint32_t top[3];
    CHECK_EQ_INT(room_top_by(r, KIND_PROBLEM, ORDER_TOP, 3, top), 3);
    CHECK_EQ_INT(top[0], 1);
    CHECK_EQ_INT(top[1], 2);
    CHECK_EQ_INT(room_top_by(r, KIND_PROBLEM, ORDER_FAIR, 3, top), 3);
    CHECK_EQ_INT(top[0], 2); /* 3/3 beats 4/40 once exposure counts */
    CHECK_EQ_INT(top[1], 1);
    CHECK_EQ_INT(room_fair_score(r->items[0]), fair_wilson(4, 40));
    CHECK_EQ_INT(room_fair_score(r->items[1]), fair_wilson(3, 3));
    /* Wilson lower bound, z = 1.96: 4 of 40 -> 0.0396 */
    CHECK(room_fair_score(r->items[0]) >= 39000 && room_fair_score(r->items[0]) <= 40200);
    /* room_top follows the jam's order */
    CHECK_EQ_INT(r->order, ORDER_TOP);
    room_top(r, KIND_PROBLEM, 3, top);
    CHECK_EQ_INT(top[0], 1);
    struct msg o = mk(MSG_SET_ORDER, "o1");
    o.order = ORDER_FAIR;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &o, 2000, NULL) == NULL);
    room_top(r, KIND_PROBLEM, 3, top);
    CHECK_EQ_INT(top[0], 2);
    room_free(r);
}

TEST(set_order_is_a_moderators_and_logged)
{
    int64_t mod, au;
    struct room *r = jam_with_items(1, &mod, &au);
    struct msg o = mk(MSG_SET_ORDER, "o1");
    o.order = ORDER_FAIR;
    CHECK_EQ_STR(write_msg(r, au, ROLE_CITIZEN, &o, 2000, NULL), "forbidden");
    CHECK_EQ_STR(write_msg(r, au, ROLE_SCREEN, &o, 2000, NULL), "forbidden");
    CHECK_EQ_INT(r->order, ORDER_TOP);
    size_t log = r->n_modlog;
    room_delta_reset(r);
    CHECK(write_msg(r, mod, ROLE_MODERATOR, &o, 2000, NULL) == NULL);
    CHECK_EQ_INT(r->order, ORDER_FAIR);
    CHECK_EQ_INT(r->n_modlog, log + 1);
    CHECK_EQ_INT(r->modlog[log].type, EV_ORDER_SET);
    CHECK_EQ_INT(r->modlog[log].index, ORDER_FAIR);
    CHECK(r->delta.stage);                                 /* the update says the order */
    CHECK_EQ_INT(r->delta.kinds, (1u << KIND__COUNT) - 1); /* and sends every ranking */
    struct event bad = {.type = EV_ORDER_SET, .by = mod, .order = ORDER__COUNT};
    snprintf(bad.op, sizeof bad.op, "o2");
    CHECK_EQ_STR(room_apply(r, next_id(), &bad, NULL), "bad_value");
    room_free(r);
}

/* A stream kept as the store would: each event's id and stored JSON, for a replay. */
struct stream {
    char id[64][32];
    char *json[64];
    int n;
};

static const char *store_apply(struct room *r, struct stream *st, struct event *e, int64_t at)
{
    e->at_ms = at;
    char *json = codec_event_encode(e);
    snprintf(st->id[st->n], sizeof st->id[0], "%llu-0", ++seq);
    struct event back;
    struct codec_error ce;
    CHECK(codec_event_decode(json, strlen(json), &back, &ce) == 0);
    const char *err = room_apply(r, st->id[st->n], &back, NULL);
    st->json[st->n++] = json;
    event_clear(&back);
    event_clear(e);
    return err;
}

static const char *store_msg(struct room *r, struct stream *st, int64_t pid, enum role role,
                             struct msg *m)
{
    struct event e;
    const char *err = room_check(r, pid, role, m, &e);
    return err ? err : store_apply(r, st, &e, 1000);
}

static int64_t store_join(struct room *r, struct stream *st, enum role role, const char *nick)
{
    struct msg m = {.type = MSG_JOIN, .as = role, .nickname = (char *)nick};
    struct event e;
    CHECK(room_check_join(r, &m, &e) == NULL);
    int64_t pid = e.pid;
    CHECK(store_apply(r, st, &e, 1000) == NULL);
    return pid;
}

/* Live: discover views, offers batched into showings events, votes, set_order; then the same
 * stream replayed into a fresh room gives the same state, byte for byte (the canonical snapshot:
 * shown counts, order, log). */
TEST(showings_replay_to_the_same_state)
{
    struct stream st = {0};
    struct jam_config c = {0};
    strcpy(c.code, "123456");
    c.title = "T";
    c.question = "Q";
    c.agenda[0] = (struct agenda_step){PHASE_EXPLORE, 0};
    c.n_agenda = 1;
    c.settings = (struct jam_settings){true, 0, 2, 50, false, false};
    struct room_limits lim = {100, 100};
    struct room *live = room_new(&c, &lim);
    struct event created = {.type = EV_JAM_CREATED, .jam = c};
    created.jam.title = strdup("T");
    created.jam.question = strdup("Q");
    memset(created.jam.secret_sha256, 'a', 64);
    CHECK(store_apply(live, &st, &created, 500) == NULL);
    int64_t mod = store_join(live, &st, ROLE_MODERATOR, "Mo");
    int64_t a = store_join(live, &st, ROLE_CITIZEN, "A"),
            b = store_join(live, &st, ROLE_CITIZEN, "B");
    struct msg m = mk(MSG_START, "s");
    CHECK(store_msg(live, &st, mod, ROLE_MODERATOR, &m) == NULL);
    for (int i = 0; i < 9; i++) {
        m = mk(MSG_POST, "");
        snprintf(m.op, sizeof m.op, "p%d", i);
        m.kind = KIND_PROBLEM;
        m.text = "Some problem";
        CHECK(store_msg(live, &st, mod, ROLE_MODERATOR, &m) == NULL);
    }
    for (int round = 0; round < 3; round++) {
        uint32_t ids[5];
        int64_t who[] = {a, b};
        for (int k = 0; k < 2; k++) {
            size_t n = room_discover(live, who[k], 5, ids);
            room_offered(live, ids, n);
            m = mk(MSG_VOTE, "");
            snprintf(m.op, sizeof m.op, "v%d", round);
            m.item = ids[0];
            CHECK(store_msg(live, &st, who[k], ROLE_CITIZEN, &m) == NULL);
        }
        struct event e;
        CHECK(room_take_showings(live, &e));
        CHECK(store_apply(live, &st, &e, 2000 + round) == NULL);
    }
    m = mk(MSG_SET_ORDER, "o");
    m.order = ORDER_FAIR;
    CHECK(store_msg(live, &st, mod, ROLE_MODERATOR, &m) == NULL);

    struct room *again = room_new(&c, &lim);
    for (int i = 0; i < st.n; i++) {
        struct event e;
        struct codec_error ce;
        CHECK(codec_event_decode(st.json[i], strlen(st.json[i]), &e, &ce) == 0);
        CHECK(room_apply(again, st.id[i], &e, NULL) == NULL);
        event_clear(&e);
        free(st.json[i]);
    }
    unsigned char *x, *y;
    size_t nx, ny;
    snapshot_encode(live, true, &x, &nx);
    snapshot_encode(again, true, &y, &ny);
    CHECK(nx == ny && memcmp(x, y, nx) == 0);
    uint32_t sum = 0;
    for (size_t i = 0; i < again->n_items; i++)
        sum += again->items[i]->shown;
    CHECK_EQ_INT(sum, 30); /* 3 rounds, 2 views of 5 */
    CHECK_EQ_INT(again->order, ORDER_FAIR);
    free(x);
    free(y);
    room_free(live);
    room_free(again);
}

int main(void)
{
    RUN(discover_skips_own_voted_hidden_and_least_shown_first);
    RUN(discover_spreads_ties_over_participants_and_counts_offers);
    RUN(showings_apply_and_spread_the_counts);
    RUN(showings_replay_to_the_same_state);
    RUN(fair_order_ranks_by_wilson_and_top_by_votes);
    RUN(set_order_is_a_moderators_and_logged);
    return test_done();
}
