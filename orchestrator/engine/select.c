/*
 * select.c: which steps of a run run again: a retry's reuse (kiln retry
 * [--from STEP], POST /api/v1/runs/{id}/retry) and the subset kiln run
 * --only/--from/--until picks. A matrix step's name stands for every
 * item of it.
 */
#include "engine/engine.h"

#include <stdlib.h>
#include <string.h>

void kiln_pipeline_mark(bool *mark, const kiln_pipeline *p, size_t step,
                        bool down)
{
    mark[step] = true;
    /* One pass in topological order (downstream) or its reverse
     * (upstream) sees every path. */
    for (size_t t = 0; t < p->n_steps; t++) {
        size_t i = p->topo[down ? t : p->n_steps - 1 - t];
        const kiln_step *st = &p->steps[i];
        for (size_t k = 0; k < st->needs.n; k++) {
            size_t need = st->need_idx[k];
            if (down && mark[need])
                mark[i] = true;
            else if (!down && mark[i])
                mark[need] = true;
        }
    }
}

/* The steps called name: one step, or a matrix step's items
 * (p->steps[*out .. *out + *n)). */
static int find(size_t *out, size_t *n, const kiln_pipeline *p,
                const char *name, const char *opt, kiln_err *err)
{
    ssize_t k = kiln_pipeline_find_step(p, name);
    *n = 1;
    for (size_t m = 0; k < 0 && m < p->n_matrices; m++)
        if (strcmp(p->matrices[m].step, name) == 0) {
            *out = p->matrices[m].first;
            *n = p->matrices[m].n_items;
            return 0;
        }
    if (k < 0)
        return kiln_err_set(err, KILN_EINVAL, "%s: pipeline \"%s\" has no "
                            "step \"%s\"", opt, p->name, name);
    *out = (size_t)k;
    return 0;
}

/* Mark the steps called name and what follows them (down) or what they
 * need. */
static int mark_named(bool *mark, const kiln_pipeline *p, const char *name,
                      const char *opt, bool down, kiln_err *err)
{
    size_t k = 0, n = 0;
    int rc = find(&k, &n, p, name, opt, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        kiln_pipeline_mark(mark, p, k + i, down);
    return rc;
}

int kiln_run_retry_reuse(kiln_kv **out, size_t *n, const kiln_pipeline *p,
                         const kiln_run_info *run, const char *from,
                         kiln_err *err)
{
    bool *again = kiln_calloc(p->n_steps + 1, sizeof(bool));
    kiln_kv *reuse;
    int rc;

    *out = NULL;
    *n = 0;
    if (from && (rc = mark_named(again, p, from, "--from", true, err)) != 0) {
        free(again);
        return rc;
    }
    reuse = kiln_calloc(run->n_steps + 1, sizeof(kiln_kv));
    for (size_t i = 0; i < run->n_steps; i++) {
        const kiln_step_info *st = &run->steps[i];
        ssize_t idx = kiln_pipeline_find_step(p, st->name);
        int64_t made = 0;
        if (st->state != KILN_STEP_SUCCEEDED || (idx >= 0 && again[idx]))
            continue;
        for (size_t a = 0; a < st->n_attempts; a++)
            if (st->attempt[a].state == KILN_EXEC_SUCCEEDED ||
                st->attempt[a].state == KILN_EXEC_CACHED)
                made = st->attempt[a].id;
        if (made > 0) {
            reuse[*n].key = st->name;
            reuse[*n].value = kiln_asprintf("%lld", (long long)made);
            (*n)++;
        }
    }
    free(again);
    *out = reuse;
    return 0;
}

void kiln_run_reuse_free(kiln_kv *reuse, size_t n)
{
    for (size_t i = 0; reuse && i < n; i++)
        free((char *)reuse[i].value);
    free(reuse);
}

int kiln_run_select(bool *selected, const kiln_pipeline *p,
                    const kiln_run_selection *sel, kiln_err *err)
{
    bool *mark = kiln_calloc(p->n_steps + 1, sizeof(bool));
    size_t k = 0, n = 0, any = 0;
    int rc = 0;

    for (size_t i = 0; i < p->n_steps; i++)
        selected[i] = true;
    if (sel->n_only) {
        for (size_t i = 0; rc == 0 && i < sel->n_only; i++)
            if ((rc = find(&k, &n, p, sel->only[i], "--only", err)) == 0)
                for (size_t j = 0; j < n; j++)
                    mark[k + j] = true;
        for (size_t i = 0; i < p->n_steps; i++)
            selected[i] = selected[i] && mark[i];
    }
    if (rc == 0 && sel->from) {
        memset(mark, 0, p->n_steps * sizeof(bool));
        rc = mark_named(mark, p, sel->from, "--from", true, err);
    }
    if (rc == 0 && sel->from) {
        for (size_t i = 0; i < p->n_steps; i++)
            selected[i] = selected[i] && mark[i];
    }
    if (rc == 0 && sel->until) {
        memset(mark, 0, p->n_steps * sizeof(bool));
        rc = mark_named(mark, p, sel->until, "--until", false, err);
    }
    if (rc == 0 && sel->until) {
        for (size_t i = 0; i < p->n_steps; i++)
            selected[i] = selected[i] && mark[i];
    }
    for (size_t i = 0; i < p->n_steps; i++)
        any += selected[i];
    if (rc == 0 && any == 0)
        rc = kiln_err_set(err, KILN_EINVAL, "--from %s and --until %s "
                          "select no step (is %s upstream of %s?)",
                          sel->from ? sel->from : "-",
                          sel->until ? sel->until : "-",
                          sel->until ? sel->until : "-",
                          sel->from ? sel->from : "-");
    free(mark);
    return rc;
}
