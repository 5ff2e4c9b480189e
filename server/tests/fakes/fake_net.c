/* SPDX-License-Identifier: MIT
 * fake_net.c - net.h's loop-thread functions for the unit tests of the glue (see fake_net.h).
 */
#include "fakes/fake_net.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"

static struct net *current; /* net_want_write and net_close name no net */
static int64_t clock_ms, clock_wall_ms;

struct net *fake_net_new(void)
{
    current = xcalloc(1, sizeof *current);
    clock_ms = 1000000;
    clock_wall_ms = 1700000000000;
    return current;
}

void fake_net_free(struct net *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n_replies; i++)
        free(n->replies[i].body);
    free(n->replies);
    if (current == n)
        current = NULL;
    free(n);
}

void fake_net_advance(int64_t ms)
{
    clock_ms += ms;
    clock_wall_ms += ms;
}

const struct fake_reply *fake_net_last_reply(const struct net *n)
{
    return n->n_replies ? &n->replies[n->n_replies - 1] : NULL;
}

void net_wake(struct net *n)
{
    n->wakes++;
}

void net_want_write(struct session *s)
{
    (void)s;
    if (current)
        current->want_writes++;
}

void net_push(struct session *s, bool first)
{
    net_want_write(s); /* the fake has no socket: the frame waits for the test's WRITEABLE */
    if (!current || current->n_pushed == FAKE_NET_PUSHED)
        return;
    size_t at = first ? 0 : current->n_pushed;
    memmove(&current->pushed[at + 1], &current->pushed[at],
            (current->n_pushed - at) * sizeof current->pushed[0]);
    current->pushed[at] = s;
    current->n_pushed++;
}

void net_close(struct session *s)
{
    if (current) {
        current->closes++;
        current->last_closed = s;
    }
}

void net_http_reply(struct net *n, uint64_t req_id, int status, char *body)
{
    n->replies = xrealloc(n->replies, (n->n_replies + 1) * sizeof *n->replies);
    n->replies[n->n_replies++] = (struct fake_reply){req_id, status, body};
}

void net_http_reply_as(struct net *n, uint64_t req_id, int status, const char *type, char *body)
{
    (void)type;
    net_http_reply(n, req_id, status, body);
}

void net_http_reply_429(struct net *n, uint64_t req_id, int64_t retry_ms, char *body)
{
    n->last_retry_ms = retry_ms;
    net_http_reply(n, req_id, 429, body);
}

int64_t net_now_ms(void)
{
    return clock_ms;
}

int64_t net_wall_ms(void)
{
    return clock_wall_ms;
}

size_t net_clients(const struct net *n)
{
    return n->clients;
}

uint64_t net_partial_writes(const struct net *n)
{
    (void)n;
    return 0; /* the fake writes every frame whole */
}

bool net_pushing(const struct net *n)
{
    return n->pushing;
}

bool net_is_draining(const struct net *n)
{
    return n->draining;
}

void net_stop(struct net *n)
{
    n->stopped = true;
}

void net_loop_sample(struct net *n, int64_t now_ms, struct period_sample *out)
{
    (void)now_ms;
    *out = n->load;
    memset(&n->load, 0, sizeof n->load);
}
