/* SPDX-License-Identifier: MIT
 * fifo.h - a first-in first-out queue of pointers in a ring that grows on demand (doubling, the
 * oldest entry moved to the front). The bound, if any, is the owner's: a session's private frame
 * queue, the page reads waiting for a read slot. Pure.
 */
#ifndef COJAM_FIFO_H
#define COJAM_FIFO_H

#include <stddef.h>

struct fifo {
    void **slots; /* owned array; the pointers are the owner's */
    size_t head, len, cap;
};

/* A zeroed struct fifo is an empty queue. */
void fifo_deinit(struct fifo *q);
void fifo_push(struct fifo *q, void *p);
/* The oldest entry, removed, or NULL when empty. */
void *fifo_pop(struct fifo *q);
static inline size_t fifo_len(const struct fifo *q)
{
    return q->len;
}

#endif
