/* SPDX-License-Identifier: MIT
 * hash.h - two small open-addressing hash tables for the core: imap (uint64 -> uint64) and
 * smap (string -> pointer). Linear probing with tombstones; grown at 70% load. No I/O.
 */
#ifndef COJAM_HASH_H
#define COJAM_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

struct smap {
    char **keys;   /* owned copies */
    void **vals;   /* borrowed: the caller owns the values */
    uint8_t *state;
    size_t cap, used, dead;
};

void smap_init(struct smap *m);
/* Frees the key copies; calls 'free_val' on each value when not NULL. */
void smap_deinit(struct smap *m, void (*free_val)(void *));
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
