/*
 * serve.c: kiln-shim --serve, one supervisor for every local step of one
 * kiln (the protocol is in kiln-shim.h).
 *
 * A per-step kiln-shim costs a second process per step: on a virtual
 * machine, about as much as the step's own /bin/sh. The supervisor keeps
 * what the per-step shim gives and starts only the command:
 *
 * - A step's exit status outlives kiln. The supervisor is the parent of
 *   every command, in its own session, and ignores SIGINT, SIGTERM and
 *   SIGHUP; a kiln killed at any moment leaves it running until its
 *   commands have ended and their status files are written. A kiln
 *   started again finds them from the status file ("running PID ...").
 *
 * - Nothing a command starts outlives it. The supervisor is a child
 *   subreaper, so what a command leaves behind (setsid, a double fork)
 *   becomes the supervisor's child when its parent dies. When a command
 *   ends, every child of the supervisor that is no running command and
 *   belongs to it, by its process group or session (the command's pid)
 *   or by KILN_SHIM_TOKEN in its environment, is SIGKILLed and reaped,
 *   again until none is left, before the status is written. What cannot
 *   be told apart (a process that left the session and cleared its
 *   environment) is killed once no command runs.
 *
 * - Each command runs in a new session (its pid is its process group),
 *   so kiln stops it and what stayed in its group with kill(-pid); it
 *   needs nothing from the supervisor for that.
 *
 * Requests are answered one at a time, in order; events wait in memory
 * when kiln does not read them (it may be waiting for a reply), so the
 * two never block each other. Before it starts a command the supervisor
 * checks that kiln still holds the socket: a request kiln sent just
 * before it died is dropped, as kiln never recorded it; the kiln that
 * takes over finds no status file and runs the step.
 */
#include "kiln-shim.h"
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct command {
    pid_t pid;
    uint32_t slot;
    int log;        /* the step's log: where the supervisor's own
                       complaints about it go */
    int status_fd;  /* its status file, open to write the end in */
    char *status;   /* the file's path, also its token's value */
} command;

static command *cmds;       /* running, in no order */
static size_t n_cmds, cap_cmds;
static struct kiln_shim_event *events; /* not sent yet */
static size_t n_events, cap_events;
static int null_fd = -1;
static pid_t self_pid;
static unsigned long long self_start;

static void on_child(int sig)
{
    (void)sig; /* only interrupts ppoll() */
}

/* Field 22 of /proc/PID/stat, the start time; 0 when pid is gone. */
static unsigned long long proc_start(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long long start = 0;
    ssize_t n;
    int fd;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    if (!(p = strrchr(buf, ')')))
        return 0;
    for (int field = 2; field < 22 && p; field++)
        p = strchr(p + 1, ' ');
    if (p)
        sscanf(p + 1, "%llu", &start);
    return start;
}

static void queue_event(uint32_t slot, int wstatus)
{
    if (n_events == cap_events) {
        size_t want = cap_events ? 2 * cap_events : 16;
        struct kiln_shim_event *more = realloc(events, want * sizeof(*more));
        if (!more)
            return; /* kiln reads the status file when it looks again */
        events = more;
        cap_events = want;
    }
    events[n_events].slot = slot;
    events[n_events].wstatus = wstatus;
    n_events++;
}

/* Send what kiln can take now; drop everything once kiln has gone. */
static void flush_events(void)
{
    size_t sent = 0;
    while (sent < n_events) {
        ssize_t w = send(KILN_SHIM_EV_FD, &events[sent], sizeof(*events),
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        sent++; /* sent, or never will be (kiln has gone) */
    }
    memmove(events, events + sent, (n_events - sent) * sizeof(*events));
    n_events -= sent;
}

static command *find_command(pid_t pid)
{
    for (size_t i = 0; i < n_cmds; i++)
        if (cmds[i].pid == pid)
            return &cmds[i];
    return NULL;
}

/* Does child pid belong to the command whose pid was leader (its process
 * group and session) and whose token is token? */
static bool belongs(pid_t pid, pid_t leader, const char *token)
{
    static char env[1 << 16];
    char path[64], stat[512], *p;
    size_t klen = strlen(KILN_SHIM_TOKEN);
    int pgid = 0, sid = 0, fd;
    ssize_t n, have = 0;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
        n = read(fd, stat, sizeof(stat) - 1);
        close(fd);
        stat[n > 0 ? n : 0] = '\0';
        if ((p = strrchr(stat, ')')) != NULL &&
            sscanf(p + 1, " %*c %*d %d %d", &pgid, &sid) == 2 &&
            (pgid == leader || sid == leader))
            return true;
    }
    /* KILN_SHIM_TOKEN=TOKEN among the NUL-ended entries. */
    snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return false;
    while (have < (ssize_t)sizeof(env) - 1 &&
           (n = read(fd, env + have, sizeof(env) - 1 - (size_t)have)) > 0)
        have += n;
    close(fd);
    env[have] = '\0';
    for (p = env; p < env + have; p += strlen(p) + 1)
        if (strncmp(p, KILN_SHIM_TOKEN, klen) == 0 && p[klen] == '=' &&
            strcmp(p + klen + 1, token) == 0)
            return true;
    return false;
}

/* SIGKILL and reap every child that is no running command and belongs to
 * the command that was leader with token (every such child when leader
 * is 0), until none is left: each one killed hands its own children to
 * the supervisor. */
static void kill_leftovers(pid_t leader, const char *token)
{
    for (int rounds = 0; rounds < 10000; rounds++) {
        pid_t *kids;
        int n = shim_children(&kids), killed = 0;
        for (int i = 0; i < n; i++) {
            if (find_command(kids[i]) ||
                (leader && !belongs(kids[i], leader, token)))
                continue;
            kill(kids[i], SIGKILL);
            kids[killed++] = kids[i];
        }
        for (int i = 0; i < killed; i++)
            while (waitpid(kids[i], NULL, 0) < 0 && errno == EINTR)
                ;
        free(kids);
        if (killed <= 0)
            return;
    }
}

/* The command c ended with wstatus (and was reaped). */
static void finish(command *c, int wstatus)
{
    char text[64];
    pid_t leader = c->pid;

    c->pid = 0; /* no longer a running command */
    kill_leftovers(leader, c->status);
    if (WIFSIGNALED(wstatus))
        snprintf(text, sizeof(text), "signal %d\n", WTERMSIG(wstatus));
    else
        snprintf(text, sizeof(text), "exit %d\n", WEXITSTATUS(wstatus));
    /* Over "running ...", then cut to the new line. A reader that comes
     * in between reads "exit 0" and the rest of the old line after a new
     * line, or a line that does not parse yet, which it reads again while
     * the supervisor runs. */
    if (pwrite(c->status_fd, text, strlen(text), 0) != (ssize_t)strlen(text)
        || ftruncate(c->status_fd, (off_t)strlen(text)) != 0)
        dprintf(c->log, "kiln-shim: cannot write %s: %s\n", c->status,
                strerror(errno));
    queue_event(c->slot, wstatus);
    close(c->status_fd);
    close(c->log);
    free(c->status);
    *c = cmds[--n_cmds];
    if (n_cmds == 0)
        kill_leftovers(0, NULL); /* what could not be told apart */
}

/* Reap every child that has ended: a command's end is finished, an
 * orphan's is only reaped. */
static void reap(void)
{
    for (;;) {
        siginfo_t info;
        command *c;
        int wstatus;
        memset(&info, 0, sizeof(info));
        if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
            info.si_pid == 0)
            return;
        if (waitpid(info.si_pid, &wstatus, 0) < 0)
            continue;
        if ((c = find_command(info.si_pid)) != NULL)
            finish(c, wstatus);
    }
}

/* The value of PATH in env, or NULL. */
static const char *env_path(char **env)
{
    for (; *env; env++)
        if (strncmp(*env, "PATH=", 5) == 0)
            return *env + 5;
    return NULL;
}

/*
 * Start argv (env, workdir) in a new session, its output to log. A
 * program that cannot start (not found, not executable) still becomes a
 * process: a child that says why in the log and exits 127 or 126, as a
 * shell does. Returns the pid, or -1 with errno.
 */
static pid_t start_command(char **argv, char **env, const char *workdir,
                           int log)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, ign;
    char file[4096];
    pid_t pid = -1;
    int rc;

    posix_spawnattr_init(&attr);
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    /* The signals the supervisor ignores; exec resets those it handles. */
    sigemptyset(&ign);
    sigaddset(&ign, SIGINT);
    sigaddset(&ign, SIGTERM);
    sigaddset(&ign, SIGHUP);
    sigaddset(&ign, SIGPIPE);
    posix_spawnattr_setsigdefault(&attr, &ign);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID |
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, null_fd, 0);
    posix_spawn_file_actions_adddup2(&fa, log, 1);
    posix_spawn_file_actions_adddup2(&fa, log, 2);
    if (*workdir)
        posix_spawn_file_actions_addchdir_np(&fa, workdir);
    rc = shim_find_program(file, sizeof(file), argv[0], env_path(env)) == 0
             ? posix_spawn(&pid, file, &fa, &attr, argv, env)
             : errno;
    if (rc == ENOEXEC) {
        /* A script without "#!": /bin/sh runs it, as execvp would. */
        size_t argc = 0;
        char **sh;
        while (argv[argc])
            argc++;
        if ((sh = calloc(argc + 2, sizeof(char *))) != NULL) {
            sh[0] = "/bin/sh";
            sh[1] = file;
            memcpy(sh + 2, argv + 1, argc * sizeof(char *));
            rc = posix_spawn(&pid, "/bin/sh", &fa, &attr, sh, env);
            free(sh);
        }
    }
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc == 0)
        return pid;
    if ((pid = fork()) == 0) {
        setsid();
        signal(SIGPIPE, SIG_DFL);
        dprintf(log, "kiln: cannot run %s: %s\n", argv[0], strerror(rc));
        _exit(rc == ENOENT ? 127 : 126);
    }
    return pid;
}

/* Has kiln closed its end of the request socket (it died)? */
static bool kiln_gone(void)
{
    struct pollfd p = {KILN_SHIM_REQ_FD, 0, 0};
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

static void reply(uint32_t slot, int err, pid_t pid, unsigned long long start)
{
    struct kiln_shim_reply r;
    memset(&r, 0, sizeof(r));
    r.slot = slot;
    r.err = err;
    r.pid = pid;
    r.start = start;
    while (send(KILN_SHIM_REQ_FD, &r, sizeof(r), MSG_NOSIGNAL) < 0 &&
           errno == EINTR)
        ;
}

/* The status file at path, open to write, with "starting" in it: the
 * spare file renamed there once it says so (creating a file costs more
 * than renaming one on some file systems), else a new file. -1 and
 * errno when neither can be made. */
static int open_status(const char *path, const char *spare)
{
    char line[64];
    int n = snprintf(line, sizeof(line), "starting %d %llu\n", (int)self_pid,
                     self_start);
    int fd = *spare ? open(spare, O_WRONLY | O_CLOEXEC | O_NOFOLLOW) : -1;

    if (fd >= 0) {
        if (pwrite(fd, line, (size_t)n, 0) == n && ftruncate(fd, n) == 0 &&
            rename(spare, path) == 0)
            return fd;
        close(fd);
        unlink(spare);
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0 && write(fd, line, (size_t)n) != n) {
        int e = errno;
        close(fd);
        unlink(path);
        errno = e;
        return -1;
    }
    return fd;
}

/* One start request of len bytes in msg, with the log descriptor log. */
static void handle(char *msg, size_t len, int log)
{
    struct kiln_shim_req req;
    char *p = msg + sizeof(req), *end = msg + len, *status, *spare;
    char *workdir;
    char **argv = NULL, **env = NULL, token[4200];
    unsigned long long start;
    size_t i;
    pid_t pid;
    int fd;

    if (len < sizeof(req) || end[-1] != '\0') {
        if (log >= 0)
            close(log);
        return; /* not kiln's: nobody to answer */
    }
    memcpy(&req, msg, sizeof(req));
    argv = calloc((size_t)req.argc + 1, sizeof(char *));
    env = calloc((size_t)req.envc + 2, sizeof(char *));
    status = p;
    p += strlen(p) + 1;
    spare = p < end ? p : "";
    p += p < end ? strlen(p) + 1 : 0;
    workdir = p < end ? p : "";
    p += p < end ? strlen(p) + 1 : 0;
    for (i = 0; argv && i < req.argc && p < end; i++, p += strlen(p) + 1)
        argv[i] = p;
    if (!argv || !env || i != req.argc || req.argc == 0 || log < 0) {
        reply(req.slot, log < 0 ? EBADF : EINVAL, 0, 0);
        goto out;
    }
    /* The environment, with this step's token first (where belongs()
     * reads it even in a large environment) in place of any other (a
     * kiln run inside a step passes its own on). */
    snprintf(token, sizeof(token), "%s=%s", KILN_SHIM_TOKEN, status);
    env[0] = token;
    for (i = 1; req.envc-- > 0 && p < end; p += strlen(p) + 1)
        if (strncmp(p, KILN_SHIM_TOKEN "=", sizeof(KILN_SHIM_TOKEN)) != 0)
            env[i++] = p;
    if (*workdir && access(workdir, F_OK) != 0) {
        reply(req.slot, errno, 0, 0);
        goto out;
    }
    /* "starting" first: a kiln that takes over and reads it waits for
     * the pid, or knows the supervisor died before it started anything. */
    if ((fd = open_status(status, spare)) < 0) {
        reply(req.slot, errno, 0, 0);
        goto out;
    }
    if (kiln_gone()) {
        /* kiln died after it asked: it never recorded the process, and
         * the kiln that takes over must find no trace of it. */
        close(fd);
        unlink(status);
        goto out;
    }
    if ((pid = start_command(argv, env, workdir, log)) < 0) {
        int e = errno;
        close(fd);
        unlink(status);
        reply(req.slot, e, 0, 0);
        goto out;
    }
    start = proc_start(pid);
    {
        char line[128];
        int n = snprintf(line, sizeof(line), "running %d %llu %d %llu\n",
                         (int)pid, start, (int)self_pid, self_start);
        if (pwrite(fd, line, (size_t)n, 0) != n)
            dprintf(log, "kiln-shim: cannot write %s: %s\n", status,
                    strerror(errno));
    }
    if (n_cmds == cap_cmds) {
        size_t want = cap_cmds ? 2 * cap_cmds : 16;
        command *more = realloc(cmds, want * sizeof(*more));
        if (!more) {
            /* It runs; without a record it is reaped as an orphan. */
            close(fd);
            reply(req.slot, 0, pid, start);
            goto out;
        }
        cmds = more;
        cap_cmds = want;
    }
    cmds[n_cmds].pid = pid;
    cmds[n_cmds].slot = req.slot;
    cmds[n_cmds].status_fd = fd;
    cmds[n_cmds].log = log;
    cmds[n_cmds].status = strdup(status);
    n_cmds++;
    log = -1;
    reply(req.slot, 0, pid, start);
out:
    if (log >= 0)
        close(log);
    free(argv);
    free(env);
}

/* Read one request; false once kiln has closed the socket. */
static bool read_request(void)
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct msghdr mh;
    struct iovec iov;
    struct cmsghdr *cm;
    char *msg;
    ssize_t size, n;
    int log = -1;

    size = recv(KILN_SHIM_REQ_FD, NULL, 0, MSG_PEEK | MSG_TRUNC);
    if (size < 0)
        return errno == EINTR || errno == EAGAIN;
    if (!(msg = malloc((size_t)size + 1)))
        return true; /* read it once there is memory */
    memset(&mh, 0, sizeof(mh));
    iov.iov_base = msg;
    iov.iov_len = (size_t)size + 1;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.buf;
    mh.msg_controllen = sizeof(ctl.buf);
    n = recvmsg(KILN_SHIM_REQ_FD, &mh, MSG_CMSG_CLOEXEC);
    if (n <= 0) {
        free(msg);
        return n < 0 && errno == EINTR;
    }
    for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
            cm->cmsg_len >= CMSG_LEN(sizeof(int)))
            memcpy(&log, CMSG_DATA(cm), sizeof(int));
    handle(msg, (size_t)n, log);
    free(msg);
    return true;
}

int shim_serve(void)
{
    struct sigaction ign, chld;
    sigset_t block, orig;
    bool connected = true;

    memset(&ign, 0, sizeof(ign));
    memset(&chld, 0, sizeof(chld));
    ign.sa_handler = SIG_IGN;
    chld.sa_handler = on_child;
    sigaction(SIGINT, &ign, NULL);
    sigaction(SIGTERM, &ign, NULL);
    sigaction(SIGHUP, &ign, NULL);
    sigaction(SIGPIPE, &ign, NULL);
    sigaction(SIGCHLD, &chld, NULL);
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &orig);
    /* Orphans below a command become the supervisor's children. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    fcntl(KILN_SHIM_REQ_FD, F_SETFD, FD_CLOEXEC);
    fcntl(KILN_SHIM_EV_FD, F_SETFD, FD_CLOEXEC);
    if ((null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
        return 126;
    self_pid = getpid();
    self_start = proc_start(self_pid);
    queue_event(KILN_SHIM_HELLO, KILN_SHIM_PROTO);

    for (;;) {
        struct pollfd p[2];
        reap();
        flush_events();
        if (!connected && n_cmds == 0)
            break;
        p[0].fd = connected ? KILN_SHIM_REQ_FD : -1;
        p[0].events = POLLIN;
        p[1].fd = n_events ? KILN_SHIM_EV_FD : -1;
        p[1].events = POLLOUT;
        p[0].revents = p[1].revents = 0;
        if (ppoll(p, 2, NULL, &orig) <= 0)
            continue; /* SIGCHLD: reap */
        if (p[0].revents)
            connected = read_request();
    }
    kill_leftovers(0, NULL);
    return 0;
}
