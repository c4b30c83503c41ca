/* cmd-serve.c: kiln serve [--state DIR] [--jobs N] [--pool NAME=N]...
 * [--grace DURATION] [--listen ADDR:PORT] [--token-file FILE]
 * [--tls-cert FILE --tls-key FILE] [--openlineage URL|FILE]
 * [--keep-runs N] [--keep-runs-for DURATION]... [--retention-every
 * DURATION] PATH... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/retention.h"
#include "daemon/daemon.h"
#include "daemon/lock.h"
#include "cli/state.h"

/* --grace DURATION into an int64_t of milliseconds. */
static int parse_grace(void *out, char *text, const kiln_opt *spec,
                       kiln_err *err)
{
    kiln_err derr = KILN_ERR_INIT;
    if (kiln_dsl_parse_duration(out, text, &derr) == 0)
        return 0;
    return kiln_err_set(err, KILN_EINVAL, "--%s: %s", spec->name, derr.msg);
}

typedef struct serve_opts {
    kiln_opt_list paths;    /* PATH... */
    const char *state;      /* --state DIR */
    long jobs;              /* --jobs N; 0: CPUs */
    kiln_opt_list pools;    /* --pool NAME=N..., kiln_kv */
    int64_t grace_ms;       /* --grace DURATION */
    const char *listen;     /* --listen ADDR:PORT, or none */
    const char *token_file; /* --token-file FILE */
    const char *tls_cert;   /* --tls-cert FILE */
    const char *tls_key;    /* --tls-key FILE */
    const char *auth_header;      /* --auth-header NAME */
    kiln_opt_list proxies;        /* --trusted-proxy ADDR[/BITS]... */
    const char *auth_header_role; /* --auth-header-role ROLE */
    int64_t session_ttl_ms;       /* --session-ttl DURATION */
    const char *openlineage;    /* --openlineage URL|FILE */
    const char *openlineage_ns; /* --openlineage-namespace NAME */
    kiln_cli_retention ret;     /* --keep-runs N... */
    int64_t retention_every_ms; /* --retention-every DURATION */
} serve_opts;

static const kiln_opt options[] = {
    KILN_OPT_ARGS(serve_opts, paths, "PATH", 1,
                  "a pipeline file or a directory"),
    KILN_CLI_OPT_STATE(serve_opts),
    KILN_CLI_OPT_JOBS(serve_opts, "at most N steps at once, over all runs "
                      "(default: CPUs)"),
    KILN_CLI_OPT_POOL(serve_opts),
    KILN_OPT_PARSED(0, "grace", serve_opts, grace_ms, int64_t, parse_grace,
                    "DURATION", "time running steps get on stop",
                    .def = "30s"),
    KILN_OPT_VALUE(0, "listen", serve_opts, listen, "ADDR:PORT", "serve the "
                   "status page and the JSON API there; port 0: any free "
                   "port, none: off", .def = "127.0.0.1:8080"),
    KILN_CLI_OPT_TOKEN_FILE(serve_opts, "an admin token (else "
                            "$KILN_TOKEN), besides users' tokens (kiln "
                            "tokens create)"),
    KILN_OPT_VALUE(0, "tls-cert", serve_opts, tls_cert, "FILE", "serve "
                   "HTTPS (and HTTP/2) with this PEM certificate chain; "
                   "needs --tls-key"),
    KILN_OPT_VALUE(0, "tls-key", serve_opts, tls_key, "FILE", "the PEM "
                   "private key of --tls-cert, readable by its owner only "
                   "(no passphrase)"),
    KILN_OPT_VALUE(0, "auth-header", serve_opts, auth_header, "NAME",
                   "behind a single sign-on proxy: take the user from "
                   "this request header (X-Forwarded-User), from "
                   "--trusted-proxy addresses only"),
    KILN_OPT_LIST(0, "trusted-proxy", serve_opts, proxies, "ADDR[/BITS]",
                  "the proxy's address or network; repeat for more"),
    KILN_OPT_VALUE(0, "auth-header-role", serve_opts, auth_header_role,
                   "ROLE", "the role of a user the header names who is not "
                   "a kiln user (default: refused)"),
    KILN_OPT_PARSED(0, "session-ttl", serve_opts, session_ttl_ms, int64_t,
                    parse_grace, "DURATION", "how long a page login lasts",
                    .def = "12h"),
    KILN_OPT_VALUE(0, "openlineage", serve_opts, openlineage, "URL|FILE",
                   "send an OpenLineage event as each step starts and "
                   "ends: POST to an http(s) URL, or append JSON lines to "
                   "a file"),
    KILN_OPT_VALUE(0, "openlineage-namespace", serve_opts, openlineage_ns,
                   "NAME", "the OpenLineage jobs' namespace", .def = "kiln"),
    KILN_CLI_OPTS_RETENTION(serve_opts, ret),
    KILN_OPT_PARSED(0, "retention-every", serve_opts, retention_every_ms,
                    int64_t, kiln_cli_opt_age, "DURATION", "apply "
                    "retention this often, in the background (none: "
                    "never)", .def = "1h"),
    KILN_OPT_END,
};

/* Warn when the token file is open to its group or others: whoever can
 * read it can use the API. */
static void check_token_file(const char *file)
{
    struct stat st;
    if (!file || stat(file, &st) != 0 ||
        !(st.st_mode & (S_IRWXG | S_IRWXO)))
        return;
    fprintf(stderr, "kiln: warning: --token-file %s is open to its group or "
            "others (mode %04o): anyone who can read it can use the API; "
            "chmod 600 it\n", file, (unsigned)(st.st_mode & 07777));
}

static int exec_serve(void *opts)
{
    const serve_opts *o = opts;
    const char *token_file = o->token_file;
    kiln_daemon_options d;
    kiln_lock *lock = NULL;
    kiln_err err = KILN_ERR_INIT;
    char *state = NULL, *token = NULL;
    const char **proxies = NULL;
    int status;

    if (!o->tls_cert != !o->tls_key)
        return kiln_cli_usage_error(&kiln_cmd_serve, "--%s needs --%s",
                                    o->tls_cert ? "tls-cert" : "tls-key",
                                    o->tls_cert ? "tls-key" : "tls-cert");
    if (o->tls_cert && strcmp(o->listen, "none") == 0)
        return kiln_cli_usage_error(&kiln_cmd_serve, "--tls-cert with "
                                    "--listen none: nothing to serve");
    if (!o->auth_header != !o->proxies.n)
        return kiln_cli_usage_error(&kiln_cmd_serve, "--auth-header and "
                                    "--trusted-proxy go together: the "
                                    "header is believed from those "
                                    "addresses only");
    if (o->auth_header_role && !o->auth_header)
        return kiln_cli_usage_error(&kiln_cmd_serve, "--auth-header-role "
                                    "needs --auth-header");
    if (o->auth_header_role &&
        kiln_role_parse(o->auth_header_role) == KILN_ROLE_NONE)
        return kiln_cli_usage_error(&kiln_cmd_serve, "--auth-header-role "
                                    "%s: viewer, operator or admin",
                                    o->auth_header_role);
    memset(&d, 0, sizeof(d));
    d.jobs = (unsigned)o->jobs;
    d.n_pools = o->pools.n;
    d.pools = o->pools.items;
    d.grace_ms = o->grace_ms;
    d.listen = strcmp(o->listen, "none") == 0 ? NULL : o->listen;
    if (kiln_cli_read_token(&token, token_file, &err) != 0)
        return kiln_cli_fail(&err);
    check_token_file(token_file);
    d.token = token;
    d.tls_cert = o->tls_cert;
    d.tls_key = o->tls_key;
    proxies = kiln_calloc(o->proxies.n + 1, sizeof(char *));
    for (size_t i = 0; i < o->proxies.n; i++)
        proxies[i] = KILN_OPT_STRINGS(o->proxies)[i];
    d.auth_header = o->auth_header;
    d.trusted_proxies = proxies;
    d.auth_header_role = o->auth_header_role;
    d.session_ttl_ms = o->session_ttl_ms;
    d.openlineage = o->openlineage;
    d.openlineage_ns = o->openlineage_ns;
    kiln_cli_retention_defaults(&d.retention, &o->ret);
    d.keep_checks_ms = o->ret.checks_ms;
    d.keep_notifications_ms = o->ret.notifications_ms;
    d.retention_every_ms = o->retention_every_ms;
    d.paths = KILN_OPT_STRINGS(o->paths);
    d.n_paths = o->paths.n;
    state = kiln_cli_state_dir(o->state);
    if (kiln_state_dir_prepare(state, &err) != 0 ||
        kiln_lock_acquire(&lock, state, &err) != 0) {
        status = kiln_cli_fail(&err);
        if (err.code == KILN_EBUSY)
            status = KILN_EXIT_SYSTEM;
        goto done;
    }
    d.state_dir = state;
    kiln_cli_survive_closed_pipe();
    status = kiln_daemon_run(&d);
done:
    kiln_lock_release(lock);
    free(state);
    free(token);
    free(proxies);
    return status;
}

const kiln_cmd kiln_cmd_serve = {
    .name = "serve",
    .summary = "Run the scheduler daemon on pipeline files or directories.",
    .help =
        "Loads every pipeline file named (a directory: every *.yaml and\n"
        "*.yml under it), fires their schedules and records every run and\n"
        "every fire that did not start. SIGHUP reloads the files; SIGTERM\n"
        "or SIGINT stops: running steps get --grace to finish, the rest are\n"
        "cancelled. One daemon per state directory.\n",
    .notes =
        "Test clock: KILN_NOW=ISO-8601 starts the daemon's clock there and\n"
        "KILN_CLOCK_SPEED=N runs it N times faster than real time.\n",
    .opts = options,
    .opts_size = sizeof(serve_opts),
    .exec = exec_serve,
};
