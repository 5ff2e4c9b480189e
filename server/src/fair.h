/* SPDX-License-Identifier: MIT
 * fair.h - fair attention for one kind of item: how often each item has been shown in discover
 * views, the discover selection (least shown first), and an uncertainty-aware order (the Wilson
 * lower bound of votes per showing) beside the raw vote count that rank.h orders by.
 * Pure: no I/O, no clock, deterministic for a given sequence of calls. Ids are rank.h's ids.
 */
#ifndef COJAM_FAIR_H
#define COJAM_FAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fair;

/* Create an empty set; 'seed' seeds its two rank indexes. fair_free(NULL) is a no-op. */
struct fair *fair_new(uint32_t seed);
void fair_free(struct fair *f);

/* Item 'id' becomes visible with 'votes' votes and 'shown' showings (0, 0 for a new item; an
 * unhidden item comes back with what it had). Returns 0, -EEXIST or -EINVAL (rank_insert's). */
int fair_add(struct fair *f, uint32_t id, uint32_t votes, uint32_t shown);
/* Item 'id' leaves both orders (hidden). Its counts are kept for fair_shown. Returns 0 or -ENOENT. */
int fair_remove(struct fair *f, uint32_t id);
/* The item's vote count changed. Returns 0 or -ENOENT. */
int fair_set_votes(struct fair *f, uint32_t id, uint32_t votes);
/* The item was shown 'n' more times in discover views. Returns 0 or -ENOENT. */
int fair_expose(struct fair *f, uint32_t id, uint32_t n);
uint32_t fair_shown(const struct fair *f, uint32_t id);
size_t fair_count(const struct fair *f);

/* Choose up to 'k' items for one discover view: the least shown first, older first among equals,
 * passing over those for which skip(id, ctx) is true (the viewer's own items, items they voted
 * for or were already shown). At most FAIR_SCAN_MAX candidates are looked at, so the cost is
 * bounded whatever the viewer has seen. Does not count the showing: the caller does, with
 * fair_expose, once the view is sent. Returns how many ids were written to 'out'. */
#define FAIR_SCAN_MAX 512
size_t fair_pick(const struct fair *f, size_t k, bool (*skip)(uint32_t id, void *ctx), void *ctx,
                 uint32_t *out);

/* The fair order: best first by the lower bound of the Wilson score interval (95%) of
 * votes / max(shown, votes), then by the smaller id. Same contract as rank_top. */
size_t fair_top(const struct fair *f, size_t k, uint32_t *out);
/* The fair score of 'id' in millionths (0..1000000), 0 when absent. */
int64_t fair_score(const struct fair *f, uint32_t id);
/* The score itself, for 'votes' out of 'trials' showings (votes > trials counts trials = votes). */
int64_t fair_wilson(uint32_t votes, uint32_t trials);

#endif
