/* test-local.c: the local executor on a real loop. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../executors/executor.h"

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                      \
            exit(1);                                                       \
        }                                                                  \
    } while (0)

extern char **environ;
static int done_count;
static char dir[] = "/tmp/kiln-local.XXXXXX";

static void on_done(kiln_task *task, void *data)
{
    (void)task;
    (void)data;
    done_count++;
}

/* Run one shell command to its end; cancel it after cancel_ms if >= 0. */
static void run(kiln_task *task, uv_loop_t *loop, kiln_executor *ex,
                const char *cmd, int cancel_ms, bool force)
{
    static char *argv[4];
    static char log[256];
    kiln_err err = KILN_ERR_INIT;
    argv[0] = "/bin/sh";
    argv[1] = "-c";
    argv[2] = (char *)cmd;
    argv[3] = NULL;
    snprintf(log, sizeof(log), "%s/log", dir);
    unlink(log);
    memset(task, 0, sizeof(*task));
    task->argv = argv;
    task->env = environ;
    task->workdir = dir;
    task->log_path = log;
    task->cpus = 1;
    done_count = 0;
    CHECK(kiln_executor_start(ex, task, &err) == 0);
    CHECK(atoi(task->external_id) > 0);
    if (cancel_ms >= 0) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep((useconds_t)cancel_ms * 1000);
        kiln_executor_cancel(ex, task, force);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK(done_count == 1);
    CHECK(ex->active == 0);
}

static char *slurp(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

int main(void)
{
    uv_loop_t loop;
    kiln_executor *ex;
    kiln_task task;
    kiln_err err = KILN_ERR_INIT;
    char log[300];

    CHECK(mkdtemp(dir) != NULL);
    snprintf(log, sizeof(log), "%s/log", dir);
    uv_loop_init(&loop);
    CHECK(kiln_executor_new(&ex, "mars", &loop, on_done, NULL, &err) ==
          KILN_ENOTFOUND);
    CHECK(kiln_executor_new(&ex, "local", &loop, on_done, NULL, &err) == 0);

    /* Exit status, both streams in the log, the working directory. */
    run(&task, &loop, ex, "echo out; echo err >&2; pwd; exit 3", -1, false);
    CHECK(task.outcome == KILN_TASK_EXITED && task.exit_code == 3);
    CHECK(strstr(task.reason, "status 3") != NULL);
    CHECK(strstr(slurp(log), "out\nerr\n") != NULL);
    CHECK(strstr(slurp(log), dir) != NULL);
    CHECK(task.finished_ms >= task.started_ms && task.started_ms > 0);

    /* Death by a signal. */
    run(&task, &loop, ex, "kill -SEGV $$", -1, false);
    CHECK(task.outcome == KILN_TASK_SIGNALED && task.term_signal == SIGSEGV);

    /* A graceful cancel reaches the whole group. */
    run(&task, &loop, ex, "sleep 4031 & sleep 4032", 100, false);
    CHECK(task.outcome == KILN_TASK_CANCELED);
    CHECK(task.term_signal == SIGTERM);
    CHECK(system("pgrep -f 'sleep 403[12]' >/dev/null") != 0);

    /* A forced cancel. */
    run(&task, &loop, ex, "trap '' TERM; sleep 4033", 100, true);
    CHECK(task.outcome == KILN_TASK_CANCELED && task.term_signal == SIGKILL);

    /* A missing working directory fails to start, with no callback. */
    {
        char *argv[] = {"/bin/sh", "-c", "true", NULL};
        memset(&task, 0, sizeof(task));
        task.argv = argv;
        task.env = environ;
        task.workdir = "/nonexistent/kiln";
        task.log_path = log;
        done_count = 0;
        CHECK(kiln_executor_start(ex, &task, &err) != 0);
        CHECK(strstr(err.msg, "/nonexistent/kiln") != NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(done_count == 0 && ex->active == 0);
    }

    kiln_executor_free(ex);
    CHECK(uv_loop_close(&loop) == 0);
    unlink(log);
    rmdir(dir);
    printf("ok\n");
    return 0;
}
