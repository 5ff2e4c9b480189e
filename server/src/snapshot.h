/* SPDX-License-Identifier: MIT
 * snapshot.h - the binary snapshot of a room: everything room_apply built, in one buffer, so that
 * recovery starts from it instead of the whole stream, and (canonical) equal states give equal
 * bytes, whose SHA-256 is the state digest. Pure: no I/O. The format is written in snapshot.c.
 */
#ifndef COJAM_SNAPSHOT_H
#define COJAM_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>

#include "room.h"

/* Encode the applied state of 'r' (not what is in flight, not the delta) into a new malloc'd
 * buffer (*out, *len; the caller frees). With 'canonical', per-participant votes and the ops are
 * sorted, so equal states give equal bytes. */
void snapshot_encode(const struct room *r, bool canonical, unsigned char **out, size_t *len);
/* Rebuild a room from a snapshot (the caller frees it with room_free). Returns NULL for anything
 * malformed; safe on any input. */
struct room *snapshot_decode(const unsigned char *buf, size_t len,
                             const struct room_limits *limits);

#endif
