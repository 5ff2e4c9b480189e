/* SPDX-License-Identifier: MIT
 * test_room_rules.c - what each phase accepts, as room.c decides it, is the one source of the
 * rules. Run plainly, it checks them against the table "Phases and what they accept" of
 * proto/messages.md. Run with --json, it prints them for the web client's test
 * (web-client/tests/jamstate.test.mjs compares them with PHASE_RULES, KINDS, PHASES and
 * ROLE_OF_KIND of jamstate.js). The rules are observed through the public API only: room_can_post,
 * room_can_vote, and room_check of a post with every kind of parent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "room.h"
#include "test.h"

/* What one phase accepts. Kinds are bit sets (1u << kind), so that a rule the client's table
 * cannot express (two postable kinds, two parent kinds) shows up as a difference, not a guess. */
struct phase_rule {
    unsigned post;   /* kinds that may be posted */
    unsigned parent; /* kinds a post's parent may be */
    bool parent_required;
    unsigned vote; /* kinds that may be voted on */
};

static unsigned long long seq = 1;

static const char *check_post(const struct room *r, int64_t pid, enum kind k, int64_t parent)
{
    struct msg m = {.type = MSG_POST, .kind = k, .text = "Some text", .parent = parent};
    snprintf(m.op, sizeof m.op, "probe");
    struct event e;
    const char *err = room_check(r, pid, ROLE_MODERATOR, &m, &e);
    if (!err)
        event_clear(&e);
    return err;
}

/* Check and apply a write as the server does (moderator, no deadline, unlimited votes). */
static const char *write_msg(struct room *r, int64_t pid, struct msg *m)
{
    struct event e;
    snprintf(m->op, sizeof m->op, "w%llu", seq);
    const char *err = room_check(r, pid, ROLE_MODERATOR, m, &e);
    if (err)
        return err;
    char id[32];
    snprintf(id, sizeof id, "%llu-0", ++seq);
    room_reserve(r, &e);
    room_unreserve(r, &e);
    err = room_apply(r, id, &e, NULL);
    event_clear(&e);
    return err;
}

static int64_t join_moderator(struct room *r)
{
    struct msg m = {.type = MSG_JOIN, .as = ROLE_MODERATOR, .nickname = "Mo"};
    struct event e;
    CHECK(room_check_join(r, &m, &e) == NULL);
    char id[32];
    snprintf(id, sizeof id, "%llu-0", ++seq);
    room_reserve(r, &e);
    room_unreserve(r, &e);
    CHECK(room_apply(r, id, &e, NULL) == NULL);
    int64_t pid = e.pid;
    event_clear(&e);
    return pid;
}

static void enter_phase(struct room *r, int64_t mod, enum phase p)
{
    struct msg m = {.type = MSG_SET_PHASE, .phase = p};
    CHECK(write_msg(r, mod, &m) == NULL);
}

/* The parent candidates: none (0) and one item of each kind that exists (0 when none does). */
static void parent_items(const struct room *r, int64_t of_kind[KIND__COUNT])
{
    for (int k = 0; k < KIND__COUNT; k++)
        of_kind[k] = 0;
    for (size_t i = 0; i < r->n_items; i++)
        if (!of_kind[r->items[i]->kind])
            of_kind[r->items[i]->kind] = r->items[i]->id;
}

/* Observe the rules of every phase in a jam whose agenda has all of them. Items are posted first
 * (one of each kind, in whichever phase takes it, with whichever parent is accepted) so that
 * every parent kind can be tried. */
static void observe(struct phase_rule out[PHASE__COUNT])
{
    struct jam_config c = {0};
    strcpy(c.code, "123456");
    c.title = "T";
    c.question = "Q";
    for (int p = 0; p < PHASE__COUNT; p++)
        c.agenda[p] = (struct agenda_step){(enum phase)p, 0};
    c.n_agenda = PHASE__COUNT;
    c.settings = (struct jam_settings){true, 0, 2, 50, false, false};
    struct room_limits lim = {100, 100};
    struct room *r = room_new(&c, &lim);
    struct event created = {.type = EV_JAM_CREATED, .at_ms = 1000};
    CHECK(room_apply(r, "1-0", &created, NULL) == NULL);
    int64_t mod = join_moderator(r);
    struct msg start = {.type = MSG_START};
    CHECK(write_msg(r, mod, &start) == NULL);

    /* Each pass over the phases posts every kind it can; a kind whose parent needs a kind posted
     * later in the agenda gets it on a later pass. KIND__COUNT passes cover any chain. */
    for (int pass = 0; pass < KIND__COUNT; pass++)
        for (int p = 0; p < PHASE__COUNT; p++) {
            enter_phase(r, mod, (enum phase)p);
            for (int k = 0; k < KIND__COUNT; k++) {
                int64_t have[KIND__COUNT];
                parent_items(r, have);
                if (have[k])
                    continue;
                struct msg m = {.type = MSG_POST, .kind = (enum kind)k, .text = "Some text"};
                if (write_msg(r, mod, &m) == NULL)
                    continue;
                for (int pk = 0; pk < KIND__COUNT; pk++) {
                    m.parent = have[pk];
                    if (m.parent && write_msg(r, mod, &m) == NULL)
                        break;
                }
            }
        }

    int64_t have[KIND__COUNT];
    parent_items(r, have);
    for (int p = 0; p < PHASE__COUNT; p++) {
        enter_phase(r, mod, (enum phase)p);
        struct phase_rule *pr = &out[p];
        memset(pr, 0, sizeof *pr);
        for (int k = 0; k < KIND__COUNT; k++) {
            if (room_can_vote(r, (enum kind)k))
                pr->vote |= 1u << k;
            if (!room_can_post(r, (enum kind)k))
                continue;
            pr->post |= 1u << k;
            bool without = check_post(r, mod, (enum kind)k, 0) == NULL;
            pr->parent_required = !without;
            for (int pk = 0; pk < KIND__COUNT; pk++)
                if (have[pk] && check_post(r, mod, (enum kind)k, have[pk]) == NULL)
                    pr->parent |= 1u << pk;
        }
    }
    room_free(r);
}

/* ---- proto/messages.md --------------------------------------------------------------------- */

/* The kinds named in backquotes in s[0..n), as a bit set. */
static unsigned quoted_kinds(const char *s, size_t n)
{
    unsigned set = 0;
    for (int k = 0; k < KIND__COUNT; k++) {
        char q[32];
        snprintf(q, sizeof q, "`%s`", kind_name((enum kind)k));
        const char *hit = strstr(s, q);
        if (hit && (size_t)(hit - s) < n)
            set |= 1u << k;
    }
    return set;
}

/* The kinds named in plain words in s (the prose after `parent`: "a problem", "an idea"). */
static unsigned worded_kinds(const char *s)
{
    unsigned set = 0;
    for (int k = 0; k < KIND__COUNT; k++) {
        char w[32];
        snprintf(w, sizeof w, " %s", kind_name((enum kind)k));
        if (strstr(s, w))
            set |= 1u << k;
    }
    return set;
}

/* Parse one row "| `phase` | post cell | vote cell |". Returns the phase, or -1. */
static int parse_row(char *line, struct phase_rule *pr)
{
    char *cell[4];
    int n = 0;
    for (char *s = line; n < 4 && (s = strchr(s, '|')); s++)
        cell[n++] = s + 1;
    if (n < 4)
        return -1;
    for (int i = 0; i < 3; i++)
        cell[i + 1][-1] = '\0';
    char *name = strchr(cell[0], '`'), *end = name ? strchr(name + 1, '`') : NULL;
    if (!end)
        return -1;
    *end = '\0';
    int p = phase_from_name(name + 1);
    memset(pr, 0, sizeof *pr);
    char *post = cell[1], *parent = strstr(post, "`parent`");
    pr->post = quoted_kinds(post, parent ? (size_t)(parent - post) : strlen(post));
    if (parent) {
        pr->parent = worded_kinds(parent);
        pr->parent_required = strstr(parent, "required") != NULL;
    }
    pr->vote = quoted_kinds(cell[2], strlen(cell[2]));
    return p;
}

/* Read the table; returns a bit set of the phases it has a row for, 0 when it is not found. */
static unsigned read_doc(struct phase_rule out[PHASE__COUNT])
{
    FILE *f = fopen(PROTO_DIR "/messages.md", "r");
    CHECK(f != NULL);
    if (!f)
        return 0;
    char line[1024];
    bool in_table = false;
    unsigned seen = 0;
    while (fgets(line, sizeof line, f)) {
        if (!in_table) {
            in_table = strncmp(line, "| phase | may post | may vote on", 32) == 0;
            continue;
        }
        if (line[0] != '|')
            break;
        if (strncmp(line, "|---", 4) == 0)
            continue;
        struct phase_rule pr;
        int p = parse_row(line, &pr);
        CHECK(p >= 0);
        if (p < 0)
            continue;
        CHECK(!(seen & (1u << p)));
        seen |= 1u << p;
        out[p] = pr;
    }
    fclose(f);
    return seen;
}

/* The names of the kinds in 'set', comma-separated, "-" for none. */
static const char *names(unsigned set, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int k = 0; k < KIND__COUNT; k++)
        if (set & (1u << k))
            len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? "," : "",
                                    kind_name((enum kind)k));
    return len ? buf : "-";
}

static void describe(const char *who, enum phase p, const struct phase_rule *pr)
{
    char post[64], parent[64], vote[64];
    fprintf(stderr, "  %s: %s: post %s, parent %s%s, vote %s\n", who, phase_name(p),
            names(pr->post, post, sizeof post), names(pr->parent, parent, sizeof parent),
            pr->parent_required ? " (required)" : "", names(pr->vote, vote, sizeof vote));
}

TEST(doc_table_is_what_room_enforces)
{
    struct phase_rule doc[PHASE__COUNT] = {0}, room[PHASE__COUNT];
    unsigned seen = read_doc(doc);
    CHECK_EQ_INT(seen, (1u << PHASE__COUNT) - 1);
    observe(room);
    for (int p = 0; p < PHASE__COUNT; p++) {
        const struct phase_rule *d = &doc[p], *o = &room[p];
        if (d->post != o->post || d->parent != o->parent ||
            d->parent_required != o->parent_required || d->vote != o->vote) {
            describe("proto/messages.md", (enum phase)p, d);
            describe("room.c", (enum phase)p, o);
            CHECK(!"the table and room.c agree");
        }
    }
}

/* ---- --json -------------------------------------------------------------------------------- */

static void print_kinds(unsigned set)
{
    printf("[");
    const char *sep = "";
    for (int k = 0; k < KIND__COUNT; k++)
        if (set & (1u << k)) {
            printf("%s\"%s\"", sep, kind_name((enum kind)k));
            sep = ",";
        }
    printf("]");
}

/* One kind as a JSON string, null for none, or an array when there are several. */
static void print_one_kind(unsigned set)
{
    if (!set) {
        printf("null");
        return;
    }
    for (int k = 0; k < KIND__COUNT; k++)
        if (set == 1u << k) {
            printf("\"%s\"", kind_name((enum kind)k));
            return;
        }
    print_kinds(set);
}

static void print_json(void)
{
    struct phase_rule rules[PHASE__COUNT];
    observe(rules);
    printf("{\"kinds\":");
    print_kinds((1u << KIND__COUNT) - 1);
    printf(",\"roles\":{");
    for (int k = 0; k < KIND__COUNT; k++)
        printf("%s\"%s\":\"%s\"", k ? "," : "", kind_name((enum kind)k),
               kind_role_name((enum kind)k));
    printf("},\"phases\":[");
    for (int p = 0; p < PHASE__COUNT; p++)
        printf("%s\"%s\"", p ? "," : "", phase_name((enum phase)p));
    printf("],\"rules\":{");
    for (int p = 0; p < PHASE__COUNT; p++) {
        printf("%s\"%s\":{\"post\":", p ? "," : "", phase_name((enum phase)p));
        print_one_kind(rules[p].post);
        printf(",\"parent\":");
        print_one_kind(rules[p].parent);
        printf(",\"parentRequired\":%s,\"vote\":", rules[p].parent_required ? "true" : "false");
        print_kinds(rules[p].vote);
        printf("}");
    }
    printf("}}\n");
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--json") == 0) {
        test_cur_name = "observe";
        print_json();
        return test_cur_failed;
    }
    RUN(doc_table_is_what_room_enforces);
    return test_done();
}
