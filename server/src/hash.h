/* SPDX-License-Identifier: MIT
 * hash.h - the core's one open-addressing hash table, imap (uint64 -> uint64: linear probing with
 * tombstones, grown at 70% load), and what is built on it: smap (string -> pointer) and, in room.c,
 * the op table, both imaps from a keyed string hash to records that carry their own key. No I/O.
 */
#ifndef COJAM_HASH_H
#define COJAM_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Set the process's 128-bit key for hash_bytes/hash_string (SipHash-2-4). Clients choose op ids,
 * so with a key they cannot know they cannot choose ids that pile up in one probe run (hash
 * flooding). Call it once at start-up, before any smap or room exists and before other threads
 * run; until then a fixed key is used (deterministic, and public: fine for tests only). */
void hash_seed(const unsigned char key[16]);
/* SipHash-2-4 under the process key of the 8 little-endian bytes of 'tweak' followed by 'data'. */
uint64_t hash_bytes(const void *data, size_t n, uint64_t tweak);

/* The state of a slot. Walk the tables with imap_next/smap_next, never over 'state'. */
enum hash_slot { HASH_EMPTY = 0, HASH_USED = 1, HASH_DELETED = 2 };

struct imap {
    uint64_t *keys;
    uint64_t *vals;
    uint8_t *state; /* enum hash_slot */
    size_t cap, used, dead;
};

void imap_init(struct imap *m);
void imap_deinit(struct imap *m);
/* Insert or replace. */
void imap_put(struct imap *m, uint64_t key, uint64_t val);
/* Returns true and sets *val when present ('val' may be NULL). */
bool imap_get(const struct imap *m, uint64_t key, uint64_t *val);
bool imap_del(struct imap *m, uint64_t key);
/* Iterate: for (size_t pos = 0; imap_next(m, &pos, &k, &v);) ...  'key' and 'val' may be NULL.
 * Deleting the entry just returned is allowed; inserting while iterating is not. */
bool imap_next(const struct imap *m, size_t *pos, uint64_t *key, uint64_t *val);

/* The same table as a multimap, for records found by a hash of their own key: imap_add inserts
 * without looking for 'key' (several values may share it), imap_probe walks the values stored
 * under 'key' (for (size_t pos = 0; imap_probe(m, key, &pos, &v);) ...), imap_del_pair removes
 * the entry (key, val). Use a map either this way or with put/get/del, not both. */
void imap_add(struct imap *m, uint64_t key, uint64_t val);
bool imap_probe(const struct imap *m, uint64_t key, size_t *pos, uint64_t *val);
bool imap_del_pair(struct imap *m, uint64_t key, uint64_t val);

struct smap {
    struct imap index; /* hash_bytes(key) -> owned entry (the key's copy and the value) */
    size_t used;       /* entries */
};

void smap_init(struct smap *m);
/* Frees the key copies; calls 'free_val' on each value when not NULL. */
void smap_deinit(struct smap *m, void (*free_val)(void *));
/* Insert or replace; the map keeps a copy of 'key', and borrows 'val' (the caller owns it). */
void smap_put(struct smap *m, const char *key, void *val);
void *smap_get(const struct smap *m, const char *key);
/* Removes and returns the value (NULL if absent). */
void *smap_del(struct smap *m, const char *key);
/* Iterate like imap_next; 'key' and 'val' may be NULL. */
bool smap_next(const struct smap *m, size_t *pos, const char **key, void **val);

/* 64-bit FNV-1a of a string. Unlike the tables' internal hashing it is part of the contract: the
 * same string gives the same value in every run and build, so it may name things that outlive the
 * process (store.c's default instance id). */
uint64_t hash_fnv1a(const char *s);

#endif
