/* SPDX-License-Identifier: MIT
 * test_jam.c - a live jam: its ring of broadcast frames (push, wrap-around, where a resume starts),
 * its members and online count, and the shared snapshot body's cache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakes/glue.h"
#include "frame.h"
#include "hub.h"
#include "jam.h"
#include "room.h"
#include "session.h"
#include "test.h"
#include "view.h"

/* The id of the n-th event after the jam was created (the fake stream's ids are smaller). */
static const char *id(int n)
{
    static char buf[8][MSG_EVENT_ID_MAX + 1];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, MSG_EVENT_ID_MAX + 1, "1800000000000-%d", n);
    return b;
}

/* The room applied events up to 'n' (the delta grows), as room_apply would record it. */
static void apply_to(struct jam *j, int n)
{
    struct room_delta *d = &j->room->delta;
    if (!d->from[0])
        memcpy(d->from, id(n), sizeof d->from);
    memcpy(d->to, id(n), sizeof d->to);
    memcpy(j->room->last_id, id(n), sizeof j->room->last_id);
}

/* Broadcast the delta as one ring frame, as broadcast_jam does. Returns the frame (borrowed). */
static struct frame *push(struct jam *j)
{
    struct frame *f = frame_new("u", 1);
    jam_ring_push(j, f);
    room_delta_reset(j->room);
    return f;
}

/* One frame per event 1..n. */
static void push_each(struct jam *j, int n)
{
    for (int i = 1; i <= n; i++) {
        apply_to(j, i);
        push(j);
    }
}

TEST(ring_push_wraps_and_releases_the_oldest)
{
    struct glue g;
    glue_init(&g, NULL);
    struct jam *j = glue_jam(&g, "111111");
    CHECK_EQ_INT(j->ring.cap, 8);
    struct session *a = glue_open(&g), *b = glue_open(&g);
    jam_attach(j, a, 1, ROLE_CITIZEN);
    jam_attach(j, b, 2, ROLE_CITIZEN);
    apply_to(j, 1);
    struct frame *first = frame_ref(push(j));
    CHECK_EQ_INT(first->refs, 2); /* ours and the ring's */
    unsigned wakes = g.net->want_writes;
    for (int i = 2; i <= 9; i++) {
        apply_to(j, i);
        push(j);
    }
    CHECK_EQ_INT(j->ring.head, 9);
    CHECK_EQ_INT(g.net->want_writes - wakes, 8 * 2); /* every push wakes both members */
    CHECK_EQ_INT(first->refs, 1);                    /* overwritten by the 9th: released */
    CHECK_EQ_STR(j->ring.to[8 % 8], id(9));
    CHECK_EQ_STR(j->ring.prev[8 % 8], id(8));
    frame_unref(first);
    glue_deinit(&g);
}

TEST(resume_point_before_inside_and_after_the_ring)
{
    struct glue g;
    glue_init(&g, NULL);
    struct jam *j = glue_jam(&g, "222222");
    push_each(j, 10); /* the ring (8) holds the frames of events 3..10, sequences 2..9 */
    uint64_t seq = 99;
    CHECK(jam_ring_resume_point(j, id(10), &seq));
    CHECK_EQ_INT(seq, 10); /* up to date: the next push */
    CHECK(jam_ring_resume_point(j, id(5), &seq));
    CHECK_EQ_INT(seq, 5); /* the frame of event 6 */
    CHECK(jam_ring_resume_point(j, id(2), &seq));
    CHECK_EQ_INT(seq, 2);                            /* the oldest frame starts right after it */
    CHECK(!jam_ring_resume_point(j, id(1), &seq));   /* its next frame was overwritten */
    CHECK(!jam_ring_resume_point(j, id(11), &seq));  /* from the future */
    CHECK(!jam_ring_resume_point(j, "12345", &seq)); /* not an id of this stream */
    glue_deinit(&g);
}

TEST(resume_point_inside_a_frame_of_several_events)
{
    struct glue g;
    glue_init(&g, NULL);
    struct jam *j = glue_jam(&g, "333333");
    push_each(j, 3);
    apply_to(j, 4);
    apply_to(j, 5);
    apply_to(j, 6);
    push(j); /* sequence 3: events 4..6 */
    uint64_t seq = 99;
    CHECK(jam_ring_resume_point(j, id(5), &seq));
    CHECK_EQ_INT(seq, 3); /* resent whole: applying it again is idempotent for the client */
    glue_deinit(&g);
}

TEST(resume_point_with_a_gap_in_the_ring)
{
    struct glue g;
    glue_init(&g, NULL);
    struct jam *j = glue_jam(&g, "444444");
    push_each(j, 3);
    apply_to(j, 4);
    room_delta_reset(j->room); /* applied without a broadcast (recovery): a gap after event 3 */
    apply_to(j, 5);
    push(j);
    uint64_t seq = 99;
    CHECK(jam_ring_resume_point(j, id(2), &seq));
    CHECK_EQ_INT(seq, 2);                          /* before the gap: fine */
    CHECK(!jam_ring_resume_point(j, id(3), &seq)); /* event 4 is in no frame */
    glue_deinit(&g);
}

TEST(resume_point_of_applied_but_not_broadcast)
{
    struct glue g;
    glue_init(&g, NULL);
    struct jam *j = glue_jam(&g, "555555");
    push_each(j, 3);
    apply_to(j, 4); /* in the delta: the next push carries it */
    uint64_t seq = 99;
    CHECK(jam_ring_resume_point(j, id(3), &seq));
    CHECK_EQ_INT(seq, j->ring.head);
    room_delta_reset(j->room); /* dropped from the broadcast */
    CHECK(!jam_ring_resume_point(j, id(3), &seq));
    glue_deinit(&g);
}

TEST(attach_detach_and_online_counts)
{
    struct glue g;
    glue_init(&g, NULL);
    struct jam *j = glue_jam(&g, "666666");
    push_each(j, 2);
    struct session *c = glue_open(&g), *m = glue_open(&g), *scr = glue_open(&g);
    jam_attach(j, c, 1, ROLE_CITIZEN);
    jam_attach(j, scr, 0, ROLE_SCREEN);
    jam_attach(j, m, 2, ROLE_MODERATOR);
    CHECK_EQ_INT(j->online, 1); /* the citizens in the hall: not the screen, not the moderator */
    CHECK_EQ_INT(j->room->online, 1);
    CHECK(c->jam == j && c->pid == 1 && c->role == ROLE_CITIZEN);
    CHECK_EQ_INT(c->cursor, j->ring.head);
    CHECK_EQ_INT(c->wants_snapshot, WANT_FIRST);
    jam_detach(scr); /* the middle of the list */
    CHECK_EQ_INT(j->online, 1);
    CHECK(j->members == m && m->next_member == c && c->prev_member == m && !c->next_member);
    jam_detach(m);
    CHECK_EQ_INT(j->online, 1);
    CHECK(j->members == c && !c->prev_member);
    CHECK(m->jam == NULL);
    jam_detach(m); /* not a member any more: nothing */
    CHECK_EQ_INT(j->online, 1);
    glue_close(&g, c); /* closing leaves the jam */
    CHECK_EQ_INT(j->online, 0);
    CHECK(j->members == NULL);
    glue_deinit(&g);
}

/* Each broadcast pushes every member; every other one in the reverse order, so that nobody is
 * always the last to be written. */
TEST(broadcasts_alternate_the_members_order)
{
    struct glue g;
    glue_init(&g, NULL);
    struct jam *j = glue_jam(&g, "777777");
    struct session *a = glue_open(&g), *b = glue_open(&g), *c = glue_open(&g);
    jam_attach(j, a, 1, ROLE_CITIZEN);
    jam_attach(j, b, 2, ROLE_CITIZEN);
    jam_attach(j, c, 3, ROLE_CITIZEN); /* members: c, b, a */
    struct session *order[2][3];
    for (int k = 0; k < 2; k++) {
        g.net->n_pushed = 0;
        push(j);
        CHECK_EQ_INT(g.net->n_pushed, 3);
        memcpy(order[k], g.net->pushed, sizeof order[k]);
    }
    CHECK(order[0][0] == order[1][2] && order[0][1] == order[1][1] && order[0][2] == order[1][0]);
    bool as_listed = order[0][0] == c && order[0][1] == b && order[0][2] == a;
    CHECK(as_listed || (order[1][0] == c && order[1][1] == b && order[1][2] == a));
    glue_deinit(&g);
}

TEST(snapshot_body_cached_by_id_and_age)
{
    struct glue g;
    glue_init(&g, NULL);
    struct jam *j = glue_jam(&g, "777777");
    int64_t t = 5000, age = jam_cache_max_age_ms(&g.cfg);
    CHECK_EQ_INT(age, g.cfg.tick_ms);
    const char *body = jam_snapshot_body(j, &g.cfg, t, 1700000000000);
    CHECK(body != NULL && strstr(body, "Cooler streets") != NULL);
    CHECK_EQ_INT(j->snap_body_len, strlen(body));
    CHECK_EQ_STR(j->snap_body_id, j->room->last_id);
    jam_snapshot_body(j, &g.cfg, t + age - 1, 1700000000000);
    CHECK_EQ_INT(j->snap_body_ms, t); /* young enough: the same encoding */
    jam_snapshot_body(j, &g.cfg, t + age, 1700000000000);
    CHECK_EQ_INT(j->snap_body_ms, t + age); /* a tick old: encoded again */
    apply_to(j, 1);
    jam_snapshot_body(j, &g.cfg, t + age, 1700000000000);
    CHECK_EQ_STR(j->snap_body_id, id(1)); /* a new state: encoded again at once */
    glue_deinit(&g);
}

TEST(moderator_body_cached_apart_from_the_citizens)
{
    struct glue g;
    glue_init(&g, NULL);
    struct jam *j = glue_jam(&g, "777777");
    int64_t t = 5000, age = jam_cache_max_age_ms(&g.cfg);
    const char *mod = jam_moderator_body(j, &g.cfg, t, 1700000000000);
    CHECK(mod != NULL && mod == j->mod_body);
    CHECK_EQ_STR(j->mod_body_id, j->room->last_id);
    char *fresh = view_snapshot_body(j->room, true, 1700000000000, (unsigned)g.cfg.rank_top);
    CHECK_EQ_STR(mod, fresh); /* what view_snapshot would encode for a moderator */
    free(fresh);
    CHECK(jam_moderator_body(j, &g.cfg, t + age - 1, 1700000000000) == mod); /* shared */
    CHECK_EQ_INT(j->mod_body_ms, t);
    jam_snapshot_body(j, &g.cfg, t, 1700000000000);
    CHECK(j->snap_body != j->mod_body); /* the citizens' body is another one */
    jam_moderator_body(j, &g.cfg, t + age, 1700000000000);
    CHECK_EQ_INT(j->mod_body_ms, t + age); /* a tick old: encoded again */
    apply_to(j, 1);
    jam_moderator_body(j, &g.cfg, t + age, 1700000000000);
    CHECK_EQ_STR(j->mod_body_id, id(1)); /* a new state: encoded again at once */
    glue_deinit(&g);
}

int main(void)
{
    RUN(ring_push_wraps_and_releases_the_oldest);
    RUN(resume_point_before_inside_and_after_the_ring);
    RUN(resume_point_inside_a_frame_of_several_events);
    RUN(resume_point_with_a_gap_in_the_ring);
    RUN(resume_point_of_applied_but_not_broadcast);
    RUN(attach_detach_and_online_counts);
    RUN(broadcasts_alternate_the_members_order);
    RUN(snapshot_body_cached_by_id_and_age);
    RUN(moderator_body_cached_apart_from_the_citizens);
    return test_done();
}
