/* SPDX-License-Identifier: MIT
 * codec.h - JSON text <-> the plain structs of msg.h, with every static check of
 * proto/messages.md (size, depth, duplicate keys, types, unknown fields, code-point lengths,
 * ranges, formats). Checks that need the jam's state or settings (text_min/max of the jam, phase,
 * budget) are not here but in room.c. json_t never leaves this module.
 */
#ifndef COJAM_CODEC_H
#define COJAM_CODEC_H

#include <stddef.h>

#include "msg.h"

struct codec_error {
    const char *code;      /* a stable error code of proto/messages.md, e.g. "too_long" */
    char message[160];     /* for humans, names the field */
    char op[MSG_OP_MAX + 1]; /* the message's op when it was readable and valid, else "" */
};

/* Decode one client message. Returns 0 and fills 'out' (release with msg_clear), or -1 and fills
 * 'err' ('out' is then cleared). Never reads past text[len]; 'text' need not be NUL-terminated. */
int codec_decode(const char *text, size_t len, struct msg *out, struct codec_error *err);

/* Encode a client message canonically (keys in a fixed order, absent fields omitted).
 * Returns a new malloc'd NUL-terminated string; the caller frees it. */
char *codec_encode_msg(const struct msg *m);

/* Event <-> the JSON stored in the stream field "e". Encode returns a new malloc'd string. */
char *codec_event_encode(const struct event *e);
int codec_event_decode(const char *text, size_t len, struct event *out, struct codec_error *err);

/* Decode the body of POST /api/jams into 'out' (code and secret_sha256 left empty; defaults
 * applied to absent settings). Returns 0 or -1 with 'err'. */
int codec_jam_config_decode(const char *text, size_t len, struct jam_config *out,
                            struct codec_error *err);

#endif
