/* internal.h: what executor implementations share with executor.c. */
#ifndef KILN_EXECUTORS_INTERNAL_H
#define KILN_EXECUTORS_INTERNAL_H

#include "executor.h"

/* Constructors, one per implementation; they fill only ops. */
kiln_executor *kiln_executor__local_new(uv_loop_t *loop);
kiln_executor *kiln_executor__slurm_new(uv_loop_t *loop);
/* 0 when Slurm's commands are found (KILN_SLURM_BIN or PATH). */
int kiln_executor__slurm_check(kiln_err *err);

/* How a Slurm job that ended in state (NULL: Slurm no longer knows it;
 * why: Slurm's reason) ended for kiln: the status file at status_path
 * says how the command ended, the state why Slurm ended it (TIMEOUT and
 * OUT_OF_MEMORY: killed; NODE_FAIL, PREEMPTED, BOOT_FAIL, DEADLINE: lost;
 * CANCELLED by someone else: killed). Fills t's outcome, exit code,
 * signal and reason. */
void kiln_executor__slurm_judge(kiln_task *t, const char *state,
                                const char *why, bool cancelling,
                                const char *status_path);

/* Fill the task's end from a status file as kiln-shim writes it ("exit N"
 * or "signal N"), and its finished_ms from when the file was last
 * written. Returns false when there is none, or nothing valid. */
bool kiln_executor__read_status(kiln_task *task, const char *path);

/* Write task->secrets for kiln-shim --secrets into a file only the user
 * can read, beside the status file; *out is its path (free() it), NULL
 * when the task has no secrets. Returns 0 or KILN_ERROR. */
int kiln_executor__write_secrets(char **out, const kiln_task *task,
                                 kiln_err *err);
/* The secrets file of the task whose status file is status_path (free()
 * it): removed by kiln-shim once read, and by the executor when the task
 * ends (it never started, or a job was cancelled while pending). */
char *kiln_executor__secrets_path(const char *status_path);

/* Commands an executor runs for itself (child.c). */
/* A command ended: its raw wait status and output (stdout and stderr). */
typedef void (*child_cb)(int status, const char *out, void *data);

typedef struct child {
    uv_process_t proc;
    uv_pipe_t pipes[2];     /* its stdout and stderr */
    char *out;              /* both, as they came */
    size_t len, cap;
    child_cb cb;            /* NULL: nobody waits for it (scancel) */
    void *data;
    int status;             /* raw: exit status << 8 | signal */
    bool exited;
    int open_pipes;
    int pending_closes;
} child;

/* Run argv on loop without waiting; cb (when not NULL) gets its raw wait
 * status and output. Returns 0 or a negative libuv error. */
int kiln_executor__child_spawn(uv_loop_t *loop, char **argv, child_cb cb,
                               void *data);
/* Run argv with env and wait for it, collecting its output in out.
 * Returns the raw wait status, or -1 (errno) when it could not run. */
int kiln_executor__run_wait(char **argv, char *const *env, kiln_buf *out);

/* Report a task's end: every implementation ends each task through this,
 * exactly once. */
void kiln_executor__done(kiln_executor *ex, kiln_task *task);

#endif
