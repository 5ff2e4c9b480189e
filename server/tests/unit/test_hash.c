/* SPDX-License-Identifier: MIT
 * test_hash.c - imap and smap through hash.h: insert, replace, delete, tombstones (probe chains
 * survive deletions; churn does not grow the table), growth under the 70% load bound, and the
 * imap_next/smap_next iterators, including deleting the entry just returned.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "test.h"

#define N 2000

TEST(imap_put_get_replace_del)
{
    struct imap m;
    imap_init(&m);
    uint64_t v = 7;
    CHECK(!imap_get(&m, 1, &v)); /* an empty table has no slots at all */
    CHECK_EQ_INT(v, 7);
    CHECK(!imap_del(&m, 1));
    imap_put(&m, 1, 10);
    imap_put(&m, 0, 20); /* key 0 is a key like any other */
    imap_put(&m, UINT64_MAX, 30);
    CHECK(imap_get(&m, 1, &v) && v == 10);
    CHECK(imap_get(&m, 0, &v) && v == 20);
    CHECK(imap_get(&m, UINT64_MAX, NULL));
    imap_put(&m, 1, 11);
    CHECK(imap_get(&m, 1, &v) && v == 11);
    CHECK_EQ_INT(m.used, 3);
    CHECK(imap_del(&m, 1));
    CHECK(!imap_del(&m, 1));
    CHECK(!imap_get(&m, 1, NULL));
    CHECK_EQ_INT(m.used, 2);
    CHECK_EQ_INT(m.dead, 1);
    imap_put(&m, 1, 12); /* reuses the tombstone */
    CHECK(imap_get(&m, 1, &v) && v == 12);
    CHECK_EQ_INT(m.dead, 0);
    imap_deinit(&m);
    CHECK(m.cap == 0 && m.keys == NULL);
}

TEST(imap_tombstones_keep_probe_chains)
{
    struct imap m;
    imap_init(&m);
    for (uint64_t k = 0; k < N; k++)
        imap_put(&m, k, k * 3);
    for (uint64_t k = 0; k < N; k += 2)
        CHECK(imap_del(&m, k));
    int wrong = 0;
    for (uint64_t k = 0; k < N; k++) {
        uint64_t v = 0;
        bool has = imap_get(&m, k, &v);
        if (has != (k % 2 == 1) || (has && v != k * 3))
            wrong++;
    }
    CHECK_EQ_INT(wrong, 0);
    for (uint64_t k = 0; k < N; k += 2)
        imap_put(&m, k, k + 1);
    wrong = 0;
    for (uint64_t k = 0; k < N; k++) {
        uint64_t v = 0;
        if (!imap_get(&m, k, &v) || v != (k % 2 ? k * 3 : k + 1))
            wrong++;
    }
    CHECK_EQ_INT(wrong, 0);
    CHECK_EQ_INT(m.used, N);
    imap_deinit(&m);
}

TEST(imap_growth_bounds_the_load)
{
    struct imap m;
    imap_init(&m);
    int over = 0;
    for (uint64_t k = 1; k <= N; k++) {
        imap_put(&m, k * 0x10001, k);
        if ((m.used + m.dead) * 10 >= m.cap * 7 || (m.cap & (m.cap - 1)))
            over++;
    }
    CHECK_EQ_INT(over, 0);
    CHECK(m.cap >= N);
    imap_deinit(&m);
}

TEST(imap_churn_does_not_grow)
{
    /* One live key at a time, 100,000 different keys: tombstones are cleared by rehashing at the
     * same size, so the table stays at its first capacity. */
    struct imap m;
    imap_init(&m);
    for (uint64_t k = 0; k < 100000; k++) {
        imap_put(&m, k, k);
        CHECK(imap_del(&m, k));
    }
    CHECK_EQ_INT(m.cap, 16);
    CHECK_EQ_INT(m.used, 0);
    imap_deinit(&m);
}

TEST(imap_next_visits_each_once)
{
    struct imap m;
    imap_init(&m);
    size_t pos = 0;
    CHECK(!imap_next(&m, &pos, NULL, NULL));
    static unsigned char seen[N];
    memset(seen, 0, sizeof seen);
    for (uint64_t k = 0; k < N; k++)
        imap_put(&m, k, k + 100);
    imap_del(&m, 5);
    uint64_t k, v;
    size_t n = 0, bad = 0;
    for (pos = 0; imap_next(&m, &pos, &k, &v);) {
        n++;
        if (k >= N || v != k + 100 || seen[k]++)
            bad++;
    }
    CHECK_EQ_INT(n, N - 1);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(seen[5], 0);
    CHECK(!imap_next(&m, &pos, &k, &v)); /* stays at the end */
    imap_deinit(&m);
}

TEST(imap_delete_while_iterating)
{
    struct imap m;
    imap_init(&m);
    for (uint64_t k = 0; k < N; k++)
        imap_put(&m, k, k);
    size_t n = 0;
    uint64_t k;
    for (size_t pos = 0; imap_next(&m, &pos, &k, NULL);) {
        n++;
        if (k % 3 == 0)
            CHECK(imap_del(&m, k));
    }
    CHECK_EQ_INT(n, N);
    size_t left = 0, bad = 0;
    for (size_t pos = 0; imap_next(&m, &pos, &k, NULL);) {
        left++;
        if (k % 3 == 0)
            bad++;
    }
    CHECK_EQ_INT(left, N - (N + 2) / 3);
    CHECK_EQ_INT(bad, 0);
    for (size_t pos = 0; imap_next(&m, &pos, &k, NULL);)
        imap_del(&m, k);
    CHECK_EQ_INT(m.used, 0);
    imap_deinit(&m);
}

static int freed;
static void count_free(void *p)
{
    freed++;
    free(p);
}

static void key_of(char *buf, size_t n, int i)
{
    snprintf(buf, n, "key-%d", i);
}

TEST(smap_owns_key_copies)
{
    struct smap m;
    smap_init(&m);
    CHECK(smap_get(&m, "x") == NULL);
    CHECK(smap_del(&m, "x") == NULL);
    char key[16] = "alpha";
    int a = 1, b = 2;
    smap_put(&m, key, &a);
    strcpy(key, "beta"); /* the table kept its own copy */
    smap_put(&m, key, &b);
    CHECK(smap_get(&m, "alpha") == &a);
    CHECK(smap_get(&m, "beta") == &b);
    CHECK(smap_get(&m, "") == NULL);
    smap_put(&m, "alpha", &b);
    CHECK(smap_get(&m, "alpha") == &b);
    CHECK_EQ_INT(m.used, 2);
    CHECK(smap_del(&m, "alpha") == &b);
    CHECK(smap_get(&m, "alpha") == NULL);
    CHECK_EQ_INT(m.used, 1);
    CHECK_EQ_INT(m.index.dead, 1);
    smap_deinit(&m, NULL);
}

TEST(smap_tombstones_growth_and_deinit)
{
    struct smap m;
    smap_init(&m);
    char key[32];
    for (int i = 0; i < N; i++) {
        key_of(key, sizeof key, i);
        int *v = malloc(sizeof *v);
        *v = i;
        smap_put(&m, key, v);
    }
    CHECK((m.index.used + m.index.dead) * 10 < m.index.cap * 7);
    for (int i = 0; i < N; i += 2) {
        key_of(key, sizeof key, i);
        free(smap_del(&m, key));
    }
    int wrong = 0;
    for (int i = 0; i < N; i++) {
        key_of(key, sizeof key, i);
        int *v = smap_get(&m, key);
        if ((i % 2 == 1) != (v != NULL) || (v && *v != i))
            wrong++;
    }
    CHECK_EQ_INT(wrong, 0);
    for (int i = 0; i < 100000; i++) { /* churn over the tombstones */
        key_of(key, sizeof key, N + i);
        smap_put(&m, key, NULL);
        smap_del(&m, key);
    }
    CHECK_EQ_INT(m.used, N / 2);
    CHECK(m.index.cap <= 4096);
    freed = 0;
    smap_deinit(&m, count_free);
    CHECK_EQ_INT(freed, N / 2);
}

TEST(smap_next_and_delete_while_iterating)
{
    struct smap m;
    smap_init(&m);
    size_t pos = 0;
    CHECK(!smap_next(&m, &pos, NULL, NULL));
    char key[32];
    static int vals[N];
    for (int i = 0; i < N; i++) {
        vals[i] = i;
        key_of(key, sizeof key, i);
        smap_put(&m, key, &vals[i]);
    }
    const char *k;
    void *v;
    size_t n = 0, bad = 0;
    for (pos = 0; smap_next(&m, &pos, &k, &v);) {
        n++;
        int i = *(int *)v;
        key_of(key, sizeof key, i);
        if (strcmp(key, k) != 0)
            bad++;
        if (i % 2 == 0 && smap_del(&m, k) != v) /* 'k' is freed by this; not used after */
            bad++;
    }
    CHECK_EQ_INT(n, N);
    CHECK_EQ_INT(bad, 0);
    n = 0;
    for (pos = 0; smap_next(&m, &pos, NULL, &v);)
        n += *(int *)v % 2;
    CHECK_EQ_INT(n, N / 2);
    CHECK_EQ_INT(m.used, N / 2);
    smap_deinit(&m, NULL);
}

int main(void)
{
    RUN(imap_put_get_replace_del);
    RUN(imap_tombstones_keep_probe_chains);
    RUN(imap_growth_bounds_the_load);
    RUN(imap_churn_does_not_grow);
    RUN(imap_next_visits_each_once);
    RUN(imap_delete_while_iterating);
    RUN(smap_owns_key_copies);
    RUN(smap_tombstones_growth_and_deinit);
    RUN(smap_next_and_delete_while_iterating);
    return test_done();
}
