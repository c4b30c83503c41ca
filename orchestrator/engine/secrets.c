/* secrets.c: resolving a step's secrets (see secrets.h). */
#include "secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

char *kiln_secret_ref(const kiln_secret *s)
{
    return kiln_asprintf("%s:%s", kiln_secret_kind_name(s->kind), s->ref);
}

/* Forget the value held in b. */
static void wipe(kiln_buf *b)
{
    if (b->ptr)
        explicit_bzero(b->ptr, b->len);
    kiln_buf_dispose(b);
}

/* A file's bytes into out. Returns 0 or -1 (errno). */
static int read_value_file(kiln_buf *out, const char *path)
{
    char chunk[8192];
    ssize_t got;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    while ((got = read(fd, chunk, sizeof(chunk))) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 || out->len + (size_t)got > KILN_SECRET_MAX) {
            int e = got < 0 ? errno : EFBIG;
            explicit_bzero(chunk, sizeof(chunk));
            close(fd);
            errno = e;
            return -1;
        }
        kiln_buf_add(out, chunk, (size_t)got);
    }
    explicit_bzero(chunk, sizeof(chunk));
    close(fd);
    return 0;
}

/*
 * Run command through /bin/sh -c in dir with envv, stdin from /dev/null
 * and stderr to log_fd, for at most KILN_SECRET_TIMEOUT_MS; its stdout
 * into out. Returns 0, or KILN_ERROR with why in err (what: the
 * secret's name and reference).
 */
static int run_value_command(kiln_buf *out, const char *command,
                             const char *dir, char *const *envv, int log_fd,
                             int stop_fd, const char *what, kiln_err *err)
{
    char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)command, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int64_t deadline = kiln_now_ms() + KILN_SECRET_TIMEOUT_MS;
    int fds[2], rc, status = 0;
    bool timed_out = false, too_big = false, stopped = false;
    char chunk[8192];
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) != 0)
        return kiln_err_set_os(err, "secret %s: cannot run the command",
                               what);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    if (log_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, log_fd, STDERR_FILENO);
    else
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null",
                                         O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null",
                                     O_RDONLY, 0);
    if (dir)
        posix_spawn_file_actions_addchdir_np(&fa, dir);
    /* A group of its own: what it started ends with it when killed. */
    posix_spawnattr_init(&attr);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, envv);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return kiln_err_set(err, KILN_ERROR, "secret %s: cannot run the "
                            "command: %s", what, strerror(rc));
    }
    for (;;) {
        struct pollfd p[2] = {{fds[0], POLLIN, 0}, {stop_fd, POLLIN, 0}};
        int64_t left = deadline - kiln_now_ms();
        ssize_t got;
        if (left <= 0) {
            timed_out = true;
            kill(-pid, SIGKILL);
            break;
        }
        if (poll(p, stop_fd >= 0 ? 2 : 1, (int)left) < 0 && errno != EINTR)
            break;
        if (stop_fd >= 0 && p[1].revents) {
            stopped = true;
            kill(-pid, SIGKILL);
            break;
        }
        if (!(p[0].revents & (POLLIN | POLLHUP)))
            continue;
        got = read(fds[0], chunk, sizeof(chunk));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        if (out->len + (size_t)got > KILN_SECRET_MAX) {
            too_big = true;
            kill(-pid, SIGKILL);
            break;
        }
        kiln_buf_add(out, chunk, (size_t)got);
    }
    explicit_bzero(chunk, sizeof(chunk));
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (stopped)
        return kiln_err_set(err, KILN_ERROR, "secret %s: the command was "
                            "stopped: the attempt will not start", what);
    if (timed_out)
        return kiln_err_set(err, KILN_ERROR, "secret %s: the command did "
                            "not end within %d s", what,
                            KILN_SECRET_TIMEOUT_MS / 1000);
    if (too_big)
        return kiln_err_set(err, KILN_ERROR, "secret %s: the command "
                            "printed more than %d bytes", what,
                            KILN_SECRET_MAX);
    if (WIFSIGNALED(status))
        return kiln_err_set(err, KILN_ERROR, "secret %s: the command was "
                            "killed by signal %d", what, WTERMSIG(status));
    if (WEXITSTATUS(status) != 0)
        return kiln_err_set(err, KILN_ERROR, "secret %s: the command "
                            "exited with status %d", what,
                            WEXITSTATUS(status));
    return 0;
}

/* The value of s into v. Returns 0 or KILN_ERROR (what: how messages
 * name s). */
static int resolve_one(kiln_buf *v, const kiln_secret *s, const char *dir,
                       char *const *envv, int log_fd, int stop_fd,
                       const char *what, kiln_err *err)
{
    switch (s->kind) {
    case KILN_SECRET_ENV: {
        const char *value = getenv(s->ref);
        if (!value)
            return kiln_err_set(err, KILN_ERROR, "secret %s: $%s is not "
                                "set in kiln's environment", what, s->ref);
        kiln_buf_puts(v, value);
        return 0;
    }
    case KILN_SECRET_FILE: {
        char *path = s->ref[0] == '/' ? kiln_strdup(s->ref)
                                      : kiln_path_join(dir, s->ref);
        int rc = 0;
        if (read_value_file(v, path) != 0)
            rc = errno == EFBIG
                     ? kiln_err_set(err, KILN_ERROR, "secret %s: %s is "
                                    "larger than %d bytes", what, path,
                                    KILN_SECRET_MAX)
                     : kiln_err_set_os(err, "secret %s: cannot read %s",
                                       what, path);
        free(path);
        return rc;
    }
    case KILN_SECRET_COMMAND:
        return run_value_command(v, s->ref, dir, envv, log_fd, stop_fd,
                                 what, err);
    }
    return kiln_err_set(err, KILN_ERROR, "secret %s: unknown kind", what);
}

int kiln_secrets_resolve(char ***out, const kiln_step *st, const char *dir,
                         char *const *envv, int log_fd, int stop_fd,
                         kiln_buf *warn, kiln_err *err)
{
    char **values;
    int rc = 0;

    *out = NULL;
    if (st->n_secrets == 0)
        return 0;
    values = kiln_calloc(st->n_secrets + 1, sizeof(char *));
    for (size_t i = 0; i < st->n_secrets && rc == 0; i++) {
        const kiln_secret *s = &st->secrets[i];
        char *ref = kiln_secret_ref(s);
        char *what = kiln_asprintf("\"%s\" (%s)", s->name, ref);
        kiln_buf v = KILN_BUF_INIT;

        rc = resolve_one(&v, s, dir, envv, log_fd, stop_fd, what, err);
        /* One trailing newline is the file's or the command's, not the
         * value's (echo, an editor). */
        if (rc == 0 && s->kind != KILN_SECRET_ENV && v.len > 0 &&
            v.ptr[v.len - 1] == '\n')
            v.ptr[--v.len] = '\0';
        if (rc == 0 && memchr(kiln_buf_cstr(&v), '\0', v.len))
            rc = kiln_err_set(err, KILN_ERROR, "secret %s: the value holds "
                              "a NUL byte, which no environment variable "
                              "can", what);
        if (rc == 0 && v.len < KILN_SECRET_MIN_MASKED)
            kiln_buf_printf(warn, "kiln: warning: secret %s is shorter "
                            "than %d characters: it is not masked in this "
                            "log\n", what, KILN_SECRET_MIN_MASKED);
        if (rc == 0)
            values[i] = kiln_asprintf("%s=%s", s->name, kiln_buf_cstr(&v));
        wipe(&v);
        free(what);
        free(ref);
    }
    if (rc != 0) {
        kiln_secrets_free(values);
        return rc;
    }
    *out = values;
    return 0;
}

void kiln_secrets_free(char **values)
{
    if (!values)
        return;
    for (size_t i = 0; values[i]; i++) {
        explicit_bzero(values[i], strlen(values[i]));
        free(values[i]);
    }
    free(values);
}
