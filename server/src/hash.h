/* SPDX-License-Identifier: MIT
 * hash.h - two small open-addressing hash tables for the core: imap (uint64 -> uint64) and
 * smap (string -> pointer). Linear probing with tombstones; grown at 70% load. No I/O.
 */
#ifndef COJAM_HASH_H
#define COJAM_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct imap {
    uint64_t *keys;
    uint64_t *vals;
    uint8_t *state; /* 0 empty, 1 used, 2 deleted */
    size_t cap, used, dead;
};

void imap_init(struct imap *m);
void imap_deinit(struct imap *m);
/* Insert or replace. */
void imap_put(struct imap *m, uint64_t key, uint64_t val);
/* Returns true and sets *val when present ('val' may be NULL). */
bool imap_get(const struct imap *m, uint64_t key, uint64_t *val);
bool imap_del(struct imap *m, uint64_t key);

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
/* Iterate: for (size_t i = 0; i < m->cap; i++) if (m->state && m->state[i] == 1) ... */

#endif
