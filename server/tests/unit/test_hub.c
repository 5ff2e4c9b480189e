/* SPDX-License-Identifier: MIT
 * test_hub.c - the registry of jams and sessions, private sends with their two closing rules (a
 * full queue: 4001, too many errors: 4003) and appends that hand their request to the pending
 * table or free it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "fakes/glue.h"
#include "hub.h"
#include "jam.h"
#include "keys.h"
#include "session.h"
#include "test.h"

TEST(find_and_add)
{
    struct glue g;
    glue_init(&g, NULL);
    CHECK(hub_find_jam(g.hub, "123456") == NULL);
    CHECK_EQ_INT(hub_jam_count(g.hub), 0);
    struct jam *j = glue_jam(&g, "123456");
    CHECK(hub_find_jam(g.hub, "123456") == j);
    CHECK(hub_find_jam(g.hub, "654321") == NULL);
    CHECK_EQ_INT(hub_jam_count(g.hub), 1);
    struct session *a = glue_open(&g), *b = glue_open(&g);
    CHECK(a->id != 0 && b->id != 0 && a->id != b->id);
    CHECK(hub_find_session(g.hub, a->id) == a);
    CHECK(hub_find_session(g.hub, b->id) == b);
    CHECK(hub_find_session(g.hub, 0) == NULL);
    uint64_t gone = a->id;
    glue_close(&g, a);
    CHECK(hub_find_session(g.hub, gone) == NULL); /* a late completion finds nobody */
    struct session *c = glue_open(&g);
    CHECK(c->id != gone); /* ids are never reused */
    glue_deinit(&g);
}

TEST(send_to_a_full_queue_closes_4001)
{
    struct glue g;
    glue_init(&g, NULL);
    struct session *s = glue_open(&g);
    for (int i = 0; i < SESSION_QUEUE_FRAMES; i++)
        hub_send(s, xstrdup("{\"type\":\"pong\"}"));
    CHECK_EQ_INT(s->close_code, 0);
    CHECK_EQ_INT(g.net->want_writes, SESSION_QUEUE_FRAMES);
    CHECK_EQ_INT(g.net->closes, 0);
    hub_send(s, xstrdup("{\"type\":\"pong\"}"));
    CHECK_EQ_INT(s->close_code, 4001);
    CHECK_EQ_INT(g.net->closes, 1);
    CHECK(g.net->last_closed == s);
    CHECK_EQ_INT(fifo_len(&s->queue), SESSION_QUEUE_FRAMES); /* the extra frame was dropped */
    glue_deinit(&g);
}

TEST(too_many_errors_close_4003)
{
    struct glue g;
    glue_init(&g, NULL);
    struct session *s = glue_open(&g);
    int64_t t = net_now_ms();
    for (int i = 0; i < SESSION_MAX_ERRORS; i++)
        hub_send_error(s, "op1", "unknown_type", NULL, t);
    CHECK_EQ_INT(s->close_code, 0);
    char *e = glue_pop(s);
    CHECK(glue_is(e, "error"));
    char code[32] = "";
    CHECK(glue_field(e, "code", code, sizeof code));
    CHECK_EQ_STR(code, "unknown_type");
    free(e);
    hub_send_error(s, "op1", "unknown_type", NULL, t);
    CHECK_EQ_INT(s->close_code, 4003);
    CHECK_EQ_INT(g.net->closes, 1);
    glue_deinit(&g);
}

TEST(errors_spread_over_windows_do_not_close)
{
    struct glue g;
    glue_init(&g, NULL);
    struct session *s = glue_open(&g);
    int64_t t = net_now_ms();
    for (int i = 0; i < SESSION_MAX_ERRORS; i++)
        hub_send_error(s, NULL, "unknown_type", NULL, t);
    glue_drain(s);
    t += SESSION_ERROR_WINDOW_MS + 1;
    for (int i = 0; i < SESSION_MAX_ERRORS; i++)
        hub_send_error(s, NULL, "unknown_type", NULL, t);
    CHECK_EQ_INT(s->close_code, 0);
    glue_deinit(&g);
}

TEST(append_waits_for_its_result)
{
    struct glue g;
    glue_init(&g, NULL);
    g.store->hold = true;
    int done = 0, freed = 0;
    CHECK_EQ_INT(hub_append(g.hub, "cojam:jam:123456:events", "{}", KEYS_JAMS, "123456",
                            glue_probe_new(&done, &freed), 42),
                 0);
    const struct fake_call *c = fake_store_last(g.store, FAKE_APPEND);
    CHECK(c != NULL);
    if (c) {
        CHECK_EQ_STR(c->key, "cojam:jam:123456:events");
        CHECK_EQ_STR(c->sadd_set, KEYS_JAMS);
        CHECK_EQ_STR(c->sadd_member, "123456");
        CHECK_EQ_INT(c->now_ms, 42);
        CHECK(c->ctx != 0);
    }
    CHECK_EQ_INT(pending_count(&g.hub->pending), 1);
    glue_settle(&g);
    CHECK_EQ_INT(done, 0); /* not answered yet */
    fake_store_answer(g.store, store_err_timeout);
    glue_settle(&g);
    CHECK_EQ_INT(done, 1);
    CHECK(glue_probe_err == store_err_timeout);
    CHECK_EQ_INT(freed, 0);
    CHECK_EQ_INT(pending_count(&g.hub->pending), 0);
    glue_deinit(&g);
}

TEST(append_failure_frees_the_request)
{
    struct glue g;
    glue_init(&g, NULL);
    int done = 0, freed = 0;
    g.store->refuse = -ENOBUFS;
    CHECK_EQ_INT(hub_append(g.hub, "k", "{}", NULL, NULL, glue_probe_new(&done, &freed), 0),
                 -ENOBUFS);
    CHECK_EQ_INT(freed, 1);
    g.store->up = false;
    CHECK_EQ_INT(hub_append(g.hub, "k", "{}", NULL, NULL, glue_probe_new(&done, &freed), 0),
                 -ENOTCONN);
    CHECK_EQ_INT(freed, 2);
    CHECK_EQ_INT(pending_count(&g.hub->pending), 0);
    glue_settle(&g);
    CHECK_EQ_INT(done, 0); /* a refused append never completes */
    glue_deinit(&g);
}

TEST(deinit_frees_requests_still_waiting)
{
    struct glue g;
    glue_init(&g, NULL);
    g.store->hold = true;
    int done = 0, freed = 0;
    hub_append(g.hub, "k", "{}", NULL, NULL, glue_probe_new(&done, &freed), 0);
    glue_deinit(&g);
    CHECK_EQ_INT(freed, 1);
    CHECK_EQ_INT(done, 0);
}

int main(void)
{
    RUN(find_and_add);
    RUN(send_to_a_full_queue_closes_4001);
    RUN(too_many_errors_close_4003);
    RUN(errors_spread_over_windows_do_not_close);
    RUN(append_waits_for_its_result);
    RUN(append_failure_frees_the_request);
    RUN(deinit_frees_requests_still_waiting);
    return test_done();
}
