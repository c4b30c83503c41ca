/*
 * commands.c: what the daemon is asked to do, typed: a run now, a retry,
 * a cancel. The inbox (requests.c) and the web API (web.c) turn their
 * JSON into these requests at their own edge; errors are kiln_err codes.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/clock.h"
#include "git/git.h"

#define say kiln_daemon__say

/* Check out rev of the repository holding file (a pipeline file) under
 * STATE/checkouts and point src at the file there. Blocks on the
 * repository: off the loop (manual_run_async) but for kiln trigger. */
static int pin_commit(const char *file, const char *state_dir,
                      kiln_source *src, const char *rev, kiln_err *err)
{
    kiln_git_info git;
    char commit[41], *dir;
    int rc;

    memset(&git, 0, sizeof(git));
    if ((rc = kiln_git_inspect(&git, file, err)) != 0)
        return rc;
    if (!git.in_repo) {
        kiln_git_info_dispose(&git);
        return kiln_err_set(err, KILN_EINVAL, "commit: %s is not in a Git "
                            "repository", file);
    }
    if ((rc = kiln_git_resolve(commit, file, rev, err)) != 0) {
        kiln_git_info_dispose(&git);
        if (rc == KILN_ENOTFOUND) /* a commit that is not there is the
                                     request's error */
            rc = err->code = KILN_EINVAL;
        return rc;
    }
    dir = kiln_asprintf("%s/checkouts/%s", state_dir, commit);
    if ((rc = kiln_git_checkout(file, commit, dir, err)) == 0) {
        src->commit = kiln_strdup(commit);
        src->file = kiln_path_join(dir, file + strlen(git.workdir) + 1);
        if (access(src->file, F_OK) != 0)
            rc = kiln_err_set(err, KILN_EINVAL, "%s does not exist at "
                              "commit %.12s", file + strlen(git.workdir) + 1,
                              commit);
    }
    free(dir);
    kiln_git_info_dispose(&git);
    return rc;
}

/* The detail recorded with a request's trigger check: {"params": ...,
 * "commit": ..., "user": ...}, each present when given. */
static char *request_detail(const kiln_run_request *req, const char *commit)
{
    kiln_buf b = KILN_BUF_INIT;
    const char *sep = "";
    kiln_buf_puts(&b, "{");
    if (req->params_json) {
        kiln_buf_printf(&b, "\"params\":%s", req->params_json);
        sep = ",";
    }
    if (commit) {
        kiln_buf_printf(&b, "%s\"commit\":", sep);
        kiln_buf_json_string(&b, commit);
        sep = ",";
    }
    if (req->who_json)
        kiln_buf_printf(&b, "%s\"user\":%s", sep, req->who_json);
    kiln_buf_puts(&b, "}");
    return kiln_buf_detach(&b);
}

/* What a request needs before its repository is looked at: its
 * pipeline loaded and its params known. */
static int request_check(kiln_entry **e, kiln_daemon *dm,
                         const kiln_run_request *req, kiln_err *err)
{
    if (dm->stopping)
        return kiln_err_set(err, KILN_EBUSY, "kiln serve is stopping");
    if (!(*e = kiln_daemon__entry_find(dm, req->pipeline)))
        return kiln_err_set(err, KILN_ENOTFOUND, "no pipeline \"%s\" is "
                            "loaded in this kiln serve", req->pipeline);
    return kiln_run_check_params((*e)->d->p, req->n_params, req->params,
                                 err);
}

/* src for req: a manual fire with its params (its commit is pin_commit's). */
static void request_source(kiln_source *src, const kiln_run_request *req)
{
    memset(src, 0, sizeof(*src));
    src->trigger = "manual";
    src->due_ms = kiln_clock_now_ms();
    src->params = kiln_calloc(req->n_params + 1, sizeof(kiln_kv));
    for (size_t i = 0; i < req->n_params; i++) {
        src->params[i].key = kiln_strdup(req->params[i].key);
        src->params[i].value = kiln_strdup(req->params[i].value);
    }
    src->n_params = req->n_params;
}

/* Record req's trigger check and fire e from src (disposed). */
static void request_fire(kiln_daemon *dm, kiln_entry *e,
                         const kiln_run_request *req, kiln_source *src,
                         kiln_fire_result *out)
{
    kiln_err serr = KILN_ERR_INIT;
    char *detail, *info;
    kiln_outcome res;
    int64_t id = 0;

    detail = request_detail(req, src->commit);
    if (kiln_store_check_record(dm->store, &id, e->name, "manual",
                                req->commit ? req->commit : "",
                                KILN_CHECK_HELD, "requested", detail, 0,
                                &serr) != 0)
        kiln_daemon__store_warn(&serr);
    info = kiln_asprintf("{\"trigger\":\"manual\",\"check\":%lld,"
                         "\"detail\":%s}", (long long)id, detail);
    src->info = info;
    src->check_id = id;
    {
        kiln_audit_who who = req->by.actor ? req->by
                                           : kiln_daemon__who(req->via);
        snprintf(src->actor, sizeof(src->actor), "%s", who.actor);
        src->via = who.via;
    }
    say("%s: run requested (%s)", e->name,
        req->via ? req->via : "kiln trigger");
    kiln_daemon__fire(e, src, &res);
    out->status = res.status;
    out->run_id = res.run_id;
    snprintf(out->reason, sizeof(out->reason), "%s", res.reason);
    free(detail);
    kiln_daemon__source_dispose(src); /* info is src's now */
}

/* A request waiting for its repository on the thread pool: its own
 * copy of the request, and what the worker found. */
typedef struct start_job {
    uv_work_t work;
    kiln_daemon *dm;
    kiln_run_request req;    /* its params are src's */
    kiln_source src;         /* pinned: commit and file of the checkout */
    kiln_git_read read;      /* the pipeline file as loaded when asked;
                                unpinned: its repository now */
    int rc;
    kiln_err err;
    kiln_daemon_fire_cb done;
    void *ctx;
} start_job;

static void start_work(uv_work_t *w)
{
    start_job *j = w->data;
    if (j->req.commit)
        j->rc = pin_commit(j->read.file, j->dm->o->state_dir, &j->src,
                           j->req.commit, &j->err);
    else
        kiln_daemon__git_read_work(&j->read);
}

static void start_done(uv_work_t *w, int status)
{
    start_job *j = w->data;
    kiln_fire_result out;
    kiln_entry *e = NULL;

    (void)status; /* never cancelled */
    memset(&out, 0, sizeof(out));
    /* Anything may have changed meanwhile: a reload, a stop. */
    if (j->rc == 0)
        j->rc = request_check(&e, j->dm, &j->req, &j->err);
    if (j->rc == 0 && j->req.commit &&
        strcmp(e->d->file, j->read.file) != 0)
        j->rc = kiln_err_set(&j->err, KILN_EBUSY, "%s was reloaded from "
                             "another file meanwhile: ask again",
                             j->req.pipeline);
    if (j->rc == 0) {
        j->src.git = kiln_daemon__git_read_for(&j->read, e);
        request_fire(j->dm, e, &j->req, &j->src, &out);
    } else {
        kiln_daemon__source_dispose(&j->src);
    }
    j->done(j->ctx, j->rc, &out, &j->err);
    kiln_daemon__git_read_dispose(&j->read);
    free((char *)j->req.pipeline);
    free((char *)j->req.commit);
    free((char *)j->req.via);
    free((char *)j->req.params_json);
    free((char *)j->req.who_json);
    free((char *)j->req.by.actor);
    free(j);
}

static char *dup_or_null(const char *s)
{
    return s ? kiln_strdup(s) : NULL;
}

void kiln_daemon__manual_run_async(kiln_daemon *dm,
                                   const kiln_run_request *req,
                                   kiln_daemon_fire_cb done, void *ctx)
{
    kiln_fire_result out;
    kiln_err err = KILN_ERR_INIT;
    kiln_entry *e;
    start_job *j;
    int rc;

    memset(&out, 0, sizeof(out));
    if ((rc = request_check(&e, dm, req, &err)) != 0) {
        done(ctx, rc, &out, &err);
        return;
    }
    j = kiln_calloc(1, sizeof(*j));
    j->work.data = j;
    j->dm = dm;
    j->done = done;
    j->ctx = ctx;
    j->read.file = kiln_strdup(e->d->file);
    j->req.pipeline = kiln_strdup(req->pipeline);
    j->req.commit = dup_or_null(req->commit);
    j->req.via = dup_or_null(req->via);
    j->req.params_json = dup_or_null(req->params_json);
    j->req.who_json = dup_or_null(req->who_json);
    j->req.by.actor = dup_or_null(req->by.actor);
    j->req.by.via = req->by.via; /* static: a run keeps it */
    request_source(&j->src, req);
    j->req.params = j->src.params;
    j->req.n_params = j->src.n_params;
    if (uv_queue_work(&dm->loop, &j->work, start_work, start_done) != 0) {
        start_work(&j->work);
        start_done(&j->work, 0);
    }
}

int kiln_daemon__retry_run(kiln_daemon *dm, int64_t run_id,
                           const char *from, const kiln_audit_who *who,
                           kiln_fire_result *out, kiln_err *err)
{
    char why[300], hash_now[KILN_HASH_HEX];
    kiln_err herr = KILN_ERR_INIT;
    kiln_run_info *run = NULL;
    kiln_kv *reuse = NULL;
    kiln_def *def = NULL;
    kiln_source src;
    kiln_entry *e;
    int64_t id;
    int rc;

    memset(out, 0, sizeof(out[0]));
    memset(&src, 0, sizeof(src));
    if ((rc = kiln_store_run_get(&run, dm->store, run_id, err)) != 0)
        return rc;
    if (kiln_daemon__is_active(dm, run_id) ||
        (run->state == KILN_RUN_SUCCEEDED && !from)) {
        rc = kiln_err_set(err, KILN_EBUSY, "run %lld %s: only a failed or "
                          "cancelled run can be retried (any ended run "
                          "with from)", (long long)run_id,
                          kiln_daemon__is_active(dm, run_id)
                              ? "is still running" : "succeeded");
        goto done;
    }
    if (dm->stopping) {
        rc = kiln_err_set(err, KILN_EBUSY, "kiln serve is stopping");
        goto done;
    }
    if (!(e = kiln_daemon__entry_find(dm, run->pipeline))) {
        rc = kiln_err_set(err, KILN_ENOTFOUND, "no pipeline \"%s\" is "
                          "loaded in this kiln serve", run->pipeline);
        goto done;
    }
    /* The same definition, or no retry: steps reused from a run of
     * another definition could be anything. */
    if (!run->file || !run->hash ||
        kiln_hash_file(hash_now, run->file, &herr) != 0 ||
        strcmp(hash_now, run->hash) != 0) {
        rc = kiln_err_set(err, KILN_EBUSY, "the pipeline file of run %lld "
                          "changed or is gone since it ran: start a new run "
                          "instead", (long long)run_id);
        goto done;
    }
    /* Its steps that succeeded (but from and what follows), and the
     * executions that made them; what follows from as the run's file
     * has it (a run pinned to a commit ran its checkout's). */
    if (from && strcmp(e->d->file, run->file) != 0 &&
        !(def = kiln_daemon__def_load(run->file, NULL))) {
        rc = kiln_err_set(err, KILN_EBUSY, "%s no longer loads: start a "
                          "new run instead", run->file);
        goto done;
    }
    if ((rc = kiln_run_retry_reuse(&reuse, &src.n_reuse,
                                   def ? def->p : e->d->p, run, from,
                                   err)) != 0)
        goto done;
    src.trigger = "retry";
    /* The API is the only way to retry. */
    snprintf(src.actor, sizeof(src.actor), "%s", who->actor);
    src.via = who->via;
    src.due_ms = kiln_clock_now_ms();
    src.info = kiln_asprintf("{\"retry_of\":%lld}", (long long)run_id);
    src.file = kiln_strdup(run->file);
    /* The file's work tree as it is now runs, and its commit is the one
     * recorded, not the run's; a run pinned to a commit ran a checkout,
     * which does not move. */
    src.commit = run->git_commit &&
                         kiln_git_in_checkout(run->file, run->git_commit)
                     ? kiln_strdup(run->git_commit) : NULL;
    src.params = kiln_calloc(run->n_params + 1, sizeof(kiln_kv));
    for (size_t i = 0; i < run->n_params; i++) {
        src.params[i].key = kiln_strdup(run->params[i].key);
        src.params[i].value = kiln_strdup(run->params[i].value);
    }
    src.n_params = run->n_params;
    src.reuse = reuse;
    src.reuse_run = run_id;
    if ((id = kiln_daemon__start_run(e, &src, why, sizeof(why))) != 0) {
        say("%s: run %lld retries run %lld", e->name, (long long)id,
            (long long)run_id);
        out->status = KILN_FIRE_STARTED;
        out->run_id = id;
    } else {
        rc = kiln_err_set(err, KILN_ERROR, "%s", why);
    }
done:
    kiln_run_reuse_free(reuse, src.n_reuse);
    kiln_daemon__def_unref(def);
    src.reuse = NULL;
    src.n_reuse = 0;
    kiln_daemon__source_dispose(&src);
    kiln_run_info_free(run);
    return rc;
}

/* A run that is not in flight: why nothing can be done to it. */
static int not_active(kiln_daemon *dm, int64_t id, kiln_err *err)
{
    kiln_run_info *run = NULL;
    int rc = kiln_store_run_get(&run, dm->store, id, err);
    if (rc == 0)
        rc = kiln_err_set(err, KILN_EBUSY, "run %lld is not running (%s)",
                          (long long)id, kiln_run_state_name(run->state));
    kiln_run_info_free(run);
    return rc;
}

kiln_audit_who kiln_daemon__who(const char *via)
{
    kiln_audit_who who = {"kiln", "daemon"};
    if (via && strncmp(via, "kiln ", 5) == 0) {
        who.actor = "unknown";
        who.via = "cli";
    }
    return who;
}

int kiln_daemon__cancel_run(kiln_daemon *dm, int64_t id, const char *via,
                            kiln_err *err)
{
    kiln_audit_who who = kiln_daemon__who(via);
    return kiln_daemon__cancel_run_as(dm, id, via, &who, err);
}

int kiln_daemon__cancel_run_as(kiln_daemon *dm, int64_t id, const char *via,
                               const kiln_audit_who *who, kiln_err *err)
{
    kiln_active_run *a = kiln_daemon__find_active(dm, id);
    kiln_err aerr = KILN_ERR_INIT;
    char target[48], *after;
    if (!a)
        return not_active(dm, id, err);
    say("%s: cancelling run %lld (%s)", kiln_run_pipeline(a->run)->name,
        (long long)id, via);
    snprintf(target, sizeof(target), "run %lld", (long long)id);
    after = kiln_asprintf("{\"pipeline\":\"%s\"}",
                          kiln_run_pipeline(a->run)->name);
    if (kiln_store_audit(dm->store, who->actor, who->via, "run.cancelled",
                         target, NULL, after, &aerr) != 0)
        kiln_daemon__store_warn(&aerr);
    free(after);
    kiln_run_cancel(a->run, false);
    return 0;
}

bool kiln_daemon__is_active(kiln_daemon *dm, int64_t id)
{
    return kiln_daemon__find_active(dm, id) != NULL;
}
