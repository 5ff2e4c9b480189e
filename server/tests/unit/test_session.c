/* SPDX-License-Identifier: MIT
 * test_session.c - the per-connection bounds of session.h with a clock the test sets: the private
 * queue by frames and by bytes (and its references), the token bucket, the error window, and the
 * first close code winning, and the keep-alive list (oldest heard from first, O(1) each step).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "session.h"
#include "test.h"

TEST(init)
{
    struct session s;
    memset(&s, 0xab, sizeof s);
    int conn;
    session_init(&s, 42, &conn, 1000);
    CHECK_EQ_INT(s.id, 42);
    CHECK(s.conn == &conn);
    CHECK_EQ_INT(s.opened_ms, 1000);
    CHECK(s.jam == NULL && s.rx == NULL && s.close_code == 0 && s.errors == 0);
    CHECK_EQ_INT(fifo_len(&s.queue), 0);
    CHECK(session_dequeue(&s) == NULL);
    session_deinit(&s);
}

TEST(queue_bound_by_frames)
{
    struct session s;
    session_init(&s, 1, NULL, 0);
    struct frame *f = frame_new("x", 1);
    for (int i = 0; i < SESSION_QUEUE_FRAMES; i++)
        CHECK_EQ_INT(session_enqueue(&s, f), 0);
    CHECK_EQ_INT(f->refs, 1 + SESSION_QUEUE_FRAMES); /* one reference per queued copy */
    CHECK_EQ_INT(session_enqueue(&s, f), -ENOBUFS);
    CHECK_EQ_INT(f->refs, 1 + SESSION_QUEUE_FRAMES); /* a refused frame is not referenced */
    struct frame *g = session_dequeue(&s);
    CHECK(g == f);
    frame_unref(g);
    CHECK_EQ_INT(session_enqueue(&s, f), 0); /* room again */
    session_deinit(&s);                      /* drops every queued reference */
    CHECK_EQ_INT(f->refs, 1);
    frame_unref(f);
}

TEST(queue_bound_by_bytes)
{
    struct session s;
    session_init(&s, 1, NULL, 0);
    size_t big = SESSION_QUEUE_BYTES / 2;
    char *data = calloc(1, big + 1);
    struct frame *half = frame_new(data, big), *one = frame_new("y", 1);
    free(data);
    CHECK_EQ_INT(session_enqueue(&s, half), 0);
    CHECK_EQ_INT(session_enqueue(&s, half), 0);
    CHECK_EQ_INT(s.q_bytes, SESSION_QUEUE_BYTES);
    CHECK_EQ_INT(session_enqueue(&s, one), -ENOBUFS); /* exactly full: one more byte is over */
    struct frame *g = session_dequeue(&s);
    CHECK(g == half);
    frame_unref(g);
    CHECK_EQ_INT(s.q_bytes, SESSION_QUEUE_BYTES - big);
    CHECK_EQ_INT(session_enqueue(&s, one), 0);
    CHECK_EQ_INT(s.q_bytes, SESSION_QUEUE_BYTES - big + 1);
    session_deinit(&s);
    CHECK_EQ_INT(half->refs, 1);
    CHECK_EQ_INT(one->refs, 1);
    frame_unref(half);
    frame_unref(one);
}

TEST(queue_order)
{
    struct session s;
    session_init(&s, 1, NULL, 0);
    struct frame *f[5];
    for (int i = 0; i < 5; i++) {
        char c = (char)('a' + i);
        f[i] = frame_new(&c, 1);
        session_enqueue(&s, f[i]);
    }
    for (int i = 0; i < 5; i++) {
        struct frame *g = session_dequeue(&s);
        CHECK(g == f[i]);
        frame_unref(g);
        frame_unref(f[i]);
    }
    CHECK_EQ_INT(s.q_bytes, 0);
    session_deinit(&s);
}

static int burst(struct session *s, int64_t now_ms)
{
    int n = 0;
    while (n < 1000 && session_rate_ok(s, now_ms))
        n++;
    return n;
}

TEST(rate_token_bucket)
{
    struct session s;
    session_init(&s, 1, NULL, 5000);
    CHECK_EQ_INT(burst(&s, 5000), SESSION_RATE_BURST);
    /* 20 per second: one token every 50 ms. */
    CHECK(!session_rate_ok(&s, 5049));
    CHECK(session_rate_ok(&s, 5050));
    CHECK(!session_rate_ok(&s, 5050));
    CHECK_EQ_INT(burst(&s, 6050), SESSION_RATE_PER_S);
    /* A long idle refills to the burst, not beyond. */
    CHECK_EQ_INT(burst(&s, 6050 + 3600 * 1000), SESSION_RATE_BURST);
    /* Sustained: one message per 50 ms goes on for ever. */
    int64_t t = 6050 + 3600 * 1000;
    int refused = 0;
    for (int i = 1; i <= 1000; i++)
        refused += !session_rate_ok(&s, t + i * 50);
    CHECK_EQ_INT(refused, 0);
    session_deinit(&s);
}

TEST(error_window)
{
    struct session s;
    session_init(&s, 1, NULL, 0);
    int over = 0;
    for (int i = 0; i < SESSION_MAX_ERRORS; i++)
        over += session_count_error(&s, i * 100);
    CHECK_EQ_INT(over, 0);
    CHECK(session_count_error(&s, SESSION_ERROR_WINDOW_MS)); /* still the same window */
    session_deinit(&s);

    session_init(&s, 2, NULL, 0);
    for (int i = 0; i < SESSION_MAX_ERRORS; i++)
        session_count_error(&s, 0);
    /* A new window starts once the old one is over: the count starts again. */
    CHECK(!session_count_error(&s, SESSION_ERROR_WINDOW_MS + 1));
    CHECK_EQ_INT(s.errors, 1);
    over = 0;
    for (int i = 1; i < SESSION_MAX_ERRORS; i++)
        over += session_count_error(&s, SESSION_ERROR_WINDOW_MS + 2);
    CHECK_EQ_INT(over, 0);
    CHECK(session_count_error(&s, SESSION_ERROR_WINDOW_MS + 3));
    session_deinit(&s);
}

TEST(mark_close_first_code_wins)
{
    struct session s;
    session_init(&s, 1, NULL, 0);
    session_mark_close(&s, 4001, "too slow");
    session_mark_close(&s, 4003, "too many errors");
    CHECK_EQ_INT(s.close_code, 4001);
    CHECK_EQ_STR(s.close_reason, "too slow");
    session_deinit(&s);

    session_init(&s, 2, NULL, 0);
    char longer[200];
    memset(longer, 'r', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    session_mark_close(&s, 4003, longer);
    CHECK_EQ_INT(strlen(s.close_reason), sizeof s.close_reason - 1); /* cut, terminated */
    session_deinit(&s);
}

TEST(idle_list_oldest_first)
{
    struct session a, b, c;
    int conn;
    session_init(&a, 1, &conn, 0);
    session_init(&b, 2, &conn, 0);
    session_init(&c, 3, &conn, 0);
    struct session_list l = {NULL, NULL, SESSION_LIST_IDLE};
    CHECK(idle_oldest(&l, 100000, 0) == NULL);
    idle_touch(&l, &a, 1000);
    idle_touch(&l, &b, 2000);
    idle_touch(&l, &c, 3000);
    CHECK(idle_oldest(&l, 30999, 30000) == NULL); /* a: silent 29.999 s */
    CHECK(idle_oldest(&l, 31000, 30000) == &a);
    idle_touch(&l, &a, 31000); /* heard from: to the tail */
    CHECK(idle_oldest(&l, 32000, 30000) == &b);
    slist_remove(&l, &b);
    slist_remove(&l, &b); /* not in the list any more: nothing */
    CHECK(idle_oldest(&l, 33000, 30000) == &c);
    slist_remove(&l, &c);
    CHECK(l.head == &a && l.tail == &a && !a.links[SESSION_LIST_IDLE].prev &&
          !a.links[SESSION_LIST_IDLE].next);
    CHECK(idle_oldest(&l, 60999, 30000) == NULL);
    CHECK(idle_oldest(&l, 61000, 30000) == &a);
    slist_remove(&l, &a);
    CHECK(l.head == NULL && l.tail == NULL);
    session_deinit(&a);
    session_deinit(&b);
    session_deinit(&c);
}

/* Two lists through one session's two sets of links: each keeps its own order, a removal from
 * one leaves the other alone, an append of a member is a no-op, pop takes the head. */
TEST(lists_apart)
{
    struct session a, b, c;
    int conn;
    session_init(&a, 1, &conn, 0);
    session_init(&b, 2, &conn, 0);
    session_init(&c, 3, &conn, 0);
    struct session_list idle = {NULL, NULL, SESSION_LIST_IDLE};
    struct session_list push = {NULL, NULL, SESSION_LIST_PUSH};
    CHECK(slist_pop(&push) == NULL);
    idle_touch(&idle, &a, 1);
    idle_touch(&idle, &b, 2);
    idle_touch(&idle, &c, 3);
    slist_append(&push, &c);
    slist_append(&push, &a);
    slist_append(&push, &c); /* already in: stays second to last */
    slist_append(&push, &b);
    CHECK(slist_contains(&push, &a) && slist_contains(&push, &b) && slist_contains(&push, &c));
    slist_remove(&push, &a); /* from the middle */
    CHECK(!slist_contains(&push, &a) && slist_contains(&idle, &a));
    CHECK(idle.head == &a && idle.tail == &c);
    CHECK(slist_pop(&push) == &c);
    CHECK(!slist_contains(&push, &c) && push.head == &b && push.tail == &b);
    slist_append(&push, &a);
    CHECK(slist_pop(&push) == &b);
    CHECK(slist_pop(&push) == &a);
    CHECK(slist_pop(&push) == NULL && push.head == NULL && push.tail == NULL);
    slist_prepend(&push, &a); /* into an empty list */
    slist_prepend(&push, &b);
    slist_append(&push, &c);
    slist_prepend(&push, &c); /* already in: stays last */
    CHECK(push.head == &b && push.tail == &c);
    CHECK(slist_pop(&push) == &b && slist_pop(&push) == &a && slist_pop(&push) == &c);
    CHECK(push.head == NULL && push.tail == NULL);
    CHECK(idle.head == &a && idle.head->links[SESSION_LIST_IDLE].next == &b && idle.tail == &c);
    session_deinit(&a);
    session_deinit(&b);
    session_deinit(&c);
}

int main(void)
{
    RUN(init);
    RUN(queue_bound_by_frames);
    RUN(queue_bound_by_bytes);
    RUN(queue_order);
    RUN(rate_token_bucket);
    RUN(error_window);
    RUN(mark_close_first_code_wins);
    RUN(idle_list_oldest_first);
    RUN(lists_apart);
    return test_done();
}
