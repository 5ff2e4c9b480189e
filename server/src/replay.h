/* SPDX-License-Identifier: MIT
 * replay.h - start-up recovery on its own thread: for every jam in Redis, read its latest snapshot
 * and the stream entries after it (paged XRANGE), decode them, and hand them to the loop in
 * stream order through a bounded queue. The loop applies them with the same room_apply as live
 * traffic, so it keeps serving (/healthz says "recovering") while this runs. The reading and
 * JSON decoding happen on this thread; applying (the event chain's hashing included) happens on
 * the loop: two cores, two halves of about the same cost (measured on a million events).
 */
#ifndef COJAM_REPLAY_H
#define COJAM_REPLAY_H

#include <stdbool.h>
#include <stddef.h>

#include "msg.h"
#include "room.h"
#include "store.h"

enum replay_kind {
    REPLAY_ROOM,     /* a jam restored from its snapshot: 'room' (owned by the item until taken) */
    REPLAY_EVENT,    /* the next stream entry of jam 'code': 'id', 'ev' */
    REPLAY_BAD,      /* an entry that could not be decoded: 'id' (logged and skipped) */
    REPLAY_JAM_DONE, /* every entry of jam 'code' has been handed over */
};

struct replay_item {
    enum replay_kind kind;
    char code[MSG_CODE_LEN + 1];
    char id[MSG_EVENT_ID_MAX + 1];
    struct room *room; /* REPLAY_ROOM: set it to NULL when taking ownership */
    struct event ev;   /* REPLAY_EVENT */
};

struct replay;
typedef void replay_wake_cb(void *arg);
typedef void replay_item_cb(struct replay_item *it, void *arg);

/* Start the thread. 'sc' and 'limits' are copied (the strings 'sc' points to must outlive it). */
int replay_start(const struct store_config *sc, const struct room_limits *limits,
                 replay_wake_cb *wake, void *wake_arg, struct replay **out);
enum replay_state {
    REPLAY_MORE,     /* 'max' items handed over and more are waiting: poll again soon */
    REPLAY_IDLE,     /* the queue is empty: the wake callback fires once there is more */
    REPLAY_FINISHED, /* everything has been handed over: call replay_free */
};
/* On the loop: hand over up to 'max' items in order. */
enum replay_state replay_poll(struct replay *rp, size_t max, replay_item_cb *cb, void *arg);
/* Figures for the log: events read, jams, snapshots used. */
void replay_stats(const struct replay *rp, size_t *events, size_t *jams, size_t *snapshots);
/* Stop (if still running), join and free. replay_free(NULL) is a no-op. */
void replay_free(struct replay *rp);

#endif
