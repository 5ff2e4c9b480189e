/*
 * probe: what loadgen reads beside its WebSocket clients, all blocking and time-bounded.  CPU ticks
 * and RSS of a process from /proc, machine-wide busy time from /proc/stat, its own CPU, the HTTP
 * API (POST), and the jam's Redis stream (XLEN, XREVRANGE).
 */
#ifndef LG_PROBE_H
#define LG_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "measure.h"

typedef struct {
    uint64_t ticks; /* utime + stime, all threads, in clock ticks */
    long rss_kb, hwm_kb;
    bool ok; /* false: no such pid (or pid <= 0) */
} procs_t;

procs_t proc_read(int pid);

/* Machine-wide busy jiffies (all CPUs), split into process time (user nice system steal), returned, and
 * irq+softirq time in *irq_ticks: with IRQ time accounting, softirq work (loopback TCP receive runs
 * there) is charged to no process.  0 when /proc/stat cannot be read. */
uint64_t machine_busy_ticks(uint64_t *irq_ticks);

/* utime + stime of this process, seconds */
double self_cpu_s(void);

/* POST path with body to host:port (Bearer token, 5 s timeouts); the response body (de-chunked) in out.
 * Returns the HTTP status, or -1 when no response was read. */
int http_post(const char *host, int port, const char *token, const char *path, const char *body, char *out, size_t outsz);

/* XLEN of the jam's event stream on a kept connection (1 s timeouts); -1 when unknown
 * (port 0, no jam code yet, Redis unreachable). */
long redis_xlen(const char *host, int port, const char *jam_code);

/* The id of the jam stream's last entry (XREVRANGE key + - COUNT 1), on its own connection. */
bool redis_last_id(const char *host, int port, const char *jam_code, evid_t *out);

#endif
