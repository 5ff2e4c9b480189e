/* SPDX-License-Identifier: MIT
 * loop.h - the loop's two periodic entry points: a wake (results from the store or the replay
 * thread are waiting) and the tick (deadlines, snapshots, broadcasts, sweeps), our serverCron.
 * Loop thread only.
 */
#ifndef COJAM_LOOP_H
#define COJAM_LOOP_H

#include <stdint.h>

/* net callback: another thread called net_wake() ('arg' is the hub). */
void loop_on_wake(void *arg);
/* net callback, every tick_ms at monotonic 'now_ms' ('arg' is the hub). */
void loop_on_tick(int64_t now_ms, void *arg);

#endif
