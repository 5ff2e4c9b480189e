/* SPDX-License-Identifier: MIT
 * session.h - per-connection state: identity, the jam it joined, its bounded private frame
 * queue, its cursor in the jam's shared broadcast ring, a token-bucket rate limiter and an error
 * counter. Pure (no lws): the transport keeps an opaque handle in 'conn'.
 */
#ifndef COJAM_SESSION_H
#define COJAM_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fifo.h"
#include "msg.h"

struct frame;
struct jam;
struct metrics;

#define SESSION_QUEUE_FRAMES 64        /* private frames (acks, errors, snapshots) */
#define SESSION_QUEUE_BYTES (1u << 20) /* 1 MiB of private frames */
#define SESSION_RATE_PER_S 20          /* messages per second sustained */
#define SESSION_RATE_BURST 40
#define SESSION_MAX_ERRORS 50 /* within SESSION_ERROR_WINDOW_MS: close 4003 */
#define SESSION_ERROR_WINDOW_MS 60000
#define SESSION_MAX_INFLIGHT 32 /* writes waiting for Redis */
#define SESSION_JOIN_TIMEOUT_MS 10000
/* One resync snapshot per second per session: a snapshot of a 10,000-item jam is ~1 MB, and 19
 * syncs/s from one screen pushed 108 MB in 8 s and slowed everyone's ping 45x (issue 10). A
 * client that detects a gap needs one snapshot; the updates that follow it close later gaps. */
#define SESSION_SYNC_INTERVAL_MS 1000
/* `similar` asks at most this often per session (a phone asks as its user pauses typing). */
#define SESSION_SIMILAR_INTERVAL_MS 500
/* `discover` at most once a second per session: a phone asks when its user opens the tab or has
 * gone through the items shown; each answer counts as showings, so a script asking in a loop
 * would inflate its items' exposure (and the stream) if it could ask faster. */
#define SESSION_DISCOVER_INTERVAL_MS 1000

/* The lists a session can be in at once, each through its own links (struct session_list). */
enum session_lists {
    SESSION_LIST_IDLE, /* every WebSocket session, the one heard from longest ago first */
    SESSION_LIST_PUSH, /* sessions a broadcast frame is to be written to, in the order pushed */
    SESSION_LISTS,
};

/* What a member must be sent before the ring's frames. */
enum want_snapshot {
    WANT_NONE = 0,
    WANT_FIRST,  /* the snapshot that follows a join */
    WANT_RESYNC, /* a full snapshot marked resync: the client could not be caught up */
};

/* Ordered to leave no holes between members: lws allocates one per connection. */
struct session {
    uint64_t id;       /* never reused; completions name sessions by id */
    void *conn;        /* borrowed: the transport's handle */
    uint64_t addr;     /* the peer's IPv4 address (network order) + 1, set by net.c; 0 = unknown */
    int64_t opened_ms; /* monotonic */
    struct metrics *metrics; /* borrowed: the hub's, set at open */

    struct jam *jam; /* borrowed: jams live until shutdown; NULL before join */
    bool joining;    /* a join is being stored */
    enum role role;
    int64_t pid;                               /* 0 for screens */
    struct session *next_member, *prev_member; /* the jam's member list */

    uint64_t cursor; /* next ring sequence to send */
    enum want_snapshot wants_snapshot;
    unsigned inflight; /* writes sent to the store and not answered yet */
    /* A resume the ring could not serve reads the missed events from the stream, a page at a time
     * when the previous one has been sent; ring frames wait until it has caught up. */
    struct catchup {
        bool on;
        bool waiting;                     /* for a page being read */
        bool found;                       /* the client's last event id was found in the stream */
        uint32_t events;                  /* sent so far */
        uint64_t bytes;                   /* of updates sent so far */
        char after[MSG_EVENT_ID_MAX + 1]; /* the last event id the client has */
    } catchup;
    int64_t last_sync_ms;     /* monotonic: the last sync answered with a snapshot, 0 = none */
    int64_t last_similar_ms;  /* monotonic: the last `similar` answered, 0 = none */
    int64_t last_discover_ms; /* monotonic: the last `discover` answered, 0 = none */
    int64_t resync_window_ms;
    int resyncs; /* resyncs within the window that began at resync_window_ms */
    int errors;  /* errors within the window that began at errors_window_ms */
    int64_t errors_window_ms;

    struct fifo queue; /* owned references to struct frame: private frames, oldest first */
    struct fifo parts; /* owned references: the rest of a message sent in fragments (a large
                          snapshot), sent before anything else */
    size_t q_bytes;

    double tokens; /* rate limiter */
    int64_t tokens_ms;

    int close_code; /* non-zero: close with this code at the next writeable */
    int drain_code; /* non-zero: close with this code once the queued frames have left */
    char close_reason[64];

    char *rx; /* owned: fragments being reassembled */
    size_t rx_len, rx_cap;
    size_t rx_discard; /* bytes read of a message over the cap (then closed with 1009) */

    /* The transport's lists of its sessions (net.c, enum session_lists): by the time they were
     * last heard from (keep-alive: a ping is owed, or was sent and not answered yet), and those
     * with a broadcast frame to be written from the tick. */
    struct session_link {
        struct session *prev, *next;
    } links[SESSION_LISTS];
    int64_t idle_ms;  /* monotonic: last heard from, or the ping sent since */
    bool rx_paused;   /* the transport stopped reading while a frame is partly sent */
    bool write_armed; /* the transport asked for a WRITEABLE that has not come yet */
    bool ping_due;
    bool ping_sent;
    /* The socket the transport writes frames to itself (plain TCP), or SESSION_SOCK_LIBRARY:
     * through its library (TLS), or SESSION_SOCK_BROKEN: a write failed, close it. */
    int sock;
};
#define SESSION_SOCK_LIBRARY (-1)
#define SESSION_SOCK_BROKEN (-2)

void session_init(struct session *s, uint64_t id, void *conn, int64_t now_ms);
/* Release what the session owns (queued frames, buffers). */
void session_deinit(struct session *s);

/* Queue 'f' for sending. Takes a reference; the caller keeps its own. Returns -ENOBUFS (frame not
 * queued) when the queue is over its frame or byte bound. */
int session_enqueue(struct session *s, struct frame *f);
/* Pop the oldest queued frame (the caller receives the reference), or NULL. */
struct frame *session_dequeue(struct session *s);

/* Token bucket: false when this message is over the rate. */
bool session_rate_ok(struct session *s, int64_t now_ms);
/* Count an error reply the client caused (view_error_by_client; retryable conditions of the
 * server never count); true when the session went over SESSION_MAX_ERRORS. */
bool session_count_error(struct session *s, int64_t now_ms);
/* Mark for closing with 'code' at the next writeable. The first code wins. */
void session_mark_close(struct session *s, int code, const char *reason);
/* Mark for closing with 'code' once the frames queued so far (and any queued meanwhile) have been
 * sent: a frame that says why (a ban's notice) reaches the client before the close. Nothing from
 * the jam's ring is sent meanwhile. */
void session_mark_close_drained(struct session *s, int code, const char *reason);

/* A list of sessions through their links[kind]: O(1) to append, remove and pop, so a session can
 * leave it from anywhere (a close) without a scan. */
struct session_list {
    struct session *head, *tail;
    enum session_lists kind;
};
/* Append 's' at the tail; one already in the list stays where it is. */
void slist_append(struct session_list *l, struct session *s);
/* Put 's' at the head; one already in the list stays where it is. */
void slist_prepend(struct session_list *l, struct session *s);
/* Take 's' out; nothing if it is not in the list. */
void slist_remove(struct session_list *l, struct session *s);
bool slist_contains(const struct session_list *l, const struct session *s);
/* Take out and return the head, or NULL. */
struct session *slist_pop(struct session_list *l);

/* The idle list: sessions in the order they were last heard from. Every connection is pinged
 * after the same silence, so appending at the tail keeps the list sorted and each step is O(1)
 * (lws 4.1.6 keeps one timer per connection in one sorted list instead, and walks all of it to
 * insert: 62% of the loop at 20,000 connections, load-tests/conn-flood-bench.py). */
/* Move 's' (in the list or not) to the tail, heard from at 'now_ms'. */
void idle_touch(struct session_list *l, struct session *s, int64_t now_ms);
/* The session heard from longest ago if that was at least 'quiet_ms' before 'now_ms', or NULL. */
struct session *idle_oldest(const struct session_list *l, int64_t now_ms, int64_t quiet_ms);

#endif
