/* SPDX-License-Identifier: MIT
 * hash.c - imap and smap (see hash.h). Capacities are powers of two; hashes are splitmix64 for
 * integers and FNV-1a for strings, both cheap and good enough for keys we generate ourselves or
 * that clients choose within proto limits (op ids are scoped by participant).
 */
#include "hash.h"

#include <string.h>

#include "alloc.h"

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t hash_fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* the FNV-1a 64-bit offset basis and prime */
    while (*s)
        h = (h ^ (unsigned char)*s++) * 0x100000001b3ull;
    return h;
}

/* The low bits of FNV-1a, the ones a power-of-two mask keeps, depend only on the low bits of each
 * byte: mix64 spreads every bit into them. */
static uint64_t hash_str(const char *s)
{
    return mix64(hash_fnv1a(s));
}

/* ---- imap ---------------------------------------------------------------------------------- */

void imap_init(struct imap *m)
{
    memset(m, 0, sizeof *m);
}

void imap_deinit(struct imap *m)
{
    free(m->keys);
    free(m->vals);
    free(m->state);
    memset(m, 0, sizeof *m);
}

static void imap_grow(struct imap *m)
{
    struct imap old = *m;
    m->cap = old.cap ? (old.used * 2 >= old.cap ? old.cap * 2 : old.cap) : 16;
    m->keys = xmalloc(m->cap * sizeof *m->keys);
    m->vals = xmalloc(m->cap * sizeof *m->vals);
    m->state = xcalloc(m->cap, 1);
    m->used = m->dead = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.state[i] == HASH_USED)
            imap_put(m, old.keys[i], old.vals[i]);
    free(old.keys);
    free(old.vals);
    free(old.state);
}

void imap_put(struct imap *m, uint64_t key, uint64_t val)
{
    if ((m->used + m->dead + 1) * 10 >= m->cap * 7)
        imap_grow(m);
    size_t mask = m->cap - 1, i = mix64(key) & mask, tomb = SIZE_MAX;
    for (;; i = (i + 1) & mask) {
        if (m->state[i] == HASH_EMPTY)
            break;
        if (m->state[i] == HASH_DELETED) {
            if (tomb == SIZE_MAX)
                tomb = i;
        } else if (m->keys[i] == key) {
            m->vals[i] = val;
            return;
        }
    }
    if (tomb != SIZE_MAX) {
        i = tomb;
        m->dead--;
    }
    m->state[i] = HASH_USED;
    m->keys[i] = key;
    m->vals[i] = val;
    m->used++;
}

static size_t imap_find(const struct imap *m, uint64_t key)
{
    if (!m->cap)
        return SIZE_MAX;
    size_t mask = m->cap - 1, i = mix64(key) & mask;
    for (;; i = (i + 1) & mask) {
        if (m->state[i] == HASH_EMPTY)
            return SIZE_MAX;
        if (m->state[i] == HASH_USED && m->keys[i] == key)
            return i;
    }
}

bool imap_get(const struct imap *m, uint64_t key, uint64_t *val)
{
    size_t i = imap_find(m, key);
    if (i == SIZE_MAX)
        return false;
    if (val)
        *val = m->vals[i];
    return true;
}

bool imap_del(struct imap *m, uint64_t key)
{
    size_t i = imap_find(m, key);
    if (i == SIZE_MAX)
        return false;
    m->state[i] = HASH_DELETED;
    m->used--;
    m->dead++;
    return true;
}

/* The index of the first used slot at or after *pos (then *pos moves past it), or SIZE_MAX. */
static size_t next_used(const uint8_t *state, size_t cap, size_t *pos)
{
    for (size_t i = *pos; i < cap; i++)
        if (state[i] == HASH_USED) {
            *pos = i + 1;
            return i;
        }
    *pos = cap;
    return SIZE_MAX;
}

bool imap_next(const struct imap *m, size_t *pos, uint64_t *key, uint64_t *val)
{
    size_t i = next_used(m->state, m->cap, pos);
    bool found = i != SIZE_MAX;
    if (found && key)
        *key = m->keys[i];
    if (found && val)
        *val = m->vals[i];
    return found;
}

/* ---- smap ---------------------------------------------------------------------------------- */

void smap_init(struct smap *m)
{
    memset(m, 0, sizeof *m);
}

void smap_deinit(struct smap *m, void (*free_val)(void *))
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->state[i] == HASH_USED) {
            free(m->keys[i]);
            if (free_val)
                free_val(m->vals[i]);
        }
    free(m->keys);
    free(m->vals);
    free(m->state);
    memset(m, 0, sizeof *m);
}

static void smap_insert_owned(struct smap *m, char *key, void *val);

static void smap_grow(struct smap *m)
{
    struct smap old = *m;
    m->cap = old.cap ? (old.used * 2 >= old.cap ? old.cap * 2 : old.cap) : 16;
    m->keys = xmalloc(m->cap * sizeof *m->keys);
    m->vals = xmalloc(m->cap * sizeof *m->vals);
    m->state = xcalloc(m->cap, 1);
    m->used = m->dead = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.state[i] == HASH_USED)
            smap_insert_owned(m, old.keys[i], old.vals[i]);
    free(old.keys);
    free(old.vals);
    free(old.state);
}

static size_t smap_find(const struct smap *m, const char *key)
{
    if (!m->cap)
        return SIZE_MAX;
    size_t mask = m->cap - 1, i = hash_str(key) & mask;
    for (;; i = (i + 1) & mask) {
        if (m->state[i] == HASH_EMPTY)
            return SIZE_MAX;
        if (m->state[i] == HASH_USED && strcmp(m->keys[i], key) == 0)
            return i;
    }
}

static void smap_insert_owned(struct smap *m, char *key, void *val)
{
    size_t mask = m->cap - 1, i = hash_str(key) & mask;
    while (m->state[i] == HASH_USED)
        i = (i + 1) & mask;
    if (m->state[i] == HASH_DELETED)
        m->dead--;
    m->state[i] = HASH_USED;
    m->keys[i] = key;
    m->vals[i] = val;
    m->used++;
}

void smap_put(struct smap *m, const char *key, void *val)
{
    size_t i = smap_find(m, key);
    if (i != SIZE_MAX) {
        m->vals[i] = val;
        return;
    }
    if ((m->used + m->dead + 1) * 10 >= m->cap * 7)
        smap_grow(m);
    smap_insert_owned(m, xstrdup(key), val);
}

void *smap_get(const struct smap *m, const char *key)
{
    size_t i = smap_find(m, key);
    return i == SIZE_MAX ? NULL : m->vals[i];
}

void *smap_del(struct smap *m, const char *key)
{
    size_t i = smap_find(m, key);
    if (i == SIZE_MAX)
        return NULL;
    void *v = m->vals[i];
    free(m->keys[i]);
    m->state[i] = HASH_DELETED;
    m->used--;
    m->dead++;
    return v;
}

bool smap_next(const struct smap *m, size_t *pos, const char **key, void **val)
{
    size_t i = next_used(m->state, m->cap, pos);
    bool found = i != SIZE_MAX;
    if (found && key)
        *key = m->keys[i];
    if (found && val)
        *val = m->vals[i];
    return found;
}
