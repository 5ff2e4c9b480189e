/* SPDX-License-Identifier: MIT
 * test_loop.c - the loop's two entry points on the fake clock: the tick (a phase's deadline
 * becomes a stored phase_ended, sessions that never joined are closed 4002, broadcasts, the
 * store's timeouts) and the wake (the store's results dispatched: completions, storage up/down).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakes/glue.h"
#include "hub.h"
#include "jam.h"
#include "loop.h"
#include "room.h"
#include "session.h"
#include "test.h"

#define CODE "482913"

static void tick(struct glue *g)
{
    loop_on_tick(net_now_ms(), g->hub);
}

static size_t phase_ended_appends(struct glue *g)
{
    size_t n = 0;
    for (size_t i = 0; i < g->store->n_calls; i++)
        n += g->store->calls[i].kind == FAKE_APPEND &&
             strstr(g->store->calls[i].payload, "\"phase_ended\"") != NULL;
    return n;
}

TEST(tick_stores_phase_ended_when_the_deadline_passes)
{
    struct glue g;
    glue_init(&g, NULL);
    struct jam *j = glue_jam(&g, CODE);
    CHECK(glue_start(&g, CODE) != NULL); /* explore, 60 s */
    fake_net_advance(60000 - 1);
    tick(&g);
    CHECK_EQ_INT(phase_ended_appends(&g), 0);
    g.store->hold = true;
    fake_net_advance(1);
    tick(&g);
    CHECK_EQ_INT(phase_ended_appends(&g), 1);
    tick(&g);
    CHECK_EQ_INT(phase_ended_appends(&g), 1); /* one in flight at a time */
    fake_store_answer(g.store, NULL);
    glue_settle(&g);
    CHECK_EQ_INT(j->room->clock.index, 1);
    tick(&g);
    CHECK_EQ_INT(phase_ended_appends(&g), 1); /* ideate has no deadline */
    glue_deinit(&g);
}

TEST(failed_phase_ended_is_retried_at_the_next_tick)
{
    struct glue g;
    glue_init(&g, NULL);
    struct jam *j = glue_jam(&g, CODE);
    CHECK(glue_start(&g, CODE) != NULL);
    fake_net_advance(60000);
    g.store->fail = store_err_timeout;
    tick(&g);
    glue_settle(&g);
    CHECK_EQ_INT(j->room->clock.index, 0);
    tick(&g);
    glue_settle(&g);
    CHECK_EQ_INT(phase_ended_appends(&g), 2);
    CHECK_EQ_INT(j->room->clock.index, 1);
    glue_deinit(&g);
}

TEST(tick_closes_sessions_that_never_joined)
{
    struct glue g;
    glue_init(&g, NULL);
    glue_jam(&g, CODE);
    struct session *idle = glue_open(&g), *in = glue_join(&g, CODE, ROLE_CITIZEN, NULL);
    g.store->hold = true;
    struct session *joining = glue_open(&g);
    glue_send(&g, joining, "{\"type\":\"join\",\"code\":\"%s\",\"as\":\"citizen\"}", CODE);
    fake_net_advance(SESSION_JOIN_TIMEOUT_MS);
    tick(&g);
    CHECK_EQ_INT(idle->close_code, 0); /* not over the limit yet */
    fake_net_advance(1000);
    tick(&g);
    CHECK_EQ_INT(idle->close_code, 4002);
    CHECK(g.net->last_closed == idle);
    CHECK_EQ_INT(g.net->closes, 1);
    CHECK(in && in->close_code == 0);
    CHECK_EQ_INT(joining->close_code, 0); /* its join is being stored */
    glue_deinit(&g);
}

TEST(tick_broadcasts_and_expires)
{
    struct glue g;
    glue_init(&g, NULL);
    struct jam *j = glue_jam(&g, CODE);
    struct session *m = glue_start(&g, CODE);
    CHECK(m != NULL);
    free(
        glue_call(&g, m, "{\"type\":\"post\",\"op\":\"p\",\"kind\":\"problem\",\"text\":\"hot\"}"));
    uint64_t head = j->ring.head;
    unsigned expires = g.store->n_expires;
    tick(&g);
    CHECK_EQ_INT(j->ring.head, head + 1);
    CHECK_EQ_INT(g.store->n_expires, expires + 1);
    glue_deinit(&g);
}

/* The tick answers when it wants to run next: at the regular tick, or sooner when a jam's update
 * falls due before it (a period that is no multiple of the tick is kept to the millisecond). */
TEST(tick_says_when_the_next_update_is_due)
{
    const char *const flags[] = {"--max-deliveries-per-s", "1000", NULL};
    struct glue g;
    glue_init(&g, flags);
    struct jam *j = glue_jam(&g, CODE);
    struct session *m = glue_start(&g, CODE);
    CHECK(m != NULL);
    if (!m)
        goto done;
    g.net->clients = 70; /* period 70 ms against a 50 ms tick */
    int64_t tick_ms = g.cfg.tick_ms;
    CHECK_EQ_INT(tick_ms, 50);
    free(glue_call(&g, m,
                   "{\"type\":\"post\",\"op\":\"p1\",\"kind\":\"problem\",\"text\":\"hot\"}"));
    uint64_t head = j->ring.head;
    CHECK_EQ_INT(loop_on_tick(net_now_ms(), g.hub), tick_ms); /* pushed; next in 70 */
    CHECK_EQ_INT(j->ring.head, head + 1);
    fake_net_advance(tick_ms);
    free(glue_call(&g, m,
                   "{\"type\":\"post\",\"op\":\"p2\",\"kind\":\"problem\",\"text\":\"cold\"}"));
    CHECK_EQ_INT(loop_on_tick(net_now_ms(), g.hub), 70 - tick_ms);
    CHECK_EQ_INT(j->ring.head, head + 1);
    fake_net_advance(70 - tick_ms);
    CHECK_EQ_INT(loop_on_tick(net_now_ms(), g.hub), tick_ms);
    CHECK_EQ_INT(j->ring.head, head + 2); /* at 70 ms, not at the tick at 100 */
done:
    glue_deinit(&g);
}

TEST(wake_dispatches_store_results)
{
    struct glue g;
    glue_init(&g, NULL);
    glue_jam(&g, CODE);
    g.store->hold = true;
    struct session *s = glue_open(&g);
    glue_send(&g, s, "{\"type\":\"join\",\"code\":\"%s\",\"as\":\"citizen\"}", CODE);
    fake_store_answer(g.store, NULL);
    CHECK(!s->jam); /* the result waits for the wake */
    loop_on_wake(g.hub);
    CHECK(s->jam != NULL);
    glue_drain(s);
    fake_store_post(g.store, STORE_DOWN, NULL, NULL, NULL);
    loop_on_wake(g.hub);
    CHECK(!g.hub->storage_up);
    char *f = glue_pop(s);
    CHECK(glue_is(f, "status") && strstr(f, "\"degraded\""));
    free(f);
    fake_store_post(g.store, STORE_DOWN, NULL, NULL, NULL);
    fake_store_post(g.store, STORE_FENCED, "cojam:jam:482913:events", NULL, NULL);
    loop_on_wake(g.hub);
    CHECK_EQ_INT(fifo_len(&s->queue), 0); /* no change, no news */
    fake_store_post(g.store, STORE_UP, NULL, NULL, NULL);
    loop_on_wake(g.hub);
    CHECK(g.hub->storage_up);
    f = glue_pop(s);
    CHECK(glue_is(f, "status") && strstr(f, "\"ok\""));
    free(f);
    glue_deinit(&g);
}

TEST(one_wake_takes_every_waiting_result)
{
    struct glue g;
    glue_init(&g, NULL);
    struct jam *j = glue_jam(&g, CODE);
    uint64_t events = j->room->n_events;
    enum { N = 150 }; /* more than one store_poll takes */
    for (int i = 0; i < N; i++) {
        char id[32], *payload = glue_joined(i + 1);
        snprintf(id, sizeof id, "18000000%05d-0", i);
        fake_store_post(g.store, STORE_TAILED, j->key, id, payload);
        free(payload);
    }
    loop_on_wake(g.hub);
    CHECK_EQ_INT(j->room->n_events, events + N);
    CHECK_EQ_INT(g.store->n_results, 0);
    glue_deinit(&g);
}

/* The close code a session is marked with, at once or after its queue. */
static int closing(const struct session *s)
{
    return s->close_code ? s->close_code : s->drain_code;
}

/* SIGTERM: nothing new is taken; a session without writes in flight is closed 1012 at once, one
 * with a write in flight only once that write is answered (its ack queued before the close);
 * the loop stops when no session is left. */
TEST(drain_closes_idle_sessions_then_busy_ones_then_stops)
{
    struct glue g;
    glue_init(&g, NULL);
    glue_jam(&g, CODE);
    struct session *m = glue_start(&g, CODE);
    struct session *idle = glue_join(&g, CODE, ROLE_CITIZEN, NULL);
    struct session *busy = glue_join(&g, CODE, ROLE_CITIZEN, NULL);
    CHECK(m && idle && busy);
    if (!m || !idle || !busy)
        goto done;
    g.store->hold = true;
    glue_send(&g, busy, "{\"type\":\"post\",\"op\":\"b1\",\"kind\":\"problem\",\"text\":\"Hot\"}");
    CHECK_EQ_INT(busy->inflight, 1);
    tick(&g);
    CHECK_EQ_INT(closing(idle), 0); /* not draining: nothing happens */
    g.net->draining = true;
    tick(&g);
    CHECK_EQ_INT(closing(idle), 1012);
    CHECK_EQ_INT(closing(m), 1012);
    CHECK_EQ_INT(closing(busy), 0);
    CHECK(!g.net->stopped);
    fake_store_answer(g.store, NULL);
    glue_settle(&g);
    tick(&g);
    CHECK_EQ_INT(closing(busy), 1012);
    char *ack = glue_pop(busy);
    CHECK(ack && strstr(ack, "\"ack\"") && strstr(ack, "b1"));
    free(ack);
    CHECK(!g.net->stopped); /* sessions still open */
    glue_close(&g, m);
    glue_close(&g, idle);
    glue_close(&g, busy);
    tick(&g);
    CHECK(g.net->stopped);
done:
    glue_deinit(&g);
}

/* A session whose write never gets answered does not hold the drain beyond its bound. */
TEST(drain_stops_after_its_bound)
{
    struct glue g;
    glue_init(&g, NULL);
    glue_jam(&g, CODE);
    struct session *m = glue_start(&g, CODE);
    CHECK(m != NULL);
    if (!m)
        goto done;
    g.store->hold = true;
    glue_send(&g, m, "{\"type\":\"pause\",\"op\":\"p1\"}");
    g.net->draining = true;
    tick(&g);
    CHECK_EQ_INT(closing(m), 0);
    fake_net_advance(g.cfg.redis_timeout_ms);
    tick(&g);
    CHECK_EQ_INT(closing(m), 1012);
    CHECK(!g.net->stopped);
    fake_net_advance(1000);
    tick(&g);
    CHECK(g.net->stopped);
done:
    glue_deinit(&g);
}

int main(void)
{
    RUN(tick_stores_phase_ended_when_the_deadline_passes);
    RUN(failed_phase_ended_is_retried_at_the_next_tick);
    RUN(tick_closes_sessions_that_never_joined);
    RUN(tick_broadcasts_and_expires);
    RUN(tick_says_when_the_next_update_is_due);
    RUN(wake_dispatches_store_results);
    RUN(one_wake_takes_every_waiting_result);
    RUN(drain_closes_idle_sessions_then_busy_ones_then_stops);
    RUN(drain_stops_after_its_bound);
    return test_done();
}
