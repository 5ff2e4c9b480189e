/*
 * jam: one cojam jam as loadgen drives it.  The run's context (jam_t), the connections (conn_t: a
 * WebSocket client plus what the protocol and the measuring keep per client), the server messages
 * (update, ack, snapshot, welcome, error) handled once for every scenario with the scenario's hooks
 * called at fixed points (scenario.h), the joins, the moderator's setup, and the loop step every
 * phase runs (poll, deadline, progress, write timeouts, cursor sweeps).
 */
#ifndef LG_JAM_H
#define LG_JAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "measure.h"
#include "opts.h"
#include "samples.h"
#include "ws.h"

enum { ROLE_CITIZEN, ROLE_MODERATOR, ROLE_WRITER, ROLE_SCREEN }; /* writer, screen: resume-storm only */

typedef struct conn {
    ws_conn_t ws;                       /* first: the WebSocket callbacks' pointer is the connection's */
    uint8_t role, got_welcome, pending; /* pending: a write in flight */
    uint8_t target;                     /* index in jam_t.targets */
    uint32_t id;                        /* index in jam_t.conns */
    uint64_t t_start, t_joined;
    uint64_t voted_mask; /* jam-vote: the moderator's ideas this client has voted for */
    seen_t seen;
} conn_t;

typedef struct scenario scenario_t;

typedef struct jam {
    options_t *opt;
    const scenario_t *sc;
    conn_t *conns; /* clients 0..N-1, the moderator at N, then the scenario's extra connections */
    int nconns;
    char code[32], secret[128];
    int items[64]; /* the moderator's ideas */
    int nitems;
    /* where connections go: the --url list (targets[0] is the default, opt->ws), then --write-url
     * unless it is one of them; vote-to-screen of the citizens that do not write, per target */
    const ws_target_t *targets[LG_MAX_URLS + 1];
    int ntargets, write_target; /* write_target: -1 without --write-url */
    bool citizens_write;        /* the scenario's writers are citizens (jam_writer_ordinal) */
    hist_t h_lat_target[LG_MAX_URLS + 1];
    int readers_target[LG_MAX_URLS + 1]; /* citizens that do not write, joined, per target */
    const char *phase;                   /* for the progress lines */
    int inflight;                        /* citizen connections between connect() and joined */
    struct {
        uint64_t launched, joined, failed, closed_after_join, frames_in, updates, bytes_in, gaps, resyncs, fallback_parse;
    } n;
    hist_t h_connect; /* connect() -> joined, citizens */
    uint64_t hard_deadline;
} jam_t;

/* Allocates the connections (clients + moderator + extra), starts the WebSocket client. */
void jam_init(jam_t *j, options_t *o, const scenario_t *sc, int extra_conns);
/* POST /api/jams (retried for 15 s while the server starts); dies on failure. */
void jam_create(jam_t *j);
/* The moderator joins, starts the jam and posts ideas ideas (0: none); dies on failure. */
void jam_moderate(jam_t *j, int ideas);

/* The writers of the open-loop scenarios: the k-th of the ceil(clients x --writers-frac) is client
 * floor(k x clients / writers), spread over the index space.  Their number; and the k of client idx,
 * or -1 when it does not write. */
int jam_writers(const options_t *o);
int jam_writer_ordinal(const options_t *o, int idx);

/* Opens connection idx with role; false when it failed at once (counted).  A citizen goes to
 * targets[idx mod K] over the --url list, or if it writes (citizens_write) to --write-url or else
 * targets[k mod K]; the moderator to --write-url or the default; the rest to the default. */
bool conn_start(jam_t *j, int idx, int role);
/* Closes c, counting why (NULL: nothing) and a failed join or a drop after join. */
void conn_close(conn_t *c, const char *why);
/* Closes c counting nothing (a deliberate drop). */
void conn_drop(conn_t *c);
/* The join every scenario starts from: citizen u<id>, or the moderator with its secret. */
void jam_send_join(jam_t *j, conn_t *c);

/* One pass of the loop: poll up to timeout_us, then the periodic work (hard deadline: exit 3). */
void jam_step(jam_t *j, int64_t timeout_us);
/* Steps until cond(j) or timeout_s; returns cond(j). */
bool jam_run_until(jam_t *j, bool (*cond)(jam_t *), double timeout_s);
bool jam_never(jam_t *j);
bool jam_all_joined(jam_t *j);
/* Connects the clients (--max-inflight, --connect-rate) until all joined or --connect-timeout; the
 * rest are closed (join_timeout).  Returns the start time. */
uint64_t jam_connect_clients(jam_t *j);
/* Every joined citizen takes its samples over the settled prefix. */
void jam_sweep(jam_t *j);
/* Appends what to the --mark file. */
void jam_mark(const jam_t *j, const char *what);

/* Finds "key":"value" in [p, end): the value's start and length (escapes skipped, not decoded). */
bool scan_str(const char *p, const char *end, const char *key, const char **val, size_t *vlen);
/* Finds "key":<integer> in [p, end). */
bool scan_int(const char *p, const char *end, const char *key, long *out);

#endif
