/* SPDX-License-Identifier: MIT
 * capture.h - run code with stdout or stderr sent to a temporary file and get back what it wrote,
 * so that tests of modules that print (log, config) check the text and keep the TAP output clean.
 * Usage: struct capture c; capture_begin(&c, 2); ...; char *text = capture_end(&c); free(text);
 */
#ifndef COJAM_TEST_CAPTURE_H
#define COJAM_TEST_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct capture {
    int fd;    /* 1 or 2 */
    int saved; /* the original descriptor */
    FILE *tmp;
};

static inline void capture_begin(struct capture *c, int fd)
{
    fflush(fd == 1 ? stdout : stderr);
    c->fd = fd;
    c->saved = dup(fd);
    c->tmp = tmpfile();
    if (c->saved < 0 || !c->tmp || dup2(fileno(c->tmp), fd) < 0) {
        perror("capture_begin");
        exit(2);
    }
}

/* Restore the descriptor; returns what was written (malloc'd, NUL-terminated). */
static inline char *capture_end(struct capture *c)
{
    fflush(c->fd == 1 ? stdout : stderr);
    dup2(c->saved, c->fd);
    close(c->saved);
    long n = ftell(c->tmp);
    char *text = malloc(n > 0 ? (size_t)n + 1 : 1);
    rewind(c->tmp);
    size_t got = n > 0 ? fread(text, 1, (size_t)n, c->tmp) : 0;
    text[got] = '\0';
    fclose(c->tmp);
    return text;
}

#endif
