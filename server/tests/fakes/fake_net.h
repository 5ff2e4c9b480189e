/* SPDX-License-Identifier: MIT
 * fake_net.h - a link-time stand-in for net.c: the functions of net.h that the glue calls, no lws.
 * It records what was asked (writes wanted, closes, HTTP replies, wakes) and serves a fake clock
 * that only the test moves. One fake net at a time.
 */
#ifndef COJAM_FAKE_NET_H
#define COJAM_FAKE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net.h"
#include "period.h"

struct fake_reply {
    uint64_t id;
    int status;
    char *body; /* owned */
};

#define FAKE_NET_PUSHED 16

struct net {
    size_t clients;       /* net_clients */
    unsigned wakes;       /* net_wake calls */
    unsigned want_writes; /* net_want_write calls, any session */
    unsigned closes;      /* net_close calls, any session */
    struct session *last_closed;
    struct fake_reply *replies; /* owned: every net_http_reply, in order */
    size_t n_replies;
    int64_t last_retry_ms; /* of the last net_http_reply_429 */
    bool draining;         /* net_is_draining (the test sets it, as net_drain would) */
    bool pushing;          /* net_pushing (the test sets it: pushed frames still to write) */
    bool stopped;          /* net_stop was called */
    struct session *pushed[FAKE_NET_PUSHED]; /* net_push's list in the order it would be written
                                                (the test empties it: n_pushed = 0) */
    size_t n_pushed;
    struct period_sample load; /* what net_loop_sample hands out next (then zeroed) */
};

/* A fresh fake net; the clock starts at monotonic 1,000,000 ms and wall 1,700,000,000,000 ms. */
struct net *fake_net_new(void);
void fake_net_free(struct net *n);
/* Move both clocks forward by 'ms'. */
void fake_net_advance(int64_t ms);
/* The last HTTP reply, or NULL. */
const struct fake_reply *fake_net_last_reply(const struct net *n);

#endif
