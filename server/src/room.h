/* SPDX-License-Identifier: MIT
 * room.h - one live jam: its configuration, clock, participants, items, votes, rankings and the
 * record of applied operation ids. Pure: no I/O, and time comes in (event timestamps or now_ms).
 *
 * The state is a pure function of the jam's event stream: room_apply() is the only mutator of
 * jam state, used alike for live events (after Redis confirmed them) and for replay. room_check()
 * validates a client's write against the applied state plus the writes still in flight
 * (room_reserve/room_unreserve), so that a checked event always applies cleanly.
 *
 * The clock (proto/messages.md, "Phases"):
 *
 *            start              deadline / set_phase            deadline of the last phase
 *  LOBBY ─────────────► RUNNING(i) ───────────────► RUNNING(i+1) ─ … ─────────────► ENDED
 *                          │  ▲
 *                    pause │  │ resume        (set_phase jumps to any phase from any state)
 *                          ▼  │
 *                        PAUSED(i)
 */
#ifndef COJAM_ROOM_H
#define COJAM_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "msg.h"
#include "stream.h"

struct fair;
struct rank;
struct words;

enum clock_state { CLOCK_LOBBY = 0, CLOCK_RUNNING, CLOCK_PAUSED, CLOCK_ENDED };

struct room_limits {
    uint32_t max_items;        /* items per jam */
    uint32_t max_participants; /* participants per jam */
};

/* Per-participant limits, checked by room_check only (like room_limits: they come from the
 * server's configuration, not from the stream, so replay never refuses what was once accepted).
 * Zero (room_new's default) = no limit. */
struct room_quotas {
    uint32_t items;   /* items one citizen may post, hidden ones included */
    uint32_t pending; /* posts, votes and unvotes in flight across its sessions */
};

struct item {
    uint32_t id; /* 1.., dense, in stream order */
    enum kind kind;
    uint32_t parent; /* 0 = none */
    int64_t author;  /* participant id */
    enum role by;    /* the author's session role (citizen or moderator) */
    char *on_behalf; /* owned: a scribe entry's person ("" = from the floor); NULL = none. The
                        author is then the moderator who typed it */
    int phase_index; /* agenda index it was posted in */
    int32_t votes;
    bool hidden;
    enum preset hide_preset; /* the hide's preset while hidden */
    char *hide_reason;       /* owned: the hide's reason while hidden, NULL = none */
    bool in_delta;           /* already listed in the tick's changed items */
    bool votes_in_delta;     /* already listed in the tick's vote changes */
    bool shown_in_delta;     /* already listed in the tick's showings changes */
    char *text;              /* owned */
    /* pre-moderation (proto/messages.md, "Pre-moderation, the review queue and team moderation") */
    int64_t at_ms;       /* its posted event's at: the queue's age follows from it */
    bool pending;        /* waiting for review: not shown, ranked, votable or a parent */
    bool rejected;       /* hidden by a reject (not a hide): its author is told so */
    bool claim_in_delta; /* already listed in the tick's claim changes */
    int64_t claim_by;    /* the moderator whose claim was stored last, 0 = none */
    int64_t claim_until; /* ... which runs for events whose at is before this (wall ms) */
    /* merges (proto/messages.md, "Merging duplicates") */
    uint32_t merged_into; /* a duplicate: the item it is merged into, 0 = none. Out of the
                             rankings, words and the visible count; votes = those cast on it */
    uint32_t n_merged;    /* a merge target: how many duplicates are merged into it (derived);
                             then votes = the distinct participants who voted for the group */
    bool merge_spotlit;   /* a duplicate the merge took out of the spotlight */
    uint8_t merge_pin;    /* ... and off the pins: 1 + its place there then, 0 = not pinned */
    uint32_t shown;       /* times offered in discover answers: the sum of its showings events */
};

/* A claim holds for 120 s after its event's at: long enough to read an item and type a reason,
 * short enough that a moderator who walked away blocks nobody for long. */
#define ROOM_CLAIM_MS 120000

/* In the votes map: a vote that a merge collapsed (its voter voted for another item of the
 * group too): it stands, counts for nothing, and its budget point was given back. */
#define ROOM_VOTE_COLLAPSED 0x100u

struct participant {
    int64_t pid;
    enum role role;
    char *nickname;                /* owned, NULL when anonymous */
    uint32_t used[JAM_MAX_PHASES]; /* standing votes cast in each agenda index */
    uint32_t pending_votes;        /* votes in flight (counted against the current phase) */
    uint32_t pending_writes;       /* posts, votes and unvotes in flight, from all its sessions */
    uint32_t pending_posts;        /* posts in flight (counted against its item quota) */
    uint32_t n_posted;             /* items it posted, hidden ones included */
    bool removed;                  /* a moderator removed it: its token no longer rejoins and
                                      its writes are refused (room_apply too) */
    uint32_t invite;               /* a moderator who joined with this named invite's secret
                                      (its nickname is the invite's name), 0 = with the jam's */
    bool muted;                    /* a moderator muted it: its writes are refused (apply too) */
    enum preset mod_preset;        /* the latest mute's or removal's preset while in force */
    char *mod_reason;              /* owned: ... and its reason, NULL = none */
    uint32_t *voted;               /* owned: ids of items this participant votes for, unordered */
    size_t n_voted, cap_voted;
};

struct clock {
    enum clock_state state;
    int index; /* agenda index, -1 in LOBBY (and the last index in ENDED) */
    bool has_deadline;
    int64_t deadline_ms;  /* RUNNING with deadline: wall-clock ms */
    int64_t remaining_ms; /* PAUSED with deadline */
};

/* What changed since the last room_delta_reset(): the content of the next broadcast update. */
struct room_delta {
    char prev[MSG_EVENT_ID_MAX + 1]; /* last event id before this delta */
    char from[MSG_EVENT_ID_MAX + 1]; /* "" when no event was applied */
    char to[MSG_EVENT_ID_MAX + 1];
    uint32_t *items;
    size_t n_items, cap_items; /* new, hidden or unhidden items */
    uint32_t *votes;
    size_t n_votes, cap_votes; /* items whose vote count changed */
    uint32_t *shown;
    size_t n_shown, cap_shown; /* items whose `shown` changed (showings; never by a vote alone) */
    unsigned kinds;            /* bit per kind whose ranking may have changed */
    bool clock;
    bool stats;
    bool stage;      /* spotlight, pins or announcement */
    size_t log_from; /* modlog entries from here on are new (live deltas; catch-ups: none) */
    uint32_t *claims;
    size_t n_claims, cap_claims; /* items whose claim was made, renewed, released or dropped */
};

/* The recorded outcome of an applied write: everything its ack said, so that a retried op gets
 * the very same ack (proto/messages.md). All of it follows from the stream up to the event, so
 * replay rebuilds it exactly. */
struct op_done {
    char event_id[MSG_EVENT_ID_MAX + 1];
    bool has_budget;     /* vote/unvote: the ack carries budget_left */
    bool invite;         /* invite: 'item' is the new invite's id (the ack carries its secret) */
    uint32_t item;       /* post: the new item id, else 0 */
    int64_t budget_left; /* votes left in the phase right after the event; -1 = unlimited */
};                       /* in this order 56 bytes (LP64), not 64: there is one per op */

/* One applied op: its sender, its id and its outcome. */
struct room_op {
    int64_t pid;
    struct op_done done;
    char op[]; /* the op id */
};

/* The tamper-evident record of a jam's stream (proto/messages.md, "The event chain"):
 * head(0) = 32 zero bytes, head(n) = SHA-256(head(n-1) || id || "\n" || canonical encoding of event
 * n), over every event room_apply is given in stream order, whether it took effect or not (a
 * retry's duplicate is still a stored entry). A function of the stream alone, so every process
 * computes the same heads whoever appended. */
#define ROOM_CHAIN_BYTES 32
struct room_chain {
    uint8_t head[ROOM_CHAIN_BYTES];
    uint64_t n;                    /* events chained */
    char id[MSG_EVENT_ID_MAX + 1]; /* the last chained id, "" = none */
};

/* One line of the public log of moderator and clock actions (process transparency). */
struct mod_entry {
    char event_id[MSG_EVENT_ID_MAX + 1];
    enum event_type type;
    int64_t by; /* moderator pid, 0 = the server clock */
    int64_t at_ms;
    int64_t item;       /* hidden/unhidden, spotlight, pins; posted: the new item */
    int64_t index;      /* phase_set/phase_ended */
    int64_t seconds;    /* extended */
    int64_t pid;        /* removed, reinstated, muted, unmuted: the participant */
    bool hide_posts;    /* removed: its items were hidden in the same event */
    enum preset preset; /* hidden, removed, muted, rejected */
    char *reason; /* owned: hidden, removed, muted, rejected; announced: the text; posted (a scribe
                     entry): the person it was typed for */
    uint32_t *items; /* owned: approved, rejected, claimed, released, a bulk hidden; NULL = none */
    size_t n_items;
    char *word;  /* owned: the theme events' word (themes_merged: into); NULL = none */
    char *label; /* owned: theme_renamed's label ("" = cleared); NULL = none */
    char *words[MSG_THEME_WORDS_MAX]; /* owned: themes_merged's words */
    size_t n_words;
    uint8_t chain[ROOM_CHAIN_BYTES]; /* the chain head right after this event */
};

/* A moderator's rule for the theme of one word (proto/messages.md, "Themes"), mirrored into the
 * room's words (words_set_hidden, words_set_merged), which apply it. A rule that no longer says
 * anything (no label, not merged, not hidden) is dropped. */
struct room_theme {
    char *word;  /* owned: one word in its folded form (words_is_word) */
    char *label; /* owned: what screens show for its theme; NULL = the word */
    char *into;  /* owned: the word whose theme its items count in; NULL = its own */
    bool hidden; /* no theme, not in the cloud */
};

/* A named moderator invite (proto/messages.md, "Named moderator invites"): minted by a moderator
 * who joined with the jam's secret, revocable. Its secret is derived (auth_invite_secret), never
 * stored: the room keeps the hash that a join is checked against, as it does the jam's. */
struct room_invite {
    uint32_t id; /* 1.., dense, in stream order */
    char *name;  /* owned: the nickname of whoever joins with it */
    char secret_sha256[65];
    int64_t by; /* the moderator who minted it */
    int64_t at_ms;
    bool revoked;
};

/* What the screen and phones put above the lists (proto/messages.md, "Moderator actions"). */
#define ROOM_MAX_PINS 10
struct room_stage {
    uint32_t spotlight; /* item id, 0 = none */
    uint32_t pinned[ROOM_MAX_PINS];
    size_t n_pinned;
    char *announcement;   /* owned, NULL = none */
    int64_t announced_ms; /* the announced event's at */
    int64_t until_ms;     /* its end (at + duration_s), 0 = until cleared */
};

struct room {
    struct jam_config cfg; /* owned */
    struct room_limits limits;
    struct room_quotas quotas;
    struct clock clock;
    char last_id[MSG_EVENT_ID_MAX + 1];
    uint64_t n_events;
    struct room_chain chain;

    struct item **items; /* owned; items[id - 1] */
    size_t n_items, cap_items;
    uint32_t n_visible;
    int64_t total_votes;
    struct rank *rank[KIND__COUNT]; /* owned: visible items per kind */
    struct fair *fair[KIND__COUNT]; /* owned: the same items by showings and by fair score */
    enum order order;               /* the order screens and phones use (set_order) */
    struct words *words;            /* owned: the visible items' words (words.h), all kinds */
    uint64_t words_version; /* +1 whenever an item enters or leaves 'words' or a vote changes */

    struct imap pid_index;             /* pid -> index into participants */
    struct participant **participants; /* owned */
    size_t n_participants, cap_participants;
    uint32_t n_citizens; /* participants who joined as citizens (stats: not moderators) */
    int64_t next_pid;    /* next pid to hand out (covers joins in flight) */

    struct imap votes;        /* (pid << 32 | item) -> agenda index the vote was cast in, with
                                 ROOM_VOTE_COLLAPSED when a merge refunded it */
    struct imap ops;          /* keyed hash of (pid, op) -> struct room_op, owned: every
                                    applied op with its outcome, one allocation each, never
                                    removed (an op id must never take effect twice, however late
                                    the retry) */
    struct mod_entry *modlog; /* owned */
    size_t n_modlog, cap_modlog;
    struct room_stage stage;
    enum reveal reveal;          /* what screens and citizens see of the counts (set_reveal) */
    struct room_invite *invites; /* owned: invites[id - 1], at most MSG_INVITES_MAX */
    size_t n_invites;
    struct room_theme *themes; /* owned: at most MSG_THEME_RULES_MAX, in the order first ruled */
    size_t n_themes;

    /* in flight (not state: reset on restart) */
    struct imap inflight; /* (pid << 32 | item) -> 1 while a vote/unvote is in flight */
    uint32_t pending_posts;
    uint32_t pending_joins;
    uint32_t barrier;    /* moderator or clock events in flight */
    struct imap offered; /* item -> showings this process offered in discover answers and has not
                            put in a showings event yet (room_take_showings) */

    uint32_t online; /* connected citizen sessions, maintained by the caller */
    struct room_delta delta;
    uint32_t *top_cache[KIND__COUNT]; /* owned: last broadcast top list per kind */
    size_t top_n[KIND__COUNT];
};

/* A new room in LOBBY for a jam_created event (deep-copies 'cfg'). */
struct room *room_new(const struct jam_config *cfg, const struct room_limits *limits);
void room_free(struct room *r);

/* Validate a write by participant 'pid' with role 'role' (msg types post, vote, unvote and the
 * moderator actions). Returns NULL and fills 'out' with the event to store (the caller sets
 * out->at_ms and clears it), or returns an error code of proto/messages.md. */
const char *room_check(const struct room *r, int64_t pid, enum role role, const struct msg *m,
                       struct event *out);
/* Validate a join (citizen or moderator; the moderator secret is checked by the caller).
 * Returns NULL and fills 'out' (a joined event with a fresh pid), or an error code. */
const char *room_check_join(struct room *r, const struct msg *m, struct event *out);
/* If the running phase's deadline has passed at 'now_ms' and no clock event is in flight,
 * fill 'out' with a phase_ended event and return true. */
bool room_check_deadline(const struct room *r, int64_t now_ms, struct event *out);

/* Count a checked event as in flight / no longer in flight (call unreserve before apply). */
void room_reserve(struct room *r, const struct event *e);
void room_unreserve(struct room *r, const struct event *e);

/* room_apply's answer for an op id that was already applied: the event has no second effect (a
 * retry whose first attempt reached the stream too). Compare the pointer. */
extern const char room_err_duplicate_op[];
/* room_apply's answer for a write of a participant removed after the write was checked (the
 * removal reached the stream first): no effect. Compare the pointer. */
extern const char room_err_removed[];
/* room_apply's answer for a join whose pid an earlier entry took: another process handed out the
 * same pid (room_check_join picks the next one this process knows of) and its join reached the
 * stream first. No effect: the loser joins again with a pid after it. Compare the pointer. */
extern const char room_err_pid_taken[];
/* room_apply's answer for a post, vote or unvote of a participant muted after it was checked. */
extern const char room_err_muted[];
/* room_check's and room_apply's answer for a write (or a join, or a rejoin: room_invite_revoked)
 * of a moderator whose invite was revoked. Compare the pointer. */
extern const char room_err_invite_revoked[];

struct room_result {
    uint32_t item;       /* post: new item id */
    int64_t budget_left; /* vote/unvote: -1 = unlimited; by the applied state only, not counting
                             the participant's votes still in flight (a function of the stream) */
};
/* Apply a stored event with stream id 'id'. Returns NULL, or an error code when the event does
 * not apply to this state (then nothing changed but the chain). Events of another jam are the
 * caller's concern. An event with an id after r->chain.id is chained first, whatever the outcome;
 * one at or before it (judged already) is applied without being chained again. */
const char *room_apply(struct room *r, const char *id, const struct event *e,
                       struct room_result *res);

/* The next chain head: SHA-256(c->head || id || "\n" || json[0..len)) into c, with c->id = id. */
void room_chain_link(struct room_chain *c, const char *id, const char *json, size_t len);
/* Chain a stored entry (its payload as the stream holds it) as room_apply would: decoded, then
 * linked with its canonical encoding. Returns false, changing nothing, if it does not decode
 * (such an entry has no effect and is no part of the chain). */
bool room_chain_stored(struct room_chain *c, const char *id, const char *payload, size_t len);
/* Lowercase hex of a head (64 characters plus NUL). */
void room_chain_hex(const uint8_t head[ROOM_CHAIN_BYTES], char out[2 * ROOM_CHAIN_BYTES + 1]);

/* The moderators' rule for 'word''s theme, or NULL when it has none. */
const struct room_theme *room_theme(const struct room *r, const char *word);

/* The recorded outcome of participant pid's op, or NULL. */
const struct op_done *room_op_done(const struct room *r, int64_t pid, const char *op);
/* Walk the applied ops in no particular order:
 *     for (size_t pos = 0; (o = room_op_next(r, &pos)) != NULL;) ...
 * The records are the room's (valid until room_free); applying events while walking is not allowed. */
const struct room_op *room_op_next(const struct room *r, size_t *pos);
/* True when pid has a standing vote for 'item', and then *index is the agenda index it was cast in
 * (the phase budget it counts against). */
bool room_vote_index(const struct room *r, int64_t pid, uint32_t item, int *index);
/* True when pid's standing vote for 'item' was collapsed by a merge (refunded, not counted). */
bool room_vote_collapsed(const struct room *r, int64_t pid, uint32_t item);
/* The votes each item counts, by the agenda index (phase budget) they were cast in, into
 * out[(id - 1) * r->cfg.n_agenda + index] (r->n_items * r->cfg.n_agenda zeroed entries, filled
 * here). An item's row sums to its votes: a duplicate's the votes cast on it (the collapsed ones
 * too), a merge target's each distinct voter of its group once, in the phase of its counted vote. */
void room_votes_by_phase(const struct room *r, uint32_t *out);

struct participant *room_participant(const struct room *r, int64_t pid);
/* The invite with this id, or NULL. */
const struct room_invite *room_invite(const struct room *r, int64_t id);
/* True when 'p' joined with an invite that has been revoked since: it may no longer act or rejoin. */
bool room_invite_revoked(const struct room *r, const struct participant *p);
struct item *room_item(const struct room *r, int64_t id);
/* Votes left for 'p' in the current phase: -1 = unlimited (or no running phase budget). */
int64_t room_budget_left(const struct room *r, const struct participant *p);
bool room_can_post(const struct room *r, enum kind k);
bool room_can_vote(const struct room *r, enum kind k);
/* The announcement still running at wall-clock 'at_ms' (an event's at, or now), or NULL. */
const char *room_announcement(const struct room *r, int64_t at_ms);
/* True when 'it' has a claim that still holds for an event stored at 'at_ms' (or shown at now). */
bool room_claim_running(const struct item *it, int64_t at_ms);
/* The kinds (bit per kind) whose vote counts and ranking screens and citizens may not see now:
 * every kind while the reveal is `hidden`, the kinds the current phase votes on while it runs
 * (or is paused) under `per_phase`, none when `live` (proto/messages.md, "Reveal control"). */
unsigned room_hidden_kinds(const struct room *r);
/* Wall-clock ms of the running phase's deadline, or 0 when none. */
int64_t room_deadline(const struct room *r);
/* Remaining ms at 'now_ms' (>= 0), or -1 when the clock has no deadline. */
int64_t room_remaining(const struct room *r, int64_t now_ms);
void room_set_online(struct room *r, uint32_t online);

/* Compare the top 'k' of kind 'kind' with the last broadcast list; when different, store it,
 * copy it to 'out' (k entries at least), set *n and return true. */
bool room_top_changed(struct room *r, enum kind kind, size_t k, uint32_t *out, size_t *n);
/* The top 'k' visible items of 'kind' in the jam's order (r->order). */
size_t room_top(const struct room *r, enum kind kind, size_t k, uint32_t *out);
/* ... in order 'o': "top" by votes (then the older item), "fair" by the Wilson score. */
size_t room_top_by(const struct room *r, enum kind kind, enum order o, size_t k, uint32_t *out);
/* The fair score of 'it' in millionths: the lower bound of the 95% Wilson score interval of
 * votes / max(shown, votes) (fair.h's fair_wilson). */
int64_t room_fair_score(const struct item *it);

/* A discover view for participant 'pid' (proto/messages.md, "A fair order"): up to 'k' visible
 * items of the kinds the running phase votes on (every kind when it votes on none), neither the
 * participant's own nor voted for by it, with the fewest showings (applied plus this process's
 * offers not yet batched) first; ties go by a hash of (pid, id), so that participants asking at
 * the same moment get different items. At most ROOM_DISCOVER_SCAN candidates of each kind are
 * looked at. A read: nothing changes; the caller counts the offer with room_offered. */
#define ROOM_DISCOVER_SCAN 64
size_t room_discover(const struct room *r, int64_t pid, size_t k, uint32_t *out);
/* Count one offer of each of 'ids' (not state until room_take_showings' event applies). */
void room_offered(struct room *r, const uint32_t *ids, size_t n);
/* Move up to MSG_SHOWINGS_MAX of the offers counted so far into a showings event 'out' (items in
 * id order; the caller sets at_ms and clears it). Returns false, 'out' zeroed, when none. */
bool room_take_showings(struct room *r, struct event *out);
void room_delta_reset(struct room *r);

/* Catch-up (a resume served from the stream): add to the caller's 'd' (zeroed at first, released
 * with room_delta_clear) what the stored event 'e' with id 'id' touched, as the current state
 * sees it: the items it posted, hid or unhid, the items whose votes it changed, the kinds whose
 * ranking it may have changed, clock and stats. Feed the events in stream order; d->from and
 * d->to become the first and last id (d->prev is the caller's). Reads 'r' only. */
void room_touch(const struct room *r, const char *id, const struct event *e, struct room_delta *d);
void room_delta_clear(struct room_delta *d);

/* ---- restoring a room from a snapshot (for the decoder in snapshot.c only) ------------------ */

/* A decoder turns a fresh room_new() into the applied state a snapshot describes: one call of
 * room_restore_head, then the items in id order, the participants (each followed by its votes),
 * the ops and the moderation log in log order, then room_restore_done once. Each call copies what
 * it is given and returns false, changing nothing, when the data contradicts the state restored so
 * far; the caller then frees the room. They bypass room_apply's checks of what a phase accepts, so
 * they are never for a live room: room_apply stays the only mutator of live state. */
bool room_restore_head(struct room *r, const struct clock *c, const char *last_id,
                       uint64_t n_events, int64_t next_pid);
/* The reveal mode in force. */
bool room_restore_reveal(struct room *r, enum reveal mode);
/* The next invite ('inv->id' must be n_invites + 1; the name is copied). Before the participants. */
bool room_restore_invite(struct room *r, const struct room_invite *inv);
/* The invite 'p' joined with (0 = none; else one restored already, and 'p' a moderator). */
bool room_restore_joined_with(struct room *r, struct participant *p, uint32_t invite);
/* The order in force. */
bool room_restore_order(struct room *r, enum order o);
/* A theme rule (after the items): false when it is no word, a second rule for a word, a chain of
 * merges or one rule too many. Takes nothing: the strings are copied. */
bool room_restore_theme(struct room *r, const struct room_theme *t);
/* 'it->id' must be the next id (n_items + 1); in_delta flags are ignored; text and hide_reason
 * are copied. */
bool room_restore_item(struct room *r, const struct item *it);
/* The spotlight, pins and announcement (copied; each item id must be restored already). */
bool room_restore_stage(struct room *r, const struct room_stage *st);
/* A participant's moderation: removed and/or muted, with the reason and preset in force. */
bool room_restore_sanction(struct room *r, struct participant *p, bool removed, bool muted,
                           enum preset preset, const char *reason);
/* Like a joined event ('nickname' NULL when anonymous), with the votes it used in each agenda
 * index. Returns the new participant, or NULL. */
struct participant *room_restore_participant(struct room *r, int64_t pid, enum role role,
                                             const char *nickname,
                                             const uint32_t used[JAM_MAX_PHASES]);
/* A standing vote of 'p' for 'item' cast in agenda index 'index', ORed with ROOM_VOTE_COLLAPSED
 * when a merge collapsed it (the item's count is restored with the item, not here). */
bool room_restore_vote(struct room *r, struct participant *p, uint32_t item, int index);
bool room_restore_op(struct room *r, int64_t pid, const char *op, const struct op_done *done);
bool room_restore_moderation(struct room *r, const struct mod_entry *m);
/* After the items: check every duplicate's merged_into (an earlier or later item of the same
 * kind, itself neither merged, hidden nor pending) and count each target's duplicates. */
bool room_restore_merges(struct room *r);
/* The chain as it was (checks the id's form and that it is not before the last applied id). */
bool room_restore_chain(struct room *r, const struct room_chain *c);
/* Rebuild what follows from the restored items (rankings, visible count, vote total) and start
 * an empty delta. */
void room_restore_done(struct room *r);

#endif
