/* SPDX-License-Identifier: MIT
 * test_broadcast.c - what a session is sent and when: private frames, then its snapshot, then the
 * ring; falling behind the ring (resync, then 4001); when a jam's update is due (to the
 * millisecond, after the last one is written, stats alone once a second, on the fake clock); the period; storage status; a large
 * snapshot sent in fragments around pieces of the body shared by every session of a role.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "broadcast.h"
#include "fakes/glue.h"
#include "frame.h"
#include "hub.h"
#include "jam.h"
#include "now.h"
#include "period.h"
#include "room.h"
#include "session.h"
#include "test.h"
#include "view.h"

#define CODE "482913"

static struct now clock_now(void)
{
    return (struct now){net_now_ms(), net_wall_ms()};
}

/* A post by 's', so that the jam's delta has an item. */
static void post(struct glue *g, struct session *s, const char *op)
{
    free(glue_call(g, s, "{\"type\":\"post\",\"op\":\"%s\",\"kind\":\"problem\",\"text\":\"hot\"}",
                   op));
}

TEST(private_frames_then_snapshot_then_ring)
{
    struct glue g;
    glue_init(&g, NULL);
    struct jam *j = glue_jam(&g, CODE);
    struct session *m = glue_start(&g, CODE), *s = glue_join(&g, CODE, ROLE_CITIZEN, NULL);
    CHECK(m && s);
    if (!m || !s)
        goto done;
    struct now now = clock_now();
    broadcast_jam(g.hub, j, g.cfg.tick_ms, &now); /* before the snapshot: not for 's' */
    hub_send(s, xstrdup("{\"type\":\"pong\"}"));
    bool more = false;
    char *f = glue_pull(&g, s, &more);
    CHECK(glue_is(f, "pong") && more);
    free(f);
    f = glue_pull(&g, s, &more);
    CHECK(glue_is(f, "snapshot") && !strstr(f, "\"resync\":true") && !more);
    free(f);
    CHECK_EQ_INT(s->cursor, j->ring.head);
    post(&g, m, "m-1");
    fake_net_advance(g.cfg.tick_ms);
    now = clock_now();
    broadcast_jam(g.hub, j, g.cfg.tick_ms, &now);
    f = glue_pull(&g, s, &more);
    CHECK(glue_is(f, "update") && strstr(f, "hot") && !more);
    free(f);
    CHECK(glue_pull(&g, s, &more) == NULL && !more);
done:
    glue_deinit(&g);
}

TEST(falling_behind_resyncs_then_closes_4001)
{
    struct glue g;
    glue_init(&g, NULL);
    struct jam *j = glue_jam(&g, CODE);
    struct session *s = glue_join(&g, CODE, ROLE_CITIZEN, NULL);
    CHECK(s != NULL);
    if (!s)
        goto done;
    free(glue_pull(&g, s, NULL)); /* its first snapshot */
    for (int round = 1; round <= BROADCAST_RESYNC_LIMIT; round++) {
        for (size_t i = 0; i <= j->ring.cap; i++)
            jam_ring_push(j, frame_new("u", 1));
        char *f = glue_pull(&g, s, NULL);
        if (round < BROADCAST_RESYNC_LIMIT) {
            CHECK(glue_is(f, "snapshot") && strstr(f, "\"resync\":true"));
            CHECK_EQ_INT(s->close_code, 0);
        } else {
            CHECK(f == NULL);
            CHECK_EQ_INT(s->close_code, 4001);
            CHECK(g.net->last_closed == s);
        }
        free(f);
    }
done:
    glue_deinit(&g);
}

TEST(resyncs_in_separate_windows_do_not_close)
{
    struct glue g;
    glue_init(&g, NULL);
    struct jam *j = glue_jam(&g, CODE);
    struct session *s = glue_join(&g, CODE, ROLE_CITIZEN, NULL);
    CHECK(s != NULL);
    if (!s)
        goto done;
    free(glue_pull(&g, s, NULL));
    for (int round = 0; round < 2 * BROADCAST_RESYNC_LIMIT; round++) {
        for (size_t i = 0; i <= j->ring.cap; i++)
            jam_ring_push(j, frame_new("u", 1));
        free(glue_pull(&g, s, NULL));
        fake_net_advance(BROADCAST_RESYNC_WINDOW_MS / 2 + 1);
    }
    CHECK_EQ_INT(s->close_code, 0);
done:
    glue_deinit(&g);
}

/* The update goes out when the period is up, to the millisecond (within BROADCAST_DUE_SLACK_MS),
 * not at the tick after: broadcast_jam says when it falls due, and loop_on_tick passes the
 * soonest on to net, which calls the tick then. */
TEST(update_due_to_the_millisecond)
{
    struct glue g;
    glue_init(&g, NULL);
    struct jam *j = glue_jam(&g, CODE);
    struct session *m = glue_start(&g, CODE);
    CHECK(m != NULL);
    if (!m)
        goto done;
    struct now now = clock_now();
    int64_t period = g.cfg.tick_ms + g.cfg.tick_ms / 3; /* not a multiple of the tick */
    CHECK_EQ_INT(broadcast_jam(g.hub, j, period, &now), period);
    uint64_t head = j->ring.head;
    CHECK_EQ_INT(j->next_push_ms, now.ms + period);
    post(&g, m, "m-1");
    fake_net_advance(period - BROADCAST_DUE_SLACK_MS - 1);
    now = clock_now();
    CHECK_EQ_INT(broadcast_jam(g.hub, j, period, &now), BROADCAST_DUE_SLACK_MS + 1);
    CHECK_EQ_INT(j->ring.head, head); /* not yet due */
    fake_net_advance(1);
    now = clock_now();
    CHECK_EQ_INT(broadcast_jam(g.hub, j, period, &now), period);
    CHECK_EQ_INT(j->ring.head, head + 1); /* due within the slack: now */
    CHECK_EQ_INT(j->room->delta.n_items, 0);
    fake_net_advance(period);
    now = clock_now();
    CHECK_EQ_INT(broadcast_jam(g.hub, j, period, &now), BROADCAST_NOT_DUE);
    CHECK_EQ_INT(j->ring.head, head + 1); /* nothing changed: nothing pushed */
done:
    glue_deinit(&g);
}

TEST(stats_alone_go_out_once_a_second)
{
    struct glue g;
    glue_init(&g, NULL);
    struct jam *j = glue_jam(&g, CODE);
    struct session *m = glue_start(&g, CODE);
    CHECK(m != NULL);
    if (!m)
        goto done;
    struct now now = clock_now();
    broadcast_jam(g.hub, j, g.cfg.tick_ms, &now);
    uint64_t head = j->ring.head;
    fake_net_advance(g.cfg.tick_ms);
    CHECK(glue_join(&g, CODE, ROLE_CITIZEN, NULL) != NULL); /* a join: counters only */
    now = clock_now();
    broadcast_jam(g.hub, j, g.cfg.tick_ms, &now);
    CHECK_EQ_INT(j->ring.head, head);
    CHECK(j->room->delta.stats); /* kept for later */
    fake_net_advance(BROADCAST_STATS_PERIOD_MS - g.cfg.tick_ms);
    now = clock_now();
    broadcast_jam(g.hub, j, g.cfg.tick_ms, &now);
    CHECK_EQ_INT(j->ring.head, head + 1);
done:
    glue_deinit(&g);
}

/* A claim changes no item, vote or clock, yet the other consoles must see it at the next tick:
 * a moderator deciding on an item another claimed a second ago is refused. */
/* While the last broadcast's frames are still being written (net_push writes them a slice at a
 * time), a due update waits: nothing enters the ring, the delta keeps gathering, and the first
 * tick after the writes sends it all in one update. */
TEST(update_waits_for_the_last_one_written)
{
    struct glue g;
    glue_init(&g, NULL);
    struct jam *j = glue_jam(&g, CODE);
    struct session *m = glue_start(&g, CODE);
    CHECK(m != NULL);
    if (!m)
        goto done;
    struct now now = clock_now();
    broadcast_jam(g.hub, j, g.cfg.tick_ms, &now);
    uint64_t head = j->ring.head;
    post(&g, m, "m-1");
    g.net->pushing = true;
    fake_net_advance(g.cfg.tick_ms);
    now = clock_now();
    CHECK_EQ_INT(broadcast_jam(g.hub, j, g.cfg.tick_ms, &now), BROADCAST_NOT_DUE);
    CHECK_EQ_INT(j->ring.head, head); /* due, but the last one is still going out */
    post(&g, m, "m-2");
    CHECK_EQ_INT(j->room->delta.n_items, 2);
    g.net->pushing = false;
    fake_net_advance(g.cfg.tick_ms);
    now = clock_now();
    broadcast_jam(g.hub, j, g.cfg.tick_ms, &now);
    CHECK_EQ_INT(j->ring.head, head + 1); /* both posts in one update */
    CHECK_EQ_INT(j->room->delta.n_items, 0);
done:
    glue_deinit(&g);
}

TEST(claims_go_out_at_the_next_tick)
{
    struct glue g;
    glue_init(&g, NULL);
    struct jam *j = glue_jam(&g, CODE);
    j->room->cfg.settings.premoderation = true; /* as a jam created with it */
    struct session *m = glue_start(&g, CODE), *c = glue_join(&g, CODE, ROLE_CITIZEN, NULL);
    CHECK(m && c);
    if (!m || !c)
        goto done;
    post(&g, c, "c-1");
    glue_drain(m); /* the queued frame of the pending post */
    struct now now = clock_now();
    broadcast_jam(g.hub, j, g.cfg.tick_ms, &now);
    uint64_t head = j->ring.head;
    fake_net_advance(g.cfg.tick_ms);
    char *ack = glue_call(&g, m, "{\"type\":\"claim\",\"op\":\"m-c\",\"items\":[1]}");
    CHECK(glue_is(ack, "ack"));
    free(ack);
    now = clock_now();
    broadcast_jam(g.hub, j, g.cfg.tick_ms, &now);
    CHECK_EQ_INT(j->ring.head, head + 1);
done:
    glue_deinit(&g);
}

/* The stage (spotlight, pins, announcement) and the moderation log change no item, vote or
 * clock either: a spotlight the projector shows a second late, or a mute the other consoles list a
 * second late, is a moderator waiting in front of the hall. They go out at the next tick. */
TEST(stage_and_log_go_out_at_the_next_tick)
{
    struct glue g;
    glue_init(&g, NULL);
    struct jam *j = glue_jam(&g, CODE);
    struct session *m = glue_start(&g, CODE);
    CHECK(m != NULL);
    if (!m)
        goto done;
    post(&g, m, "m-p");
    struct now now = clock_now();
    broadcast_jam(g.hub, j, g.cfg.tick_ms, &now);
    const char *msgs[] = {"{\"type\":\"spotlight\",\"op\":\"m-s\",\"item\":1}",
                          "{\"type\":\"announce\",\"op\":\"m-a\",\"text\":\"Vote now\"}"};
    for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++) {
        uint64_t head = j->ring.head;
        fake_net_advance(g.cfg.tick_ms);
        char *ack = glue_call(&g, m, "%s", msgs[i]);
        CHECK(glue_is(ack, "ack"));
        free(ack);
        now = clock_now();
        broadcast_jam(g.hub, j, g.cfg.tick_ms, &now);
        CHECK_EQ_INT(j->ring.head, head + 1);
    }
done:
    glue_deinit(&g);
}

TEST(fixed_deliveries_per_second_override_the_measurement)
{
    const char *const flags[] = {"--max-deliveries-per-s", "60000", NULL};
    struct glue g;
    glue_init(&g, flags);
    CHECK_EQ_INT(broadcast_period_ms(g.hub), g.cfg.tick_ms);
    g.net->clients = 5000;
    CHECK_EQ_INT(broadcast_period_ms(g.hub), 5000 * 1000 / 60000);
    /* frames measured dear change nothing then */
    g.net->load = (struct period_sample){500000, 450000, 50000, 400, 300, 5000};
    broadcast_calibrate(g.hub, clock_now().ms);
    CHECK_EQ_INT(broadcast_period_ms(g.hub), 5000 * 1000 / 60000);
    glue_deinit(&g);
}

TEST(period_follows_the_measured_cost)
{
    struct glue g;
    glue_init(&g, NULL);
    CHECK_EQ_INT(g.cfg.max_deliveries, 0);
    CHECK_EQ_INT(broadcast_period_ms(g.hub), g.cfg.tick_ms);
    g.net->clients = 5000;
    /* before anything is measured: the prior cost per frame within 75% of a core */
    CHECK_EQ_INT(broadcast_period_ms(g.hub), (int64_t)(5000 * PERIOD_PRIOR_WRITE_US / 750 + 0.5));
    /* 500 ms in which 25,000 frames took 400 ms of the loop's CPU, 16 us each: the loop is over
     * its budget, so the period grows, by at most PERIOD_STEP_UP per sample */
    int64_t before = broadcast_period_ms(g.hub);
    for (int i = 0; i < 10; i++) {
        g.net->load = (struct period_sample){500000, 400000 + 3000, 3000, 400, 300, 25000};
        broadcast_calibrate(g.hub, clock_now().ms);
    }
    int64_t after = broadcast_period_ms(g.hub);
    CHECK(after > before);
    CHECK(after <= PERIOD_MAX_MS);
    CHECK(g.hub->period.write_us > 10 && g.hub->period.write_us < 20);
    glue_deinit(&g);
}

TEST(status_goes_to_joined_sessions)
{
    struct glue g;
    glue_init(&g, NULL);
    glue_jam(&g, CODE);
    struct session *in = glue_join(&g, CODE, ROLE_CITIZEN, NULL), *out = glue_open(&g);
    CHECK(in != NULL);
    broadcast_status(g.hub, false);
    char *f = in ? glue_pop(in) : NULL;
    CHECK(glue_is(f, "status") && strstr(f, "\"degraded\""));
    free(f);
    CHECK_EQ_INT(fifo_len(&out->queue), 0);
    glue_deinit(&g);
}

/* Pull the whole snapshot message of 's': its parts in order (their frames kept in 'parts', the
 * references the caller's), concatenated. '*told' is whether each part before the last said
 * *more, as the transport needs to ask for the next one. */
static char *pull_message(struct glue *g, struct session *s, struct frame **parts, size_t *n,
                          bool *told)
{
    size_t len = 0, cap = 1 << 16;
    char *out = xmalloc(cap);
    *n = 0;
    *told = true;
    for (;;) {
        bool more;
        struct frame *f = broadcast_next_frame(s, &more, g->hub);
        if (!f)
            break;
        if (len + f->len + 1 > cap)
            out = xrealloc(out, cap = 2 * (len + f->len + 1));
        memcpy(out + len, frame_payload(f), f->len);
        len += f->len;
        parts[(*n)++] = f;
        if (f->part == FRAME_WHOLE || f->part == FRAME_LAST)
            break;
        *told = *told && more;
    }
    out[len] = '\0';
    return out;
}

static void unref_all(struct frame **parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        frame_unref(parts[i]);
}

/* 80 items of 400 characters by the moderator 'm': a snapshot body of more than 32 KB. */
static void fill_large(struct glue *g, struct session *m)
{
    char text[401];
    memset(text, 'x', 400);
    text[400] = '\0';
    for (int i = 0; i < 80; i++) {
        fake_net_advance(100); /* under the session's rate */
        free(glue_call(g, m,
                       "{\"type\":\"post\",\"op\":\"p%d\",\"kind\":\"problem\","
                       "\"text\":\"%d %s\"}",
                       i, i, text));
    }
}

TEST(large_snapshot_in_fragments_sharing_the_body)
{
    struct glue g;
    glue_init(&g, (const char *const[]){"--max-items-per-participant", "1000", NULL});
    struct jam *j = glue_jam(&g, CODE);
    struct session *m = glue_start(&g, CODE);
    fill_large(&g, m);
    CHECK_EQ_INT(j->room->n_items, 80);
    struct session *a = glue_join(&g, CODE, ROLE_SCREEN, NULL);
    struct session *b = glue_join(&g, CODE, ROLE_SCREEN, NULL);
    struct session *c = glue_join(&g, CODE, ROLE_MODERATOR, NULL);
    struct frame *pa[64], *pb[64], *pc[64];
    size_t na, nb, nc;
    bool ta, tb, tc;
    char *ma = pull_message(&g, a, pa, &na, &ta), *mb = pull_message(&g, b, pb, &nb, &tb);
    char *mc = pull_message(&g, c, pc, &nc, &tc);
    CHECK(na >= 4 && na == nb && nc >= 4); /* head, at least two pieces, tail */
    CHECK(ta && tb && tc);
    CHECK(pa[0]->part == FRAME_FIRST && pa[na - 1]->part == FRAME_LAST);
    for (size_t i = 1; i + 1 < na; i++) {
        CHECK(pa[i]->part == FRAME_MIDDLE && pa[i]->len <= JAM_SNAPSHOT_PIECE);
        CHECK(pa[i] == pb[i]); /* one encoding, shared */
        CHECK(pa[i] != pc[i]); /* the moderators' is another */
    }
    CHECK(pa[0] != pb[0] && pa[na - 1] != pb[nb - 1]); /* head and tail are each session's */
    /* The message is what one frame held before: head, body, tail. */
    char *whole = view_snapshot_with(j->room, j->snap_body_id, j->snap_body, NULL, false);
    CHECK_EQ_STR(ma, whole);
    CHECK_EQ_STR(mb, whole);
    free(whole);
    const struct participant *p = room_participant(j->room, c->pid);
    whole = view_snapshot_with(j->room, j->mod_body_id, j->mod_body, p, false);
    CHECK_EQ_STR(mc, whole);
    CHECK(strstr(mc, "\"you\":") != NULL);
    free(whole);
    unref_all(pa, na);
    unref_all(pb, nb);
    unref_all(pc, nc);
    free(ma);
    free(mb);
    free(mc);
    glue_deinit(&g);
}

/* 60-recovery: a sync right after a resync snapshot got no snapshot. With nothing else due for
 * the session, the head of a fragmented snapshot said no *more, so the transport never asked for
 * its pieces and tail, and every later frame waited behind them. */
TEST(fragmented_snapshot_asks_for_its_rest)
{
    struct glue g;
    glue_init(&g, (const char *const[]){"--max-items-per-participant", "1000", NULL});
    glue_jam(&g, CODE);
    struct session *m = glue_start(&g, CODE);
    fill_large(&g, m);
    struct session *a = glue_join(&g, CODE, ROLE_CITIZEN, NULL);
    struct frame *parts[64];
    size_t n;
    bool told;
    char *msg = pull_message(&g, a, parts, &n, &told);
    CHECK(n >= 4 && told && strstr(msg, "\"resync\":false"));
    unref_all(parts, n);
    free(msg);
    bool more = true;
    CHECK(glue_pull(&g, a, &more) == NULL);
    glue_send(&g, a, "{\"type\":\"sync\"}");
    msg = pull_message(&g, a, parts, &n, &told);
    CHECK(n >= 4 && parts[0]->part == FRAME_FIRST && parts[n - 1]->part == FRAME_LAST);
    CHECK(told && strstr(msg, "\"resync\":true") && strstr(msg, "\"you\":"));
    unref_all(parts, n);
    free(msg);
    glue_deinit(&g);
}

int main(void)
{
    RUN(private_frames_then_snapshot_then_ring);
    RUN(large_snapshot_in_fragments_sharing_the_body);
    RUN(fragmented_snapshot_asks_for_its_rest);
    RUN(falling_behind_resyncs_then_closes_4001);
    RUN(resyncs_in_separate_windows_do_not_close);
    RUN(update_due_to_the_millisecond);
    RUN(stats_alone_go_out_once_a_second);
    RUN(update_waits_for_the_last_one_written);
    RUN(claims_go_out_at_the_next_tick);
    RUN(stage_and_log_go_out_at_the_next_tick);
    RUN(fixed_deliveries_per_second_override_the_measurement);
    RUN(period_follows_the_measured_cost);
    RUN(status_goes_to_joined_sessions);
    return test_done();
}
