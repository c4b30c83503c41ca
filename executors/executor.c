/* executor.c: the table of built-in executors and the dispatching calls. */
#include "executor.h"

#include <assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static const struct {
    const char *name;
    kiln_executor *(*create)(uv_loop_t *loop);
    int (*check)(kiln_err *err); /* NULL: always usable */
    bool remote;                 /* runs tasks on other machines */
} executors[] = {
    {"local", kiln_executor__local_new, NULL, false},
    {"slurm", kiln_executor__slurm_new, kiln_executor__slurm_check, true},
};

bool kiln_executor_exists(const char *name)
{
    for (size_t i = 0; i < KILN_ARRAY_SIZE(executors); i++)
        if (strcmp(executors[i].name, name) == 0)
            return true;
    return false;
}

bool kiln_executor_remote(const char *name)
{
    for (size_t i = 0; i < KILN_ARRAY_SIZE(executors); i++)
        if (strcmp(executors[i].name, name) == 0)
            return executors[i].remote;
    return false;
}

char *kiln_executor_shim_path(void)
{
    const char *env = getenv("KILN_SHIM");
    char *exe, *dir, *path;
    if (env && *env)
        return kiln_path_absolute(env);
    if ((exe = kiln_self_exe()) == NULL)
        return kiln_strdup("kiln-shim");
    dir = kiln_path_dirname(exe);
    path = kiln_path_join(dir, "kiln-shim");
    free(dir);
    free(exe);
    if (access(path, X_OK) == 0)
        return path;
    free(path);
    return kiln_strdup("kiln-shim");
}

int kiln_executor_check(const char *name, kiln_err *err)
{
    for (size_t i = 0; i < KILN_ARRAY_SIZE(executors); i++)
        if (strcmp(executors[i].name, name) == 0)
            return executors[i].check ? executors[i].check(err) : 0;
    return kiln_err_set(err, KILN_ENOTFOUND, "unknown executor \"%s\"",
                        name);
}

int kiln_executor_new(kiln_executor **out, const char *name, uv_loop_t *loop,
                      kiln_task_done_cb on_done, void *data, kiln_err *err)
{
    *out = NULL;
    for (size_t i = 0; i < KILN_ARRAY_SIZE(executors); i++) {
        if (strcmp(executors[i].name, name) == 0) {
            kiln_executor *ex = executors[i].create(loop);
            ex->loop = loop;
            ex->on_done = on_done;
            ex->data = data;
            ex->active = 0;
            *out = ex;
            return 0;
        }
    }
    return kiln_err_set(err, KILN_ENOTFOUND, "unknown executor \"%s\"", name);
}

int kiln_executor_start(kiln_executor *ex, kiln_task *task, kiln_err *err)
{
    int rc;
    assert(task->argv && task->argv[0] && task->log_path);
    task->external_id[0] = '\0';
    task->outcome = KILN_TASK_EXITED;
    task->exit_code = 0;
    task->term_signal = 0;
    task->reason[0] = '\0';
    task->started_ms = task->finished_ms = 0;
    rc = ex->ops->start(ex, task, err);
    if (rc == 0)
        ex->active++;
    return rc;
}

int kiln_executor_attach(kiln_executor *ex, kiln_task *task,
                         const char *external_id, kiln_err *err)
{
    int rc;
    if (!ex->ops->attach)
        return kiln_err_set(err, KILN_ERROR, "the %s executor cannot find "
                            "tasks again", ex->ops->name);
    task->outcome = KILN_TASK_EXITED;
    task->exit_code = 0;
    task->term_signal = 0;
    task->reason[0] = '\0';
    task->finished_ms = 0;
    rc = ex->ops->attach(ex, task, external_id, err);
    if (rc == 0)
        ex->active++;
    return rc;
}

void kiln_executor_cancel(kiln_executor *ex, kiln_task *task, bool force)
{
    ex->ops->cancel(ex, task, force);
}

void kiln_executor_free(kiln_executor *ex)
{
    if (!ex)
        return;
    assert(ex->active == 0);
    ex->ops->free(ex);
}

void kiln_executor__done(kiln_executor *ex, kiln_task *task)
{
    assert(ex->active > 0);
    ex->active--;
    /* Unless its status file said when it ended (read_status()). */
    if (!task->finished_ms)
        task->finished_ms = kiln_now_ms();
    ex->on_done(task, ex->data);
}

/* A task whose status file says it ended ended when the file was last
 * written (its end is written last): not when a kiln read it, maybe long
 * after (one that took over from a kiln that died). Kept between its
 * start and now, whatever the clock of the file's system says. */
static void status_time(kiln_task *task, const struct stat *sb)
{
    int64_t at = (int64_t)sb->st_mtim.tv_sec * 1000 +
                 sb->st_mtim.tv_nsec / 1000000;
    int64_t now = kiln_now_ms();
    if (at > now)
        at = now;
    if (at < task->started_ms)
        at = task->started_ms;
    task->finished_ms = at;
}

bool kiln_executor__read_status(kiln_task *task, const char *path)
{
    struct stat sb;
    char buf[64];
    int v, fd;
    ssize_t n;
    bool have_time;
    if (!path || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return false;
    n = read(fd, buf, sizeof(buf) - 1);
    have_time = fstat(fd, &sb) == 0;
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    if (sscanf(buf, "exit %d", &v) == 1) {
        task->outcome = KILN_TASK_EXITED;
        task->exit_code = v;
        task->term_signal = 0;
        if (v != 0)
            snprintf(task->reason, sizeof(task->reason),
                     "exited with status %d", v);
        if (have_time)
            status_time(task, &sb);
        return true;
    }
    if (sscanf(buf, "signal %d", &v) == 1) {
        task->outcome = KILN_TASK_SIGNALED;
        task->term_signal = v;
        snprintf(task->reason, sizeof(task->reason),
                 "killed by signal %d (%s)", v, strsignal(v));
        if (have_time)
            status_time(task, &sb);
        return true;
    }
    return false;
}

char *kiln_executor__secrets_path(const char *status_path)
{
    return kiln_asprintf("%s.secrets", status_path);
}

int kiln_executor__write_secrets(char **out, const kiln_task *task,
                                 kiln_err *err)
{
    kiln_buf b = KILN_BUF_INIT;
    char *path;
    int fd, rc = 0;

    *out = NULL;
    if (!task->secrets || !task->secrets[0])
        return 0;
    if (!task->status_path)
        return kiln_err_set(err, KILN_ERROR, "a step with secrets needs "
                            "kiln-shim, which needs a status file");
    for (size_t i = 0; task->secrets[i]; i++)
        kiln_buf_add(&b, task->secrets[i], strlen(task->secrets[i]) + 1);
    path = kiln_executor__secrets_path(task->status_path);
    unlink(path);
    /* O_EXCL: never through a link someone else left there. */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
              0600);
    if (fd < 0) {
        rc = kiln_err_set_os(err, "cannot write the secrets file %s", path);
    } else if (fchmod(fd, 0600) != 0 ||
               write(fd, b.ptr, b.len) != (ssize_t)b.len) {
        rc = kiln_err_set_os(err, "cannot write the secrets file %s", path);
        unlink(path);
    }
    if (fd >= 0)
        close(fd);
    kiln_buf_dispose(&b);
    if (rc != 0) {
        free(path);
        return rc;
    }
    *out = path;
    return 0;
}
