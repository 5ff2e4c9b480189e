/* SPDX-License-Identifier: MIT
 * test_rank.c - unit tests for rank.c through its public API: ordering and ties, updates, errors,
 * and a seeded random walk checked op by op against a naive array model.
 */
#include "rank.h"
#include "test.h"

#include <errno.h>
#include <stdlib.h>

/* Checks that rank_top over everything and rank_of agree with each other and with the count. */
static int is_consistent(const struct rank *r)
{
    size_t n = rank_count(r);
    uint32_t *ids = malloc((n + 1) * sizeof(*ids));
    int ok = rank_top(r, n + 1, ids) == n;
    for (size_t i = 0; ok && i < n; i++) {
        ok = rank_of(r, ids[i]) == (int64_t)i;
        if (ok && i > 0) {
            int64_t a = rank_score(r, ids[i - 1]), b = rank_score(r, ids[i]);
            ok = a > b || (a == b && ids[i - 1] < ids[i]);
        }
    }
    free(ids);
    return ok;
}

TEST(empty_index)
{
    struct rank *r = rank_new(1);
    uint32_t out[4];
    CHECK_EQ_INT(rank_count(r), 0);
    CHECK_EQ_INT(rank_top(r, 4, out), 0);
    CHECK_EQ_INT(rank_of(r, 1), -1);
    CHECK(!rank_has(r, 1));
    CHECK_EQ_INT(rank_score(r, 1), 0);
    CHECK_EQ_INT(rank_top(r, 0, out), 0);
    rank_free(r);
    rank_free(NULL);
}

TEST(insert_orders_by_score_desc)
{
    struct rank *r = rank_new(2);
    CHECK_EQ_INT(rank_insert(r, 1, 5), 0);
    CHECK_EQ_INT(rank_insert(r, 2, 9), 0);
    CHECK_EQ_INT(rank_insert(r, 3, -4), 0);
    CHECK_EQ_INT(rank_insert(r, 4, 7), 0);
    uint32_t out[8];
    CHECK_EQ_INT(rank_top(r, 8, out), 4);
    CHECK_EQ_INT(out[0], 2);
    CHECK_EQ_INT(out[1], 4);
    CHECK_EQ_INT(out[2], 1);
    CHECK_EQ_INT(out[3], 3);
    CHECK_EQ_INT(rank_of(r, 2), 0);
    CHECK_EQ_INT(rank_of(r, 3), 3);
    CHECK_EQ_INT(rank_score(r, 4), 7);
    CHECK_EQ_INT(rank_count(r), 4);
    CHECK_EQ_INT(rank_top(r, 2, out), 2);
    CHECK_EQ_INT(out[0], 2);
    CHECK_EQ_INT(out[1], 4);
    CHECK(is_consistent(r));
    rank_free(r);
}

TEST(ties_put_smaller_id_first)
{
    struct rank *r = rank_new(3);
    /* Inserted out of id order on purpose. */
    CHECK_EQ_INT(rank_insert(r, 30, 1), 0);
    CHECK_EQ_INT(rank_insert(r, 10, 1), 0);
    CHECK_EQ_INT(rank_insert(r, 20, 1), 0);
    CHECK_EQ_INT(rank_insert(r, 5, 0), 0);
    uint32_t out[4];
    CHECK_EQ_INT(rank_top(r, 4, out), 4);
    CHECK_EQ_INT(out[0], 10);
    CHECK_EQ_INT(out[1], 20);
    CHECK_EQ_INT(out[2], 30);
    CHECK_EQ_INT(out[3], 5);
    CHECK_EQ_INT(rank_of(r, 20), 1);
    CHECK(is_consistent(r));
    rank_free(r);
}

TEST(set_moves_up_and_down)
{
    struct rank *r = rank_new(4);
    for (uint32_t id = 1; id <= 5; id++)
        CHECK_EQ_INT(rank_insert(r, id, 0), 0);
    CHECK_EQ_INT(rank_of(r, 5), 4);
    CHECK_EQ_INT(rank_set(r, 5, 1), 0); /* a vote lifts the last item to the top */
    CHECK_EQ_INT(rank_of(r, 5), 0);
    CHECK_EQ_INT(rank_of(r, 1), 1);
    CHECK_EQ_INT(rank_set(r, 1, -1), 0); /* a retraction drops the first to the bottom */
    CHECK_EQ_INT(rank_of(r, 1), 4);
    CHECK_EQ_INT(rank_set(r, 5, 0), 0); /* back into the tie, behind the smaller ids */
    CHECK_EQ_INT(rank_of(r, 5), 3);
    CHECK_EQ_INT(rank_of(r, 2), 0);
    CHECK_EQ_INT(rank_set(r, 2, 0), 0); /* same score: nothing moves */
    CHECK_EQ_INT(rank_of(r, 2), 0);
    CHECK_EQ_INT(rank_set(r, 3, INT64_MAX), 0);
    CHECK_EQ_INT(rank_set(r, 4, INT64_MIN), 0);
    CHECK_EQ_INT(rank_of(r, 3), 0);
    CHECK_EQ_INT(rank_of(r, 4), 4);
    CHECK_EQ_INT(rank_score(r, 4), INT64_MIN);
    CHECK_EQ_INT(rank_count(r), 5);
    CHECK(is_consistent(r));
    rank_free(r);
}

TEST(remove_and_reinsert)
{
    struct rank *r = rank_new(5);
    for (uint32_t id = 1; id <= 4; id++)
        CHECK_EQ_INT(rank_insert(r, id, (int64_t)id), 0);
    CHECK_EQ_INT(rank_remove(r, 4), 0);
    CHECK(!rank_has(r, 4));
    CHECK_EQ_INT(rank_of(r, 4), -1);
    CHECK_EQ_INT(rank_score(r, 4), 0);
    CHECK_EQ_INT(rank_count(r), 3);
    CHECK_EQ_INT(rank_of(r, 3), 0);
    CHECK_EQ_INT(rank_remove(r, 2), 0);
    CHECK_EQ_INT(rank_of(r, 1), 1);
    CHECK_EQ_INT(rank_insert(r, 4, 0), 0); /* a removed id may come back with a new score */
    CHECK_EQ_INT(rank_of(r, 4), 2);
    CHECK_EQ_INT(rank_score(r, 4), 0);
    CHECK(is_consistent(r));
    for (uint32_t id = 1; id <= 4; id++)
        rank_remove(r, id);
    CHECK_EQ_INT(rank_count(r), 0);
    uint32_t out[1];
    CHECK_EQ_INT(rank_top(r, 1, out), 0);
    rank_free(r);
}

TEST(errors)
{
    struct rank *r = rank_new(6);
    CHECK_EQ_INT(rank_insert(r, 0, 1), -EINVAL);
    CHECK_EQ_INT(rank_insert(r, (uint32_t)1 << 31, 1), -EINVAL);
    CHECK_EQ_INT(rank_insert(r, UINT32_MAX, 1), -EINVAL);
    CHECK_EQ_INT(rank_count(r), 0);
    CHECK_EQ_INT(rank_insert(r, 7, 1), 0);
    CHECK_EQ_INT(rank_insert(r, 7, 2), -EEXIST);
    CHECK_EQ_INT(rank_score(r, 7), 1);
    CHECK_EQ_INT(rank_remove(r, 8), -ENOENT);
    CHECK_EQ_INT(rank_remove(r, 0), -ENOENT);
    CHECK_EQ_INT(rank_remove(r, 1000000), -ENOENT); /* beyond the id array: still just absent */
    CHECK_EQ_INT(rank_set(r, 8, 3), -ENOENT);
    CHECK_EQ_INT(rank_set(r, UINT32_MAX, 3), -ENOENT);
    CHECK(!rank_has(r, UINT32_MAX));
    CHECK_EQ_INT(rank_of(r, 0), -1);
    CHECK_EQ_INT(rank_remove(r, 7), 0);
    CHECK_EQ_INT(rank_remove(r, 7), -ENOENT);
    CHECK_EQ_INT(rank_set(r, 7, 1), -ENOENT);
    CHECK_EQ_INT(rank_count(r), 0);
    rank_free(r);
}

TEST(ids_grow_the_array)
{
    struct rank *r = rank_new(7);
    CHECK_EQ_INT(rank_insert(r, 100000, 1), 0); /* far past the initial capacity */
    CHECK_EQ_INT(rank_insert(r, 3, 2), 0);
    CHECK_EQ_INT(rank_of(r, 100000), 1);
    CHECK_EQ_INT(rank_score(r, 100000), 1);
    CHECK(rank_has(r, 3));
    CHECK(!rank_has(r, 99999));
    rank_free(r);
}

TEST(sequential_inserts_stay_consistent)
{
    /* Ascending ids with ascending scores is the worst case for an unbalanced tree. */
    struct rank *r = rank_new(8);
    for (uint32_t id = 1; id <= 50000; id++)
        rank_insert(r, id, (int64_t)id);
    CHECK_EQ_INT(rank_count(r), 50000);
    CHECK_EQ_INT(rank_of(r, 50000), 0);
    CHECK_EQ_INT(rank_of(r, 1), 49999);
    CHECK_EQ_INT(rank_of(r, 20000), 30000);
    CHECK(is_consistent(r));
    rank_free(r);
}

TEST(same_seed_same_answers)
{
    struct rank *a = rank_new(42), *b = rank_new(42);
    for (uint32_t id = 1; id <= 100; id++) {
        rank_insert(a, id, (int64_t)(id % 7));
        rank_insert(b, id, (int64_t)(id % 7));
    }
    uint32_t ta[100], tb[100];
    CHECK_EQ_INT(rank_top(a, 100, ta), 100);
    CHECK_EQ_INT(rank_top(b, 100, tb), 100);
    CHECK(memcmp(ta, tb, sizeof(ta)) == 0);
    rank_free(a);
    rank_free(b);
}

/* ------------------------------------------------------------------------------------------ */
/* Randomised comparison against a naive model                                                 */
/* ------------------------------------------------------------------------------------------ */

/* 1500 ids keep ties frequent (scores span about +-40) and the O(n) model cheap. */
#define MODEL_IDS 1500
#define MODEL_OPS 20000

struct model {
    bool present[MODEL_IDS + 1];
    int64_t score[MODEL_IDS + 1];
    size_t count;
};

static uint64_t test_rng = 0x5eed;

static uint32_t rnd(uint32_t n)
{
    test_rng ^= test_rng << 13;
    test_rng ^= test_rng >> 7;
    test_rng ^= test_rng << 17;
    return (uint32_t)(test_rng % n);
}

static bool model_before(const struct model *m, uint32_t a, uint32_t b)
{
    return m->score[a] > m->score[b] || (m->score[a] == m->score[b] && a < b);
}

static int64_t model_rank_of(const struct model *m, uint32_t id)
{
    if (!m->present[id])
        return -1;
    int64_t pos = 0;
    for (uint32_t i = 1; i <= MODEL_IDS; i++)
        if (m->present[i] && model_before(m, i, id))
            pos++;
    return pos;
}

static const struct model *cmp_model;

static int cmp_ids(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    return model_before(cmp_model, a, b) ? -1 : model_before(cmp_model, b, a) ? 1 : 0;
}

/* The full order from the model, by sorting; returns the count. */
static size_t model_sorted(const struct model *m, uint32_t *out)
{
    size_t n = 0;
    for (uint32_t i = 1; i <= MODEL_IDS; i++)
        if (m->present[i])
            out[n++] = i;
    cmp_model = m;
    qsort(out, n, sizeof(*out), cmp_ids);
    return n;
}

TEST(range_is_a_slice_of_the_order)
{
    struct rank *r = rank_new(7);
    for (uint32_t id = 1; id <= 10; id++)
        rank_insert(r, id, (int64_t)(id % 3)); /* order: 2 5 8 | 1 4 7 10 | 3 6 9 */
    uint32_t out[10];
    CHECK_EQ_INT(rank_range(r, 0, 3, out), 3);
    CHECK_EQ_INT(out[0], 2);
    CHECK_EQ_INT(out[2], 8);
    CHECK_EQ_INT(rank_range(r, 3, 4, out), 4);
    CHECK_EQ_INT(out[0], 1);
    CHECK_EQ_INT(out[3], 10);
    CHECK_EQ_INT(rank_range(r, 8, 5, out), 2);
    CHECK_EQ_INT(out[0], 6);
    CHECK_EQ_INT(out[1], 9);
    CHECK_EQ_INT(rank_range(r, 10, 5, out), 0);
    CHECK_EQ_INT(rank_range(r, 99, 5, out), 0);
    rank_free(r);
}

TEST(random_ops_match_model)
{
    struct model *m = calloc(1, sizeof(*m));
    uint32_t *want = malloc((MODEL_IDS + 1) * sizeof(*want));
    uint32_t *got = malloc((MODEL_IDS + 1) * sizeof(*got));
    struct rank *r = rank_new(12345);
    int mismatches = 0;

    for (int op = 0; op < MODEL_OPS && mismatches < 10; op++) {
        uint32_t id = 1 + rnd(MODEL_IDS);
        uint32_t what = rnd(100);
        int rc, want_rc;
        if (what < 15) {
            int64_t s = (int64_t)rnd(21) - 10;
            want_rc = m->present[id] ? -EEXIST : 0;
            rc = rank_insert(r, id, s);
            if (want_rc == 0) {
                m->present[id] = true;
                m->score[id] = s;
                m->count++;
            }
        } else if (what < 22) {
            want_rc = m->present[id] ? 0 : -ENOENT;
            rc = rank_remove(r, id);
            if (want_rc == 0) {
                m->present[id] = false;
                m->score[id] = 0;
                m->count--;
            }
        } else if (what < 85) {
            /* A vote (+1, most of the time) or a retraction (-1). */
            int64_t s = m->score[id] + (rnd(4) ? 1 : -1);
            want_rc = m->present[id] ? 0 : -ENOENT;
            rc = rank_set(r, id, s);
            if (want_rc == 0)
                m->score[id] = s;
        } else if (what < 90) {
            int64_t s = (int64_t)rnd(81) - 40; /* an arbitrary jump, e.g. a moderator reset */
            want_rc = m->present[id] ? 0 : -ENOENT;
            rc = rank_set(r, id, s);
            if (want_rc == 0)
                m->score[id] = s;
        } else {
            want_rc = rc = 0;
            if (rank_of(r, id) != model_rank_of(m, id))
                mismatches++;
            size_t k = rnd(30);
            size_t n = model_sorted(m, want);
            size_t g = rank_top(r, k, got);
            if (g != (k < n ? k : n) || memcmp(got, want, g * sizeof(*got)) != 0)
                mismatches++;
            /* rank_range from any start, past the end included, is that slice of the order. */
            size_t from = rnd((uint32_t)n + 3);
            size_t slice = from < n ? (k < n - from ? k : n - from) : 0;
            g = rank_range(r, from, k, got);
            if (g != slice || (g && memcmp(got, want + from, g * sizeof(*got)) != 0))
                mismatches++;
        }
        if (rc != want_rc)
            mismatches++;
        if (rank_count(r) != m->count || rank_has(r, id) != m->present[id] ||
            rank_score(r, id) != m->score[id])
            mismatches++;

        /* Every 1000 ops, compare the whole order and every position. */
        if (op % 1000 == 999) {
            size_t n = model_sorted(m, want);
            if (rank_top(r, MODEL_IDS + 1, got) != n || memcmp(got, want, n * sizeof(*got)) != 0)
                mismatches++;
            for (size_t i = 0; i < n; i++)
                if (rank_of(r, want[i]) != (int64_t)i)
                    mismatches++;
        }
    }
    CHECK_EQ_INT(mismatches, 0);
    CHECK(m->count > 100); /* the walk really exercised a populated index */
    CHECK(is_consistent(r));

    rank_free(r);
    free(got);
    free(want);
    free(m);
}

int main(void)
{
    RUN(empty_index);
    RUN(insert_orders_by_score_desc);
    RUN(ties_put_smaller_id_first);
    RUN(set_moves_up_and_down);
    RUN(remove_and_reinsert);
    RUN(errors);
    RUN(ids_grow_the_array);
    RUN(sequential_inserts_stay_consistent);
    RUN(same_seed_same_answers);
    RUN(range_is_a_slice_of_the_order);
    RUN(random_ops_match_model);
    return test_done();
}
