/* SPDX-License-Identifier: MIT
 * recovery.h - what makes a restart quick and right: applying the stream (at start-up, from the
 * replay thread, and every entry the tail reads) with the same room_apply as live traffic,
 * and the snapshots stored beside each stream so that the next start replays only a tail.
 * Loop thread only.
 */
#ifndef COJAM_RECOVERY_H
#define COJAM_RECOVERY_H

#include <stdint.h>

struct hub;
struct jam;
struct now;
struct replay;
struct store_result;

/* Take over start-up recovery: the hub applies what 'rp' hands over (recovery_poll) and is ready
 * when it is complete; until then joins, writes and jam creation are refused as retryable. Takes
 * ownership of 'rp'. */
void recovery_start(struct hub *h, struct replay *rp, const struct now *now);
/* Apply a slice of the recovery (called on every wake while it lasts), so that the loop keeps
 * answering /healthz and pings meanwhile. */
void recovery_poll(struct hub *h, const struct now *now);
/* A STORE_TAILED entry: the next entry of a jam's stream, whoever wrote it; apply it (once: one
 * at or before what the jam has judged is skipped) and answer the write of ours it may be. */
void recovery_apply_tailed(struct hub *h, const struct store_result *res, const struct now *now);
/* Store a snapshot of 'j' once enough events accumulated since the last one. */
void recovery_maybe_snapshot(struct hub *h, struct jam *j, const struct now *now);

#endif
