/*
 * slurm.c: steps as Slurm batch jobs.
 *
 * A task becomes a generated batch script beside its log (LOG minus
 * ".log" plus ".sbatch") submitted with `sbatch --parsable`. The script
 * exports the task's KILN_* variables (sbatch also passes the whole
 * environment, --export=ALL), changes to the working directory and runs
 * the command under kiln-shim when the node can see it, so the status file
 * has exactly the format the local executor's has; otherwise the shell
 * writes it. stdout and stderr go through --output/--error straight into
 * the log, so the state directory must be on a file system the nodes
 * share.
 *
 * One squeue call asks for every active job at once, from a timer whose
 * interval starts short and grows while nothing changes. Its commands run
 * under uv_spawn, so the loop never waits on slurmctld; only sbatch is
 * waited for (a few milliseconds), because the job id must be known, and
 * recorded by the caller, before anything else can happen: a kiln that
 * dies right after submitting must be able to find the job again. The
 * external id is the job id, which is all attach needs.
 *
 * How a job ended: the status file when the command ran to its end, and
 * Slurm's job state (TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED,
 * CANCELLED outside kiln) for the reason when Slurm ended it. A job that
 * was requeued is PENDING again, not ended, and is simply watched on.
 */
#include "executor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

extern char **environ;

/* Poll intervals: short after a change, growing by half while nothing
 * changes, up to the maximum (KILN_SLURM_POLL_MAX_MS overrides it). */
#define POLL_MIN_MS 200
#define POLL_MAX_MS 5000
/* A job squeue no longer lists this many times in a row is gone (purged
 * after MinJobAge, or the controller lost its state). */
#define MAX_MISSES 3

typedef struct slurm_job slurm_job;

typedef struct slurm_executor {
    kiln_executor base;
    char *sbatch, *squeue, *scancel;
    char *shim;             /* kiln-shim, run by the batch script if the
                               node can see it */
    slurm_job *jobs;        /* active, newest first */
    uv_timer_t *timer;      /* while jobs are active; closed after */
    bool querying;          /* an squeue is running */
    bool soon;              /* poll again at the shortest interval */
    uint64_t interval_ms;
    uint64_t max_interval_ms;
} slurm_executor;

struct slurm_job {
    slurm_job *next;
    kiln_task *task;
    char *status_path;
    bool cancelling;
    bool queried;           /* in the squeue running now */
    int misses;
    char state[32];         /* as squeue said last */
};

/* Commands: one child process whose output is collected. */

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
static int child_spawn(uv_loop_t *loop, char **argv, child_cb cb,
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
static int run_wait(char **argv, char *const *env, kiln_buf *out)
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

/* The batch script. */

/* s as one single-quoted shell word. */
static void shell_quote(kiln_buf *b, const char *s)
{
    kiln_buf_puts(b, "'");
    for (; *s; s++) {
        if (*s == '\'')
            kiln_buf_puts(b, "'\\''");
        else
            kiln_buf_add(b, s, 1);
    }
    kiln_buf_puts(b, "'");
}

/* path with its ".log" replaced by suffix (or suffix appended). */
static char *beside(const char *path, const char *suffix)
{
    size_t n = strlen(path);
    if (n > 4 && strcmp(path + n - 4, ".log") == 0)
        n -= 4;
    return kiln_asprintf("%.*s%s", (int)n, path, suffix);
}

static void write_status_cmd(kiln_buf *b, const char *status_path,
                             const char *what)
{
    kiln_buf_printf(b, "printf '%%s\\n' %s >", what);
    shell_quote(b, status_path);
    kiln_buf_puts(b, ".tmp && mv -f ");
    shell_quote(b, status_path);
    kiln_buf_puts(b, ".tmp ");
    shell_quote(b, status_path);
    kiln_buf_puts(b, "\n");
}

static void script_text(kiln_buf *b, const slurm_executor *se,
                        const kiln_task *t, const char *status_path)
{
    kiln_buf cmd = KILN_BUF_INIT;
    for (size_t i = 0; t->argv[i]; i++) {
        if (i)
            kiln_buf_puts(&cmd, " ");
        shell_quote(&cmd, t->argv[i]);
    }
    kiln_buf_puts(b, "#!/bin/sh\n# Generated by kiln: one step attempt. "
                     "Its exit status goes to the status file.\n");
    /* The job id beside the status file, for a kiln that died before it
     * recorded the id (slurm_attach() without one). */
    kiln_buf_puts(b, "echo \"$SLURM_JOB_ID\" > ");
    shell_quote(b, status_path);
    kiln_buf_puts(b, ".jobid\n");
    for (size_t i = 0; t->env && t->env[i]; i++) {
        const char *eq = strchr(t->env[i], '=');
        if (strncmp(t->env[i], "KILN_", 5) != 0 || !eq)
            continue;
        kiln_buf_printf(b, "export %.*s=", (int)(eq - t->env[i]), t->env[i]);
        shell_quote(b, eq + 1);
        kiln_buf_puts(b, "\n");
    }
    if (t->workdir) {
        kiln_buf_puts(b, "cd ");
        shell_quote(b, t->workdir);
        kiln_buf_puts(b, " || {\n    echo \"kiln: cannot enter the working "
                         "directory on $(hostname)\" >&2\n    ");
        write_status_cmd(b, status_path, "'exit 126'");
        kiln_buf_puts(b, "    exit 126\n}\n");
    }
    kiln_buf_puts(b, "shim=");
    shell_quote(b, se->shim);
    kiln_buf_puts(b, "\nif [ -x \"$shim\" ]; then\n    exec \"$shim\" ");
    shell_quote(b, status_path);
    kiln_buf_printf(b, " %s\nfi\n", kiln_buf_cstr(&cmd));
    kiln_buf_puts(b, "# No kiln-shim on this node: the shell reports a "
                     "signal N as status 128+N.\n");
    kiln_buf_printf(b, "%s\nrc=$?\n", kiln_buf_cstr(&cmd));
    kiln_buf_puts(b, "if [ $rc -gt 128 ] && [ $rc -lt 193 ]; then\n    ");
    write_status_cmd(b, status_path, "\"signal $((rc - 128))\"");
    kiln_buf_puts(b, "else\n    ");
    write_status_cmd(b, status_path, "\"exit $rc\"");
    kiln_buf_puts(b, "fi\nexit $rc\n");
    kiln_buf_dispose(&cmd);
}

static int write_script(const char *path, const char *text, kiln_err *err)
{
    size_t n = strlen(text);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    if (fd < 0)
        return kiln_err_set_os(err, "cannot write batch script %s", path);
    if (write(fd, text, n) != (ssize_t)n) {
        kiln_err_set_os(err, "cannot write batch script %s", path);
        close(fd);
        return KILN_ERROR;
    }
    close(fd);
    return 0;
}

/* Polling. */

static void poll_start(slurm_executor *se, bool soon);

static void job_free(slurm_job *j)
{
    free(j->status_path);
    free(j);
}

/* Take j off the active list and report its end. */
static void job_done(slurm_executor *se, slurm_job *j)
{
    slurm_job **pp;
    for (pp = &se->jobs; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    j->task->priv = NULL;
    kiln_executor__done(&se->base, j->task);
    job_free(j);
}

static bool state_is(const char *state, const char *name)
{
    return strcmp(state, name) == 0;
}

/* Slurm states in which the job will not run again. COMPLETING is not one:
 * the job is still being cleaned up. */
static bool terminal(const char *state)
{
    static const char *const ends[] = {
        "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL",
        "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "PREEMPTED",
    };
    for (size_t i = 0; i < KILN_ARRAY_SIZE(ends); i++)
        if (state_is(state, ends[i]))
            return true;
    return false;
}

void kiln_executor__slurm_judge(kiln_task *t, const char *state,
                                const char *why, bool cancelling,
                                const char *status_path)
{
    const char *id = t->external_id;
    bool have = kiln_executor__read_status(t, status_path);
    const char *lost = NULL, *killed = NULL;

    if (!state)
        lost = "is no longer known to Slurm";
    else if (state_is(state, "NODE_FAIL"))
        lost = "ended because its node failed (NODE_FAIL)";
    else if (state_is(state, "PREEMPTED"))
        lost = "was preempted and not requeued (PREEMPTED)";
    else if (state_is(state, "BOOT_FAIL"))
        lost = "could not boot its node (BOOT_FAIL)";
    else if (state_is(state, "DEADLINE"))
        lost = "missed its deadline (DEADLINE)";
    else if (state_is(state, "TIMEOUT"))
        killed = "reached its Slurm time limit (TIMEOUT)";
    else if (state_is(state, "OUT_OF_MEMORY"))
        killed = "ran out of memory (OUT_OF_MEMORY)";
    else if (state_is(state, "CANCELLED") && !cancelling)
        killed = "was cancelled outside kiln (CANCELLED)";

    if (cancelling) {
        /* The signal that ended it, or 0 if it exited on its own. */
        if (!have)
            t->term_signal = SIGTERM;
        t->outcome = KILN_TASK_CANCELED;
        snprintf(t->reason, sizeof(t->reason), "Slurm job %s cancelled",
                 id);
    } else if (killed) {
        t->outcome = KILN_TASK_SIGNALED;
        if (!have || !t->term_signal)
            t->term_signal = state_is(state, "OUT_OF_MEMORY") ? SIGKILL
                                                               : SIGTERM;
        snprintf(t->reason, sizeof(t->reason), "Slurm job %s %s", id,
                 killed);
    } else if (lost && !(have && !state)) {
        t->outcome = KILN_TASK_LOST;
        snprintf(t->reason, sizeof(t->reason), "Slurm job %s %s%s", id,
                 lost, have ? "" : " and left no exit status");
    } else if (!have) {
        /* COMPLETED or FAILED, yet the script wrote nothing where kiln
         * reads: it failed before the command, or the node sees another
         * file system. */
        t->outcome = KILN_TASK_LOST;
        snprintf(t->reason, sizeof(t->reason), "Slurm job %s ended %s%s%s "
                 "without writing %s (is the state directory on a file "
                 "system the nodes share?)", id, state,
                 why && *why && strcmp(why, "None") != 0 ? " " : "",
                 why && strcmp(why, "None") != 0 ? why : "", status_path);
    }
}

/* The job ended as Slurm says (state NULL: Slurm no longer knows it). */
static void job_ended(slurm_executor *se, slurm_job *j, const char *state,
                      const char *why)
{
    kiln_executor__slurm_judge(j->task, state, why, j->cancelling,
                               j->status_path);
    job_done(se, j);
}

static slurm_job *find_job(slurm_executor *se, const char *id, size_t n)
{
    for (slurm_job *j = se->jobs; j; j = j->next)
        if (strlen(j->task->external_id) == n &&
            memcmp(j->task->external_id, id, n) == 0)
            return j;
    return NULL;
}

/* squeue -o "%i|%T|%r" for every active job: one line per job it knows. */
static void on_squeue(int status, const char *out, void *data)
{
    slurm_executor *se = data;
    bool changed = false, answered;
    slurm_job *j, *next;

    se->querying = false;
    /* With one unknown id among known ones squeue lists the known ones;
     * with only unknown ids it fails with "Invalid job id". Anything else
     * is the controller not answering: try again later. */
    answered = status == 0 || strstr(out, "Invalid job id") != NULL;
    for (j = se->jobs; j; j = j->next) {
        j->misses += answered && j->queried;
        j->queried = false;
    }
    for (const char *line = out; answered && *line;) {
        const char *eol = strchr(line, '\n'), *bar1, *bar2;
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        char state[32], why[64];
        bar1 = memchr(line, '|', len);
        bar2 = bar1 ? memchr(bar1 + 1, '|', len - (size_t)(bar1 + 1 - line))
                    : NULL;
        if (bar2 && (j = find_job(se, line, (size_t)(bar1 - line)))) {
            snprintf(state, sizeof(state), "%.*s", (int)(bar2 - bar1 - 1),
                     bar1 + 1);
            snprintf(why, sizeof(why), "%.*s",
                     (int)(len - (size_t)(bar2 + 1 - line)), bar2 + 1);
            j->misses = 0;
            if (strcmp(state, j->state) != 0) {
                changed = true;
                snprintf(j->state, sizeof(j->state), "%s", state);
            }
            if (terminal(state))
                job_ended(se, j, state, why);
        }
        line = eol ? eol + 1 : line + len;
    }
    for (j = se->jobs; j; j = next) {
        next = j->next;
        if (j->misses >= MAX_MISSES) {
            changed = true;
            job_ended(se, j, NULL, NULL);
        }
    }
    if (changed || se->soon)
        se->interval_ms = POLL_MIN_MS;
    else if ((se->interval_ms += se->interval_ms / 2) > se->max_interval_ms)
        se->interval_ms = se->max_interval_ms;
    poll_start(se, false);
}

static void on_timer_close(uv_handle_t *h)
{
    free(h);
}

static void on_poll(uv_timer_t *timer)
{
    slurm_executor *se = timer->data;
    kiln_buf ids = KILN_BUF_INIT;
    char *argv[9];
    int rc;

    if (!se->jobs || se->querying)
        return;
    for (slurm_job *j = se->jobs; j; j = j->next) {
        kiln_buf_printf(&ids, "%s%s", ids.len ? "," : "",
                        j->task->external_id);
        j->queried = true;
    }
    argv[0] = se->squeue;
    argv[1] = "--noheader";
    argv[2] = "--states=all";
    argv[3] = "--jobs";
    argv[4] = ids.ptr;
    argv[5] = "--format";
    argv[6] = "%i|%T|%r";
    argv[7] = NULL;
    rc = child_spawn(se->base.loop, argv, on_squeue, se);
    kiln_buf_dispose(&ids);
    se->soon = false;
    if (rc == 0) {
        se->querying = true;
        return;
    }
    for (slurm_job *j = se->jobs; j; j = j->next)
        j->queried = false;
    /* squeue could not even start; keep trying, slowly. */
    se->interval_ms = se->max_interval_ms;
    poll_start(se, false);
}

/* Arm the poll timer (soon: at the shortest interval), or close it when no
 * job is left. */
static void poll_start(slurm_executor *se, bool soon)
{
    if (!se->jobs) {
        if (se->timer) {
            uv_close((uv_handle_t *)se->timer, on_timer_close);
            se->timer = NULL;
        }
        return;
    }
    if (soon) {
        se->interval_ms = POLL_MIN_MS;
        se->soon = true;
    }
    if (!se->timer) {
        se->timer = kiln_malloc(sizeof(*se->timer));
        uv_timer_init(se->base.loop, se->timer);
        se->timer->data = se;
    }
    if (se->querying)
        return; /* on_squeue arms it again */
    if (soon || !uv_is_active((uv_handle_t *)se->timer))
        uv_timer_start(se->timer, on_poll, se->interval_ms, 0);
}

static slurm_job *job_add(slurm_executor *se, kiln_task *task,
                          char *status_path)
{
    slurm_job *j = kiln_calloc(1, sizeof(*j));
    j->task = task;
    j->status_path = status_path;
    j->next = se->jobs;
    se->jobs = j;
    task->priv = j;
    poll_start(se, true);
    return j;
}

/* The executor. */

static char *sbatch_opt(const char *name, const char *value)
{
    return kiln_asprintf("--%s=%s", name, value);
}

static int slurm_start(kiln_executor *ex, kiln_task *task, kiln_err *err)
{
    slurm_executor *se = (slurm_executor *)ex;
    kiln_buf text = KILN_BUF_INIT, out = KILN_BUF_INIT;
    char *status_path = task->status_path ? kiln_strdup(task->status_path)
                                          : beside(task->log_path,
                                                   ".status");
    char *script = beside(task->log_path, ".sbatch");
    char **argv = kiln_calloc(24 + task->n_extra, sizeof(char *));
    size_t n = 0, first_owned;
    int status, rc = 0;
    char *end;
    long id;

    script_text(&text, se, task, status_path);
    unlink(status_path);
    if ((rc = write_script(script, kiln_buf_cstr(&text), err)) != 0)
        goto out;
    argv[n++] = se->sbatch;
    argv[n++] = "--parsable";
    argv[n++] = "--export=ALL";
    argv[n++] = "--open-mode=append";
    first_owned = n;
    argv[n++] = sbatch_opt("output", task->log_path);
    argv[n++] = sbatch_opt("error", task->log_path);
    if (task->workdir)
        argv[n++] = sbatch_opt("chdir", task->workdir);
    if (task->name)
        argv[n++] = sbatch_opt("job-name", task->name);
    /* Names the attempt, so a kiln that dies before recording the job id
     * finds the job in the queue (slurm_attach() without one). */
    argv[n++] = kiln_asprintf("--comment=kiln:%s", status_path);
    if (task->cpus > 1)
        argv[n++] = kiln_asprintf("--cpus-per-task=%u", task->cpus);
    if (task->mem_mb)
        argv[n++] = kiln_asprintf("--mem=%lluM",
                                  (unsigned long long)task->mem_mb);
    if (task->gpus)
        argv[n++] = kiln_asprintf("--gres=gpu:%u", task->gpus);
    if (task->time_limit_ms > 0) /* minutes, rounded up */
        argv[n++] = kiln_asprintf("--time=%lld",
                                  (long long)((task->time_limit_ms + 59999) /
                                              60000));
    if (task->partition)
        argv[n++] = sbatch_opt("partition", task->partition);
    if (task->account)
        argv[n++] = sbatch_opt("account", task->account);
    if (task->qos)
        argv[n++] = sbatch_opt("qos", task->qos);
    for (size_t i = 0; i < task->n_extra; i++)
        argv[n++] = kiln_strdup(task->extra[i]);
    argv[n++] = kiln_strdup(script);
    argv[n] = NULL;

    status = run_wait(argv, task->env, &out);
    /* "ID" or "ID;CLUSTER" */
    id = strtol(kiln_buf_cstr(&out), &end, 10);
    if (status < 0) {
        rc = kiln_err_set_os(err, "cannot run %s", se->sbatch);
    } else if (status != 0 || id <= 0 || (*end && *end != ';' &&
                                          *end != '\n')) {
        /* sbatch says why on its output, "sbatch: error: ..." */
        size_t len = out.len;
        while (len && (out.ptr[len - 1] == '\n' || out.ptr[len - 1] == ' '))
            len--;
        rc = kiln_err_set(err, KILN_ERROR, "sbatch failed: %.*s",
                          (int)len, len ? out.ptr : "no output");
    }
    for (size_t i = first_owned; i < n; i++)
        free(argv[i]);
    if (rc != 0)
        goto out;
    snprintf(task->external_id, sizeof(task->external_id), "%ld", id);
    task->started_ms = kiln_now_ms();
    job_add(se, task, status_path);
    status_path = NULL;
out:
    free(argv);
    free(status_path);
    free(script);
    kiln_buf_dispose(&text);
    kiln_buf_dispose(&out);
    return rc;
}

/*
 * The job of an attempt whose id was never recorded (kiln died between
 * sbatch and the record): in the queue by the comment naming its status
 * file, or, if it already ran and left the queue, by the id its script
 * wrote beside that file. Blocks on squeue once (crash recovery only).
 * KILN_ENOTFOUND when there is none: it was never submitted.
 */
static int find_queued(char *out, size_t size, slurm_executor *se,
                       const char *status_path, kiln_err *err)
{
    char *argv[] = {se->squeue, "--noheader", "--states=all",
                    "--format=%i|%k", NULL};
    char *want = kiln_asprintf("|kiln:%s", status_path), *idfile, *text;
    kiln_buf res = KILN_BUF_INIT;
    const char *line;
    int rc = KILN_ENOTFOUND;

    if (run_wait(argv, environ, &res) == 0) {
        for (line = kiln_buf_cstr(&res); *line;) {
            const char *nl = strchr(line, '\n');
            size_t len = nl ? (size_t)(nl - line) : strlen(line);
            const char *bar = memchr(line, '|', len);
            if (bar && (size_t)(line + len - bar) == strlen(want) &&
                strncmp(bar, want, strlen(want)) == 0 &&
                (size_t)(bar - line) < size) {
                snprintf(out, size, "%.*s", (int)(bar - line), line);
                rc = 0;
                break;
            }
            line += len + (nl != NULL);
        }
    }
    idfile = kiln_asprintf("%s.jobid", status_path);
    if (rc != 0 && kiln_read_file(&text, NULL, idfile, 64, err) == 0) {
        size_t n = strspn(text, "0123456789");
        if (n > 0 && n < size) {
            snprintf(out, size, "%.*s", (int)n, text);
            rc = 0;
        }
        free(text);
    }
    if (rc == KILN_ENOTFOUND)
        kiln_err_set(err, KILN_ENOTFOUND, "no Slurm job of %s",
                     status_path);
    free(idfile);
    free(want);
    kiln_buf_dispose(&res);
    return rc;
}

static int slurm_attach(kiln_executor *ex, kiln_task *task,
                        const char *external_id, kiln_err *err)
{
    slurm_executor *se = (slurm_executor *)ex;
    char found[32];
    size_t n;
    if (!external_id) {
        char *status_path = task->status_path
                                ? kiln_strdup(task->status_path)
                                : beside(task->log_path, ".status");
        int rc = find_queued(found, sizeof(found), se, status_path, err);
        free(status_path);
        if (rc != 0)
            return rc;
        external_id = found;
    }
    n = strspn(external_id, "0123456789");
    if (n == 0 || external_id[n] != '\0' || n >= sizeof(task->external_id))
        return kiln_err_set(err, KILN_EINVAL, "invalid Slurm job id \"%s\"",
                            external_id);
    snprintf(task->external_id, sizeof(task->external_id), "%s",
             external_id);
    job_add(se, task, task->status_path ? kiln_strdup(task->status_path)
                                        : beside(task->log_path, ".status"));
    return 0;
}

/* scancel: Slurm sends SIGTERM and SIGKILL KillWait seconds later; a
 * forced cancel also sends SIGKILL to everything in the job at once.
 * on_done follows once squeue says the job has ended. */
static void slurm_cancel(kiln_executor *ex, kiln_task *task, bool force)
{
    slurm_executor *se = (slurm_executor *)ex;
    slurm_job *j = task->priv;
    char *argv[5];
    size_t n = 0;
    if (!j)
        return;
    j->cancelling = true;
    argv[n++] = se->scancel;
    argv[n++] = task->external_id;
    argv[n] = NULL;
    /* If scancel cannot start, the job runs to its end, still watched. */
    child_spawn(ex->loop, argv, NULL, NULL);
    if (force) {
        argv[1] = "--full";
        argv[2] = "--signal=KILL";
        argv[3] = task->external_id;
        argv[4] = NULL;
        child_spawn(ex->loop, argv, NULL, NULL);
    }
    poll_start(se, true);
}

static void slurm_free(kiln_executor *ex)
{
    slurm_executor *se = (slurm_executor *)ex;
    /* No job is active, so the timer is closed or closing (it frees
     * itself); an squeue cannot be running either. */
    free(se->sbatch);
    free(se->squeue);
    free(se->scancel);
    free(se->shim);
    free(se);
}

static const struct kiln_executor_ops slurm_ops = {
    .name = "slurm",
    .start = slurm_start,
    .attach = slurm_attach,
    .cancel = slurm_cancel,
    .free = slurm_free,
};

/* A Slurm command: in KILN_SLURM_BIN when set, otherwise from PATH. */
static char *slurm_cmd(const char *name)
{
    const char *bin = getenv("KILN_SLURM_BIN");
    if (bin && *bin)
        return kiln_path_join(bin, name);
    return kiln_strdup(name);
}

/* The command's full path, or NULL when it cannot be run. */
static char *find_cmd(const char *name)
{
    char *cmd = slurm_cmd(name);
    const char *path = getenv("PATH");
    if (strchr(cmd, '/'))
        return access(cmd, X_OK) == 0 ? cmd : (free(cmd), NULL);
    for (const char *p = path ? path : ""; *p;) {
        size_t len = strcspn(p, ":");
        char *dir = kiln_strndup(p, len);
        char *full = kiln_path_join(len ? dir : ".", cmd);
        free(dir);
        if (access(full, X_OK) == 0) {
            free(cmd);
            return full;
        }
        free(full);
        p += len + (p[len] == ':');
    }
    free(cmd);
    return NULL;
}

int kiln_executor__slurm_check(kiln_err *err)
{
    static const char *const cmds[] = {"sbatch", "squeue", "scancel"};
    const char *bin = getenv("KILN_SLURM_BIN");
    for (size_t i = 0; i < KILN_ARRAY_SIZE(cmds); i++) {
        char *path = find_cmd(cmds[i]);
        if (!path)
            return kiln_err_set(err, KILN_ERROR, "the slurm executor needs "
                                "%s, which is not %s%s (set KILN_SLURM_BIN "
                                "to the directory holding Slurm's "
                                "commands)", cmds[i],
                                bin && *bin ? "in " : "in PATH",
                                bin && *bin ? bin : "");
        free(path);
    }
    return 0;
}

/* kiln-shim lives beside the kiln binary; KILN_SHIM overrides. */
static char *find_shim(void)
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
    return path;
}

kiln_executor *kiln_executor__slurm_new(uv_loop_t *loop)
{
    slurm_executor *se = kiln_calloc(1, sizeof(*se));
    const char *max = getenv("KILN_SLURM_POLL_MAX_MS");
    (void)loop;
    se->base.ops = &slurm_ops;
    se->sbatch = slurm_cmd("sbatch");
    se->squeue = slurm_cmd("squeue");
    se->scancel = slurm_cmd("scancel");
    se->shim = find_shim();
    se->max_interval_ms = max && atoi(max) >= POLL_MIN_MS
                              ? (uint64_t)atoi(max) : POLL_MAX_MS;
    se->interval_ms = POLL_MIN_MS;
    return &se->base;
}
