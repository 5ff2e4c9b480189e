/* SPDX-License-Identifier: MIT
 * test_msg.c - the name tables of the wire protocol and the release functions: msg_clear and
 * event_clear on zeroed and partly filled structs (ASan reports what they fail to free).
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "msg.h"
#include "test.h"

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

TEST(msg_clear_partial)
{
    struct msg m;
    memset(&m, 0, sizeof m);
    msg_clear(&m); /* safe on a zeroed struct */
    CHECK(all_zero(&m, sizeof m));
    m.type = MSG_JOIN;
    strcpy(m.op, "j1");
    m.nickname = xstrdup("Ana");
    m.token = xstrdup("tok");
    msg_clear(&m);
    CHECK(all_zero(&m, sizeof m));
    m.type = MSG_HIDE;
    m.reason = xstrdup("spam");
    m.text = xstrdup("t");
    m.secret = xstrdup("s");
    msg_clear(&m);
    CHECK(all_zero(&m, sizeof m));
}

TEST(event_clear_partial)
{
    struct event e;
    memset(&e, 0, sizeof e);
    event_clear(&e);
    CHECK(all_zero(&e, sizeof e));
    e.type = EV_JAM_CREATED;
    e.jam.title = xstrdup("Cooler streets"); /* a decoder that failed before the question */
    event_clear(&e);
    CHECK(all_zero(&e, sizeof e));
    e.type = EV_JOINED;
    e.nickname = xstrdup("Ana");
    e.text = xstrdup("x");
    e.reason = xstrdup("r");
    e.jam.question = xstrdup("q");
    event_clear(&e);
    CHECK(all_zero(&e, sizeof e));
    struct jam_config c = {0};
    c.question = xstrdup("q");
    jam_config_clear(&c);
    CHECK(all_zero(&c, sizeof c));
}

TEST(names_round_trip)
{
    for (int k = 0; k < KIND__COUNT; k++)
        CHECK_EQ_INT(kind_from_name(kind_name((enum kind)k)), k);
    for (int p = 0; p < PHASE__COUNT; p++)
        CHECK_EQ_INT(phase_from_name(phase_name((enum phase)p)), p);
    for (int r = ROLE_CITIZEN; r <= ROLE_SCREEN; r++)
        CHECK_EQ_INT(role_from_name(role_name((enum role)r)), r);
    for (int t = MSG_NONE + 1; t < MSG__COUNT; t++)
        CHECK(msg_type_name((enum msg_type)t) != NULL);
    for (int t = EV_NONE + 1; t < EV__COUNT; t++)
        CHECK(event_type_name((enum event_type)t) != NULL);
    CHECK_EQ_STR(msg_type_name(MSG_SET_PHASE), "set_phase");
    CHECK_EQ_STR(event_type_name(EV_PHASE_ENDED), "phase_ended");
    /* The co-creation roles of proto/messages.md, "Phases and what they accept". */
    CHECK_EQ_STR(kind_role_name(KIND_PROBLEM), "explorer");
    CHECK_EQ_STR(kind_role_name(KIND_IDEA), "ideator");
    CHECK_EQ_STR(kind_role_name(KIND_REFINEMENT), "designer");
    CHECK_EQ_STR(kind_role_name(KIND_PLEDGE), "diffuser");
}

TEST(unknown_names_and_values)
{
    CHECK_EQ_INT(kind_from_name("Idea"), -1);
    CHECK_EQ_INT(kind_from_name(""), -1);
    CHECK_EQ_INT(kind_from_name(NULL), -1);
    CHECK_EQ_INT(phase_from_name("lobby"), -1);
    CHECK_EQ_INT(role_from_name("admin"), -1);
    CHECK_EQ_INT(role_from_name(""), -1);
    CHECK(role_name(ROLE_NONE) == NULL);
    CHECK(msg_type_name(MSG_NONE) == NULL);
    CHECK(msg_type_name(MSG__COUNT) == NULL);
    CHECK(msg_type_name((enum msg_type) - 1) == NULL);
    CHECK(kind_name(KIND__COUNT) == NULL);
    CHECK(phase_name(PHASE__COUNT) == NULL);
    CHECK(event_type_name(EV_NONE) == NULL);
    CHECK(event_type_name(EV__COUNT) == NULL);
    CHECK(kind_role_name(KIND__COUNT) == NULL);
}

int main(void)
{
    RUN(msg_clear_partial);
    RUN(event_clear_partial);
    RUN(names_round_trip);
    RUN(unknown_names_and_values);
    return test_done();
}
