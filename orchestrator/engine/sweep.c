/*
 * sweep.c: the items of matrix steps (dsl/matrix.c) in a run: how many
 * run at once (max_parallel:), what a failed item does to its siblings
 * and to the steps needing it (on_failure:), and $KILN_UPSTREAM, what a
 * step is told of the steps it needs.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

json_t *kiln_engine__upstream_doc(step_rt *s, kiln_err *err)
{
    kiln_run *run = s->run;
    const kiln_step *st = &run->p->steps[s->idx];
    json_t *doc = json_object(), *steps = json_array();
    json_t *metrics = json_object();
    kiln_metric *ms = NULL;
    size_t n = 0;

    if (kiln_store_run_metrics(&ms, &n, run->eng->store, run->id, err) != 0) {
        json_decref(doc);
        json_decref(steps);
        json_decref(metrics);
        return NULL;
    }
    /* Every attempt's, oldest first: the latest stays. */
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_object_get(metrics, ms[i].step);
        if (!m) {
            m = json_object();
            json_object_set_new(metrics, ms[i].step, m);
        }
        json_object_set_new(m, ms[i].key, json_real(ms[i].value));
    }
    kiln_metrics_free(ms, n);
    for (size_t j = 0; j < st->needs.n; j++)
        json_array_append_new(steps,
                              upstream_entry(run, st->need_idx[j], metrics));
    json_decref(metrics);
    json_object_set_new(doc, "steps", steps);
    return doc;
}

int kiln_engine__write_upstream(step_rt *s, kiln_err *err)
{
    kiln_run *run = s->run;
    const kiln_step *st = &run->p->steps[s->idx];
    json_t *doc;
    char *path;
    int rc;

    if (st->needs.n == 0)
        return 0;
    if (!(doc = kiln_engine__upstream_doc(s, err)))
        return KILN_ERROR;
    path = kiln_asprintf("%s/%s.%d.upstream.json", run->log_dir, st->name,
                         s->attempt);
    rc = json_dump_file(doc, path, JSON_INDENT(2)) == 0
             ? 0 : kiln_err_set_os(err, "cannot write %s", path);
    if (rc == 0)
        kiln_env_set(&s->env, "KILN_UPSTREAM", path);
    free(path);
    json_decref(doc);
    return rc;
}
