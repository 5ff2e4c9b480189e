/*
 * base: the clocks, logging, fatal exit, the random generator and buffer growth every other
 * loadgen module uses.  Includes nothing of loadgen.
 */
#ifndef LG_BASE_H
#define LG_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* monotonic µs: every duration loadgen measures */
static inline uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* wall-clock ms: comparable with the ms part of a Redis stream id */
static inline uint64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Sets the start instant that log lines and progress lines count from. */
void base_start(void);
/* Seconds from the start to t (monotonic µs). */
double since_s(uint64_t t);
/* A line on stderr, prefixed with the seconds since the start. */
void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "loadgen: fatal: ..." on stderr, exit status 2. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* xorshift64*: WebSocket keys and masks, vote choices.  rnd_seed sets the state to seed | 1 (--seed). */
void rnd_seed(uint64_t seed);
uint64_t rnd64(void);

/* Grows *b to hold at least need bytes (doubling from 4 KiB); dies when out of memory. */
void buf_reserve(uint8_t **b, uint32_t *cap, size_t need);

#endif
