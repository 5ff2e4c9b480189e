/* SPDX-License-Identifier: MIT
 * test_fifo.c - the growable pointer FIFO: order, empty pops, growth while the ring has wrapped
 * around, and a long random run against a plain array.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fifo.h"
#include "test.h"

static void *P(uintptr_t i)
{
    return (void *)(i + 1); /* never NULL: NULL means empty */
}

TEST(order_and_empty)
{
    struct fifo q = {0};
    CHECK(fifo_pop(&q) == NULL);
    CHECK_EQ_INT(fifo_len(&q), 0);
    for (uintptr_t i = 0; i < 10; i++)
        fifo_push(&q, P(i));
    CHECK_EQ_INT(fifo_len(&q), 10);
    for (uintptr_t i = 0; i < 10; i++)
        CHECK(fifo_pop(&q) == P(i));
    CHECK(fifo_pop(&q) == NULL);
    CHECK_EQ_INT(fifo_len(&q), 0);
    fifo_deinit(&q);
    CHECK(q.slots == NULL && q.cap == 0);
}

TEST(growth_with_wrap_around)
{
    struct fifo q = {0};
    for (uintptr_t i = 0; i < 4; i++)
        fifo_push(&q, P(i));
    CHECK(fifo_pop(&q) == P(0));
    CHECK(fifo_pop(&q) == P(1));
    fifo_push(&q, P(4));
    fifo_push(&q, P(5)); /* the ring is full and wrapped: head at 2 */
    CHECK_EQ_INT(q.cap, 4);
    CHECK(q.head != 0);
    fifo_push(&q, P(6)); /* grows: the oldest must come out first still */
    CHECK(q.cap > 4);
    for (uintptr_t i = 2; i <= 6; i++)
        CHECK(fifo_pop(&q) == P(i));
    CHECK(fifo_pop(&q) == NULL);
    fifo_deinit(&q);
}

TEST(random_run_matches_an_array)
{
    struct fifo q = {0};
    enum { OPS = 100000 };
    uintptr_t *ref = malloc(OPS * sizeof *ref);
    size_t head = 0, tail = 0, bad = 0;
    uintptr_t next = 0;
    unsigned seed = 12345;
    for (int i = 0; i < OPS; i++) {
        seed = seed * 1103515245u + 12345u;
        if ((seed >> 16) % 5 < 3) { /* pushes outweigh pops, so the ring grows while wrapped */
            fifo_push(&q, P(next));
            ref[tail++] = next++;
        } else {
            void *p = fifo_pop(&q);
            if (head == tail ? p != NULL : p != P(ref[head++]))
                bad++;
        }
        if (fifo_len(&q) != tail - head)
            bad++;
    }
    while (head < tail)
        if (fifo_pop(&q) != P(ref[head++]))
            bad++;
    CHECK_EQ_INT(bad, 0);
    CHECK(fifo_pop(&q) == NULL);
    free(ref);
    fifo_deinit(&q);
}

int main(void)
{
    RUN(order_and_empty);
    RUN(growth_with_wrap_around);
    RUN(random_run_matches_an_array);
    return test_done();
}
