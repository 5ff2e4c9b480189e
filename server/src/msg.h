/* SPDX-License-Identifier: MIT
 * msg.h - plain C forms of the wire protocol (proto/messages.md): the messages a client sends
 * and the events stored in Redis. No JSON here: codec.c converts both ways. Strings are
 * NUL-terminated, valid UTF-8, owned by the struct and freed by msg_clear()/event_clear().
 */
#ifndef COJAM_MSG_H
#define COJAM_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits from proto/messages.md. */
#define MSG_OP_MAX 64          /* characters, from [A-Za-z0-9._:-] */
#define MSG_NICK_MAX 40        /* code points */
#define MSG_TEXT_HARD_MAX 2000 /* code points; the jam's max_text is at most this */
#define MSG_REASON_MAX 200     /* code points */
#define MSG_SECRET_MAX 64      /* characters */
#define MSG_TOKEN_MAX 512      /* characters */
#define MSG_EVENT_ID_MAX 41    /* "<20 digits>-<20 digits>" */
#define MSG_CODE_LEN 6         /* join code digits */
#define MSG_EXTEND_MAX_S 3600
#define MSG_MAX_DEPTH 4
#define MSG_TITLE_MAX 120
#define MSG_QUESTION_MAX 500
#define MSG_DURATION_MAX_S 86400
#define MSG_VOTES_PER_PHASE_MAX 1000
#define MSG_ANNOUNCE_MAX 280     /* code points: two lines on a phone, one on the screen */
#define MSG_ANNOUNCE_MAX_S 86400 /* an announcement's duration_s */
/* Items one approve, reject, claim, release or bulk hide names: a console's page of the queue
 * (50 rows) twice over, and a stored event of at most ~1 KiB of ids. */
#define MSG_ITEMS_MAX 100
/* Named moderator invites one jam may have, revoked ones included (proto/messages.md, "Named
 * moderator invites"): a team of moderators several times over, and a snapshot of ~5 KiB of them. */
#define MSG_INVITES_MAX 50
/* Items one showings event names: a 2 s batch of discover answers (5 items each) of a large hall
 * touches a few hundred items; 1,000 ids and counts keep the stored event under ~16 KiB. */
#define MSG_SHOWINGS_MAX 1000
/* Themes (proto/messages.md, "Themes"): a label is a short heading on the screen; one merge names
 * a handful of words (a word's plural, spellings, synonyms); a jam keeps rules for at most 64
 * words, eight themes' worth of merges several times over and a snapshot of ~5 KiB of them. */
#define MSG_THEME_LABEL_MAX 40 /* code points */
#define MSG_THEME_WORDS_MAX 8
#define MSG_THEME_RULES_MAX 64

enum msg_type {
    MSG_NONE = 0,
    MSG_JOIN,
    MSG_POST,
    MSG_VOTE,
    MSG_UNVOTE,
    MSG_START,
    MSG_SET_PHASE,
    MSG_PAUSE,
    MSG_RESUME,
    MSG_EXTEND,
    MSG_HIDE,
    MSG_UNHIDE,
    MSG_SYNC,
    MSG_PING,
    MSG_REMOVE,
    MSG_REINSTATE,
    MSG_MUTE,
    MSG_UNMUTE,
    MSG_SPOTLIGHT,
    MSG_UNSPOTLIGHT,
    MSG_PIN,
    MSG_UNPIN,
    MSG_ANNOUNCE,
    MSG_UNANNOUNCE,
    MSG_SIMILAR,
    MSG_APPROVE,
    MSG_REJECT,
    MSG_CLAIM,
    MSG_RELEASE,
    MSG_MERGE,
    MSG_UNMERGE,
    MSG_SET_REVEAL,
    MSG_SET_EXPORTS,
    MSG_INVITE,
    MSG_REVOKE_INVITE,
    MSG_DISCOVER,
    MSG_SET_ORDER,
    MSG_RENAME_THEME,
    MSG_MERGE_THEMES,
    MSG_UNMERGE_THEME,
    MSG_HIDE_THEME,
    MSG_UNHIDE_THEME,
    MSG__COUNT
};

enum role { ROLE_NONE = 0, ROLE_CITIZEN, ROLE_MODERATOR, ROLE_SCREEN };
enum kind { KIND_PROBLEM = 0, KIND_IDEA, KIND_REFINEMENT, KIND_PLEDGE, KIND__COUNT };
/* A moderator's reason preset (hide, remove, mute); PRESET_NONE = none given. */
enum preset {
    PRESET_NONE = 0,
    PRESET_OFF_TOPIC,
    PRESET_DUPLICATE,
    PRESET_ABUSIVE,
    PRESET_PERSONAL_DATA,
    PRESET__COUNT
};
/* What screens and citizens see of the vote counts (proto/messages.md, "Reveal control"). */
enum reveal { REVEAL_LIVE = 0, REVEAL_HIDDEN, REVEAL_PER_PHASE, REVEAL__COUNT };
/* The order the screen and phones use (proto/messages.md, "A fair order"). */
enum order { ORDER_TOP = 0, ORDER_FAIR, ORDER__COUNT };
enum phase {
    PHASE_EXPLORE = 0,
    PHASE_IDEATE,
    PHASE_DESIGN,
    PHASE_DIFFUSE,
    PHASE_RESULTS,
    PHASE__COUNT
};

/* A decoded client message. Fields not used by 'type' are zero/NULL. */
struct msg {
    enum msg_type type;
    char op[MSG_OP_MAX + 1]; /* "" when the message has none */
    /* join */
    char code[MSG_CODE_LEN + 1]; /* normalised: digits only */
    enum role as;
    char *nickname; /* owned, NULL if absent; trimmed. invite: the invite's name */
    bool anonymous;
    char *secret;                             /* owned, NULL if absent */
    char *token;                              /* owned, NULL if absent */
    char last_event_id[MSG_EVENT_ID_MAX + 1]; /* "" if absent */
    /* post */
    enum kind kind;
    char *text;      /* owned; post, announce */
    int64_t parent;  /* 0 = none */
    char *on_behalf; /* owned; a moderator's post typed for someone: the name, "" = from the
                        floor, NULL = not a scribe entry */
    /* vote, unvote, hide, unhide, unmerge; merge: `into` */
    int64_t item;
    /* approve, reject, claim, release, merge, a bulk hide: distinct item ids, in the order given */
    uint32_t *items; /* owned, NULL when absent */
    size_t n_items;
    /* set_phase */
    enum phase phase;
    /* set_reveal */
    enum reveal reveal;
    /* set_exports */
    bool public_exports;
    /* revoke_invite: the invite's id. join: the invite whose secret the join's secret is, set by
       the handler once the secret matched (never decoded), 0 = the jam's moderator secret */
    int64_t invite;
    /* set_order */
    enum order order;
    /* rename_theme, unmerge_theme, hide_theme, unhide_theme: the theme's word; merge_themes: into */
    char *word;  /* owned, NULL if absent */
    char *label; /* owned; rename_theme: "" = back to the word */
    /* merge_themes: the words whose themes count as into's, distinct */
    char *words[MSG_THEME_WORDS_MAX]; /* owned */
    size_t n_words;
    /* extend; announce: duration_s (0 = until cleared) */
    int64_t seconds;
    /* hide, remove, mute, merge */
    char *reason; /* owned, NULL if absent */
    enum preset preset;
    /* remove, reinstate, mute, unmute */
    int64_t pid;
    bool hide_posts;
    /* ping */
    bool has_t;
    int64_t t;
};

/* Free what 'm' owns and zero it. Safe on a zeroed struct. */
void msg_clear(struct msg *m);

/* Names used on the wire; the _from_name functions return -1 for an unknown name. */
const char *msg_type_name(enum msg_type t);
const char *role_name(enum role r);
const char *kind_name(enum kind k);
const char *kind_role_name(enum kind k); /* problem -> "explorer", idea -> "ideator", ... */
const char *phase_name(enum phase p);
const char *preset_name(enum preset p); /* NULL for PRESET_NONE */
int preset_from_name(const char *s);
int kind_from_name(const char *s);
int phase_from_name(const char *s);
int role_from_name(const char *s);
const char *reveal_name(enum reveal v);
int reveal_from_name(const char *s);
const char *order_name(enum order o);
int order_from_name(const char *s);

/* ------------------------------------------------------------------------------------------ */
/* Events: what is stored in the jam's Redis stream (field "e"). */

enum event_type {
    EV_NONE = 0,
    EV_JAM_CREATED,
    EV_JOINED,
    EV_POSTED,
    EV_VOTED,
    EV_UNVOTED,
    EV_STARTED,
    EV_PAUSED,
    EV_RESUMED,
    EV_PHASE_SET,
    EV_EXTENDED,
    EV_HIDDEN,
    EV_UNHIDDEN,
    EV_PHASE_ENDED,
    EV_REMOVED,
    EV_REINSTATED,
    EV_MUTED,
    EV_UNMUTED,
    EV_SPOTLIGHTED,
    EV_UNSPOTLIGHTED,
    EV_PINNED,
    EV_UNPINNED,
    EV_ANNOUNCED,
    EV_UNANNOUNCED,
    EV_APPROVED,
    EV_REJECTED,
    EV_CLAIMED,
    EV_RELEASED,
    EV_MERGED,
    EV_UNMERGED,
    EV_REVEAL_SET,
    EV_EXPORTS_SET,
    EV_INVITE_CREATED,
    EV_INVITE_REVOKED,
    EV_ORDER_SET,
    EV_SHOWINGS,
    EV_THEME_RENAMED,
    EV_THEMES_MERGED,
    EV_THEME_UNMERGED,
    EV_THEME_HIDDEN,
    EV_THEME_UNHIDDEN,
    EV__COUNT
};

#define JAM_MAX_PHASES PHASE__COUNT

struct agenda_step {
    enum phase phase;
    uint32_t duration_s; /* 0 = no deadline */
};

struct jam_settings {
    bool anonymous_allowed;   /* default true */
    uint32_t votes_per_phase; /* 0 = unlimited; default 5 */
    uint32_t min_text;        /* default 2 */
    uint32_t max_text;        /* default 500, <= MSG_TEXT_HARD_MAX */
    bool premoderation;       /* default false: citizens' posts wait for a moderator's approval */
    bool public_exports;      /* default false: this jam's exports need no secret (set_exports) */
};

struct jam_config {
    char code[MSG_CODE_LEN + 1];
    char *title;    /* owned */
    char *question; /* owned */
    struct agenda_step agenda[JAM_MAX_PHASES];
    unsigned n_agenda; /* 1..JAM_MAX_PHASES */
    struct jam_settings settings;
    char secret_sha256[65]; /* lowercase hex */
};

struct event {
    enum event_type type;
    int64_t at_ms; /* wall clock when stored */
    int64_t by;    /* participant id of the writer, 0 = the server */
    char op[MSG_OP_MAX + 1];
    /* jam_created */
    struct jam_config jam; /* owned strings inside */
    /* joined, removed, reinstated, muted, unmuted */
    int64_t pid;
    enum role role;
    char *nickname; /* owned, NULL = none; invite_created: the invite's name */
    bool anonymous;
    /* posted */
    enum kind kind;
    char *text;      /* owned; posted, announced */
    int64_t parent;  /* 0 = none */
    char *on_behalf; /* owned; posted by a scribe: the name, "" = from the floor, NULL = none */
    /* voted, unvoted, hidden, unhidden, spotlighted, pinned, unpinned, unmerged; merged: into */
    int64_t item;
    /* approved, rejected, claimed, released, merged (the duplicates), a bulk hidden (then item
     * is 0) */
    uint32_t *items; /* owned, NULL = none */
    size_t n_items;
    /* phase_set, phase_ended */
    int64_t index;
    /* extended; announced: duration_s (0 = until cleared) */
    int64_t seconds;
    /* hidden, removed, muted, rejected, merged */
    char *reason; /* owned, NULL = none */
    enum preset preset;
    /* removed */
    bool hide_posts;
    /* reveal_set */
    enum reveal reveal;
    /* exports_set */
    bool public_exports;
    /* joined (a moderator who joined with an invite's secret; 0 = with the jam's secret),
       invite_created, invite_revoked: the invite's id */
    int64_t invite;
    /* invite_created: lowercase hex SHA-256 of the invite's secret (the secret itself is never
       stored: the server derives it, auth_invite_secret) */
    char invite_sha256[65];
    /* order_set */
    enum order order;
    /* showings: how many more times each of 'items' was offered in discover answers */
    uint32_t *counts; /* owned, n_items entries, NULL = none */
    /* the theme events, as in struct msg: word (themes_merged: into), label, words */
    char *word;                       /* owned, NULL = none */
    char *label;                      /* owned; theme_renamed: "" = cleared */
    char *words[MSG_THEME_WORDS_MAX]; /* owned */
    size_t n_words;
};

void event_clear(struct event *e);
void jam_config_clear(struct jam_config *c);
const char *event_type_name(enum event_type t);

#endif
