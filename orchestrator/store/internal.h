/*
 * internal.h: what the store's files share: the connection, and the one
 * way to prepare and run a statement.
 *
 * Every statement is a static const string of the file that uses it,
 * prepared once per connection on first use (kiln_store__stmt()) and kept;
 * a statement comes back reset, with no bindings. Writes end with
 * kiln_store__write(), reads step rows and end with kiln_store__end(), both
 * resetting it and translating SQLite's result into a kiln_err.
 */
#ifndef KILN_STORE_INTERNAL_H
#define KILN_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdarg.h>

#include "store.h"

struct kiln_store {
    sqlite3 *db;
    uint64_t data_version;   /* PRAGMA data_version, last looked at */
    char *path;
    bool readonly;           /* opened for reading only */
    bool patient;            /* wait for a lock as long as it takes */
    int busy_limit_ms;       /* how long a write waits, when not patient */
    int64_t busy_since;      /* monotonic ms of the current wait (0: none) */
    int64_t busy_said;       /* ...when it was last said */
    int depth;               /* transactions open (nested: savepoints) */
    void (*wal_wanted)(void *data, int frames); /* kiln_store_on_wal() */
    void *wal_data;
    size_t n_stmts, cap_stmts;
    struct kiln_store_stmt {
        const char *sql;     /* the static string, compared by address */
        sqlite3_stmt *stmt;
    } *stmts;                /* prepared so far */
};

/*
 * The ids of the model_aliases rows in force: for each model and alias,
 * the newest row not rolled back. A loose index scan along
 * model_aliases_by_name (name, alias, id), from one (model, alias) to the
 * next: it reads a few rows per alias, not every move ever made.
 */
#define KILN_STORE__ALIASES_IN_FORCE                                        \
    "WITH RECURSIVE nm(name) AS (SELECT min(name) FROM model_aliases "      \
    "UNION ALL SELECT (SELECT min(name) FROM model_aliases WHERE name > "   \
    "nm.name) FROM nm WHERE nm.name IS NOT NULL), na(name, alias) AS "      \
    "(SELECT name, (SELECT min(alias) FROM model_aliases b WHERE b.name = " \
    "nm.name) FROM nm WHERE name IS NOT NULL UNION ALL SELECT name, "       \
    "(SELECT min(alias) FROM model_aliases b WHERE b.name = na.name AND "   \
    "b.alias > na.alias) FROM na WHERE na.alias IS NOT NULL) SELECT "       \
    "(SELECT c.id FROM model_aliases c WHERE c.name = na.name AND c.alias " \
    "= na.alias AND c.rolled_back = 0 ORDER BY c.id DESC LIMIT 1) FROM na " \
    "WHERE na.alias IS NOT NULL"

/* A SQLite failure as a kiln_err naming what was being done. */
int kiln_store__error(kiln_store *st, int rc, kiln_err *err,
                      const char *what);
/* The prepared statement of sql (a static string), reset; NULL and err on
 * failure. */
sqlite3_stmt *kiln_store__stmt(kiln_store *st, const char *sql,
                               kiln_err *err, const char *what);
/* Step a write to its end and reset it. */
int kiln_store__write(kiln_store *st, sqlite3_stmt *s, kiln_err *err,
                      const char *what);
/* After stepping rows: rc was sqlite3_step()'s last result. Resets s;
 * 0 when it was SQLITE_DONE (or SQLITE_ROW: the caller stopped early). */
int kiln_store__end(kiln_store *st, sqlite3_stmt *s, int rc, kiln_err *err,
                    const char *what);
/* The one integer of a query's first row (def when there is none). */
int kiln_store__int(kiln_store *st, int64_t *out, sqlite3_stmt *s,
                    int64_t def, kiln_err *err, const char *what);

/*
 * Bind a statement's parameters ?1, ?2... from fmt, one letter each: s
 * text (NULL binds NULL), i int, e int (NULL when negative), I int64, n
 * an id (int64, NULL when not above zero), d double, b bool.
 */
void kiln_store__bindv(sqlite3_stmt *s, const char *fmt, va_list ap);
/* Prepare sql, bind it from fmt and step it to its end: a write. */
int kiln_store__run(kiln_store *st, kiln_err *err, const char *what,
                    const char *sql, const char *fmt, ...);
/* Prepare sql and bind it from fmt, for the caller to step its rows and
 * end with kiln_store__end(). NULL and err on failure. */
sqlite3_stmt *kiln_store__query(kiln_store *st, kiln_err *err,
                                const char *what, const char *sql,
                                const char *fmt, ...);
/* Every row of sql (bound from fmt) as an element of size elem appended
 * to the array *out of *n, filled by fill. On failure the array is freed
 * (dispose, when not NULL, first disposes each element read). */
int kiln_store__rows(kiln_store *st, void *out, size_t *n, size_t elem,
                     void (*fill)(void *row, sqlite3_stmt *s),
                     void (*dispose)(void *row), kiln_err *err,
                     const char *what, const char *sql, const char *fmt,
                     ...);

/* Step s's rows of (relative path, hash) onto *rel and *sha (*n of them;
 * objects.c), then end it. */
int kiln_store__file_rows(kiln_store *st, sqlite3_stmt *s, size_t *n,
                          char ***rel, char ***sha, kiln_err *err,
                          const char *what);

/* Transactions (store.c); kiln_store_begin() and friends are these. */
int kiln_store__begin(kiln_store *st, kiln_err *err, const char *what);
int kiln_store__commit(kiln_store *st, kiln_err *err, const char *what);
void kiln_store__rollback(kiln_store *st);

/* Bind text, or NULL. */
void kiln_store__text(sqlite3_stmt *s, int i, const char *v);
/* Bind an integer, or NULL when it is not above zero. */
void kiln_store__id(sqlite3_stmt *s, int i, int64_t v);
/* A column's text copied (NULL stays NULL). */
char *kiln_store__dup(sqlite3_stmt *s, int col);

#endif
