/* SPDX-License-Identifier: MIT
 * stream.h - the vocabulary of a Redis stream shared by the store, the room and the catch-up
 * pages: stream ids "<ms>-<seq>" (at most MSG_EVENT_ID_MAX characters) with their one parser and
 * their one order, and a stream entry. Pure.
 */
#ifndef COJAM_STREAM_H
#define COJAM_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct stream_id {
    uint64_t ms;
    uint64_t seq;
};

/* One entry of a stream read back: its id and the value of its field "e". */
struct stream_entry {
    char id[MSG_EVENT_ID_MAX + 1];
    char *payload; /* owned by whoever holds the entry; NUL-terminated ("" if absent) */
    size_t len;
};

/* Parse "<ms>-<seq>" (decimal digits, each part fitting 64 bits, nothing else). Returns false,
 * and sets *out to 0-0, for anything else. */
bool stream_id_parse(const char *s, struct stream_id *out);
/* Compare two stream ids in stream order: <0, 0, >0. Malformed ids compare as 0-0. */
int stream_id_cmp(const char *a, const char *b);
/* Copy an id into an id field, cut at MSG_EVENT_ID_MAX characters (as snprintf would cut it,
 * without its cost: the replay copies ids millions of times). */
void stream_id_copy(char dst[MSG_EVENT_ID_MAX + 1], const char *src);

#endif
