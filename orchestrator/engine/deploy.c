/*
 * deploy.c: an alias moved through its model's deploy command (see
 * deploy.h).
 *
 * The command runs under a kiln-shim of its own (kiln-shim STATUS ...),
 * which outlives a kiln killed meanwhile, kills what the command left
 * behind, and writes how it ended to STATE/deploys/ID.status. Its record
 * (store.h, kiln_deploy) goes through three commits:
 *
 *   1. the row, before anything starts;
 *   2. the shim's pid, while the shim waits at a gate (a pipe): only once
 *      the pid is committed does kiln open it and the shim start the
 *      command. A row without a pid therefore ran nothing. A shim whose
 *      gate closes unopened (kiln died) writes "unstarted" and exits.
 *   3. its end, with the alias's move in the same transaction when the
 *      command exited 0.
 *
 * Whoever settles an open row (the next move of that model, kiln serve as
 * it starts, a run's promote: taken over) waits while its shim runs, then
 * reads the status file: exit 0 moves the alias ("moved"); another exit,
 * a signal or "unstarted" leaves it ("failed"); a shim gone without a
 * status file (killed itself) leaves it too, its end unknown ("lost").
 * Every update is conditional on the row being open, so two kilns never
 * both settle one, and one that settled a row first keeps the other from
 * starting its command.
 *
 * A kiln moving an alias of a model, or settling its rows, holds an
 * flock() on STATE/locks/model-MODEL.lock throughout: a second kiln (or a
 * second move of kiln serve) waits there, so two deploy commands of a
 * model never overlap, and an open row seen under the lock is never one
 * whose kiln is still on its way to starting it. The kernel drops the
 * lock with its kiln (kill -9 too); a shim at its gate, which shares it
 * until it runs the command (close-on-exec), soon reads EOF and exits.
 */
#include "deploy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/command.h"
#include "engine/registry.h"
#include "executors/executor.h"
#include "executors/shim/kiln-shim.h"

extern char **environ;

/* How often a settle looks whether a command it waits for has ended. */
#define DEPLOY_POLL_MS 100
/* How often kiln looks whether its own deploy command has ended. */
#define DEPLOY_WAIT_MS 10
/* How long a deploy command may run without deploy_timeout:. */
#define DEPLOY_TIMEOUT_MS (60 * 60 * 1000)

typedef enum deploy_end { END_OK, END_FAILED, END_LOST } deploy_end;

static char *status_path(const char *state_dir, int64_t id)
{
    return kiln_asprintf("%s/deploys/%lld.status", state_dir, (long long)id);
}

/* How the command ended, from its shim's status file: END_OK (exit 0),
 * END_FAILED (detail says how), END_LOST when the file is missing. */
static deploy_end read_end(const char *status, char *detail, size_t cap)
{
    char line[64] = "";
    FILE *f = fopen(status, "r");
    int v;

    if (!f) {
        snprintf(detail, cap, "its end is unknown: its kiln-shim ended "
                 "without writing %s", status);
        return END_LOST;
    }
    if (!fgets(line, sizeof(line), f))
        line[0] = '\0';
    fclose(f);
    line[strcspn(line, "\n")] = '\0';
    if (sscanf(line, "exit %d", &v) == 1) {
        snprintf(detail, cap, "exit status %d", v);
        return v == 0 ? END_OK : END_FAILED;
    }
    if (sscanf(line, "signal %d", &v) == 1) {
        snprintf(detail, cap, "signal %d", v);
        return END_FAILED;
    }
    if (strcmp(line, "unstarted") == 0) {
        snprintf(detail, cap, "never started: kiln stopped first");
        return END_FAILED;
    }
    snprintf(detail, cap, "its end is unknown: %s says \"%s\"", status, line);
    return END_LOST;
}

static const char *end_outcome(deploy_end end)
{
    return end == END_OK ? "moved" : end == END_FAILED ? "failed" : "lost";
}

/* Settle d as it ended (end, detail); when it exited 0 the alias moves in
 * the same transaction (*out_version: where it points then). *settled is
 * false when someone settled d first. An alias that cannot follow a
 * command that succeeded settles d as failed, saying why. */
static int settle(kiln_store *st, const kiln_deploy *d, deploy_end end,
                  const char *detail, bool *settled, int *out_version,
                  kiln_err *err)
{
    kiln_audit_who who = {d->actor, d->via};
    int rc;

    *settled = false;
    if ((rc = kiln_store_begin(st, err)) != 0)
        return rc;
    rc = kiln_store_deploy_settle(st, settled, d->id, end_outcome(end),
                                  detail, err);
    if (rc == 0 && *settled && end == END_OK) {
        if (d->rollback)
            rc = kiln_store_model_rollback(st, out_version, d->model,
                                           d->alias, &who, err);
        else if ((rc = kiln_store_model_promote(st, d->model, d->version,
                                                d->alias, &who, err)) == 0)
            *out_version = d->version;
        if (rc != 0) {
            char *why = kiln_asprintf("exit status 0, but %s could not "
                                      "move: %s", d->alias, err->msg);
            kiln_err ignored = KILN_ERR_INIT;
            kiln_store_rollback(st);
            *settled = false;
            if (kiln_store_begin(st, &ignored) == 0 &&
                (kiln_store_deploy_settle(st, settled, d->id, "failed", why,
                                          &ignored) != 0 ||
                 kiln_store_commit(st, &ignored) != 0))
                kiln_store_rollback(st);
            free(why);
            return rc;
        }
    }
    if (rc != 0) {
        kiln_store_rollback(st);
        return rc;
    }
    return kiln_store_commit(st, err);
}

/* Stop the deploy command under the kiln-shim pid (started at start):
 * the shim SIGKILLs it and everything below it, then writes "signal 9"
 * (KILN_SHIM_KILL, kiln-shim.h). */
static void kill_shim(pid_t pid, uint64_t start)
{
    union sigval v;
    v.sival_int = KILN_SHIM_MAGIC;
    if (kiln_proc_start(pid) == start)
        sigqueue(pid, KILN_SHIM_KILL, v);
}

/* When d's command is stopped: its deadline, or (a row of schema 22,
 * which had none) the default timeout after it started. */
static int64_t deadline_of(const kiln_deploy *d)
{
    return d->deadline_ms ? d->deadline_ms
                          : d->started_ms + DEPLOY_TIMEOUT_MS;
}

/* "timed out after DURATION", for deploy d. */
static void timed_out(char *detail, size_t cap, const kiln_deploy *d)
{
    char dur[32];
    snprintf(detail, cap, "timed out after %s",
             kiln_fmt_duration(dur, sizeof(dur),
                               deadline_of(d) - d->started_ms));
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Say that a move of model waits for another's, whose process wrote its
 * pid in the lock file, fd. */
static void say_waiting(int fd, const char *model)
{
    char pid[24];
    ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
    pid[n > 0 ? n : 0] = '\0';
    pid[strcspn(pid, "\n")] = '\0';
    fprintf(stderr, "kiln: waiting for another move of model %s to end%s%s"
            "%s\n", model, pid[0] ? " (kiln process " : "", pid,
            pid[0] ? ")" : "");
}

/* Take the deploy lock of model (see above) in *fd, waiting while
 * another kiln holds it. */
static int lock_model(int *fd, const char *state_dir, const char *model,
                      kiln_err *err)
{
    /* Not in deploys/, whose files are status files left to settle. */
    char *dir = kiln_path_join(state_dir, "locks"), *path;
    int rc;

    *fd = -1;
    if ((rc = kiln_mkdir_p(dir, err)) != 0) {
        free(dir);
        return rc;
    }
    /* A model's name is lowercase letters, digits, "-" and "_". */
    path = kiln_asprintf("%s/model-%s.lock", dir, model);
    if ((*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
        rc = kiln_err_set_os(err, "cannot open %s", path);
    else if (flock(*fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK)
        say_waiting(*fd, model);
    else
        goto locked;
    while (*fd >= 0 && flock(*fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            rc = kiln_err_set_os(err, "cannot lock %s", path);
            close(*fd);
            *fd = -1;
        }
    }
locked:
    /* Who holds it, for the next one to wait (the pid of a kiln killed
     * meanwhile stays, but its lock does not). */
    if (*fd >= 0 && ftruncate(*fd, 0) == 0) {
        char pid[24];
        int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
        (void)!pwrite(*fd, pid, (size_t)n, 0); /* only a hint */
    }
    free(path);
    free(dir);
    return rc;
}

static void unlock_model(int fd)
{
    if (fd >= 0)
        close(fd);
}

/* Settle d, which another kiln left open: wait while its shim runs, then
 * read how the command ended. The caller holds d's model's lock. */
static int settle_left(kiln_store *st, const char *state_dir,
                       const kiln_deploy *d, kiln_err *err)
{
    char *status = status_path(state_dir, d->id), detail[600];
    deploy_end end;
    bool settled;
    int now = 0, rc;

    if (d->pid <= 0) {
        /* The gate opens only once the pid is committed. */
        end = END_FAILED;
        snprintf(detail, sizeof(detail), "never started: kiln stopped "
                 "first");
    } else {
        bool killed = false;
        while (kiln_proc_start(d->pid) == d->pid_start) {
            if (!killed && kiln_now_ms() >= deadline_of(d)) {
                kill_shim(d->pid, d->pid_start);
                killed = true;
            }
            sleep_ms(DEPLOY_POLL_MS);
        }
        end = read_end(status, detail, sizeof(detail));
        if (killed && end != END_OK)
            timed_out(detail, sizeof(detail), d);
    }
    rc = settle(st, d, end, detail, &settled, &now, err);
    if (settled) {
        /* Recorded, also when the alias could not follow. */
        unlink(status);
        rc = 0;
    }
    free(status);
    return rc;
}

/* Remove the status files of deploys already settled: a kiln killed
 * between a settle and its unlink() left them. (A deploy not settled
 * keeps its own: whoever settles it reads it.) */
static void remove_settled(kiln_store *st, const char *state_dir)
{
    char *dir = kiln_path_join(state_dir, "deploys");
    DIR *dp = opendir(dir);
    struct dirent *de;
    while (dp && (de = readdir(dp)) != NULL) {
        kiln_err ignored = KILN_ERR_INIT;
        kiln_deploy d;
        char *end;
        long long id = strtoll(de->d_name, &end, 10);
        if (id <= 0 || strcmp(end, ".status") != 0 ||
            kiln_store_deploy_get(st, &d, id, &ignored) != 0)
            continue;
        if (d.id && d.outcome) {
            char *path = kiln_path_join(dir, de->d_name);
            unlink(path);
            free(path);
        }
        kiln_deploy_dispose(&d);
    }
    if (dp)
        closedir(dp);
    free(dir);
}

/* kiln_deploy_settle(); locked: the caller holds model's lock. */
static int settle_open(kiln_store *st, const char *state_dir,
                       const char *model, bool locked, kiln_deploy **settled,
                       size_t *n_settled, kiln_err *err)
{
    kiln_deploy *d;
    size_t n;
    int rc = kiln_store_deploys_open(&d, &n, st, model, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int64_t id = d[i].id;
        int fd = -1;
        if (!locked &&
            (rc = lock_model(&fd, state_dir, d[i].model, err)) == 0) {
            /* Read again: its kiln, alive, may have gone on meanwhile. */
            kiln_deploy_dispose(&d[i]);
            rc = kiln_store_deploy_get(st, &d[i], id, err);
        }
        if (rc == 0 && d[i].id && !d[i].outcome)
            rc = settle_left(st, state_dir, &d[i], err);
        unlock_model(fd);
        if (rc == 0 && settled) {
            /* As recorded: by this kiln, or another first. */
            kiln_deploy_dispose(&d[i]);
            rc = kiln_store_deploy_get(st, &d[i], id, err);
        }
    }
    if (rc == 0)
        remove_settled(st, state_dir);
    if (rc != 0 || !settled) {
        kiln_deploys_free(d, n);
        d = NULL;
        n = 0;
    }
    if (settled) {
        *settled = d;
        *n_settled = n;
    }
    return rc;
}

int kiln_deploy_settle(kiln_store *st, const char *state_dir,
                       const char *model, kiln_deploy **settled,
                       size_t *n_settled, kiln_err *err)
{
    return settle_open(st, state_dir, model, false, settled, n_settled,
                       err);
}

/* Write text to path, in a child after fork(): async-signal-safe. */
static void child_status(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        if (write(fd, text, strlen(text)) < 0) {
            /* nothing more to do: the settle finds it short */
        }
        close(fd);
    }
}

/* Fork the shim behind a gate: it waits for a byte on *gate (kiln's end,
 * close-on-exec), then runs argv (env, in workdir, its output to out).
 * Returns its pid, or -1 with errno. */
static pid_t fork_gated(int *gate, char **argv, char **env,
                        const char *workdir, int out, const char *status)
{
    int p[2];
    pid_t pid;
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    if ((pid = fork()) < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        struct sigaction dfl;
        sigset_t none;
        char go;
        ssize_t r;
        int null;
        close(p[1]);
        while ((r = read(p[0], &go, 1)) < 0 && errno == EINTR)
            ;
        if (r != 1) {
            child_status(status, "unstarted\n");
            _exit(127);
        }
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGPIPE, &dfl, NULL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if ((null = open("/dev/null", O_RDONLY)) >= 0 && null != 0) {
            dup2(null, STDIN_FILENO);
            close(null);
        }
        if (out != STDOUT_FILENO)
            dup2(out, STDOUT_FILENO);
        if (out != STDERR_FILENO)
            dup2(out, STDERR_FILENO);
        if (chdir(workdir) != 0) {
            child_status(status, "exit 126\n");
            _exit(126);
        }
        execve(argv[0], argv, env);
        if (errno == ENOENT)
            execvpe(argv[0], argv, env); /* "kiln-shim", from PATH */
        child_status(status, "exit 127\n");
        _exit(127);
    }
    close(p[0]);
    *gate = p[1];
    return pid;
}

/* Run m's model's deploy command (command, in workdir, killed after
 * timeout_ms) for pin, its copy at path, recorded as deploy d; then move
 * the alias when it exited 0. */
static int run_deploy(kiln_store *st, const char *state_dir,
                      const kiln_move *m, kiln_deploy *d, const char *command,
                      const char *workdir, int64_t timeout_ms,
                      const kiln_registry_pin *pin, const char *path,
                      int *out_version, kiln_err *err)
{
    char version[16], **env, **words = kiln_command_argv(command);
    char *dir = kiln_path_join(state_dir, "deploys"), *status = NULL;
    char *shim = kiln_executor_shim_path(), detail[600];
    /* Plain words (./ship.sh) get path, version and alias as their
     * arguments; shell text, as $1 $2 $3. */
    bool plain = strcmp(words[0], "/bin/sh") != 0, open, settled;
    bool killed = false;
    char *text = plain ? kiln_asprintf("%s \"$@\"", command)
                       : kiln_strdup(command);
    int out = m->log ? fileno(m->log) : STDERR_FILENO, gate = -1, rc = 0;
    int wstatus = 0;
    size_t n = 0;
    deploy_end end;
    pid_t pid = -1;

    free(words);
    snprintf(version, sizeof(version), "%d", pin->version);
    while (environ[n])
        n++;
    env = kiln_calloc(n + 6, sizeof(char *));
    memcpy(env, environ, n * sizeof(char *));
    env[n] = kiln_asprintf("KILN_MODEL_PATH=%s", path);
    env[n + 1] = kiln_asprintf("KILN_MODEL_NAME=%s", pin->name);
    env[n + 2] = kiln_asprintf("KILN_MODEL_VERSION=%s", version);
    env[n + 3] = kiln_asprintf("KILN_MODEL_ALIAS=%s", m->alias);
    env[n + 4] = kiln_asprintf("KILN_MODEL_SHA256=%s", pin->sha256);
    if (m->log)
        fflush(m->log);

    d->started_ms = kiln_now_ms();
    d->deadline_ms = d->started_ms + timeout_ms;
    if ((rc = kiln_mkdir_p(dir, err)) != 0 ||
        (rc = kiln_store_deploy_add(st, &d->id, d, err)) != 0)
        goto out;
    kiln_crash_point("deploy-recorded");
    status = status_path(state_dir, d->id);
    unlink(status);
    {
        char *argv[] = {shim, status, (char *)"/bin/sh", (char *)"-c", text,
                        (char *)"kiln-deploy", (char *)path, version,
                        (char *)m->alias, NULL};
        pid = fork_gated(&gate, argv, env, workdir, out, status);
    }
    if (pid < 0) {
        snprintf(detail, sizeof(detail), "cannot start: %s",
                 strerror(errno));
        rc = kiln_err_set(err, KILN_ERROR, "cannot run the deploy command "
                          "of model %s: %s", pin->name, strerror(errno));
        end = END_FAILED;
        goto settle;
    }
    kiln_crash_point("deploy-forked");
    /* The pid committed before the gate opens, or nothing runs. */
    d->pid = pid;
    d->pid_start = kiln_proc_start(pid);
    if ((rc = kiln_store_deploy_started(st, &open, d->id, pid,
                                        d->pid_start, err)) != 0 ||
        !open) {
        close(gate);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        if (rc == 0)
            unlink(status); /* "unstarted": it is settled already */
        if (rc == 0)
            rc = kiln_err_set(err, KILN_ERROR, "the deploy of model %s was "
                              "settled by another kiln before it started",
                              pin->name);
        goto out;
    }
    kiln_crash_point("deploy-gated");
    if (write(gate, "", 1) != 1) {
        /* The shim reads EOF: "unstarted", settled below. */
    }
    close(gate);
    for (;;) {
        pid_t w = waitpid(pid, &wstatus, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR))
            break;
        if (!killed && kiln_now_ms() >= d->deadline_ms) {
            kill_shim(pid, d->pid_start);
            killed = true;
        }
        sleep_ms(DEPLOY_WAIT_MS);
    }
    kiln_crash_point("deploy-ended");
    end = read_end(status, detail, sizeof(detail));
    if (killed && end != END_OK)
        timed_out(detail, sizeof(detail), d);
settle:
    {
        kiln_err serr = KILN_ERR_INIT;
        int src = settle(st, d, end, detail, &settled, out_version, &serr);
        if (src != 0 && rc == 0)
            rc = (*err = serr, src);
        else if (rc == 0 && !settled) {
            /* Someone settled it first, from the same status file. */
            kiln_model_version v;
            if ((rc = kiln_store_model_find(st, &v, m->name, m->alias, 0,
                                            err)) == 0) {
                *out_version = v.version;
                kiln_model_version_dispose(&v);
            }
        }
        if (rc == 0 && end != END_OK)
            rc = kiln_err_set(err, KILN_ERROR, "the deploy command of model "
                              "%s failed (%s); %s still points where it "
                              "did", pin->name, detail, m->alias);
        if (src == 0)
            unlink(status);
    }
out:
    for (size_t i = n; i < n + 5; i++)
        free(env[i]);
    free(env);
    free(text);
    free(shim);
    free(dir);
    free(status);
    return rc;
}

/* kiln_deploy_made(); locked: the caller holds the model's lock. */
static int deploy_made(kiln_store *st, const char *state_dir,
                       int64_t execution_id, bool locked, int *out_version,
                       kiln_err *err)
{
    kiln_deploy d;
    int fd = -1, rc;
    if (execution_id <= 0)
        return 0;
    if ((rc = kiln_store_deploy_of_execution(st, &d, execution_id,
                                             err)) != 0)
        return -rc;
    if (d.id && !d.outcome && !locked) {
        /* Read again under the lock: its kiln may be alive. */
        if ((rc = lock_model(&fd, state_dir, d.model, err)) == 0) {
            kiln_deploy_dispose(&d);
            rc = kiln_store_deploy_of_execution(st, &d, execution_id, err);
        }
        if (rc != 0) {
            unlock_model(fd);
            kiln_deploy_dispose(&d);
            return -rc;
        }
    }
    if (d.id && !d.outcome) {
        /* A kiln killed while it ran: settled first (waiting for it). */
        rc = settle_left(st, state_dir, &d, err);
        kiln_deploy_dispose(&d);
        if (rc == 0)
            rc = kiln_store_deploy_of_execution(st, &d, execution_id, err);
    }
    unlock_model(fd);
    if (rc != 0)
        return -rc;
    if (d.id == 0)
        return 0;
    if (d.outcome && strcmp(d.outcome, "moved") == 0) {
        *out_version = d.version;
        rc = 1;
    } else {
        rc = -kiln_err_set(err, KILN_ERROR, "the deploy command of model %s "
                           "failed (%s); %s still points where it did",
                           d.model, d.detail ? d.detail : "its end is "
                           "unknown", d.alias);
    }
    kiln_deploy_dispose(&d);
    return rc;
}

int kiln_deploy_made(kiln_store *st, const char *state_dir,
                     int64_t execution_id, int *out_version, kiln_err *err)
{
    return deploy_made(st, state_dir, execution_id, false, out_version, err);
}

/* kiln_registry_move(), its caller holding the model's lock. */
static int move_locked(int *out_version, kiln_store *st,
                       const char *state_dir, const kiln_move *m,
                       kiln_err *err)
{
    kiln_registry_pin pin;
    char *command = NULL, *workdir = NULL, *path = NULL;
    int64_t timeout_ms = 0;
    int target = m->version, rc;

    /* Whatever a killed kiln left of this model's moves comes first:
     * two deploy commands of a model never overlap. */
    if ((rc = settle_open(st, state_dir, m->name, true, NULL, NULL,
                          err)) != 0)
        return rc;
    if ((rc = deploy_made(st, state_dir, m->execution_id, true, out_version,
                          err)) != 0)
        return rc > 0 ? 0 : -rc;
    if (m->version == 0 &&
        (rc = kiln_store_model_rollback_target(st, &target, m->name,
                                               m->alias, err)) != 0)
        return rc;
    if ((rc = kiln_store_model_hook_get(st, &command, &workdir, &timeout_ms,
                                        m->name, err)) != 0)
        return rc;
    if (command) {
        kiln_deploy d;
        memset(&d, 0, sizeof(d));
        d.model = (char *)m->name;
        d.alias = (char *)m->alias;
        d.version = target;
        d.rollback = m->version == 0;
        d.actor = (char *)m->who.actor;
        d.via = (char *)m->who.via;
        d.execution_id = m->execution_id;
        rc = kiln_registry_resolve(&pin, st, m->name, NULL, target, err);
        if (rc == 0) {
            rc = kiln_registry_materialise(&path, state_dir, &pin, err);
            if (rc == 0)
                rc = run_deploy(st, state_dir, m, &d, command, workdir,
                                timeout_ms > 0 ? timeout_ms
                                               : DEPLOY_TIMEOUT_MS,
                                &pin, path, out_version, err);
            kiln_registry_pin_dispose(&pin);
        }
        free(path);
        free(command);
        free(workdir);
        return rc;
    }
    if (m->version == 0)
        return kiln_store_model_rollback(st, out_version, m->name, m->alias,
                                         &m->who, err);
    if ((rc = kiln_store_model_promote(st, m->name, m->version, m->alias,
                                       &m->who, err)) == 0)
        *out_version = m->version;
    return rc;
}

int kiln_registry_move(int *out_version, kiln_store *st,
                       const char *state_dir, const kiln_move *m,
                       kiln_err *err)
{
    int fd, rc;
    /* Another kiln's move of this model, running, ends first. */
    if ((rc = lock_model(&fd, state_dir, m->name, err)) != 0)
        return rc;
    rc = move_locked(out_version, st, state_dir, m, err);
    unlock_model(fd);
    return rc;
}
