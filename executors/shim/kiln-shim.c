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
 * It uses only libc and starts fast: it runs once per step.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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
    struct sigaction ign, dfl;
    char text[64];
    pid_t pid;
    int status;

    if (argc < 3) {
        fprintf(stderr, "usage: kiln-shim STATUS_FILE PROGRAM [ARG...]\n");
        return 126;
    }
    memset(&ign, 0, sizeof(ign));
    memset(&dfl, 0, sizeof(dfl));
    ign.sa_handler = SIG_IGN;
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGINT, &ign, NULL);
    sigaction(SIGTERM, &ign, NULL);
    sigaction(SIGHUP, &ign, NULL);

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
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return 126;
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
