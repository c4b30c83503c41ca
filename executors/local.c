/*
 * local.c: steps as local processes.
 *
 * Each task is `uv_spawn`ed detached (setsid), so it leads a new process
 * group and a cancel reaches everything it started: SIGTERM to the group,
 * SIGKILL after KILN_KILL_GRACE_MS. stdout and stderr go straight to the
 * attempt's log file (the child inherits the descriptor), so output never
 * passes through the loop. A task is done once its process has exited and
 * both of its handles are closed.
 */
#include "executor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

typedef struct local_executor {
    kiln_executor base;
} local_executor;

typedef struct local_proc {
    uv_process_t proc;
    uv_timer_t grace;   /* SIGKILL when SIGTERM was not enough */
    kiln_executor *ex;
    kiln_task *task;
    int pending_closes;
    bool exited;
    bool cancelling;
    bool grace_armed;
} local_proc;

static void on_close(uv_handle_t *handle)
{
    local_proc *lp = handle->data;
    if (--lp->pending_closes > 0)
        return;
    if (lp->task) {
        kiln_task *task = lp->task;
        task->priv = NULL;
        kiln_executor__done(lp->ex, task);
    }
    free(lp);
}

static void kill_group(local_proc *lp, int sig)
{
    if (lp->proc.pid > 0 && kill(-lp->proc.pid, sig) != 0 && errno == ESRCH)
        kill(lp->proc.pid, sig);
}

static void on_proc_exit(uv_process_t *proc, int64_t exit_status,
                         int term_signal)
{
    local_proc *lp = proc->data;
    kiln_task *task = lp->task;

    lp->exited = true;
    task->exit_code = (int)exit_status;
    task->term_signal = term_signal;
    if (lp->cancelling) {
        /* Whatever the leader left behind in its group goes too. */
        kill_group(lp, SIGKILL);
        task->outcome = KILN_TASK_CANCELED;
        snprintf(task->reason, sizeof(task->reason), "%s",
                 term_signal ? strsignal(term_signal) : "stopped");
    } else if (term_signal) {
        task->outcome = KILN_TASK_SIGNALED;
        snprintf(task->reason, sizeof(task->reason), "killed by signal %d "
                 "(%s)", term_signal, strsignal(term_signal));
    } else {
        task->outcome = KILN_TASK_EXITED;
        if (exit_status != 0)
            snprintf(task->reason, sizeof(task->reason),
                     "exited with status %d", (int)exit_status);
    }
    uv_timer_stop(&lp->grace);
    uv_close((uv_handle_t *)&lp->proc, on_close);
    uv_close((uv_handle_t *)&lp->grace, on_close);
}

static void on_grace(uv_timer_t *timer)
{
    local_proc *lp = timer->data;
    if (!lp->exited)
        kill_group(lp, SIGKILL);
}

static int local_start(kiln_executor *ex, kiln_task *task, kiln_err *err)
{
    uv_process_options_t opts;
    uv_stdio_container_t stdio[3];
    local_proc *lp;
    int fd, rc;

    fd = open(task->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
              0644);
    if (fd < 0)
        return kiln_err_set_os(err, "cannot open log %s", task->log_path);

    lp = kiln_calloc(1, sizeof(*lp));
    lp->ex = ex;
    memset(&opts, 0, sizeof(opts));
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = fd;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = fd;
    opts.exit_cb = on_proc_exit;
    opts.file = task->argv[0];
    opts.args = (char **)task->argv;
    opts.env = (char **)task->env;
    opts.cwd = task->workdir;
    opts.flags = UV_PROCESS_DETACHED;
    opts.stdio_count = 3;
    opts.stdio = stdio;

    lp->proc.data = lp;
    rc = uv_spawn(ex->loop, &lp->proc, &opts);
    close(fd);
    if (rc != 0) {
        /* A failed uv_spawn still needs uv_close; no on_done follows. */
        lp->pending_closes = 1;
        uv_close((uv_handle_t *)&lp->proc, on_close);
        if (rc == UV_ENOENT && task->workdir &&
            access(task->workdir, F_OK) != 0)
            return kiln_err_set(err, KILN_EINVAL,
                                "working directory %s does not exist",
                                task->workdir);
        return kiln_err_set(err, KILN_ERROR, "cannot start %s: %s",
                            task->argv[0], uv_strerror(rc));
    }
    uv_timer_init(ex->loop, &lp->grace);
    lp->grace.data = lp;
    lp->pending_closes = 2;
    lp->task = task;
    task->priv = lp;
    task->started_ms = kiln_now_ms();
    snprintf(task->external_id, sizeof(task->external_id), "%d",
             lp->proc.pid);
    return 0;
}

static void local_cancel(kiln_executor *ex, kiln_task *task, bool force)
{
    local_proc *lp = task->priv;
    (void)ex;
    if (!lp || lp->exited)
        return;
    lp->cancelling = true;
    if (force) {
        kill_group(lp, SIGKILL);
        return;
    }
    kill_group(lp, SIGTERM);
    if (!lp->grace_armed) {
        lp->grace_armed = true;
        uv_timer_start(&lp->grace, on_grace, KILN_KILL_GRACE_MS, 0);
    }
}

static void local_free(kiln_executor *ex)
{
    free(ex);
}

static const struct kiln_executor_ops local_ops = {
    .name = "local",
    .start = local_start,
    .cancel = local_cancel,
    .free = local_free,
};

kiln_executor *kiln_executor__local_new(uv_loop_t *loop)
{
    local_executor *le = kiln_calloc(1, sizeof(*le));
    (void)loop;
    le->base.ops = &local_ops;
    return &le->base;
}
