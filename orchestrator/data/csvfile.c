/* csvfile.c: CSV records with their line numbers, tables of columns, and
 * cell numbers. */
#include "csvfile.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BOM "\xef\xbb\xbf"

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
    size_t line;           /* where the next record may start: 1 + the
                              newlines before it */
    size_t index;          /* records so far */
    size_t n_header;       /* fields of the header */
    size_t start;          /* the current record's first line */
    bool bom;              /* the file began with a byte order mark */
    char *bytes;           /* the current record's fields, NUL after each */
    size_t len, size;      /* of bytes: used, allocated */
    size_t n, cap;         /* fields: in the record, allocated */
    size_t *offs, *lens;
    const char **fields;
    int rc;                /* stops reading when not 0 */
    kiln_err *err;
} reader;

static size_t count_newlines(const char *s, size_t n)
{
    size_t k = 0;
    if (n == 0)
        return 0;
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
    if (rd->n == 0)
        rd->start = rd->line;
    if (rd->n == rd->cap) {
        rd->cap = rd->cap ? rd->cap * 2 : 16;
        rd->offs = kiln_realloc(rd->offs, rd->cap * sizeof(size_t));
        rd->lens = kiln_realloc(rd->lens, rd->cap * sizeof(size_t));
        rd->fields = kiln_realloc(rd->fields, rd->cap * sizeof(char *));
    }
    /* The hot path of every table: one copy, no calls out. */
    if (rd->len + len + 1 > rd->size) {
        while (rd->len + len + 1 > rd->size)
            rd->size = rd->size ? rd->size * 2 : 256;
        rd->bytes = kiln_realloc(rd->bytes, rd->size);
    }
    memcpy(rd->bytes + rd->len, s, len);
    rd->bytes[rd->len + len] = '\0';
    rd->offs[rd->n] = rd->len;
    rd->lens[rd->n++] = len;
    rd->len += len + 1;
}

static int cmp_name(const void *a, const void *b, void *rd_)
{
    const reader *rd = rd_;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    size_t n = rd->lens[i] < rd->lens[j] ? rd->lens[i] : rd->lens[j];
    int d = memcmp(rd->fields[i], rd->fields[j], n);
    if (d == 0 && rd->lens[i] != rd->lens[j])
        d = rd->lens[i] < rd->lens[j] ? -1 : 1;
    if (d == 0)
        d = i < j ? -1 : i > j;
    return d;
}

/* The header must tell the columns apart: the first name written twice,
 * reading left to right, is an error naming both columns. Sorting the
 * names keeps wide headers linear-logarithmic. */
static int check_header(reader *rd)
{
    size_t *idx, first = 0, second = SIZE_MAX, group = 0;
    if (rd->n < 2)
        return 0;
    idx = kiln_calloc(rd->n, sizeof(size_t));
    for (size_t i = 0; i < rd->n; i++)
        idx[i] = i;
    qsort_r(idx, rd->n, sizeof(size_t), cmp_name, rd);
    for (size_t i = 1; i < rd->n; i++) {
        size_t a = idx[i - 1], b = idx[i];
        if (rd->lens[a] != rd->lens[b] ||
            memcmp(rd->fields[a], rd->fields[b], rd->lens[a]) != 0) {
            group = i;
        } else if (i == group + 1 && b < second) {
            first = a; /* a group's first two: where the name recurs */
            second = b;
        }
    }
    free(idx);
    if (second == SIZE_MAX)
        return 0;
    return kiln_err_set(rd->err, KILN_EINVAL, "%s: line %zu: column \"%s\" "
                        "appears twice in the header (columns %zu and %zu)",
                        rd->path, rd->start, rd->fields[first], first + 1,
                        second + 1);
}

/* libcsv reports every line end outside a field (CSV_REPALL_NL): a record
 * ends at its first, blank lines and the LF of a CRLF come as records of
 * no fields. Counting the LFs among them, and those inside the record's
 * quoted fields, keeps the line of the next record without scanning the
 * input again. */
static void on_row(int term, void *rd_)
{
    reader *rd = rd_;
    kiln_csv_record rec;
    if (rd->rc)
        return;
    if (rd->n == 0) {
        rd->line += term == '\n';
        return;
    }
    rd->line = rd->start + count_newlines(rd->bytes, rd->len) +
               (term == '\n');
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
        rd->fields[i] = rd->bytes + rd->offs[i];
    if (rd->index == 0 && (rd->rc = check_header(rd)) != 0)
        return;
    rec.index = rd->index++;
    rec.line = rd->start;
    rec.n = rd->n;
    rec.fields = rd->fields;
    rec.lens = rd->lens;
    rd->rc = rd->cb(&rec, rd->data);
    rd->n = 0;
    rd->len = 0;
}

/* The line of the current record that libcsv has got to: its first line,
 * then the newlines of its ended fields and of the open one (with open,
 * libcsv's buffer of the field being read). */
static size_t record_line(const reader *rd, const struct csv_parser *p,
                          bool open)
{
    size_t line = rd->n ? rd->start : rd->line;
    line += count_newlines(rd->bytes, rd->len);
    if (open)
        line += count_newlines((const char *)p->entry_buf, p->entry_pos);
    return line;
}

static int feed(reader *rd, struct csv_parser *p, const char *buf, size_t n)
{
    size_t done = csv_parse(p, buf, n, on_field, on_row, rd);
    if (rd->rc == 0 && done != n)
        return kiln_err_set(rd->err, KILN_EINVAL, "%s: line %zu: malformed "
                            "CSV (a quote inside an unquoted field, or text "
                            "after a closing quote)", rd->path,
                            record_line(rd, p, true));
    return rd->rc;
}

/* Read up to n bytes, fewer only at the end of the file. */
static ssize_t read_full(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

/* The start of the file: a byte order mark is skipped (*skip = 3), a
 * second one is an error (it would become part of the first column's
 * name). */
static int skip_bom(size_t *skip, reader *rd, const char *buf, size_t n)
{
    *skip = 0;
    if (n < 3 || memcmp(buf, BOM, 3) != 0)
        return 0;
    rd->bom = true;
    if (n >= 6 && memcmp(buf + 3, BOM, 3) == 0)
        return kiln_err_set(rd->err, KILN_EINVAL, "%s: line 1: more than "
                            "one byte order mark before the first column "
                            "name", rd->path);
    *skip = 3;
    return 0;
}

int kiln_csv_read(const char *path, kiln_csv_record_cb cb, void *data,
                  kiln_err *err)
{
    struct csv_parser p;
    reader rd;
    char buf[1 << 16];
    ssize_t n = 0;
    int fd, rc = 0;

    memset(&rd, 0, sizeof(rd));
    rd.cb = cb;
    rd.data = data;
    rd.path = path;
    rd.line = 1;
    rd.err = err;
    if ((fd = kiln_open_regular(path, err)) < 0)
        return fd;
    csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL |
                 CSV_REPALL_NL);
    for (bool first = true;
         rc == 0 && (n = read_full(fd, buf, sizeof(buf))) > 0;
         first = false) {
        size_t skip = 0;
        if (first && (rc = skip_bom(&skip, &rd, buf, (size_t)n)) != 0)
            break;
        rc = feed(&rd, &p, buf + skip, (size_t)n - skip);
    }
    if (rc == 0 && n < 0)
        rc = kiln_err_set_os(err, "cannot read %s", path);
    if (rc == 0 && csv_fini(&p, on_field, on_row, &rd) != 0) {
        /* Only an unclosed quote fails at the end: on the line where its
         * field began. */
        rc = kiln_err_set(err, KILN_EINVAL, "%s: line %zu: a quoted field "
                          "is not closed before the end of the file", path,
                          record_line(&rd, &p, false));
    }
    if (rc == 0)
        rc = rd.rc;
    if (rc == 0 && rd.index == 0)
        rc = kiln_err_set(err, KILN_EINVAL, "%s: line 1: expected a header "
                          "row naming the columns%s", path,
                          rd.bom ? ", found only a byte order mark" : "");
    csv_free(&p);
    close(fd);
    free(rd.bytes);
    free(rd.offs);
    free(rd.lens);
    free(rd.fields);
    return rc;
}

/* Tables: categories, an open-addressing map from text to a count. */

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

typedef struct catmap {
    size_t cap, n;
    char **keys;
    size_t *counts;
} catmap;

static void cat_add(catmap *m, const char *s, size_t len)
{
    size_t i;
    if (m->n * 2 >= m->cap) {
        catmap bigger = {m->cap ? m->cap * 2 : 64, 0, NULL, NULL};
        bigger.keys = kiln_calloc(bigger.cap, sizeof(char *));
        bigger.counts = kiln_calloc(bigger.cap, sizeof(size_t));
        for (i = 0; i < m->cap; i++) {
            if (m->keys[i]) {
                size_t j = hash(m->keys[i], strlen(m->keys[i])) &
                           (bigger.cap - 1);
                while (bigger.keys[j])
                    j = (j + 1) & (bigger.cap - 1);
                bigger.keys[j] = m->keys[i];
                bigger.counts[j] = m->counts[i];
                bigger.n++;
            }
        }
        free(m->keys);
        free(m->counts);
        *m = bigger;
    }
    for (i = hash(s, len) & (m->cap - 1); m->keys[i];
         i = (i + 1) & (m->cap - 1)) {
        if (strlen(m->keys[i]) == len && memcmp(m->keys[i], s, len) == 0) {
            m->counts[i]++;
            return;
        }
    }
    m->keys[i] = kiln_strndup(s, len);
    m->counts[i] = 1;
    m->n++;
}

/* Loading a table. */

typedef struct col_state {
    size_t cap;          /* of values */
    catmap cats;
    bool reparse;        /* turned categorical after numbers: read again */
} col_state;

typedef struct loader {
    kiln_csv_table *t;
    col_state *st;
    size_t after_header; /* the line after the header's last */
    bool reparse_pass;   /* second pass: only the columns to reparse */
} loader;

static void load_header(loader *ld, const kiln_csv_record *rec)
{
    kiln_csv_table *t = ld->t;
    t->n_cols = rec->n;
    t->cols = kiln_calloc(rec->n, sizeof(*t->cols));
    ld->st = kiln_calloc(rec->n, sizeof(*ld->st));
    ld->after_header = rec->line + 1;
    for (size_t i = 0; i < rec->n; i++) {
        t->cols[i].name = kiln_strndup(rec->fields[i], rec->lens[i]);
        t->cols[i].numeric = true;
        ld->after_header += count_newlines(rec->fields[i], rec->lens[i]);
    }
}

static int on_load_record(const kiln_csv_record *rec, void *data)
{
    loader *ld = data;
    kiln_csv_table *t = ld->t;
    double v;

    if (rec->index == 0) {
        if (!ld->reparse_pass)
            load_header(ld, rec);
        return 0;
    }
    if (ld->reparse_pass) {
        /* The file may have changed since the first pass. */
        for (size_t i = 0; i < rec->n && i < t->n_cols; i++)
            if (ld->st[i].reparse && rec->lens[i])
                cat_add(&ld->st[i].cats, rec->fields[i], rec->lens[i]);
        return 0;
    }
    t->n_rows++;
    for (size_t i = 0; i < rec->n; i++) {
        kiln_csv_column *c = &t->cols[i];
        col_state *cs = &ld->st[i];
        const char *s = rec->fields[i];
        size_t len = rec->lens[i];
        if (len == 0) {
            c->missing++;
            continue;
        }
        if (c->numeric && kiln_csv_number(&v, s, len)) {
            if (c->n == cs->cap) {
                cs->cap = cs->cap ? cs->cap * 2 : 1024;
                c->values = kiln_realloc(c->values,
                                         cs->cap * sizeof(double));
            }
            c->values[c->n++] = v;
            continue;
        }
        if (c->numeric) {
            c->numeric = false;
            if (c->n > 0)
                cs->reparse = true; /* the numbers so far are categories */
            c->n = 0;
        }
        if (!cs->reparse)
            cat_add(&cs->cats, s, len);
        c->n++;
    }
    return 0;
}

/* Turn each categorical column's map into its arrays; free the maps. */
static void finish_columns(loader *ld)
{
    kiln_csv_table *t = ld->t;
    for (size_t i = 0; i < t->n_cols; i++) {
        kiln_csv_column *c = &t->cols[i];
        catmap *m = &ld->st[i].cats;
        if (!c->numeric) {
            free(c->values);
            c->values = NULL;
            c->cats = kiln_calloc(m->n ? m->n : 1, sizeof(char *));
            c->counts = kiln_calloc(m->n ? m->n : 1, sizeof(size_t));
            c->n = 0;
            for (size_t k = 0; k < m->cap; k++) {
                if (m->keys[k]) {
                    c->cats[c->n_cats] = m->keys[k];
                    c->counts[c->n_cats++] = m->counts[k];
                    c->n += m->counts[k];
                }
            }
        } else {
            for (size_t k = 0; k < m->cap; k++)
                free(m->keys[k]);
        }
        free(m->keys);
        free(m->counts);
    }
}

int kiln_csv_load(kiln_csv_table *out, const char *path, kiln_err *err)
{
    loader ld;
    bool again = false;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&ld, 0, sizeof(ld));
    ld.t = out;
    rc = kiln_csv_read(path, on_load_record, &ld, err);
    if (rc == 0 && out->n_rows == 0)
        rc = kiln_err_set(err, KILN_EINVAL, "%s: line %zu: no data rows "
                          "after the header", path, ld.after_header);
    for (size_t i = 0; rc == 0 && i < out->n_cols; i++)
        again |= ld.st[i].reparse;
    if (rc == 0 && again) {
        ld.reparse_pass = true;
        rc = kiln_csv_read(path, on_load_record, &ld, err);
    }
    finish_columns(&ld);
    free(ld.st);
    if (rc != 0)
        kiln_csv_table_dispose(out);
    return rc;
}

void kiln_csv_table_dispose(kiln_csv_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_cols; i++) {
        kiln_csv_column *c = &t->cols[i];
        free(c->name);
        free(c->values);
        for (size_t k = 0; k < c->n_cats; k++)
            free(c->cats[k]);
        free(c->cats);
        free(c->counts);
    }
    free(t->cols);
    memset(t, 0, sizeof(*t));
}

kiln_csv_column *kiln_csv_column_find(kiln_csv_table *t, const char *name)
{
    for (size_t i = 0; i < t->n_cols; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return &t->cols[i];
    return NULL;
}
