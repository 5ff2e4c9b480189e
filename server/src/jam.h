/* SPDX-License-Identifier: MIT
 * jam.h - one live jam on this process: its room (the state, room.h), the ring of broadcast
 * updates its members pull from, its member list, the writes it has in flight and the caches of
 * encodings that its members share (the snapshot body, the catch-up pages). Loop thread only.
 *
 * The ring holds shared, immutable, pre-framed updates. Sequence q lives in slots[q % cap] while
 * head - q <= cap; a member's cursor is the next sequence it has to send:
 *
 *     oldest = head - cap        cursor                 head
 *        │ frame │ frame │ ... │ frame │ frame │ ... │ (next push)
 *                                  └── what that member still has to send
 */
#ifndef COJAM_JAM_H
#define COJAM_JAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catchup.h"
#include "hash.h"
#include "keys.h"
#include "msg.h"

struct config;
struct frame;
struct room;
struct session;

/* The failed outcomes of the latest entries applied that no write of ours waited for: an entry
 * of ours the tail applied before the store confirmed the append looks its outcome up here (a
 * success leaves no trace: its ack follows from the room). 256: the appends of one process are
 * confirmed in order within milliseconds, far fewer failures than that apply in between. */
#define JAM_VERDICTS 256
struct verdict {
    char id[MSG_EVENT_ID_MAX + 1];
    const char *err; /* room_apply's code */
};

struct ring {
    struct frame **slots;               /* owned references */
    char (*prev)[MSG_EVENT_ID_MAX + 1]; /* per slot: the update's prev and to ids, for resume */
    char (*to)[MSG_EVENT_ID_MAX + 1];
    size_t cap;
    uint64_t head;
};

struct jam {
    char code[MSG_CODE_LEN + 1];
    char key[KEYS_MAX]; /* the stream key */
    struct room *room;  /* owned */
    struct ring ring;
    struct session *members; /* borrowed: sessions unlink themselves on close */
    uint32_t online;
    struct smap pending_ops; /* "pid:op" of writes in flight -> their struct write (borrowed) */
    struct smap awaiting;    /* stream id -> struct pending * (owned): appends of ours confirmed
                                by the store that the tail has not applied yet */
    struct verdict verdicts[JAM_VERDICTS]; /* a ring: the newest at (n_verdicts - 1) % cap */
    uint64_t n_verdicts;
    int64_t next_push_ms; /* monotonic: the next broadcast is due then */
    int64_t last_stats_push_ms;
    char *snap_body; /* owned: citizens' and screens' snapshot body (jam_snapshot_body) */
    size_t snap_body_len;
    char snap_body_id[MSG_EVENT_ID_MAX + 1];
    int64_t snap_body_ms;
    char
        *mod_body; /* owned: moderators' snapshot body (jam_moderator_body): hidden items in full */
    size_t mod_body_len;
    char mod_body_id[MSG_EVENT_ID_MAX + 1];
    int64_t mod_body_ms;
    struct jam_pieces {
        struct frame **frames; /* owned references: the body cut in FRAME_MIDDLE pieces */
        size_t n;
    } snap_pieces, mod_pieces; /* of snap_body and mod_body, made when first sent; freed when
                                  the body is encoded again (sessions hold their own references) */
    char *results; /* owned: the body of GET .../results, at results_id and results_ms */
    char results_id[MSG_EVENT_ID_MAX + 1];
    int64_t results_ms;
    char *digest; /* owned: the body of GET .../digest for the state at digest_id */
    char digest_id[MSG_EVENT_ID_MAX + 1];
    uint64_t snap_events; /* n_events covered by the newest snapshot stored or in flight */
    bool snap_inflight;
    struct catchup_cache pages; /* stream pages read for resumes */
    uint64_t words_sent;        /* room->words_version of the last words frame sent */
    int64_t words_sent_ms;      /* monotonic: when it was sent */
    int64_t showings_sent_ms;   /* monotonic: when the last showings event was sent (handlers.c) */
    bool words_owed;            /* a screen or moderator joined since: send even if unchanged */
    struct smap doubt;          /* "pid:op" of writes whose outcome the store could not tell ->
                                   JAM_DOUBT_IDLE or JAM_DOUBT_READING (handlers.c) */
    char replicated[MSG_EVENT_ID_MAX + 1]; /* with --replicas: the replicas have the stream up to
                                              this entry ("" unknown; handlers.c) */
};

/* A jam for room 'room' (takes ownership), with the ring size and room limits of 'cfg'. */
struct jam *jam_new(const struct config *cfg, struct room *room);
void jam_free(struct jam *j);

/* How long a cached encoding (the shared snapshot body, a catch-up page's update) may be served:
 * its clock and counters are then at most one tick older than the ring's updates. */
int64_t jam_cache_max_age_ms(const struct config *cfg);

/* Push the update for the room's current delta (takes ownership of 'f') and wake every member. */
void jam_ring_push(struct jam *j, struct frame *f);
/* Where a client that last saw 'last_id' resumes in the ring: the first frame it is missing.
 * Returns false when the ring no longer holds everything after 'last_id' (or it is unknown). */
bool jam_ring_resume_point(const struct jam *j, const char *last_id, uint64_t *seq);

/* Make 's' a member as participant 'pid' with 'role', at the ring's head, wanting its first
 * snapshot. "online" counts the citizens in the hall: moderators and screens do not count. */
void jam_attach(struct jam *j, struct session *s, int64_t pid, enum role role);
/* Unlink 's' from its jam, if any. */
void jam_detach(struct session *s);

/* Remember that the entry 'id' applied with error 'err' (a static code); the outcome of entry
 * 'id' among the latest JAM_VERDICTS remembered, or NULL (applied cleanly, or too long ago). */
void jam_verdict_add(struct jam *j, const char *id, const char *err);
const char *jam_verdict(const struct jam *j, const char *id);
/* Tell every session of the participant a removed, muted or unmuted event 'e' names (a `notice`
 * frame), and close them with 4004 after it for a removal. Other events: nothing. */
void jam_notify_sanction(struct jam *j, const struct event *e);
/* Send the item 'id' a posted event just made, if it waits for review, in a private `queued`
 * frame to every moderator session and to its author's sessions. Other items: nothing. */
void jam_notify_queued(struct jam *j, uint32_t id);

/* The snapshot body of citizens and screens, encoded at most once per state and cache age (a join
 * storm encodes the jam once per tick, not once per client). Borrowed: valid until the next call. */
const char *jam_snapshot_body(struct jam *j, const struct config *cfg, int64_t now_ms,
                              int64_t wall_ms);
/* The same for moderators (hidden and pending items in full; nothing of one moderator's own): a
 * console join on a 10,000-item jam cost tens of ms of encoding each, now once per state and tick
 * for all of them. Borrowed: valid until the next call. */
const char *jam_moderator_body(struct jam *j, const struct config *cfg, int64_t now_ms,
                               int64_t wall_ms);

/* A snapshot body longer than this is sent as a fragmented message: the session's own head, the
 * body's pieces shared (refcounted) by every session of the role that is sent that state, its own
 * tail. lws 4.1.6 sends at most tx_packet_size (16 KiB, net.c) per write and copies the rest of a
 * longer frame into a buffer of the connection's own, so a 113 KB snapshot cost 113 KB per
 * client in a resync storm (issue 16: 552 MB for 5,000); a piece is written whole, or the kernel
 * takes part of it and lws keeps at most the rest of that piece. */
#define JAM_SNAPSHOT_PIECE 16000
/* The current body of the role ('moderator' or not) in pieces, at the state of
 * '*event_id' (borrowed), or 0 pieces when it fits in one piece (then sent whole). */
size_t jam_snapshot_pieces(struct jam *j, const struct config *cfg, bool moderator, int64_t now_ms,
                           int64_t wall_ms, struct frame *const **pieces, const char **event_id);

#endif
