/* SPDX-License-Identifier: MIT
 * test_pending.c - the table of requests waiting for the store: fresh ctxs, completion exactly
 * once, unknown ctxs, and the release of what never completed.
 */
#include <stdlib.h>

#include "fakes/glue.h"
#include "now.h"
#include "pending.h"
#include "store.h"
#include "test.h"

TEST(ctx_is_never_zero_nor_reused)
{
    struct pending_table t;
    pending_table_init(&t);
    uint64_t prev = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t ctx = pending_next_ctx(&t);
        CHECK(ctx != 0);
        CHECK(ctx > prev); /* increasing, hence never reused */
        prev = ctx;
    }
    pending_table_deinit(&t);
}

TEST(complete_calls_done_once)
{
    struct pending_table t;
    pending_table_init(&t);
    int done = 0, freed = 0, arg = 0;
    uint64_t ctx = pending_next_ctx(&t);
    pending_add(&t, ctx, glue_probe_new(&done, &freed));
    CHECK_EQ_INT(pending_count(&t), 1);
    struct store_result res = {.kind = STORE_APPENDED, .ctx = ctx};
    struct now now = {1, 2};
    pending_complete(&t, &res, &now, &arg);
    pending_complete(&t, &res, &now, &arg); /* a second answer to the same ctx: nobody waits */
    CHECK_EQ_INT(done, 1);
    CHECK_EQ_INT(freed, 0);
    CHECK_EQ_INT(pending_count(&t), 0);
    pending_table_deinit(&t);
}

TEST(complete_reaches_the_request_of_its_ctx)
{
    struct pending_table t;
    pending_table_init(&t);
    int done_a = 0, done_b = 0, freed = 0;
    uint64_t a = pending_next_ctx(&t), b = pending_next_ctx(&t);
    pending_add(&t, a, glue_probe_new(&done_a, &freed));
    pending_add(&t, b, glue_probe_new(&done_b, &freed));
    struct store_result res = {.kind = STORE_APPENDED, .ctx = b};
    struct now now = {0, 0};
    pending_complete(&t, &res, &now, NULL);
    CHECK_EQ_INT(done_a, 0);
    CHECK_EQ_INT(done_b, 1);
    CHECK_EQ_INT(pending_count(&t), 1);
    pending_table_deinit(&t);
    CHECK_EQ_INT(freed, 1); /* 'a' never completed: released */
}

TEST(take_and_complete_of_an_unknown_ctx)
{
    struct pending_table t;
    pending_table_init(&t);
    int done = 0, freed = 0;
    uint64_t ctx = pending_next_ctx(&t);
    pending_add(&t, ctx, glue_probe_new(&done, &freed));
    CHECK(pending_take(&t, ctx + 1) == NULL);
    CHECK(pending_take(&t, 0) == NULL);
    struct store_result res = {.kind = STORE_APPENDED, .ctx = ctx + 7};
    struct now now = {0, 0};
    pending_complete(&t, &res, &now, NULL);
    CHECK_EQ_INT(done, 0);
    CHECK_EQ_INT(pending_count(&t), 1);
    struct pending *p = pending_take(&t, ctx);
    CHECK(p != NULL);
    CHECK(pending_take(&t, ctx) == NULL); /* taken once */
    CHECK_EQ_INT(pending_count(&t), 0);
    if (p)
        p->free(p);
    CHECK_EQ_INT(freed, 1);
    pending_table_deinit(&t);
}

TEST(deinit_frees_every_waiting_request)
{
    struct pending_table t;
    pending_table_init(&t);
    int done = 0, freed = 0;
    for (int i = 0; i < 100; i++)
        pending_add(&t, pending_next_ctx(&t), glue_probe_new(&done, &freed));
    pending_table_deinit(&t);
    CHECK_EQ_INT(freed, 100);
    CHECK_EQ_INT(done, 0);
}

int main(void)
{
    RUN(ctx_is_never_zero_nor_reused);
    RUN(complete_calls_done_once);
    RUN(complete_reaches_the_request_of_its_ctx);
    RUN(take_and_complete_of_an_unknown_ctx);
    RUN(deinit_frees_every_waiting_request);
    return test_done();
}
