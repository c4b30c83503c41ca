/*
 * executor.h: how a step's command runs somewhere.
 *
 * An executor takes a task (argv, environment, working directory, log file)
 * and reports exactly once, through on_done, how it ended. Everything is
 * asynchronous and driven by the caller's libuv loop, so the same interface
 * fits a local process and a job on a cluster: nothing outside an executor
 * may assume a local pid (external_id is an opaque string).
 *
 * Contract (libuv's, plus one): when start() returns an error, on_done is
 * never called for that task; after a 0 return on_done runs exactly once,
 * even when the task is cancelled.
 */
#ifndef KILN_EXECUTOR_H
#define KILN_EXECUTOR_H

#include <uv.h>

#include "base/base.h"

typedef struct kiln_executor kiln_executor;
typedef struct kiln_task kiln_task;

typedef enum kiln_task_outcome {
    KILN_TASK_EXITED = 0, /* the command exited; exit_code is set */
    KILN_TASK_SIGNALED,   /* the command died of term_signal */
    KILN_TASK_CANCELED,   /* stopped by kiln_executor_cancel() */
    KILN_TASK_LOST        /* the executor lost it; reason says why */
} kiln_task_outcome;

struct kiln_task {
    /* public: set by the caller before kiln_executor_start() */
    char *const *argv;     /* NULL-terminated; argv[0] looked up in PATH */
    char *const *env;      /* the whole environment, "K=V", NULL-terminated */
    const char *workdir;
    const char *log_path;  /* stdout and stderr are appended here */
    const char *status_path; /* how the command ended is written here, so
                                it outlives kiln; may be NULL */
    bool fresh_paths;      /* no file is at log_path or status_path yet
                              (the caller knows): none to remove first */
    const char *spare_path; /* or NULL: a file the caller no longer needs,
                              on status_path's file system, which the
                              executor may rename to status_path instead
                              of creating that file (which costs more
                              than a step on some file systems) */
    char *const *secrets;  /* "NAME=VALUE", NULL-terminated, or NULL: the
                              step's secrets, never in env. They reach the
                              command's environment through a file only
                              the user can read (STATUS_PATH.secrets),
                              and kiln-shim masks their values in the
                              log; a task with secrets needs status_path */
    unsigned cpus;         /* slots this task weighs; >= 1 */
    /* What a cluster scheduler is asked for (the local executor ignores
     * them); 0 or NULL: not given. */
    const char *name;      /* a job name: "PIPELINE.STEP" */
    uint64_t mem_mb;
    unsigned gpus;
    int64_t time_limit_ms; /* the scheduler's own limit */
    const char *partition;
    const char *account;
    const char *qos;
    size_t n_extra;
    const char *const *extra; /* more scheduler options, as written */
    void *data;            /* the caller's */

    /* read-only: set by the executor */
    char external_id[64];  /* a pid, a job id: opaque to callers */
    int64_t started_ms;    /* wall clock when it started */
    int64_t finished_ms;
    kiln_task_outcome outcome;
    int exit_code;         /* KILN_TASK_EXITED */
    int term_signal;       /* KILN_TASK_SIGNALED, or the signal that ended
                              a cancelled task (0 if it exited) */
    char reason[256];      /* human-readable, for anything but exit 0 */

    /* private */
    void *priv;            /* the executor's per-task state */
};

/* Called once per started task, on the loop thread. */
typedef void (*kiln_task_done_cb)(kiln_task *task, void *data);

struct kiln_executor_ops {
    const char *name; /* "local" */
    int (*start)(kiln_executor *ex, kiln_task *task, kiln_err *err);
    /* Watch a task started by an earlier kiln process, found again by its
     * external id (its status_path and log_path set as when started). If
     * it already ended, on_done reports how (KILN_TASK_LOST when nothing
     * says). NULL when the executor cannot. */
    int (*attach)(kiln_executor *ex, kiln_task *task,
                  const char *external_id, kiln_err *err);
    /* Ask a running task to stop: gracefully first (SIGTERM to the process
     * group, scancel), forcefully after the executor's grace period, or at
     * once when force is true. on_done reports the end. */
    void (*cancel)(kiln_executor *ex, kiln_task *task, bool force);
    /* Release the executor. Only call it when no task is running. */
    void (*free)(kiln_executor *ex);
};

/* The base every executor embeds first. */
struct kiln_executor {
    const struct kiln_executor_ops *ops;
    uv_loop_t *loop;
    kiln_task_done_cb on_done; /* the only way results come back */
    void *data;
    unsigned active;           /* tasks started and not yet done */
};

/*
 * Create the executor called name ("local") on loop. Returns 0 and *out
 * (release it with kiln_executor_free()), or KILN_ENOTFOUND for an unknown
 * name.
 */
int kiln_executor_new(kiln_executor **out, const char *name, uv_loop_t *loop,
                      kiln_task_done_cb on_done, void *data, kiln_err *err);
/* True when an executor of that name is built in. */
bool kiln_executor_exists(const char *name);
/* Can the executor called name run steps on this machine? 0, or
 * KILN_ENOTFOUND for an unknown name and KILN_ERROR when what it needs is
 * missing (Slurm's commands), with a message saying what to do. */
int kiln_executor_check(const char *name, kiln_err *err);
/* True when the executor called name runs tasks on other machines, so
 * they take no share of this one (--jobs). */
bool kiln_executor_remote(const char *name);

/* The path of kiln-shim (malloc'd): $KILN_SHIM (made absolute), else the
 * one beside the kiln binary, else "kiln-shim" from PATH. */
char *kiln_executor_shim_path(void);

int kiln_executor_start(kiln_executor *ex, kiln_task *task, kiln_err *err);
/* Take over a task an earlier kiln process started (crash recovery). Same
 * contract as kiln_executor_start(). */
int kiln_executor_attach(kiln_executor *ex, kiln_task *task,
                         const char *external_id, kiln_err *err);
void kiln_executor_cancel(kiln_executor *ex, kiln_task *task, bool force);
/* NULL is fine. No task may be active; the executor's handles close on
 * the loop's next run (uv_run() before uv_loop_close()). */
void kiln_executor_free(kiln_executor *ex);

/* Seconds between the graceful and the forceful stop of a cancelled local
 * task. */
#define KILN_KILL_GRACE_MS 10000

#endif
