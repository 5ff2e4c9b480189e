/* SPDX-License-Identifier: MIT
 * test_resume.c - catching a session up from the stream: pages read through the fake store,
 * shared by the sessions resuming from one id, at most RESUME_READS reads at once, and the
 * resync that ends a catch-up which cannot be served.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catchup.h"
#include "fakes/glue.h"
#include "hub.h"
#include "jam.h"
#include "resume.h"
#include "room.h"
#include "session.h"
#include "test.h"

#define CODE "482913"
#define POSTS 20

/* A running jam with POSTS posts whose event ids land in 'ids', broadcast in frames the ring no
 * longer holds, so that a resume from any of them reads the stream. */
static struct jam *jam_with_posts(struct glue *g, char ids[][MSG_EVENT_ID_MAX + 1], int n)
{
    struct jam *j = glue_jam(g, CODE);
    struct session *c = glue_start(g, CODE) ? glue_join(g, CODE, ROLE_CITIZEN, NULL) : NULL;
    for (int i = 0; c && i < n; i++) {
        char *ack = glue_call(
            g, c, "{\"type\":\"post\",\"op\":\"p%d\",\"kind\":\"problem\",\"text\":\"idea %d\"}", i,
            i);
        if (!glue_field(ack, "event_id", ids[i], MSG_EVENT_ID_MAX + 1))
            ids[i][0] = '\0';
        free(ack);
    }
    room_delta_reset(j->room);
    return c ? j : NULL;
}

/* A joined citizen resuming from 'last_id'. */
static struct session *resuming(struct glue *g, const char *last_id)
{
    struct session *s = glue_join(g, CODE, ROLE_CITIZEN, NULL);
    if (s && !resume_start(g->hub, s, last_id))
        return NULL;
    return s;
}

TEST(pages_are_read_through_the_store)
{
    struct glue g;
    glue_init(&g, NULL);
    char ids[POSTS][MSG_EVENT_ID_MAX + 1];
    struct jam *j = jam_with_posts(&g, ids, 3);
    struct session *s = j ? resuming(&g, ids[0]) : NULL;
    CHECK(s != NULL);
    if (!s)
        goto done;
    g.store->hold = true;
    CHECK(glue_pull(&g, s, NULL) == NULL); /* asks for the page, waits */
    CHECK(s->catchup.waiting);
    const struct fake_call *r = fake_store_last(g.store, FAKE_READ);
    CHECK(r != NULL);
    if (r) {
        CHECK_EQ_STR(r->key, j->key);
        CHECK_EQ_STR(r->start, ids[0]);
        CHECK(r->inclusive); /* the first page checks that the stream has the client's id */
        CHECK_EQ_INT(r->count, CATCHUP_PAGE + 1);
    }
    fake_store_answer(g.store, NULL);
    glue_settle(&g);
    char *u = glue_pull(&g, s, NULL), to[MSG_EVENT_ID_MAX + 1] = "";
    CHECK(glue_is(u, "update"));
    CHECK(glue_field(u, "to", to, sizeof to));
    CHECK_EQ_STR(to, ids[2]);
    CHECK(u && strstr(u, "idea 1") && strstr(u, "idea 2") && !strstr(u, "idea 0"));
    free(u);
    CHECK(!s->catchup.on); /* caught up: the ring's frames follow */
    CHECK_EQ_INT(s->cursor, j->ring.head);
    CHECK_EQ_INT(fake_store_count(g.store, FAKE_READ), 1);
done:
    glue_deinit(&g);
}

/* Just after a start the store's link may not be up yet (a restart, 60-recovery): a resume still
 * starts, its read waits for the link; only a store known to be down refuses it. */
TEST(a_link_not_up_yet_still_resumes)
{
    struct glue g;
    glue_init(&g, NULL);
    char ids[POSTS][MSG_EVENT_ID_MAX + 1];
    struct jam *j = jam_with_posts(&g, ids, 3);
    struct session *s = j ? glue_join(&g, CODE, ROLE_CITIZEN, NULL) : NULL;
    CHECK(s != NULL);
    if (s) {
        g.store->up = false; /* connecting */
        CHECK(resume_start(g.hub, s, ids[0]));
        s->catchup.on = false;
        g.hub->storage_up = false; /* the store said it is down */
        CHECK(!resume_start(g.hub, s, ids[0]));
    }
    glue_deinit(&g);
}

TEST(sessions_resuming_from_one_id_share_a_read)
{
    struct glue g;
    glue_init(&g, NULL);
    char ids[POSTS][MSG_EVENT_ID_MAX + 1];
    struct jam *j = jam_with_posts(&g, ids, 3);
    struct session *a = j ? resuming(&g, ids[1]) : NULL, *b = j ? resuming(&g, ids[1]) : NULL;
    CHECK(a && b);
    if (!a || !b)
        goto done;
    g.store->hold = true;
    CHECK(glue_pull(&g, a, NULL) == NULL);
    CHECK(glue_pull(&g, b, NULL) == NULL);
    CHECK_EQ_INT(fake_store_count(g.store, FAKE_READ), 1);
    fake_store_answer(g.store, NULL);
    glue_settle(&g);
    char *ua = glue_pull(&g, a, NULL), *ub = glue_pull(&g, b, NULL);
    CHECK(glue_is(ua, "update") && ua && ub && strcmp(ua, ub) == 0);
    free(ua);
    free(ub);
    CHECK(!a->catchup.on && !b->catchup.on);
    g.store->hold = false;
    struct session *c = resuming(&g, ids[1]); /* later, from the same id: read already */
    CHECK(c != NULL);
    char *uc = c ? glue_pull(&g, c, NULL) : NULL; /* the page is read already: sent at once */
    CHECK(glue_is(uc, "update"));
    free(uc);
    CHECK_EQ_INT(fake_store_count(g.store, FAKE_READ), 1);
done:
    glue_deinit(&g);
}

TEST(reads_beyond_resume_reads_wait_for_a_slot)
{
    struct glue g;
    glue_init(&g, NULL);
    char ids[POSTS][MSG_EVENT_ID_MAX + 1];
    struct jam *j = jam_with_posts(&g, ids, POSTS);
    CHECK(j != NULL);
    if (!j)
        goto done;
    enum { N = RESUME_READS + 2 };
    _Static_assert(N < POSTS, "a distinct id per session");
    struct session *s[N];
    for (int i = 0; i < N; i++)
        s[i] = resuming(&g, ids[i]);
    g.store->hold = true;
    for (int i = 0; i < N; i++)
        CHECK(s[i] && glue_pull(&g, s[i], NULL) == NULL);
    CHECK_EQ_INT(fake_store_count(g.store, FAKE_READ), RESUME_READS);
    fake_store_answer(g.store, NULL);
    glue_settle(&g);
    CHECK_EQ_INT(fake_store_count(g.store, FAKE_READ), RESUME_READS + 1); /* a slot freed */
    CHECK_EQ_INT(fake_store_in_flight(g.store), RESUME_READS);
    while (fake_store_in_flight(g.store)) {
        fake_store_answer(g.store, NULL);
        glue_settle(&g);
    }
    CHECK_EQ_INT(fake_store_count(g.store, FAKE_READ), N);
    for (int i = 0; i < N; i++) {
        char *u = s[i] ? glue_pull(&g, s[i], NULL) : NULL;
        CHECK(glue_is(u, "update"));
        free(u);
    }
done:
    glue_deinit(&g);
}

/* The frame after a failed catch-up: a snapshot marked resync. */
static bool resynced(struct glue *g, struct session *s)
{
    char *f = glue_pull(g, s, NULL);
    bool ok = glue_is(f, "snapshot") && strstr(f, "\"resync\":true") && !s->catchup.on;
    free(f);
    return ok;
}

TEST(failed_read_resyncs)
{
    struct glue g;
    glue_init(&g, NULL);
    char ids[POSTS][MSG_EVENT_ID_MAX + 1];
    struct jam *j = jam_with_posts(&g, ids, 3);
    struct session *s = j ? resuming(&g, ids[0]) : NULL;
    CHECK(s != NULL);
    if (!s)
        goto done;
    g.store->hold = true;
    CHECK(glue_pull(&g, s, NULL) == NULL);
    fake_store_answer(g.store, store_err_timeout);
    glue_settle(&g);
    CHECK(resynced(&g, s));
    CHECK(catchup_find(&j->pages, ids[0]) == NULL); /* a failed page is not kept */
done:
    glue_deinit(&g);
}

TEST(refused_read_resyncs)
{
    struct glue g;
    glue_init(&g, NULL);
    char ids[POSTS][MSG_EVENT_ID_MAX + 1];
    struct jam *j = jam_with_posts(&g, ids, 3);
    struct session *s = j ? resuming(&g, ids[0]) : NULL;
    CHECK(s != NULL);
    if (!s)
        goto done;
    g.store->refuse = -ENOBUFS;
    CHECK(resynced(&g, s)); /* at once, in the same pull */
done:
    glue_deinit(&g);
}

TEST(unknown_id_resyncs)
{
    struct glue g;
    glue_init(&g, NULL);
    char ids[POSTS][MSG_EVENT_ID_MAX + 1];
    struct jam *j = jam_with_posts(&g, ids, 3);
    char missing[MSG_EVENT_ID_MAX + 1];
    snprintf(missing, sizeof missing, "%.*s-7", (int)strcspn(ids[0], "-"), ids[0]);
    struct session *s = j ? resuming(&g, missing) : NULL;
    CHECK(s != NULL);
    if (!s)
        goto done;
    CHECK(glue_pull(&g, s, NULL) == NULL);
    glue_settle(&g);
    CHECK(resynced(&g, s));
done:
    glue_deinit(&g);
}

TEST(too_many_missed_events_resync)
{
    const char *flags[] = {"--resume-max-events", "2", NULL};
    struct glue g;
    glue_init(&g, flags);
    char ids[POSTS][MSG_EVENT_ID_MAX + 1];
    struct jam *j = jam_with_posts(&g, ids, 5);
    struct session *ok = j ? resuming(&g, ids[2]) : NULL, *far = j ? resuming(&g, ids[0]) : NULL;
    CHECK(ok && far);
    if (!ok || !far)
        goto done;
    CHECK(glue_pull(&g, ok, NULL) == NULL);
    CHECK(glue_pull(&g, far, NULL) == NULL);
    glue_settle(&g);
    char *u = glue_pull(&g, ok, NULL);
    CHECK(glue_is(u, "update")); /* 2 missed: served */
    free(u);
    CHECK(resynced(&g, far)); /* 4 missed: a snapshot */
done:
    glue_deinit(&g);
}

int main(void)
{
    RUN(pages_are_read_through_the_store);
    RUN(a_link_not_up_yet_still_resumes);
    RUN(sessions_resuming_from_one_id_share_a_read);
    RUN(reads_beyond_resume_reads_wait_for_a_slot);
    RUN(failed_read_resyncs);
    RUN(refused_read_resyncs);
    RUN(unknown_id_resyncs);
    RUN(too_many_missed_events_resync);
    return test_done();
}
