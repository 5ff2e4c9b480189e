/* SPDX-License-Identifier: MIT
 * keys.h - the Redis key schema, in one place (proto/messages.md, "Stored events"):
 *
 *   cojam:jams                 set of the join codes of every jam
 *   cojam:token-key            the HMAC key of session tokens (when not configured)
 *   cojam:jam:<code>:events    the jam's event stream
 *   cojam:jam:<code>:snapshot  its latest binary snapshot (snapshot.h)
 *   cojam:jam:<code>:lease     the instance that holds its writes (store.h)
 *   cojam:jam:<code>:epoch     the fencing epoch of that lease
 *   cojam:jam:<code>:confirm   a replication barrier's mark (the last instance to write one)
 *
 * Pure string helpers; no I/O.
 */
#ifndef COJAM_KEYS_H
#define COJAM_KEYS_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "msg.h"

#define KEYS_JAMS "cojam:jams"
#define KEYS_TOKEN_KEY "cojam:token-key"
#define KEYS_MAX 64          /* every key of a jam fits, with its MSG_CODE_LEN-digit code */
#define KEYS_EVENTS "events" /* what a jam's stream key ends with, after a ':' */

/* "cojam:jam:<code>:<what>" into 'out' (KEYS_MAX bytes). */
static inline void keys_jam(char out[KEYS_MAX], const char *code, const char *what)
{
    snprintf(out, KEYS_MAX, "cojam:jam:%.*s:%s", MSG_CODE_LEN, code, what);
}

static inline void keys_stream(char out[KEYS_MAX], const char *code)
{
    keys_jam(out, code, KEYS_EVENTS);
}

static inline void keys_snapshot(char out[KEYS_MAX], const char *code)
{
    keys_jam(out, code, "snapshot");
}

/* The join code of a jam's stream key into 'code'; false for any other key. */
static inline bool keys_stream_code(const char *key, char code[MSG_CODE_LEN + 1])
{
    static const char prefix[] = "cojam:jam:", suffix[] = ":" KEYS_EVENTS;
    size_t n = strlen(key), pl = sizeof prefix - 1, sl = sizeof suffix - 1;
    if (n != pl + MSG_CODE_LEN + sl || memcmp(key, prefix, pl) != 0 ||
        memcmp(key + pl + MSG_CODE_LEN, suffix, sl) != 0)
        return false;
    for (size_t i = 0; i < MSG_CODE_LEN; i++)
        if (key[pl + i] < '0' || key[pl + i] > '9')
            return false;
    memcpy(code, key + pl, MSG_CODE_LEN);
    code[MSG_CODE_LEN] = '\0';
    return true;
}

/* The key beside stream key 'stream' that holds 'what': its ":events" suffix replaced by
 * ":<what>", or ":<what>" appended to a key without that suffix (the store takes any key). A new
 * string: free it. Any length, as the store does not limit its keys to KEYS_MAX. */
static inline char *keys_beside_stream(const char *stream, const char *what)
{
    static const char suffix[] = ":" KEYS_EVENTS;
    size_t len = strlen(stream), sl = sizeof suffix - 1;
    if (len >= sl && strcmp(stream + len - sl, suffix) == 0)
        len -= sl;
    size_t size = len + 1 + strlen(what) + 1;
    char *out = xmalloc(size);
    snprintf(out, size, "%.*s:%s", (int)len, stream, what);
    return out;
}

/* The mark a replication barrier writes beside a stream (store_confirm). A new string. */
static inline char *keys_confirm(const char *stream)
{
    return keys_beside_stream(stream, "confirm");
}

/* The lease of a stream: the instance id of its one writer (store.h). A new string. */
static inline char *keys_lease(const char *stream)
{
    return keys_beside_stream(stream, "lease");
}

/* The fencing epoch of that lease, INCR'd on each acquisition. A new string. */
static inline char *keys_epoch(const char *stream)
{
    return keys_beside_stream(stream, "epoch");
}

#endif
