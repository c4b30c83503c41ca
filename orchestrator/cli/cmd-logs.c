/* cmd-logs.c: kiln logs RUN STEP [--attempt K] [-f] [--server URL]
 *
 * A step's log, from the record (kiln run's or kiln serve's: the same
 * store), or with --server from a kiln serve's API on another machine
 * (GET /api/v1/runs/{id}/steps/{step}/log, a chunk at a time from an
 * offset; -f looks at the run again between chunks). A step served from the cache or reused by a retry ran nothing:
 * its log is the one of the execution that made its outputs, said on
 * stderr. With -f, new bytes are printed as the step writes them, attempt
 * after attempt, until the step ends. A log retention gzip'd is printed
 * as it was written; one it removed is said to be so. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli/api-client.h"
#include "cli/cli.h"

typedef struct logs_opts {
    int64_t run;            /* RUN */
    const char *step;       /* STEP */
    long attempt;           /* --attempt K; 0: the last */
    bool follow;            /* -f, --follow */
    const char *server;     /* --server URL */
    const char *token_file; /* --token-file FILE */
    const char *state;      /* --state DIR */
} logs_opts;

static const kiln_opt options[] = {
    KILN_CLI_ARG_RUN(logs_opts, run),
    KILN_OPT_ARG(logs_opts, step, "STEP", NULL),
    KILN_OPT_INT('a', "attempt", logs_opts, attempt, "K", 1, INT_MAX,
                 "the K-th attempt (1-based; default the last)"),
    KILN_OPT_SWITCH('f', "follow", logs_opts, follow, "print what the step "
                    "writes as it runs, attempt after attempt, until it "
                    "ends"),
    KILN_OPT_VALUE(0, "server", logs_opts, server, "URL", "a kiln serve's "
                   "HTTP API (http://host:8080/; or $KILN_SERVER) to read "
                   "the log from; without it, the local record"),
    KILN_CLI_OPT_TOKEN_FILE(logs_opts, "the API token (else $KILN_TOKEN)"),
    KILN_CLI_OPT_STATE(logs_opts),
    KILN_OPT_END,
};

/* How long -f waits between looks at the log and the record. */
#define FOLLOW_NAP_MS 200

/* Copy fd from *offset to its end to stdout. */
static int copy(int fd, off_t *offset, const char *path, kiln_err *err)
{
    char chunk[65536];
    ssize_t n;
    while ((n = pread(fd, chunk, sizeof(chunk), *offset)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || fwrite(chunk, 1, (size_t)n, stdout) != (size_t)n)
            return kiln_err_set_os(err, "cannot copy log %s", path);
        *offset += n;
    }
    fflush(stdout);
    return 0;
}

/* Copy the log of an attempt of run to stdout in chunks: as written, or
 * gzip'd by retention; a log retention removed is an error saying so. */
static int cat(kiln_store *store, int64_t run, const char *path,
               kiln_err *err)
{
    char chunk[65536];
    kiln_logs_state logs = KILN_LOGS_KEPT;
    kiln_log *log;
    int64_t offset = 0;
    ssize_t n;
    int rc = kiln_log_open(&log, path, err);
    if (rc == KILN_ENOTFOUND &&
        kiln_store_run_logs_state(store, run, &logs, err) == 0 &&
        logs == KILN_LOGS_REMOVED)
        return kiln_err_set(err, KILN_ENOTFOUND, "the logs of run %lld "
                            "were removed by retention (kiln gc --runs, "
                            "or kiln serve's pass: a retention: logs: "
                            "limit)", (long long)run);
    if (rc == KILN_ENOTFOUND)
        return kiln_err_set(err, KILN_ENOTFOUND, "log %s is missing (not "
                            "removed by retention)", path);
    if (rc != 0)
        return rc;
    while ((n = kiln_log_pread(log, chunk, sizeof(chunk), offset)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || fwrite(chunk, 1, (size_t)n, stdout) != (size_t)n) {
            rc = kiln_err_set_os(err, "cannot copy log %s", path);
            break;
        }
        offset += n;
    }
    fflush(stdout);
    kiln_log_close(log);
    return rc;
}

static void nap(void)
{
    struct timespec ts = {0, FOLLOW_NAP_MS * 1000000L};
    nanosleep(&ts, NULL);
}

/* The attempt of step asked for (0: the last), or NULL with err set. */
static const kiln_attempt_info *pick(const kiln_run_info *run,
                                     const char *step, int attempt,
                                     kiln_err *err)
{
    const kiln_step_info *st = kiln_run_info_step(run, step);
    if (!st) {
        kiln_err_set(err, KILN_ENOTFOUND, "run %lld has no step \"%s\"",
                     (long long)run->id, step);
        return NULL;
    }
    for (size_t i = 0; i < st->n_attempts; i++)
        if (st->attempt[i].attempt == attempt)
            return &st->attempt[i];
    if (attempt == 0 && st->n_attempts)
        return &st->attempt[st->n_attempts - 1];
    if (attempt > 0)
        kiln_err_set(err, KILN_ENOTFOUND, "run %lld has no attempt %d of "
                     "step \"%s\"", (long long)run->id, attempt, step);
    else
        kiln_err_set(err, KILN_ENOTFOUND, "run %lld has no log for step "
                     "\"%s\" (it is %s)", (long long)run->id, step,
                     kiln_step_state_name(st->state));
    return NULL;
}

/*
 * The log of an attempt that ran nothing (cached, or reused by a retry):
 * the one of the execution it took its outputs from, through as many
 * such links as there are. *path is set (free it), or an error.
 */
static int origin_log(kiln_store *store, char **path, int64_t *log_run,
                      const char *step, const kiln_attempt_info *a,
                      kiln_err *err)
{
    int64_t exec = a->cached_from, run_id = a->cached_from_run, made = 0;
    int rc = KILN_ENOTFOUND;

    *path = NULL;
    for (int hops = 0; exec > 0 && hops < 64 && !*path; hops++) {
        kiln_run_info *from = NULL;
        const kiln_step_info *st;
        int64_t next = 0, next_run = 0;
        if ((rc = kiln_store_run_get(&from, store, run_id, err)) ==
            KILN_ENOTFOUND)
            return kiln_err_set(err, KILN_ENOTFOUND, "step \"%s\" ran "
                                "nothing (%s); the run that made its "
                                "outputs was deleted by retention, with "
                                "its log", step,
                                a->reason ? a->reason : "cached");
        if (rc != 0)
            return rc;
        st = kiln_run_info_step(from, step);
        for (size_t i = 0; st && i < st->n_attempts; i++) {
            const kiln_attempt_info *x = &st->attempt[i];
            if (x->id != exec)
                continue;
            if (x->log_path && *x->log_path) {
                *path = kiln_strdup(x->log_path);
                made = run_id;
            }
            next = x->cached_from;
            next_run = x->cached_from_run;
        }
        kiln_run_info_free(from);
        exec = next;
        run_id = next_run;
    }
    *log_run = made;
    if (*path)
        fprintf(stderr, "kiln: step \"%s\" ran nothing here (%s): this is "
                "its log in run %lld, which made its outputs\n", step,
                a->reason ? a->reason : "cached", (long long)made);
    if (!*path)
        return kiln_err_set(err, KILN_ENOTFOUND, "step \"%s\" ran nothing "
                            "(%s), and no log of the execution that made "
                            "its outputs is recorded", step,
                            a->reason ? a->reason : "cached");
    return 0;
}

/* The log of an attempt of run: its own, or where it came from (the run
 * whose log it is in *log_run). */
static int log_of(kiln_store *store, char **path, int64_t *log_run,
                  int64_t run, const char *step, const kiln_attempt_info *a,
                  kiln_err *err)
{
    if (a->log_path && *a->log_path) {
        *path = kiln_strdup(a->log_path);
        *log_run = run;
        return 0;
    }
    return origin_log(store, path, log_run, step, a, err);
}

/* -f: follow the step from attempt (0: the last, or the first to come)
 * to its end. Returns an exit status. */
static int follow(kiln_store *store, const logs_opts *o)
{
    kiln_err err = KILN_ERR_INIT;
    int attempt = (int)o->attempt, fd = -1, status = KILN_EXIT_OK;
    off_t offset = 0;
    char *path = NULL;
    bool followed = false; /* an attempt of it was seen */
    bool printed = false;  /* the attempt's whole log was (gzip'd) */

    for (;;) {
        kiln_run_info *run = NULL;
        const kiln_step_info *st;
        const kiln_attempt_info *a = NULL;
        bool ended, attempt_ended;

        if (kiln_store_run_get(&run, store, o->run, &err) != 0) {
            status = kiln_cli_fail(&err);
            break;
        }
        if (!(st = kiln_run_info_step(run, o->step))) {
            kiln_run_info_free(run);
            kiln_err_set(&err, KILN_ENOTFOUND, "run %lld has no step "
                         "\"%s\"", (long long)o->run, o->step);
            status = kiln_cli_fail(&err);
            break;
        }
        ended = kiln_step_state_final(st->state) ||
                kiln_run_state_final(run->state) ||
                kiln_run_info_orphaned(run);
        if (attempt == 0 && st->n_attempts)
            attempt = st->attempt[0].attempt;
        for (size_t i = 0; i < st->n_attempts; i++)
            if (st->attempt[i].attempt == attempt)
                a = &st->attempt[i];
        if (!a) {
            /* Not started yet (or never will be). */
            if (ended) {
                if (followed)
                    ; /* it ended after an attempt we followed */
                else if (kiln_run_info_orphaned(run))
                    fprintf(stderr, "kiln: run %lld is orphaned (its kiln "
                            "process is gone)\n", (long long)o->run);
                else
                    fprintf(stderr, "kiln: step \"%s\" ended %s without "
                            "running%s%s\n", o->step,
                            kiln_step_state_name(st->state),
                            st->reason ? ": " : "",
                            st->reason ? st->reason : "");
                status = st->state == KILN_STEP_SUCCEEDED
                             ? KILN_EXIT_OK : KILN_EXIT_FAILED;
                kiln_run_info_free(run);
                break;
            }
            kiln_run_info_free(run);
            nap();
            continue;
        }
        followed = true;
        if (a->state == KILN_EXEC_CACHED) {
            /* Ran nothing: print where it came from, once. */
            int64_t from = 0;
            int rc = log_of(store, &path, &from, o->run, o->step, a, &err);
            if (rc == 0)
                rc = cat(store, from, path, &err);
            status = rc != 0 ? kiln_cli_fail(&err) : KILN_EXIT_OK;
            kiln_run_info_free(run);
            break;
        }
        attempt_ended = a->state != KILN_EXEC_RUNNING ||
                        kiln_run_info_orphaned(run);
        if (fd < 0 && !printed && a->log_path && *a->log_path) {
            free(path);
            path = kiln_strdup(a->log_path);
            fd = open(path, O_RDONLY | O_CLOEXEC);
            offset = 0;
            /* Ended, and gzip'd or removed by retention since. */
            if (fd < 0 && attempt_ended) {
                if (cat(store, o->run, path, &err) != 0) {
                    status = kiln_cli_fail(&err);
                    kiln_run_info_free(run);
                    break;
                }
                printed = true;
            }
        }
        if (fd >= 0 && copy(fd, &offset, path, &err) != 0) {
            status = kiln_cli_fail(&err);
            kiln_run_info_free(run);
            break;
        }
        if (attempt_ended &&
            (fd >= 0 || printed || !a->log_path || !*a->log_path)) {
            bool more = false;
            /* The next attempt, if the step goes on. */
            for (size_t i = 0; i < st->n_attempts; i++)
                more |= st->attempt[i].attempt > attempt;
            if (more || st->state == KILN_STEP_RETRYING) {
                if (fd >= 0)
                    close(fd);
                fd = -1;
                printed = false;
                attempt++;
                fprintf(stderr, "kiln: attempt %d of step \"%s\" ended "
                        "(%s); attempt %d follows\n", attempt - 1, o->step,
                        kiln_exec_state_name(a->state), attempt);
                kiln_run_info_free(run);
                nap();
                continue;
            }
            if (!ended) {
                /* The step's record lags its attempt's: look again. */
                kiln_run_info_free(run);
                nap();
                continue;
            }
            if (kiln_run_info_orphaned(run))
                fprintf(stderr, "kiln: run %lld is orphaned (its kiln "
                        "process is gone)\n", (long long)o->run);
            status = st->state == KILN_STEP_SUCCEEDED ? KILN_EXIT_OK
                                                      : KILN_EXIT_FAILED;
            kiln_run_info_free(run);
            break;
        }
        kiln_run_info_free(run);
        nap();
    }
    if (fd >= 0)
        close(fd);
    free(path);
    return status;
}

/* Through a kiln serve's API. */

typedef struct remote {
    const char *server;
    char *token;
    const logs_opts *o;
} remote;

/* An answer that is not 200: said on stderr; the exit status for it
 * (2: no such run, step or attempt, or the log is gone; 3 otherwise). */
static int remote_refused(long code, const kiln_buf *body)
{
    json_t *j = json_loadb(body->ptr ? body->ptr : "", body->len, 0, NULL);
    const char *msg = j ? kiln_cli_str(j, "error") : "";
    fprintf(stderr, "kiln: error: %s\n", *msg ? msg : "the server said no");
    json_decref(j);
    return code == 404 || code == 410 ? KILN_EXIT_USAGE : KILN_EXIT_SYSTEM;
}

/* GET /api/v1/runs/{id}: *run, or an exit status. */
static int remote_run(const remote *r, int64_t id, json_t **run)
{
    kiln_err err = KILN_ERR_INIT;
    char path[64];
    long code;
    *run = NULL;
    snprintf(path, sizeof(path), "/api/v1/runs/%lld", (long long)id);
    if (kiln_api_call(&code, run, "GET", r->server, path, NULL, r->token,
                      &err) != 0) {
        kiln_err_print(&err);
        return KILN_EXIT_SYSTEM;
    }
    if (code != 200 || !json_is_object(*run)) {
        const char *msg = *run ? kiln_cli_str(*run, "error") : "";
        fprintf(stderr, "kiln: error: %s\n", *msg ? msg : "no run");
        json_decref(*run);
        *run = NULL;
        return code == 404 ? KILN_EXIT_USAGE : KILN_EXIT_SYSTEM;
    }
    return 0;
}

static json_t *run_step(json_t *run, const char *step)
{
    json_t *st;
    size_t i;
    json_array_foreach(json_object_get(run, "steps"), i, st)
        if (strcmp(kiln_cli_str(st, "name"), step) == 0)
            return st;
    return NULL;
}

static int attempt_no(json_t *a)
{
    return (int)json_integer_value(json_object_get(a, "attempt"));
}

/* Print the log of attempt of step in run id from *offset to what is
 * written now. Returns 0 or an exit status. */
static int remote_copy(const remote *r, int64_t id, const char *step,
                       int attempt, int64_t *offset)
{
    static const char *const names[] = {"x-kiln-offset", "x-kiln-size"};
    char *esc = curl_easy_escape(NULL, step, 0);
    int status = 0;
    if (!esc) {
        fprintf(stderr, "kiln: cannot initialise libcurl\n");
        return KILN_EXIT_SYSTEM;
    }
    for (;;) {
        kiln_err err = KILN_ERR_INIT;
        kiln_buf body = KILN_BUF_INIT;
        char *values[2], *path;
        int64_t next, size;
        long code;
        path = kiln_asprintf("/api/v1/runs/%lld/steps/%s/log?attempt=%d&"
                             "offset=%lld", (long long)id, esc, attempt,
                             (long long)*offset);
        if (kiln_api_get_bytes(&code, &body, r->server, path, r->token, 2,
                               names, values, &err) != 0) {
            kiln_err_print(&err);
            status = KILN_EXIT_SYSTEM;
        } else if (code != 200) {
            status = remote_refused(code, &body);
        } else if (body.len &&
                   fwrite(body.ptr, 1, body.len, stdout) != body.len) {
            status = KILN_EXIT_SYSTEM;
        }
        next = values[0] ? strtoll(values[0], NULL, 10) : *offset;
        size = values[1] ? strtoll(values[1], NULL, 10) : 0;
        free(values[0]);
        free(values[1]);
        free(path);
        kiln_buf_dispose(&body);
        if (status != 0 || next <= *offset) {
            fflush(stdout);
            break;
        }
        *offset = next;
        if (next >= size) {
            fflush(stdout);
            break;
        }
    }
    curl_free(esc);
    return status;
}

/* Where attempt a of step in run came from when it ran nothing (cached,
 * reused by a retry): through as many such links as there are, *from_run
 * and *from_attempt, said on stderr. Returns 0 or an exit status. */
static int remote_origin(const remote *r, const char *step, json_t *a,
                         int64_t *from_run, int *from_attempt)
{
    int64_t exec = json_integer_value(json_object_get(a, "cached_from"));
    int64_t run_id = json_integer_value(json_object_get(a,
                                                        "cached_from_run"));
    const char *reason = kiln_cli_str(a, "reason");
    for (int hops = 0; exec > 0 && run_id > 0 && hops < 64; hops++) {
        json_t *run, *st, *x, *found = NULL;
        size_t i;
        int status = remote_run(r, run_id, &run);
        if (status != 0) {
            fprintf(stderr, "kiln: step \"%s\" ran nothing (%s); the run "
                    "that made its outputs is gone\n", step,
                    *reason ? reason : "cached");
            return KILN_EXIT_USAGE;
        }
        st = run_step(run, step);
        json_array_foreach(st ? json_object_get(st, "attempts_detail")
                              : NULL, i, x)
            if (json_integer_value(json_object_get(x, "id")) == exec)
                found = x;
        if (found && *kiln_cli_str(found, "log_path")) {
            *from_run = run_id;
            *from_attempt = attempt_no(found);
            json_decref(run);
            fprintf(stderr, "kiln: step \"%s\" ran nothing here (%s): this "
                    "is its log in run %lld, which made its outputs\n", step,
                    *reason ? reason : "cached", (long long)*from_run);
            return 0;
        }
        exec = found ? json_integer_value(json_object_get(found,
                                                          "cached_from"))
                     : 0;
        run_id = found ? json_integer_value(json_object_get(
                             found, "cached_from_run"))
                       : 0;
        json_decref(run);
    }
    fprintf(stderr, "kiln: error: step \"%s\" ran nothing (%s), and no log "
            "of the execution that made its outputs is recorded\n", step,
            *reason ? reason : "cached");
    return KILN_EXIT_USAGE;
}

static bool step_final(json_t *st)
{
    kiln_step_state s;
    return kiln_step_state_parse(&s, kiln_cli_str(st, "status")) == 0 &&
           kiln_step_state_final(s);
}

static bool run_over(json_t *run)
{
    kiln_run_state s;
    return (kiln_run_state_parse(&s, kiln_cli_str(run, "status")) == 0 &&
            kiln_run_state_final(s)) ||
           json_is_true(json_object_get(run, "orphaned"));
}

/* The whole log of an attempt (0: the last). */
static int remote_cat(const remote *r)
{
    const logs_opts *o = r->o;
    json_t *run, *st, *a, *pick = NULL;
    int64_t offset = 0, from_run = o->run;
    int attempt = 0, status;
    size_t i;

    if ((status = remote_run(r, o->run, &run)) != 0)
        return status;
    if (!(st = run_step(run, o->step))) {
        fprintf(stderr, "kiln: error: run %lld has no step \"%s\"\n",
                (long long)o->run, o->step);
        json_decref(run);
        return KILN_EXIT_USAGE;
    }
    json_array_foreach(json_object_get(st, "attempts_detail"), i, a)
        if (o->attempt == 0 || attempt_no(a) == o->attempt)
            pick = a;
    if (!pick) {
        if (o->attempt)
            fprintf(stderr, "kiln: error: run %lld has no attempt %ld of "
                    "step \"%s\"\n", (long long)o->run, o->attempt, o->step);
        else
            fprintf(stderr, "kiln: error: run %lld has no log for step "
                    "\"%s\" (it is %s)\n", (long long)o->run, o->step,
                    kiln_cli_str(st, "status"));
        json_decref(run);
        return KILN_EXIT_USAGE;
    }
    attempt = attempt_no(pick);
    if (strcmp(kiln_cli_str(pick, "status"), "cached") == 0 ||
        !*kiln_cli_str(pick, "log_path"))
        status = remote_origin(r, o->step, pick, &from_run, &attempt);
    json_decref(run);
    return status ? status
                  : remote_copy(r, from_run, o->step, attempt, &offset);
}

/* -f through the API: as follow() does with the record. */
static int remote_follow(const remote *r)
{
    const logs_opts *o = r->o;
    int attempt = (int)o->attempt, status = 0;
    int64_t offset = 0;
    bool followed = false;

    for (;;) {
        json_t *run, *st, *x, *a = NULL;
        bool ended, attempt_ended, more = false;
        size_t i;

        if ((status = remote_run(r, o->run, &run)) != 0)
            return status;
        if (!(st = run_step(run, o->step))) {
            fprintf(stderr, "kiln: error: run %lld has no step \"%s\"\n",
                    (long long)o->run, o->step);
            json_decref(run);
            return KILN_EXIT_USAGE;
        }
        ended = step_final(st) || run_over(run);
        json_array_foreach(json_object_get(st, "attempts_detail"), i, x) {
            if (attempt == 0)
                attempt = attempt_no(x);
            if (attempt_no(x) == attempt)
                a = x;
            more |= attempt_no(x) > attempt;
        }
        if (!a) {
            if (ended) {
                if (!followed)
                    fprintf(stderr, "kiln: step \"%s\" ended %s without "
                            "running\n", o->step, kiln_cli_str(st, "status"));
                status = strcmp(kiln_cli_str(st, "status"), "succeeded") == 0
                             ? KILN_EXIT_OK : KILN_EXIT_FAILED;
                json_decref(run);
                return status;
            }
            json_decref(run);
            nap();
            continue;
        }
        followed = true;
        if (strcmp(kiln_cli_str(a, "status"), "cached") == 0) {
            int64_t from_run = o->run;
            int from_attempt = attempt;
            status = remote_origin(r, o->step, a, &from_run, &from_attempt);
            json_decref(run);
            return status ? status : remote_copy(r, from_run, o->step,
                                                 from_attempt, &offset);
        }
        attempt_ended = strcmp(kiln_cli_str(a, "status"), "running") != 0 ||
                        run_over(run);
        /* A log not written yet is not an error while the attempt runs. */
        if (*kiln_cli_str(a, "log_path")) {
            if ((status = remote_copy(r, o->run, o->step, attempt,
                                      &offset)) != 0 &&
                (attempt_ended || status != KILN_EXIT_USAGE)) {
                json_decref(run);
                return status;
            }
            status = 0;
        }
        if (attempt_ended && (more || strcmp(kiln_cli_str(st, "status"),
                                             "retrying") == 0)) {
            fprintf(stderr, "kiln: attempt %d of step \"%s\" ended (%s); "
                    "attempt %d follows\n", attempt, o->step,
                    kiln_cli_str(a, "status"), attempt + 1);
            attempt++;
            offset = 0;
        } else if (attempt_ended && ended) {
            if (json_is_true(json_object_get(run, "orphaned")))
                fprintf(stderr, "kiln: run %lld is orphaned (its kiln "
                        "process is gone)\n", (long long)o->run);
            status = strcmp(kiln_cli_str(st, "status"), "succeeded") == 0
                         ? KILN_EXIT_OK : KILN_EXIT_FAILED;
            json_decref(run);
            return status;
        }
        json_decref(run);
        nap();
    }
}

static int remote_logs(const logs_opts *o, const char *server)
{
    kiln_err err = KILN_ERR_INIT;
    remote r = {server, NULL, o};
    int status;
    if (kiln_cli_read_token(&r.token, o->token_file, &err) != 0)
        return kiln_cli_fail(&err);
    status = o->follow ? remote_follow(&r) : remote_cat(&r);
    free(r.token);
    return status;
}

static int exec_logs(void *opts)
{
    const logs_opts *o = opts;
    const char *server = o->server ? o->server : getenv("KILN_SERVER");
    kiln_store *store = NULL;
    kiln_run_info *run = NULL;
    const kiln_attempt_info *a;
    kiln_err err = KILN_ERR_INIT;
    char *path = NULL;
    int64_t from = 0;
    int status = KILN_EXIT_OK;

    if (server && *server)
        return remote_logs(o, server);
    if (kiln_cli_open_store(&store, o->state, true, &err) != 0) {
        status = kiln_cli_fail(&err);
    } else if (o->follow) {
        status = follow(store, o);
    } else if (kiln_store_run_get(&run, store, o->run, &err) != 0 ||
               !(a = pick(run, o->step, (int)o->attempt, &err)) ||
               log_of(store, &path, &from, o->run, o->step, a, &err) != 0 ||
               cat(store, from, path, &err) != 0) {
        status = kiln_cli_fail(&err);
    }
    free(path);
    kiln_run_info_free(run);
    kiln_store_close(store);
    return status;
}

const kiln_cmd kiln_cmd_logs = {
    .name = "logs",
    .summary = "Print the output of a step (its last attempt by default).",
    .help =
        "A step served from the cache (or reused by a retry) ran nothing:\n"
        "the log printed is the one of the run that made its outputs, as\n"
        "stderr says. With -f the step is followed like tail -f: what it\n"
        "writes is printed as it comes, through its retries, until it\n"
        "ends; the run may be kiln run's or a kiln serve's. With --server\n"
        "(or $KILN_SERVER) the log comes from that kiln serve's API.\n",
    .notes =
        "Exit status: 0; with -f, 0 when the step succeeded and 1 when it\n"
        "failed, was cancelled or skipped; 2 no such run, step or attempt;\n"
        "3 no answer from --server.\n",
    .opts = options,
    .opts_size = sizeof(logs_opts),
    .exec = exec_logs,
};
