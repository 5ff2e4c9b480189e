/* SPDX-License-Identifier: MIT
 * rank.c - the ranking core: a size-augmented treap over (score desc, id asc).
 * Nodes live in one array indexed by id, and children are ids (0 = none), so finding an item is
 * O(1) and the tree costs 24 bytes per id slot. It owns order and position only: no I/O, no clock,
 * no persistence. Trade-off: memory follows the largest id, not the count, since ids are dense.
 */
#include "rank.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Ids are below 2^31 (rank.h), so a child link fits in uint32_t and 0 can mean "no child". */
#define RANK_MAX_ID ((uint32_t)1 << 31)
/* Enough for a small room without a realloc; the array doubles from there. */
#define RANK_INITIAL_CAP 64

struct node {
    int64_t score;
    uint32_t left, right;
    uint32_t size; /* nodes in this subtree; 0 means the id is not in the index */
    uint32_t prio; /* heap order: a parent's prio is >= its children's */
};

struct rank {
    struct node *nodes; /* owned; indexed by id, slot 0 is a permanent empty sentinel */
    size_t cap;         /* slots in 'nodes' */
    size_t count;
    uint32_t root;
    uint64_t rng; /* splitmix64 state, seeded by rank_new */
};

/* ------------------------------------------------------------------------------------------ */
/* Helpers                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* splitmix64: one add and a few mixes per draw, and any seed (even 0) gives a good stream. */
static uint32_t next_prio(struct rank *r)
{
    uint64_t z = (r->rng += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    z ^= z >> 31;
    return (uint32_t)(z >> 32);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p)
        abort();
    return p;
}

/* True when id 'a' sorts before id 'b': higher score first, then the smaller id. */
static inline bool is_before(const struct node *n, uint32_t a, uint32_t b)
{
    /* 'a < b' orders ids, it is no bounds check (cppcheck takes it for one). */
    // cppcheck-suppress arrayIndexThenCheck
    return n[a].score > n[b].score || (n[a].score == n[b].score && a < b);
}

static inline void fix_size(struct node *n, uint32_t t)
{
    n[t].size = 1 + n[n[t].left].size + n[n[t].right].size;
}

static inline bool is_present(const struct rank *r, uint32_t id)
{
    return id != 0 && id < r->cap && r->nodes[id].size != 0;
}

/* Make slot 'id' addressable. New slots are zeroed, i.e. absent. */
static void grow(struct rank *r, uint32_t id)
{
    if (id < r->cap)
        return;
    size_t cap = r->cap;
    while (cap <= id)
        cap *= 2;
    if (cap > SIZE_MAX / sizeof(struct node))
        abort();
    r->nodes = xrealloc(r->nodes, cap * sizeof(struct node));
    memset(r->nodes + r->cap, 0, (cap - r->cap) * sizeof(struct node));
    r->cap = cap;
}

/* ------------------------------------------------------------------------------------------ */
/* Treap primitives. Recursion depth is the tree depth, O(log n) expected: priorities come     */
/* from the PRNG and are independent of the keys, so no insertion order can unbalance it.      */
/* ------------------------------------------------------------------------------------------ */

/* Split subtree 't' into the nodes before 'x' (*l) and after it (*g). 'x' is not in 't'. */
static void split(struct node *n, uint32_t t, uint32_t x, uint32_t *l, uint32_t *g)
{
    if (!t) {
        *l = *g = 0;
        return;
    }
    if (is_before(n, t, x)) {
        split(n, n[t].right, x, &n[t].right, g);
        *l = t;
    } else {
        split(n, n[t].left, x, l, &n[t].left);
        *g = t;
    }
    fix_size(n, t);
}

/* Join two subtrees where every node of 'a' sorts before every node of 'b'. */
static uint32_t merge(struct node *n, uint32_t a, uint32_t b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    if (n[a].prio > n[b].prio) {
        n[a].right = merge(n, n[a].right, b);
        fix_size(n, a);
        return a;
    }
    n[b].left = merge(n, a, n[b].left);
    fix_size(n, b);
    return b;
}

/* Insert the detached node 'x' (size 1, no children) into subtree 't'; returns the new root. */
static uint32_t insert_at(struct node *n, uint32_t t, uint32_t x)
{
    if (!t)
        return x;
    if (n[x].prio > n[t].prio) {
        split(n, t, x, &n[x].left, &n[x].right);
        fix_size(n, x);
        return x;
    }
    if (is_before(n, x, t))
        n[t].left = insert_at(n, n[t].left, x);
    else
        n[t].right = insert_at(n, n[t].right, x);
    n[t].size++;
    return t;
}

/* Unlink 'x', which must be in subtree 't' with its current score; returns the new root. */
static uint32_t remove_at(struct node *n, uint32_t t, uint32_t x)
{
    if (t == x)
        return merge(n, n[x].left, n[x].right);
    if (is_before(n, x, t))
        n[t].left = remove_at(n, n[t].left, x);
    else
        n[t].right = remove_at(n, n[t].right, x);
    n[t].size--;
    return t;
}

static void detach(struct rank *r, uint32_t id)
{
    struct node *n = r->nodes;
    r->root = remove_at(n, r->root, id);
    n[id].left = n[id].right = 0;
    n[id].size = 0;
}

static void attach(struct rank *r, uint32_t id)
{
    struct node *n = r->nodes;
    n[id].left = n[id].right = 0;
    n[id].size = 1;
    r->root = insert_at(n, r->root, id);
}

/* In-order walk that stops after 'k' ids: visits O(depth + k) nodes. */
static void collect(const struct node *n, uint32_t t, size_t k, uint32_t *out, size_t *got)
{
    while (t && *got < k) {
        collect(n, n[t].left, k, out, got);
        if (*got >= k)
            return;
        out[(*got)++] = t;
        t = n[t].right;
    }
}

/* In-order walk that passes over the first '*skip' ids and then collects up to 'k': whole left
 * subtrees that fall inside the skipped prefix are stepped over by their size, so it visits
 * O(depth + k) nodes wherever the range starts. */
static void collect_from(const struct node *n, uint32_t t, size_t *skip, size_t k, uint32_t *out,
                         size_t *got)
{
    while (t && *got < k) {
        if (n[n[t].left].size <= *skip)
            *skip -= n[n[t].left].size;
        else
            collect_from(n, n[t].left, skip, k, out, got);
        if (*got >= k)
            return;
        if (*skip)
            (*skip)--;
        else
            out[(*got)++] = t;
        t = n[t].right;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Public API                                                                                  */
/* ------------------------------------------------------------------------------------------ */

struct rank *rank_new(uint32_t seed)
{
    struct rank *r = xrealloc(NULL, sizeof(*r));
    r->cap = RANK_INITIAL_CAP;
    r->nodes = xrealloc(NULL, r->cap * sizeof(struct node));
    memset(r->nodes, 0, r->cap * sizeof(struct node));
    r->count = 0;
    r->root = 0;
    r->rng = seed;
    return r;
}

void rank_free(struct rank *r)
{
    if (!r)
        return;
    free(r->nodes);
    free(r);
}

int rank_insert(struct rank *r, uint32_t id, int64_t score)
{
    if (id == 0 || id >= RANK_MAX_ID)
        return -EINVAL;
    if (is_present(r, id))
        return -EEXIST;
    grow(r, id);
    r->nodes[id].score = score;
    r->nodes[id].prio = next_prio(r);
    attach(r, id);
    r->count++;
    return 0;
}

int rank_remove(struct rank *r, uint32_t id)
{
    if (!is_present(r, id))
        return -ENOENT;
    detach(r, id);
    r->nodes[id].score = 0;
    r->count--;
    return 0;
}

int rank_set(struct rank *r, uint32_t id, int64_t score)
{
    if (!is_present(r, id))
        return -ENOENT;
    if (r->nodes[id].score == score)
        return 0;
    /* The node keeps its priority, so the shape stays a function of the seed and the ops. */
    detach(r, id);
    r->nodes[id].score = score;
    attach(r, id);
    return 0;
}

bool rank_has(const struct rank *r, uint32_t id)
{
    return is_present(r, id);
}

int64_t rank_score(const struct rank *r, uint32_t id)
{
    return is_present(r, id) ? r->nodes[id].score : 0;
}

size_t rank_count(const struct rank *r)
{
    return r->count;
}

int64_t rank_of(const struct rank *r, uint32_t id)
{
    if (!is_present(r, id))
        return -1;
    const struct node *n = r->nodes;
    int64_t pos = 0;
    uint32_t t = r->root;
    while (t != id) {
        if (is_before(n, id, t)) {
            t = n[t].left;
        } else {
            pos += (int64_t)n[n[t].left].size + 1;
            t = n[t].right;
        }
    }
    return pos + n[n[id].left].size;
}

size_t rank_top(const struct rank *r, size_t k, uint32_t *out)
{
    size_t got = 0;
    collect(r->nodes, r->root, k, out, &got);
    return got;
}

size_t rank_range(const struct rank *r, size_t from, size_t k, uint32_t *out)
{
    size_t got = 0;
    collect_from(r->nodes, r->root, &from, k, out, &got);
    return got;
}
