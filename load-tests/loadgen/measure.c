/* measure: event ids, histograms, error counts and their printing (contracts in measure.h). */
#include "measure.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

errs_t lg_errs;

bool evid_parse(const char *s, size_t n, evid_t *out)
{
    size_t i = 0;
    uint64_t ms = 0, seq = 0;
    if (n == 0 || n > 41) return false;
    for (; i < n && s[i] != '-'; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        ms = ms * 10 + (uint64_t)(s[i] - '0');
    }
    if (i == 0 || i >= n - 1 || s[i] != '-') return false;
    for (i++; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        seq = seq * 10 + (uint64_t)(s[i] - '0');
    }
    out->ms = ms;
    out->seq = seq;
    return true;
}

/* highest value mapping to idx */
static uint64_t h_hi(unsigned idx)
{
    if (idx < H_LINEAR) return idx;
    unsigned k = idx - H_LINEAR;
    unsigned m = k / H_SUB + H_SUBBITS + 1, sub = k % H_SUB;
    uint64_t lo = ((uint64_t)(H_SUB + sub)) << (m - H_SUBBITS);
    return lo + (1ull << (m - H_SUBBITS)) - 1;
}

void h_reset(hist_t *h) { memset(h, 0, sizeof *h); }

uint64_t h_pct(const hist_t *h, double p)
{
    if (!h->n) return 0;
    uint64_t target = (uint64_t)ceil(p / 100.0 * (double)h->n);
    if (target < 1) target = 1;
    uint64_t acc = 0;
    for (unsigned i = 0; i < H_BUCKETS; i++) {
        acc += h->c[i];
        if (acc >= target) {
            uint64_t v = h_hi(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

void hist_print_row(FILE *f, const char *name, const hist_t *h)
{
    fprintf(f, "  %-22s %12" PRIu64 " %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f\n", name, h->n, h->n ? h->sum / h->n / 1e3 : 0.0,
            h_pct(h, 50) / 1e3, h_pct(h, 90) / 1e3, h_pct(h, 99) / 1e3, h_pct(h, 99.9) / 1e3, h->max / 1e3);
}

void hist_json_ms(FILE *f, const char *name, const hist_t *h, bool comma)
{
    fprintf(f,
            "  \"%s\": {\"count\": %" PRIu64 ", \"mean_ms\": %.3f, \"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, "
            "\"p999_ms\": %.3f, \"max_ms\": %.3f, \"min_ms\": %.3f}%s\n",
            name, h->n, h->n ? h->sum / h->n / 1e3 : 0.0, h_pct(h, 50) / 1e3, h_pct(h, 90) / 1e3, h_pct(h, 99) / 1e3, h_pct(h, 99.9) / 1e3,
            h->max / 1e3, h->min / 1e3, comma ? "," : "");
}

void hist_json_unit(FILE *f, const char *name, const hist_t *h, double div, const char *unit, bool comma)
{
    fprintf(f,
            "  \"%s\": {\"count\": %" PRIu64 ", \"mean_%s\": %.3f, \"p50_%s\": %.3f, \"p90_%s\": %.3f, \"p99_%s\": %.3f, \"max_%s\": %.3f, "
            "\"min_%s\": %.3f}%s\n",
            name, h->n, unit, h->n ? h->sum / h->n / div : 0.0, unit, h_pct(h, 50) / div, unit, h_pct(h, 90) / div, unit,
            h_pct(h, 99) / div, unit, h->max / div, unit, h->min / div, comma ? "," : "");
}

void err_count(const char *name, size_t len)
{
    errs_t *e = &lg_errs;
    if (len >= sizeof e->e[0].name) len = sizeof e->e[0].name - 1;
    e->total++;
    for (int i = 0; i < e->n; i++)
        if (strlen(e->e[i].name) == len && !memcmp(e->e[i].name, name, len)) {
            e->e[i].n++;
            return;
        }
    if (e->n < ERR_KINDS) {
        memcpy(e->e[e->n].name, name, len);
        e->e[e->n].name[len] = 0;
        e->e[e->n++].n = 1;
    }
}

void err_str(const char *s) { err_count(s, strlen(s)); }

void errs_print(FILE *f, const errs_t *e)
{
    for (int i = 0; i < e->n; i++) fprintf(f, "  %s=%" PRIu64, e->e[i].name, e->e[i].n);
}

void errs_json(FILE *f, const char *name, const errs_t *e, bool comma)
{
    fprintf(f, "  \"%s\": {", name);
    for (int i = 0; i < e->n; i++) fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", e->e[i].name, e->e[i].n);
    fprintf(f, "}%s\n", comma ? "," : "");
}
