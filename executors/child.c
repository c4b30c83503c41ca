/*
 * child.c: commands an executor runs for itself (sbatch, squeue,
 * scancel): one child process whose output is collected, on the loop
 * without waiting, or waited for when its answer is needed at once.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>


static void child_on_close(uv_handle_t *h)
{
    child *c = h->data;
    if (--c->pending_closes == 0) {
        free(c->out);
        free(c);
    }
}

/* Once the process has ended and its output is read, report and close. */
static void child_maybe_done(child *c)
{
    if (!c->exited || c->open_pipes > 0)
        return;
    if (c->cb)
        c->cb(c->status, c->out ? c->out : "", c->data);
    uv_close((uv_handle_t *)&c->proc, child_on_close);
    uv_close((uv_handle_t *)&c->pipes[0], child_on_close);
    uv_close((uv_handle_t *)&c->pipes[1], child_on_close);
}

static void child_on_exit(uv_process_t *p, int64_t exit_status, int sig)
{
    child *c = p->data;
    c->status = sig ? sig : (int)(exit_status & 0xff) << 8;
    c->exited = true;
    child_maybe_done(c);
}

static void child_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    child *c = h->data;
    (void)hint;
    if (c->cap - c->len < 4096) {
        c->cap = c->len + 65536;
        c->out = kiln_realloc(c->out, c->cap);
    }
    buf->base = c->out + c->len;
    buf->len = c->cap - c->len - 1;
}

static void child_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    child *c = s->data;
    (void)buf;
    if (n > 0) {
        c->len += (size_t)n;
        c->out[c->len] = '\0';
    } else if (n < 0) {
        uv_read_stop(s);
        c->open_pipes--;
        child_maybe_done(c);
    }
}

/* Run argv on loop without waiting; cb (when not NULL) gets its raw wait
 * status and output (stdout and stderr together). Returns 0 or a libuv
 * error; on error cb is never called. */
int kiln_executor__child_spawn(uv_loop_t *loop, char **argv, child_cb cb,
                               void *data)
{
    child *c = kiln_calloc(1, sizeof(*c));
    uv_process_options_t o;
    uv_stdio_container_t io[3];
    int rc;

    c->cb = cb;
    c->data = data;
    c->proc.data = c->pipes[0].data = c->pipes[1].data = c;
    c->pending_closes = 3;
    memset(&o, 0, sizeof(o));
    io[0].flags = UV_IGNORE;
    for (int i = 0; i < 2; i++) {
        uv_pipe_init(loop, &c->pipes[i], 0);
        io[i + 1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
        io[i + 1].data.stream = (uv_stream_t *)&c->pipes[i];
    }
    o.file = argv[0];
    o.args = argv;
    o.exit_cb = child_on_exit;
    o.stdio_count = 3;
    o.stdio = io;
    rc = uv_spawn(loop, &c->proc, &o);
    if (rc != 0) {
        uv_close((uv_handle_t *)&c->proc, child_on_close);
        uv_close((uv_handle_t *)&c->pipes[0], child_on_close);
        uv_close((uv_handle_t *)&c->pipes[1], child_on_close);
        return rc;
    }
    c->open_pipes = 2;
    for (int i = 0; i < 2; i++)
        uv_read_start((uv_stream_t *)&c->pipes[i], child_on_alloc,
                      child_on_read);
    return 0;
}

/* Run argv with env and wait for it: sbatch only. Returns the raw wait
 * status, or -1 with errno set; out gets stdout and stderr. */
int kiln_executor__run_wait(char **argv, char *const *env, kiln_buf *out)
{
    posix_spawn_file_actions_t fa;
    int fds[2], status, rc;
    char buf[4096];
    ssize_t n;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, (char **)env);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        errno = rc;
        return -1;
    }
    while ((n = read(fds[0], buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        kiln_buf_add(out, buf, (size_t)n);
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return status;
}

