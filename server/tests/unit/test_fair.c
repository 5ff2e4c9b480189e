/* SPDX-License-Identifier: MIT
 * test_fair.c - unit tests for fair.c: the Wilson score's shape, discover's spreading and
 * skipping, hide/unhide, and the fair order against the counts.
 */
#include "fair.h"
#include "test.h"

#include <errno.h>
#include <stdlib.h>

TEST(wilson_shape)
{
    CHECK_EQ_INT(fair_wilson(0, 0), 0);
    CHECK_EQ_INT(fair_wilson(0, 50), 0);
    /* The same rate with more evidence scores higher; a better rate on the same evidence too. */
    CHECK(fair_wilson(5, 10) < fair_wilson(50, 100));
    CHECK(fair_wilson(5, 10) < fair_wilson(6, 10));
    /* One vote out of one showing is not yet better than 60 out of 100. */
    CHECK(fair_wilson(1, 1) < fair_wilson(60, 100));
    /* Votes beyond the showings count as trials (votes from other views). */
    CHECK_EQ_INT(fair_wilson(9, 3), fair_wilson(9, 9));
    CHECK(fair_wilson(UINT32_MAX, UINT32_MAX) <= 1000000);
    /* Known value: 50 of 100 -> 0.4038 (Wilson lower bound, z = 1.96). */
    CHECK(fair_wilson(50, 100) >= 403700 && fair_wilson(50, 100) <= 403900);
}

TEST(pick_spreads_new_items)
{
    struct fair *f = fair_new(1);
    for (uint32_t id = 1; id <= 30; id++)
        CHECK_EQ_INT(fair_add(f, id, 0, 0), 0);
    /* 40 viewers, 3 items each, each showing counted: every item is shown 4 times, none 5. */
    for (int v = 0; v < 40; v++) {
        uint32_t out[3];
        CHECK_EQ_INT(fair_pick(f, 3, NULL, NULL, out), 3);
        for (int i = 0; i < 3; i++)
            fair_expose(f, out[i], 1);
    }
    for (uint32_t id = 1; id <= 30; id++)
        CHECK_EQ_INT(fair_shown(f, id), 4);
    /* A new item goes first, and the older of two equally shown items before the newer. */
    fair_add(f, 31, 0, 0);
    uint32_t out[2];
    CHECK_EQ_INT(fair_pick(f, 2, NULL, NULL, out), 2);
    CHECK_EQ_INT(out[0], 31);
    CHECK_EQ_INT(out[1], 1);
    fair_free(f);
    fair_free(NULL);
}

static bool skip_even(uint32_t id, void *ctx)
{
    (*(int *)ctx)++;
    return id % 2 == 0;
}

TEST(pick_skips_and_is_bounded)
{
    struct fair *f = fair_new(2);
    for (uint32_t id = 1; id <= 2000; id++)
        fair_add(f, id, 0, 0);
    uint32_t out[5];
    int asked = 0;
    CHECK_EQ_INT(fair_pick(f, 5, skip_even, &asked, out), 5);
    CHECK_EQ_INT(out[0], 1);
    CHECK_EQ_INT(out[4], 9);
    /* Nothing passes the filter: the scan stops at FAIR_SCAN_MAX candidates, not at 2000. */
    asked = 0;
    uint32_t none[1];
    for (uint32_t id = 1; id <= 2000; id += 2)
        fair_remove(f, id);
    CHECK_EQ_INT(fair_pick(f, 1, skip_even, &asked, none), 0);
    CHECK_EQ_INT(asked, FAIR_SCAN_MAX);
    fair_free(f);
}

TEST(hide_keeps_counts_and_unhide_restores)
{
    struct fair *f = fair_new(3);
    fair_add(f, 1, 0, 0);
    fair_add(f, 2, 0, 0);
    fair_expose(f, 1, 7);
    fair_set_votes(f, 1, 3);
    CHECK_EQ_INT(fair_remove(f, 1), 0);
    CHECK_EQ_INT(fair_remove(f, 1), -ENOENT);
    CHECK_EQ_INT(fair_expose(f, 1, 1), -ENOENT);
    CHECK_EQ_INT(fair_set_votes(f, 1, 4), -ENOENT);
    CHECK_EQ_INT(fair_count(f), 1);
    CHECK_EQ_INT(fair_shown(f, 1), 7);
    CHECK_EQ_INT(fair_score(f, 1), 0);
    CHECK_EQ_INT(fair_add(f, 1, 3, fair_shown(f, 1)), 0);
    CHECK_EQ_INT(fair_add(f, 1, 3, 7), -EEXIST);
    CHECK_EQ_INT(fair_add(f, 0, 0, 0), -EINVAL);
    CHECK_EQ_INT(fair_score(f, 1), fair_wilson(3, 7));
    fair_free(f);
}

TEST(fair_top_follows_the_score)
{
    struct fair *f = fair_new(4);
    /* id 1: 10 of 100 (the early leader by raw votes), id 2: 8 of 10, id 3: 1 of 1, id 4: none. */
    for (uint32_t id = 1; id <= 4; id++)
        fair_add(f, id, 0, 0);
    fair_expose(f, 1, 100);
    fair_set_votes(f, 1, 10);
    fair_expose(f, 2, 10);
    fair_set_votes(f, 2, 8);
    fair_expose(f, 3, 1);
    fair_set_votes(f, 3, 1);
    uint32_t out[4];
    CHECK_EQ_INT(fair_top(f, 4, out), 4);
    CHECK_EQ_INT(out[0], 2);
    CHECK_EQ_INT(out[1], 3);
    CHECK_EQ_INT(out[2], 1);
    CHECK_EQ_INT(out[3], 4);
    fair_free(f);
}

int main(void)
{
    RUN(wilson_shape);
    RUN(pick_spreads_new_items);
    RUN(pick_skips_and_is_bounded);
    RUN(hide_keeps_counts_and_unhide_restores);
    RUN(fair_top_follows_the_score);
    return test_done();
}
