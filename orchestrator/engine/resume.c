/*
 * resume.c: taking over a run a kiln process that died left unfinished,
 * from its typed record: steps that ended stay as they ended, running
 * ones are found again through their executor (by id, or by their status
 * file when the id was not recorded) or, gone without a trace, lost and
 * retried; the rest run as usual.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Take over a running step left by a dead kiln: attach to its process, or
 * if that cannot be done, count the attempt as lost. */
static void step_reattach(step_rt *s, const kiln_attempt_info *a)
{
    kiln_run *run = s->run;
    kiln_engine *eng = run->eng;
    const kiln_step *st = &run->p->steps[s->idx];
    kiln_err err = KILN_ERR_INIT, serr = KILN_ERR_INIT;
    char why[700];

    s->attempt = a->attempt;
    s->exec_id = a->id;
    s->started_ms = a->started_ms;
    s->state = KILN_STEP_RUNNING;
    s->phase = PHASE_RUNNING;
    free(s->log_path);
    s->log_path = kiln_strdup(a->log_path ? a->log_path : "");
    free(s->status_path);
    s->status_path = kiln_asprintf("%s/%s.%d.status", run->log_dir, st->name,
                                   s->attempt);
    free(s->metrics_path);
    s->metrics_path = kiln_asprintf("%s/%s.%d.metrics.json", run->log_dir,
                                    st->name, s->attempt);
    kiln_engine__task_new(s);
    s->task->log_path = s->log_path;
    s->task->status_path = s->status_path;
    s->task->data = s;
    s->task->cpus = st->resources->cpus ? st->resources->cpus : 1;
    s->slots = kiln_engine__step_slots(eng, st);
    kiln_engine__prepared_restore(s, a->id);
    if (st->container) {
        free(kiln_engine__extra(s)->container);
        s->x->container = kiln_container_name(run->id, st->name, s->attempt);
    }
    kiln_engine__take_slot(s);
    /* Without an id (kiln stopped right after recording the attempt),
     * the executor looks for the process by the attempt's status file. */
    if (kiln_engine__executor(&s->ex, eng, st->executor, &err) == 0 &&
        kiln_executor_attach(s->ex, s->task, a->external_id, &err) == 0) {
        if (!a->external_id &&
            kiln_store_exec_set_external(eng->store, s->exec_id,
                                         s->task->external_id, s->started_ms,
                                         &serr) != 0)
            kiln_engine__store_failed(run, &serr);
        return;
    }
    s->ex = NULL;
    s->phase = PHASE_IDLE;
    kiln_engine__release_slot(s);
    if (!a->external_id && err.code == KILN_ENOTFOUND) {
        /* It never started: the step runs, as if for the first time. */
        snprintf(why, sizeof(why), "never started: kiln stopped before it "
                 "started the step's process");
        if (kiln_store_exec_finish(eng->store, s->exec_id, KILN_EXEC_LOST,
                                   -1, 0, why, kiln_now_ms(), &serr) != 0)
            kiln_engine__store_failed(run, &serr);
        s->state = KILN_STEP_PENDING;
        return;
    }
    /* Nothing to watch: the attempt is lost. */
    snprintf(why, sizeof(why), "lost: %s", err.msg);
    kiln_engine__tx_begin(run);
    if (kiln_store_exec_finish(eng->store, s->exec_id, KILN_EXEC_LOST, -1, 0,
                               why, kiln_now_ms(), &serr) != 0)
        kiln_engine__store_failed(run, &serr);
    kiln_engine__step_attempt_ended(s, false, why, 0);
    kiln_engine__tx_end(run);
}

int kiln_run_resume(kiln_run **out, kiln_engine *eng,
                    const kiln_run_options *o, const kiln_run_info *rec,
                    kiln_err *err)
{
    const kiln_pipeline *p = o->pipeline;
    kiln_run *run;

    *out = NULL;
    /* Every recorded step must still be in the definition. */
    for (size_t i = 0; i < rec->n_steps; i++)
        if (kiln_pipeline_find_step(p, rec->steps[i].name) < 0)
            return kiln_err_set(err, KILN_EINVAL, "run %lld has a step "
                                "\"%s\" the pipeline no longer has",
                                (long long)rec->id, rec->steps[i].name);
    kiln_store_set_patient(eng->store, true);
    run = kiln_engine__run_new(eng, o, rec->id);
    *out = run;
    /* Steps that ended stay as they ended; pending ones wait again. */
    for (size_t i = 0; i < rec->n_steps; i++) {
        const kiln_step_info *si = &rec->steps[i];
        step_rt *s = &run->steps[kiln_pipeline_find_step(p, si->name)];
        s->attempt = si->attempts;
        if (kiln_step_state_final(si->state)) {
            s->state = si->state;
            s->by_gate = si->by_gate;
            free(s->reason);
            s->reason = si->reason && *si->reason ? kiln_strdup(si->reason)
                                                  : NULL;
            run->n_done++;
            /* Cancelled before the kiln died (a drain, kiln cancel): the
             * run ends cancelled, as that kiln would have ended it. */
            if (si->state == KILN_STEP_CANCELLED)
                run->cancelling = true;
        }
    }
    for (size_t k = 0; k < p->n_steps; k++) {
        step_rt *s = &run->steps[k];
        for (size_t j = 0; j < s->n_down; j++)
            if (s->state == KILN_STEP_SUCCEEDED ||
                kiln_engine__item_passes_on(s))
                run->steps[s->down[j]].unmet--;
    }
    /* Running steps: find their processes again. */
    for (size_t i = 0; i < rec->n_steps; i++) {
        const kiln_step_info *si = &rec->steps[i];
        const kiln_attempt_info *last = kiln_step_info_last(si);
        step_rt *s = &run->steps[kiln_pipeline_find_step(p, si->name)];
        if (si->state != KILN_STEP_RUNNING)
            continue;
        if (last && last->state == KILN_EXEC_RUNNING)
            step_reattach(s, last);
        else
            s->state = KILN_STEP_PENDING; /* its attempt ended: decide
                                             again */
    }
    kiln_engine__emit(run, -1);
    /* And how each step that ended did: what the killed kiln had still to
     * tell (its OpenLineage events were in memory) is told again, at
     * least once. */
    for (size_t k = 0; k < p->n_steps; k++)
        if (kiln_step_state_final(run->steps[p->topo[k]].state))
            kiln_engine__emit(run, (ssize_t)p->topo[k]);
    for (size_t k = 0; k < p->n_steps; k++) {
        step_rt *s = &run->steps[p->topo[k]];
        bool blocked = false, gated = false;
        if (s->state != KILN_STEP_PENDING)
            continue;
        for (size_t j = 0; j < p->steps[s->idx].needs.n; j++) {
            const step_rt *up = &run->steps[p->steps[s->idx].need_idx[j]];
            if (up->state == KILN_STEP_GATED ||
                (up->state == KILN_STEP_SKIPPED && up->by_gate))
                gated = true;
            else if (((up->state == KILN_STEP_FAILED ||
                       up->state == KILN_STEP_TIMED_OUT) &&
                      kiln_engine__item_blocks(up)) ||
                     up->state == KILN_STEP_SKIPPED ||
                     up->state == KILN_STEP_CANCELLED)
                blocked = true;
        }
        if (blocked || gated) {
            s->by_gate = gated && !blocked;
            kiln_engine__step_set(s, KILN_STEP_SKIPPED, s->by_gate
                     ? "an upstream step was gated"
                     : "an upstream step did not succeed");
        } else if (s->unmet == 0) {
            kiln_engine__step_set(s, KILN_STEP_READY, NULL);
        }
    }
    kiln_engine__run_maybe_finish(run);
    kiln_engine__request_dispatch(eng);
    return 0;
}
