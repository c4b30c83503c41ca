/* lock.c: the daemon's lock file. */
#include "lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

struct kiln_lock {
    int fd;
    char *path;
};

int kiln_lock_acquire(kiln_lock **out, const char *state_dir, kiln_err *err)
{
    char *path = kiln_path_join(state_dir, "kiln.lock");
    char text[32];
    int fd;

    *out = NULL;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        kiln_err_set_os(err, "cannot open %s", path);
        free(path);
        return KILN_ERROR;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int rc;
        ssize_t n = errno == EWOULDBLOCK ? pread(fd, text, sizeof(text) - 1,
                                                 0) : -1;
        if (n > 0) {
            text[n] = '\0';
            text[strcspn(text, "\n")] = '\0';
            rc = kiln_err_set(err, KILN_EBUSY, "another kiln serve (pid %s) "
                              "holds the state directory %s", text,
                              state_dir);
        } else if (errno == EWOULDBLOCK) {
            rc = kiln_err_set(err, KILN_EBUSY, "another kiln serve holds "
                              "the state directory %s", state_dir);
        } else {
            rc = kiln_err_set_os(err, "cannot lock %s", path);
        }
        close(fd);
        free(path);
        return rc;
    }
    snprintf(text, sizeof(text), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 ||
        pwrite(fd, text, strlen(text), 0) != (ssize_t)strlen(text)) {
        kiln_err_set_os(err, "cannot write %s", path);
        close(fd);
        free(path);
        return KILN_ERROR;
    }
    *out = kiln_calloc(1, sizeof(**out));
    (*out)->fd = fd;
    (*out)->path = path;
    return 0;
}

void kiln_lock_release(kiln_lock *lock)
{
    if (!lock)
        return;
    if (ftruncate(lock->fd, 0) != 0) {
        /* The lock goes with the descriptor; a stale pid is harmless. */
    }
    close(lock->fd);
    free(lock->path);
    free(lock);
}

long kiln_lock_holder(const char *state_dir)
{
    char *path = kiln_path_join(state_dir, "kiln.lock");
    char text[32];
    long pid = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return 0;
    if (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
        ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
        if (n > 0) {
            text[n] = '\0';
            pid = atol(text);
        }
        if (pid <= 0)
            pid = -1; /* held, pid unknown */
    }
    close(fd);
    return pid;
}
