/* SPDX-License-Identifier: MIT
 * equal.h - field-by-field equality of the structs of msg.h, shared by the unit tests and the fuzz
 * targets (a round trip must give back exactly what went in). Header-only so that both the gcc
 * unit/replay builds and the clang-14 libFuzzer builds take it without a rule of their own.
 */
#ifndef COJAM_TEST_EQUAL_H
#define COJAM_TEST_EQUAL_H

#include <stdbool.h>
#include <string.h>

#include "msg.h"

/* Two optional strings: both NULL, or both set and equal. */
static inline bool equal_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Two optional id lists: the same ids in the same order. */
static inline bool equal_ids(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
    return na == nb && (!na || (a && b && memcmp(a, b, na * sizeof *a) == 0));
}

static inline bool equal_msg(const struct msg *a, const struct msg *b)
{
    return a->type == b->type && strcmp(a->op, b->op) == 0 && strcmp(a->code, b->code) == 0 &&
           a->as == b->as && equal_str(a->nickname, b->nickname) && a->anonymous == b->anonymous &&
           equal_str(a->secret, b->secret) && equal_str(a->token, b->token) &&
           strcmp(a->last_event_id, b->last_event_id) == 0 && a->kind == b->kind &&
           equal_str(a->text, b->text) && a->parent == b->parent && a->item == b->item &&
           a->phase == b->phase && a->seconds == b->seconds && equal_str(a->reason, b->reason) &&
           a->preset == b->preset && a->pid == b->pid && a->hide_posts == b->hide_posts &&
           equal_str(a->on_behalf, b->on_behalf) && a->has_t == b->has_t && a->t == b->t &&
           a->order == b->order && equal_ids(a->items, a->n_items, b->items, b->n_items);
}

static inline bool equal_jam_config(const struct jam_config *a, const struct jam_config *b)
{
    if (strcmp(a->code, b->code) != 0 || !equal_str(a->title, b->title) ||
        !equal_str(a->question, b->question) || a->n_agenda != b->n_agenda ||
        strcmp(a->secret_sha256, b->secret_sha256) != 0 ||
        a->settings.anonymous_allowed != b->settings.anonymous_allowed ||
        a->settings.votes_per_phase != b->settings.votes_per_phase ||
        a->settings.min_text != b->settings.min_text ||
        a->settings.max_text != b->settings.max_text ||
        a->settings.premoderation != b->settings.premoderation ||
        a->settings.public_exports != b->settings.public_exports)
        return false;
    for (unsigned i = 0; i < a->n_agenda; i++)
        if (a->agenda[i].phase != b->agenda[i].phase ||
            a->agenda[i].duration_s != b->agenda[i].duration_s)
            return false;
    return true;
}

static inline bool equal_event(const struct event *a, const struct event *b)
{
    return a->type == b->type && a->at_ms == b->at_ms && a->by == b->by &&
           strcmp(a->op, b->op) == 0 && equal_jam_config(&a->jam, &b->jam) && a->pid == b->pid &&
           a->role == b->role && equal_str(a->nickname, b->nickname) &&
           a->anonymous == b->anonymous && a->kind == b->kind && equal_str(a->text, b->text) &&
           a->parent == b->parent && a->item == b->item && a->index == b->index &&
           a->seconds == b->seconds && equal_str(a->reason, b->reason) && a->preset == b->preset &&
           a->hide_posts == b->hide_posts && a->reveal == b->reveal &&
           a->public_exports == b->public_exports && equal_str(a->on_behalf, b->on_behalf) &&
           a->invite == b->invite && strcmp(a->invite_sha256, b->invite_sha256) == 0 &&
           a->order == b->order && equal_ids(a->items, a->n_items, b->items, b->n_items) &&
           (a->counts == NULL) == (b->counts == NULL) &&
           equal_ids(a->counts, a->counts ? a->n_items : 0, b->counts, b->counts ? b->n_items : 0);
}

#endif
