/* SPDX-License-Identifier: MIT
 * pending.c - the table of pending.h, an imap from ctx to request.
 */
#include "pending.h"

#include "store.h"

void pending_table_init(struct pending_table *t)
{
    imap_init(&t->by_ctx);
    t->next_ctx = 0;
}

void pending_table_deinit(struct pending_table *t)
{
    uint64_t ctx, v;
    for (size_t pos = 0; imap_next(&t->by_ctx, &pos, &ctx, &v);) {
        struct pending *p = (struct pending *)(uintptr_t)v;
        p->free(p);
    }
    imap_deinit(&t->by_ctx);
}

uint64_t pending_next_ctx(struct pending_table *t)
{
    return ++t->next_ctx;
}

void pending_add(struct pending_table *t, uint64_t ctx, struct pending *p)
{
    imap_put(&t->by_ctx, ctx, (uint64_t)(uintptr_t)p);
}

struct pending *pending_take(struct pending_table *t, uint64_t ctx)
{
    uint64_t v;
    if (!imap_get(&t->by_ctx, ctx, &v))
        return NULL;
    imap_del(&t->by_ctx, ctx);
    return (struct pending *)(uintptr_t)v;
}

void pending_complete(struct pending_table *t, const struct store_result *res,
                      const struct now *now, void *arg)
{
    struct pending *p = pending_take(t, res->ctx);
    if (p)
        p->done(p, res, now, arg);
}

size_t pending_count(const struct pending_table *t)
{
    return t->by_ctx.used;
}
