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
    int dir_fd;
    char *path;
};

/* The pid in the lock file fd, or "" (text holds 32 bytes). */
static const char *holder_pid(int fd, char *text)
{
    ssize_t n = fd >= 0 ? pread(fd, text, 31, 0) : -1;
    text[n > 0 ? n : 0] = '\0';
    text[strcspn(text, "\n")] = '\0';
    return text;
}

/* The state directory itself is locked too: a kiln.lock deleted (by hand,
 * by a clean-up script) lets the next daemon lock a new file, but not the
 * directory. */
static int lock_dir(int *dir_fd, const char *state_dir, kiln_err *err)
{
    char text[32], *path;
    int fd;

    if ((*dir_fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return kiln_err_set_os(err, "cannot open %s", state_dir);
    if (flock(*dir_fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    if (errno != EWOULDBLOCK) {
        kiln_err_set_os(err, "cannot lock %s", state_dir);
    } else {
        path = kiln_path_join(state_dir, "kiln.lock");
        fd = open(path, O_RDONLY | O_CLOEXEC);
        free(path);
        if (holder_pid(fd, text)[0])
            kiln_err_set(err, KILN_EBUSY, "another kiln serve (pid %s) "
                         "holds the state directory %s", text, state_dir);
        else
            kiln_err_set(err, KILN_EBUSY, "another kiln serve holds the "
                         "state directory %s (its kiln.lock is gone)",
                         state_dir);
        if (fd >= 0)
            close(fd);
    }
    close(*dir_fd);
    *dir_fd = -1;
    return err->code;
}

int kiln_lock_acquire(kiln_lock **out, const char *state_dir, kiln_err *err)
{
    char *path = kiln_path_join(state_dir, "kiln.lock");
    char text[32];
    int fd;

    int dir_fd;

    *out = NULL;
    if (lock_dir(&dir_fd, state_dir, err) != 0) {
        free(path);
        return err->code;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        kiln_err_set_os(err, "cannot open %s", path);
        close(dir_fd);
        free(path);
        return KILN_ERROR;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int rc;
        if (errno != EWOULDBLOCK)
            rc = kiln_err_set_os(err, "cannot lock %s", path);
        else if (holder_pid(fd, text)[0])
            rc = kiln_err_set(err, KILN_EBUSY, "another kiln serve (pid %s) "
                              "holds the state directory %s", text,
                              state_dir);
        else
            rc = kiln_err_set(err, KILN_EBUSY, "another kiln serve holds "
                              "the state directory %s", state_dir);
        close(fd);
        close(dir_fd);
        free(path);
        return rc;
    }
    snprintf(text, sizeof(text), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 ||
        pwrite(fd, text, strlen(text), 0) != (ssize_t)strlen(text)) {
        kiln_err_set_os(err, "cannot write %s", path);
        close(fd);
        close(dir_fd);
        free(path);
        return KILN_ERROR;
    }
    *out = kiln_calloc(1, sizeof(**out));
    (*out)->fd = fd;
    (*out)->dir_fd = dir_fd;
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
    close(lock->dir_fd);
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
    if (fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) != 0 &&
        errno == EWOULDBLOCK && (pid = atol(holder_pid(fd, text))) <= 0)
        pid = -1; /* held, pid unknown */
    if (fd >= 0)
        close(fd);
    /* Its kiln.lock deleted, a daemon still holds the directory. */
    if (pid == 0 && (fd = open(state_dir, O_RDONLY | O_DIRECTORY |
                               O_CLOEXEC)) >= 0) {
        if (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK)
            pid = -1;
        close(fd);
    }
    return pid;
}
