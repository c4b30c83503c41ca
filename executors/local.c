/*
 * local.c: steps as local processes.
 *
 * Each task is spawned in a new session (setsid), so it leads a new
 * process group and a cancel reaches everything it started: SIGTERM to
 * the group, SIGKILL after KILN_KILL_GRACE_MS. stdout and stderr go
 * straight to the attempt's log file (the child inherits the descriptor),
 * so output never passes through the loop. A program that is a script
 * without "#!" runs with /bin/sh, as execvp runs it.
 *
 * With a status_path the command's end must outlive kiln. Such a task is
 * started by the executor's supervisor, one kiln-shim --serve for all of
 * them (kiln-shim.h): kiln sends it the command and the log's descriptor
 * and gets the pid back; the supervisor, the command's parent, writes the
 * status file and sends the end as an event, read on the loop. It kills
 * whatever the command left behind, also the processes that left its
 * process group, before it records the end. The external id is
 * "PID:START@SPID:SSTART": the command's pid and start time (clock ticks
 * since boot, from /proc) and its supervisor's, so a daemon started again
 * after a crash can attach to a command that still runs without
 * mistaking a recycled pid for it, and wait for the supervisor to write
 * how it ended.
 *
 * A task with secrets runs under a kiln-shim of its own (kiln-shim
 * STATUS --secrets FILE ...), which copies the output to the log with
 * their values masked, outside the loop too; so does every task when the
 * supervisor cannot be started. Its forced stop goes through the shim
 * (KILN_SHIM_KILL), which can still find what left the group; SIGKILL to
 * the group follows only if the shim has not ended SHIM_KILL_MS later.
 * Its id is "PID:START", the shim's. A task is done once its process has
 * ended and its handles are closed.
 */
#include "executor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "executors/shim/kiln-shim.h"

/* How long kiln-shim gets to kill a step's processes when asked, before
 * kiln kills the step's process group itself. */
#define SHIM_KILL_MS 2000
/* How often a kiln that took over a supervised step looks for its status
 * file once the command has ended. */
#define STATUS_POLL_MS 20
/* How long, once the command has ended, its live supervisor may take to
 * write the status (it kills what the command left first) before the
 * attempt counts as lost: a status file removed by hand never comes. */
#define STATUS_WAIT_MS 30000

typedef struct local_proc local_proc;
typedef struct local_executor local_executor;

/* kiln-shim --serve (kiln-shim.h), which starts the steps that have a
 * status file and no secrets: one process a step, not two. */
typedef struct supervisor {
    uv_poll_t poll;          /* readable: events (or its end) */
    local_executor *le;
    pid_t pid;
    uint64_t start;
    int req, ev;             /* the sockets */
    local_proc **slots;      /* the running steps, by slot */
    uint32_t n_slots;
    uint32_t *free_slots;    /* unused slots, a stack */
    uint32_t n_free;
    uint32_t n_running;      /* the poll keeps the loop alive while > 0 */
} supervisor;

struct local_executor {
    kiln_executor base;
    char *shim; /* path of kiln-shim */
    supervisor *sup;        /* NULL until the first step it starts */
    bool no_sup;            /* it could not be started: a shim a step */
    /* What posix_spawn does in the child, made once for a working
     * directory (glibc checks every descriptor of a file action against
     * RLIMIT_NOFILE as it is added: five getrlimit calls a spawn): stdin
     * from null_fd, stdout and stderr from out_fd, which each spawn points
     * at its log with one dup3. */
    int null_fd, out_fd;         /* -1 until the first spawn */
    char *fa_workdir;            /* the actions' chdir (NULL: none) */
    bool have_fa;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
};

struct local_proc {
    union {
        uv_process_t proc;  /* a process we spawned */
        uv_poll_t poll;     /* the pidfd of one we attached to */
        uv_handle_t handle;
    } u;
    bool attached;
    int pidfd;              /* attached: -1 when polling by timer */
    uv_timer_t timer;       /* SIGKILL after the grace period; attached
                               without a pidfd: the liveness poll too */
    kiln_executor *ex;
    kiln_task *task;
    pid_t pid;
    uint64_t start;         /* /proc start time of pid */
    int pending_closes;
    bool exited;
    bool cancelling;
    bool shim;              /* pid is a kiln-shim */
    bool shim_asked;        /* it was sent KILN_SHIM_KILL */
    int64_t kill_at;        /* monotonic ms for the next, stronger stop;
                               0 = not armed */
    bool supervised;        /* the supervisor started it: its end comes
                               as an event */
    bool await_status;      /* ended; its supervisor writes the status */
    int64_t await_until;    /* ...by then (mono_ms) */
    bool sup_died;          /* ... and died before it said how */
    uint32_t slot;          /* supervised: its slot */
    pid_t sup_pid;          /* attached to a supervised command: its */
    uint64_t sup_start;     /* supervisor, which writes the status */
};

static void on_timer(uv_timer_t *timer);
static int64_t mono_ms(void);

static void on_close(uv_handle_t *handle)
{
    local_proc *lp = handle->data;
    if (--lp->pending_closes > 0)
        return;
    if (lp->pidfd >= 0)
        close(lp->pidfd);
    if (lp->task) {
        kiln_task *task = lp->task;
        task->priv = NULL;
        kiln_executor__done(lp->ex, task);
    }
    free(lp);
}

static void kill_group(local_proc *lp, int sig)
{
    if (lp->pid > 0 && kill(-lp->pid, sig) != 0 && errno == ESRCH)
        kill(lp->pid, sig);
}

/* STATUS_WAIT_MS, or KILN_STATUS_WAIT seconds (tests). */
static int64_t status_wait_ms(void)
{
    const char *env = getenv("KILN_STATUS_WAIT");
    long s = env ? strtol(env, NULL, 10) : 0;
    return s > 0 && s < 86400 ? (int64_t)s * 1000 : STATUS_WAIT_MS;
}

/* The process ended (exit_status and term_signal as waitpid tells, or
 * from the status file when we only attached). */
static void ended(local_proc *lp, bool known, int64_t exit_status,
                  int term_signal)
{
    kiln_task *task = lp->task;
    bool have_status = false;

    if (!known && !lp->cancelling) {
        have_status = kiln_executor__read_status(task, task->status_path);
        if (!lp->await_status)
            lp->await_until = mono_ms() + status_wait_ms();
        if (!have_status && lp->sup_pid > 0 &&
            kiln_proc_start(lp->sup_pid) == lp->sup_start &&
            mono_ms() < lp->await_until) {
            /* A supervised command has ended: its supervisor kills what
             * it left behind and writes the status next. */
            lp->await_status = true;
            uv_timer_start(&lp->timer, on_timer, STATUS_POLL_MS, 0);
            return;
        }
    }
    lp->exited = true;
    if (known) {
        task->exit_code = (int)exit_status;
        task->term_signal = term_signal;
    }
    if (lp->cancelling) {
        /* Whatever the leader left behind in its group goes too (the pid
         * alone may be someone else's by now; 0: found ended, none). */
        if (lp->pid > 0)
            kill(-lp->pid, SIGKILL);
        task->outcome = KILN_TASK_CANCELED;
        snprintf(task->reason, sizeof(task->reason), "%s",
                 task->term_signal ? strsignal(task->term_signal)
                                   : "stopped");
    } else if (!known) {
        if (!have_status && lp->sup_died) {
            task->outcome = KILN_TASK_LOST;
            snprintf(task->reason, sizeof(task->reason),
                     "kiln-shim, which ran process %d, died before it "
                     "said how it ended", (int)lp->pid);
        } else if (!have_status && lp->await_status) {
            task->outcome = KILN_TASK_LOST;
            snprintf(task->reason, sizeof(task->reason),
                     "process %d ended and its kiln-shim wrote no exit "
                     "status in %d s (%s is gone?)", (int)lp->pid,
                     (int)(status_wait_ms() / 1000), task->status_path
                                                ? task->status_path : "");
        } else if (!have_status) {
            task->outcome = KILN_TASK_LOST;
            snprintf(task->reason, sizeof(task->reason),
                     "process %d ended while kiln was not watching and "
                     "left no exit status", (int)lp->pid);
        }
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
    uv_timer_stop(&lp->timer);
    uv_close(&lp->u.handle, on_close);
    uv_close((uv_handle_t *)&lp->timer, on_close);
}

static void on_proc_exit(uv_process_t *proc, int64_t exit_status,
                         int term_signal)
{
    /* kiln-shim exits the way the command did. */
    ended(proc->data, true, exit_status, term_signal);
}

/* The pidfd turned readable: the process ended. Reap it if it is our
 * child; otherwise (attached) the status file tells how it ended. */
static void on_pidfd(uv_poll_t *poll, int status, int events)
{
    local_proc *lp = poll->data;
    siginfo_t info;
    (void)status;
    (void)events;
    if (lp->exited)
        return;
    uv_poll_stop(poll);
    memset(&info, 0, sizeof(info));
    if (!lp->attached &&
        waitid((idtype_t)P_PIDFD, (id_t)lp->pidfd, &info, WEXITED) == 0) {
        if (info.si_code == CLD_EXITED)
            ended(lp, true, info.si_status, 0);
        else
            ended(lp, true, 0, info.si_status);
        return;
    }
    ended(lp, false, 0, 0);
}

static int64_t mono_ms(void)
{
    return (int64_t)(uv_hrtime() / 1000000);
}

/* The forced stop. A shim is asked to kill the command and everything
 * below it, also what left the group; the group's SIGKILL (which would
 * kill the shim first) comes SHIM_KILL_MS later if the shim still runs. */
static void kill_now(local_proc *lp)
{
    union sigval v;
    if (lp->pid <= 0)
        return; /* found ended: nothing to signal */
    if (lp->shim && !lp->shim_asked) {
        lp->shim_asked = true;
        v.sival_int = KILN_SHIM_MAGIC;
        if (sigqueue(lp->pid, KILN_SHIM_KILL, v) == 0) {
            lp->kill_at = mono_ms() + SHIM_KILL_MS;
            return;
        }
    }
    kill_group(lp, SIGKILL);
    lp->kill_at = 0;
}

/* The timer: the forced stop when the grace period is over, and for
 * attached processes without a pidfd, a check every second that they
 * still run. */
static void on_timer(uv_timer_t *timer)
{
    local_proc *lp = timer->data;
    if (lp->exited)
        return;
    if (lp->await_status) {
        ended(lp, false, 0, 0);
        return;
    }
    if (lp->kill_at && mono_ms() >= lp->kill_at)
        kill_now(lp);
    if (lp->attached && lp->pidfd < 0 &&
        (lp->pid <= 0 || kiln_proc_start(lp->pid) != lp->start)) {
        ended(lp, false, 0, 0);
        return;
    }
    if (lp->attached && lp->pidfd < 0)
        uv_timer_start(&lp->timer, on_timer, 1000, 0);
    else if (lp->kill_at)
        uv_timer_start(&lp->timer, on_timer,
                       (uint64_t)(lp->kill_at - mono_ms()), 0);
}

static local_proc *proc_new(kiln_executor *ex)
{
    local_proc *lp = kiln_calloc(1, sizeof(*lp));
    lp->ex = ex;
    lp->pidfd = -1;
    lp->u.handle.data = lp;
    lp->timer.data = lp;
    return lp;
}

/* Can this kernel give us pidfds (Linux 5.3)? Decided once.
 * KILN_NO_PIDFD=1 forces the portable path (tests cover both). */
static bool have_pidfd(void)
{
    static int have = -1;
    if (have < 0 && getenv("KILN_NO_PIDFD")) {
        have = 0;
    } else if (have < 0) {
        int fd = pidfd_open(getpid(), 0);
        have = fd >= 0;
        if (fd >= 0)
            close(fd);
    }
    return have;
}

/*
 * Spawn with posix_spawn (glibc's is vfork-like: no copy of kiln's page
 * tables, which makes starting a step several times cheaper than fork)
 * and watch the child through a pidfd on the loop. Returns 0 or a
 * positive errno.
 */
/* le's file actions for workdir (NULL: kiln's), made when they are not
 * those already. Returns 0 or a positive errno. */
static int spawn_actions(local_executor *le, const char *workdir)
{
    sigset_t none, all;
    if (le->have_fa && (workdir ? le->fa_workdir &&
                                  strcmp(workdir, le->fa_workdir) == 0
                                : !le->fa_workdir))
        return 0;
    if (le->null_fd < 0) {
        le->null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        le->out_fd = le->null_fd < 0 ? -1
                                     : fcntl(le->null_fd, F_DUPFD_CLOEXEC, 3);
        if (le->out_fd < 0) {
            int e = errno;
            if (le->null_fd >= 0)
                close(le->null_fd);
            le->null_fd = -1;
            return e;
        }
        posix_spawnattr_init(&le->attr);
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_setsigmask(&le->attr, &none);
        posix_spawnattr_setsigdefault(&le->attr, &all);
        posix_spawnattr_setflags(&le->attr, POSIX_SPAWN_SETSID |
                                 POSIX_SPAWN_SETSIGMASK |
                                 POSIX_SPAWN_SETSIGDEF);
    }
    if (le->have_fa)
        posix_spawn_file_actions_destroy(&le->fa);
    free(le->fa_workdir);
    le->fa_workdir = workdir ? kiln_strdup(workdir) : NULL;
    posix_spawn_file_actions_init(&le->fa);
    posix_spawn_file_actions_adddup2(&le->fa, le->null_fd, 0);
    posix_spawn_file_actions_adddup2(&le->fa, le->out_fd, 1);
    posix_spawn_file_actions_adddup2(&le->fa, le->out_fd, 2);
    if (workdir)
        posix_spawn_file_actions_addchdir_np(&le->fa, workdir);
    le->have_fa = true;
    return 0;
}

static int spawn_pidfd(local_proc *lp, char **argv, kiln_task *task, int fd)
{
    local_executor *le = (local_executor *)lp->ex;
    pid_t pid;
    int rc;

    if ((rc = spawn_actions(le, task->workdir)) != 0)
        return rc;
    if (dup3(fd, le->out_fd, O_CLOEXEC) < 0)
        return errno;
    rc = posix_spawnp(&pid, argv[0], &le->fa, &le->attr, argv,
                      (char **)task->env);
    if (rc != 0)
        return rc;
    lp->pid = pid;
    lp->pidfd = pidfd_open(pid, 0);
    if (lp->pidfd < 0 ||
        uv_poll_init(lp->ex->loop, &lp->u.poll, lp->pidfd) != 0) {
        /* Cannot happen once have_pidfd() said yes; do not leak it. */
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        if (lp->pidfd >= 0)
            close(lp->pidfd);
        lp->pidfd = -1;
        return EAGAIN;
    }
    uv_poll_start(&lp->u.poll, UV_READABLE, on_pidfd);
    return 0;
}

/* The portable way: libuv's fork-based uv_spawn. Returns 0 or a positive
 * errno; on error lp is released once its handle has closed. */
static int spawn_uv(local_proc *lp, char **argv, kiln_task *task, int fd)
{
    uv_process_options_t opts;
    uv_stdio_container_t stdio[3];
    int rc;

    memset(&opts, 0, sizeof(opts));
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = fd;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = fd;
    opts.exit_cb = on_proc_exit;
    opts.file = argv[0];
    opts.args = argv;
    opts.env = (char **)task->env;
    opts.cwd = task->workdir;
    opts.flags = UV_PROCESS_DETACHED;
    opts.stdio_count = 3;
    opts.stdio = stdio;

    rc = uv_spawn(lp->ex->loop, &lp->u.proc, &opts);
    if (rc != 0) {
        /* A failed uv_spawn still needs uv_close; no on_done follows. */
        lp->pending_closes = 1;
        uv_close(&lp->u.handle, on_close);
        return -rc; /* libuv's codes are negated errnos */
    }
    lp->pid = lp->u.proc.pid;
    return 0;
}

/* Spawn argv for task into a new *out, through a pidfd or the portable
 * way. Returns 0, or a positive errno and *out NULL. */
static int spawn(local_proc **out, kiln_executor *ex, char **argv,
                 kiln_task *task, int fd)
{
    local_proc *lp = proc_new(ex);
    int rc;
    if (!have_pidfd())
        rc = spawn_uv(lp, argv, task, fd); /* on error lp goes on close */
    else if ((rc = spawn_pidfd(lp, argv, task, fd)) != 0)
        free(lp);
    *out = rc == 0 ? lp : NULL;
    return rc;
}

/* The supervisor. */

static void sup_free(uv_handle_t *handle)
{
    supervisor *sup = handle->data;
    close(sup->ev);
    free(sup->slots);
    free(sup->free_slots);
    free(sup);
}

/* Wait for the supervisor's end (it is kiln's child), a second at most:
 * it exits once kiln has closed the sockets and its commands have ended. */
static void sup_reap(supervisor *sup)
{
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 1000; i++) {
        pid_t w = waitpid(sup->pid, NULL, WNOHANG);
        if (w != 0 && !(w < 0 && errno == EINTR))
            return;
        nanosleep(&ms, NULL);
    }
}

/* Close sup (kiln's side): the supervisor sees its sockets close. */
static void sup_close(supervisor *sup)
{
    if (sup->le->sup == sup)
        sup->le->sup = NULL;
    close(sup->req);
    uv_close((uv_handle_t *)&sup->poll, sup_free);
}

/* The supervisor has ended: its steps are lost, unless a status file
 * says how they ended. Whatever still runs of them is killed: nothing
 * would record its end. */
static void sup_lost(supervisor *sup)
{
    sup_close(sup);
    sup_reap(sup);
    for (uint32_t i = 0; i < sup->n_slots; i++) {
        local_proc *lp = sup->slots[i];
        if (!lp)
            continue;
        sup->slots[i] = NULL;
        lp->supervised = false;
        lp->sup_died = true;
        kill_group(lp, SIGKILL);
        ended(lp, false, 0, 0);
    }
}

/* A free slot of sup for lp. */
static uint32_t sup_slot(supervisor *sup, local_proc *lp)
{
    uint32_t slot;
    if (sup->n_free == 0) {
        uint32_t n = sup->n_slots ? 2 * sup->n_slots : 16;
        sup->slots = kiln_realloc(sup->slots, n * sizeof(*sup->slots));
        sup->free_slots = kiln_realloc(sup->free_slots,
                                       n * sizeof(*sup->free_slots));
        for (uint32_t i = n; i > sup->n_slots; i--) {
            sup->slots[i - 1] = NULL;
            sup->free_slots[sup->n_free++] = i - 1;
        }
        sup->n_slots = n;
    }
    slot = sup->free_slots[--sup->n_free];
    sup->slots[slot] = lp;
    return slot;
}

static void sup_slot_put(supervisor *sup, uint32_t slot)
{
    sup->slots[slot] = NULL;
    sup->free_slots[sup->n_free++] = slot;
}

static void on_sup_event(uv_poll_t *poll, int status, int events)
{
    supervisor *sup = poll->data;
    (void)status;
    (void)events;
    for (;;) {
        struct kiln_shim_event e;
        local_proc *lp;
        ssize_t n = recv(sup->ev, &e, sizeof(e), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            sup_lost(sup);
            return;
        }
        if (n != sizeof(e) || e.slot >= sup->n_slots ||
            (lp = sup->slots[e.slot]) == NULL)
            continue;
        sup_slot_put(sup, e.slot);
        if (--sup->n_running == 0)
            uv_unref((uv_handle_t *)&sup->poll);
        lp->supervised = false;
        if (WIFSIGNALED(e.wstatus))
            ended(lp, true, 0, WTERMSIG(e.wstatus));
        else
            ended(lp, true, WEXITSTATUS(e.wstatus), 0);
    }
}

/* Start kiln-shim --serve for le and wait for its hello. NULL when it
 * cannot be (an older kiln-shim, no memory for sockets): steps then run
 * under a shim each, as before. */
static supervisor *sup_open(local_executor *le)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    struct kiln_shim_event hello;
    struct pollfd pfd;
    sigset_t none, all;
    supervisor *sup;
    char *argv[] = {le->shim, "--serve", NULL};
    int req[2], ev[2], kid_req = -1, kid_ev = -1, size = 1 << 20, rc;
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, req) != 0)
        return NULL;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ev) != 0) {
        close(req[0]);
        close(req[1]);
        return NULL;
    }
    /* The child's ends above 4, which its dup2s make 3 and 4. */
    kid_req = fcntl(req[1], F_DUPFD_CLOEXEC, 5);
    kid_ev = fcntl(ev[1], F_DUPFD_CLOEXEC, 5);
    close(req[1]);
    close(ev[1]);
    /* Room for a step with a large environment in one message. */
    setsockopt(req[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_adddup2(&fa, kid_req, KILN_SHIM_REQ_FD);
    posix_spawn_file_actions_adddup2(&fa, kid_ev, KILN_SHIM_EV_FD);
    posix_spawnattr_init(&attr);
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID |
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    rc = kid_req < 0 || kid_ev < 0
             ? EMFILE
             : posix_spawnp(&pid, le->shim, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (kid_req >= 0)
        close(kid_req);
    if (kid_ev >= 0)
        close(kid_ev);
    if (rc != 0)
        goto fail;
    /* Its hello says it is a kiln-shim that serves, and ready. */
    pfd.fd = ev[0];
    pfd.events = POLLIN;
    if (poll(&pfd, 1, 5000) != 1 ||
        recv(ev[0], &hello, sizeof(hello), 0) != sizeof(hello) ||
        hello.slot != KILN_SHIM_HELLO || hello.wstatus != KILN_SHIM_PROTO) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        goto fail;
    }
    sup = kiln_calloc(1, sizeof(*sup));
    sup->le = le;
    sup->pid = pid;
    sup->start = kiln_proc_start(pid);
    sup->req = req[0];
    sup->ev = ev[0];
    sup->poll.data = sup;
    uv_poll_init(le->base.loop, &sup->poll, ev[0]);
    uv_poll_start(&sup->poll, UV_READABLE, on_sup_event);
    uv_unref((uv_handle_t *)&sup->poll); /* until a step runs */
    return sup;
fail:
    close(req[0]);
    close(ev[0]);
    return NULL;
}

/*
 * Start task through the supervisor, its output to fd, into a new *out.
 * Returns 0; a positive errno when the command cannot start; -1 when the
 * supervisor cannot take it (then a shim of its own runs it).
 */
static int sup_spawn(local_proc **out, local_executor *le, kiln_task *task,
                     int fd)
{
    static char *const no_env[] = {NULL};
    char *const *env = task->env ? task->env : no_env;
    struct kiln_shim_req req;
    struct kiln_shim_reply rep;
    kiln_buf b = KILN_BUF_INIT;
    local_proc *lp;
    supervisor *sup;
    ssize_t n;

    *out = NULL;
    if (le->no_sup)
        return -1;
    if (!le->sup && (le->sup = sup_open(le)) == NULL) {
        le->no_sup = true;
        return -1;
    }
    sup = le->sup;
    lp = proc_new(&le->base);
    memset(&req, 0, sizeof(req));
    req.slot = sup_slot(sup, lp);
    while (task->argv[req.argc])
        req.argc++;
    while (env[req.envc])
        req.envc++;
    kiln_buf_add(&b, &req, sizeof(req));
    kiln_buf_add(&b, task->status_path, strlen(task->status_path) + 1);
    kiln_buf_add(&b, task->spare_path ? task->spare_path : "",
                 task->spare_path ? strlen(task->spare_path) + 1 : 1);
    kiln_buf_add(&b, task->workdir ? task->workdir : "",
                 task->workdir ? strlen(task->workdir) + 1 : 1);
    for (uint32_t i = 0; i < req.argc; i++)
        kiln_buf_add(&b, task->argv[i], strlen(task->argv[i]) + 1);
    for (uint32_t i = 0; i < req.envc; i++)
        kiln_buf_add(&b, env[i], strlen(env[i]) + 1);
    n = kiln_shim_send(sup->req, b.ptr, b.len, fd);
    kiln_buf_dispose(&b);
    if (n < 0) {
        /* Too large for one message, or the supervisor has gone (its end
         * comes through the event socket). */
        sup_slot_put(sup, req.slot);
        free(lp);
        return -1;
    }
    while ((n = recv(sup->req, &rep, sizeof(rep), 0)) < 0 && errno == EINTR)
        ;
    if (n != sizeof(rep) || rep.slot != req.slot || rep.err != 0) {
        sup_slot_put(sup, req.slot);
        free(lp);
        /* Not a shim of its own: a supervisor that died as it answered
         * may have started the command. */
        return n == sizeof(rep) && rep.err > 0 ? rep.err : EPIPE;
    }
    uv_idle_init(le->base.loop, (uv_idle_t *)&lp->u.handle);
    if (sup->n_running++ == 0)
        uv_ref((uv_handle_t *)&sup->poll);
    lp->supervised = true;
    lp->slot = req.slot;
    lp->pid = rep.pid;
    lp->start = rep.start;
    *out = lp;
    return 0;
}

/* The value of PATH in env, or NULL. */
static const char *env_path(char *const *env)
{
    for (; env && *env; env++)
        if (strncmp(*env, "PATH=", 5) == 0)
            return *env + 5;
    return NULL;
}

/*
 * argv run as execvp runs a program the kernel cannot execute (ENOEXEC,
 * a script without "#!"): /bin/sh FILE ARGS..., FILE being argv[0] as
 * found in path (glibc's default when NULL). Returns a new argv in one
 * allocation (free() it), or NULL when it is not found.
 */
static char **sh_argv(char *const *argv, const char *path)
{
    char *file = NULL, **sh;
    size_t argc = 0, len;

    if (strchr(argv[0], '/')) {
        file = kiln_strdup(argv[0]);
    } else {
        const char *dir = path ? path : "/bin:/usr/bin";
        for (;;) {
            size_t n = strcspn(dir, ":");
            /* An empty entry is the working directory. */
            file = n ? kiln_asprintf("%.*s/%s", (int)n, dir, argv[0])
                     : kiln_strdup(argv[0]);
            if (access(file, X_OK) == 0)
                break;
            free(file);
            file = NULL;
            if (!dir[n])
                break;
            dir += n + 1;
        }
        if (!file)
            return NULL;
    }
    while (argv[argc])
        argc++;
    len = strlen(file) + 1;
    sh = kiln_malloc((argc + 2) * sizeof(char *) + len);
    sh[0] = "/bin/sh";
    sh[1] = memcpy(sh + argc + 2, file, len);
    memcpy(sh + 2, argv + 1, argc * sizeof(char *)); /* with the NULL */
    free(file);
    return sh;
}

/* A local task's external id: "PID:START" (a kiln-shim's), or
 * "PID:START@SPID:SSTART" (a command and its supervisor, sup_pid > 0). */
static void format_id(char *out, size_t size, int pid, uint64_t start,
                      int sup_pid, uint64_t sup_start)
{
    if (sup_pid > 0)
        snprintf(out, size, "%d:%" PRIu64 "@%d:%" PRIu64, pid, start,
                 sup_pid, sup_start);
    else
        snprintf(out, size, "%d:%" PRIu64, pid, start);
}

static int local_start(kiln_executor *ex, kiln_task *task, kiln_err *err)
{
    local_executor *le = (local_executor *)ex;
    local_proc *lp = NULL;
    size_t argc = 0;
    char **argv = NULL, *secrets;
    const char *what = task->argv[0];
    int fd, rc = -1;

    if ((rc = kiln_executor__write_secrets(&secrets, task, err)) != 0)
        return rc;
    fd = open(task->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
              0644);
    if (fd < 0) {
        rc = kiln_err_set_os(err, "cannot open log %s", task->log_path);
        goto fail;
    }
    /* With a status file, the supervisor starts the command; it runs
     * under a kiln-shim of its own when it has secrets (which the shim
     * masks in the log) or when there is no supervisor. */
    rc = task->status_path && !secrets ? sup_spawn(&lp, le, task, fd) : -1;
    if (rc < 0) {
        while (task->argv[argc])
            argc++;
        argv = kiln_calloc(argc + 5, sizeof(char *));
        if (task->status_path) {
            size_t n = 0;
            argv[n++] = le->shim;
            argv[n++] = (char *)task->status_path;
            if (secrets) {
                argv[n++] = "--secrets";
                argv[n++] = secrets;
            }
            memcpy(argv + n, task->argv, argc * sizeof(char *));
            if (!task->fresh_paths)
                unlink(task->status_path);
        } else {
            memcpy(argv, task->argv, argc * sizeof(char *));
        }
        what = argv[0];
        rc = spawn(&lp, ex, argv, task, fd);
    }
    if (rc == ENOEXEC && argv) {
        /* glibc's posix_spawnp no longer falls back to /bin/sh, nor does
         * every libuv. PATH is the one each searched: kiln's for
         * posix_spawnp, the task's for uv_spawn. */
        char **sh = sh_argv(argv, have_pidfd() ? getenv("PATH")
                                               : env_path(task->env));
        if (sh) {
            rc = spawn(&lp, ex, sh, task, fd);
            free(sh);
        }
    }
    if (rc != 0) {
        close(fd);
        if (rc == ENOENT && task->workdir &&
            access(task->workdir, F_OK) != 0)
            rc = kiln_err_set(err, KILN_EINVAL, "working directory %s does "
                              "not exist", task->workdir);
        else
            rc = kiln_err_set(err, KILN_ERROR, "cannot start %s: %s", what,
                              strerror(rc));
        free(argv);
        goto fail;
    }
    close(fd);
    free(argv);
    free(secrets); /* the shim removes the file once read */
    uv_timer_init(ex->loop, &lp->timer);
    lp->pending_closes = 2;
    lp->task = task;
    task->priv = lp;
    task->started_ms = kiln_now_ms();
    if (lp->supervised) {
        format_id(task->external_id, sizeof(task->external_id), lp->pid,
                  lp->start, le->sup->pid, le->sup->start);
        return 0;
    }
    lp->shim = task->status_path != NULL;
    lp->start = kiln_proc_start(lp->pid);
    format_id(task->external_id, sizeof(task->external_id), lp->pid,
              lp->start, 0, 0);
    return 0;
fail:
    if (secrets)
        unlink(secrets);
    free(secrets);
    return rc;
}

/* Find a shim, or a supervised command, that outlived an earlier kiln
 * and watch it to its end. */
static int attach_proc(kiln_executor *ex, kiln_task *task,
                       const char *external_id, int pid, uint64_t start,
                       int sup_pid, uint64_t sup_start);

/*
 * What a supervisor wrote in the status file at path: 1 and how it
 * ended; 2, "running", with the command's and the supervisor's pid and
 * start time; 3, "starting", with the supervisor's; 0 for anything else
 * (no file, a file being written).
 */
static int read_supervised(const char *path, int *pid, uint64_t *start,
                           int *sup_pid, uint64_t *sup_start)
{
    char buf[160];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    if (!strchr(buf, '\n'))
        return 0;
    if (strncmp(buf, "exit ", 5) == 0 || strncmp(buf, "signal ", 7) == 0)
        return 1;
    if (sscanf(buf, "running %d %" SCNu64 " %d %" SCNu64, pid, start,
               sup_pid, sup_start) == 4)
        return 2;
    if (sscanf(buf, "starting %d %" SCNu64, sup_pid, sup_start) == 2)
        return 3;
    return 0;
}

/*
 * The process of an attempt whose id was never recorded (kiln died
 * between recording the attempt and recording its process). A supervised
 * command is named by its status file ("running PID ..."); a kiln-shim of
 * its own, by its arguments (kiln-shim and the status file). 0 and its
 * pid and start time (and its supervisor's, or 0); or, when it has ended
 * already, 0 and a pid of 0 (its status file tells how); KILN_ENOTFOUND
 * when it never started.
 */
static int find_attempt(int *pid, uint64_t *start, int *sup_pid,
                        uint64_t *sup_start, const char *status_path,
                        kiln_err *err)
{
    struct timespec ms = {0, 1000000};
    DIR *proc;
    struct dirent *de;
    char path[64], args[4096];
    int found = 0, state;

    *pid = *sup_pid = 0;
    *start = *sup_start = 0;
    /* A supervisor between "starting" and "running" gets 5 s. */
    for (int i = 0; i < 5000; i++) {
        state = read_supervised(status_path, pid, start, sup_pid, sup_start);
        if (state == 1) {
            *pid = *sup_pid = 0;
            return 0;
        }
        if (state == 2)
            return 0;
        if (state == 0 && access(status_path, F_OK) != 0)
            break;
        if (state == 3 && kiln_proc_start(*sup_pid) != *sup_start)
            return kiln_err_set(err, KILN_ERROR, "kiln-shim (pid %d) died "
                                "as it started the step", *sup_pid);
        nanosleep(&ms, NULL);
    }
    *pid = *sup_pid = 0;
    *start = *sup_start = 0;
    if (access(status_path, F_OK) == 0)
        return kiln_err_set(err, KILN_ERROR, "cannot read %s", status_path);
    proc = opendir("/proc");
    while (proc && !found && (de = readdir(proc)) != NULL) {
        const char *base, *next;
        ssize_t n;
        int fd;
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%.32s/cmdline", de->d_name);
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            continue;
        n = read(fd, args, sizeof(args) - 1);
        close(fd);
        if (n <= 0)
            continue;
        args[n] = '\0';
        base = strrchr(args, '/');
        base = base ? base + 1 : args;
        next = args + strlen(args) + 1;
        if (strcmp(base, "kiln-shim") == 0 && next < args + n &&
            strcmp(next, status_path) == 0) {
            *pid = atoi(de->d_name);
            *start = kiln_proc_start(*pid);
            found = *start != 0;
        }
    }
    if (proc)
        closedir(proc);
    if (found || access(status_path, F_OK) == 0)
        return 0;
    return kiln_err_set(err, KILN_ENOTFOUND, "no process of %s",
                        status_path);
}

static int local_attach(kiln_executor *ex, kiln_task *task,
                        const char *external_id, kiln_err *err)
{
    int pid, sup_pid = 0, used = 0;
    uint64_t start, sup_start = 0;

    if (!external_id) {
        char id[64];
        int rc;
        if (!task->status_path)
            return kiln_err_set(err, KILN_ENOTFOUND, "no id and no status "
                                "file to find the task by");
        if ((rc = find_attempt(&pid, &start, &sup_pid, &sup_start,
                               task->status_path, err)) != 0)
            return rc;
        format_id(id, sizeof(id), pid, start, sup_pid, sup_start);
        return attach_proc(ex, task, id, pid, start, sup_pid, sup_start);
    }
    /* "PID:START", a kiln-shim's; "PID:START@SPID:SSTART", a command and
     * the supervisor that started it. */
    if (sscanf(external_id, "%d:%" SCNu64 "%n", &pid, &start, &used) != 2 ||
        pid <= 0 ||
        (external_id[used] &&
         (sscanf(external_id + used, "@%d:%" SCNu64, &sup_pid,
                 &sup_start) != 2 || sup_pid <= 0)))
        return kiln_err_set(err, KILN_EINVAL, "invalid local task id "
                            "\"%s\"", external_id);
    return attach_proc(ex, task, external_id, pid, start, sup_pid,
                       sup_start);
}

/* Watch process pid (started at start; pid 0: ended already, its status
 * file says how) to its end. With a supervisor (sup_pid), pid is the
 * command, and the status is final once the supervisor has written it. */
static int attach_proc(kiln_executor *ex, kiln_task *task,
                       const char *external_id, int pid, uint64_t start,
                       int sup_pid, uint64_t sup_start)
{
    local_proc *lp;
    lp = proc_new(ex);
    lp->attached = true;
    lp->shim = sup_pid == 0;
    lp->pid = pid;
    lp->start = start;
    lp->sup_pid = sup_pid;
    lp->sup_start = sup_start;
    lp->task = task;
    task->priv = lp;
    snprintf(task->external_id, sizeof(task->external_id), "%s",
             external_id);
    uv_timer_init(ex->loop, &lp->timer);
    lp->pending_closes = 2;
    if (pid > 0 && kiln_proc_start(pid) == start)
        lp->pidfd = pidfd_open(pid, 0);
    if (lp->pidfd >= 0 &&
        uv_poll_init(ex->loop, &lp->u.poll, lp->pidfd) == 0) {
        /* Readable once the process has ended. */
        uv_poll_start(&lp->u.poll, UV_READABLE, on_pidfd);
        /* It may have ended between the check and pidfd_open. */
        if (kiln_proc_start(pid) != start)
            on_pidfd(&lp->u.poll, 0, UV_READABLE);
        return 0;
    }
    if (lp->pidfd >= 0) {
        close(lp->pidfd);
        lp->pidfd = -1;
    }
    /* No pidfd (gone already, or an old kernel): check by timer. A
     * process already gone ends at the first check, after this returns. */
    uv_idle_init(ex->loop, (uv_idle_t *)&lp->u.handle);
    uv_timer_start(&lp->timer, on_timer,
                   pid > 0 && kiln_proc_start(pid) == start ? 1000 : 0, 0);
    return 0;
}

static void local_cancel(kiln_executor *ex, kiln_task *task, bool force)
{
    local_proc *lp = task->priv;
    (void)ex;
    if (!lp || lp->exited)
        return;
    /* An attached process found ended, or that ended since: nothing to
     * stop, and its status file says how it ended, which ended() reads
     * on the loop (a cancel would record it as stopped). */
    if (lp->attached && !lp->cancelling &&
        (lp->pid <= 0 || kiln_proc_start(lp->pid) != lp->start))
        return;
    lp->cancelling = true;
    if (force) {
        if (!lp->shim_asked) {
            kill_now(lp);
            if (lp->kill_at && !(lp->attached && lp->pidfd < 0))
                uv_timer_start(&lp->timer, on_timer, SHIM_KILL_MS, 0);
        }
        return;
    }
    kill_group(lp, SIGTERM);
    if (!lp->kill_at) {
        lp->kill_at = mono_ms() + KILN_KILL_GRACE_MS;
        if (!(lp->attached && lp->pidfd < 0))
            uv_timer_start(&lp->timer, on_timer, KILN_KILL_GRACE_MS, 0);
    }
}

static void local_free(kiln_executor *ex)
{
    local_executor *le = (local_executor *)ex;
    supervisor *sup = le->sup;
    if (sup) {
        /* No step runs (kiln_executor_free): it exits as the sockets
         * close. */
        sup_close(sup);
        sup_reap(sup);
    }
    if (le->have_fa)
        posix_spawn_file_actions_destroy(&le->fa);
    if (le->null_fd >= 0) {
        posix_spawnattr_destroy(&le->attr);
        close(le->null_fd);
        close(le->out_fd);
    }
    free(le->fa_workdir);
    free(le->shim);
    free(le);
}

static const struct kiln_executor_ops local_ops = {
    .name = "local",
    .start = local_start,
    .attach = local_attach,
    .cancel = local_cancel,
    .free = local_free,
};

kiln_executor *kiln_executor__local_new(uv_loop_t *loop)
{
    local_executor *le = kiln_calloc(1, sizeof(*le));
    (void)loop;
    le->base.ops = &local_ops;
    le->shim = kiln_executor_shim_path();
    le->null_fd = le->out_fd = -1;
    return &le->base;
}
