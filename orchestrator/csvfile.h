/*
 * csvfile.h: reading CSV files record by record, with line numbers, and the
 * number syntax CSV cells share.
 *
 * Files are read with libcsv in strict mode, as drift.h's column loader
 * reads them (RFC 4180: quoted fields with commas, quotes and newlines,
 * CRLF, a UTF-8 BOM before the header, blank lines skipped). Each record
 * comes with the physical line it starts on, so checks can point at the
 * offending lines even when a quoted field spans several. Reading blocks.
 */
#ifndef KILN_CSVFILE_H
#define KILN_CSVFILE_H

#include "base/base.h"

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
 * count differs from the header's, no header at all), or KILN_ERROR when
 * the file cannot be opened or read (err names the path).
 */
int kiln_csv_read(const char *path, kiln_csv_record_cb cb, void *data,
                  kiln_err *err);

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
