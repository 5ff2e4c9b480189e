/* SPDX-License-Identifier: MIT
 * handlers.h - the client messages: one handle_<type>() per message type, dispatched from a table,
 * and the write path of every event a jam's members cause (check -> store -> apply -> ack). The
 * clock's own events (a phase's deadline passed) take the same path. Loop thread only.
 */
#ifndef COJAM_HANDLERS_H
#define COJAM_HANDLERS_H

#include <stddef.h>

struct hub;
struct jam;
struct now;
struct session;

/* net callback: one complete text message from 's' ('arg' is the hub). */
void handlers_on_message(struct session *s, const char *text, size_t len, void *arg);
/* Store the phase_ended event of jam 'j' if its running phase's deadline has passed. */
void handlers_check_deadline(struct hub *h, struct jam *j, const struct now *now);

#endif
