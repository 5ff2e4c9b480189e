/* SPDX-License-Identifier: MIT
 * test_catchup.c - the shared pages of a jam's stream for resumes: what a page covers (up to the
 * broadcast id, cut by size), the first page's check of the client's id, an empty range, waiters,
 * the bound on pages (never dropping one being read) and the idle sweep.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "catchup.h"
#include "codec.h"
#include "room.h"
#include "stream.h"
#include "test.h"

#define N_EVENTS 40

/* A room and its stream: jam_created (1-0), a moderator (2-0), start (3-0), then posts of
 * 'text_len' characters at 4-0, 5-0, ... and votes for them after them. */
struct fixture {
    struct room *r;
    struct stream_entry entries[N_EVENTS];
    size_t n;
};

static void put(struct fixture *f, struct event *e, unsigned long long ms)
{
    struct stream_entry *x = &f->entries[f->n++];
    snprintf(x->id, sizeof x->id, "%llu-0", ms);
    CHECK(room_apply(f->r, x->id, e, NULL) == NULL);
    x->payload = codec_event_encode(e);
    x->len = strlen(x->payload);
}

static void fixture_init(struct fixture *f, size_t posts, size_t text_len)
{
    memset(f, 0, sizeof *f);
    struct jam_config c = {0};
    strcpy(c.code, "123456");
    c.title = "T";
    c.question = "Q";
    c.agenda[0] = (struct agenda_step){PHASE_EXPLORE, 0};
    c.n_agenda = 1;
    c.settings = (struct jam_settings){true, 0, 2, 2000, false, false};
    struct room_limits lim = {100, 100};
    struct event e = {.type = EV_JAM_CREATED, .at_ms = 1000, .jam = c};
    f->r = room_new(&c, &lim);
    put(f, &e, 1);
    e = (struct event){
        .type = EV_JOINED, .at_ms = 1000, .pid = 1, .role = ROLE_MODERATOR, .nickname = "M"};
    put(f, &e, 2);
    e = (struct event){.type = EV_STARTED, .at_ms = 1000, .by = 1};
    snprintf(e.op, sizeof e.op, "s");
    put(f, &e, 3);
    char *text = xmalloc(text_len + 1);
    memset(text, 'x', text_len);
    text[text_len] = '\0';
    for (size_t i = 0; i < posts; i++) {
        e = (struct event){
            .type = EV_POSTED, .at_ms = 1000, .by = 1, .kind = KIND_PROBLEM, .text = text};
        snprintf(e.op, sizeof e.op, "p%zu", i);
        put(f, &e, 4 + i);
    }
    for (size_t i = 0; i < posts; i++) {
        e = (struct event){.type = EV_VOTED, .at_ms = 1000, .by = 1, .item = (int64_t)i + 1};
        snprintf(e.op, sizeof e.op, "v%zu", i);
        put(f, &e, 4 + posts + i);
    }
    free(text);
}

static void fixture_free(struct fixture *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->entries[i].payload);
    room_free(f->r);
}

TEST(first_page_checks_the_id_and_stops_at_the_broadcast_id)
{
    struct fixture f;
    fixture_init(&f, 4, 10); /* posts 4-0..7-0, votes 8-0..11-0 */
    struct catchup_cache c = {0};
    struct catchup_page *p = catchup_add(&c, "5-0", true, 100);
    CHECK(p->reading && catchup_find(&c, "5-0") == p && catchup_find(&c, "6-0") == NULL);
    /* XRANGE 5-0 + (inclusive) as the store would answer it, broadcast up to 9-0. */
    CHECK(catchup_fill(p, f.r, &f.entries[4], f.n - 4, "9-0") == CATCHUP_FILLED);
    CHECK(!p->reading);
    CHECK_EQ_STR(p->to, "9-0");
    CHECK_EQ_INT(p->events, 4); /* 6-0, 7-0, 8-0, 9-0 */
    CHECK_EQ_STR(p->touched.prev, "5-0");
    CHECK_EQ_STR(p->touched.from, "6-0");
    CHECK_EQ_INT(p->touched.n_items, 2); /* posts 6-0 and 7-0: items 3 and 4 */
    CHECK(p->touched.items[0] == 3 && p->touched.items[1] == 4);
    CHECK(p->touched.n_votes == 2 && p->touched.votes[0] == 1 && p->touched.votes[1] == 2);

    /* A first page whose start is not an event: the client's id is unknown. */
    struct catchup_page *q = catchup_add(&c, "5-1", true, 100);
    CHECK(catchup_fill(q, f.r, &f.entries[5], f.n - 5, "9-0") == CATCHUP_UNKNOWN_ID);
    catchup_drop(&c, q);
    CHECK(catchup_find(&c, "5-1") == NULL && c.n == 1);
    /* A later page (exclusive start) with nothing up to the broadcast id. */
    q = catchup_add(&c, "11-0", false, 100);
    CHECK(catchup_fill(q, f.r, NULL, 0, "11-0") == CATCHUP_NOTHING);
    catchup_cache_free(&c);
    CHECK(c.n == 0 && c.pages == NULL);
    fixture_free(&f);
}

TEST(pages_are_cut_by_size)
{
    struct fixture f;
    fixture_init(&f, 12, 30000); /* 12 posts of ~30 KB: 8 fit in CATCHUP_PAGE_BYTES */
    struct catchup_cache c = {0};
    struct catchup_page *p = catchup_add(&c, "3-0", false, 0);
    CHECK(catchup_fill(p, f.r, &f.entries[3], f.n - 3, "99-0") == CATCHUP_FILLED);
    CHECK(p->events >= 1 && p->events < 12);
    size_t bytes = 0;
    for (size_t i = 3; i < 3 + p->events; i++)
        bytes += f.entries[i].len;
    CHECK(bytes <= CATCHUP_PAGE_BYTES);
    CHECK(bytes + f.entries[3 + p->events].len > CATCHUP_PAGE_BYTES);
    /* The next page starts where this one ended. */
    struct catchup_page *q = catchup_add(&c, p->to, false, 0);
    size_t next = 3 + p->events;
    CHECK(catchup_fill(q, f.r, &f.entries[next], f.n - next, "99-0") == CATCHUP_FILLED);
    CHECK_EQ_STR(q->touched.from, f.entries[next].id);
    /* One event bigger than the bound still makes a page. */
    struct fixture g;
    fixture_init(&g, 1, CATCHUP_PAGE_BYTES + 10);
    struct catchup_page *b = catchup_add(&c, "3-0x", false, 0); /* another key */
    CHECK(catchup_fill(b, g.r, &g.entries[3], g.n - 3, "99-0") == CATCHUP_FILLED);
    CHECK_EQ_INT(b->events, 1);
    catchup_cache_free(&c);
    fixture_free(&f);
    fixture_free(&g);
}

TEST(bounded_without_dropping_pages_being_read)
{
    struct catchup_cache c = {0};
    char id[32];
    for (int i = 0; i < CATCHUP_PAGES_MAX; i++) {
        snprintf(id, sizeof id, "%d-0", i + 1);
        struct catchup_page *p = catchup_add(&c, id, false, 1000 + i);
        p->reading = i != 5 && i != 9; /* two read pages; 9 is the least recently used */
        catchup_wait(p, (uint64_t)i);
    }
    catchup_find(&c, "10-0")->used_ms = 10;
    catchup_find(&c, "6-0")->used_ms = 20;
    CHECK_EQ_INT(catchup_find(&c, "3-0")->n_waiters, 1);
    catchup_add(&c, "100-0", false, 5000);
    CHECK_EQ_INT(c.n, CATCHUP_PAGES_MAX);
    CHECK(catchup_find(&c, "10-0") == NULL && catchup_find(&c, "6-0") != NULL);
    catchup_add(&c, "101-0", false, 5000);
    CHECK(catchup_find(&c, "6-0") == NULL);
    /* Now every page is being read (or new): the cache grows rather than drop one. */
    catchup_add(&c, "102-0", false, 5000);
    CHECK_EQ_INT(c.n, CATCHUP_PAGES_MAX + 1);
    /* The sweep drops idle pages that are not being read. */
    for (size_t i = 0; i < c.n; i++)
        c.pages[i]->reading = strcmp(c.pages[i]->after, "1-0") == 0;
    catchup_find(&c, "100-0")->used_ms = 9000;
    catchup_sweep(&c, 10000, 2000);
    CHECK_EQ_INT(c.n, 2); /* "1-0" (being read) and "100-0" (used recently) */
    CHECK(catchup_find(&c, "1-0") && catchup_find(&c, "100-0"));
    catchup_find(&c, "1-0")->reading = false;
    catchup_sweep(&c, 20000, 2000);
    CHECK(c.n == 0 && c.pages == NULL);
}

int main(void)
{
    RUN(first_page_checks_the_id_and_stops_at_the_broadcast_id);
    RUN(pages_are_cut_by_size);
    RUN(bounded_without_dropping_pages_being_read);
    return test_done();
}
