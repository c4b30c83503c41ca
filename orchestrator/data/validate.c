/* validate.c: schema, row count and drift checks of a CSV file. */
#include "validate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/csvfile.h"
#include "data/drift.h"

/* How many offending lines a report line shows. */
#define MAX_LINES 5

/* Offending cells of one rule: how many, and the first lines. */
typedef struct tally {
    size_t n;
    size_t lines[MAX_LINES];
} tally;

typedef struct col_check {
    const kiln_col_rule *rule;
    bool present;          /* the data has the column */
    size_t idx;            /* ...at this index */
    tally bad_type, not_allowed, below, above, missing;
} col_check;

typedef struct checker {
    const kiln_validation *v;
    col_check *cols;       /* one per rule */
    size_t n_header;
    char **header;         /* the data's column names */
    size_t rows;
} checker;

static void tally_add(tally *t, size_t line)
{
    if (t->n < MAX_LINES)
        t->lines[t->n] = line;
    t->n++;
}

/* An optional sign, then digits. */
static bool is_int(const char *s, size_t len)
{
    size_t i = s[0] == '-' || s[0] == '+';
    if (i == len)
        return false;
    for (; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool is_bool(const char *s)
{
    static const char *const words[] = {"true", "false", "yes", "no", "1",
                                        "0"};
    for (size_t i = 0; i < KILN_ARRAY_SIZE(words); i++)
        if (strcasecmp(s, words[i]) == 0)
            return true;
    return false;
}

static bool in_list(const kiln_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i], s) == 0)
            return true;
    return false;
}

/* One cell of a schema column. Empty is missing; a value of the wrong
 * type is not compared with min and max. */
static void check_cell(col_check *c, const char *s, size_t len, size_t line)
{
    const kiln_col_rule *r = c->rule;
    double v;

    if (len == 0) {
        tally_add(&c->missing, line);
        return;
    }
    switch (r->type) {
    case KILN_COL_INT:
        if (!is_int(s, len)) {
            tally_add(&c->bad_type, line);
            return;
        }
        v = strtod(s, NULL);
        break;
    case KILN_COL_FLOAT:
        if (!kiln_csv_number(&v, s, len)) {
            tally_add(&c->bad_type, line);
            return;
        }
        break;
    case KILN_COL_BOOL:
        if (!is_bool(s))
            tally_add(&c->bad_type, line);
        return;
    case KILN_COL_CATEGORY:
        if (r->values.n && !in_list(&r->values, s))
            tally_add(&c->not_allowed, line);
        return;
    default:
        return;
    }
    if (r->has_min && v < r->min)
        tally_add(&c->below, line);
    if (r->has_max && v > r->max)
        tally_add(&c->above, line);
}

static int on_record(const kiln_csv_record *rec, void *data)
{
    checker *ck = data;
    const kiln_validation *v = ck->v;

    if (rec->index == 0) {
        ck->n_header = rec->n;
        ck->header = kiln_calloc(rec->n, sizeof(char *));
        for (size_t i = 0; i < rec->n; i++)
            ck->header[i] = kiln_strdup(rec->fields[i]);
        /* The reader lets no name appear twice. */
        for (size_t k = 0; k < v->n_rules; k++) {
            for (size_t i = 0; i < rec->n && !ck->cols[k].present; i++) {
                if (strcmp(rec->fields[i], v->rules[k].column) == 0) {
                    ck->cols[k].present = true;
                    ck->cols[k].idx = i;
                }
            }
        }
        return 0;
    }
    ck->rows++;
    for (size_t k = 0; k < v->n_rules; k++) {
        col_check *c = &ck->cols[k];
        if (c->present)
            check_cell(c, rec->fields[c->idx], rec->lens[c->idx], rec->line);
    }
    return 0;
}

/* The report. */

static const char *plural(size_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

static void fail(kiln_validate_result *out, const char *fmt, ...)
    KILN_PRINTF(2, 3);
static void fail(kiln_validate_result *out, const char *fmt, ...)
{
    va_list ap;
    kiln_buf_puts(&out->report, "FAIL ");
    va_start(ap, fmt);
    kiln_buf_vprintf(&out->report, fmt, ap);
    va_end(ap);
    kiln_buf_puts(&out->report, "\n");
    out->violations++;
}

static void warn(kiln_validate_result *out, const char *fmt, ...)
    KILN_PRINTF(2, 3);
static void warn(kiln_validate_result *out, const char *fmt, ...)
{
    va_list ap;
    kiln_buf_puts(&out->report, "WARN ");
    va_start(ap, fmt);
    kiln_buf_vprintf(&out->report, fmt, ap);
    va_end(ap);
    kiln_buf_puts(&out->report, "\n");
    out->warnings++;
}

/* " (lines 3, 9, ...)": the first lines of t. */
static const char *fmt_lines(char *buf, size_t size, const tally *t)
{
    size_t n = t->n < MAX_LINES ? t->n : MAX_LINES, len;
    len = (size_t)snprintf(buf, size, " (%s", plural(t->n, "line ",
                                                     "lines "));
    for (size_t i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%zu",
                                i ? ", " : "", t->lines[i]);
    if (len < size)
        snprintf(buf + len, size - len, "%s)", t->n > n ? ", ..." : "");
    return buf;
}

static void fail_tally(kiln_validate_result *out, const char *column,
                       const char *rule, const tally *t, const char *one,
                       const char *many)
{
    char lines[128];
    if (t->n)
        fail(out, "%s: %s: %zu %s%s", column, rule, t->n,
             plural(t->n, one, many), fmt_lines(lines, sizeof(lines), t));
}

/* A metric key naming a column: characters a gate cannot write become
 * "_". */
static char *column_key(const char *prefix, const char *column,
                        const char *suffix)
{
    char *name = kiln_strdup(column), *key;
    for (char *c = name; *c; c++)
        if (!(*c >= 'a' && *c <= 'z') && !(*c >= 'A' && *c <= 'Z') &&
            !(*c >= '0' && *c <= '9') && *c != '_' && *c != '-')
            *c = '_';
    key = kiln_asprintf("%s%s%s", prefix, name, suffix);
    free(name);
    return key;
}

static void report_column(kiln_validate_result *out, const col_check *c,
                          size_t rows)
{
    const kiln_col_rule *r = c->rule;
    const char *name = r->column;
    char rule[64];
    double missing;

    if (!c->present) {
        fail(out, "%s: column missing from the data", name);
        return;
    }
    switch (r->type) {
    case KILN_COL_INT:
        fail_tally(out, name, "type int", &c->bad_type, "non-integer value",
                   "non-integer values");
        break;
    case KILN_COL_FLOAT:
        fail_tally(out, name, "type float", &c->bad_type, "non-numeric value",
                   "non-numeric values");
        break;
    case KILN_COL_BOOL:
        fail_tally(out, name, "type bool", &c->bad_type, "non-boolean value",
                   "non-boolean values");
        break;
    case KILN_COL_CATEGORY:
        if (c->not_allowed.n) {
            kiln_buf list = KILN_BUF_INIT;
            kiln_buf_puts(&list, "values [");
            for (size_t i = 0; i < r->values.n; i++)
                kiln_buf_printf(&list, "%s%s", i ? ", " : "",
                                r->values.items[i]);
            kiln_buf_puts(&list, "]");
            fail_tally(out, name, kiln_buf_cstr(&list), &c->not_allowed,
                       "value not in the list", "values not in the list");
            kiln_buf_dispose(&list);
        }
        break;
    default:
        break;
    }
    snprintf(rule, sizeof(rule), "min %g", r->min);
    fail_tally(out, name, rule, &c->below, "value below", "values below");
    snprintf(rule, sizeof(rule), "max %g", r->max);
    fail_tally(out, name, rule, &c->above, "value above", "values above");
    missing = rows ? (double)c->missing.n / (double)rows : 0;
    if (missing > r->max_missing) {
        char lines[128];
        fail(out, "%s: max_missing %g: %zu of %zu %s empty, %.3g%%%s", name,
             r->max_missing, c->missing.n, rows, plural(rows, "cell is",
                                                         "cells are"),
             100 * missing, fmt_lines(lines, sizeof(lines), &c->missing));
    }
}

/* Drift. */

static int on_header(const kiln_csv_record *rec, void *data)
{
    kiln_strlist *names = data;
    names->items = kiln_calloc(rec->n ? rec->n : 1, sizeof(char *));
    for (size_t i = 0; i < rec->n; i++)
        names->items[names->n++] = kiln_strdup(rec->fields[i]);
    return 1; /* the header is all we need */
}

static void strlist_free(kiln_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free((char *)l->items[i]);
    free(l->items);
}

/* The statistic kiln_drift_decide() reads for method. */
static const char *method_stat(const char *method)
{
    return strcmp(method, "ks") == 0 ? "ks_pvalue" : method;
}

/* Compare data with the reference. Columns the check names must be in
 * both files (each one that is not is a violation); by default every
 * column of both is compared. ks and wasserstein need numbers on both
 * sides: a column without them fails when the check names it, and is a
 * warning otherwise. Data of no rows has nothing to compare: a violation
 * (the reference must still be a table with rows, as for kiln drift). */
static int check_drift(kiln_validate_result *out, const kiln_drift_check *d,
                       const checker *ck, const char *data_path,
                       const char *dir, kiln_err *err)
{
    char *ref_path = kiln_path_join(dir, d->reference);
    kiln_strlist ref = {0, NULL, NULL};
    const char **cols = kiln_calloc(d->columns.n + 1, sizeof(char *));
    size_t n_cols = 0, i;
    json_t *rep = NULL, *arr, *c;
    int rc = kiln_csv_read(ref_path, on_header, &ref, err);

    if (rc == 1)
        rc = 0;
    if (rc == 0 && ck->rows == 0) {
        /* The reference is read all the same: unusable, it is an error
         * whatever the data. */
        kiln_csv_table t;
        if ((rc = kiln_csv_load(&t, ref_path, err)) == 0)
            fail(out, "drift: the data has no rows to compare with %s",
                 d->reference);
        kiln_csv_table_dispose(&t);
        goto done;
    }
    for (size_t k = 0; rc == 0 && k < d->columns.n; k++) {
        const char *name = d->columns.items[k];
        bool in_data = false;
        for (size_t h = 0; h < ck->n_header; h++)
            in_data |= strcmp(ck->header[h], name) == 0;
        if (!in_data)
            fail(out, "%s: drift: column missing from the data", name);
        else if (!in_list(&ref, name))
            fail(out, "%s: drift: column missing from the reference %s",
                 name, d->reference);
        else
            cols[n_cols++] = name;
    }
    if (rc == 0 && (d->columns.n == 0 || n_cols > 0))
        rc = kiln_drift_report(&rep, NULL, ref_path, data_path, cols, n_cols,
                               d->method, d->threshold, err);
    arr = rc == 0 && rep ? json_object_get(rep, "columns") : NULL;
    json_array_foreach(arr, i, c) {
        static const char *const stats[] = {"psi", "js", "ks", "ks_pvalue",
                                            "wasserstein"};
        const char *name = json_string_value(json_object_get(c, "name"));
        json_t *stat = json_object_get(c, method_stat(d->method));
        bool ks = strcmp(d->method, "ks") == 0;
        for (size_t s = 0; s < KILN_ARRAY_SIZE(stats); s++) {
            json_t *x = json_object_get(c, stats[s]);
            if (json_is_number(x)) {
                char *suffix = kiln_asprintf(".%s", stats[s]);
                char *key = column_key("drift.", name, suffix);
                kiln_metrics_set(&out->metrics, key, json_number_value(x));
                free(key);
                free(suffix);
            }
        }
        if (json_is_true(json_object_get(c, "drift"))) {
            fail(out, "%s: drift %s %g: %s %.4g %s the threshold", name,
                 d->method, d->threshold, ks ? "p-value" : d->method,
                 json_number_value(stat), ks ? "below" : "above");
        } else if (json_is_number(stat)) {
            /* No drift. */
        } else if (json_integer_value(json_object_get(c, "n_current")) == 0 ||
                   json_integer_value(json_object_get(c,
                                                      "n_reference")) == 0) {
            fail(out, "%s: drift %s: no values in the %s", name, d->method,
                 json_integer_value(json_object_get(c, "n_current")) == 0
                     ? "data" : "reference");
        } else if (d->columns.n) {
            fail(out, "%s: drift %s: needs numbers; the column is "
                 "categorical", name, d->method);
        } else {
            warn(out, "%s: drift %s: needs numbers; the column is "
                 "categorical, not checked", name, d->method);
        }
    }
done:
    json_decref(rep);
    strlist_free(&ref);
    free(cols);
    free(ref_path);
    return rc;
}

int kiln_validate_run(kiln_validate_result *out, const kiln_validation *v,
                      const char *dir, kiln_err *err)
{
    char *path = kiln_path_join(dir, v->data);
    checker ck;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&ck, 0, sizeof(ck));
    ck.v = v;
    ck.cols = kiln_calloc(v->n_rules ? v->n_rules : 1, sizeof(*ck.cols));
    for (size_t k = 0; k < v->n_rules; k++)
        ck.cols[k].rule = &v->rules[k];
    if ((rc = kiln_csv_read(path, on_record, &ck, err)) != 0)
        goto done;
    out->rows = ck.rows;
    /* The counts first in the metrics file; their values come last. */
    kiln_metrics_set(&out->metrics, "validate.rows", (double)ck.rows);
    kiln_metrics_set(&out->metrics, "validate.violations", 0);
    kiln_metrics_set(&out->metrics, "validate.warnings", 0);

    for (size_t k = 0; k < v->n_rules; k++) {
        report_column(out, &ck.cols[k], ck.rows);
        if (ck.cols[k].present) {
            char *key = column_key("validate.missing.", v->rules[k].column,
                                   "");
            kiln_metrics_set(&out->metrics, key, ck.rows ?
                             (double)ck.cols[k].missing.n / (double)ck.rows
                             : 0);
            free(key);
        }
    }
    /* Without a schema there is nothing for a column to be missing
     * from. */
    for (size_t i = 0; v->n_rules && i < ck.n_header; i++) {
        bool known = false;
        for (size_t k = 0; k < v->n_rules && !known; k++)
            known = strcmp(v->rules[k].column, ck.header[i]) == 0;
        if (known)
            continue;
        if (v->strict)
            fail(out, "%s: column not in the schema (strict)",
                 ck.header[i]);
        else
            warn(out, "%s: column not in the schema", ck.header[i]);
    }
    if (v->min_rows >= 0 && ck.rows < (uint64_t)v->min_rows)
        fail(out, "rows: min_rows %lld: the data has %zu",
             (long long)v->min_rows, ck.rows);
    if (v->max_rows >= 0 && ck.rows > (uint64_t)v->max_rows)
        fail(out, "rows: max_rows %lld: the data has %zu",
             (long long)v->max_rows, ck.rows);
    if (v->drift &&
        (rc = check_drift(out, v->drift, &ck, path, dir, err)) != 0)
        goto done;

    kiln_buf_printf(&out->report, "validate %s: %zu %s, ", v->data, ck.rows,
                    plural(ck.rows, "row", "rows"));
    if (out->violations)
        kiln_buf_printf(&out->report, "%zu %s", out->violations,
                        plural(out->violations, "violation", "violations"));
    else
        kiln_buf_puts(&out->report, "all checks passed");
    if (out->warnings)
        kiln_buf_printf(&out->report, ", %zu %s", out->warnings,
                        plural(out->warnings, "warning", "warnings"));
    kiln_buf_puts(&out->report, "\n");
    kiln_metrics_set(&out->metrics, "validate.violations",
                     (double)out->violations);
    kiln_metrics_set(&out->metrics, "validate.warnings",
                     (double)out->warnings);

done:
    if (rc != 0) {
        kiln_validate_result_dispose(out);
        memset(out, 0, sizeof(*out));
    }
    for (size_t i = 0; i < ck.n_header; i++)
        free(ck.header[i]);
    free(ck.header);
    free(ck.cols);
    free(path);
    return rc;
}

void kiln_validate_result_dispose(kiln_validate_result *r)
{
    kiln_buf_dispose(&r->report);
    kiln_metrics_dispose(&r->metrics);
}
