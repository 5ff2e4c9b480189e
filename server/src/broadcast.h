/* SPDX-License-Identifier: MIT
 * broadcast.h - what every member of a jam is sent: once per broadcast period the room's delta is
 * encoded once (view_update) into the jam's ring of shared frames, and each session pulls, at its
 * own pace, its private frames first (acks, errors, snapshots, catch-up pages), then the ring's
 * frames from its cursor. A session too far behind for the ring gets a resync snapshot, a few
 * times at most, then is closed with 4001. Loop thread only.
 */
#ifndef COJAM_BROADCAST_H
#define COJAM_BROADCAST_H

#include <stdbool.h>
#include <stdint.h>

struct frame;
struct hub;
struct jam;
struct now;
struct session;

#define BROADCAST_RESYNC_LIMIT 3 /* resync snapshots per window before 4001 */
#define BROADCAST_RESYNC_WINDOW_MS 60000
#define BROADCAST_STATS_PERIOD_MS 1000 /* joins and counters alone go out at most this often */
/* An update due within this long goes now: the tick is called when the next one falls due
 * (loop_on_tick's answer), on a millisecond clock. */
#define BROADCAST_DUE_SLACK_MS 1
/* broadcast_jam's answer when nothing of this jam falls due before the next regular tick. */
#define BROADCAST_NOT_DUE INT64_MAX

/* net callback: the next frame for 's' (a new reference) or NULL; sets *more when another is due. */
struct frame *broadcast_next_frame(struct session *s, bool *more, void *arg);
/* The broadcast period now: the tick, or longer with a large audience (see broadcast.c). */
int64_t broadcast_period_ms(const struct hub *h);
/* Feed what the loop measured since the last call (net_loop_sample) to the period's controller
 * (period.h), at monotonic 'now_ms'. Without --max-deliveries-per-s, the period follows it. */
void broadcast_calibrate(struct hub *h, int64_t now_ms);
/* Push jam 'j''s update if one is due at 'now' ('period_ms' from broadcast_period_ms). Returns in
 * how many ms the next one is due, or BROADCAST_NOT_DUE: nothing to send, or the last update's
 * frames are still being written (net calls the tick when they are, net_push). */
int64_t broadcast_jam(struct hub *h, struct jam *j, int64_t period_ms, const struct now *now);
/* Tell every joined session whether storage is up. */
void broadcast_status(struct hub *h, bool up);
/* The word cloud and themes (view_words) to jam 'j''s screens and moderators: when the visible
 * items changed or one of them joined, at most once per BROADCAST_WORDS_PERIOD_MS, one encoding
 * shared by all of them. Phones never get it (they do not show it, and there are thousands). */
#define BROADCAST_WORDS_PERIOD_MS 1000
void broadcast_words(struct jam *j, const struct now *now);

#endif
