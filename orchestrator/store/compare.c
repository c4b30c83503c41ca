/*
 * compare.c: runs side by side (kiln compare, GET /api/v1/compare).
 *
 * A row is a run: its params as recorded and, per step, the latest
 * attempt's value of each metric ("evaluate.auc"); or an item of a
 * sweep (a step named "train[lr=0.1,depth=3]"): the run's params with
 * the item's values, its status, and its metrics under the matrix
 * step's name ("train.auc"), so the items' columns line up. Which params and
 * metrics differ between the rows, and the order of the rows by one of
 * them, are computed on those rows, so the CLI and the API say the same.
 * Each run costs two indexed queries; 1,000 runs take a few tens of
 * milliseconds.
 */
#include "internal.h"

#include "store/json.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_RUN[] =
    "SELECT id, pipeline, status, trigger, created_at, finished_at, "
    "started_at, git_commit, params FROM runs WHERE id = ?1";
static const char SQL_METRICS[] =
    "SELECT step, key, value FROM metrics WHERE run_id = ?1 "
    "ORDER BY step, key, execution_id";
static const char SQL_LAST[] =
    "SELECT id FROM runs WHERE pipeline = ?1 ORDER BY id DESC LIMIT ?2";

static json_t *text_col(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? json_string((const char *)t) : json_null();
}

static json_t *int_col(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL
               ? json_null() : json_integer(sqlite3_column_int64(s, i));
}

/* One run as a row, or NULL with KILN_ENOTFOUND in err. */
static json_t *row_of(kiln_store *st, int64_t id, kiln_err *err)
{
    const char *what = "comparing runs";
    sqlite3_stmt *s = kiln_store__query(st, err, what, SQL_RUN, "I", id);
    json_t *row = NULL, *metrics;
    int rc;

    if (!s)
        return NULL;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const unsigned char *p = sqlite3_column_text(s, 8);
        json_t *params = p ? json_loads((const char *)p, 0, NULL) : NULL;
        row = json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                        "run", (json_int_t)id, "pipeline", text_col(s, 1),
                        "status", text_col(s, 2), "trigger", text_col(s, 3),
                        "created_at", int_col(s, 4), "finished_at",
                        int_col(s, 5), "started_at", int_col(s, 6),
                        "git_commit", text_col(s, 7), "params",
                        json_is_object(params) ? params : json_object());
        if (params && !json_is_object(params))
            json_decref(params);
    }
    if (kiln_store__end(st, s, rc, err, what) != 0) {
        json_decref(row);
        return NULL;
    }
    if (!row) {
        kiln_err_set(err, KILN_ENOTFOUND, "no run %lld", (long long)id);
        return NULL;
    }
    /* Each step's latest attempt wins: rows come oldest first. */
    metrics = json_object();
    if (!(s = kiln_store__query(st, err, what, SQL_METRICS, "I", id))) {
        json_decref(metrics);
        json_decref(row);
        return NULL;
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        char *name = kiln_asprintf("%s.%s", sqlite3_column_text(s, 0),
                                   sqlite3_column_text(s, 1));
        json_object_set_new(metrics, name,
                            json_real(sqlite3_column_double(s, 2)));
        free(name);
    }
    if (kiln_store__end(st, s, rc, err, what) != 0) {
        json_decref(metrics);
        json_decref(row);
        return NULL;
    }
    json_object_set_new(row, "metrics", metrics);
    return row;
}

/* "train[lr=0.1,depth=3]": the values into params (they are letters,
 * digits and "._+-": nothing to unquote). */
static void item_values(json_t *params, const char *name)
{
    const char *p = strchr(name, '[');
    while (p && *p && *p != ']') {
        const char *key = p + 1, *eq = strchr(key, '='), *end;
        if (!eq)
            return;
        end = eq + 1 + strcspn(eq + 1, ",]");
        char *k = kiln_strndup(key, (size_t)(eq - key));
        char *v = kiln_strndup(eq + 1, (size_t)(end - eq - 1));
        json_object_set_new(params, k, json_string(v));
        free(k);
        free(v);
        p = end;
    }
}

int kiln_store_compare_items(json_t *rows, kiln_store *st, int64_t run,
                             const char *step, kiln_err *err)
{
    const char *what = "comparing items";
    json_t *base = row_of(st, run, err), *row, *by_name;
    size_t before = json_array_size(rows);
    sqlite3_stmt *s;
    bool one = strchr(step, '[') != NULL;
    int rc;

    if (!base)
        return err->code ? err->code : KILN_ERROR;
    /* The items, in the file's order. */
    by_name = json_object();
    s = kiln_store__query(st, err, what, "SELECT step, status FROM "
                          "run_steps WHERE run_id = ?1 AND (step = ?2 OR "
                          "(?3 = 0 AND substr(step, 1, length(?2) + 1) = "
                          "?2 || '[')) ORDER BY position", "Isb", run, step,
                          one);
    if (!s) {
        json_decref(base);
        json_decref(by_name);
        return KILN_ERROR;
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(s, 0);
        json_t *params = json_deep_copy(json_object_get(base, "params"));
        if (!strchr(name, '['))
            continue;
        item_values(params, name);
        row = json_pack("{s:O, s:s, s:O, s:o, s:O, s:O, s:o, s:o}", "run",
                        json_object_get(base, "run"), "item", name,
                        "pipeline", json_object_get(base, "pipeline"),
                        "status", text_col(s, 1), "created_at",
                        json_object_get(base, "created_at"), "git_commit",
                        json_object_get(base, "git_commit"), "params",
                        params, "metrics", json_object());
        json_object_set(by_name, name, row);
        json_array_append_new(rows, row);
    }
    json_decref(base);
    if ((rc = kiln_store__end(st, s, rc, err, what)) != 0) {
        json_decref(by_name);
        return rc;
    }
    if (json_array_size(rows) == before) {
        json_decref(by_name);
        return kiln_err_set(err, KILN_ENOTFOUND, "run %lld has no %s %s",
                            (long long)run, one ? "item" : "items of step",
                            step);
    }
    /* Their metrics, each item's latest attempt's, named after the
     * matrix step. */
    if (!(s = kiln_store__query(st, err, what, SQL_METRICS, "I", run))) {
        json_decref(by_name);
        return KILN_ERROR;
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(s, 0);
        json_t *r = json_object_get(by_name, name);
        char *key;
        if (!r)
            continue;
        key = kiln_asprintf("%.*s.%s", (int)strcspn(name, "["), name,
                            sqlite3_column_text(s, 1));
        json_object_set_new(json_object_get(r, "metrics"), key,
                            json_real(sqlite3_column_double(s, 2)));
        free(key);
    }
    json_decref(by_name);
    return kiln_store__end(st, s, rc, err, what);
}

int kiln_store_compare_rows(json_t **out, kiln_store *st, const int64_t *ids,
                            size_t n, kiln_err *err)
{
    json_t *rows = json_array();
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *row = row_of(st, ids[i], err);
        if (!row) {
            json_decref(rows);
            return err->code ? err->code : KILN_ERROR;
        }
        json_array_append_new(rows, row);
    }
    *out = rows;
    return 0;
}

int kiln_store_last_runs(int64_t **ids, size_t *n, kiln_store *st,
                         const char *pipeline, size_t last, kiln_err *err)
{
    const char *what = "listing runs";
    sqlite3_stmt *s = kiln_store__query(st, err, what, SQL_LAST, "sI",
                                        pipeline, (int64_t)last);
    int rc;
    *ids = kiln_calloc(last + 1, sizeof(int64_t));
    *n = 0;
    if (!s)
        return KILN_ERROR;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < last)
        (*ids)[(*n)++] = sqlite3_column_int64(s, 0);
    return kiln_store__end(st, s, rc, err, what);
}

/* Do the rows' values of key in field (params, metrics) differ? A value
 * missing in some rows and not in others differs. */
static bool differs(json_t *rows, const char *field, const char *key)
{
    json_t *first = NULL, *row;
    size_t i;
    json_array_foreach(rows, i, row) {
        json_t *v = json_object_get(json_object_get(row, field), key);
        if (i == 0)
            first = v;
        else if (!first != !v || (v && !json_equal(first, v)))
            return true;
    }
    return false;
}

/* Every key of field over the rows, sorted, into list. */
static json_t *keys_of(json_t *rows, const char *field, bool all)
{
    json_t *seen = json_object(), *list = json_array(), *row, *v;
    const char *key;
    size_t i;
    json_array_foreach(rows, i, row)
        json_object_foreach(json_object_get(row, field), key, v)
            json_object_set(seen, key, json_true());
    json_object_foreach(seen, key, v)
        if (all || json_array_size(rows) < 2 || differs(rows, field, key))
            json_array_append_new(list, json_string(key));
    json_decref(seen);
    return list;
}

static int by_text(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a),
                  json_string_value(*(json_t *const *)b));
}

static json_t *sorted(json_t *list)
{
    size_t n = json_array_size(list);
    json_t **v = kiln_calloc(n + 1, sizeof(json_t *)), *out = json_array();
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(list, i);
    qsort(v, n, sizeof(json_t *), by_text);
    for (size_t i = 0; i < n; i++)
        json_array_append(out, v[i]);
    free(v);
    json_decref(list);
    return out;
}

json_t *kiln_compare_columns(json_t *rows, bool all)
{
    return json_pack("{s:o, s:o}", "params",
                     sorted(keys_of(rows, "params", all)), "metrics",
                     sorted(keys_of(rows, "metrics", all)));
}

/* The number a row has for key: a metric ("evaluate.auc"), a param
 * ("params.lr"), or "run"; NAN when it has none (sorted last). */
static double sort_value(json_t *row, const char *key)
{
    json_t *v;
    if (strcmp(key, "run") == 0)
        return (double)json_integer_value(json_object_get(row, "run"));
    if (strncmp(key, "params.", 7) == 0) {
        const char *t = json_string_value(json_object_get(
            json_object_get(row, "params"), key + 7));
        char *end;
        double d;
        if (!t)
            return NAN;
        d = strtod(t, &end);
        return end != t && !*end ? d : NAN;
    }
    v = json_object_get(json_object_get(row, "metrics"), key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

typedef struct sort_item {
    json_t *row;
    double v;
    size_t i;                /* stable: the rows' order among equals */
} sort_item;

static int by_value(const void *a, const void *b, void *desc)
{
    const sort_item *x = a, *y = b;
    if (isnan(x->v) != isnan(y->v))
        return isnan(x->v) ? 1 : -1;
    if (!isnan(x->v) && x->v != y->v)
        return (x->v < y->v) == *(bool *)desc ? 1 : -1;
    return x->i < y->i ? -1 : 1;
}

static int by_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int64_t kiln_compare_repeated(const int64_t *ids, size_t n)
{
    int64_t *s, dup = 0;
    if (n < 2)
        return 0;
    s = kiln_malloc(n * sizeof(*s));
    memcpy(s, ids, n * sizeof(*s));
    qsort(s, n, sizeof(*s), by_id);
    for (size_t i = 1; i < n && !dup; i++)
        if (s[i] == s[i - 1])
            dup = s[i];
    free(s);
    return dup;
}

void kiln_compare_sort(json_t *rows, const char *spec)
{
    size_t n = json_array_size(rows);
    sort_item *v = kiln_calloc(n + 1, sizeof(*v));
    char *key = kiln_strdup(spec), *colon = strrchr(key, ':');
    bool desc = !(colon && strcmp(colon, ":asc") == 0);
    if (colon && (!desc || strcmp(colon, ":desc") == 0))
        *colon = '\0';
    for (size_t i = 0; i < n; i++) {
        v[i].row = json_incref(json_array_get(rows, i));
        v[i].v = sort_value(v[i].row, key);
        v[i].i = i;
    }
    qsort_r(v, n, sizeof(*v), by_value, &desc);
    json_array_clear(rows);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(rows, v[i].row);
    free(v);
    free(key);
}
