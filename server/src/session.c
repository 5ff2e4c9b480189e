/* SPDX-License-Identifier: MIT
 * session.c - the per-connection bookkeeping of session.h. Bounded everywhere: the private queue
 * by frames and bytes, the rate by a token bucket, errors by a window.
 */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "frame.h"

void session_init(struct session *s, uint64_t id, void *conn, int64_t now_ms)
{
    memset(s, 0, sizeof *s);
    s->id = id;
    s->conn = conn;
    s->opened_ms = now_ms;
    s->tokens = SESSION_RATE_BURST;
    s->tokens_ms = now_ms;
    s->errors_window_ms = now_ms;
    s->resync_window_ms = now_ms;
    s->sock = SESSION_SOCK_LIBRARY;
}

void session_deinit(struct session *s)
{
    struct frame *f;
    while ((f = session_dequeue(s)))
        frame_unref(f);
    fifo_deinit(&s->queue);
    while ((f = fifo_pop(&s->parts)))
        frame_unref(f);
    fifo_deinit(&s->parts);
    free(s->rx);
    s->rx = NULL;
    s->rx_len = s->rx_cap = 0;
}

int session_enqueue(struct session *s, struct frame *f)
{
    if (fifo_len(&s->queue) == SESSION_QUEUE_FRAMES || s->q_bytes + f->len > SESSION_QUEUE_BYTES)
        return -ENOBUFS;
    fifo_push(&s->queue, frame_ref(f));
    s->q_bytes += f->len;
    return 0;
}

struct frame *session_dequeue(struct session *s)
{
    struct frame *f = fifo_pop(&s->queue);
    if (f)
        s->q_bytes -= f->len;
    return f;
}

bool session_rate_ok(struct session *s, int64_t now_ms)
{
    s->tokens += (double)(now_ms - s->tokens_ms) * SESSION_RATE_PER_S / 1000.0;
    s->tokens_ms = now_ms;
    if (s->tokens > SESSION_RATE_BURST)
        s->tokens = SESSION_RATE_BURST;
    if (s->tokens < 1.0)
        return false;
    s->tokens -= 1.0;
    return true;
}

bool session_count_error(struct session *s, int64_t now_ms)
{
    if (now_ms - s->errors_window_ms > SESSION_ERROR_WINDOW_MS) {
        s->errors_window_ms = now_ms;
        s->errors = 0;
    }
    return ++s->errors > SESSION_MAX_ERRORS;
}

void session_mark_close_drained(struct session *s, int code, const char *reason)
{
    if (s->close_code || s->drain_code)
        return;
    s->drain_code = code;
    snprintf(s->close_reason, sizeof s->close_reason, "%s", reason);
}

void session_mark_close(struct session *s, int code, const char *reason)
{
    if (s->close_code)
        return;
    s->close_code = code;
    snprintf(s->close_reason, sizeof s->close_reason, "%s", reason);
}

bool slist_contains(const struct session_list *l, const struct session *s)
{
    return s->links[l->kind].prev || l->head == s;
}

void slist_remove(struct session_list *l, struct session *s)
{
    struct session_link *k = &s->links[l->kind];
    if (!slist_contains(l, s))
        return;
    if (k->prev)
        k->prev->links[l->kind].next = k->next;
    else
        l->head = k->next;
    if (k->next)
        k->next->links[l->kind].prev = k->prev;
    else
        l->tail = k->prev;
    k->prev = k->next = NULL;
}

void slist_append(struct session_list *l, struct session *s)
{
    if (slist_contains(l, s))
        return;
    s->links[l->kind].prev = l->tail;
    if (l->tail)
        l->tail->links[l->kind].next = s;
    else
        l->head = s;
    l->tail = s;
}

void slist_prepend(struct session_list *l, struct session *s)
{
    if (slist_contains(l, s))
        return;
    s->links[l->kind].next = l->head;
    if (l->head)
        l->head->links[l->kind].prev = s;
    else
        l->tail = s;
    l->head = s;
}

struct session *slist_pop(struct session_list *l)
{
    struct session *s = l->head;
    if (s)
        slist_remove(l, s);
    return s;
}

void idle_touch(struct session_list *l, struct session *s, int64_t now_ms)
{
    slist_remove(l, s);
    s->idle_ms = now_ms;
    slist_append(l, s);
}

struct session *idle_oldest(const struct session_list *l, int64_t now_ms, int64_t quiet_ms)
{
    return l->head && now_ms - l->head->idle_ms >= quiet_ms ? l->head : NULL;
}
