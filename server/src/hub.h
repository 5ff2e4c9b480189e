/* SPDX-License-Identifier: MIT
 * hub.h - what the glue modules of the loop thread share: the configuration and adapters, the
 * registry of live jams and of sessions, and the requests waiting for the store; plus the few
 * operations every one of them needs (find, send, append). It holds no policy: the message
 * handlers (handlers.h), resumes (resume.h), the broadcast (broadcast.h), the HTTP API (api.h),
 * recovery (recovery.h) and the loop's wake and tick (loop.h) sit above it, and main.c wires them.
 */
#ifndef COJAM_HUB_H
#define COJAM_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "admission.h"
#include "hash.h"
#include "metrics.h"
#include "pending.h"
#include "period.h"

struct config;
struct jam;
struct net;
struct replay;
struct resume;
struct room;
struct frame;
struct session;
struct store;

#define HUB_KEY_MAX 128 /* bytes of the token key that are used */

/* What one source address may do, per kind (proto/messages.md, "Per source address"). */
enum hub_admit {
    ADMIT_JOIN,   /* every join */
    ADMIT_SYNC,   /* every sync answered with a snapshot */
    ADMIT_LOOKUP, /* every GET /api/jams/<code>[/...] */
    ADMIT_GUESS,  /* failed guesses of a code, moderator secret or admin token */
    ADMIT_POST,   /* every citizen's post */
    ADMIT__COUNT
};
/* The buckets, as (per second, burst) at --admission-scale 1. A venue's phones share one NAT
 * address: 1,000 joins at once and 20/s after covers a hall whose phones all join, or all
 * reconnect, within a minute (the per-address connection cap is 1,000 too). The participant page
 * looks a code up once as it is typed: 600 at once, 10/s. Syncs are rare (one per detected gap).
 * Failed guesses: 60 at once, 1/s after, is a hall's worth of typos; a 6-digit code space then
 * takes a single address weeks (proto/messages.md). Posts: 500 at once, 5/s after, is a hall of
 * 1,000 phones each posting twice in a 10-minute phase; one address then needs half an hour, not
 * 20 s, to fill a 10,000-item jam with fresh participants (load-tests/attack-bench.py). */
#define HUB_ADMIT_RULES                                                                            \
    {                                                                                              \
        {20, 1000}, {10, 100}, {10, 600}, {1, 60},                                                 \
        {                                                                                          \
            5, 500                                                                                 \
        }                                                                                          \
    }
#define HUB_ADMIT_KEYS 65536   /* addresses tracked per kind; beyond, new ones share a bucket */
#define HUB_GUESS_LOG_MS 10000 /* at most one log line about failed guesses per this long */

struct hub {
    const struct config *cfg; /* borrowed */
    struct store *store;      /* borrowed */
    struct net *net;          /* borrowed */
    struct resume *resume;    /* borrowed: the catch-up driver (resume_new) */
    uint8_t key[HUB_KEY_MAX]; /* the token key */
    size_t key_len;
    char *admin_token;    /* owned */
    char *public_url;     /* owned */
    struct smap jams;     /* code -> struct jam * (owned) */
    struct smap creating; /* codes being created -> (void *)1 */
    struct pending_table pending;
    struct imap sessions; /* session id -> struct session * (borrowed) */
    uint64_t next_session_id;
    bool ready; /* recovery is complete: joins, writes and creation are served */
    bool storage_up;
    struct replay *replay; /* owned while recovering */
    int64_t recovery_started_ms;
    int64_t last_sweep_ms;
    bool draining;            /* SIGTERM: closing the sessions, then stopping (loop.c) */
    int64_t drain_started_ms; /* when the drain began */
    unsigned snapshots_since_trim;
    bool admit_on; /* --admission-scale > 0 */
    struct admission admit[ADMIT__COUNT];
    uint64_t guesses, refused; /* since the last log line about them */
    int64_t guess_log_ms;
    uint64_t last_guess_addr;
    const char *last_guess_what;
    struct metrics metrics; /* GET /metrics; sessions count into it through s->metrics */
    /* The broadcast period's controller (broadcast_calibrate) and when it last sampled. */
    struct period period;
    int64_t period_sampled_ms;
};

/* 'cfg' and 'store' are borrowed and must outlive the hub. 'token_key' is copied (at most
 * HUB_KEY_MAX bytes of it are used). */
struct hub *hub_new(const struct config *cfg, struct store *store, const uint8_t *token_key,
                    size_t token_key_len, const char *admin_token, const char *public_url);
/* Frees the jams, the requests still waiting and the replay; hub_free(NULL) is a no-op. */
void hub_free(struct hub *h);
void hub_set_net(struct hub *h, struct net *n);

struct jam *hub_find_jam(const struct hub *h, const char *code);
/* Register a new jam for 'room' (takes ownership). */
struct jam *hub_add_jam(struct hub *h, struct room *room);
size_t hub_jam_count(const struct hub *h);
/* The open session with this id, or NULL (completions name sessions by id, never by pointer). */
struct session *hub_find_session(const struct hub *h, uint64_t id);

/* 0 when address 'addr' (the peer's IPv4 address + 1, session.h) may do 'kind' now, with a token
 * taken (ADMIT_GUESS takes none: hub_guess_failed counts it), else the ms to wait, the refusal
 * counted for the log. Always 0 with --admission-scale 0. */
int64_t hub_admit(struct hub *h, enum hub_admit kind, uint64_t addr, int64_t now_ms);
/* A failed guess from 'addr' ('what': "no_such_jam", "bad_secret", ...): charged to its
 * ADMIT_GUESS bucket and logged, at most one line per HUB_GUESS_LOG_MS. */
void hub_guess_failed(struct hub *h, uint64_t addr, const char *what, int64_t now_ms);
/* Forget addresses whose buckets are full again (the loop's sweep). */
void hub_admit_sweep(struct hub *h, int64_t now_ms);

/* Queue a private frame (takes ownership of 'json'). A session whose queue is full is too slow to
 * be worth buffering for: it is closed with 4001 rather than allowed to grow our memory. */
void hub_send(struct session *s, char *json);
/* The same for a frame shared by several sessions: each queue takes its own reference. */
void hub_send_frame(struct session *s, struct frame *f);
/* Send an error frame; errors that the client caused count toward the session's error limit. */
void hub_send_error(struct session *s, const char *op, const char *code, const char *message,
                    int64_t now_ms);

/* Append 'json' to stream 'key' (and 'sadd_member' to 'sadd_set' in the same step, when not NULL)
 * and wait for the result as 'p'. Takes ownership of 'p' in every case: on failure (the store's
 * negative errno is returned) it is freed and never completes. */
int hub_append(struct hub *h, const char *key, const char *json, const char *sadd_set,
               const char *sadd_member, struct pending *p, int64_t now_ms);

/* hub_append through store_append_held: stored only while this process holds the jam's lease. */
int hub_append_held(struct hub *h, const char *key, const char *json, struct pending *p,
                    int64_t now_ms);

/* net callbacks: a connection opened (the session gets its id) or closed (it leaves its jam). */
void hub_on_open(struct session *s, void *arg);
void hub_on_close(struct session *s, void *arg);

#endif
