/* keys.c: describing, comparing and previewing cache keys (see keys.h). */
#include "keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/artifacts.h"
#include "engine/cache.h"
#include "engine/container.h"
#include "engine/capture.h"
#include "engine/registry.h"

/* The document's maps, and what one entry is called in a sentence. */
static const struct {
    const char *field, *label, *none;
} maps[] = {
    {"inputs", "input", "inputs"},
    {"params", "param", "params"},
    {"env", "env", "pipeline env"},
    {"step_env", "step env", "step env"},
    {"models", "model", "models"},
    {"environment", "environment", "environment captures"},
    {"secrets", "secret", "secrets"},
};

/* Its scalar ingredients. */
static const struct {
    const char *field, *label;
} scalars[] = {
    {"command", "command"},   {"kind", "kind"},
    {"workdir", "workdir"},   {"outputs", "outputs"},
    {"metrics_file", "metrics file"}, {"validation", "checks"},
    {"pipeline", "pipeline"}, {"step", "step"},
    {"image", "image"},
};

/* A value as a short text: hashes cut to 12 digits, a model version as
 * "version N (sha)", null as "none". */
static char *show(const json_t *v)
{
    if (!v || json_is_null(v))
        return kiln_strdup("none");
    if (json_is_object(v) && json_object_get(v, "version"))
        return kiln_asprintf("version %lld (%.12s)",
                             (long long)json_integer_value(
                                 json_object_get(v, "version")),
                             json_string_value(json_object_get(v, "sha256"))
                                 ? json_string_value(json_object_get(
                                       v, "sha256"))
                                 : "");
    if (json_is_object(v) && json_object_get(v, "engine")) {
        /* A container step's image: its ID, and what else it saw when
         * that is not the default. */
        json_t *m = json_object_get(v, "mounts"), *o = json_object_get(v,
                                                                 "options");
        const char *net = json_string_value(json_object_get(v, "network"));
        char *mo = json_dumps(m, JSON_COMPACT), *op = json_dumps(o,
                                                               JSON_COMPACT);
        char *text = kiln_asprintf(
            "%.19s (%s%s%s%s%s%s%s)", json_string_value(json_object_get(
                v, "id")) ? json_string_value(json_object_get(v, "id"))
                          : "?",
            json_string_value(json_object_get(v, "engine")),
            net && strcmp(net, "default") ? ", network " : "",
            net && strcmp(net, "default") ? net : "",
            json_array_size(m) ? ", mounts " : "",
            json_array_size(m) ? mo : "", json_array_size(o) ? ", options "
                                                             : "",
            json_array_size(o) ? op : "");
        free(mo);
        free(op);
        return text;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = strlen(s);
        if (n == 64 && strspn(s, "0123456789abcdef") == 64)
            return kiln_asprintf("%.12s", s);
        if (strchr(s, '\n'))
            return kiln_asprintf("\"%.*s...\"", (int)(strchr(s, '\n') - s),
                                 s);
        return kiln_asprintf("%s", s);
    }
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

void kiln_key_describe(kiln_buf *out, const json_t *doc)
{
    for (size_t i = 0; i < KILN_ARRAY_SIZE(scalars); i++) {
        char *v = show(json_object_get(doc, scalars[i].field));
        if (strcmp(scalars[i].field, "pipeline") != 0 &&
            strcmp(scalars[i].field, "step") != 0)
            kiln_buf_printf(out, "  %s: %s\n", scalars[i].label, v);
        free(v);
    }
    for (size_t i = 0; i < KILN_ARRAY_SIZE(maps); i++) {
        const json_t *m = json_object_get(doc, maps[i].field);
        const char *key;
        json_t *v;
        if (!m && strcmp(maps[i].field, "secrets") == 0)
            continue; /* only the keys of steps with secrets have them */
        if (!json_object_size(m)) {
            kiln_buf_printf(out, "  %s: none\n", maps[i].none);
            continue;
        }
        json_object_foreach((json_t *)m, key, v) {
            char *text = show(v);
            kiln_buf_printf(out, "  %s %s: %s\n", maps[i].label, key, text);
            free(text);
        }
    }
}

/* One ingredient that differs, "  LABEL: OLD -> NEW". A text of several
 * lines (a command) shows only its first line in show(), which may be the
 * same in both: such texts show the first line that differs instead,
 * "  LABEL, line N: OLD -> NEW", or when only a line's end differs, both
 * whole (JSON strings). */
static void diff_line(kiln_buf *out, const char *label, const json_t *a,
                      const json_t *b)
{
    char *x, *y;
    if (json_is_string(a) && json_is_string(b) &&
        (strchr(json_string_value(a), '\n') ||
         strchr(json_string_value(b), '\n'))) {
        const char *p = json_string_value(a), *q = json_string_value(b);
        for (size_t line = 1;; line++) {
            size_t np = strcspn(p, "\n"), nq = strcspn(q, "\n");
            if (np != nq || memcmp(p, q, np) != 0) {
                x = *p ? kiln_asprintf("\"%.*s\"", (int)np, p)
                       : kiln_strdup("(not there)");
                y = *q ? kiln_asprintf("\"%.*s\"", (int)nq, q)
                       : kiln_strdup("(not there)");
                kiln_buf_printf(out, "  %s, line %zu: %s -> %s\n", label,
                                line, x, y);
                free(x);
                free(y);
                return;
            }
            if (!p[np] || !q[nq])
                break;
            p += np + 1;
            q += nq + 1;
        }
        x = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
        y = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
    } else {
        x = a ? show(a) : kiln_strdup("(not there)");
        y = b ? show(b) : kiln_strdup("(not there)");
    }
    kiln_buf_printf(out, "  %s: %s -> %s\n", label, x, y);
    free(x);
    free(y);
}

static bool same(const json_t *a, const json_t *b)
{
    if (!a || !b)
        return a == b;
    return json_equal((json_t *)a, (json_t *)b);
}

size_t kiln_key_diff(kiln_buf *out, const json_t *old, const json_t *now)
{
    size_t n = 0;
    for (size_t i = 0; i < KILN_ARRAY_SIZE(scalars); i++) {
        const json_t *a = json_object_get(old, scalars[i].field);
        const json_t *b = json_object_get(now, scalars[i].field);
        if (same(a, b))
            continue;
        n++;
        if (out)
            diff_line(out, scalars[i].label, a ? a : json_null(),
                      b ? b : json_null());
    }
    for (size_t i = 0; i < KILN_ARRAY_SIZE(maps); i++) {
        json_t *a = json_object_get(old, maps[i].field);
        json_t *b = json_object_get(now, maps[i].field);
        json_t *keys = json_object();
        const char *key;
        json_t *v;
        json_object_foreach(a, key, v)
            json_object_set(keys, key, json_true());
        json_object_foreach(b, key, v)
            json_object_set(keys, key, json_true());
        json_object_foreach(keys, key, v) {
            json_t *x = json_object_get(a, key), *y = json_object_get(b, key);
            if (same(x, y))
                continue;
            n++;
            if (out) {
                char *label = kiln_asprintf("%s %s", maps[i].label, key);
                diff_line(out, label, x, y);
                free(label);
            }
        }
        json_decref(keys);
    }
    return n;
}

ssize_t kiln_key_closest(const json_t *now, size_t n,
                         const char *const *docs)
{
    ssize_t best = -1;
    size_t best_n = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_loads(docs[i], 0, NULL);
        size_t k;
        if (!d)
            continue;
        k = kiln_key_diff(NULL, d, now);
        if (best < 0 || k < best_n) {
            best = (ssize_t)i;
            best_n = k;
        }
        json_decref(d);
    }
    return best;
}

/* A capture's hash into the document's environment object. */
static void capture_hash(const char *label, const char *text, void *data)
{
    char sha[KILN_HASH_HEX];
    kiln_hash_bytes(sha, text, strlen(text));
    json_object_set_new(data, label, json_string(sha));
}

int kiln_key_preview(json_t **doc, char key[65], char **refused,
                     kiln_store *store,
                     const kiln_pipeline *p, const kiln_step *st,
                     const char *workdir, char *const *envv,
                     size_t n_params, const kiln_kv *params, kiln_err *err)
{
    kiln_artifact_list in;
    json_t *models = json_object(), *env = json_object();
    int rc;

    *doc = NULL;
    *refused = NULL;
    for (size_t i = 0; i < st->n_models; i++) {
        const kiln_model_ref *m = &st->models[i];
        kiln_registry_pin pin;
        char *ref = m->alias ? kiln_asprintf("%s@%s", m->name, m->alias)
                             : kiln_asprintf("%s:%d", m->name, m->version);
        /* No records yet (a first dry run): no model is registered. */
        if (!store) {
            memset(&pin, 0, sizeof(pin));
            rc = m->alias
                ? kiln_err_set(err, KILN_ENOTFOUND, "model %s has no alias "
                               "%s", m->name, m->alias)
                : kiln_err_set(err, KILN_ENOTFOUND, "model %s has no "
                               "version %d", m->name, m->version);
        } else {
            rc = kiln_registry_resolve(&pin, store, m->name, m->alias,
                                       m->version, err);
        }
        if (rc == 0)
            json_object_set_new(models, ref, json_pack(
                "{s:i, s:s}", "version", pin.version, "sha256", pin.sha256));
        else if (rc == KILN_ENOTFOUND && m->optional)
            json_object_set_new(models, ref, json_null());
        kiln_registry_pin_dispose(&pin);
        free(ref);
        if (rc != 0 && !(rc == KILN_ENOTFOUND && m->optional)) {
            json_decref(models);
            json_decref(env);
            return rc;
        }
        memset(err, 0, sizeof(*err));
    }
    if (st->environment)
        kiln_capture_environment(st->environment, workdir, envv,
                                 capture_hash, env);
    if ((rc = kiln_artifacts_collect_inputs(&in, workdir, st, err)) != 0) {
        json_decref(models);
        json_decref(env);
        return rc;
    }
    *refused = kiln_cache_refusal(&in, NULL);
    *doc = kiln_cache_key_doc(st, p, &in, workdir, n_params, params);
    json_object_set_new(*doc, "models", models);
    json_object_set_new(*doc, "environment", env);
    if (st->container) {
        /* The image as it is here, never pulled for a preview. */
        kiln_container c = *st->container;
        kiln_image img;
        c.pull = "never";
        if (kiln_container_resolve(&img, &c, NULL, envv, err) != 0) {
            json_decref(*doc);
            *doc = NULL;
            free(*refused);
            *refused = NULL;
            kiln_artifact_list_dispose(&in);
            return KILN_ENOTFOUND;
        }
        json_object_set_new(*doc, "image", kiln_container_key(&c, &img));
        kiln_image_dispose(&img);
    }
    free(kiln_cache_key_of(key, *doc));
    kiln_artifact_list_dispose(&in);
    return 0;
}
