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
#include "stream.h"

struct codec_error {
    const char *code;        /* a stable error code of proto/messages.md, e.g. "too_long" */
    char message[160];       /* for humans, names the field */
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

/* What a verifier reads of an export (proto/export.schema.json): the stored entries with the chain
 * head listed after each, the published heads, and each item's tally. */
struct export_item {
    int64_t id;
    int64_t votes;
    bool hidden;
};
struct export_head {
    char event_id[MSG_EVENT_ID_MAX + 1];
    char head[65];
};
struct export_doc {
    char code[MSG_CODE_LEN + 1];
    struct stream_entry *events; /* owned, payloads too */
    struct export_head *heads;   /* owned: heads[i] is listed after events[i] ("" if none) */
    size_t n_events;
    struct export_head final; /* "chain": the head of the whole export */
    uint64_t final_events;
    struct export_head *published; /* owned: the moderation log's heads */
    size_t n_published;
    struct export_item *items; /* owned */
    size_t n_items;
};
/* Decode an export (any size; nesting as the format has it). Returns 0 or -1 with 'err'. */
int codec_export_decode(const char *text, size_t len, struct export_doc *out,
                        struct codec_error *err);
void export_doc_clear(struct export_doc *d);

#endif
