/*
 * base.h: the leaf every kiln module may include.
 *
 * Errors with a position, aborting allocators, an arena for immutable models
 * and a growable byte buffer. Nothing here includes another kiln header or a
 * third-party library, so dsl/ can use it without dragging in libuv or SQLite.
 */
#ifndef KILN_BASE_H
#define KILN_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#if defined(__GNUC__)
#define KILN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define KILN_NORETURN __attribute__((noreturn))
#else
#define KILN_PRINTF(f, a)
#define KILN_NORETURN
#endif

#define KILN_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Error codes: 0 is success, every failure is negative. */
enum {
    KILN_OK = 0,
    KILN_ERROR = -1,     /* kiln itself could not work (I/O, database...) */
    KILN_EINVAL = -2,    /* the user's input is wrong */
    KILN_ENOTFOUND = -3, /* a named thing does not exist */
    KILN_ECANCELED = -4,
    KILN_ETIMEDOUT = -5,
    KILN_EBUSY = -6      /* a resource stayed locked too long */
};

/* CLI exit statuses, documented in README.md and `kiln --help`. */
enum {
    KILN_EXIT_OK = 0,
    KILN_EXIT_FAILED = 1,  /* a step failed or the run was cancelled */
    KILN_EXIT_USAGE = 2,   /* invalid pipeline or usage */
    KILN_EXIT_SYSTEM = 3   /* kiln itself could not work */
};

typedef struct kiln_pos {
    const char *file; /* borrowed; NULL when unknown */
    unsigned line;    /* 1-based; 0 = unknown */
    unsigned col;     /* 1-based */
} kiln_pos;

typedef struct kiln_err {
    int code;       /* KILN_E*, negative; 0 when nothing failed */
    kiln_pos pos;   /* set for user-input errors; line 0 = unknown */
    char msg[512];  /* what failed, with the offending value */
} kiln_err;

#define KILN_ERR_INIT {0, {NULL, 0, 0}, {0}}

/* A key/value pair: a `params:` or `env:` entry of a pipeline (values are
 * the scalar's text as written: numbers and booleans keep their
 * spelling), a run's params, a --param NAME=VALUE. */
typedef struct kiln_kv {
    const char *key;
    const char *value;
    kiln_pos pos;            /* where it was written, when it was */
} kiln_kv;

/* Set err (when not NULL) and return code, so callers can
 * `return kiln_err_set(err, KILN_EINVAL, "...")`. */
int kiln_err_set(kiln_err *err, int code, const char *fmt, ...)
    KILN_PRINTF(3, 4);
/* As kiln_err_set() and append ": strerror(errno)". */
int kiln_err_set_os(kiln_err *err, const char *fmt, ...) KILN_PRINTF(2, 3);
/* As kiln_err_set() with a source position. */
int kiln_err_set_at(kiln_err *err, int code, kiln_pos pos,
                    const char *fmt, ...) KILN_PRINTF(4, 5);
/* Print err in compiler style to stderr: "FILE:LINE:COL: error: MSG" when
 * it has a position, "kiln: error: MSG" otherwise. */
void kiln_err_print(const kiln_err *err);

/* Map an error code to the CLI exit status. */
int kiln_err_exit_code(int code);

/* Aborting allocators: kiln is an application, so a failed small allocation
 * prints a message and aborts rather than threading NULL everywhere. */
void *kiln_malloc(size_t n);
void *kiln_calloc(size_t n, size_t size);
/* Hand the free memory inside the heap back to the system, after a large
 * transient structure is gone (glibc's malloc_trim; nothing elsewhere). */
void kiln_mem_trim(void);
void *kiln_realloc(void *p, size_t n);
char *kiln_strdup(const char *s);
char *kiln_strndup(const char *s, size_t n);
/* Returns a malloc'd formatted string; the caller frees it. */
char *kiln_asprintf(const char *fmt, ...) KILN_PRINTF(1, 2);
KILN_NORETURN void kiln_fatal(const char *fmt, ...) KILN_PRINTF(1, 2);

/* Arena: many small allocations freed as one unit (h2o's mem pool). Used
 * for the immutable pipeline model. */
typedef struct kiln_arena kiln_arena;
kiln_arena *kiln_arena_new(void);
void kiln_arena_free(kiln_arena *a);          /* NULL is fine */
void *kiln_arena_alloc(kiln_arena *a, size_t n); /* zeroed, 16-aligned */
char *kiln_arena_strdup(kiln_arena *a, const char *s);
char *kiln_arena_strndup(kiln_arena *a, const char *s, size_t n);
char *kiln_arena_printf(kiln_arena *a, const char *fmt, ...) KILN_PRINTF(2, 3);

/* Growable byte buffer, always NUL-terminated. init/dispose: the struct is
 * the caller's, the bytes are the buffer's. */
typedef struct kiln_buf {
    char *ptr;   /* NUL-terminated; NULL until something is added */
    size_t len;
    size_t cap;
} kiln_buf;
#define KILN_BUF_INIT {NULL, 0, 0}
void kiln_buf_add(kiln_buf *b, const void *p, size_t n);
void kiln_buf_puts(kiln_buf *b, const char *s);
void kiln_buf_printf(kiln_buf *b, const char *fmt, ...) KILN_PRINTF(2, 3);
void kiln_buf_vprintf(kiln_buf *b, const char *fmt, va_list ap);
void kiln_buf_clear(kiln_buf *b);
const char *kiln_buf_cstr(const kiln_buf *b); /* "" when empty */
/* Append s as a JSON string, quoted and escaped (s is UTF-8). */
void kiln_buf_json_string(kiln_buf *b, const char *s);
/* Hand the bytes to the caller (free() them) and reset the buffer. */
char *kiln_buf_detach(kiln_buf *b);
void kiln_buf_dispose(kiln_buf *b);

/* The name of the Unix user running this process ("uid N" when it has
 * none): who a CLI command acts as in the audit trail. */
const char *kiln_user_name(void);

/* n random bytes from the kernel (getrandom) as 2n hex digits and a NUL
 * in out: secrets such as API tokens and session ids. Aborts when the
 * kernel has none to give, rather than hand out a guessable secret. */
void kiln_random_hex(char *out, size_t n);

/* Durations and times. */
int64_t kiln_now_ms(void); /* wall clock, ms since the epoch */
/* Format ms as "1.2s", "3m04s", "1h02m". buf needs 32 bytes. */
const char *kiln_fmt_duration(char *buf, size_t size, int64_t ms);
/* Format a wall-clock time as ISO-8601 UTC ("2026-11-21T23:19:21Z"). */
const char *kiln_fmt_time(char *buf, size_t size, int64_t ms);

/* Processes. The start time of pid in clock ticks since boot (from
 * /proc/PID/stat), or 0 when it does not run (or is a zombie). With the
 * pid it names a process unambiguously: pids are recycled, start times
 * are not. */
uint64_t kiln_proc_start(pid_t pid);
/* The running program's absolute path (/proc/self/exe), or NULL when it
 * cannot be known. Free it. */
char *kiln_self_exe(void);
/*
 * Fault injection for the kill tests: with KILN_CRASH=NAME:N in the
 * environment, the N-th time this process passes point NAME it kills
 * itself with SIGKILL, as an operator's kill -9 would at that instant.
 * Without KILN_CRASH it costs one branch.
 */
void kiln_crash_point(const char *name);

/* Paths. Results are malloc'd; the caller frees them. */
char *kiln_path_join(const char *a, const char *b);
char *kiln_path_dirname(const char *path);
char *kiln_path_absolute(const char *path); /* does not need to exist */
/* What a file of this st_mode is, for a message: "a FIFO", "a character
 * device", "a block device", "a socket", "a directory", "a symlink" or
 * "a file". */
const char *kiln_file_kind(mode_t mode);
/* mkdir -p; returns 0 or a KILN_ERROR with the path in err. */
int kiln_mkdir_p(const char *path, kiln_err *err);
/* rm -rf: a file, or a directory and what is in it (read-only ones too);
 * nothing there is fine. */
void kiln_remove_tree(const char *path);
/* Read a whole file (at most max bytes) into a malloc'd NUL-terminated
 * buffer. */
int kiln_read_file(char **out, size_t *len, const char *path, size_t max,
                   kiln_err *err);
/* Open a regular file for reading: the descriptor, or an error code (< 0)
 * with err naming the path and, for anything else (a FIFO, a directory, a
 * device: KILN_EINVAL), what it is. Never blocks in open(). */
int kiln_open_regular(const char *path, kiln_err *err);

#endif
