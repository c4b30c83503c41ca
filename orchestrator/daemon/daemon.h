/*
 * daemon.h: kiln serve, the scheduler daemon.
 *
 * It loads pipeline files, arms one libuv timer per cron expression at its
 * next fire time (nothing polls: between fires the loop sleeps), and starts
 * runs on one engine shared by every pipeline, applying each schedule's
 * policies (concurrency, max_active_runs, start_deadline, catchup). Every
 * fire is recorded, started or not, with the reason. SIGHUP reloads the
 * files; SIGTERM or SIGINT drains: no new steps, running ones get --grace
 * to finish, then the rest are cancelled and the daemon exits 0.
 */
#ifndef KILN_DAEMON_H
#define KILN_DAEMON_H

#include "dsl/dsl.h"
#include "store/store.h"

typedef struct kiln_daemon_options {
    const char *state_dir;   /* absolute; holds kiln.db and the lock */
    unsigned jobs;           /* 0: CPUs */
    size_t n_paths;
    char **paths;            /* pipeline files or directories */
    size_t n_pools;
    const kiln_kv *pools;    /* NAME=N */
    int64_t grace_ms;        /* how long running steps may finish */
    const char *listen;      /* the web API's address, or NULL: none */
    const char *token;       /* the API token, or NULL */
    const char *tls_cert;    /* HTTPS: certificate chain and key (PEM), */
    const char *tls_key;     /* both or neither */
    const char *auth_header; /* behind an SSO proxy: its user header, */
    const char *const *trusted_proxies; /* believed from these (NULL- */
    const char *auth_header_role;       /* ended); unknown users' role */
    int64_t session_ttl_ms;  /* page sessions; 0: 12 h */
    const char *openlineage; /* OpenLineage events: a URL or a file, or
                                NULL: none */
    const char *openlineage_ns; /* their jobs' namespace; NULL: "kiln" */
    /* Retention (retention.c): the limits of pipelines without their
     * own retention:, the ages past which trigger checks and fires, and
     * notifications, go (-1: kept), and how often a pass runs (0:
     * never). */
    kiln_store_retention retention;
    int64_t keep_checks_ms;
    int64_t keep_notifications_ms;
    int64_t retention_every_ms;
} kiln_daemon_options;

/*
 * Run the daemon until it is told to stop. Returns the process exit status
 * (0 after a clean drain) and prints what went wrong otherwise.
 */
int kiln_daemon_run(const kiln_daemon_options *o);

/* The paths a scan could not read, each with why. */
typedef struct kiln_daemon_unread {
    char **path; /* absolute */
    char **why;
    size_t n;
} kiln_daemon_unread;

/* Every pipeline file a path names: itself, or the *.yaml and *.yml files
 * (or symlinks) under a directory (hidden directories skipped), sorted.
 * The caller frees the array and its strings. A path that cannot be read
 * is left out and put in *unread (KILN_ERROR; the rest is scanned);
 * dispose of it with kiln_daemon_unread_dispose(). */
int kiln_daemon_scan(char ***out, size_t *n, char *const *paths,
                     size_t n_paths, kiln_daemon_unread *unread);
void kiln_daemon_unread_dispose(kiln_daemon_unread *unread);

#endif
