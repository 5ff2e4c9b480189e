/* SPDX-License-Identifier: MIT
 * hash.c - imap, and smap on top of it (see hash.h). Capacities are powers of two. Integer keys
 * are spread with splitmix64: they are ours (pids, item ids, contexts). Strings, which clients
 * choose, are hashed with SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012) under a process key, so nobody outside can aim strings at one probe run.
 */
#include "hash.h"

#include <string.h>

#include "alloc.h"

/* ---- hashing ------------------------------------------------------------------------------- */

/* The default key: arbitrary constants, replaced by hash_seed() in the server. */
static uint64_t sip_k0 = 0x0706050403020100ull, sip_k1 = 0x0f0e0d0c0b0a0908ull;

void hash_seed(const unsigned char key[16])
{
    uint64_t k[2] = {0, 0};
    for (int i = 0; i < 16; i++)
        k[i / 8] |= (uint64_t)key[i] << (8 * (i % 8));
    sip_k0 = k[0];
    sip_k1 = k[1];
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static void sip_round(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = rotl(v[1], 13) ^ v[0];
    v[0] = rotl(v[0], 32);
    v[2] += v[3];
    v[3] = rotl(v[3], 16) ^ v[2];
    v[0] += v[3];
    v[3] = rotl(v[3], 21) ^ v[0];
    v[2] += v[1];
    v[1] = rotl(v[1], 17) ^ v[2];
    v[2] = rotl(v[2], 32);
}

/* Two compression rounds per 8-byte word. */
static void sip_word(uint64_t v[4], uint64_t m)
{
    v[3] ^= m;
    sip_round(v);
    sip_round(v);
    v[0] ^= m;
}

uint64_t hash_bytes(const void *data, size_t n, uint64_t tweak)
{
    const unsigned char *p = data;
    uint64_t v[4] = {sip_k0 ^ 0x736f6d6570736575ull, sip_k1 ^ 0x646f72616e646f6dull,
                     sip_k0 ^ 0x6c7967656e657261ull, sip_k1 ^ 0x7465646279746573ull};
    sip_word(v, tweak);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t m = 0;
        for (int b = 0; b < 8; b++)
            m |= (uint64_t)p[i + b] << (8 * b);
        sip_word(v, m);
    }
    uint64_t last = (uint64_t)(n + 8) << 56; /* the length counts the tweak */
    for (int b = 0; i + (size_t)b < n; b++)
        last |= (uint64_t)p[i + (size_t)b] << (8 * b);
    sip_word(v, last);
    v[2] ^= 0xff;
    for (int r = 0; r < 4; r++) /* four finalization rounds */
        sip_round(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

uint64_t hash_fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* the FNV-1a 64-bit offset basis and prime */
    while (*s)
        h = (h ^ (unsigned char)*s++) * 0x100000001b3ull;
    return h;
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

/* Make room for one more entry: double at 70% load (live and dead), or just sweep the tombstones
 * when at most half the slots are live. */
static void reserve_one(struct imap *m)
{
    if ((m->used + m->dead + 1) * 10 < m->cap * 7)
        return;
    struct imap old = *m;
    m->cap = old.cap ? (old.used * 2 >= old.cap ? old.cap * 2 : old.cap) : 16;
    m->keys = xmalloc(m->cap * sizeof *m->keys);
    m->vals = xmalloc(m->cap * sizeof *m->vals);
    m->state = xcalloc(m->cap, 1);
    m->used = m->dead = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.state[i] == HASH_USED)
            imap_add(m, old.keys[i], old.vals[i]);
    free(old.keys);
    free(old.vals);
    free(old.state);
}

/* The next slot of key's probe run, from step *step on, that holds 'key' (then *step moves past
 * it), or SIZE_MAX at the run's end: the first empty slot. Growth keeps one slot empty at least. */
static size_t probe(const struct imap *m, uint64_t key, size_t *step)
{
    if (!m->cap)
        return SIZE_MAX;
    size_t mask = m->cap - 1, home = mix64(key) & mask;
    for (; *step < m->cap; ++*step) {
        size_t i = (home + *step) & mask;
        if (m->state[i] == HASH_EMPTY)
            break;
        if (m->state[i] == HASH_USED && m->keys[i] == key) {
            ++*step;
            return i;
        }
    }
    *step = m->cap;
    return SIZE_MAX;
}

void imap_add(struct imap *m, uint64_t key, uint64_t val)
{
    reserve_one(m);
    size_t mask = m->cap - 1, i = mix64(key) & mask;
    while (m->state[i] == HASH_USED)
        i = (i + 1) & mask;
    if (m->state[i] == HASH_DELETED)
        m->dead--;
    m->state[i] = HASH_USED;
    m->keys[i] = key;
    m->vals[i] = val;
    m->used++;
}

void imap_put(struct imap *m, uint64_t key, uint64_t val)
{
    size_t step = 0, i = probe(m, key, &step);
    if (i != SIZE_MAX)
        m->vals[i] = val;
    else
        imap_add(m, key, val);
}

bool imap_probe(const struct imap *m, uint64_t key, size_t *pos, uint64_t *val)
{
    size_t i = probe(m, key, pos);
    if (i == SIZE_MAX)
        return false;
    if (val)
        *val = m->vals[i];
    return true;
}

bool imap_get(const struct imap *m, uint64_t key, uint64_t *val)
{
    size_t step = 0;
    return imap_probe(m, key, &step, val);
}

static void delete_slot(struct imap *m, size_t i)
{
    m->state[i] = HASH_DELETED;
    m->used--;
    m->dead++;
}

bool imap_del(struct imap *m, uint64_t key)
{
    size_t step = 0, i = probe(m, key, &step);
    if (i == SIZE_MAX)
        return false;
    delete_slot(m, i);
    return true;
}

bool imap_del_pair(struct imap *m, uint64_t key, uint64_t val)
{
    size_t step = 0, i;
    while ((i = probe(m, key, &step)) != SIZE_MAX)
        if (m->vals[i] == val) {
            delete_slot(m, i);
            return true;
        }
    return false;
}

bool imap_next(const struct imap *m, size_t *pos, uint64_t *key, uint64_t *val)
{
    for (size_t i = *pos; i < m->cap; i++)
        if (m->state[i] == HASH_USED) {
            *pos = i + 1;
            if (key)
                *key = m->keys[i];
            if (val)
                *val = m->vals[i];
            return true;
        }
    *pos = m->cap;
    return false;
}

/* ---- smap ---------------------------------------------------------------------------------- */

struct smap_entry {
    void *val; /* borrowed */
    char key[];
};

static uint64_t key_hash(const char *key)
{
    return hash_bytes(key, strlen(key), 0);
}

static struct smap_entry *as_entry(uint64_t v)
{
    return (struct smap_entry *)(uintptr_t)v;
}

static struct smap_entry *find_entry(const struct smap *m, const char *key, uint64_t h)
{
    uint64_t v;
    for (size_t pos = 0; imap_probe(&m->index, h, &pos, &v);)
        if (strcmp(as_entry(v)->key, key) == 0)
            return as_entry(v);
    return NULL;
}

void smap_init(struct smap *m)
{
    imap_init(&m->index);
    m->used = 0;
}

void smap_deinit(struct smap *m, void (*free_val)(void *))
{
    uint64_t v;
    for (size_t pos = 0; imap_next(&m->index, &pos, NULL, &v);) {
        if (free_val)
            free_val(as_entry(v)->val);
        free(as_entry(v));
    }
    imap_deinit(&m->index);
    m->used = 0;
}

void smap_put(struct smap *m, const char *key, void *val)
{
    uint64_t h = key_hash(key);
    struct smap_entry *e = find_entry(m, key, h);
    if (!e) {
        size_t n = strlen(key);
        e = xmalloc(sizeof *e + n + 1);
        memcpy(e->key, key, n + 1);
        imap_add(&m->index, h, (uint64_t)(uintptr_t)e);
        m->used++;
    }
    e->val = val;
}

void *smap_get(const struct smap *m, const char *key)
{
    struct smap_entry *e = find_entry(m, key, key_hash(key));
    return e ? e->val : NULL;
}

void *smap_del(struct smap *m, const char *key)
{
    uint64_t h = key_hash(key);
    struct smap_entry *e = find_entry(m, key, h);
    if (!e)
        return NULL;
    void *val = e->val;
    imap_del_pair(&m->index, h, (uint64_t)(uintptr_t)e);
    free(e);
    m->used--;
    return val;
}

bool smap_next(const struct smap *m, size_t *pos, const char **key, void **val)
{
    uint64_t v;
    if (!imap_next(&m->index, pos, NULL, &v))
        return false;
    if (key)
        *key = as_entry(v)->key;
    if (val)
        *val = as_entry(v)->val;
    return true;
}
