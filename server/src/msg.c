/* SPDX-License-Identifier: MIT
 * msg.c - the name tables of the wire protocol (message types, roles, kinds, phases, events) and
 * the release functions of msg.h. Pure data: no JSON, no allocation beyond free(). Unknown enum
 * values map to NULL so a bug shows up at once instead of putting a made-up name on the wire.
 */
#include "msg.h"

#include <stdlib.h>
#include <string.h>

static const char *const type_names[MSG__COUNT] = {
    [MSG_JOIN] = "join",
    [MSG_POST] = "post",
    [MSG_VOTE] = "vote",
    [MSG_UNVOTE] = "unvote",
    [MSG_START] = "start",
    [MSG_SET_PHASE] = "set_phase",
    [MSG_PAUSE] = "pause",
    [MSG_RESUME] = "resume",
    [MSG_EXTEND] = "extend",
    [MSG_HIDE] = "hide",
    [MSG_UNHIDE] = "unhide",
    [MSG_SYNC] = "sync",
    [MSG_PING] = "ping",
    [MSG_REMOVE] = "remove",
    [MSG_REINSTATE] = "reinstate",
    [MSG_MUTE] = "mute",
    [MSG_UNMUTE] = "unmute",
    [MSG_SPOTLIGHT] = "spotlight",
    [MSG_UNSPOTLIGHT] = "unspotlight",
    [MSG_PIN] = "pin",
    [MSG_UNPIN] = "unpin",
    [MSG_ANNOUNCE] = "announce",
    [MSG_UNANNOUNCE] = "unannounce",
    [MSG_SIMILAR] = "similar",
    [MSG_APPROVE] = "approve",
    [MSG_REJECT] = "reject",
    [MSG_CLAIM] = "claim",
    [MSG_RELEASE] = "release",
    [MSG_MERGE] = "merge",
    [MSG_UNMERGE] = "unmerge",
    [MSG_SET_REVEAL] = "set_reveal",
    [MSG_SET_EXPORTS] = "set_exports",
    [MSG_INVITE] = "invite",
    [MSG_REVOKE_INVITE] = "revoke_invite",
    [MSG_DISCOVER] = "discover",
    [MSG_SET_ORDER] = "set_order",
    [MSG_RENAME_THEME] = "rename_theme",
    [MSG_MERGE_THEMES] = "merge_themes",
    [MSG_UNMERGE_THEME] = "unmerge_theme",
    [MSG_HIDE_THEME] = "hide_theme",
    [MSG_UNHIDE_THEME] = "unhide_theme",
};

static const char *const preset_names[PRESET__COUNT] = {
    [PRESET_OFF_TOPIC] = "off_topic",
    [PRESET_DUPLICATE] = "duplicate",
    [PRESET_ABUSIVE] = "abusive",
    [PRESET_PERSONAL_DATA] = "personal_data",
};

static const char *const role_names[] = {
    [ROLE_CITIZEN] = "citizen",
    [ROLE_MODERATOR] = "moderator",
    [ROLE_SCREEN] = "screen",
};

static const char *const kind_names[KIND__COUNT] = {
    [KIND_PROBLEM] = "problem",
    [KIND_IDEA] = "idea",
    [KIND_REFINEMENT] = "refinement",
    [KIND_PLEDGE] = "pledge",
};

/* The co-creation role each kind stands for (messages.md, "Phases and what they accept"). */
static const char *const kind_role_names[KIND__COUNT] = {
    [KIND_PROBLEM] = "explorer",
    [KIND_IDEA] = "ideator",
    [KIND_REFINEMENT] = "designer",
    [KIND_PLEDGE] = "diffuser",
};

static const char *const phase_names[PHASE__COUNT] = {
    [PHASE_EXPLORE] = "explore", [PHASE_IDEATE] = "ideate",   [PHASE_DESIGN] = "design",
    [PHASE_DIFFUSE] = "diffuse", [PHASE_RESULTS] = "results",
};

static const char *const event_names[EV__COUNT] = {
    [EV_JAM_CREATED] = "jam_created",
    [EV_JOINED] = "joined",
    [EV_POSTED] = "posted",
    [EV_VOTED] = "voted",
    [EV_UNVOTED] = "unvoted",
    [EV_STARTED] = "started",
    [EV_PAUSED] = "paused",
    [EV_RESUMED] = "resumed",
    [EV_PHASE_SET] = "phase_set",
    [EV_EXTENDED] = "extended",
    [EV_HIDDEN] = "hidden",
    [EV_UNHIDDEN] = "unhidden",
    [EV_PHASE_ENDED] = "phase_ended",
    [EV_REMOVED] = "removed",
    [EV_REINSTATED] = "reinstated",
    [EV_MUTED] = "muted",
    [EV_UNMUTED] = "unmuted",
    [EV_SPOTLIGHTED] = "spotlighted",
    [EV_UNSPOTLIGHTED] = "unspotlighted",
    [EV_PINNED] = "pinned",
    [EV_UNPINNED] = "unpinned",
    [EV_ANNOUNCED] = "announced",
    [EV_UNANNOUNCED] = "unannounced",
    [EV_APPROVED] = "approved",
    [EV_REJECTED] = "rejected",
    [EV_CLAIMED] = "claimed",
    [EV_RELEASED] = "released",
    [EV_MERGED] = "merged",
    [EV_UNMERGED] = "unmerged",
    [EV_REVEAL_SET] = "reveal_set",
    [EV_EXPORTS_SET] = "exports_set",
    [EV_INVITE_CREATED] = "invite_created",
    [EV_INVITE_REVOKED] = "invite_revoked",
    [EV_ORDER_SET] = "order_set",
    [EV_SHOWINGS] = "showings",
    [EV_THEME_RENAMED] = "theme_renamed",
    [EV_THEMES_MERGED] = "themes_merged",
    [EV_THEME_UNMERGED] = "theme_unmerged",
    [EV_THEME_HIDDEN] = "theme_hidden",
    [EV_THEME_UNHIDDEN] = "theme_unhidden",
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const char *name_at(const char *const *table, size_t n, int i)
{
    return (i >= 0 && (size_t)i < n) ? table[i] : NULL;
}

static int index_of(const char *const *table, size_t n, const char *s)
{
    if (!s)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (table[i] && strcmp(table[i], s) == 0)
            return (int)i;
    return -1;
}

const char *msg_type_name(enum msg_type t)
{
    return name_at(type_names, N_OF(type_names), (int)t);
}
const char *role_name(enum role r)
{
    return name_at(role_names, N_OF(role_names), (int)r);
}
const char *kind_name(enum kind k)
{
    return name_at(kind_names, N_OF(kind_names), (int)k);
}
const char *kind_role_name(enum kind k)
{
    return name_at(kind_role_names, N_OF(kind_role_names), (int)k);
}
const char *phase_name(enum phase p)
{
    return name_at(phase_names, N_OF(phase_names), (int)p);
}
const char *event_type_name(enum event_type t)
{
    return name_at(event_names, N_OF(event_names), (int)t);
}

const char *preset_name(enum preset p)
{
    return name_at(preset_names, N_OF(preset_names), (int)p);
}
int preset_from_name(const char *s)
{
    return index_of(preset_names, N_OF(preset_names), s);
}

int kind_from_name(const char *s)
{
    return index_of(kind_names, N_OF(kind_names), s);
}
int phase_from_name(const char *s)
{
    return index_of(phase_names, N_OF(phase_names), s);
}
int role_from_name(const char *s)
{
    return index_of(role_names, N_OF(role_names), s);
}

static const char *const reveal_names[REVEAL__COUNT] = {
    [REVEAL_LIVE] = "live",
    [REVEAL_HIDDEN] = "hidden",
    [REVEAL_PER_PHASE] = "per_phase",
};
const char *reveal_name(enum reveal v)
{
    return name_at(reveal_names, N_OF(reveal_names), (int)v);
}
int reveal_from_name(const char *s)
{
    return index_of(reveal_names, N_OF(reveal_names), s);
}

static const char *const order_names[ORDER__COUNT] = {
    [ORDER_TOP] = "top",
    [ORDER_FAIR] = "fair",
};
const char *order_name(enum order o)
{
    return name_at(order_names, N_OF(order_names), (int)o);
}
int order_from_name(const char *s)
{
    return index_of(order_names, N_OF(order_names), s);
}

void msg_clear(struct msg *m)
{
    free(m->nickname);
    free(m->secret);
    free(m->token);
    free(m->text);
    free(m->reason);
    free(m->on_behalf);
    free(m->items);
    free(m->word);
    free(m->label);
    for (size_t i = 0; i < m->n_words; i++)
        free(m->words[i]);
    memset(m, 0, sizeof *m);
}

void jam_config_clear(struct jam_config *c)
{
    free(c->title);
    free(c->question);
    memset(c, 0, sizeof *c);
}

void event_clear(struct event *e)
{
    jam_config_clear(&e->jam);
    free(e->nickname);
    free(e->text);
    free(e->reason);
    free(e->on_behalf);
    free(e->items);
    free(e->counts);
    free(e->word);
    free(e->label);
    for (size_t i = 0; i < e->n_words; i++)
        free(e->words[i]);
    memset(e, 0, sizeof *e);
}
