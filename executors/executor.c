/* executor.c: the table of built-in executors and the dispatching calls. */
#include "executor.h"

#include <assert.h>
#include <string.h>

#include "internal.h"

static const struct {
    const char *name;
    kiln_executor *(*create)(uv_loop_t *loop);
} executors[] = {
    {"local", kiln_executor__local_new},
};

bool kiln_executor_exists(const char *name)
{
    for (size_t i = 0; i < KILN_ARRAY_SIZE(executors); i++)
        if (strcmp(executors[i].name, name) == 0)
            return true;
    return false;
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
    task->finished_ms = kiln_now_ms();
    ex->on_done(task, ex->data);
}
