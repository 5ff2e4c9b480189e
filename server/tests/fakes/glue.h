/* SPDX-License-Identifier: MIT
 * glue.h - what the unit tests of the glue modules share: a hub over the fake store and the fake
 * net (fake_store.h, fake_net.h) with a real configuration, jams, sessions opened through
 * hub_on_open, messages sent through handlers_on_message, and the frames a session was sent.
 * It checks nothing itself: helpers return NULL or false when something did not happen, and the
 * test CHECKs that.
 */
#ifndef COJAM_GLUE_H
#define COJAM_GLUE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "fakes/fake_net.h"
#include "fakes/fake_store.h"
#include "msg.h"
#include "pending.h"

struct hub;
struct jam;
struct session;

#define GLUE_SESSIONS 64
#define GLUE_SECRET "moderator-secret" /* the moderator secret of every glue jam */

struct glue {
    struct config cfg;
    struct store *store;
    struct net *net;
    struct hub *hub;
    struct resume *resume;
    struct session *sessions[GLUE_SESSIONS]; /* owned: open, in opening order */
    size_t n_sessions;
};

/* A ready hub with the default configuration plus 'flags' (command-line options, NULL-terminated,
 * or NULL); --ring-frames 8 unless given, so that the ring wraps quickly. */
void glue_init(struct glue *g, const char *const *flags);
/* Close the sessions still open and free everything. */
void glue_deinit(struct glue *g);

/* A jam with join code 'code', as recovery makes it: its jam_created entry is in the fake stream
 * and its code in the set of jams.
 * Agenda: explore (60 s), ideate (no deadline), results; 5 votes per phase; text 2..500. */
struct jam *glue_jam(struct glue *g, const char *code);

/* The stored form (stream field "e") of participant 'pid' joining as an anonymous citizen: a new
 * string (free it). */
char *glue_joined(int64_t pid);

/* A new open session (session_init + hub_on_open) at the fake clock's time. */
struct session *glue_open(struct glue *g);
/* hub_on_close, then free it as net.c does. */
void glue_close(struct glue *g, struct session *s);
/* Deliver one text message (printf format) from 's', as net.c does. */
void glue_send(struct glue *g, struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Dispatch the store's waiting results (loop_on_wake). */
void glue_settle(struct glue *g);
/* glue_send, glue_settle, then glue_pop: the first frame 's' was sent (free it), or NULL. */
char *glue_call(struct glue *g, struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A moderator of jam 'code' starts it (explore, 60 s). Returns the moderator, or NULL. */
struct session *glue_start(struct glue *g, const char *code);
/* Open a session and join jam 'code' as 'role' (the join appended and answered). Returns the
 * session with its welcome popped and its queue emptied, or NULL. 'token' (MSG_TOKEN_MAX + 1
 * bytes, or NULL) receives the welcome's token. */
struct session *glue_join(struct glue *g, const char *code, enum role role, char *token);

/* A request for the pending table that counts what happens to it: '*done' when it completes (and
 * 'err' then holds the result's err), '*freed' when it is released without completing. */
struct glue_probe {
    struct pending base;
    int *done, *freed;
    uint64_t ctx;    /* of the result it got */
    const void *arg; /* given to done */
};
extern const char *glue_probe_err; /* the err of the last probe completed */
struct pending *glue_probe_new(int *done, int *freed);

/* The oldest private frame queued for 's' as a new string (free it), or NULL. */
char *glue_pop(struct session *s);
/* Pop the oldest frame of 's': is it an error with 'code'? */
bool glue_pop_error(struct session *s, const char *code);
/* Drop every private frame queued for 's'; returns how many there were. */
size_t glue_drain(struct session *s);
/* The next frame broadcast_next_frame gives 's', as a new string (free it), or NULL; '*more' as
 * it says (may be NULL). */
char *glue_pull(struct glue *g, struct session *s, bool *more);
/* The string value of "key" in 'json' into 'out' (size bytes); false if absent. */
bool glue_field(const char *json, const char *key, char *out, size_t size);
/* Does 'json' have "type":"<type>"? */
bool glue_is(const char *json, const char *type);

#endif
