/*
 * csvfile.h: the CSV module. Reading CSV files record by record with their
 * line numbers, loading them as columns (for drift), and the number
 * syntax CSV cells share. kiln drift, drift triggers and validation steps
 * all read CSV here, so a file means the same and fails with the same
 * message everywhere.
 *
 * Files are read with libcsv in strict mode (RFC 4180: quoted fields with
 * commas, quotes and newlines, CRLF, blank lines skipped). A UTF-8 byte
 * order mark at the start of the file is no part of the text. The first
 * record is the header and must name the columns: an empty file (or one of
 * blank lines, or only a byte order mark), a doubled byte order mark and a
 * name written twice are errors. Each record comes with the physical line
 * it starts on, so errors and checks point at the right line even when a
 * quoted field spans several. Reading blocks.
 *
 * Errors in a file are KILN_EINVAL, their message "FILE: line N: what is
 * wrong"; a file that cannot be opened or read is KILN_ERROR naming its
 * path.
 */
#ifndef KILN_CSVFILE_H
#define KILN_CSVFILE_H

#include "base/base.h"

/* Records. */

/* One record. The fields are NUL-terminated and live only during the
 * callback. */
typedef struct kiln_csv_record {
    size_t index;          /* 0: the header, then 1, 2... */
    size_t line;           /* 1-based line of the file it starts on */
    size_t n;              /* fields */
    const char *const *fields;
    const size_t *lens;
} kiln_csv_record;

/* Called for every record, the header first. Return 0 to go on; anything
 * else stops reading, and kiln_csv_read() returns it. */
typedef int (*kiln_csv_record_cb)(const kiln_csv_record *rec, void *data);

/*
 * Read the CSV file at path, calling cb for each record. Returns 0, the
 * callback's non-zero value, KILN_EINVAL naming the line of a malformed
 * file (a stray quote, an unclosed quoted field, a record whose field
 * count differs from the header's, no header, a doubled byte order mark,
 * a column name written twice), or KILN_ERROR when the file cannot be
 * opened or read (err names the path). The header is checked before cb
 * sees it. A header alone is a file of no data records, not an error.
 */
int kiln_csv_read(const char *path, kiln_csv_record_cb cb, void *data,
                  kiln_err *err);

/* Tables of columns. */

/* A column: numeric when every non-empty cell parses as a number
 * (kiln_csv_number()), categorical otherwise. Empty cells are missing. */
typedef struct kiln_csv_column {
    char *name;
    bool numeric;
    size_t n;          /* non-missing values */
    size_t missing;    /* empty cells */
    double *values;    /* numeric: the n values */
    size_t n_cats;     /* categorical: distinct values and their counts */
    char **cats;
    size_t *counts;
} kiln_csv_column;

typedef struct kiln_csv_table {
    size_t n_cols;
    kiln_csv_column *cols;
    size_t n_rows;     /* data rows, the header not counted */
} kiln_csv_table;

/*
 * Load the CSV file at path as columns. The errors of kiln_csv_read(),
 * with the same messages, and one more: a table needs data, so a header
 * without rows is KILN_EINVAL naming the line after the header. On error
 * *out is empty. Release with kiln_csv_table_dispose().
 */
int kiln_csv_load(kiln_csv_table *out, const char *path, kiln_err *err);
/* Free what t holds and empty it. t may be NULL. */
void kiln_csv_table_dispose(kiln_csv_table *t);
/* The column called name, or NULL. */
kiln_csv_column *kiln_csv_column_find(kiln_csv_table *t, const char *name);

/* Numbers. */

bool kiln_csv__strtod(double *out, const char *s, const char *end);

/* Parse a whole cell as a finite number (strtod's syntax). s must be
 * NUL-terminated at s[len]. Inline: it is the column loader's hot loop.
 * Plain decimals of up to 15 digits take a fast path that is exact (an
 * integer below 2^53 divided by a power of ten, both exactly
 * representable: one correctly rounded division, as strtod would give);
 * anything else goes to strtod. */
static inline bool kiln_csv_number(double *out, const char *s, size_t len)
{
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,
                                   1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
                                   1e18, 1e19, 1e20, 1e21, 1e22};
    const char *p = s, *end = s + len;
    uint64_t mant = 0;
    int digits = 0, frac = -1;
    bool neg = false;

    if (len == 0)
        return false;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    for (; p < end; p++) {
        if (*p >= '0' && *p <= '9') {
            mant = mant * 10 + (uint64_t)(*p - '0');
            digits++;
            if (frac >= 0)
                frac++;
        } else if (*p == '.' && frac < 0) {
            frac = 0;
        } else {
            break;
        }
    }
    if (p == end && digits > 0 && digits <= 15 && frac <= 22) {
        double v = (double)mant;
        if (frac > 0)
            v /= pow10[frac];
        *out = neg ? -v : v;
        return true;
    }
    return kiln_csv__strtod(out, s, end);
}

#endif
