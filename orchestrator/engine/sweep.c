/*
 * sweep.c: the items of matrix steps (dsl/matrix.c) in a run: how many
 * run at once (max_parallel:), what a failed item does to its siblings
 * and to the steps needing it (on_failure:), and $KILN_UPSTREAM, what a
 * step is told of the steps it needs.
 */
#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <jansson.h>

bool kiln_engine__matrix_room(const step_rt *s)
{
    const kiln_matrix *m = s->run->p->steps[s->idx].matrix;
    return !m || m->max_parallel == 0 ||
           s->run->matrix_running[m->index] < m->max_parallel;
}

void kiln_engine__matrix_count(step_rt *s, int delta)
{
    const kiln_matrix *m = s->run->p->steps[s->idx].matrix;
    if (m)
        s->run->matrix_running[m->index] += (unsigned)delta;
}

/* Has some item of m succeeded in run? */
static bool any_succeeded(const kiln_run *run, const kiln_matrix *m)
{
    for (size_t i = 0; i < m->n_items; i++)
        if (run->steps[m->first + i].state == KILN_STEP_SUCCEEDED)
            return true;
    return false;
}

/* fail_fast: the items of s's matrix not started yet never start. */
static void skip_siblings(step_rt *s, const kiln_matrix *m)
{
    kiln_run *run = s->run;
    char *why = kiln_asprintf("item \"%s\" failed (on_failure: fail_fast)",
                              run->p->steps[s->idx].name);
    for (size_t i = 0; i < m->n_items; i++) {
        step_rt *o = &run->steps[m->first + i];
        if (o == s || o->attempt > 0 ||
            (o->state != KILN_STEP_PENDING && o->state != KILN_STEP_READY) ||
            (o->phase != PHASE_IDLE && o->phase != PHASE_CHECKED))
            continue;
        kiln_engine__step_set(o, KILN_STEP_SKIPPED, why);
        kiln_engine__skip_downstream(o, why, false);
    }
    free(why);
}

/* continue: what needs s goes on once every need has ended, when each
 * matrix it needs has an item that succeeded. */
static void pass_on(step_rt *s)
{
    kiln_run *run = s->run;
    for (size_t i = 0; i < s->n_down; i++) {
        step_rt *d = &run->steps[s->down[i]];
        const kiln_step *ds = &run->p->steps[d->idx];
        const kiln_matrix *none = NULL;
        if (--d->unmet > 0 || d->state != KILN_STEP_PENDING ||
            run->cancelling)
            continue;
        for (size_t j = 0; j < ds->needs.n && !none; j++) {
            const kiln_matrix *m = run->p->steps[ds->need_idx[j]].matrix;
            if (m && !any_succeeded(run, m))
                none = m;
        }
        if (none) {
            char *why = kiln_asprintf("every item of step \"%s\" failed",
                                      none->step);
            kiln_engine__step_set(d, KILN_STEP_SKIPPED, why);
            kiln_engine__skip_downstream(d, why, false);
            free(why);
        } else {
            kiln_engine__step_set(d, KILN_STEP_READY, NULL);
        }
    }
}

bool kiln_engine__item_passes_on(const step_rt *s)
{
    const kiln_matrix *m = s->run->p->steps[s->idx].matrix;
    return m && m->keep_going && (s->state == KILN_STEP_FAILED ||
                                  s->state == KILN_STEP_TIMED_OUT);
}

bool kiln_engine__item_blocks(const step_rt *s)
{
    const kiln_run *run = s->run;
    const kiln_matrix *m = run->p->steps[s->idx].matrix;
    if (!kiln_engine__item_passes_on(s))
        return true;
    /* Every item ended and none succeeded: what needs them cannot run. */
    for (size_t i = 0; i < m->n_items; i++) {
        kiln_step_state st = run->steps[m->first + i].state;
        if (st == KILN_STEP_SUCCEEDED || !kiln_step_state_final(st))
            return false;
    }
    return true;
}

bool kiln_engine__item_failed(step_rt *s)
{
    const kiln_matrix *m = s->run->p->steps[s->idx].matrix;
    if (!m || s->run->cancelling)
        return false;
    if (m->keep_going) {
        pass_on(s);
        return true;
    }
    skip_siblings(s, m);
    return false;
}

/* One upstream step (or item) of $KILN_UPSTREAM. */
static json_t *upstream_entry(kiln_run *run, size_t k, json_t *metrics)
{
    const kiln_step *st = &run->p->steps[k];
    const step_rt *u = &run->steps[k];
    json_t *e = json_object(), *params = json_object(), *outs = json_array();
    json_t *m = json_object_get(metrics, st->name);

    json_object_set_new(e, "step", json_string(st->name));
    json_object_set_new(e, "matrix", st->matrix ? json_string(st->matrix->step)
                                                : json_null());
    for (size_t i = 0; i < st->n_item_params; i++)
        json_object_set_new(params, st->item_params[i].key,
                            json_string(st->item_params[i].value));
    json_object_set_new(e, "params", params);
    json_object_set_new(e, "status",
                        json_string(kiln_step_state_name(u->state)));
    json_object_set_new(e, "metrics", m ? json_incref(m) : json_object());
    for (size_t i = 0; i < st->outputs.n; i++) {
        char *path = kiln_path_join(u->workdir, st->outputs.items[i]);
        json_array_append_new(outs, json_string(path));
        free(path);
    }
    json_object_set_new(e, "outputs", outs);
    return e;
}

/* Past this many needs, their metrics are read with the run's at once,
 * not a need at a time. */
#define NEEDS_ONE_READ 256

/* Add metrics ms (by step, then key: the latest attempt's last) to doc. */
static void add_metrics(json_t *doc, const kiln_metric *ms, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_object_get(doc, ms[i].step);
        if (!m) {
            m = json_object();
            json_object_set_new(doc, ms[i].step, m);
        }
        json_object_set_new(m, ms[i].key, json_real(ms[i].value));
    }
}

/* The metrics of s's needs so far, by step then key (the latest
 * attempt's), or NULL after a store error: each need's along its index
 * (a step never reads the whole run's), or the run's at once for a step
 * with many needs or a select: (which ranks its matrix's items). */
static json_t *needs_metrics(step_rt *s, kiln_err *err)
{
    kiln_run *run = s->run;
    const kiln_step *st = &run->p->steps[s->idx];
    bool whole = st->select || st->needs.n > NEEDS_ONE_READ;
    json_t *metrics = json_object();
    kiln_metric *ms = NULL;
    size_t n = 0;
    int rc = 0;

    if (whole) {
        if ((rc = kiln_store_run_metrics(&ms, &n, run->eng->store, run->id,
                                         err)) == 0)
            add_metrics(metrics, ms, n);
        kiln_metrics_free(ms, n);
    } else {
        for (size_t j = 0; rc == 0 && j < st->needs.n; j++) {
            const char *name = run->p->steps[st->need_idx[j]].name;
            if ((rc = kiln_store_step_metrics(&ms, &n, run->eng->store,
                                              run->id, name, err)) == 0)
                add_metrics(metrics, ms, n);
            kiln_metrics_free(ms, n);
            ms = NULL;
            n = 0;
        }
    }
    if (rc != 0) {
        json_decref(metrics);
        return NULL;
    }
    return metrics;
}

typedef struct ranked {
    size_t idx;
    double value;
} ranked;

static int by_value_desc(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    return x->value < y->value ? 1 : x->value > y->value ? -1
           : x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int by_value_asc(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    return x->value < y->value ? -1 : x->value > y->value ? 1
           : x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* select:'s decision from metrics: {from, metric, mode, selected (an
 * item's name or null), value, ranking [{step, value}], best first},
 * among the items that succeeded with the metric (ties: the first
 * item). Sets s->x->selected. */
static json_t *select_of(step_rt *s, json_t *metrics)
{
    kiln_run *run = s->run;
    const kiln_select *sel = run->p->steps[s->idx].select;
    const kiln_matrix *m = sel->matrix;
    ranked *r = kiln_calloc(m->n_items + 1, sizeof(*r));
    json_t *doc, *list = json_array();
    step_extra *x;
    size_t n = 0;

    for (size_t i = 0; i < m->n_items; i++) {
        size_t k = m->first + i;
        json_t *v = json_object_get(json_object_get(metrics,
                                    run->p->steps[k].name), sel->metric);
        if (run->steps[k].state != KILN_STEP_SUCCEEDED || !json_is_number(v))
            continue;
        r[n].idx = k;
        r[n++].value = json_number_value(v);
    }
    qsort(r, n, sizeof(*r), sel->max ? by_value_desc : by_value_asc);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_pack("{s:s, s:f}", "step",
                              run->p->steps[r[i].idx].name, "value",
                              r[i].value));
    x = kiln_engine__extra(s);
    free(x->selected);
    x->selected = n ? kiln_strdup(run->p->steps[r[0].idx].name) : NULL;
    doc = json_pack("{s:s, s:s, s:s, s:s?, s:o, s:o}", "from", sel->from,
                    "metric", sel->metric, "mode", sel->max ? "max" : "min",
                    "selected", x->selected, "value",
                    n ? json_real(r[0].value) : json_null(), "ranking", list);
    free(x->select_note);
    x->select_note = n ? kiln_asprintf("selected %s (%s %g, the %s of %zu "
                                       "item%s)", x->selected, sel->metric,
                                       r[0].value, sel->max ? "max" : "min",
                                       n, n == 1 ? "" : "s")
                       : NULL;
    free(r);
    return doc;
}

json_t *kiln_engine__select_doc(step_rt *s, kiln_err *err)
{
    json_t *metrics = needs_metrics(s, err), *doc;
    if (!metrics)
        return NULL;
    doc = select_of(s, metrics);
    json_decref(metrics);
    return doc;
}

/* KILN_SELECTED_<NAME>: name in upper case, anything but letters and
 * digits as "_". */
static void env_selected(kiln_env *e, const char *prefix, const char *name,
                         const char *value)
{
    char *key = kiln_asprintf("KILN_SELECTED_%s%s", prefix, name);
    for (char *c = key; *c; c++)
        *c = (*c >= 'a' && *c <= 'z') ? (char)(*c - 'a' + 'A')
             : ((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9'))
                 ? *c : '_';
    kiln_env_set(e, key, value);
    free(key);
}

/* The winner of select: for s into doc ("selected": its entry, with the
 * decision) and s->env (KILN_SELECTED_*). Returns 0, or KILN_ERROR when no
 * item that succeeded recorded the metric. */
static int selected(step_rt *s, json_t *doc, json_t *metrics, kiln_err *err)
{
    const kiln_select *sel = s->run->p->steps[s->idx].select;
    json_t *dec = select_of(s, metrics), *e = NULL, *v, *win;
    kiln_buf outs = KILN_BUF_INIT;
    const char *key;
    size_t i;

    if (!s->x || !s->x->selected) {
        json_decref(dec);
        return kiln_err_set(err, KILN_ERROR, "select: no item of step \"%s\" "
                            "succeeded with metric \"%s\"", sel->from,
                            sel->metric);
    }
    json_array_foreach(json_object_get(doc, "steps"), i, v)
        if (strcmp(json_string_value(json_object_get(v, "step")),
                   s->x->selected) == 0)
            e = v;
    win = e ? json_deep_copy(e) : json_object();
    json_object_update(win, dec);
    json_object_set_new(win, "step", json_string(s->x->selected));
    json_decref(dec);
    kiln_env_set(&s->env, "KILN_SELECTED_STEP", s->x->selected);
    json_object_foreach(json_object_get(win, "params"), key, v)
        env_selected(&s->env, "PARAM_", key, json_string_value(v));
    json_object_foreach(json_object_get(win, "metrics"), key, v) {
        char num[64];
        /* The shortest text that reads back as the value (0.6). */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(num, sizeof(num), "%.*g", prec, json_number_value(v));
            if (strtod(num, NULL) == json_number_value(v))
                break;
        }
        env_selected(&s->env, "METRIC_", key, num);
    }
    json_array_foreach(json_object_get(win, "outputs"), i, v)
        kiln_buf_printf(&outs, "%s%s", i ? " " : "", json_string_value(v));
    kiln_env_set(&s->env, "KILN_SELECTED_OUTPUTS", kiln_buf_cstr(&outs));
    kiln_buf_dispose(&outs);
    json_object_set_new(doc, "selected", win);
    return 0;
}

json_t *kiln_engine__upstream_doc(step_rt *s, kiln_err *err)
{
    kiln_run *run = s->run;
    const kiln_step *st = &run->p->steps[s->idx];
    json_t *doc = json_object(), *steps = json_array();
    json_t *metrics = needs_metrics(s, err);

    if (!metrics) {
        json_decref(doc);
        json_decref(steps);
        return NULL;
    }
    for (size_t j = 0; j < st->needs.n; j++)
        json_array_append_new(steps,
                              upstream_entry(run, st->need_idx[j], metrics));
    json_object_set_new(doc, "steps", steps);
    if (st->select && selected(s, doc, metrics, err) != 0) {
        json_decref(doc);
        doc = NULL;
    }
    json_decref(metrics);
    return doc;
}

/* Past this many needs, $KILN_UPSTREAM's text goes straight to its file
 * and is hashed from there: the step that joins a 100,000-step fan-out
 * would hold 10 MB of it (and up to twice that as the buffer grows). */
#define UPSTREAM_IN_FILE 1000

/* $KILN_UPSTREAM's text without select:, an entry a line, each made and
 * written out to f in turn: the step that joins a 100,000-step fan-out
 * never holds a JSON tree of every entry (about 1 KB each). 0, or
 * KILN_ERROR after a store error (f's errors are f's). */
static int upstream_text(FILE *f, step_rt *s, kiln_err *err)
{
    kiln_run *run = s->run;
    const kiln_step *st = &run->p->steps[s->idx];
    json_t *metrics = needs_metrics(s, err);

    if (!metrics)
        return KILN_ERROR;
    fputs("{\"steps\": [", f);
    for (size_t j = 0; j < st->needs.n; j++) {
        json_t *e = upstream_entry(run, st->need_idx[j], metrics);
        fputs(j ? ",\n  " : "\n  ", f);
        json_dumpf(e, f, JSON_COMPACT);
        json_decref(e);
    }
    fputs("\n]}", f);
    json_decref(metrics);
    return 0;
}

/* $KILN_UPSTREAM of a step with many needs, written beside, hashed from
 * the file and renamed to *out (or removed when that file is there
 * already). */
static int upstream_in_file(char **out, step_rt *s, kiln_err *err)
{
    kiln_run *run = s->run;
    char sha[KILN_HASH_HEX];
    char *tmp = kiln_asprintf("%s/upstream.%d.tmp", run->log_dir,
                              (int)getpid());
    FILE *f = fopen(tmp, "we");
    int rc = 0, bad;

    *out = NULL;
    if (!f) {
        rc = kiln_err_set_os(err, "cannot write %s", tmp);
        free(tmp);
        return rc;
    }
    if ((rc = upstream_text(f, s, err)) == 0)
        fputc('\n', f);
    bad = ferror(f);
    if ((fclose(f) != 0 || bad) && rc == 0)
        rc = kiln_err_set_os(err, "cannot write %s", tmp);
    if (rc == 0)
        rc = kiln_hash_file(sha, tmp, err);
    if (rc == 0) {
        *out = kiln_asprintf("%s/upstream-%.32s.json", run->log_dir, sha);
        if (access(*out, F_OK) == 0)
            unlink(tmp);
        else if (rename(tmp, *out) != 0)
            rc = kiln_err_set_os(err, "cannot write %s", *out);
    }
    if (rc != 0) {
        unlink(tmp);
        free(*out);
        *out = NULL;
    }
    free(tmp);
    return rc;
}

/* text (len bytes) and a new line in path, which its hash names: kept
 * when it holds that many bytes already (written whole before, by this
 * kiln or one before it), else written in one go. Only this run's kiln
 * writes its log directory, and it never rewrites a whole file, so a
 * step reading one never sees it change; one cut short by a crash is
 * the wrong size and written again. */
static int write_named(const char *path, const char *text, size_t len,
                       kiln_err *err)
{
    struct iovec iov[2] = {{(void *)text, len}, {"\n", 1}};
    struct stat sb;
    ssize_t n;
    int fd;

    if (stat(path, &sb) == 0 && sb.st_size == (off_t)len + 1)
        return 0;
    if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
        return kiln_err_set_os(err, "cannot write %s", path);
    kiln_crash_point("upstream-opened");
    n = writev(fd, iov, 2);
    if (n != (ssize_t)len + 1) {
        int rc = n < 0 ? kiln_err_set_os(err, "cannot write %s", path)
                       : kiln_err_set(err, KILN_ERROR, "cannot write %s: "
                                      "short write", path);
        close(fd);
        unlink(path);
        return rc;
    }
    return close(fd) == 0 ? 0
                          : kiln_err_set_os(err, "cannot write %s", path);
}

/*
 * The file is named by its content's hash (LOG_DIR/upstream-HASH.json),
 * so the steps that see the same upstream (the branches of a fan-out,
 * a layer's steps) share one file instead of making one each: written
 * once (write_named) and never rewritten while a step may read it. The
 * last one written is remembered, the others looked for.
 */
int kiln_engine__write_upstream(step_rt *s, kiln_err *err)
{
    kiln_run *run = s->run;
    const kiln_step *st = &run->p->steps[s->idx];
    char sha[KILN_HASH_HEX], *path, *text;
    json_t *doc;
    size_t len;
    int rc = 0;

    if (st->needs.n == 0)
        return 0;
    /* The same needs as the step it was made for last (the branches of a
     * fan-out, a layer's steps): the same file, its needs having ended
     * before either started, without making its text again. */
    if (!st->select && run->upstream_of && !run->upstream_of->select &&
        run->upstream_of->needs.n == st->needs.n &&
        memcmp(run->upstream_of->need_idx, st->need_idx,
               st->needs.n * sizeof(*st->need_idx)) == 0) {
        path = kiln_asprintf("%s/upstream-%.32s.json", run->log_dir,
                             run->upstream_sha);
        kiln_env_set(&s->env, "KILN_UPSTREAM", path);
        free(path);
        return 0;
    }
    if (!st->select && st->needs.n > UPSTREAM_IN_FILE) {
        if ((rc = upstream_in_file(&path, s, err)) == 0)
            kiln_env_set(&s->env, "KILN_UPSTREAM", path);
        free(path);
        return rc;
    }
    if (st->select) {
        if (!(doc = kiln_engine__upstream_doc(s, err)))
            return KILN_ERROR;
        text = json_dumps(doc, JSON_INDENT(2));
        json_decref(doc);
    } else {
        FILE *m = open_memstream(&text, &len);
        if (!m)
            return kiln_err_set_os(err, "cannot make $KILN_UPSTREAM");
        rc = upstream_text(m, s, err);
        fclose(m);
        if (rc != 0) {
            free(text);
            return KILN_ERROR;
        }
    }
    len = strlen(text);
    kiln_hash_bytes(sha, text, len);
    path = kiln_asprintf("%s/upstream-%.32s.json", run->log_dir, sha);
    if (strcmp(sha, run->upstream_sha) != 0)
        rc = write_named(path, text, len, err);
    if (rc == 0) {
        memcpy(run->upstream_sha, sha, sizeof(sha));
        run->upstream_of = st;
        kiln_env_set(&s->env, "KILN_UPSTREAM", path);
    }
    free(path);
    free(text);
    return rc;
}
