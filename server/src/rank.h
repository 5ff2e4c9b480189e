/* SPDX-License-Identifier: MIT
 * rank.h - the ranking core: an order-statistic index over (score desc, id asc).
 * Pure data structure: no I/O, no clock. Every operation is O(log n) expected; rank_top is
 * O(log n + k). Ids are small positive integers (< 2^31) handed out densely by the caller, so the
 * index may keep an array indexed by id. Ties are broken by the smaller id first (earlier item).
 */
#ifndef COJAM_RANK_H
#define COJAM_RANK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rank;

/* Create an empty index. 'seed' drives the internal randomisation (deterministic per seed). */
struct rank *rank_new(uint32_t seed);
/* Free the index. rank_free(NULL) is a no-op. */
void rank_free(struct rank *r);

/* Insert 'id' with 'score'. Returns 0, -EEXIST if present, -EINVAL if id is 0 or >= 2^31. */
int rank_insert(struct rank *r, uint32_t id, int64_t score);
/* Remove 'id'. Returns 0 or -ENOENT. */
int rank_remove(struct rank *r, uint32_t id);
/* Set the score of 'id'. Returns 0 or -ENOENT. */
int rank_set(struct rank *r, uint32_t id, int64_t score);

bool rank_has(const struct rank *r, uint32_t id);
/* Score of 'id', or 0 when absent. */
int64_t rank_score(const struct rank *r, uint32_t id);
size_t rank_count(const struct rank *r);
/* 0-based position of 'id' in the order, or -1 when absent. */
int64_t rank_of(const struct rank *r, uint32_t id);
/* Write the ids of the first min(k, count) entries, best first, into 'out'. Returns how many. */
size_t rank_top(const struct rank *r, size_t k, uint32_t *out);
/* Write the ids at 0-based positions from .. from+k-1 into 'out', best first: rank_top from a
 * given position, in O(log n + k). Returns how many (0 when 'from' is past the end). */
size_t rank_range(const struct rank *r, size_t from, size_t k, uint32_t *out);

#endif
