/* cmd-logs.c: kiln logs RUN STEP [--attempt K] [-f]
 *
 * A step's log, from the record (kiln run's or kiln serve's: the same
 * store). A step served from the cache or reused by a retry ran nothing:
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

#include "cli/cli.h"

typedef struct logs_opts {
    int64_t run;       /* RUN */
    const char *step;  /* STEP */
    long attempt;      /* --attempt K; 0: the last */
    bool follow;       /* -f, --follow */
    const char *state; /* --state DIR */
} logs_opts;

static const kiln_opt options[] = {
    KILN_CLI_ARG_RUN(logs_opts, run),
    KILN_OPT_ARG(logs_opts, step, "STEP", NULL),
    KILN_OPT_INT('a', "attempt", logs_opts, attempt, "K", 1, INT_MAX,
                 "the K-th attempt (1-based; default the last)"),
    KILN_OPT_SWITCH('f', "follow", logs_opts, follow, "print what the step "
                    "writes as it runs, attempt after attempt, until it "
                    "ends"),
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

static int exec_logs(void *opts)
{
    const logs_opts *o = opts;
    kiln_store *store = NULL;
    kiln_run_info *run = NULL;
    const kiln_attempt_info *a;
    kiln_err err = KILN_ERR_INIT;
    char *path = NULL;
    int64_t from = 0;
    int status = KILN_EXIT_OK;

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
        "ends; the run may be kiln run's or a kiln serve's.\n",
    .notes =
        "Exit status: 0; with -f, 0 when the step succeeded and 1 when it\n"
        "failed, was cancelled or skipped; 2 no such run, step or attempt.\n",
    .opts = options,
    .opts_size = sizeof(logs_opts),
    .exec = exec_logs,
};
