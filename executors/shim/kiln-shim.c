/*
 * kiln-shim: runs one step command and writes how it ended to a file.
 *
 *   kiln-shim STATUS_FILE PROGRAM [ARG...]
 *
 * The local executor starts every step through this small program, so a
 * step's exit status survives the daemon: a daemon killed mid-run and
 * started again finds the shim by pid (and start time) if it still runs,
 * and reads STATUS_FILE once it has ended. The shim ignores SIGINT,
 * SIGTERM and SIGHUP (they reach the command through its process group)
 * so it can record the command's end; it then exits the same way the
 * command did. STATUS_FILE holds "exit N" or "signal N" and appears
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
 * It uses only libc and starts fast: it runs once per step.
 */
#include "kiln-shim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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

/* Without /proc/PID/task/TID/children (a kernel built without
 * CONFIG_PROC_CHILDREN): SIGKILL every process whose /proc/PID/stat names
 * the shim as its parent. Returns how many, or -1 without /proc. */
static int kill_children_scan(pid_t self)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;

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
        /* An unreaped child of ours: its pid cannot be anyone else's. */
        kill(atoi(e->d_name), SIGKILL);
        n++;
    }
    closedir(d);
    return n;
}

/* SIGKILL each child of the shim, listed by the kernel. Returns how
 * many, or -1 when they cannot be listed. */
static int kill_children(void)
{
    char path[64], buf[1024];
    pid_t self = getpid(), pid = 0;
    ssize_t len;
    int fd, n = 0;

    snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)self);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return kill_children_scan(self);
    /* "PID PID ... " */
    while ((len = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < len; i++) {
            if (buf[i] >= '0' && buf[i] <= '9') {
                pid = pid * 10 + (buf[i] - '0');
            } else if (pid > 0) {
                kill(pid, SIGKILL);
                n++;
                pid = 0;
            }
        }
    }
    if (pid > 0) {
        kill(pid, SIGKILL);
        n++;
    }
    close(fd);
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

static int write_status(const char *path, const char *text)
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

int main(int argc, char **argv)
{
    struct sigaction ign, dfl, req;
    char text[64];
    siginfo_t info;
    pid_t pid;
    int status;

    if (argc < 3) {
        fprintf(stderr, "usage: kiln-shim STATUS_FILE PROGRAM [ARG...]\n");
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

    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "kiln-shim: fork: %s\n", strerror(errno));
        return 126;
    }
    if (pid == 0) {
        sigaction(SIGINT, &dfl, NULL);
        sigaction(SIGTERM, &dfl, NULL);
        sigaction(SIGHUP, &dfl, NULL);
        /* glibc's execvp runs a script without "#!" with /bin/sh. */
        execvp(argv[2], argv + 2);
        fprintf(stderr, "kiln: cannot run %s: %s\n", argv[2],
                strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    command = pid;
    if (kill_asked)
        kill(pid, SIGKILL);
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
    if (WIFSIGNALED(status))
        snprintf(text, sizeof(text), "signal %d\n", WTERMSIG(status));
    else
        snprintf(text, sizeof(text), "exit %d\n", WEXITSTATUS(status));
    if (write_status(argv[1], text) != 0)
        fprintf(stderr, "kiln-shim: cannot write %s: %s\n", argv[1],
                strerror(errno));
    if (WIFSIGNALED(status)) {
        sigaction(WTERMSIG(status), &dfl, NULL);
        raise(WTERMSIG(status));
    }
    return WEXITSTATUS(status);
}
