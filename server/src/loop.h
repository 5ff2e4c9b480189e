/* SPDX-License-Identifier: MIT
 * loop.h - the loop's two periodic entry points: a wake (results from the store or the replay
 * thread are waiting) and the tick (deadlines, snapshots, broadcasts, sweeps), our serverCron.
 * Loop thread only.
 */
#ifndef COJAM_LOOP_H
#define COJAM_LOOP_H

#include <stdint.h>

struct hub;
struct net_callbacks;

/* Every net callback of hub 'h': sessions (hub), messages (handlers), frames (broadcast), HTTP
 * (api), wake and tick (this file). */
void loop_callbacks(struct hub *h, struct net_callbacks *cbs);

/* net callback: another thread called net_wake() ('arg' is the hub). */
void loop_on_wake(void *arg);
/* net callback, at least every tick_ms, at monotonic 'now_ms' ('arg' is the hub). Returns in how
 * many ms the next jam update falls due (at most tick_ms): the broadcast period is kept to the
 * millisecond, not rounded to ticks. */
int64_t loop_on_tick(int64_t now_ms, void *arg);

#endif
