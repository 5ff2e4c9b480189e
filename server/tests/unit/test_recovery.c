/* SPDX-License-Identifier: MIT
 * test_recovery.c - applying stored events: entries found after a reconnect (applied once, older
 * ones skipped), the start-up replay over the fake store's streams (the replay thread reads them
 * through the fake's synchronous calls), and the snapshots put beside a stream.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fakes/glue.h"
#include "hub.h"
#include "jam.h"
#include "keys.h"
#include "now.h"
#include "recovery.h"
#include "replay.h"
#include "room.h"
#include "snapshot.h"
#include "test.h"

#define CODE "482913"

static struct now clock_now(void)
{
    return (struct now){net_now_ms(), net_wall_ms()};
}

/* Post a STORE_FOUND entry of jam CODE, with id "<ms>-0". */
static void found(struct glue *g, const char *key, unsigned long long ms, const char *payload)
{
    char id[MSG_EVENT_ID_MAX + 1];
    snprintf(id, sizeof id, "%llu-0", ms);
    fake_store_post(g->store, STORE_FOUND, key, id, payload);
}

TEST(found_entries_apply_once)
{
    struct glue g;
    glue_init(&g, NULL);
    struct jam *j = glue_jam(&g, CODE);
    uint64_t events = j->room->n_events;
    char *p1 = glue_joined(1), *p2 = glue_joined(2);
    found(&g, j->key, 1800000000000ull, p1);
    glue_settle(&g);
    CHECK_EQ_INT(j->room->n_events, events + 1);
    CHECK(room_participant(j->room, 1) != NULL);
    CHECK_EQ_STR(j->room->last_id, "1800000000000-0");
    found(&g, j->key, 1800000000000ull, p1); /* the same entry again */
    found(&g, j->key, 1700000000000ull, p2); /* older than what was applied */
    glue_settle(&g);
    CHECK_EQ_INT(j->room->n_events, events + 1);
    CHECK(room_participant(j->room, 2) == NULL);
    found(&g, j->key, 1800000000001ull, p2);
    glue_settle(&g);
    CHECK(room_participant(j->room, 2) != NULL);
    free(p1);
    free(p2);
    glue_deinit(&g);
}

TEST(found_entries_that_do_not_apply)
{
    struct glue g;
    glue_init(&g, NULL);
    char key[KEYS_MAX], *p = glue_joined(1);
    keys_stream(key, "111111");
    found(&g, key, 1800000000000ull, p); /* an unknown jam that does not start with its creation */
    found(&g, "cojam:other", 1800000000000ull, p);
    keys_stream(key, CODE);
    found(&g, key, 1800000000000ull, "{not json");
    glue_settle(&g);
    CHECK_EQ_INT(hub_jam_count(g.hub), 0);
    free(p);
    glue_deinit(&g);
}

static void no_wake(void *arg)
{
    (void)arg;
}

TEST(start_up_replay_rebuilds_the_jams)
{
    struct glue g;
    glue_init(&g, NULL);
    struct jam *live = glue_jam(&g, CODE);
    CHECK(glue_join(&g, CODE, ROLE_CITIZEN, NULL) != NULL);
    CHECK(glue_join(&g, CODE, ROLE_CITIZEN, NULL) != NULL);
    glue_jam(&g, "654321");
    /* A restart: a second hub over the same stored streams. */
    static const uint8_t key[] = "k";
    struct hub *h = hub_new(&g.cfg, g.store, key, 1, "t", "http://test");
    hub_set_net(h, g.net);
    struct store_config sc = {0};
    struct room_limits limits = {100, 100};
    struct replay *rp;
    CHECK_EQ_INT(replay_start(&sc, &limits, no_wake, NULL, &rp), 0);
    struct now now = clock_now();
    unsigned wakes = g.net->wakes;
    recovery_start(h, rp, &now);
    CHECK(!h->ready);
    CHECK(g.net->wakes > wakes); /* the loop comes back to apply it */
    for (int i = 0; i < 5000 && !h->ready; i++) {
        recovery_poll(h, &now);
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    CHECK(h->ready);
    CHECK_EQ_INT(hub_jam_count(h), 2);
    struct jam *j = hub_find_jam(h, CODE);
    CHECK(j != NULL);
    if (j) {
        CHECK_EQ_INT(j->room->n_events, live->room->n_events);
        CHECK_EQ_STR(j->room->last_id, live->room->last_id);
        CHECK_EQ_INT(j->room->n_participants, 2);
        CHECK_EQ_INT(j->room->delta.n_items + j->room->delta.stats, 0); /* no backlog */
    }
    hub_free(h);
    glue_deinit(&g);
}

/* Apply 'n' joins as found entries. */
static void many_joins(struct glue *g, struct jam *j, int n)
{
    static unsigned long long ms = 1800000000000ull;
    for (int i = 0; i < n; i++) {
        char *p = glue_joined((int64_t)j->room->n_participants + 1);
        found(g, j->key, ms++, p);
        glue_settle(g);
        free(p);
    }
}

TEST(snapshot_put_after_enough_events)
{
    const char *flags[] = {"--snapshot-every", "100", NULL};
    struct glue g;
    glue_init(&g, flags);
    struct jam *j = glue_jam(&g, CODE);
    struct now now = clock_now();
    many_joins(&g, j, 98); /* 99 events with the creation */
    recovery_maybe_snapshot(g.hub, j, &now);
    CHECK_EQ_INT(fake_store_count(g.store, FAKE_PUT), 0);
    many_joins(&g, j, 1);
    g.store->hold = true;
    recovery_maybe_snapshot(g.hub, j, &now);
    const struct fake_call *c = fake_store_last(g.store, FAKE_PUT);
    char snap[KEYS_MAX];
    keys_snapshot(snap, CODE);
    CHECK(c && strcmp(c->key, j->key) == 0 && strcmp(c->payload, snap) == 0 && c->value_len > 0);
    CHECK(j->snap_inflight);
    recovery_maybe_snapshot(g.hub, j, &now); /* one at a time */
    CHECK_EQ_INT(fake_store_count(g.store, FAKE_PUT), 1);
    fake_store_answer(g.store, store_err_timeout);
    glue_settle(&g);
    CHECK(!j->snap_inflight);
    CHECK_EQ_INT(j->snap_events, 0); /* not stored: tried again */
    recovery_maybe_snapshot(g.hub, j, &now);
    CHECK_EQ_INT(fake_store_count(g.store, FAKE_PUT), 2);
    fake_store_answer(g.store, NULL);
    glue_settle(&g);
    CHECK_EQ_INT(j->snap_events, 100);
    unsigned char *buf;
    size_t len;
    CHECK_EQ_INT(store_get(NULL, snap, &buf, &len), 0); /* what the next start reads */
    struct room *r = snapshot_decode(buf, len, &j->room->limits);
    CHECK(r && r->n_events == 100);
    room_free(r);
    free(buf);
    g.store->hold = false;
    many_joins(&g, j, 99);
    recovery_maybe_snapshot(g.hub, j, &now);
    CHECK_EQ_INT(fake_store_count(g.store, FAKE_PUT), 2); /* 99 since the last one */
    glue_deinit(&g);
}

TEST(no_snapshot_while_recovering_or_down)
{
    const char *flags[] = {"--snapshot-every", "100", NULL};
    struct glue g;
    glue_init(&g, flags);
    struct jam *j = glue_jam(&g, CODE);
    struct now now = clock_now();
    many_joins(&g, j, 120);
    g.store->up = false;
    recovery_maybe_snapshot(g.hub, j, &now);
    g.store->up = true;
    g.hub->ready = false;
    recovery_maybe_snapshot(g.hub, j, &now);
    CHECK_EQ_INT(fake_store_count(g.store, FAKE_PUT), 0);
    g.hub->ready = true;
    recovery_maybe_snapshot(g.hub, j, &now);
    CHECK_EQ_INT(fake_store_count(g.store, FAKE_PUT), 1);
    glue_deinit(&g);
}

int main(void)
{
    RUN(found_entries_apply_once);
    RUN(found_entries_that_do_not_apply);
    RUN(start_up_replay_rebuilds_the_jams);
    RUN(snapshot_put_after_enough_events);
    RUN(no_snapshot_while_recovering_or_down);
    return test_done();
}
