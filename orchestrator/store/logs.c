/*
 * logs.c: step logs as retention leaves them: as written, or gzip'd into
 * STEP.ATTEMPT.log.gz beside where the log was (zlib's gzip format, so
 * zcat reads them too). kiln logs and the API read both alike.
 *
 * A gzip'd log is read through gzseek(), which decompresses up to the
 * offset asked for: cheap for reading a log from its start, as both
 * readers do, chunk after chunk.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

struct kiln_log {
    int fd;          /* the plain log, or -1 */
    gzFile gz;       /* the gzip'd one, or NULL */
    int64_t size;    /* uncompressed */
};

int kiln_log_compress(const char *path, kiln_err *err)
{
    char *tmp = kiln_asprintf("%s.gz.tmp", path), *gz = NULL;
    char buf[65536];
    int in = -1, rc = 0;
    gzFile out = NULL;
    ssize_t n;

    if ((in = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = errno == ENOENT ? 0 : kiln_err_set_os(err, "cannot read log "
                                                   "%s", path);
        goto done;
    }
    if (!(out = gzopen(tmp, "wb6"))) {
        rc = kiln_err_set_os(err, "cannot write %s", tmp);
        goto done;
    }
    while ((n = read(in, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = kiln_err_set_os(err, "cannot read log %s", path);
            goto done;
        }
        if (gzwrite(out, buf, (unsigned)n) != (int)n) {
            rc = kiln_err_set(err, KILN_ERROR, "cannot write %s: the disk "
                              "may be full", tmp);
            goto done;
        }
    }
    n = gzclose(out);
    out = NULL;
    if (n != Z_OK) {
        rc = kiln_err_set(err, KILN_ERROR, "cannot write %s: the disk may "
                          "be full", tmp);
        goto done;
    }
    gz = kiln_asprintf("%s.gz", path);
    if (rename(tmp, gz) != 0)
        rc = kiln_err_set_os(err, "cannot rename %s", tmp);
    else if (unlink(path) != 0 && errno != ENOENT)
        rc = kiln_err_set_os(err, "cannot remove %s", path);
done:
    if (out)
        gzclose(out);
    if (rc != 0 || !gz)
        unlink(tmp);
    if (in >= 0)
        close(in);
    free(tmp);
    free(gz);
    return rc;
}

/* The uncompressed size of a gzip file: its trailer's ISIZE (modulo
 * 2^32: logs past 4 GiB are counted by reading them through). */
static int64_t gz_size(int fd, gzFile gz)
{
    unsigned char t[4];
    struct stat st;
    char buf[65536];
    int64_t size;
    int n;
    if (fstat(fd, &st) != 0 || st.st_size < 4 ||
        pread(fd, t, 4, st.st_size - 4) != 4)
        return 0;
    size = (int64_t)t[0] | (int64_t)t[1] << 8 | (int64_t)t[2] << 16 |
           (int64_t)t[3] << 24;
    if (st.st_size < (off_t)1 << 31)
        return size;
    size = 0;
    while ((n = gzread(gz, buf, sizeof(buf))) > 0)
        size += n;
    gzrewind(gz);
    return size;
}

int kiln_log_open(kiln_log **out, const char *path, kiln_err *err)
{
    kiln_log *log = kiln_calloc(1, sizeof(*log));
    struct stat st;
    char *gz;
    int fd;

    *out = NULL;
    log->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (log->fd >= 0) {
        log->size = fstat(log->fd, &st) == 0 ? st.st_size : 0;
        *out = log;
        return 0;
    }
    if (errno != ENOENT) {
        free(log);
        return kiln_err_set_os(err, "cannot open log %s", path);
    }
    gz = kiln_asprintf("%s.gz", path);
    fd = open(gz, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        free(log);
        free(gz);
        errno = e;
        if (e == ENOENT)
            return kiln_err_set(err, KILN_ENOTFOUND, "log %s is gone",
                                path);
        return kiln_err_set_os(err, "cannot open log %s.gz", path);
    }
    /* gzdopen() takes fd over; a dup keeps one to read the trailer. */
    log->fd = dup(fd);
    if (log->fd < 0 || !(log->gz = gzdopen(fd, "rb"))) {
        int e = errno;
        if (log->fd >= 0)
            close(log->fd);
        close(fd);
        free(log);
        errno = e;
        kiln_err_set_os(err, "cannot open log %s", gz);
        free(gz);
        return KILN_ERROR;
    }
    free(gz);
    gzbuffer(log->gz, 65536);
    log->size = gz_size(log->fd, log->gz);
    close(log->fd);
    log->fd = -1;
    *out = log;
    return 0;
}

int64_t kiln_log_size(kiln_log *log)
{
    return log->size;
}

bool kiln_log_compressed(const kiln_log *log)
{
    return log->gz != NULL;
}

ssize_t kiln_log_pread(kiln_log *log, void *buf, size_t n, int64_t offset)
{
    int got;
    if (!log->gz)
        return pread(log->fd, buf, n, (off_t)offset);
    if (n > 1u << 30)
        n = 1u << 30;
    if (gztell(log->gz) != (z_off_t)offset &&
        gzseek(log->gz, (z_off_t)offset, SEEK_SET) < 0) {
        errno = EIO;
        return -1;
    }
    got = gzread(log->gz, buf, (unsigned)n);
    if (got < 0) {
        errno = EIO;
        return -1;
    }
    return got;
}

void kiln_log_close(kiln_log *log)
{
    if (!log)
        return;
    if (log->gz)
        gzclose(log->gz);
    if (log->fd >= 0)
        close(log->fd);
    free(log);
}

int kiln_log_read(char **out, size_t *len, const char *path, size_t max,
                  kiln_err *err)
{
    kiln_log *log;
    size_t got = 0;
    char *buf;
    int rc = kiln_log_open(&log, path, err);
    *out = NULL;
    *len = 0;
    if (rc != 0)
        return rc;
    if ((int64_t)max > log->size)
        max = (size_t)log->size;
    buf = kiln_malloc(max + 1);
    while (got < max) {
        ssize_t n = kiln_log_pread(log, buf + got, max - got,
                                   (int64_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    kiln_log_close(log);
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}
