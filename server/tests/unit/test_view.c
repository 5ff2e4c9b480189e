/* SPDX-License-Identifier: MIT
 * test_view.c - every encoder of view.h gives valid JSON with the fields proto/messages.md
 * promises: decoded again with Jansson here. A room built through room_check/room_apply as the
 * server builds it supplies the state; the update's first keys are type, prev, from, to.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "room.h"
#include "test.h"
#include "view.h"

#ifndef PROTO_DIR
#error "PROTO_DIR must name the proto/ directory"
#endif

/* ---- a room with some of everything --------------------------------------------------------- */

static unsigned long long seq = 1;
static char last_written[32];

static const char *apply(struct room *r, struct event *e)
{
    snprintf(last_written, sizeof last_written, "%llu-0", ++seq);
    const char *err = room_apply(r, last_written, e, NULL);
    event_clear(e);
    return err;
}

static const char *write_msg(struct room *r, int64_t pid, enum role role, struct msg m,
                             int64_t at_ms)
{
    struct event e;
    const char *err = room_check(r, pid, role, &m, &e);
    if (err)
        return err;
    e.at_ms = at_ms;
    return apply(r, &e);
}

static int64_t join(struct room *r, enum role role, const char *nick)
{
    struct msg m = {.type = MSG_JOIN, .as = role, .nickname = (char *)nick, .anonymous = !nick};
    struct event e;
    CHECK(room_check_join(r, &m, &e) == NULL);
    int64_t pid = e.pid;
    CHECK(apply(r, &e) == NULL);
    return pid;
}

static struct msg mk(enum msg_type t, const char *op)
{
    struct msg m = {.type = t};
    snprintf(m.op, sizeof m.op, "%s", op);
    return m;
}

static struct room *lobby_room(void)
{
    struct jam_config c = {0};
    strcpy(c.code, "482913");
    c.title = "Cooler streets";
    c.question = "How?";
    c.agenda[0] = (struct agenda_step){PHASE_EXPLORE, 60};
    c.agenda[1] = (struct agenda_step){PHASE_IDEATE, 0};
    c.n_agenda = 2;
    c.settings = (struct jam_settings){true, 2, 2, 50, false, false};
    struct room_limits lim = {100, 100};
    struct room *r = room_new(&c, &lim);
    struct event e = {.type = EV_JAM_CREATED, .at_ms = 1000};
    CHECK(apply(r, &e) == NULL);
    return r;
}

static int64_t mod, ana, anon;

/* Running in explore: item 1 by Ana (hidden by the moderator), item 2 anonymous with Ana's vote. */
static struct room *busy_room(void)
{
    struct room *r = lobby_room();
    mod = join(r, ROLE_MODERATOR, "Mo");
    ana = join(r, ROLE_CITIZEN, "Ana");
    anon = join(r, ROLE_CITIZEN, NULL);
    CHECK(write_msg(r, mod, ROLE_MODERATOR, mk(MSG_START, "s1"), 10000) == NULL);
    struct msg p = mk(MSG_POST, "p1");
    p.kind = KIND_PROBLEM;
    p.text = "Hot streets";
    CHECK(write_msg(r, ana, ROLE_CITIZEN, p, 11000) == NULL);
    p = mk(MSG_POST, "p2");
    p.kind = KIND_PROBLEM;
    p.text = "Noise";
    CHECK(write_msg(r, anon, ROLE_CITIZEN, p, 12000) == NULL);
    struct msg v = mk(MSG_VOTE, "v1");
    v.item = 2;
    CHECK(write_msg(r, ana, ROLE_CITIZEN, v, 13000) == NULL);
    struct msg h = mk(MSG_HIDE, "h1");
    h.item = 1;
    h.reason = "off topic";
    CHECK(write_msg(r, mod, ROLE_MODERATOR, h, 14000) == NULL);
    room_set_online(r, 2);
    return r;
}

/* ---- JSON checks ----------------------------------------------------------------------------- */

/* Decode and free 's'; NULL (and a failed check) when it is not a JSON object or array. */
static json_t *parse(char *s)
{
    json_error_t e;
    json_t *j = s ? json_loads(s, JSON_REJECT_DUPLICATES, &e) : NULL;
    if (!j || !(json_is_object(j) || json_is_array(j))) {
        fprintf(stderr, "  not JSON (%s): %s\n", j ? "not a container" : e.text, s ? s : "NULL");
        CHECK(0);
        json_decref(j);
        j = NULL;
    }
    free(s);
    return j;
}

static const char *str_of(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static long long int_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    CHECK(json_is_integer(v));
    return json_integer_value(v);
}

/* Every key of the NULL-terminated list is in 'o', and 'o' has no other. */
static bool has_exactly(json_t *o, const char *const *keys)
{
    size_t n = 0;
    for (; keys[n]; n++)
        if (!json_object_get(o, keys[n])) {
            fprintf(stderr, "  missing '%s'\n", keys[n]);
            return false;
        }
    if (json_object_size(o) != n) {
        char *s = json_dumps(o, JSON_COMPACT);
        fprintf(stderr, "  %zu keys, expected %zu: %s\n", json_object_size(o), n, s);
        free(s);
    }
    return json_object_size(o) == n;
}

/* The first keys of 'o', in order. */
static bool starts_with_keys(json_t *o, const char *const *keys)
{
    void *it = json_object_iter(o);
    for (size_t i = 0; keys[i]; i++, it = json_object_iter_next(o, it))
        if (!it || strcmp(json_object_iter_key(it), keys[i]) != 0)
            return false;
    return true;
}

#define KEYS(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char *const *const ITEM_FULL = KEYS("id", "kind", "role", "text", "parent", "author",
                                                 "by", "votes", "hidden", "phase", "at", "shown");

static json_t *item_by_id(json_t *items, long long id)
{
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
        if (json_integer_value(json_object_get(it, "id")) == id)
            return it;
    return NULL;
}

static void check_jam(json_t *jam)
{
    CHECK(has_exactly(jam, KEYS("code", "title", "question", "agenda", "settings")));
    CHECK_EQ_STR(str_of(jam, "code"), "482913");
    CHECK_EQ_STR(str_of(jam, "title"), "Cooler streets");
    json_t *agenda = json_object_get(jam, "agenda");
    CHECK_EQ_INT(json_array_size(agenda), 2);
    CHECK(has_exactly(json_array_get(agenda, 0), KEYS("phase", "duration_s")));
    CHECK_EQ_STR(str_of(json_array_get(agenda, 0), "phase"), "explore");
    CHECK_EQ_INT(int_of(json_array_get(agenda, 0), "duration_s"), 60);
    json_t *s = json_object_get(jam, "settings");
    CHECK(has_exactly(s, KEYS("anonymous_allowed", "votes_per_phase", "min_text", "max_text",
                              "premoderation", "public_exports")));
    CHECK(json_is_true(json_object_get(s, "anonymous_allowed")));
    CHECK_EQ_INT(int_of(s, "votes_per_phase"), 2);
}

static void check_clock_running(json_t *c, long long now_ms)
{
    CHECK(has_exactly(c, KEYS("state", "phase", "index", "remaining_ms", "duration_ms")));
    CHECK_EQ_STR(str_of(c, "state"), "running");
    CHECK_EQ_STR(str_of(c, "phase"), "explore");
    CHECK_EQ_INT(int_of(c, "index"), 0);
    CHECK_EQ_INT(int_of(c, "remaining_ms"), 10000 + 60000 - now_ms);
    CHECK_EQ_INT(int_of(c, "duration_ms"), 60000);
}

/* ---- tests ----------------------------------------------------------------------------------- */

TEST(snapshot_for_a_citizen)
{
    struct room *r = busy_room();
    json_t *j = parse(view_snapshot(r, ROLE_CITIZEN, room_participant(r, ana), 20000, 20, false));
    if (!j) {
        room_free(r);
        return;
    }
    CHECK(starts_with_keys(j, KEYS("type", "event_id", "resync")));
    CHECK(has_exactly(j, KEYS("type", "event_id", "resync", "jam", "clock", "items", "ranking",
                              "stats", "reveal", "order", "spotlight", "pinned", "announcement",
                              "claims", "you")));
    CHECK(json_is_null(json_object_get(j, "spotlight")));
    CHECK_EQ_INT(json_array_size(json_object_get(j, "pinned")), 0);
    CHECK(json_is_null(json_object_get(j, "announcement")));
    CHECK_EQ_STR(str_of(j, "type"), "snapshot");
    CHECK_EQ_STR(str_of(j, "event_id"), r->last_id);
    CHECK(json_is_false(json_object_get(j, "resync")));
    check_jam(json_object_get(j, "jam"));
    check_clock_running(json_object_get(j, "clock"), 20000);
    json_t *items = json_object_get(j, "items");
    CHECK_EQ_INT(json_array_size(items), 2);
    json_t *hidden = item_by_id(items, 1), *noise = item_by_id(items, 2);
    /* no text for citizens, but the hide's reason: the author sees it next to its item */
    CHECK(hidden && has_exactly(hidden, KEYS("id", "hidden", "reason")));
    CHECK_EQ_STR(str_of(hidden, "reason"), "off topic");
    CHECK(noise && has_exactly(noise, ITEM_FULL));
    CHECK_EQ_STR(str_of(noise, "kind"), "problem");
    CHECK_EQ_STR(str_of(noise, "role"), "explorer");
    CHECK_EQ_STR(str_of(noise, "text"), "Noise");
    CHECK(json_is_null(json_object_get(noise, "author"))); /* anonymous */
    CHECK(json_is_null(json_object_get(noise, "parent")));
    CHECK_EQ_STR(str_of(noise, "by"), "citizen");
    CHECK_EQ_INT(int_of(noise, "votes"), 1);
    CHECK_EQ_STR(str_of(noise, "phase"), "explore");
    json_t *ranking = json_object_get(j, "ranking");
    CHECK(has_exactly(ranking, KEYS("problem", "idea", "refinement", "pledge")));
    CHECK_EQ_INT(json_array_size(json_object_get(ranking, "problem")), 1); /* hidden: not ranked */
    CHECK_EQ_INT(json_integer_value(json_array_get(json_object_get(ranking, "problem"), 0)), 2);
    json_t *stats = json_object_get(j, "stats");
    CHECK(has_exactly(stats, KEYS("participants", "online", "items", "votes", "chain", "events")));
    char head[65];
    room_chain_hex(r->chain.head, head);
    CHECK_EQ_STR(str_of(stats, "chain"), head);
    CHECK_EQ_INT(int_of(stats, "events"), r->chain.n);
    CHECK_EQ_INT(int_of(stats, "participants"), 2); /* Ana and the anonymous one: not Mo */
    CHECK_EQ_INT(int_of(stats, "online"), 2);
    CHECK_EQ_INT(int_of(stats, "items"), 1);
    CHECK_EQ_INT(int_of(stats, "votes"), 1);
    json_t *you = json_object_get(j, "you");
    CHECK(has_exactly(you, KEYS("id", "role", "nickname", "votes", "budget_left", "items")));
    CHECK_EQ_INT(int_of(you, "id"), ana);
    CHECK_EQ_STR(str_of(you, "nickname"), "Ana");
    CHECK_EQ_INT(json_array_size(json_object_get(you, "votes")), 1);
    CHECK_EQ_INT(int_of(you, "budget_left"), 1);
    CHECK_EQ_INT(json_integer_value(json_array_get(json_object_get(you, "items"), 0)), 1);
    json_decref(j);
    room_free(r);
}

TEST(snapshot_for_moderators_and_screens)
{
    struct room *r = busy_room();
    json_t *j = parse(view_snapshot(r, ROLE_MODERATOR, room_participant(r, mod), 20000, 20, true));
    json_t *hidden = j ? item_by_id(json_object_get(j, "items"), 1) : NULL;
    /* moderators see hidden items in full, with the reason */
    CHECK(hidden && has_exactly(hidden, KEYS("id", "kind", "role", "text", "parent", "author", "by",
                                             "votes", "hidden", "phase", "reason", "at", "shown")));
    CHECK(hidden && json_is_true(json_object_get(hidden, "hidden")));
    CHECK_EQ_STR(str_of(hidden, "text"), "Hot streets");
    CHECK_EQ_STR(str_of(hidden, "author"), "Ana");
    CHECK(j && json_is_true(json_object_get(j, "resync")));
    json_decref(j);
    j = parse(view_snapshot(r, ROLE_SCREEN, NULL, 20000, 20, false));
    CHECK(j && json_object_get(j, "you") == NULL && json_object_get(j, "stats") != NULL);
    json_decref(j);
    /* The shared body spliced with another event id. */
    char *body = view_snapshot_body(r, false, 20000, 20);
    j = parse(view_snapshot_with(r, "5-5", body, room_participant(r, anon), false));
    free(body);
    CHECK_EQ_STR(str_of(j, "event_id"), "5-5");
    CHECK(j && json_is_null(json_object_get(json_object_get(j, "you"), "nickname")));
    json_decref(j);
    room_free(r);
}

/* Spotlight, pins and a timed announcement in the snapshot and in the update that changed them;
 * a muted citizen's `you` says so with the reason; the notice frame. */
TEST(stage_and_sanctions)
{
    struct room *r = busy_room();
    room_delta_reset(r);
    struct msg m = mk(MSG_SPOTLIGHT, "sp");
    m.item = 2;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, m, 21000) == NULL);
    m = mk(MSG_PIN, "pin");
    m.item = 2;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, m, 21000) == NULL);
    m = mk(MSG_ANNOUNCE, "an");
    m.text = "Vote now";
    m.seconds = 60;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, m, 21000) == NULL);
    m = mk(MSG_MUTE, "mu");
    m.pid = anon;
    m.reason = "spam";
    m.preset = PRESET_DUPLICATE;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, m, 21000) == NULL);
    json_t *j = parse(view_update(r, 31000, 20));
    CHECK_EQ_INT(int_of(j, "spotlight"), 2);
    json_t *log = json_object_get(j, "log"); /* the tick's new log entries, live */
    CHECK_EQ_INT(json_array_size(log), 4);
    CHECK_EQ_STR(str_of(json_array_get(log, 0), "action"), "spotlighted");
    CHECK_EQ_INT(json_integer_value(json_array_get(json_object_get(j, "pinned"), 0)), 2);
    json_t *a = json_object_get(j, "announcement");
    CHECK(has_exactly(a, KEYS("text", "at", "remaining_ms")));
    CHECK_EQ_STR(str_of(a, "text"), "Vote now");
    CHECK_EQ_INT(int_of(a, "at"), 21000);
    CHECK_EQ_INT(int_of(a, "remaining_ms"), 50000);
    json_decref(j);
    room_delta_reset(r);
    struct room_delta none = {0};
    j = parse(view_catchup(r, &none, 31000, 20));
    CHECK(j && json_object_get(j, "log") == NULL); /* a catch-up carries no log */
    json_decref(j);
    j = parse(view_snapshot(r, ROLE_CITIZEN, room_participant(r, anon), 81000, 20, false));
    CHECK(json_is_null(json_object_get(j, "announcement"))); /* ended by itself at 81000 */
    json_t *you = json_object_get(j, "you");
    CHECK(json_is_true(json_object_get(you, "muted")));
    json_t *why = json_object_get(you, "moderation");
    CHECK(has_exactly(why, KEYS("reason", "preset")));
    CHECK_EQ_STR(str_of(why, "preset"), "duplicate");
    json_decref(j);
    j = parse(view_notice(EV_MUTED, room_participant(r, anon)));
    CHECK(has_exactly(j, KEYS("type", "notice", "reason", "preset")));
    CHECK_EQ_STR(str_of(j, "notice"), "muted");
    CHECK_EQ_STR(str_of(j, "reason"), "spam");
    json_decref(j);
    j = parse(view_modlog(r));
    json_t *last = json_array_get(j, json_array_size(j) - 1);
    CHECK_EQ_STR(str_of(last, "action"), "muted");
    CHECK_EQ_INT(int_of(last, "pid"), anon);
    CHECK_EQ_STR(str_of(last, "preset"), "duplicate");
    json_t *ann = json_array_get(j, json_array_size(j) - 2);
    CHECK_EQ_STR(str_of(ann, "action"), "announced");
    CHECK_EQ_STR(str_of(ann, "text"), "Vote now");
    CHECK_EQ_INT(int_of(ann, "duration_s"), 60);
    json_decref(j);
    room_free(r);
}

TEST(snapshot_in_the_lobby)
{
    struct room *r = lobby_room();
    json_t *j = parse(view_snapshot(r, ROLE_SCREEN, NULL, 5000, 20, false));
    json_t *c = json_object_get(j, "clock");
    CHECK(has_exactly(c, KEYS("state", "phase", "index", "remaining_ms", "duration_ms")));
    CHECK_EQ_STR(str_of(c, "state"), "lobby");
    CHECK_EQ_INT(int_of(c, "index"), -1);
    CHECK(json_is_null(json_object_get(c, "remaining_ms")));
    CHECK(json_is_null(json_object_get(c, "phase")));
    CHECK_EQ_INT(json_array_size(json_object_get(j, "items")), 0);
    json_decref(j);
    room_free(r);
}

static const char *const *const UPDATE_HEAD = KEYS("type", "prev", "from", "to");

TEST(update_names_its_events_first)
{
    struct room *r = busy_room();
    room_delta_reset(r);
    CHECK(view_update(r, 20000, 20) == NULL); /* nothing changed */
    char before[MSG_EVENT_ID_MAX + 1];
    snprintf(before, sizeof before, "%s", r->last_id);
    struct msg p = mk(MSG_POST, "p3");
    p.kind = KIND_PROBLEM;
    p.text = "Dust";
    CHECK(write_msg(r, ana, ROLE_CITIZEN, p, 21000) == NULL);
    struct msg v = mk(MSG_VOTE, "v2");
    v.item = 3;
    CHECK(write_msg(r, anon, ROLE_CITIZEN, v, 21500) == NULL);
    json_t *j = parse(view_update(r, 22000, 20));
    CHECK(starts_with_keys(j, UPDATE_HEAD));
    CHECK_EQ_STR(str_of(j, "type"), "update");
    CHECK_EQ_STR(str_of(j, "prev"), before);
    CHECK(stream_id_cmp(str_of(j, "from"), before) > 0);
    CHECK_EQ_STR(str_of(j, "to"), r->last_id);
    CHECK(stream_id_cmp(str_of(j, "to"), str_of(j, "from")) > 0);
    json_t *items = json_object_get(j, "items");
    CHECK_EQ_INT(json_array_size(items), 1);
    CHECK(has_exactly(json_array_get(items, 0), ITEM_FULL));
    CHECK_EQ_INT(int_of(json_object_get(j, "votes"), "3"), 1);
    CHECK(json_object_get(j, "shown") == NULL); /* a vote leaves the showings as they were */
    CHECK(json_object_get(json_object_get(j, "ranking"), "problem") != NULL);
    CHECK(json_object_get(json_object_get(j, "ranking"), "idea") == NULL); /* only changed lists */
    CHECK(json_object_get(j, "stats") != NULL);
    json_decref(j);
    room_delta_reset(r);

    /* Showings: the new `shown` of the items offered, and no vote counts. */
    uint32_t ids[] = {2, 3}, counts[] = {4, 1};
    struct event sh = {
        .type = EV_SHOWINGS, .at_ms = 22500, .n_items = 2, .items = ids, .counts = counts};
    snprintf(last_written, sizeof last_written, "%llu-0", ++seq);
    CHECK(room_apply(r, last_written, &sh, NULL) == NULL);
    j = parse(view_update(r, 22500, 20));
    CHECK(starts_with_keys(j, UPDATE_HEAD));
    CHECK_EQ_INT(json_object_size(json_object_get(j, "shown")), 2);
    CHECK_EQ_INT(int_of(json_object_get(j, "shown"), "2"), 4);
    CHECK_EQ_INT(int_of(json_object_get(j, "shown"), "3"), 1);
    CHECK(json_object_get(j, "votes") == NULL);
    json_decref(j);
    room_delta_reset(r);

    /* A hidden item goes out as {id, hidden} to everybody, moderators included. */
    struct msg h = mk(MSG_HIDE, "h2");
    h.item = 2;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, h, 23000) == NULL);
    j = parse(view_update(r, 23000, 20));
    CHECK(starts_with_keys(j, UPDATE_HEAD));
    json_t *it = json_array_get(json_object_get(j, "items"), 0);
    CHECK(it && has_exactly(it, KEYS("id", "hidden")));
    json_decref(j);
    room_delta_reset(r);

    /* Only stats changed: prev, from and to are all the last event id. */
    room_set_online(r, 3);
    j = parse(view_update(r, 24000, 20));
    CHECK(starts_with_keys(j, UPDATE_HEAD));
    CHECK(has_exactly(j, KEYS("type", "prev", "from", "to", "stats")));
    CHECK_EQ_STR(str_of(j, "prev"), r->last_id);
    CHECK_EQ_STR(str_of(j, "from"), r->last_id);
    CHECK_EQ_STR(str_of(j, "to"), r->last_id);
    json_decref(j);
    room_delta_reset(r);

    /* A clock event. */
    CHECK(write_msg(r, mod, ROLE_MODERATOR, mk(MSG_PAUSE, "pa"), 25000) == NULL);
    j = parse(view_update(r, 26000, 20));
    CHECK(starts_with_keys(j, UPDATE_HEAD));
    CHECK_EQ_STR(str_of(json_object_get(j, "clock"), "state"), "paused");
    json_decref(j);
    room_free(r);
}

TEST(catchup_update)
{
    struct room *r = busy_room();
    struct room_delta d;
    memset(&d, 0, sizeof d);
    snprintf(d.prev, sizeof d.prev, "%s", "3-0");
    struct event e = {.type = EV_VOTED, .by = ana, .item = 2};
    room_touch(r, "7-0", &e, &d);
    room_touch(r, "8-0", &e, &d);
    json_t *j = parse(view_catchup(r, &d, 20000, 20));
    CHECK(starts_with_keys(j, UPDATE_HEAD));
    CHECK_EQ_STR(str_of(j, "prev"), "3-0");
    CHECK_EQ_STR(str_of(j, "from"), "7-0");
    CHECK_EQ_STR(str_of(j, "to"), "8-0");
    CHECK_EQ_INT(int_of(json_object_get(j, "votes"), "2"), 1); /* the current value */
    CHECK(json_object_get(j, "shown") == NULL);
    CHECK(json_object_get(json_object_get(j, "ranking"), "problem") != NULL);
    json_decref(j);
    /* Showings read back: `shown` (the current value), and no vote count with it. */
    room_delta_clear(&d);
    memset(&d, 0, sizeof d);
    snprintf(d.prev, sizeof d.prev, "%s", "8-0");
    uint32_t ids[] = {2}, counts[] = {3};
    struct event sh = {.type = EV_SHOWINGS, .n_items = 1, .items = ids, .counts = counts};
    room_touch(r, "9-0", &sh, &d);
    j = parse(view_catchup(r, &d, 20000, 20));
    CHECK(j && json_object_get(json_object_get(j, "shown"), "2") != NULL);
    CHECK(json_object_get(j, "votes") == NULL);
    json_decref(j);
    room_delta_clear(&d);
    room_free(r);
}

TEST(welcome_ack_pong_status)
{
    json_t *j = parse(view_welcome("tok", 7, ROLE_CITIZEN, "Ana", false));
    CHECK(has_exactly(j, KEYS("type", "token", "you", "resumed")));
    CHECK_EQ_STR(str_of(j, "type"), "welcome");
    CHECK(has_exactly(json_object_get(j, "you"), KEYS("id", "role", "nickname")));
    CHECK_EQ_STR(str_of(json_object_get(j, "you"), "role"), "citizen");
    CHECK(json_is_false(json_object_get(j, "resumed")));
    json_decref(j);
    j = parse(view_welcome("tok", 8, ROLE_SCREEN, NULL, true));
    CHECK(json_is_null(json_object_get(json_object_get(j, "you"), "nickname")));
    CHECK(json_is_true(json_object_get(j, "resumed")));
    json_decref(j);

    j = parse(view_ack("c1-7", "1-0", 13, false, 0));
    CHECK(has_exactly(j, KEYS("type", "op", "event_id", "item")));
    CHECK_EQ_INT(int_of(j, "item"), 13);
    json_decref(j);
    j = parse(view_ack("v", "1-1", 0, true, -1));
    CHECK(has_exactly(j, KEYS("type", "op", "event_id", "budget_left")));
    CHECK(json_is_null(json_object_get(j, "budget_left"))); /* unlimited */
    json_decref(j);
    j = parse(view_ack("v", "1-1", 0, true, 3));
    CHECK_EQ_INT(int_of(j, "budget_left"), 3);
    json_decref(j);

    j = parse(view_pong(true, 123));
    CHECK(has_exactly(j, KEYS("type", "t")));
    CHECK_EQ_INT(int_of(j, "t"), 123);
    json_decref(j);
    j = parse(view_pong(false, 0));
    CHECK(has_exactly(j, KEYS("type")));
    json_decref(j);
    j = parse(view_status(false));
    CHECK(has_exactly(j, KEYS("type", "storage")));
    CHECK_EQ_STR(str_of(j, "storage"), "degraded");
    json_decref(j);
    j = parse(view_status(true));
    CHECK_EQ_STR(str_of(j, "storage"), "ok");
    json_decref(j);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    s[fread(s, 1, (size_t)n, f)] = '\0';
    fclose(f);
    return s;
}

/* Every code of the "Error codes" table of proto/messages.md has its own message and the
 * retryability the table gives. */
TEST(errors_match_the_protocol_table)
{
    char *md = read_text(PROTO_DIR "/messages.md");
    CHECK(md != NULL);
    if (!md)
        return;
    char *sec = strstr(md, "\n## Error codes");
    char *end = sec ? strstr(sec + 1, "\n## ") : NULL;
    CHECK(sec && end);
    if (!sec || !end) {
        free(md);
        return;
    }
    *end = '\0';
    int codes = 0;
    for (char *line = strtok(sec, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "| `", 3) != 0)
            continue;
        char *bar = strchr(line + 1, '|'), *last = strrchr(line, '|');
        *last = '\0';
        char *prev = strrchr(line, '|');
        bool retryable = strstr(prev, "yes") != NULL;
        *bar = '\0';
        for (char *p = strchr(line, '`'); p; p = strchr(p, '`')) {
            char *q = strchr(p + 1, '`');
            if (!q)
                break;
            *q = '\0';
            const char *code = p + 1;
            codes++;
            if (strcmp(view_error_message(code), "error") == 0)
                fprintf(stderr, "  no message for '%s'\n", code);
            CHECK(strcmp(view_error_message(code), "error") != 0);
            CHECK_EQ_INT(view_error_retryable(code), retryable);
            json_t *j = parse(view_error("op-1", code, NULL));
            CHECK(has_exactly(j, KEYS("type", "op", "code", "message", "retryable")));
            CHECK_EQ_STR(str_of(j, "code"), code);
            CHECK_EQ_STR(str_of(j, "message"), view_error_message(code));
            CHECK(json_is_boolean(json_object_get(j, "retryable")) &&
                  json_boolean_value(json_object_get(j, "retryable")) == retryable);
            json_decref(j);
            p = q + 1;
        }
    }
    CHECK(codes >= 30);
    free(md);
    json_t *j = parse(view_error("", "bad_json", "at line 1"));
    CHECK(has_exactly(j, KEYS("type", "code", "message", "retryable"))); /* no op: none readable */
    CHECK_EQ_STR(str_of(j, "message"), "at line 1");
    json_decref(j);
    CHECK_EQ_STR(view_error_message("no_such_code"), "error");
}

TEST(http_bodies)
{
    struct room *r = busy_room();
    json_t *j = parse(view_summary(r, 20000, "https://jam.example.org"));
    CHECK(has_exactly(j, KEYS("code", "title", "question", "agenda", "settings", "join_url",
                              "clock", "stats", "event_id", "chain")));
    char want[64];
    snprintf(want, sizeof want, "https://jam.example.org/#%s", r->cfg.code);
    CHECK_EQ_STR(str_of(j, "join_url"), want);
    CHECK_EQ_STR(str_of(j, "event_id"), r->last_id);
    char head[65];
    room_chain_hex(r->chain.head, head);
    json_t *chain = json_object_get(j, "chain");
    CHECK(has_exactly(chain, KEYS("head", "events", "event_id")));
    CHECK_EQ_STR(str_of(chain, "head"), head);
    CHECK_EQ_INT(int_of(chain, "events"), r->chain.n);
    CHECK_EQ_STR(str_of(chain, "event_id"), r->chain.id);
    check_clock_running(json_object_get(j, "clock"), 20000);
    json_decref(j);

    j = parse(view_modlog(r));
    CHECK(json_is_array(j));
    size_t i;
    json_t *e;
    int starts = 0, hides = 0;
    json_array_foreach(j, i, e) {
        CHECK(json_is_string(json_object_get(e, "event_id")));
        CHECK(json_is_integer(json_object_get(e, "at")));
        room_chain_hex(r->modlog[i].chain, head);
        CHECK_EQ_STR(str_of(e, "chain"), head);
        const char *action = str_of(e, "action");
        starts += action && strcmp(action, "started") == 0;
        if (action && strcmp(action, "hidden") == 0) {
            hides++;
            CHECK_EQ_INT(int_of(e, "item"), 1);
            CHECK_EQ_STR(str_of(e, "reason"), "off topic");
            CHECK_EQ_STR(str_of(e, "by"), "moderator");
            CHECK_EQ_STR(str_of(e, "moderator"), "Mo");
        }
    }
    CHECK_EQ_INT(starts, 1);
    CHECK_EQ_INT(hides, 1);
    json_decref(j);
    room_free(r);

    j = parse(view_created("482913", "s3cret", "https://jam.example"));
    CHECK(has_exactly(j, KEYS("code", "moderator_secret", "links")));
    json_t *links = json_object_get(j, "links");
    CHECK(has_exactly(links, KEYS("join", "moderate", "screen")));
    CHECK_EQ_STR(str_of(links, "join"), "https://jam.example/#482913");
    CHECK_EQ_STR(str_of(links, "moderate"), "https://jam.example/moderate.html#482913.s3cret");
    CHECK_EQ_STR(str_of(links, "screen"), "https://jam.example/screen.html#482913");
    json_decref(j);

    j = parse(view_http_error("no_such_jam", NULL));
    CHECK(has_exactly(j, KEYS("error")));
    CHECK(has_exactly(json_object_get(j, "error"), KEYS("code", "message")));
    CHECK_EQ_STR(str_of(json_object_get(j, "error"), "message"), view_error_message("no_such_jam"));
    json_decref(j);

    j = parse(view_digest("9-0", 12, "ab"));
    CHECK(has_exactly(j, KEYS("event_id", "events", "sha256")));
    CHECK_EQ_INT(int_of(j, "events"), 12);
    json_decref(j);

    j = parse(view_health("recovering", 3, 2, false, 83, 71));
    CHECK(has_exactly(j, KEYS("status", "version", "clients", "jams", "redis",
                              "broadcast_period_ms", "loop_cpu_pct")));
    CHECK_EQ_INT(int_of(j, "broadcast_period_ms"), 83);
    CHECK_EQ_INT(int_of(j, "loop_cpu_pct"), 71);
    CHECK_EQ_STR(str_of(j, "status"), "recovering");
    CHECK_EQ_STR(str_of(j, "version"), COJAM_VERSION);
    CHECK_EQ_STR(str_of(j, "redis"), "down");
    json_decref(j);
}

TEST(strings_are_escaped)
{
    json_t *j = parse(view_welcome("t\"o\\k\n", 1, ROLE_CITIZEN, "A \"quoted\" \xc3\xa9", false));
    CHECK_EQ_STR(str_of(j, "token"), "t\"o\\k\n");
    CHECK_EQ_STR(str_of(json_object_get(j, "you"), "nickname"), "A \"quoted\" \xc3\xa9");
    json_decref(j);
}

/* Reveal control: while counts are hidden, what screens and citizens get (their snapshot, the
 * shared update, the results) has no count, ranking or total; moderators' snapshots and the
 * private counts frame have them; per_phase hides only the kinds the running phase votes on. */
/* Named invites: names in moderators' snapshots, the private invites frame and the invited
 * moderator's you.invite; none in citizens' and screens' snapshots nor in the public log, which
 * has the invite's id; the ack of an invite; the notice of a revocation. */
TEST(invite_names_reach_moderators_only)
{
    struct room *r = lobby_room();
    int64_t org = join(r, ROLE_MODERATOR, "Ana"), cit = join(r, ROLE_CITIZEN, "Cy");
    struct msg m = mk(MSG_INVITE, "i1");
    m.nickname = "Secret Sam";
    struct event e;
    CHECK(room_check(r, org, ROLE_MODERATOR, &m, &e) == NULL);
    memset(e.invite_sha256, 'b', 64);
    CHECK(apply(r, &e) == NULL);
    struct msg jm = {.type = MSG_JOIN, .as = ROLE_MODERATOR, .invite = 1};
    CHECK(room_check_join(r, &jm, &e) == NULL);
    int64_t sam = e.pid;
    CHECK(apply(r, &e) == NULL);
    char *s = view_snapshot(r, ROLE_MODERATOR, room_participant(r, org), 20000, 20, false);
    json_t *j = parse(xstrdup(s));
    json_t *inv = json_array_get(json_object_get(j, "invites"), 0);
    CHECK(has_exactly(inv, KEYS("id", "name", "by", "at", "revoked")));
    CHECK_EQ_STR(str_of(inv, "name"), "Secret Sam");
    CHECK_EQ_STR(str_of(inv, "by"), "Ana");
    CHECK(json_object_get(json_object_get(j, "you"), "invite") == NULL);
    json_decref(j);
    free(s);
    j = parse(view_snapshot(r, ROLE_MODERATOR, room_participant(r, sam), 20000, 20, false));
    CHECK_EQ_INT(int_of(json_object_get(j, "you"), "invite"), 1);
    CHECK_EQ_STR(str_of(json_object_get(j, "you"), "nickname"), "Secret Sam");
    json_decref(j);
    static const enum role others[] = {ROLE_CITIZEN, ROLE_SCREEN};
    for (size_t i = 0; i < 2; i++) {
        s = view_snapshot(r, others[i], i == 0 ? room_participant(r, cit) : NULL, 20000, 20, false);
        CHECK(strstr(s, "Secret Sam") == NULL && strstr(s, "\"invites\"") == NULL);
        free(s);
    }
    s = view_modlog(r);
    CHECK(strstr(s, "Secret Sam") == NULL);
    free(s);
    j = parse(view_modlog(r));
    json_t *line = json_array_get(j, json_array_size(j) - 1);
    CHECK_EQ_STR(str_of(line, "action"), "invite_created");
    CHECK_EQ_INT(int_of(line, "invite"), 1);
    json_decref(j);
    j = parse(view_invites(r));
    CHECK(has_exactly(j, KEYS("type", "invites")));
    CHECK_EQ_INT(json_array_size(json_object_get(j, "invites")), 1);
    json_decref(j);
    j = parse(view_ack_invite("i1", "3-0", 1, "i_00"));
    CHECK(has_exactly(j, KEYS("type", "op", "event_id", "invite", "secret")));
    json_decref(j);
    j = parse(view_notice(EV_INVITE_REVOKED, room_participant(r, sam)));
    CHECK(has_exactly(j, KEYS("type", "notice", "invite")));
    CHECK_EQ_STR(str_of(j, "notice"), "invite_revoked");
    json_decref(j);
    room_free(r);
}

TEST(hidden_counts_reach_moderators_only)
{
    struct room *r = busy_room();
    struct msg m = mk(MSG_SET_REVEAL, "rv1");
    m.reveal = REVEAL_HIDDEN;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, m, 15000) == NULL);
    CHECK_EQ_INT(room_hidden_kinds(r), (1u << KIND__COUNT) - 1);
    json_t *c = parse(view_snapshot(r, ROLE_CITIZEN, room_participant(r, ana), 20000, 20, false));
    json_t *md = parse(
        view_snapshot(r, ROLE_MODERATOR, room_participant(r, mod), 20000, 20, false));
    json_t *u = parse(view_update(r, 20000, 20));
    json_t *res = parse(view_results(r, 20000, false));
    char *counts = view_counts(r, 20);
    json_t *cf = counts ? parse(counts) : NULL;
    if (!c || !md || !u || !res || !cf) {
        CHECK(!"a frame did not parse");
    } else {
        json_t *noise = item_by_id(json_object_get(c, "items"), 2);
        CHECK(noise && !json_object_get(noise, "votes") && json_object_get(noise, "text"));
        CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(c, "ranking"), "problem")), 0);
        CHECK(json_is_null(json_object_get(json_object_get(c, "stats"), "votes")));
        CHECK_EQ_STR(str_of(json_object_get(c, "reveal"), "mode"), "hidden");
        json_t *mn = item_by_id(json_object_get(md, "items"), 2);
        CHECK(mn && json_integer_value(json_object_get(mn, "votes")) == 1);
        CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(md, "ranking"), "problem")),
                     1);
        CHECK(!json_object_get(u, "votes") && !json_object_get(u, "ranking"));
        CHECK(json_is_null(json_object_get(json_object_get(u, "stats"), "votes")));
        CHECK_EQ_STR(str_of(json_object_get(u, "reveal"), "mode"), "hidden");
        json_t *ri = item_by_id(json_object_get(res, "items"), 2);
        CHECK(ri && !json_object_get(ri, "votes") && json_is_null(json_object_get(ri, "rank")));
        CHECK_EQ_STR(str_of(cf, "type"), "counts");
        CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(cf, "votes"), "2")), 1);
        CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(cf, "stats"), "votes")), 1);
    }
    json_decref(c);
    json_decref(md);
    json_decref(u);
    json_decref(res);
    json_decref(cf);
    room_delta_reset(r);
    /* A vote while the counts are hidden: the public update says nothing of the item (not even
     * that its count moved: no `votes`, no `shown`, no ranking), only the stored event's stats. */
    struct msg v = mk(MSG_VOTE, "v2");
    v.item = 2;
    CHECK(write_msg(r, anon, ROLE_CITIZEN, v, 15500) == NULL);
    u = parse(view_update(r, 15500, 20));
    CHECK(u && has_exactly(u, KEYS("type", "prev", "from", "to", "stats")));
    json_decref(u);
    room_delta_reset(r);
    /* per_phase: explore runs, so problems are hidden; ideas would not be. */
    m = mk(MSG_SET_REVEAL, "rv2");
    m.reveal = REVEAL_PER_PHASE;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, m, 16000) == NULL);
    CHECK_EQ_INT(room_hidden_kinds(r), 1u << KIND_PROBLEM);
    room_delta_reset(r);
    /* The next phase reveals the problems' counts: the update carries them again. */
    struct msg ph = mk(MSG_SET_PHASE, "ph2");
    ph.phase = PHASE_IDEATE;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, ph, 17000) == NULL);
    CHECK_EQ_INT(room_hidden_kinds(r), 1u << KIND_IDEA);
    u = parse(view_update(r, 17000, 20));
    CHECK(u && json_integer_value(json_object_get(json_object_get(u, "votes"), "2")) == 2);
    json_decref(u);
    m = mk(MSG_SET_REVEAL, "rv3");
    m.reveal = REVEAL_LIVE;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, m, 18000) == NULL);
    CHECK_EQ_INT(room_hidden_kinds(r), 0);
    CHECK(view_counts(r, 20) == NULL);
    room_free(r);
}

/* The top of a theme's first entry in frame 'o' ("themes" at its top level): its id, 0 for null,
 * -1 when there is no such theme. */
static long long first_theme_top(json_t *o)
{
    json_t *th = json_array_get(json_object_get(o, "themes"), 0);
    if (!th)
        return -1;
    json_t *top = json_object_get(th, "top");
    return json_is_null(top) ? 0 : json_integer_value(top);
}

/* While counts are hidden the shared words frame has every theme's top null (the most voted item
 * would tell the counts); moderators get the real tops in their snapshot and their counts frames,
 * screens and citizens nowhere. A reveal re-sends the words (words_version moves). */
TEST(theme_tops_reach_moderators_only_while_hidden)
{
    struct room *r = lobby_room();
    mod = join(r, ROLE_MODERATOR, "Mo");
    ana = join(r, ROLE_CITIZEN, "Ana");
    CHECK(write_msg(r, mod, ROLE_MODERATOR, mk(MSG_START, "s1"), 10000) == NULL);
    struct msg m = mk(MSG_SET_REVEAL, "rv1");
    m.reveal = REVEAL_HIDDEN;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, m, 10500) == NULL);
    static const char *const texts[] = {"Shade at bus stops", "More shade in parks", "Shade trees",
                                        "Benches for everyone"};
    for (int i = 0; i < 4; i++) {
        struct msg p = mk(MSG_POST, "");
        snprintf(p.op, sizeof p.op, "p%d", i);
        p.kind = KIND_PROBLEM;
        p.text = (char *)texts[i];
        CHECK(write_msg(r, ana, ROLE_CITIZEN, p, 11000 + i) == NULL);
    }
    struct msg v = mk(MSG_VOTE, "v1");
    v.item = 2;
    CHECK(write_msg(r, ana, ROLE_CITIZEN, v, 12000) == NULL);
    json_t *w = parse(view_words(r));
    json_t *cf = parse(view_counts(r, 20));
    json_t *md = parse(
        view_snapshot(r, ROLE_MODERATOR, room_participant(r, mod), 13000, 20, false));
    json_t *c = parse(view_snapshot(r, ROLE_CITIZEN, room_participant(r, ana), 13000, 20, false));
    json_t *sc = parse(view_snapshot(r, ROLE_SCREEN, NULL, 13000, 20, false));
    CHECK_EQ_INT(first_theme_top(w), 0); /* "shade", 3 items: its top withheld */
    CHECK_EQ_INT(first_theme_top(cf), 2);
    CHECK_EQ_INT(first_theme_top(md), 2);
    CHECK(c && !json_object_get(c, "themes"));
    CHECK(sc && !json_object_get(sc, "themes"));
    json_decref(w);
    json_decref(cf);
    json_decref(md);
    json_decref(c);
    json_decref(sc);
    room_delta_reset(r);
    /* A post alone (no vote) may make a theme: the moderators' counts frame has its top too. */
    struct msg p = mk(MSG_POST, "p4");
    p.kind = KIND_PROBLEM;
    p.text = "Benches near schools";
    CHECK(write_msg(r, mod, ROLE_MODERATOR, p, 14000) == NULL);
    cf = parse(view_counts(r, 20));
    json_t *benches = cf ? json_array_get(json_object_get(cf, "themes"), 1) : NULL;
    CHECK_EQ_STR(benches ? str_of(benches, "word") : "", "benches");
    CHECK_EQ_INT(benches ? int_of(benches, "top") : 0, 4);
    json_decref(cf);
    room_delta_reset(r);

    uint64_t version = r->words_version;
    m = mk(MSG_SET_REVEAL, "rv2");
    m.reveal = REVEAL_LIVE;
    CHECK(write_msg(r, mod, ROLE_MODERATOR, m, 15000) == NULL);
    CHECK(r->words_version != version); /* the next words frame goes out with the tops */
    w = parse(view_words(r));
    CHECK_EQ_INT(first_theme_top(w), 2);
    json_decref(w);
    md = parse(view_snapshot(r, ROLE_MODERATOR, room_participant(r, mod), 16000, 20, false));
    CHECK(md && !json_object_get(md, "themes")); /* the words frame has them now */
    json_decref(md);
    CHECK(view_counts(r, 20) == NULL);
    room_free(r);
}

int main(void)
{
    RUN(hidden_counts_reach_moderators_only);
    RUN(invite_names_reach_moderators_only);
    RUN(theme_tops_reach_moderators_only_while_hidden);
    RUN(snapshot_for_a_citizen);
    RUN(snapshot_for_moderators_and_screens);
    RUN(snapshot_in_the_lobby);
    RUN(stage_and_sanctions);
    RUN(update_names_its_events_first);
    RUN(catchup_update);
    RUN(welcome_ack_pong_status);
    RUN(errors_match_the_protocol_table);
    RUN(http_bodies);
    RUN(strings_are_escaped);
    return test_done();
}
