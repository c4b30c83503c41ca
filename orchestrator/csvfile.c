/* csvfile.c: CSV records with their line numbers, and cell numbers. */
#include "csvfile.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool kiln_csv__strtod(double *out, const char *s, const char *end)
{
    char *stop;
    errno = 0;
    *out = strtod(s, &stop);
    return stop == end && errno != ERANGE && isfinite(*out);
}

/* Reading records. */

typedef struct reader {
    kiln_csv_record_cb cb;
    void *data;
    const char *path;
    size_t line;           /* the line being fed to libcsv */
    size_t index;          /* records so far */
    size_t n_header;       /* fields of the header */
    size_t start;          /* the current record's first line, 0 until
                              its first field ended */
    kiln_buf bytes;        /* the current record's fields, NUL after each */
    size_t n, cap;
    size_t *offs, *lens;
    const char **fields;
    int rc;                /* stops reading when not 0 */
    kiln_err *err;
} reader;

static size_t count_newlines(const char *s, size_t n)
{
    size_t k = 0;
    for (const char *p = s; (p = memchr(p, '\n', n - (size_t)(p - s)));
         p++)
        k++;
    return k;
}

static void on_field(void *data, size_t len, void *rd_)
{
    reader *rd = rd_;
    const char *s = data ? data : "";
    if (rd->rc)
        return;
    /* A field ends on the line being fed; the newlines it holds (a quoted
     * field may span lines) say where it began. */
    if (rd->n == 0)
        rd->start = rd->line - count_newlines(s, len);
    if (rd->index == 0 && rd->n == 0 && len >= 3 &&
        memcmp(s, "\xef\xbb\xbf", 3) == 0) {
        s += 3; /* a UTF-8 byte order mark is not part of the name */
        len -= 3;
    }
    if (rd->n == rd->cap) {
        rd->cap = rd->cap ? rd->cap * 2 : 16;
        rd->offs = kiln_realloc(rd->offs, rd->cap * sizeof(size_t));
        rd->lens = kiln_realloc(rd->lens, rd->cap * sizeof(size_t));
        rd->fields = kiln_realloc(rd->fields, rd->cap * sizeof(char *));
    }
    rd->offs[rd->n] = rd->bytes.len;
    rd->lens[rd->n++] = len;
    kiln_buf_add(&rd->bytes, s, len);
    kiln_buf_add(&rd->bytes, "", 1);
}

static void on_row(int term, void *rd_)
{
    reader *rd = rd_;
    kiln_csv_record rec;
    (void)term;
    if (rd->rc)
        return;
    if (rd->index == 0)
        rd->n_header = rd->n;
    if (rd->n != rd->n_header) {
        rd->rc = kiln_err_set(rd->err, KILN_EINVAL, "%s: line %zu: expected "
                              "%zu field%s as in the header, got %zu",
                              rd->path, rd->start, rd->n_header,
                              rd->n_header == 1 ? "" : "s", rd->n);
        return;
    }
    for (size_t i = 0; i < rd->n; i++)
        rd->fields[i] = rd->bytes.ptr + rd->offs[i];
    rec.index = rd->index++;
    rec.line = rd->start;
    rec.n = rd->n;
    rec.fields = rd->fields;
    rec.lens = rd->lens;
    rd->rc = rd->cb(&rec, rd->data);
    rd->n = 0;
    kiln_buf_clear(&rd->bytes);
}

/* Feed a chunk line by line, so the callbacks know the line. */
static int feed(reader *rd, struct csv_parser *p, const char *buf, size_t n)
{
    const char *s = buf, *end = buf + n;
    while (s < end && rd->rc == 0) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t len = nl ? (size_t)(nl - s) + 1 : (size_t)(end - s);
        if (csv_parse(p, s, len, on_field, on_row, rd) != len)
            return kiln_err_set(rd->err, KILN_EINVAL, "%s: line %zu: "
                                "malformed CSV (a quote inside an unquoted "
                                "field, or text after a closing quote)",
                                rd->path, rd->line);
        if (nl)
            rd->line++;
        s += len;
    }
    return rd->rc;
}

int kiln_csv_read(const char *path, kiln_csv_record_cb cb, void *data,
                  kiln_err *err)
{
    struct csv_parser p;
    reader rd;
    char buf[1 << 16];
    ssize_t n;
    int fd, rc = 0;

    memset(&rd, 0, sizeof(rd));
    rd.cb = cb;
    rd.data = data;
    rd.path = path;
    rd.line = 1;
    rd.err = err;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return kiln_err_set_os(err, "cannot open %s", path);
    csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL);
    while (rc == 0 && (n = read(fd, buf, sizeof(buf))) > 0)
        rc = feed(&rd, &p, buf, (size_t)n);
    if (rc == 0 && n < 0)
        rc = kiln_err_set_os(err, "cannot read %s", path);
    if (rc == 0 && csv_fini(&p, on_field, on_row, &rd) != 0) {
        /* Only an unclosed quote fails at the end. It opened on the
         * record's first line if a field of the record had ended, else
         * on the line of the open field's first byte. */
        size_t open = rd.n ? rd.start
                           : rd.line - count_newlines((char *)p.entry_buf,
                                                      p.entry_pos);
        rc = kiln_err_set(err, KILN_EINVAL, "%s: line %zu: a quoted field "
                          "is not closed before the end of the file", path,
                          open);
    }
    if (rc == 0)
        rc = rd.rc;
    if (rc == 0 && rd.index == 0)
        rc = kiln_err_set(err, KILN_EINVAL, "%s: line 1: expected a header "
                          "row naming the columns", path);
    csv_free(&p);
    close(fd);
    kiln_buf_dispose(&rd.bytes);
    free(rd.offs);
    free(rd.lens);
    free(rd.fields);
    return rc;
}
