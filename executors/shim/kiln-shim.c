/*
 * kiln-shim: runs step commands and writes how each ended to a file.
 *
 *   kiln-shim --serve        every step of one kiln (serve.c, kiln-shim.h)
 *   kiln-shim STATUS_FILE [--secrets FILE] PROGRAM [ARG...]
 *
 * The second form runs one command: a step with secrets, or any step
 * when kiln cannot start the first. A step's exit status then survives
 * the daemon: a daemon killed mid-run and started again finds the shim by
 * pid (and start time) if it still runs, and reads STATUS_FILE once it
 * has ended. The shim ignores SIGINT, SIGTERM and SIGHUP (they reach
 * the command through its process group) so it can record the command's
 * end; it then exits the same way the command did. STATUS_FILE holds "exit N" or "signal N" and appears
 * atomically (written beside, then renamed). PROGRAM is looked up in PATH
 * and, as execvp does, run with /bin/sh when it is a script without "#!".
 *
 * Nothing the command starts outlives it. The shim is a child subreaper,
 * so whatever the command leaves behind, in its process group or out of
 * it (setsid, nohup in a new session, a double fork), becomes the shim's
 * child when its parent dies. Once the command has ended the shim
 * SIGKILLs and reaps every process still below it, and only then writes
 * the status. KILN_SHIM_KILL (kiln-shim.h) asks it to SIGKILL the command
 * at once: kiln's forced stop, which must reach the escaped processes too.
 *
 * --secrets FILE: a step's secrets, "NAME=VALUE" entries each ended by a
 * NUL byte, in a file only the user can read, which the shim removes once
 * read. The command gets them in its environment; its stdout and stderr
 * then go through a pipe to the shim, which copies them to its own stdout
 * (the log) with every value of 4 bytes or more replaced by "***". It
 * keeps back at most the longest value's length less one byte, the start
 * of a value that may end in the next write, and writes it once the
 * command has ended. Without secrets the command writes to the log
 * itself, and no byte passes through the shim.
 *
 * It uses only libc and starts fast.
 */
#include "kiln-shim.h"
#include "shim.h"

#include <dirent.h>
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t command;     /* its pid while not reaped */
static volatile sig_atomic_t kill_asked;  /* KILN_SHIM_KILL came */

/* KILN_SHIM_KILL: SIGKILL the command; main() kills the rest once it has
 * ended. Only kiln's request counts (sigqueue with the magic value). */
static void on_kill(int sig, siginfo_t *info, void *uc)
{
    (void)sig;
    (void)uc;
    if (info->si_code != SI_QUEUE ||
        info->si_value.sival_int != KILN_SHIM_MAGIC)
        return;
    kill_asked = 1;
    if (command > 0)
        kill(command, SIGKILL);
}

/* Append pid to the list *out of *n (room for *cap). 0, or -1 without
 * memory. */
static int push_pid(pid_t **out, size_t *n, size_t *cap, pid_t pid)
{
    if (*n == *cap) {
        size_t want = *cap ? 2 * *cap : 16;
        pid_t *more = realloc(*out, want * sizeof(pid_t));
        if (!more)
            return -1;
        *out = more;
        *cap = want;
    }
    (*out)[(*n)++] = pid;
    return 0;
}

/* Without /proc/PID/task/TID/children (a kernel built without
 * CONFIG_PROC_CHILDREN): every process whose /proc/PID/stat names self as
 * its parent. */
static int children_scan(pid_t **out, pid_t self)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    size_t n = 0, cap = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL) {
        char path[300], buf[512], *p;
        ssize_t len;
        int fd, ppid;
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            continue;
        len = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (len <= 0)
            continue;
        buf[len] = '\0';
        /* "PID (COMM) STATE PPID ...": COMM may hold anything, even ')'. */
        if ((p = strrchr(buf, ')')) == NULL ||
            sscanf(p + 1, " %*c %d", &ppid) != 1 || ppid != self)
            continue;
        if (push_pid(out, &n, &cap, atoi(e->d_name)) != 0)
            break;
    }
    closedir(d);
    return (int)n;
}

int shim_children(pid_t **out)
{
    char path[64], buf[1024];
    pid_t self = getpid(), pid = 0;
    size_t n = 0, cap = 0;
    ssize_t len;
    int fd;

    *out = NULL;
    snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)self);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return children_scan(out, self);
    /* "PID PID ... " */
    while ((len = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < len; i++) {
            if (buf[i] >= '0' && buf[i] <= '9') {
                pid = pid * 10 + (buf[i] - '0');
            } else if (pid > 0) {
                push_pid(out, &n, &cap, pid);
                pid = 0;
            }
        }
    }
    if (pid > 0)
        push_pid(out, &n, &cap, pid);
    close(fd);
    return (int)n;
}

/* SIGKILL each child of the shim. Returns how many, or -1 when they
 * cannot be listed. */
static int kill_children(void)
{
    pid_t *kids;
    int n = shim_children(&kids);
    for (int i = 0; i < n; i++)
        kill(kids[i], SIGKILL); /* an unreaped child: its pid is ours */
    free(kids);
    return n;
}

/* SIGKILL and reap every process below the shim, until there is none:
 * each one killed hands its own children to the shim. Cheap when the
 * command left nothing behind: one waitpid() says so. */
static void kill_descendants(void)
{
    struct timespec ms = {0, 1000000};
    int idle = 0;

    for (;;) {
        pid_t w = waitpid(-1, NULL, WNOHANG);
        int n;
        if (w > 0)
            continue;
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return; /* ECHILD: none left */
        if ((n = kill_children()) < 0)
            return; /* no /proc: nothing more the shim can do */
        if (n > 0) {
            idle = 0;
            while (waitpid(-1, NULL, 0) < 0 && errno == EINTR)
                ;
        } else if (++idle < 1000) {
            /* Children exist but none was listed: one just became ours
             * while the list was read. Look again shortly. */
            nanosleep(&ms, NULL);
        } else {
            return;
        }
    }
}

int shim_write_status(const char *path, const char *text)
{
    char tmp[4096];
    int fd;
    ssize_t n = (ssize_t)strlen(text);
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -1;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    /* No fsync: the file must outlive kiln, not the machine; after a power
     * loss the step is gone too, and is retried as lost. */
    if (write(fd, text, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    close(fd);
    return rename(tmp, path);
}

/* Secrets and the masking of their values. */

#define MAX_SECRETS_FILE (1 << 20)
#define MASK "***"
#define MIN_MASKED 4 /* shorter values are not masked */

typedef struct masker {
    const char **vals;  /* the values to mask */
    size_t *lens;
    size_t n;
    char *buf;          /* what was read and not written yet */
    size_t len, cap;
} masker;

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the log is gone: nothing better to do */
        p += w;
        n -= (size_t)w;
    }
}

/*
 * Read the secrets file at path and remove it: each "NAME=VALUE" goes
 * into the environment the command inherits, each value of MIN_MASKED
 * bytes or more into m. Returns 0, or -1 with a message on stderr.
 */
static int read_secrets(masker *m, const char *path)
{
    char *data = malloc(MAX_SECRETS_FILE + 1), *p, *end;
    size_t len = 0;
    ssize_t r;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0 || !data) {
        fprintf(stderr, "kiln-shim: cannot read the secrets file %s: %s\n",
                path, strerror(errno));
        free(data);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    unlink(path);
    while (len < MAX_SECRETS_FILE &&
           ((r = read(fd, data + len, MAX_SECRETS_FILE - len)) > 0 ||
            (r < 0 && errno == EINTR)))
        len += r > 0 ? (size_t)r : 0;
    close(fd);
    data[len] = '\0';
    m->vals = calloc(len / 2 + 1, sizeof(*m->vals));
    m->lens = calloc(len / 2 + 1, sizeof(*m->lens));
    if (!m->vals || !m->lens)
        return -1;
    for (p = data, end = data + len; p < end; p += strlen(p) + 1) {
        char *eq = strchr(p, '=');
        if (!eq || eq == p)
            continue;
        /* The entry stays in data, which lives as long as the shim. */
        putenv(p);
        if (strlen(eq + 1) >= MIN_MASKED) {
            m->vals[m->n] = eq + 1;
            m->lens[m->n++] = strlen(eq + 1);
        }
    }
    return 0;
}

/* Write what m holds to fd with every value masked, keeping back the
 * bytes from the first place where a value may start and be cut by the
 * end of what was read so far (all of it at the end: eof). */
static void mask_flush(masker *m, int fd, bool eof)
{
    size_t i = 0, out = 0;
    while (i < m->len) {
        size_t hit = 0, rest = m->len - i;
        bool wait = false;
        for (size_t k = 0; k < m->n; k++) {
            size_t n = m->lens[k];
            if (m->vals[k][0] != m->buf[i] || n <= hit)
                continue;
            if (rest >= n) {
                if (memcmp(m->buf + i, m->vals[k], n) == 0)
                    hit = n;
            } else if (!eof && memcmp(m->buf + i, m->vals[k], rest) == 0) {
                wait = true; /* a longer value may end in the next read */
            }
        }
        if (wait)
            break;
        if (hit) {
            write_all(fd, m->buf + out, i - out);
            write_all(fd, MASK, sizeof(MASK) - 1);
            i += hit;
            out = i;
        } else {
            i++;
        }
    }
    write_all(fd, m->buf + out, i - out);
    memmove(m->buf, m->buf + i, m->len - i);
    m->len -= i;
}

static void mask_feed(masker *m, int fd, const char *data, size_t n)
{
    if (m->len + n > m->cap) {
        char *b = realloc(m->buf, m->len + n);
        if (!b) {
            /* No memory for the copy: mask what fits, one byte less. */
            mask_flush(m, fd, true);
            write_all(fd, "[kiln-shim: out of memory]\n", 27);
            return;
        }
        m->buf = b;
        m->cap = m->len + n;
    }
    memcpy(m->buf + m->len, data, n);
    m->len += n;
    mask_flush(m, fd, false);
}

static void on_child(int sig)
{
    (void)sig; /* only interrupts ppoll() */
}

/*
 * Copy the command's output from the pipe fd to stdout, masked by m,
 * until the command (pid) has ended; reap the orphans adopted meanwhile.
 * SIGCHLD is blocked outside ppoll() (orig: the mask to wait with), so
 * no end is missed. Returns the command's wait status, or -1.
 */
static int copy_masked(masker *m, int fd, pid_t pid, const sigset_t *orig)
{
    struct pollfd pfd;
    char chunk[65536];
    siginfo_t info;
    int status = -1;

    for (;;) {
        memset(&info, 0, sizeof(info));
        if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            info.si_pid != 0) {
            if (info.si_pid == pid) {
                command = 0;
                while (waitpid(pid, &status, 0) < 0)
                    if (errno != EINTR)
                        return -1;
                break;
            }
            waitpid(info.si_pid, NULL, 0);
            continue;
        }
        pfd.fd = fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (ppoll(&pfd, fd >= 0 ? 1 : 0, NULL, orig) <= 0 || fd < 0)
            continue; /* a signal (SIGCHLD): look again */
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n > 0) {
            mask_feed(m, 1, chunk, (size_t)n);
        } else if (n == 0 || errno != EINTR) {
            close(fd); /* every writer closed it: wait for the end only */
            fd = -1;
        }
    }
    kill_descendants();
    /* What the command and its descendants wrote before they ended; the
     * pipe is at its end unless a process that is no descendant holds
     * it, which gets a second at most. */
    for (int idle = 0; fd >= 0 && idle < 10;) {
        ssize_t n;
        pfd.fd = fd;
        pfd.events = POLLIN;
        if (poll(&pfd, 1, 100) == 0) {
            idle++;
            continue;
        }
        n = read(fd, chunk, sizeof(chunk));
        if (n > 0)
            mask_feed(m, 1, chunk, (size_t)n);
        else if (n == 0 || errno != EINTR)
            break;
    }
    if (fd >= 0)
        close(fd);
    mask_flush(m, 1, true);
    return status;
}

/* PROGRAM the kernel cannot execute (ENOEXEC: a script without "#!"):
 * /bin/sh FILE ARGS..., FILE found as execvp finds it. Returns only when
 * it fails, with errno set. */
/* prog as execvp finds it, in path (the default when NULL), into file;
 * -1 with errno when it is not found. */
int shim_find_program(char *file, size_t size, const char *prog,
                      const char *path)
{
    int err = ENOENT;
    if (strchr(prog, '/')) {
        snprintf(file, size, "%s", prog);
        return 0;
    }
    for (const char *dir = path ? path : "/usr/local/bin:/bin:/usr/bin";;) {
        size_t len = strcspn(dir, ":");
        /* An empty entry is the working directory. */
        snprintf(file, size, "%.*s%s%s", (int)len, dir, len ? "/" : "",
                 prog);
        if (access(file, X_OK) == 0)
            return 0;
        if (errno == EACCES)
            err = EACCES;
        if (!dir[len])
            break;
        dir += len + 1;
    }
    errno = err;
    return -1;
}

void shim_exec_sh(char **args)
{
    const char *path = getenv("PATH");
    char file[4096], **sh;
    size_t n = 0;

    while (args[n])
        n++;
    if (!(sh = calloc(n + 2, sizeof(char *))))
        return;
    memcpy(sh + 2, args + 1, n * sizeof(char *)); /* with the NULL */
    sh[0] = "/bin/sh";
    sh[1] = file;
    if (shim_find_program(file, sizeof(file), args[0],
                          path ? path : "/bin:/usr/bin") == 0)
        execv("/bin/sh", sh);
    free(sh);
    errno = ENOEXEC;
}

extern char **environ;

/* posix_spawnp PROGRAM with SIGINT, SIGTERM and SIGHUP back to their
 * defaults; -1 when it cannot (errno set), the pid otherwise. */
static pid_t spawn_command(char **args)
{
    posix_spawnattr_t attr;
    sigset_t def;
    pid_t pid;
    int rc;

    if (posix_spawnattr_init(&attr) != 0)
        return -1;
    sigemptyset(&def);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGTERM);
    sigaddset(&def, SIGHUP);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawnp(&pid, args[0], NULL, &attr, args, environ);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    return pid;
}

int main(int argc, char **argv)
{
    struct sigaction ign, dfl, req, chld;
    const char *secrets = NULL;
    sigset_t block, orig;
    masker m;
    char text[64];
    siginfo_t info;
    pid_t pid;
    int status, pipefd[2] = {-1, -1}, prog = 2;

    if (argc == 2 && strcmp(argv[1], "--serve") == 0)
        return shim_serve();
    if (argc >= 5 && strcmp(argv[2], "--secrets") == 0) {
        secrets = argv[3];
        prog = 4;
    }
    if (argc < prog + 1) {
        fprintf(stderr, "usage: kiln-shim STATUS_FILE [--secrets FILE] "
                "PROGRAM [ARG...]\n");
        return 126;
    }
    memset(&m, 0, sizeof(m));
    if (secrets && (read_secrets(&m, secrets) != 0 ||
                    pipe2(pipefd, O_CLOEXEC) != 0)) {
        shim_write_status(argv[1], "exit 126\n");
        return 126;
    }
    memset(&ign, 0, sizeof(ign));
    memset(&dfl, 0, sizeof(dfl));
    memset(&req, 0, sizeof(req));
    ign.sa_handler = SIG_IGN;
    dfl.sa_handler = SIG_DFL;
    req.sa_sigaction = on_kill;
    req.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGINT, &ign, NULL);
    sigaction(SIGTERM, &ign, NULL);
    sigaction(SIGHUP, &ign, NULL);
    sigaction(KILN_SHIM_KILL, &req, NULL);
    /* Orphans below the shim become its children, not init's. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    if (secrets) {
        memset(&chld, 0, sizeof(chld));
        chld.sa_handler = on_child;
        sigaction(SIGCHLD, &chld, NULL);
        sigemptyset(&block);
        sigaddset(&block, SIGCHLD);
        sigprocmask(SIG_BLOCK, &block, &orig);
    }

    /* Without secrets the command starts through posix_spawnp (a vfork:
     * no copy of the shim's page tables, about a third of a millisecond
     * a step less on a virtual machine); it resets the three signals the
     * shim ignores. A script without "#!" fails there with ENOEXEC and
     * goes the fork() way below, which runs it with /bin/sh. */
    pid = secrets ? -1 : spawn_command(argv + prog);
    if (pid < 0)
        pid = fork();
    if (pid < 0) {
        fprintf(stderr, "kiln-shim: fork: %s\n", strerror(errno));
        return 126;
    }
    if (pid == 0) {
        sigaction(SIGINT, &dfl, NULL);
        sigaction(SIGTERM, &dfl, NULL);
        sigaction(SIGHUP, &dfl, NULL);
        if (secrets) {
            sigaction(SIGCHLD, &dfl, NULL);
            sigprocmask(SIG_SETMASK, &orig, NULL);
            dup2(pipefd[1], 1);
            dup2(pipefd[1], 2);
        }
        /* glibc's execvp runs a script without "#!" with /bin/sh; musl's
         * does not, so that is done here. */
        execvp(argv[prog], argv + prog);
        if (errno == ENOEXEC)
            shim_exec_sh(argv + prog);
        fprintf(stderr, "kiln: cannot run %s: %s\n", argv[prog],
                strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    command = pid;
    if (kill_asked)
        kill(pid, SIGKILL);
    if (secrets) {
        close(pipefd[1]);
        status = copy_masked(&m, pipefd[0], pid, &orig);
        free(m.vals);
        free(m.lens);
        free(m.buf);
        if (status == -1)
            return 126;
        goto ended;
    }
    /* Wait for the command, reaping the orphans adopted meanwhile. It is
     * reaped only once on_kill can no longer signal its pid. */
    for (;;) {
        memset(&info, 0, sizeof(info));
        if (waitid(P_ALL, 0, &info, WEXITED | WNOWAIT) != 0) {
            if (errno == EINTR)
                continue;
            return 126;
        }
        if (info.si_pid == pid) {
            command = 0;
            while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                    return 126;
            break;
        }
        waitpid(info.si_pid, NULL, 0);
    }
    kill_descendants();
ended:
    if (WIFSIGNALED(status))
        snprintf(text, sizeof(text), "signal %d\n", WTERMSIG(status));
    else
        snprintf(text, sizeof(text), "exit %d\n", WEXITSTATUS(status));
    if (shim_write_status(argv[1], text) != 0)
        fprintf(stderr, "kiln-shim: cannot write %s: %s\n", argv[1],
                strerror(errno));
    if (WIFSIGNALED(status)) {
        sigaction(WTERMSIG(status), &dfl, NULL);
        raise(WTERMSIG(status));
    }
    return WEXITSTATUS(status);
}
