/* SPDX-License-Identifier: MIT
 * now.h - the time of one event, read once where the event enters (a message, a completion, a
 * tick) and passed down, so that the policy code never reads a clock and unit tests can give it
 * any time they like.
 */
#ifndef COJAM_NOW_H
#define COJAM_NOW_H

#include <stdint.h>

struct now {
    int64_t ms;      /* monotonic: timeouts, windows, periods */
    int64_t wall_ms; /* wall clock: event timestamps, deadlines, token expiry */
};

#endif
