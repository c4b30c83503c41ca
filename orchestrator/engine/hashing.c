/*
 * hashing.c: after an attempt ended, off the loop: its declared inputs
 * and outputs found and hashed, its metrics read, its outputs kept in the
 * cache; then, on the loop, all of it recorded with the attempt's end in
 * one transaction (artifacts, metrics, a model version, the cache entry).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/metrics.h"
#include "engine/cache.h"
#include "engine/deploy.h"
#include "engine/registry.h"

typedef struct hash_job {
    uv_work_t req;
    step_rt *s;
    kiln_artifact_list in, out;
    kiln_metrics metrics;
    kiln_err err;
    int rc;
    bool cached;             /* outputs are now in the object store */
    kiln_cache_files files;  /* ...as these files */
    kiln_cache_files reg_files; /* the registered output's files, kept
                                   when the outputs were not */
    kiln_exec_state status;  /* how the attempt ended: when not
                                SUCCEEDED, its metrics alone are read */
    char why[300];           /* ...and why it failed */
    char *refused;           /* why its outputs were not kept although
                                it may be cached (kiln_cache_refusal) */
    char moved_why[600];     /* why its promote: or retire: failed */
} hash_job;

/* Read the attempt's metrics: $KILN_METRICS, then the declared file
 * (not after a failure: it may be an earlier attempt's). Warnings go to
 * the end of the step's log. Runs on the thread pool. */
static void read_metrics(hash_job *j)
{
    step_rt *s = j->s;
    const kiln_step *st = &s->run->p->steps[s->idx];
    kiln_buf warn = KILN_BUF_INIT;
    if (s->metrics_path)
        kiln_metrics_read(&j->metrics, s->metrics_path, &warn);
    if (st->metrics && j->status == KILN_EXEC_SUCCEEDED) {
        char *path = kiln_path_join(s->workdir, st->metrics);
        if (!kiln_metrics_read(&j->metrics, path, &warn))
            kiln_buf_printf(&warn, "kiln: warning: the step declared "
                            "metrics file %s but did not write it\n",
                            st->metrics);
        free(path);
    }
    if (warn.len && s->log_path) {
        FILE *f = fopen(s->log_path, "a");
        if (f) {
            fputs(kiln_buf_cstr(&warn), f);
            fclose(f);
        }
    }
    kiln_buf_dispose(&warn);
}

static void hash_work(uv_work_t *req)
{
    hash_job *j = req->data;
    const kiln_step *st = &j->s->run->p->steps[j->s->idx];
    if (j->status != KILN_EXEC_SUCCEEDED) {
        read_metrics(j);
        return;
    }
    /* Inputs hashed for the cache key before the step are what it read;
     * otherwise hash them now. */
    if (j->s->cache_key[0]) {
        j->in = j->s->inputs;
        memset(&j->s->inputs, 0, sizeof(j->s->inputs));
        j->rc = 0;
    } else {
        j->rc = kiln_artifacts_collect_inputs(&j->in, j->s->workdir, st,
                                              &j->err);
    }
    if (j->rc == 0)
        j->rc = kiln_artifacts_collect(&j->out, j->s->workdir, &st->outputs,
                                       &j->err);
    read_metrics(j);
    /* An input that is not a file was neither read nor hashed: the step
     * ran, but its key does not know what it read there. */
    if (j->rc == 0 && j->in.n_special && j->s->log_path) {
        FILE *f = fopen(j->s->log_path, "a");
        for (size_t i = 0; f && i < j->in.n_special; i++)
            fprintf(f, "kiln: warning: input %s: not hashed\n",
                    j->in.special[i]);
        if (f)
            fclose(f);
    }
    /* Keep the outputs for the next run with the same key, unless its
     * key or an entry could not say what the step read or made. */
    if (j->rc == 0 && j->s->may_cache && j->s->cache_key[0] &&
        j->out.n_missing == 0 && j->out.n_special == 0)
        j->refused = kiln_cache_refusal(&j->in, &j->out);
    if (j->refused && j->s->log_path) {
        FILE *f = fopen(j->s->log_path, "a");
        if (f) {
            fprintf(f, "kiln: warning: %s%s\n", KILN_CACHE_REFUSED,
                    j->refused);
            fclose(f);
        }
    }
    if (j->rc == 0 && j->s->may_cache && j->s->cache_key[0] &&
        j->out.n_missing == 0 && j->out.n_special == 0 && !j->refused) {
        kiln_err cerr = KILN_ERR_INIT;
        j->cached = kiln_cache_save(&j->files, j->s->run->eng->objects,
                                    j->s->workdir, &j->out, &cerr) == 0;
    }
    /* A model version's bytes are kept whatever the cache does: what
     * reads the version reads them, not its path. */
    if (j->rc == 0 && st->reg && st->reg->register_model && !j->cached &&
        !j->s->run->side_effects_off && j->out.n_missing == 0 &&
        j->out.n_special == 0) {
        kiln_artifact_list one = {0};
        for (size_t i = 0; i < j->out.n; i++)
            if (strcmp(kiln_artifact_type_of(st, j->s->workdir,
                                             j->out.items[i].path),
                       "model") == 0) {
                one.n = 1;
                one.items = &j->out.items[i];
            }
        if (one.n)
            j->rc = kiln_cache_save(&j->reg_files, j->s->run->eng->objects,
                                    j->s->workdir, &one, &j->err);
    }
}

/* register: the output named by the step becomes the model's next
 * version. */
static int register_model(step_rt *s, const kiln_artifact_list *out,
                          kiln_err *err)
{
    const kiln_step *st = &s->run->p->steps[s->idx];
    char *want, *path;
    int version, rc = 0;

    if (!st->reg || !st->reg->register_model || s->run->side_effects_off)
        return 0;
    want = kiln_path_join(s->workdir, st->reg->register_path);
    path = kiln_path_absolute(want);
    free(want);
    for (size_t i = 0; i < out->n; i++) {
        if (strcmp(out->items[i].path, path) == 0) {
            kiln_store *store = s->run->eng->store;
            kiln_model_version cur;
            bool again, moved = false;
            rc = kiln_store_model_register(store, &version,
                                           st->reg->register_model, path,
                                           out->items[i].sha256, s->run->id,
                                           s->exec_id, err);
            again = version < 0; /* the newest version's bytes again */
            if (again)
                version = -version;
            /* The model's deploy command, as the definition that
             * registered its newest version says. */
            if (rc == 0)
                rc = kiln_store_model_hook_set(
                    store, st->reg->register_model, st->reg->register_deploy,
                    s->workdir, st->reg->register_deploy_timeout_ms, err);
            if (rc == 0 && st->reg->register_alias && !s->run->keep_aliases) {
                rc = kiln_store_model_find(store, &cur, st->reg->register_model,
                                           st->reg->register_alias, 0, err);
                moved = rc != 0 || cur.version != version;
                if (rc == KILN_ENOTFOUND) {
                    memset(err, 0, sizeof(*err));
                    rc = 0;
                }
                kiln_model_version_dispose(&cur);
                if (rc == 0 && moved) {
                    char actor[40];
                    kiln_audit_who who;
                    snprintf(actor, sizeof(actor), "run %lld",
                             (long long)s->run->id);
                    who.actor = actor;
                    who.via = s->run->via;
                    rc = kiln_store_model_promote(store, st->reg->register_model,
                                                  version,
                                                  st->reg->register_alias, &who,
                                                  err);
                }
            }
            if (rc == 0 && s->log_path) {
                FILE *f = fopen(s->log_path, "a");
                if (f) {
                    fprintf(f, "kiln: %s %s as version %d of model %s%s%s\n",
                            again ? "already registered" : "registered", path,
                            version, st->reg->register_model,
                            moved ? ", now " : "",
                            moved ? st->reg->register_alias : "");
                    fclose(f);
                }
            }
            break;
        }
    }
    free(path);
    return rc;
}

/* Has s a promote: or retire: to carry out now? */
static bool has_registry_actions(const step_rt *s)
{
    const kiln_step *st = &s->run->p->steps[s->idx];
    return st->reg && (st->reg->promote_model || st->reg->retire_model) &&
           !s->run->side_effects_off && !s->run->keep_aliases;
}

/* promote: {model, from, to} and retire: {model, alias}, once the step
 * succeeded (its gate passed and its command exited 0): to moves to the
 * version from points at, through the model's deploy command as kiln
 * models promote does, and from is retired; or alias is retired. Audited
 * as the run. Not under kiln reproduce. A failure fails the step (why),
 * and the registry stays as it was. On the thread pool, over a store
 * connection of its own (store), through the engine's mover: the deploy
 * command takes as long as it takes, and holds neither the loop nor the
 * loop's transaction. */
static void registry_actions(step_rt *s, kiln_store *store, char *why,
                             size_t cap)
{
    const kiln_step *st = &s->run->p->steps[s->idx];
    kiln_err err = KILN_ERR_INIT;
    kiln_model_version v;
    kiln_audit_who who;
    char actor[40];
    FILE *log;
    int now = 0, was = 0, rc = 0;

    snprintf(actor, sizeof(actor), "run %lld", (long long)s->run->id);
    who.actor = actor;
    who.via = s->run->via;
    log = s->log_path ? fopen(s->log_path, "a") : NULL;
    if (st->reg->promote_model) {
        /* An attempt taken over may have moved it already (its deploy
         * command is not run again), and retired from too. */
        rc = kiln_deploy_made(store, s->run->eng->state_dir, s->exec_id,
                              &now, &err);
        if (rc == 0)
            rc = kiln_store_model_find(store, &v, st->reg->promote_model,
                                       st->reg->promote_from, 0, &err);
        else
            rc = rc > 0 ? 0 : -rc;
        if (rc == 0 && now == 0) {
            kiln_move m = {st->reg->promote_model, st->reg->promote_to,
                           v.version, log, who, s->exec_id};
            kiln_model_version_dispose(&v);
            rc = kiln_registry_move(&now, store, s->run->eng->state_dir, &m,
                                    &err);
        }
        if (rc == 0)
            rc = kiln_store_model_retire(store, &was, st->reg->promote_model,
                                         st->reg->promote_from, &who, &err);
        if (rc == 0 && log)
            fprintf(log, "kiln: promoted version %d of model %s from %s to "
                    "%s\n", now, st->reg->promote_model, st->reg->promote_from,
                    st->reg->promote_to);
    }
    if (rc == 0 && st->reg->retire_model) {
        rc = kiln_store_model_retire(store, &was, st->reg->retire_model,
                                     st->reg->retire_alias, &who, &err);
        if (rc == 0 && log)
            fprintf(log, was ? "kiln: retired %s of model %s (version %d)\n"
                             : "kiln: %s of model %s points nowhere: "
                               "nothing to retire\n",
                    st->reg->retire_alias, st->reg->retire_model, was);
    }
    if (log)
        fclose(log);
    if (rc != 0)
        snprintf(why, cap, "%s", err.msg);
}

static void registry_work(kiln_store *st, const kiln_err *open_err,
                          void *data)
{
    hash_job *j = data;
    if (!st)
        snprintf(j->moved_why, sizeof(j->moved_why), "%s", open_err->msg);
    else
        registry_actions(j->s, st, j->moved_why, sizeof(j->moved_why));
}

/* The attempt of j's step has ended as reason says ("": it succeeded;
 * it may be j's). */
static void hash_finish(hash_job *j, const char *reason)
{
    step_rt *s = j->s;
    char why[600];
    bool ok = reason[0] == '\0';
    /* One that succeeded says why its outputs were not kept, if so. */
    if (ok && j->refused)
        snprintf(why, sizeof(why), "%s%s", KILN_CACHE_REFUSED, j->refused);
    else
        snprintf(why, sizeof(why), "%s", reason);
    free(j->refused);
    kiln_cache_files_dispose(&j->files);
    kiln_cache_files_dispose(&j->reg_files);
    kiln_metrics_dispose(&j->metrics);
    kiln_artifact_list_dispose(&j->in);
    kiln_artifact_list_dispose(&j->out);
    free(j);
    if (!ok && s->exit_code == 0)
        s->exit_code = -1; /* the command succeeded; the step did not */
    kiln_engine__attempt_finish(s, ok ? KILN_EXEC_SUCCEEDED
                                      : KILN_EXEC_FAILED, why, ok);
}

static void registry_done(void *data)
{
    hash_job *j = data;
    step_rt *s = j->s;
    s->run->n_hashing--;
    s->phase = PHASE_IDLE;
    kiln_engine__tx_begin(s->run);
    hash_finish(j, j->moved_why);
}

static void hash_done(uv_work_t *req, int status)
{
    hash_job *j = req->data;
    step_rt *s = j->s;
    kiln_run *run = s->run;
    const kiln_step *st = &run->p->steps[s->idx];
    kiln_err err = KILN_ERR_INIT;
    char why[600];
    (void)status;

    why[0] = '\0';
    run->n_hashing--;
    s->phase = PHASE_IDLE;
    kiln_crash_point("hashed");
    kiln_engine__tx_begin(run);
    if (j->status != KILN_EXEC_SUCCEEDED) {
        if (kiln_store_record_metrics(run->eng->store, s->exec_id, run->id,
                                      st->name, j->metrics.n,
                                      (const char *const *)j->metrics.keys,
                                      j->metrics.values, &err) != 0)
            kiln_engine__store_failed(run, &err);
        snprintf(why, sizeof(why), "%s", j->why);
        /* validate-step exits 1 when checks failed: say how many. */
        for (size_t i = 0; st->validation && s->exit_code == 1 &&
                           i < j->metrics.n; i++)
            if (strcmp(j->metrics.keys[i], "validate.violations") == 0)
                snprintf(why, sizeof(why), "%.0f check%s failed (kiln logs "
                         "%lld %s)", j->metrics.values[i],
                         j->metrics.values[i] == 1 ? "" : "s",
                         (long long)run->id, st->name);
        kiln_metrics_dispose(&j->metrics);
        kiln_engine__attempt_finish(s, j->status, why, false);
        free(j);
        return;
    }
    if (j->rc != 0) {
        snprintf(why, sizeof(why), "cannot hash its artifacts: %s",
                 j->err.msg);
    } else if (j->out.n_missing) {
        kiln_buf b = KILN_BUF_INIT;
        for (size_t i = 0; i < j->out.n_missing; i++)
            kiln_buf_printf(&b, "%s%s", i ? ", " : "", j->out.missing[i]);
        snprintf(why, sizeof(why), "declared output%s missing after the "
                 "step exited 0: %s", j->out.n_missing > 1 ? "s" : "",
                 kiln_buf_cstr(&b));
        kiln_buf_dispose(&b);
    } else if (j->out.n_special) {
        /* Its bytes cannot be known, kept, or restored. */
        kiln_buf b = KILN_BUF_INIT;
        for (size_t i = 0; i < j->out.n_special; i++)
            kiln_buf_printf(&b, "%s%s", i ? "; " : "", j->out.special[i]);
        snprintf(why, sizeof(why), "declared output%s %s",
                 j->out.n_special > 1 ? "s:" : "", kiln_buf_cstr(&b));
        kiln_buf_dispose(&b);
    } else {
        size_t n;
        kiln_artifact_rec *recs = kiln_engine__artifact_recs(s, &j->in,
                                                             &j->out, &n);
        kiln_engine__record_trees(run, &j->out, j->cached ? &j->files
                                                          : &j->reg_files,
                                  s->workdir);
        /* Metrics first: a registered model carries the run's metrics. */
        if (kiln_store_record_artifacts(run->eng->store, s->exec_id, recs, n,
                                        &err) != 0 ||
            kiln_store_record_metrics(run->eng->store, s->exec_id, run->id,
                                      st->name, j->metrics.n,
                                      (const char *const *)j->metrics.keys,
                                      j->metrics.values, &err) != 0 ||
            register_model(s, &j->out, &err) != 0)
            kiln_engine__store_failed(run, &err);
        if (j->cached &&
            kiln_store_cache_save(run->eng->store, s->exec_id, s->cache_key,
                                  j->files.n, j->files.rel,
                                  j->files.sha256, &err) != 0)
            kiln_engine__store_failed(run, &err);
        free(recs);
        if (has_registry_actions(s) && !run->store_err.code) {
            /* What it registered committed first: the moves read it
             * over their own connection. */
            run->n_hashing++;
            s->phase = PHASE_HASHING;
            kiln_engine__flush(run->eng);
            kiln_mover_add(run->eng->mover, registry_work, registry_done,
                           j);
            return;
        }
    }
    hash_finish(j, why);
}

/* Finish an attempt off the loop: hash its artifacts and read its
 * metrics, or for one that did not succeed (status and why), only read
 * its metrics. */
void kiln_engine__hash_start(step_rt *s, kiln_exec_state status,
                             const char *why)
{
    hash_job *j = kiln_calloc(1, sizeof(*j));
    j->s = s;
    j->status = status;
    s->phase = PHASE_HASHING;
    if (why)
        snprintf(j->why, sizeof(j->why), "%s", why);
    j->req.data = j;
    s->run->n_hashing++;
    uv_queue_work(s->run->eng->loop, &j->req, hash_work, hash_done);
}
