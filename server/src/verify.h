/* SPDX-License-Identifier: MIT
 * verify.h - `cojamd verify`: checks a jam's record without trusting the server that wrote it
 * (proto/messages.md, "The event chain"). From an export it recomputes the event chain, compares
 * it with the head listed after every event and with the published heads (the moderation log's
 * and the export's own), re-applies the events through room_apply (the server's own rules) and
 * compares the tallies with the export's items. Against the live stream (Redis) it recomputes the
 * chain of the stored entries and compares each with the export's, or looks for a given head.
 * It names the first event that breaks the record. Owns nothing beyond one run; reads files and
 * Redis synchronously (a command-line tool, never the server's loop).
 */
#ifndef COJAM_VERIFY_H
#define COJAM_VERIFY_H

#include <stdio.h>

#include "codec.h"
#include "store.h"

/* Check export 'd'. Prints what it checked and the first break to 'out'. Returns 0 when the
 * record holds, 1 when it is broken. */
int verify_export(const struct export_doc *d, FILE *out);
/* Check the stream of jam 'code' in Redis ('sc') against export 'd' (may be NULL) and against
 * 'head' (lowercase hex, may be NULL): returns 0 when it holds, 1 when broken, 2 when Redis could
 * not be read. */
int verify_stream(const struct store_config *sc, const char *code, const struct export_doc *d,
                  const char *head, FILE *out);
/* `cojamd verify EXPORT.json [--head HEX] [--redis-host H] [--redis-port P] [--redis-unix PATH]`
 * and `cojamd verify --jam CODE --head HEX --redis-...`: the exit status (0 holds, 1 broken,
 * 2 usage or I/O error). 'argv[0]' is "verify". */
int verify_main(int argc, char **argv);

#endif
