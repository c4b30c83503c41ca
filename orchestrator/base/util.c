/* util.c: time formatting, paths and whole-file reads. */
#include "base/base.h"

#include <errno.h>
#include <ftw.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t kiln_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *kiln_fmt_duration(char *buf, size_t size, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    if (ms < 60000)
        snprintf(buf, size, "%.1fs", (double)ms / 1000.0);
    else if (ms < 3600000)
        snprintf(buf, size, "%dm%02ds", (int)(ms / 60000),
                 (int)(ms / 1000 % 60));
    else
        snprintf(buf, size, "%dh%02dm", (int)(ms / 3600000),
                 (int)(ms / 60000 % 60));
    return buf;
}

const char *kiln_fmt_time(char *buf, size_t size, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

char *kiln_self_exe(void)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0 || (size_t)n >= sizeof(exe) - 1)
        return NULL;
    exe[n] = '\0';
    return kiln_strdup(exe);
}

uint64_t kiln_proc_start(pid_t pid)
{
    char path[64], buf[1024], *p, *close_paren;
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
    /* The command name (field 2) may hold spaces and parentheses: fields
     * resume after the last ')'. State is field 3, start time field 22. */
    if (!(close_paren = strrchr(buf, ')')))
        return 0;
    if (strncmp(close_paren, ") Z", 3) == 0 ||
        strncmp(close_paren, ") X", 3) == 0)
        return 0;
    p = close_paren;
    for (int field = 2; field < 22 && p; field++)
        p = strchr(p + 1, ' ');
    if (p)
        sscanf(p + 1, "%llu", &start);
    return (uint64_t)start;
}

char *kiln_path_join(const char *a, const char *b)
{
    size_t n;
    if (!a || !*a || b[0] == '/')
        return kiln_strdup(b);
    n = strlen(a);
    if (strcmp(b, ".") == 0)
        return kiln_strdup(a);
    return kiln_asprintf("%s%s%s", a, a[n - 1] == '/' ? "" : "/", b);
}

char *kiln_path_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return kiln_strdup(".");
    if (slash == path)
        return kiln_strdup("/");
    return kiln_strndup(path, (size_t)(slash - path));
}

const char *kiln_file_kind(mode_t mode)
{
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISLNK(mode))
        return "a symlink";
    return "a file";
}

char *kiln_path_absolute(const char *path)
{
    char cwd[4096];
    char *abs, *real;
    if ((real = realpath(path, NULL)) != NULL) {
        abs = kiln_strdup(real);
        free(real);
        return abs;
    }
    if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
        return kiln_strdup(path);
    return kiln_path_join(cwd, path);
}

static int writable_entry(const char *path, const struct stat *st, int type,
                          struct FTW *ftw)
{
    (void)ftw;
    if (type == FTW_D)
        chmod(path, (st->st_mode & 07777) | S_IRWXU);
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type,
                        struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_DP)
        return rmdir(path) != 0 && errno != ENOENT;
    return unlink(path) != 0 && errno != ENOENT;
}

void kiln_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    /* A read-only directory's entries cannot be removed: open them up
     * first (kiln's model copies are read-only). */
    nftw(path, writable_entry, 16, FTW_PHYS);
    nftw(path, remove_entry, 16, FTW_PHYS | FTW_DEPTH);
}

int kiln_mkdir_p(const char *path, kiln_err *err)
{
    char *p = kiln_strdup(path), *s;
    int rc = 0;
    for (s = p + 1; ; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                rc = kiln_err_set_os(err, "cannot create directory %s", p);
                break;
            }
            *s = c;
            if (c == '\0')
                break;
        }
    }
    free(p);
    return rc;
}

int kiln_read_file(char **out, size_t *len, const char *path, size_t max,
                   kiln_err *err)
{
    kiln_buf b = KILN_BUF_INIT;
    char chunk[65536];
    ssize_t n;
    /* Not blocking in open(): a FIFO nobody writes to (a *.yaml in a
     * directory kiln serve loads) held it there for ever, deaf to
     * signals; it reads as empty instead. Reads block again after, so a
     * pipe being written (--token-file <(...)) is read whole. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    *out = NULL;
    if (fd < 0)
        return kiln_err_set_os(err, "cannot open %s", path);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            kiln_err_set_os(err, "cannot read %s", path);
            close(fd);
            kiln_buf_dispose(&b);
            return KILN_ERROR;
        }
        if (b.len + (size_t)n > max) {
            close(fd);
            kiln_buf_dispose(&b);
            return kiln_err_set(err, KILN_EINVAL,
                                "%s is larger than %zu bytes", path, max);
        }
        kiln_buf_add(&b, chunk, (size_t)n);
    }
    close(fd);
    if (len)
        *len = b.len;
    *out = kiln_buf_detach(&b);
    return 0;
}

int kiln_open_regular(const char *path, kiln_err *err)
{
    struct stat st;
    /* O_NONBLOCK: a FIFO nobody writes to would hold open() for ever
     * (a drift trigger's file held a pool thread, and four of them the
     * whole daemon). fstat after open, not stat before: the path may be
     * replaced in between. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return kiln_err_set_os(err, "cannot open %s", path);
    if (fstat(fd, &st) != 0) {
        kiln_err_set_os(err, "cannot read %s", path);
        close(fd);
        return KILN_ERROR;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return kiln_err_set(err, KILN_EINVAL, "%s is %s, not a file", path,
                            kiln_file_kind(st.st_mode));
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

void kiln_crash_point(const char *name)
{
    static int armed = -1;
    static char want[64];
    static long left;
    const char *env, *colon;

    if (armed < 0) {
        env = getenv("KILN_CRASH");
        colon = env ? strrchr(env, ':') : NULL;
        armed = colon && (size_t)(colon - env) < sizeof(want);
        if (armed) {
            memcpy(want, env, (size_t)(colon - env));
            want[colon - env] = '\0';
            left = strtol(colon + 1, NULL, 10);
        }
    }
    if (armed && strcmp(name, want) == 0 && --left == 0)
        raise(SIGKILL);
}

const char *kiln_user_name(void)
{
    static char name[64];
    struct passwd *pw;
    if (name[0])
        return name;
    if ((pw = getpwuid(getuid())) != NULL && pw->pw_name[0])
        snprintf(name, sizeof(name), "%s", pw->pw_name);
    else
        snprintf(name, sizeof(name), "uid %lu", (unsigned long)getuid());
    return name;
}

void kiln_random_hex(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[64];
    size_t got = 0;

    if (n > sizeof(b))
        abort();
    while (got < n) {
        ssize_t r = getrandom(b + got, n - got, 0);
        if (r < 0 && errno != EINTR)
            abort();
        if (r > 0)
            got += (size_t)r;
    }
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * n] = '\0';
}
