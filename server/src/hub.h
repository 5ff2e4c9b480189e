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

#include "hash.h"
#include "pending.h"

struct config;
struct jam;
struct net;
struct replay;
struct resume;
struct room;
struct session;
struct store;

#define HUB_KEY_MAX 128 /* bytes of the token key that are used */

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
    unsigned snapshots_since_trim;
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

/* Queue a private frame (takes ownership of 'json'). A session whose queue is full is too slow to
 * be worth buffering for: it is closed with 4001 rather than allowed to grow our memory. */
void hub_send(struct session *s, char *json);
/* Send an error frame; errors that the client caused count toward the session's error limit. */
void hub_send_error(struct session *s, const char *op, const char *code, const char *message,
                    int64_t now_ms);

/* Append 'json' to stream 'key' (and 'sadd_member' to 'sadd_set' in the same step, when not NULL)
 * and wait for the result as 'p'. Takes ownership of 'p' in every case: on failure (the store's
 * negative errno is returned) it is freed and never completes. */
int hub_append(struct hub *h, const char *key, const char *json, const char *sadd_set,
               const char *sadd_member, struct pending *p, int64_t now_ms);

/* net callbacks: a connection opened (the session gets its id) or closed (it leaves its jam). */
void hub_on_open(struct session *s, void *arg);
void hub_on_close(struct session *s, void *arg);

#endif
