/* SPDX-License-Identifier: MIT
 * fifo.c - the growable ring of fifo.h.
 */
#include "fifo.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"

#define FIFO_MIN_CAP 4

void fifo_deinit(struct fifo *q)
{
    free(q->slots);
    memset(q, 0, sizeof *q);
}

void fifo_push(struct fifo *q, void *p)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : FIFO_MIN_CAP;
        void **slots = xmalloc(cap * sizeof *slots);
        for (size_t i = 0; i < q->len; i++)
            slots[i] = q->slots[(q->head + i) % q->cap];
        free(q->slots);
        q->slots = slots;
        q->cap = cap;
        q->head = 0;
    }
    q->slots[(q->head + q->len++) % q->cap] = p;
}

void *fifo_pop(struct fifo *q)
{
    if (!q->len)
        return NULL;
    void *p = q->slots[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    return p;
}
