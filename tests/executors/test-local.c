/* test-local.c: the local executor on a real loop. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "executors/executor.h"
#include "executors/shim/kiln-shim.h"

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
/* Sleeps unique to this process: the test runs twice side by side (pidfd
 * and uv_spawn), and each looks for leftover processes by name. */
static char sleeps[4][64], gone[4][80];
static char dir[] = "/tmp/kiln-local.XXXXXX";

static void on_done(kiln_task *task, void *data)
{
    (void)task;
    (void)data;
    done_count++;
}

/* The spare file the next start() hands its task (then NULL again). */
static const char *next_spare;

/* Start argv, under kiln-shim when status is not NULL. */
static void start(kiln_task *task, kiln_executor *ex, char **argv,
                  const char *status)
{
    static char log[256];
    kiln_err err = KILN_ERR_INIT;
    snprintf(log, sizeof(log), "%s/log", dir);
    unlink(log);
    memset(task, 0, sizeof(*task));
    task->argv = argv;
    task->env = environ;
    task->workdir = dir;
    task->log_path = log;
    task->status_path = status;
    task->spare_path = next_spare;
    next_spare = NULL;
    task->cpus = 1;
    done_count = 0;
    CHECK(kiln_executor_start(ex, task, &err) == 0);
    CHECK(atoi(task->external_id) > 0);
}

/* Run the loop until the task has ended. */
static void finish(uv_loop_t *loop, kiln_executor *ex)
{
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK(done_count == 1);
    CHECK(ex->active == 0);
}

/* Run argv to its end, under kiln-shim when status is not NULL; cancel
 * it after cancel_ms if >= 0. */
static void run_argv(kiln_task *task, uv_loop_t *loop, kiln_executor *ex,
                     char **argv, const char *status, int cancel_ms,
                     bool force)
{
    start(task, ex, argv, status);
    if (cancel_ms >= 0) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep((useconds_t)cancel_ms * 1000);
        kiln_executor_cancel(ex, task, force);
    }
    finish(loop, ex);
}

/* argv of sh -c cmd (one at a time). */
static char **sh_c(const char *cmd)
{
    static char *argv[4];
    argv[0] = "/bin/sh";
    argv[1] = "-c";
    argv[2] = (char *)cmd;
    argv[3] = NULL;
    return argv;
}

/* Run one shell command to its end; cancel it after cancel_ms if >= 0. */
static void run(kiln_task *task, uv_loop_t *loop, kiln_executor *ex,
                const char *cmd, int cancel_ms, bool force)
{
    run_argv(task, loop, ex, sh_c(cmd), NULL, cancel_ms, force);
}

/* True once nothing matches a pgrep command line: processes killed from
 * outside their parent take a moment to go. */
static bool vanished(const char *pgrep)
{
    for (int i = 0; i < 40 && system(pgrep) == 0; i++)
        usleep(50000);
    return system(pgrep) != 0;
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

/* Start kiln-shim the way an earlier kiln would have; returns its
 * "PID:START" id. */
static void start_shim(char *id, size_t size, const char *status,
                       const char *cmd)
{
    const char *shim = getenv("KILN_SHIM");
    char path[64], buf[1024], *p;
    unsigned long long start = 0;
    pid_t pid;
    FILE *f;
    CHECK(shim != NULL);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        setsid();
        execl(shim, shim, status, "/bin/sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    usleep(50000);
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    CHECK((f = fopen(path, "r")) != NULL);
    CHECK(fgets(buf, sizeof(buf), f) != NULL);
    fclose(f);
    p = strrchr(buf, ')');
    for (int field = 2; field < 22; field++)
        p = strchr(p + 1, ' ');
    sscanf(p + 1, "%llu", &start);
    snprintf(id, size, "%d:%llu", (int)pid, start);
}

static void attach(kiln_task *task, uv_loop_t *loop, kiln_executor *ex,
                   const char *id, const char *status)
{
    kiln_err err = KILN_ERR_INIT;
    memset(task, 0, sizeof(*task));
    task->status_path = status;
    done_count = 0;
    CHECK(kiln_executor_attach(ex, task, id, &err) == 0);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK(done_count == 1);
}

/* Crash recovery: finding shims again by pid and start time. */
static void test_attach(uv_loop_t *loop, kiln_executor *ex)
{
    char status[300], id[64], stale[80];
    kiln_task task;
    kiln_err err = KILN_ERR_INIT;
    int st;

    snprintf(status, sizeof(status), "%s/status", dir);
    /* Still running: watched to its end, status read from the file. */
    start_shim(id, sizeof(id), status, "sleep 0.4; exit 5");
    attach(&task, loop, ex, id, status);
    CHECK(task.outcome == KILN_TASK_EXITED && task.exit_code == 5);
    waitpid(atoi(id), &st, 0);
    /* Already ended: the status file tells. */
    attach(&task, loop, ex, id, status);
    CHECK(task.outcome == KILN_TASK_EXITED && task.exit_code == 5);
    /* Killed by a signal. */
    start_shim(id, sizeof(id), status, "kill -TERM $$");
    waitpid(atoi(id), &st, 0);
    attach(&task, loop, ex, id, status);
    CHECK(task.outcome == KILN_TASK_SIGNALED && task.term_signal == SIGTERM);
    /* Gone without a word: lost. */
    unlink(status);
    attach(&task, loop, ex, id, status);
    CHECK(task.outcome == KILN_TASK_LOST);
    CHECK(strstr(task.reason, "no exit status") != NULL);
    /* A recycled pid (same pid, other start time) is not the step. */
    snprintf(stale, sizeof(stale), "%d:1", (int)getpid());
    attach(&task, loop, ex, stale, status);
    CHECK(task.outcome == KILN_TASK_LOST);
    /* Cancelling an attached task stops its group. */
    start_shim(id, sizeof(id), status, sleeps[3]);
    memset(&task, 0, sizeof(task));
    task.status_path = status;
    done_count = 0;
    CHECK(kiln_executor_attach(ex, &task, id, &err) == 0);
    kiln_executor_cancel(ex, &task, false);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK(done_count == 1 && task.outcome == KILN_TASK_CANCELED);
    waitpid(atoi(id), &st, 0);
    CHECK(system(gone[3]) != 0);
    CHECK(kiln_executor_attach(ex, &task, "garbage", &err) == KILN_EINVAL);
    unlink(status);
}

/* How many processes are exactly "sleep 40PID<tag><digit>": the escapes
 * of one test below, and nothing whose command line only mentions them. */
static int sleeping(int tag)
{
    char cmd[128], buf[32] = "";
    FILE *p;
    snprintf(cmd, sizeof(cmd), "pgrep -fc '^sleep 40%d%d[0-9]$'",
             (int)getpid(), tag);
    CHECK((p = popen(cmd, "r")) != NULL);
    if (!fgets(buf, sizeof(buf), p))
        buf[0] = '\0';
    pclose(p);
    return atoi(buf);
}

/* A command that leaves three processes behind, each out of reach of its
 * process group or its parent: a new session (setsid), a double fork,
 * nohup in a new session. It waits until the three run, says so in the
 * log, then runs tail. before runs first. */
static void escapes(char *buf, size_t size, int tag, const char *before,
                    const char *tail)
{
    int m = (int)getpid();
    snprintf(buf, size,
             "%s setsid sleep 40%d%d1 & sh -c '(sleep 40%d%d2 &) &'; "
             "nohup setsid sleep 40%d%d3 >/dev/null 2>&1 & i=0; "
             "while [ $(pgrep -fc '^sleep 40%d%d[0-9]$') -lt 3 ] && "
             "[ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done; "
             "echo escaped $(pgrep -fc '^sleep 40%d%d[0-9]$'); %s",
             before, m, tag, m, tag, m, tag, m, tag, m, tag, tail);
}

/* Let the loop run until n sleeps of tag run. */
static void wait_sleeping(uv_loop_t *loop, int tag, int n)
{
    for (int i = 0; i < 100 && sleeping(tag) < n; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(50000);
    }
    CHECK(sleeping(tag) == n);
}

/* Under kiln-shim nothing a step started outlives it: not at its end, not
 * when it is cancelled, gracefully or not. */
static void test_escape(uv_loop_t *loop, kiln_executor *ex)
{
    char status[300], cmd[1024], tail[64], id[64];
    kiln_task task;
    kiln_err err = KILN_ERR_INIT;
    int st;

    snprintf(status, sizeof(status), "%s/status", dir);
    /* The command exits: the escapes go, its exit status stays. */
    escapes(cmd, sizeof(cmd), 5, "", "exit 4");
    run_argv(&task, loop, ex, sh_c(cmd), status, -1, false);
    CHECK(task.outcome == KILN_TASK_EXITED && task.exit_code == 4);
    CHECK(strstr(slurp(task.log_path), "escaped 3\n") != NULL);
    CHECK(sleeping(5) == 0);
    CHECK(strcmp(slurp(status), "exit 4\n") == 0);

    /* A graceful cancel: SIGTERM ends the command, then the rest go. */
    snprintf(tail, sizeof(tail), "sleep 40%d69", (int)getpid());
    escapes(cmd, sizeof(cmd), 6, "", tail);
    start(&task, ex, sh_c(cmd), status);
    wait_sleeping(loop, 6, 4);
    kiln_executor_cancel(ex, &task, false);
    finish(loop, ex);
    CHECK(task.outcome == KILN_TASK_CANCELED);
    CHECK(task.term_signal == SIGTERM);
    CHECK(sleeping(6) == 0);

    /* A forced cancel of a command deaf to SIGTERM. */
    snprintf(tail, sizeof(tail), "sleep 40%d79", (int)getpid());
    escapes(cmd, sizeof(cmd), 7, "trap '' TERM;", tail);
    start(&task, ex, sh_c(cmd), status);
    wait_sleeping(loop, 7, 4);
    kiln_executor_cancel(ex, &task, true);
    finish(loop, ex);
    CHECK(task.outcome == KILN_TASK_CANCELED);
    CHECK(task.term_signal == SIGKILL);
    CHECK(sleeping(7) == 0);
    CHECK(strcmp(slurp(status), "signal 9\n") == 0);

    /* The same for a shim an earlier kiln started. */
    snprintf(tail, sizeof(tail), "sleep 40%d89", (int)getpid());
    escapes(cmd, sizeof(cmd), 8, "trap '' TERM;", tail);
    start_shim(id, sizeof(id), status, cmd);
    memset(&task, 0, sizeof(task));
    task.status_path = status;
    done_count = 0;
    CHECK(kiln_executor_attach(ex, &task, id, &err) == 0);
    wait_sleeping(loop, 8, 4);
    kiln_executor_cancel(ex, &task, true);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK(done_count == 1 && task.outcome == KILN_TASK_CANCELED);
    waitpid(atoi(id), &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    CHECK(sleeping(8) == 0);
    CHECK(strcmp(slurp(status), "signal 9\n") == 0);
    unlink(status);
}

static void write_file(const char *name, const char *text, mode_t mode)
{
    char path[300];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    CHECK((f = fopen(path, "w")) != NULL);
    fputs(text, f);
    fclose(f);
    CHECK(chmod(path, mode) == 0);
}

static void remove_file(const char *name)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    unlink(path);
}

/* A script without a "#!" line runs under /bin/sh, as execvp would run
 * it, found by its path or in PATH, with its exit status; a file that
 * cannot be executed at all still fails and says why. status: run under
 * kiln-shim. */
static void test_noexec(uv_loop_t *loop, kiln_executor *ex,
                        const char *status)
{
    char *rel[] = {"./prep.sh", "a", "b c", NULL};
    char *bare[] = {"prep.sh", "d", NULL};
    char *data[] = {"./data.txt", NULL};
    char *path = kiln_strdup(getenv("PATH"));
    char *found = kiln_asprintf("%s:%s", dir, path);
    kiln_task task;
    kiln_err err = KILN_ERR_INIT;

    write_file("prep.sh", "printf '[%s]' \"$0\" \"$@\"; echo; exit 7\n",
               0755);
    write_file("data.txt", "echo never\n", 0644);
    run_argv(&task, loop, ex, rel, status, -1, false);
    CHECK(task.outcome == KILN_TASK_EXITED && task.exit_code == 7);
    CHECK(strcmp(slurp(task.log_path), "[./prep.sh][a][b c]\n") == 0);

    setenv("PATH", found, 1);
    run_argv(&task, loop, ex, bare, status, -1, false);
    setenv("PATH", path, 1);
    CHECK(task.outcome == KILN_TASK_EXITED && task.exit_code == 7);
    CHECK(strstr(slurp(task.log_path), "/prep.sh][d]\n") != NULL);

    if (status) {
        /* The shim's child cannot exec it: 126, and why in the log. */
        run_argv(&task, loop, ex, data, status, -1, false);
        CHECK(task.outcome == KILN_TASK_EXITED && task.exit_code == 126);
        CHECK(strstr(slurp(task.log_path), "./data.txt: Permission denied")
              != NULL);
        unlink(status);
    } else {
        memset(&task, 0, sizeof(task));
        task.argv = data;
        task.env = environ;
        task.workdir = dir;
        task.log_path = "/dev/null";
        done_count = 0;
        CHECK(kiln_executor_start(ex, &task, &err) == KILN_ERROR);
        CHECK(strstr(err.msg, "./data.txt: Permission denied") != NULL);
        uv_run(loop, UV_RUN_DEFAULT);
        CHECK(done_count == 0 && ex->active == 0);
    }
    remove_file("prep.sh");
    remove_file("data.txt");
    free(found);
    free(path);
}

/* Found again by its status file alone, ended already, and cancelled at
 * once (kiln abandon): there is no process to signal. In a process group
 * of its own, so a signal to "group 0" would show. */
static void test_attach_ended(void)
{
    char status[300];
    pid_t pid;
    int st;

    snprintf(status, sizeof(status), "%s/ended.status", dir);
    write_file("ended.status", "exit 3\n", 0644);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        uv_loop_t loop;
        kiln_executor *ex;
        kiln_task task;
        kiln_err err = KILN_ERR_INIT;
        CHECK(setpgid(0, 0) == 0);
        uv_loop_init(&loop);
        CHECK(kiln_executor_new(&ex, "local", &loop, on_done, NULL,
                                &err) == 0);
        memset(&task, 0, sizeof(task));
        task.status_path = status;
        done_count = 0;
        CHECK(kiln_executor_attach(ex, &task, NULL, &err) == 0);
        kiln_executor_cancel(ex, &task, false);
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(done_count == 1 && ex->active == 0);
        kiln_executor_free(ex);
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(uv_loop_close(&loop) == 0);
        exit(0);
    }
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    remove_file("ended.status");
}

/* The parent of pid, from /proc. */
static int parent_of(int pid)
{
    char path[64], buf[512], *p;
    int ppid = 0;
    FILE *f;
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if (!(f = fopen(path, "r")))
        return 0;
    if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) != NULL)
        sscanf(p + 1, " %*c %d", &ppid);
    fclose(f);
    return ppid;
}

/* The supervisor's pid in a task's "PID:START@SPID:SSTART". */
static int supervisor_of(const kiln_task *task)
{
    const char *at = strchr(task->external_id, '@');
    return at ? atoi(at + 1) : 0;
}

/* Steps with a status file run under one kiln-shim --serve for the
 * executor, which outlives a kiln killed mid-step: the kiln that takes
 * over reads how the step ended, by its id or by its status file alone.
 * A supervisor that dies loses its steps, and the next step gets a new
 * one. */
static void test_supervisor(uv_loop_t *loop, kiln_executor *ex)
{
    char status[300], status2[300], id[64] = "";
    char *slow[] = {"/bin/sh", "-c", "sleep 0.3; exit 2", NULL};
    kiln_task a, b;
    int sup, fds[2], st;
    pid_t pid;

    snprintf(status, sizeof(status), "%s/sup.status", dir);
    snprintf(status2, sizeof(status2), "%s/sup2.status", dir);
    /* Two steps at once: one supervisor, the parent of both commands. */
    start(&a, ex, slow, status);
    start(&b, ex, sh_c("exit 3"), status2);
    sup = supervisor_of(&a);
    CHECK(sup > 0 && sup == supervisor_of(&b));
    CHECK(parent_of(atoi(a.external_id)) == sup);
    CHECK(strncmp(slurp(status), "running ", 8) == 0);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK(done_count == 2 && ex->active == 0);
    CHECK(a.outcome == KILN_TASK_EXITED && a.exit_code == 2);
    CHECK(b.outcome == KILN_TASK_EXITED && b.exit_code == 3);
    CHECK(strcmp(slurp(status), "exit 2\n") == 0);

    /* A finished attempt's status file handed over as a spare becomes
     * the next one's, renamed rather than created, and says how the new
     * one ended; a spare that is not there, a new file. */
    {
        char status3[300];
        struct stat was, now;
        snprintf(status3, sizeof(status3), "%s/sup3.status", dir);
        CHECK(stat(status, &was) == 0);
        next_spare = status;
        run_argv(&b, loop, ex, sh_c("exit 4"), status3, -1, false);
        CHECK(b.outcome == KILN_TASK_EXITED && b.exit_code == 4);
        CHECK(access(status, F_OK) != 0);
        CHECK(stat(status3, &now) == 0 && now.st_ino == was.st_ino);
        CHECK(strcmp(slurp(status3), "exit 4\n") == 0);
        next_spare = status;
        run_argv(&b, loop, ex, sh_c("exit 5"), status, -1, false);
        CHECK(b.outcome == KILN_TASK_EXITED && b.exit_code == 5);
        CHECK(strcmp(slurp(status), "exit 5\n") == 0);
        unlink(status3);
    }

    /* kiln dies with two steps running (a child that exits without a
     * word): the supervisor runs them to their end. */
    CHECK(pipe(fds) == 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char *five[] = {"/bin/sh", "-c", "sleep 0.5; exit 5", NULL};
        char *six[] = {"/bin/sh", "-c", "sleep 0.5; exit 6", NULL};
        uv_loop_t l2;
        kiln_executor *e2;
        kiln_task t1, t2;
        kiln_err err = KILN_ERR_INIT;
        uv_loop_init(&l2);
        CHECK(kiln_executor_new(&e2, "local", &l2, on_done, NULL, &err) ==
              0);
        start(&t1, e2, five, status);
        start(&t2, e2, six, status2);
        CHECK(write(fds[1], t1.external_id, sizeof(t1.external_id)) ==
              (ssize_t)sizeof(t1.external_id));
        _exit(0);
    }
    close(fds[1]);
    CHECK(read(fds[0], id, sizeof(id)) == (ssize_t)sizeof(id));
    close(fds[0]);
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(strchr(id, '@') != NULL);
    /* Taken over by its id... */
    attach(&a, loop, ex, id, status);
    CHECK(a.outcome == KILN_TASK_EXITED && a.exit_code == 5);
    /* ... and by its status file alone (the id never recorded). */
    attach(&b, loop, ex, NULL, status2);
    CHECK(b.outcome == KILN_TASK_EXITED && b.exit_code == 6);
    CHECK(strcmp(slurp(status2), "exit 6\n") == 0);

    /* The supervisor is killed: its step is lost and stopped. */
    start(&a, ex, sh_c(sleeps[3]), status);
    sup = supervisor_of(&a);
    CHECK(sup > 0 && kill(sup, SIGKILL) == 0);
    finish(loop, ex);
    CHECK(a.outcome == KILN_TASK_LOST);
    CHECK(strstr(a.reason, "kiln-shim") != NULL);
    CHECK(vanished(gone[3]));
    run_argv(&b, loop, ex, sh_c("exit 0"), status2, -1, false);
    CHECK(b.outcome == KILN_TASK_EXITED && b.exit_code == 0);
    CHECK(supervisor_of(&b) > 0 && supervisor_of(&b) != sup);
    unlink(status);
    unlink(status2);
}

/* A start request that kiln sent just before it died is dropped: the
 * supervisor, stopped while "kiln" sends it and closes its sockets,
 * starts nothing and leaves no status file, so the kiln that takes over
 * finds none and runs the step, once. */
static void test_dropped_request(void)
{
    const char *shim = getenv("KILN_SHIM");
    char status[300], marker[300], cmd[400], msg[2048], spare[300];
    struct kiln_shim_req req;
    struct kiln_shim_event hello;
    size_t len = 0;
    int rq[2], ev[2], st, log;
    pid_t pid;

    CHECK(shim != NULL);
    snprintf(status, sizeof(status), "%s/drop.status", dir);
    snprintf(marker, sizeof(marker), "%s/drop.ran", dir);
    snprintf(spare, sizeof(spare), "%s/drop.spare", dir);
    write_file("drop.spare", "exit 0\n", 0644);
    snprintf(cmd, sizeof(cmd), "touch %s", marker);
    /* Close-on-exec: the supervisor keeps only its own ends (3 and 4),
     * or it would never see kiln's close. */
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rq) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ev) == 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int a = fcntl(rq[1], F_DUPFD_CLOEXEC, 10);
        int b = fcntl(ev[1], F_DUPFD_CLOEXEC, 10);
        dup2(a, KILN_SHIM_REQ_FD);
        dup2(b, KILN_SHIM_EV_FD);
        execl(shim, shim, "--serve", (char *)NULL);
        _exit(127);
    }
    close(rq[1]);
    close(ev[1]);
    CHECK(recv(ev[0], &hello, sizeof(hello), 0) == (ssize_t)sizeof(hello));
    CHECK(hello.slot == KILN_SHIM_HELLO);
    CHECK(kill(pid, SIGSTOP) == 0);
    CHECK(waitpid(pid, &st, WUNTRACED) == pid && WIFSTOPPED(st));

    memset(&req, 0, sizeof(req));
    req.argc = 3;
    memcpy(msg, &req, sizeof(req));
    len = sizeof(req);
    {
        /* With a spare file, which it would have renamed. */
        const char *parts[] = {status, spare, dir, "/bin/sh", "-c", cmd};
        for (size_t i = 0; i < 6; i++) {
            memcpy(msg + len, parts[i], strlen(parts[i]) + 1);
            len += strlen(parts[i]) + 1;
        }
    }
    log = open("/dev/null", O_WRONLY);
    CHECK(kiln_shim_send(rq[0], msg, len, log) == (ssize_t)len);
    close(log);
    /* kiln dies: its sockets close with the request unread. */
    close(rq[0]);
    close(ev[0]);
    CHECK(kill(pid, SIGCONT) == 0);
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    usleep(200000);
    CHECK(access(status, F_OK) != 0);
    CHECK(access(marker, F_OK) != 0);
}

int main(void)
{
    uv_loop_t loop;
    kiln_executor *ex;
    kiln_task task;
    kiln_err err = KILN_ERR_INIT;
    char log[300], status[300];

    CHECK(mkdtemp(dir) != NULL);
    snprintf(log, sizeof(log), "%s/log", dir);
    /* sleep 40PID1 & sleep 40PID2, and a pgrep that cannot match itself
     * (the [1] in its pattern is not in its own command line). */
    snprintf(sleeps[0], sizeof(sleeps[0]), "sleep 40%d1 & sleep 40%d2",
             (int)getpid(), (int)getpid());
    snprintf(gone[0], sizeof(gone[0]), "pgrep -f 'sleep 40%d[12]' >/dev/null",
             (int)getpid());
    snprintf(sleeps[3], sizeof(sleeps[3]), "sleep 40%d4", (int)getpid());
    snprintf(gone[3], sizeof(gone[3]), "pgrep -f 'sleep 40%d[4]' >/dev/null",
             (int)getpid());
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
    run(&task, &loop, ex, sleeps[0], 100, false);
    CHECK(task.outcome == KILN_TASK_CANCELED);
    CHECK(task.term_signal == SIGTERM);
    CHECK(vanished(gone[0]));

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

    test_attach(&loop, ex);
    test_attach_ended();
    test_noexec(&loop, ex, NULL);
    snprintf(status, sizeof(status), "%s/status", dir);
    test_noexec(&loop, ex, status);
    test_escape(&loop, ex);
    test_supervisor(&loop, ex);
    test_dropped_request();

    kiln_executor_free(ex);
    uv_run(&loop, UV_RUN_DEFAULT); /* its handles close */
    CHECK(uv_loop_close(&loop) == 0);
    unlink(log);
    rmdir(dir);
    printf("ok\n");
    return 0;
}
