/* SPDX-License-Identifier: MIT
 * pending.h - the requests waiting for the store, by the ctx their result will carry. Each request
 * completes itself: the module that made one embeds 'struct pending' first in its own struct and
 * sets 'done' (and 'free'), so this table knows no kind of request. Pure; loop thread only.
 */
#ifndef COJAM_PENDING_H
#define COJAM_PENDING_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"

struct now;
struct pending;
struct store_result;

/* The store answered at 'now': 'res' is borrowed for the call. The callee frees 'p'. */
typedef void pending_done_cb(struct pending *p, const struct store_result *res,
                             const struct now *now, void *arg);
/* Release a request that will never complete (shutdown). */
typedef void pending_free_cb(struct pending *p);

struct pending {
    pending_done_cb *done;
    pending_free_cb *free;
};

struct pending_table {
    struct imap by_ctx; /* ctx -> struct pending * (owned) */
    uint64_t next_ctx;
};

void pending_table_init(struct pending_table *t);
/* Free every request still waiting (p->free). */
void pending_table_deinit(struct pending_table *t);
/* The ctx to hand the store for the next request: never 0, never reused. */
uint64_t pending_next_ctx(struct pending_table *t);
/* Track 'p' under 'ctx' (from pending_next_ctx). Takes ownership of 'p'. */
void pending_add(struct pending_table *t, uint64_t ctx, struct pending *p);
/* Remove and return the request for 'ctx' (the caller owns it), or NULL. */
struct pending *pending_take(struct pending_table *t, uint64_t ctx);
/* Complete the request that 'res' answers (res->ctx), if it is still waiting. */
void pending_complete(struct pending_table *t, const struct store_result *res,
                      const struct now *now, void *arg);
size_t pending_count(const struct pending_table *t);

#endif
