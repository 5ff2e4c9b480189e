/* SPDX-License-Identifier: MIT
 * room_kit.h - what the room and snapshot tests share to build a room: a jam of four phases,
 * writes checked, reserved and applied as the server does, joins. Include after test.h.
 */
#ifndef COJAM_ROOM_KIT_H
#define COJAM_ROOM_KIT_H

#include <stdio.h>

#include "room.h"

/* A jam of four phases, with pre-moderation on or off. */
static inline struct room *new_room_with(unsigned votes_per_phase, bool premoderation)
{
    struct jam_config c = {0};
    strcpy(c.code, "123456");
    c.title = "T";
    c.question = "Q";
    c.agenda[0] = (struct agenda_step){PHASE_EXPLORE, 60};
    c.agenda[1] = (struct agenda_step){PHASE_IDEATE, 0};
    c.agenda[2] = (struct agenda_step){PHASE_DESIGN, 30};
    c.agenda[3] = (struct agenda_step){PHASE_RESULTS, 0};
    c.n_agenda = 4;
    c.settings = (struct jam_settings){true, votes_per_phase, 2, 50, premoderation, false};
    struct room_limits lim = {100, 100};
    struct room *r = room_new(&c, &lim);
    struct event e = {.type = EV_JAM_CREATED, .at_ms = 1000};
    CHECK(room_apply(r, "1-0", &e, NULL) == NULL);
    return r;
}

static inline struct room *new_room(unsigned votes_per_phase)
{
    return new_room_with(votes_per_phase, false);
}

static unsigned long long seq = 1;

/* Check, reserve, unreserve and apply a message as the server does; returns the error or NULL. */
static inline const char *write_msg(struct room *r, int64_t pid, enum role role, struct msg *m,
                                    int64_t at_ms, struct room_result *res)
{
    struct event e;
    const char *err = room_check(r, pid, role, m, &e);
    if (err)
        return err;
    e.at_ms = at_ms;
    room_reserve(r, &e);
    room_unreserve(r, &e);
    char id[32];
    snprintf(id, sizeof id, "%llu-0", ++seq);
    err = room_apply(r, id, &e, res);
    event_clear(&e);
    return err;
}

static inline int64_t join(struct room *r, enum role role, const char *nick)
{
    struct msg m = {.type = MSG_JOIN, .as = role, .nickname = (char *)nick};
    struct event e;
    CHECK(room_check_join(r, &m, &e) == NULL);
    room_reserve(r, &e);
    room_unreserve(r, &e);
    char id[32];
    snprintf(id, sizeof id, "%llu-0", ++seq);
    CHECK(room_apply(r, id, &e, NULL) == NULL);
    int64_t pid = e.pid;
    event_clear(&e);
    return pid;
}
/* An `invite` named 'name' by moderator 'pid', as handlers.c stores it (with a hash standing for
 * its secret's: the invite's id in 64 digits). Returns NULL or the error; *id the invite's id. */
static inline const char *mint_invite(struct room *r, int64_t pid, const char *op, const char *name,
                                      int64_t at_ms, int64_t *id)
{
    struct msg m = {.type = MSG_INVITE, .nickname = (char *)name};
    snprintf(m.op, sizeof m.op, "%s", op);
    struct event e;
    const char *err = room_check(r, pid, ROLE_MODERATOR, &m, &e);
    if (err)
        return err;
    e.at_ms = at_ms;
    snprintf(e.invite_sha256, sizeof e.invite_sha256, "%064lld", (long long)e.invite);
    room_reserve(r, &e);
    room_unreserve(r, &e);
    char sid[32];
    snprintf(sid, sizeof sid, "%llu-0", ++seq);
    err = room_apply(r, sid, &e, NULL);
    if (id)
        *id = e.invite;
    event_clear(&e);
    return err;
}

/* A moderator's join with the secret of invite 'invite' (the handler found it): its pid, or 0 and
 * the error in *err. */
static inline int64_t join_invited(struct room *r, int64_t invite, const char **err)
{
    struct msg m = {.type = MSG_JOIN, .as = ROLE_MODERATOR, .invite = invite};
    struct event e;
    *err = room_check_join(r, &m, &e);
    if (*err)
        return 0;
    room_reserve(r, &e);
    room_unreserve(r, &e);
    char id[32];
    snprintf(id, sizeof id, "%llu-0", ++seq);
    *err = room_apply(r, id, &e, NULL);
    int64_t pid = *err ? 0 : e.pid;
    event_clear(&e);
    return pid;
}
#endif
