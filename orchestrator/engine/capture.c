/* capture.c: environment captures (see capture.h). */
#include "capture.h"

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

#define CAPTURE_TIMEOUT_MS (60 * 1000)

int kiln_capture_file(kiln_buf *out, const char *path)
{
    FILE *f = fopen(path, "r");
    char chunk[8192];
    size_t got, total = 0;
    if (!f)
        return KILN_ERROR;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0 &&
           total < KILN_CAPTURE_MAX) {
        kiln_buf_add(out, chunk, got);
        total += got;
    }
    if (total >= KILN_CAPTURE_MAX)
        kiln_buf_printf(out, "\n(cut at %d bytes)\n", KILN_CAPTURE_MAX);
    fclose(f);
    return 0;
}

void kiln_capture_environment(const kiln_environment *e, const char *workdir,
                              char *const *envv,
                              void (*add)(const char *label,
                                          const char *text, void *data),
                              void *data)
{
    for (size_t i = 0; i < e->files.n + e->commands.n; i++) {
        bool file = i < e->files.n;
        const char *what = file ? e->files.items[i]
                                : e->commands.items[i - e->files.n];
        char *label = kiln_asprintf("%s %s", file ? "file" : "command", what);
        kiln_buf text = KILN_BUF_INIT;
        if (file) {
            char *path = kiln_path_join(workdir, what);
            if (kiln_capture_file(&text, path) != 0)
                kiln_buf_printf(&text, "(missing)\n");
            free(path);
        } else {
            kiln_capture_command(&text, what, workdir, envv);
        }
        add(label, kiln_buf_cstr(&text), data);
        kiln_buf_dispose(&text);
        free(label);
    }
}

int kiln_capture_argv(kiln_buf *out, char *const *argv, const char *workdir,
                      char *const *envv, int64_t timeout_ms)
{
    posix_spawn_file_actions_t fa;
    int fds[2], rc, status = 0;
    size_t total = 0;
    int64_t deadline = kiln_now_ms() + timeout_ms;
    bool timed_out = false;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) != 0) {
        kiln_buf_printf(out, "(cannot run: %s)\n", strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null",
                                     O_RDONLY, 0);
    if (workdir)
        posix_spawn_file_actions_addchdir_np(&fa, workdir);
    rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, envv);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        kiln_buf_printf(out, "(cannot run %s: %s)\n", argv[0], strerror(rc));
        return -1;
    }
    for (;;) {
        struct pollfd p = {fds[0], POLLIN, 0};
        int64_t left = deadline - kiln_now_ms();
        char chunk[8192];
        ssize_t got;
        if (left <= 0) {
            timed_out = true;
            kill(pid, SIGKILL);
            break;
        }
        if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
            break;
        if (!(p.revents & (POLLIN | POLLHUP)))
            continue;
        got = read(fds[0], chunk, sizeof(chunk));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        if (total < KILN_CAPTURE_MAX)
            kiln_buf_add(out, chunk, (size_t)got);
        total += (size_t)got;
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (total > KILN_CAPTURE_MAX)
        kiln_buf_printf(out, "\n(cut at %d bytes)\n", KILN_CAPTURE_MAX);
    if (timed_out) {
        kiln_buf_printf(out, "(stopped after %lld s)\n",
                        (long long)(timeout_ms / 1000));
        return -1;
    }
    if (WIFSIGNALED(status)) {
        kiln_buf_printf(out, "(killed by signal %d)\n", WTERMSIG(status));
        return -1;
    }
    return WEXITSTATUS(status);
}

void kiln_capture_command(kiln_buf *out, const char *command,
                          const char *workdir, char *const *envv)
{
    char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)command, NULL};
    int status = kiln_capture_argv(out, argv, workdir, envv,
                                   CAPTURE_TIMEOUT_MS);
    if (status > 0)
        kiln_buf_printf(out, "(exit status %d)\n", status);
}
