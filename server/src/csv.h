/* SPDX-License-Identifier: MIT
 * csv.h - a CSV document built cell by cell, as RFC 4180 writes it: cells separated by commas,
 * rows ended by CRLF, a cell holding a comma, a double quote, CR or LF enclosed in double quotes
 * with its quotes doubled. Text cells are guarded against formula injection: one that starts
 * with = + - @ TAB or CR (the characters OWASP's "CSV Injection" page lists) gets a leading
 * apostrophe, so that a spreadsheet shows it as text instead of evaluating it. Pure.
 */
#ifndef COJAM_CSV_H
#define COJAM_CSV_H

#include <stdbool.h>
#include <stddef.h>

struct csv {
    char *buf; /* owned, NUL-terminated once anything was written */
    size_t len, cap;
    bool in_row; /* a cell was written in the current row: the next one needs a comma */
};

/* A zeroed struct csv is an empty document. 's' NULL is an empty cell. */
void csv_text(struct csv *c, const char *s);
/* A number cell: never guarded (a negative number stays a number). */
void csv_int(struct csv *c, long long v);
void csv_end_row(struct csv *c);
/* The document (a malloc'd string, "" when empty); 'c' is empty again. */
char *csv_take(struct csv *c);

#endif
