/* SPDX-License-Identifier: MIT
 * test_admission.c - token buckets per address with an explicit clock: the burst, the refill
 * rate, the wait it reports, addresses kept apart, failures charged after the fact, the sweep,
 * and the shared bucket once the table is full.
 */
#include "admission.h"
#include "test.h"

TEST(burst_then_rate)
{
    struct admission a;
    admission_init(&a, 2.0, 5, 100); /* 2/s, bursts of 5 */
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(admission_take(&a, 7, 1000), 0);
    CHECK_EQ_INT(admission_take(&a, 7, 1000), 500); /* the next token in half a second */
    CHECK_EQ_INT(admission_take(&a, 7, 1499), 1);
    CHECK_EQ_INT(admission_take(&a, 7, 1500), 0);
    CHECK(admission_take(&a, 7, 1500) > 0);
    /* Over 10 s at most 5 + 2 * 10 are admitted, however fast it asks. */
    int admitted = 0;
    for (int64_t t = 2000; t < 12000; t += 10)
        admitted += admission_take(&a, 9, t) == 0;
    CHECK_EQ_INT(admitted, 5 + 20 - 1);
    admission_deinit(&a);
}

TEST(addresses_are_apart)
{
    struct admission a;
    admission_init(&a, 1.0, 2, 100);
    CHECK_EQ_INT(admission_take(&a, 1, 0), 0);
    CHECK_EQ_INT(admission_take(&a, 1, 0), 0);
    CHECK(admission_take(&a, 1, 0) > 0);
    CHECK_EQ_INT(admission_take(&a, 2, 0), 0);
    CHECK_EQ_INT(admission_wait_ms(&a, 3, 0), 0);
    admission_deinit(&a);
}

TEST(failures_charged_after_the_fact)
{
    struct admission a;
    admission_init(&a, 1.0, 3, 100);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(admission_wait_ms(&a, 5, 0), 0);
        admission_charge(&a, 5, 0);
    }
    CHECK_EQ_INT(admission_wait_ms(&a, 5, 0), 1000);
    admission_charge(&a, 5, 0); /* charging goes on: a guesser who keeps trying waits longer */
    CHECK_EQ_INT(admission_wait_ms(&a, 5, 0), 2000);
    CHECK_EQ_INT(admission_wait_ms(&a, 5, 2000), 0);
    admission_deinit(&a);
}

TEST(sweep_forgets_full_buckets)
{
    struct admission a;
    admission_init(&a, 10.0, 10, 100);
    for (uint64_t k = 1; k <= 50; k++)
        admission_take(&a, k, 0);
    admission_take(&a, 99, 5000);
    CHECK_EQ_INT(admission_keys(&a), 51);
    admission_sweep(&a, 5000);
    CHECK_EQ_INT(admission_keys(&a), 1);
    CHECK_EQ_INT(admission_wait_ms(&a, 1, 5000), 0);
    admission_deinit(&a);
}

TEST(a_full_table_shares_one_bucket)
{
    struct admission a;
    admission_init(&a, 1.0, 2, 3);
    for (uint64_t k = 1; k <= 3; k++)
        CHECK_EQ_INT(admission_take(&a, k, 0), 0);
    /* The table is full of live buckets: new addresses share key 0's bucket, so a spray of
     * addresses gets one bucket between them instead of growing the table. */
    CHECK_EQ_INT(admission_take(&a, 100, 0), 0);
    CHECK_EQ_INT(admission_take(&a, 101, 0), 0);
    CHECK(admission_take(&a, 102, 0) > 0);
    CHECK_EQ_INT(admission_keys(&a), 4);
    /* Once the old buckets are full again they are swept to make room. */
    CHECK_EQ_INT(admission_take(&a, 200, 10000), 0);
    CHECK(admission_keys(&a) <= 3);
    admission_deinit(&a);
}

int main(void)
{
    RUN(burst_then_rate);
    RUN(addresses_are_apart);
    RUN(failures_charged_after_the_fact);
    RUN(sweep_forgets_full_buckets);
    RUN(a_full_table_shares_one_bucket);
    return test_done();
}
