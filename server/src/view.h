/* SPDX-License-Identifier: MIT
 * view.h - encodes what the server sends (proto/messages.md, "Server -> client" and the HTTP
 * replies) from the room's state. Every function returns a new malloc'd NUL-terminated JSON
 * string that the caller owns. The update's first keys are always type, prev, from, to, in that
 * order (load generators read "to" with a prefix scan).
 */
#ifndef COJAM_VIEW_H
#define COJAM_VIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "msg.h"
#include "room.h"

struct room;
struct participant;

/* 'resumed': every event after the client's last event id can be sent (from memory or read back
 * from the stream), so no snapshot follows: the missed updates do. */
char *view_welcome(const char *token, int64_t pid, enum role role, const char *nickname,
                   bool resumed);
/* A snapshot in two parts, so that a join storm encodes the shared part once per tick. The body:
 * the "jam", "clock", "items", "ranking", "stats" members without braces; 'moderator' shows
 * hidden items in full and, while counts are hidden, the themes with their tops. */
char *view_snapshot_body(const struct room *r, bool moderator, int64_t now_ms, unsigned rank_top);
/* The whole message around a body: type, event_id, resync, and the participant's own "you"
 * ('p' is NULL for screens: no "you"). */
char *view_snapshot_with(const struct room *r, const char *event_id, const char *body,
                         const struct participant *p, bool resync);
/* The same message in three parts, for one sent in fragments around a shared body: the head
 * (`{"type":"snapshot",...,"resync":...,`) and the tail (`,"you":{...}}`, or `}` when 'p' is NULL).
 * view_snapshot_with is head + body + tail. */
char *view_snapshot_head(const char *event_id, bool resync);
char *view_snapshot_tail(const struct room *r, const struct participant *p);
/* Both in one call, at the room's last event id: the body for 'role', wrapped for 'p'. */
char *view_snapshot(const struct room *r, enum role role, const struct participant *p,
                    int64_t now_ms, unsigned rank_top, bool resync);
/* The update for the room's current delta, or NULL when nothing changed. Updates the room's
 * broadcast top-list cache; the caller then calls room_delta_reset(). */
/* Reveal control: what the tick's update withheld from screens and citizens (the counts and
 * rankings of the hidden kinds, the total, the themes' tops), for the jam's moderators:
 * {"type":"counts",...}, or NULL when nothing is withheld. Call before view_update (which moves
 * the ranking cache). */
char *view_counts(const struct room *r, unsigned rank_top);
char *view_update(struct room *r, int64_t now_ms, unsigned rank_top);
struct room_delta;
/* A catch-up update (a resume served from the stream) for the events of 'd' (room_touch): the
 * current values of what they touched, and the current top list of each kind they touched. */
char *view_catchup(const struct room *r, const struct room_delta *d, int64_t now_ms,
                   unsigned rank_top);
/* The ack of an `invite`: the new invite's id and its secret (only its minter gets it, and only
 * in this ack: the stream has its hash). */
char *view_ack_invite(const char *op, const char *event_id, uint32_t invite, const char *secret);
/* budget_left: -1 = unlimited; has_budget false = omit. item 0 = omit. */
char *view_ack(const char *op, const char *event_id, uint32_t item, bool has_budget,
               int64_t budget_left);
char *view_error(const char *op, const char *code, const char *message);
/* The private `notice` telling participant 'p' of its mute, unmute or removal ('type'), with the
 * reason and preset now in force, or that the invite it joined with was revoked. */
char *view_notice(enum event_type type, const struct participant *p);
/* A moderators' private frame: the jam's named invites ({"type":"invites","invites":[…]}), sent to
 * every moderator session when one is minted or revoked (their snapshots carry the list too). */
char *view_invites(const struct room *r);
/* The private `queued` frame: item 'it', waiting for review, in full (to moderators and its
 * author). */
char *view_queued(const struct room *r, const struct item *it);
char *view_pong(bool has_t, int64_t t);
char *view_status(bool storage_ok);
/* The jam's word cloud and live themes (words.h) for screens and moderators: the 'n_words' most
 * used words and up to 'n_themes' themes of the visible items; each theme's top is null while any
 * count is hidden (moderators get it in view_counts and their snapshot). */
#define VIEW_WORDS 40
#define VIEW_THEMES 8
char *view_words(struct room *r);
/* The answer to `similar`: the ids of the items like the text, most alike first. */
char *view_similar(const uint32_t *ids, size_t n);
/* `discover`: the items of a discover view, in the order to show them. */
char *view_discover(const uint32_t *ids, size_t n);

/* HTTP bodies */
/* The public summary of GET /api/jams/<code>; "join_url" is '<public_url>/#<code>', so that a
 * screen shows the public address even when it was opened on another one. */
char *view_summary(const struct room *r, int64_t now_ms, const char *public_url);
char *view_modlog(const struct room *r);
/* The export of a jam (proto/export.schema.json): its configuration, clock, stats, chain head,
 * every item with its lineage, author ("anonymous" when none) and votes per phase, the moderation
 * log, and 'events' (the stream's entries in order, each with the chain head right after it,
 * heads[i]). */
#define VIEW_EXPORT_FORMAT "cojam-export/1"
char *view_export(const struct room *r, const struct stream_entry *events,
                  const uint8_t (*heads)[ROOM_CHAIN_BYTES], size_t n_events, int64_t now_ms);
/* The CSV export of GET /api/jams/<code>/export.csv: a header row, then one row per item in id
 * order (hidden ones too): id, kind, role, parent, phase, rank (its place in its kind's ranking,
 * empty when hidden), votes, one votes_<n>_<phase> column per agenda step, author ("anonymous"
 * when none), by, hidden (yes/no), hidden_reason, text. RFC 4180 with the formula guard (csv.h). */
char *view_export_csv(const struct room *r);
/* The public results of GET /api/jams/<code>/results: jam, clock, "final" (the jam ended or is
 * in a results phase), "exports_public", stats with "contributors" and "voters" (citizens who
 * posted, who hold a vote), the chain head, every visible item with its "rank" and
 * "votes_by_phase", the whole ranking of every kind, and the moderation log. */
#define VIEW_RESULTS_FORMAT "cojam-results/1"
char *view_results(const struct room *r, int64_t now_ms, bool exports_public);
char *view_created(const char *code, const char *secret, const char *public_url);
char *view_http_error(const char *code, const char *message);
char *view_digest(const char *event_id, uint64_t events, const char *sha256);
char *view_health(const char *status, uint64_t clients, uint64_t jams, bool redis_up,
                  int64_t period_ms, int loop_cpu_pct);

/* Human message and retryability of a protocol error code. */
const char *view_error_message(const char *code);
bool view_error_retryable(const char *code);
/* Whether the client's own message caused error 'code' (it then counts toward the error limit);
 * false for every retryable code, for internal and for codes not in the table. */
bool view_error_by_client(const char *code);

#endif
