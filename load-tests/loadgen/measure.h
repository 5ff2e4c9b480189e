/*
 * measure: what every scenario counts with.  Redis stream ids ("<ms>-<seq>") compared part by part,
 * log-bucket histograms with percentiles, error counts by name, and the table/JSON lines that print
 * them.  No I/O but the FILE * it is handed.
 */
#ifndef LG_MEASURE_H
#define LG_MEASURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* ----------------------------------------------------------- event ids */

typedef struct {
    uint64_t ms, seq;
} evid_t;

static inline int evid_cmp(evid_t a, evid_t b)
{
    if (a.ms != b.ms) return a.ms < b.ms ? -1 : 1;
    if (a.seq != b.seq) return a.seq < b.seq ? -1 : 1;
    return 0;
}

/* Parses "<ms>-<seq>" (digits only, at most 41 characters); false leaves *out alone. */
bool evid_parse(const char *s, size_t n, evid_t *out);

/* ----------------------------------------------------------- histogram */
/* HDR-like: exact below 128, then 64 sub-buckets per power of two (<1.6% error). */
#define H_SUBBITS 6
#define H_SUB (1u << H_SUBBITS)
#define H_LINEAR (2u * H_SUB)
#define H_BUCKETS (H_LINEAR + 58u * H_SUB)

typedef struct {
    uint64_t c[H_BUCKETS];
    uint64_t n, max, min;
    double sum;
} hist_t;

static inline unsigned h_idx(uint64_t v)
{
    if (v < H_LINEAR) return (unsigned)v;
    unsigned m = 63u - (unsigned)__builtin_clzll(v); /* >= 7 */
    unsigned idx = H_LINEAR + (m - (H_SUBBITS + 1)) * H_SUB + (unsigned)((v >> (m - H_SUBBITS)) & (H_SUB - 1));
    return idx < H_BUCKETS ? idx : H_BUCKETS - 1;
}

static inline void h_add(hist_t *h, uint64_t v)
{
    h->c[h_idx(v)]++;
    h->n++;
    h->sum += (double)v;
    if (v > h->max) h->max = v;
    if (h->n == 1 || v < h->min) h->min = v;
}

void h_reset(hist_t *h);
/* The p-th percentile (0 < p <= 100): the highest value of its bucket, at most the maximum; 0 when empty. */
uint64_t h_pct(const hist_t *h, double p);

/* One row "name count mean p50 p90 p99 p99.9 max" of µs values, printed in ms. */
void hist_print_row(FILE *f, const char *name, const hist_t *h);
/* "name": {count, mean, p50, p90, p99, p999, max, min} of µs values in ms ("_ms" keys). */
void hist_json_ms(FILE *f, const char *name, const hist_t *h, bool comma);
/* "name": {count, mean_U, p50_U, p90_U, p99_U, max_U, min_U}, each value divided by div. */
void hist_json_unit(FILE *f, const char *name, const hist_t *h, double div, const char *unit, bool comma);

/* -------------------------------------------------------------- errors */

#define ERR_KINDS 128 /* distinct names kept; more are counted in the total only */

typedef struct {
    char name[48];
    uint64_t n;
} errc_t;

typedef struct {
    errc_t e[ERR_KINDS];
    int n;
    uint64_t total;
} errs_t;

/* The process' error counts (one set: a scenario may copy it away and reset it between phases). */
extern errs_t lg_errs;

/* Counts one error named by the first len bytes of name (cut to 47). */
void err_count(const char *name, size_t len);
void err_str(const char *s);
/* "  name=N" for every error name, on one line (no newline). */
void errs_print(FILE *f, const errs_t *e);
/* "name": {"err": N, ...} */
void errs_json(FILE *f, const char *name, const errs_t *e, bool comma);

#endif
