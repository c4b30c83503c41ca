/*
 * restore.c: before a cacheable step's first attempt, its inputs are
 * hashed into its cache key off the loop and the key looked up; a hit
 * puts the step's own declared outputs back (each object's hash checked)
 * and records the step as cached, in one transaction. A retry reuses the
 * executions of the steps that succeeded in the run it retries.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cache.h"

/* Step caching. */

bool kiln_engine__cacheable(step_rt *s)
{
    const kiln_step *st = &s->run->p->steps[s->idx];
    /* Outputs to restore, or a validate step's checks: what they decide
     * depends only on the data, the reference and the checks, all in the
     * key. */
    return s->run->eng->cache && st->cache &&
           (st->outputs.n > 0 || st->validation) && s->attempt == 0 &&
           s->phase == PHASE_IDLE;
}

typedef struct cache_job {
    uv_work_t req;
    step_rt *s;
    kiln_artifact_list in;   /* the inputs, hashed for the key */
    char key[KILN_HASH_HEX];
    int rc;
    kiln_cache_entry hit;    /* the lookup's answer, for the restore */
    kiln_artifact_list out;  /* the restored outputs, hashed */
    kiln_err err;
} cache_job;

static void cache_job_free(cache_job *j)
{
    kiln_artifact_list_dispose(&j->in);
    kiln_artifact_list_dispose(&j->out);
    kiln_cache_entry_dispose(&j->hit);
    free(j);
}

static void key_work(uv_work_t *req)
{
    cache_job *j = req->data;
    step_rt *s = j->s;
    const kiln_step *st = &s->run->p->steps[s->idx];
    j->rc = kiln_artifacts_collect_inputs(&j->in, s->workdir, st, &j->err);
    if (j->rc == 0)
        kiln_cache_key(j->key, st, s->run->p, &j->in, s->workdir,
                       s->run->n_params, s->run->params);
}

/* Record an execution that ran nothing (a cache hit, a retry's reuse) as
 * attempt 1, ended: its executor says which. */
static int record_unrun(step_rt *s, const char *executor, const char *why,
                        kiln_err *err)
{
    kiln_run *run = s->run;
    const kiln_step *st = &run->p->steps[s->idx];
    kiln_exec_rec rec;
    int rc;

    memset(&rec, 0, sizeof(rec));
    s->attempt = 1;
    rec.run_id = run->id;
    rec.step = st->name;
    rec.kind = kiln_step_kind_name(st->kind);
    rec.attempt = 1;
    rec.log_path = "";
    rec.executor = executor;
    rec.started_ms = kiln_now_ms();
    if ((rc = kiln_store_exec_start(run->eng->store, &s->exec_id, &rec,
                                    err)) != 0)
        return rc;
    return kiln_store_exec_finish(run->eng->store, s->exec_id,
                                  KILN_EXEC_CACHED, -1, 0, why, kiln_now_ms(),
                                  err);
}

static void restore_work(uv_work_t *req)
{
    cache_job *j = req->data;
    step_rt *s = j->s;
    const kiln_step *st = &s->run->p->steps[s->idx];
    j->rc = kiln_cache_restore(s->run->eng->objects, s->workdir, j->hit.n,
                               j->hit.rel, j->hit.sha256, &j->err);
    kiln_crash_point("restoring");
    if (j->rc == 0)
        j->rc = kiln_artifacts_collect(&j->out, s->workdir, &st->outputs,
                                       &j->err);
}

/* The cache had the step's outputs (or not): record it as a cached
 * execution, or let the step run after all. */
static void restore_done(uv_work_t *req, int status)
{
    cache_job *j = req->data;
    step_rt *s = j->s;
    kiln_run *run = s->run;
    const kiln_step *st = &run->p->steps[s->idx];
    kiln_err err = KILN_ERR_INIT;
    (void)status;

    run->n_hashing--;
    s->phase = PHASE_CHECKED;
    kiln_engine__release_slot(s);
    if (s->state != KILN_STEP_READY || run->cancelling) {
        /* Cancelled meanwhile. */
    } else if (j->rc != 0 || j->out.n_missing) {
        FILE *f;
        free(s->log_path);
        s->log_path = kiln_asprintf("%s/%s.cache.log", run->log_dir,
                                    st->name);
        if ((f = fopen(s->log_path, "a")) != NULL) {
            fprintf(f, "kiln: warning: %s; running the step instead\n",
                    j->rc ? j->err.msg : "a cached output is missing");
            fclose(f);
        }
    } else {
        const kiln_artifact_list *in = s->cache_key[0] ? &s->inputs : &j->in;
        size_t n = in->n + j->out.n, k = 0;
        kiln_artifact_rec *recs = kiln_calloc(n ? n : 1, sizeof(*recs));
        char why[120];
        snprintf(why, sizeof(why), "cached from run %lld",
                 (long long)j->hit.run_id);
        for (size_t i = 0; i < in->n; i++, k++) {
            recs[k].path = in->items[i].path;
            recs[k].sha256 = in->items[i].sha256;
            recs[k].size = in->items[i].size;
            recs[k].type = "file";
        }
        for (size_t i = 0; i < j->out.n; i++, k++) {
            recs[k].path = j->out.items[i].path;
            recs[k].sha256 = j->out.items[i].sha256;
            recs[k].size = j->out.items[i].size;
            recs[k].type = kiln_artifact_type(st->kind);
            recs[k].output = true;
        }
        kiln_crash_point("restored");
        kiln_engine__tx_begin(run);
        if (record_unrun(s, "cache", why, &err) != 0 ||
            kiln_store_cache_hit(run->eng->store, s->exec_id,
                                 j->hit.exec_id, j->key, &err) != 0 ||
            kiln_store_record_artifacts(run->eng->store, s->exec_id, recs, n,
                                        &err) != 0)
            kiln_engine__store_failed(run, &err);
        free(recs);
        kiln_engine__step_set(s, KILN_STEP_RUNNING, NULL);
        kiln_engine__succeed(s, why, 0);
        kiln_engine__tx_end(run);
    }
    cache_job_free(j);
    kiln_engine__run_maybe_finish(run);
    kiln_engine__request_dispatch(run->eng);
}

static void key_done(uv_work_t *req, int status)
{
    cache_job *j = req->data;
    step_rt *s = j->s;
    kiln_run *run = s->run;
    const kiln_step *st = &run->p->steps[s->idx];
    kiln_err err = KILN_ERR_INIT;
    (void)status;

    if (j->rc == 0) {
        memcpy(s->cache_key, j->key, sizeof(s->cache_key));
        /* Keep the hashed inputs for the step's records. */
        kiln_artifact_list_dispose(&s->inputs);
        s->inputs = j->in;
        memset(&j->in, 0, sizeof(j->in));
    }
    /* A hit restores its outputs on the thread pool, and only the step's
     * own declared outputs are ever put back. */
    if (j->rc == 0 && s->state == KILN_STEP_READY && !run->cancelling &&
        kiln_store_cache_lookup(run->eng->store, &j->hit, j->key,
                                &err) == 0 &&
        (j->hit.n > 0 || st->outputs.n == 0) &&
        kiln_cache_outputs_match(&st->outputs, s->workdir, j->hit.n,
                                 j->hit.rel)) {
        uv_queue_work(run->eng->loop, &j->req, restore_work, restore_done);
        return;
    }
    if (err.code && err.code != KILN_ENOTFOUND)
        kiln_engine__store_failed(run, &err);
    run->n_hashing--;
    s->phase = PHASE_CHECKED;
    kiln_engine__release_slot(s);
    cache_job_free(j);
    kiln_engine__run_maybe_finish(run);
    kiln_engine__request_dispatch(run->eng);
}

/* Before a cacheable step's first attempt: hash its inputs into its key,
 * off the loop, then look the key up. */
void kiln_engine__cache_check(step_rt *s)
{
    cache_job *j = kiln_calloc(1, sizeof(*j));
    j->s = s;
    j->req.data = j;
    s->phase = PHASE_CACHE;
    kiln_engine__take_slot(s);
    s->run->n_hashing++;
    uv_queue_work(s->run->eng->loop, &j->req, key_work, key_done);
}

/* A retry: the step succeeded in the run retried, so record that
 * execution's outputs and metrics as this run's and go on. The files are
 * where that run left them (the same workdir or checkout). */
void kiln_engine__step_reuse(step_rt *s, int64_t from_exec)
{
    kiln_run *run = s->run;
    kiln_err err = KILN_ERR_INIT;
    char why[80];

    snprintf(why, sizeof(why), "reused from run %lld",
             (long long)run->reuse_run);
    kiln_engine__tx_begin(run);
    if (record_unrun(s, "reuse", why, &err) != 0 ||
        kiln_store_exec_reuse(run->eng->store, s->exec_id, from_exec,
                              &err) != 0)
        kiln_engine__store_failed(run, &err);
    kiln_engine__step_set(s, KILN_STEP_RUNNING, NULL);
    kiln_engine__succeed(s, why, 0);
    kiln_engine__tx_end(run);
}
