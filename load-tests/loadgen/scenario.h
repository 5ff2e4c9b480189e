/*
 * scenario: what one load scenario adds to the jam.  main.c finds it by --scenario, lets it complete
 * its options, creates the jam (and the moderator, as it asks), then calls run().  The hooks are
 * called by jam.c at fixed points of the message handling; NULL means the default handling only.
 * A hook returning true has handled the message: the default handling is skipped.
 */
#ifndef LG_SCENARIO_H
#define LG_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jam.h"

struct scenario {
    const char *name;
    bool moderator;                         /* a moderator joins and starts the jam */
    void (*configure)(options_t *o);        /* its defaults and checks (before opts_check) */
    int (*extra_conns)(const options_t *o); /* connections beyond the clients and the moderator */
    double (*budget)(const options_t *o);   /* seconds the run may take (without --deadline) */
    int (*ideas)(const options_t *o);       /* ideas the moderator posts */
    int (*run)(jam_t *j);                   /* after the setup; returns the exit status */

    bool (*send_join)(jam_t *j, conn_t *c); /* its own join message */
    void (*on_bytes)(jam_t *j, const conn_t *c, size_t n);
    void (*on_frame)(jam_t *j, const conn_t *c); /* every message, before it is handled */
    void (*on_close_code)(jam_t *j, const conn_t *c, int code);
    void (*on_welcome)(jam_t *j, conn_t *c, const char *s, const char *end, uint64_t t);
    bool (*on_update)(jam_t *j, conn_t *c, const char *s, size_t n, evid_t prev, evid_t to, uint64_t t);
    bool (*on_snapshot)(jam_t *j, conn_t *c, const char *s, size_t n, uint64_t t);
    bool (*on_ack)(jam_t *j, conn_t *c, const char *op, size_t oplen, const char *s, const char *end); /* not the moderator's */
    bool (*on_error)(jam_t *j, conn_t *c, const char *op, size_t oplen, const char *code, size_t codelen);
    void (*on_tick)(jam_t *j, uint64_t t); /* the progress line, once a second unless --quiet */
};

extern const scenario_t sc_jam_vote, sc_idea_storm, sc_join_storm, sc_resume_storm;

#endif
