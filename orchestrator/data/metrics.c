/* metrics.c: reading and flattening metrics files. */
#include "metrics.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Metrics files are small; a bigger one is refused. */
#define MAX_METRICS_BYTES (1 << 20)

void kiln_metrics_set(kiln_metrics *m, const char *key, double v)
{
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->keys[i], key) == 0) {
            m->values[i] = v;
            return;
        }
    }
    m->keys = kiln_realloc(m->keys, (m->n + 1) * sizeof(char *));
    m->values = kiln_realloc(m->values, (m->n + 1) * sizeof(double));
    m->keys[m->n] = kiln_strdup(key);
    m->values[m->n++] = v;
}

/* Reading one file: which of m's keys it has set, so that two of its
 * keys that flatten to one name ({"a": {"b.c": 1}, "a.b": {"c": 2}})
 * are said, not one silently dropped. */
typedef struct flat {
    kiln_metrics *m;
    const char *path;
    kiln_buf *warnings;
    bool *set;       /* by key index */
    size_t set_cap;
} flat;

static void flat_set(flat *f, const char *key, double v)
{
    kiln_metrics *m = f->m;
    size_t i;

    kiln_metrics_set(m, key, v);
    for (i = m->n; i-- > 0;)
        if (strcmp(m->keys[i], key) == 0)
            break;
    if (i >= f->set_cap) {
        size_t cap = f->set_cap ? f->set_cap * 2 : 16;
        while (cap <= i)
            cap *= 2;
        f->set = kiln_realloc(f->set, cap * sizeof(bool));
        memset(f->set + f->set_cap, 0, (cap - f->set_cap) * sizeof(bool));
        f->set_cap = cap;
    }
    if (f->set[i])
        kiln_buf_printf(f->warnings, "kiln: warning: metrics file %s: "
                        "\"%s\" is given twice (nested and dotted keys "
                        "name the same metric); the last one is kept\n",
                        f->path, key);
    f->set[i] = true;
}

static void flatten(flat *f, json_t *obj, const char *prefix, int depth)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        char *key = *prefix ? kiln_asprintf("%s.%s", prefix, k)
                            : kiln_strdup(k);
        if (json_is_number(v) && isfinite(json_number_value(v)))
            flat_set(f, key, json_number_value(v));
        else if (json_is_object(v) && depth < 32)
            flatten(f, v, key, depth + 1);
        else
            kiln_buf_printf(f->warnings, "kiln: warning: metrics file %s: "
                            "\"%s\" is not a number; ignored\n", f->path,
                            key);
        free(key);
    }
}

bool kiln_metrics_read(kiln_metrics *m, const char *path, kiln_buf *warnings)
{
    json_error_t jerr;
    json_t *root;
    char *text = NULL;
    size_t len = 0;
    kiln_err err = KILN_ERR_INIT;

    if (access(path, F_OK) != 0)
        return false;
    if (kiln_read_file(&text, &len, path, MAX_METRICS_BYTES, &err) != 0) {
        kiln_buf_printf(warnings, "kiln: warning: metrics file %s: %s; "
                        "ignored\n", path, err.msg);
        return true;
    }
    root = json_loadb(text, len, 0, &jerr);
    free(text);
    if (!root) {
        kiln_buf_printf(warnings, "kiln: warning: metrics file %s is not "
                        "valid JSON (line %d, column %d: %s); ignored\n", path,
                        jerr.line, jerr.column, jerr.text);
        return true;
    }
    if (!json_is_object(root))
        kiln_buf_printf(warnings, "kiln: warning: metrics file %s must hold "
                        "a JSON object of numbers; ignored\n", path);
    else {
        flat f = {m, path, warnings, NULL, 0};
        flatten(&f, root, "", 0);
        free(f.set);
    }
    json_decref(root);
    return true;
}

int kiln_metrics_write(const kiln_metrics *m, const char *path,
                       kiln_err *err)
{
    json_t *obj = json_object();
    int rc = 0;
    for (size_t i = 0; i < m->n; i++) {
        /* Whole numbers (counts) stay integers for readers of the file. */
        double v = m->values[i];
        if (!isfinite(v))
            continue; /* JSON has no NaN */
        json_object_set_new(obj, m->keys[i],
                            v == trunc(v) && fabs(v) < 9e15
                                ? json_integer((json_int_t)v)
                                : json_real(v));
    }
    if (json_dump_file(obj, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
        rc = kiln_err_set_os(err, "cannot write metrics file %s", path);
    json_decref(obj);
    return rc;
}

void kiln_metrics_dispose(kiln_metrics *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->values);
    memset(m, 0, sizeof(*m));
}
