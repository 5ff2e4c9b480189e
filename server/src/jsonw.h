/* SPDX-License-Identifier: MIT
 * jsonw.h - a JSON writer that appends to a growing buffer: no tree, one allocation per document
 * (amortised). Its output is byte for byte what Jansson's json_dumps(JSON_COMPACT |
 * JSON_PRESERVE_ORDER) gives for the same keys and values in the same order (compact, keys as
 * written, strings escaped as Jansson escapes them), so a document it writes hashes the same: the
 * event chain is defined over that encoding (proto/messages.md). Strings are UTF-8, as everything
 * decoded from JSON is; a byte that is not part of a well-formed sequence (which Jansson would
 * refuse) is written as U+FFFD, so the output is always valid JSON.
 */
#ifndef COJAM_JSONW_H
#define COJAM_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jsonw {
    char *buf; /* NUL-terminated */
    size_t len, cap;
    bool comma; /* a value was written at this level: the next one needs a ',' first */
};

void jsonw_init(struct jsonw *w);
/* The document (malloc'd, NUL-terminated; the caller frees it); 'w' is empty again. */
char *jsonw_take(struct jsonw *w, size_t *len);

void jsonw_object(struct jsonw *w); /* '{' */
void jsonw_array(struct jsonw *w);  /* '[' */
void jsonw_end_object(struct jsonw *w);
void jsonw_end_array(struct jsonw *w);
/* The key of the next member of an object. */
void jsonw_key(struct jsonw *w, const char *key);

/* Values: in an array, or after a key. */
void jsonw_str(struct jsonw *w, const char *s); /* NULL writes null */
void jsonw_int(struct jsonw *w, int64_t v);
void jsonw_bool(struct jsonw *w, bool v);
void jsonw_null(struct jsonw *w);

#endif
