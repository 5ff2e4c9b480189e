/* base: clocks, logging, fatal exit, random numbers, buffer growth (contracts in base.h). */
#include "base.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t t0_us;
static uint64_t rng = 0x9E3779B97F4A7C15ull;

void base_start(void) { t0_us = now_us(); }

double since_s(uint64_t t) { return (double)(t - t0_us) / 1e6; }

void logf_(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "[%6.2fs] ", since_s(now_us()));
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "loadgen: fatal: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

void rnd_seed(uint64_t seed) { rng = seed | 1; }

uint64_t rnd64(void)
{
    uint64_t x = rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

void buf_reserve(uint8_t **b, uint32_t *cap, size_t need)
{
    if (need <= *cap) return;
    size_t nc = *cap ? *cap : 4096;
    while (nc < need) nc *= 2;
    uint8_t *nb = realloc(*b, nc);
    if (!nb) die("out of memory");
    *b = nb;
    *cap = (uint32_t)nc;
}
