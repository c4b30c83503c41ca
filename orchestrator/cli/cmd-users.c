/* cmd-users.c: kiln users [list] [--json]
 *              kiln users add NAME [--role ROLE]
 *              kiln users role NAME ROLE
 *              kiln users remove NAME
 *
 * The accounts of kiln serve's API and status page. Whoever can write the
 * state directory's database manages them: these commands act as the
 * Unix user running them, and each change is one audit row. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

typedef struct users_opts {
    kiln_opt_list args;  /* [list] | add NAME | role NAME ROLE | remove NAME */
    const char *role;    /* --role ROLE */
    const char *state;   /* --state DIR */
    bool json;           /* --json */
} users_opts;

static const kiln_opt options[] = {
    KILN_OPT_ARGS(users_opts, args, "[add|role|remove] [NAME] [ROLE]", 0,
                  NULL),
    KILN_OPT_VALUE(0, "role", users_opts, role, "ROLE", "add: viewer, "
                   "operator or admin", .def = "viewer"),
    KILN_CLI_OPT_STATE(users_opts),
    KILN_CLI_OPT_JSON(users_opts),
    KILN_OPT_END,
};

/* The store, made when there is none yet: accounts may come before the
 * first run. */
static int open_store_for_accounts(kiln_store **out, const char *state,
                                  kiln_err *err)
{
    char *dir, *db;
    int rc = kiln_cli_open_store(out, state, false, err);
    if (rc != KILN_ENOTFOUND)
        return rc;
    *err = (kiln_err)KILN_ERR_INIT;
    dir = kiln_cli_state_dir(state);
    db = kiln_path_join(dir, "kiln.db");
    rc = kiln_mkdir_p(dir, err);
    if (rc == 0)
        rc = kiln_store_open(out, db, err);
    free(db);
    free(dir);
    return rc;
}

static void print_users(json_t *doc)
{
    json_t *u;
    size_t i;
    char when[32];
    if (json_array_size(doc) == 0) {
        printf("no users: add one with kiln users add NAME --role ROLE\n");
        return;
    }
    printf("%-24s %-9s %-7s %-20s %s\n", "USER", "ROLE", "TOKENS", "ADDED",
           "BY");
    json_array_foreach(doc, i, u) {
        printf("%-24s %-9s %-7lld %-20s %s\n", kiln_cli_str(u, "name"),
               kiln_cli_str(u, "role"),
               (long long)json_integer_value(json_object_get(u, "tokens")),
               kiln_fmt_time(when, sizeof(when), json_integer_value(
                   json_object_get(u, "created_at"))),
               kiln_cli_str(u, "created_by"));
    }
}

static int list(kiln_store *store, bool json)
{
    kiln_err err = KILN_ERR_INIT;
    kiln_user *u = NULL;
    size_t n = 0;
    json_t *doc;
    if (kiln_store_users(&u, &n, store, &err) != 0)
        return kiln_cli_fail(&err);
    doc = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(doc, json_pack(
            "{s:s, s:s, s:i, s:I, s:s}", "name", u[i].name, "role",
            kiln_role_name(u[i].role), "tokens", u[i].n_tokens,
            "created_at", (json_int_t)u[i].created_ms, "created_by",
            u[i].created_by ? u[i].created_by : ""));
    kiln_cli_output(doc, json, print_users);
    json_decref(doc);
    kiln_users_free(u, n);
    return KILN_EXIT_OK;
}

static kiln_role role_arg(const char *text)
{
    kiln_role r = kiln_role_parse(text);
    if (r == KILN_ROLE_NONE)
        kiln_cli_usage_error(&kiln_cmd_users, "unknown role \"%s\": viewer, "
                             "operator or admin", text);
    return r;
}

static int exec_users(void *opts)
{
    const users_opts *o = opts;
    char **argv = KILN_OPT_STRINGS(o->args);
    const char *verb = o->args.n ? argv[0] : "list";
    kiln_audit_who who = {kiln_user_name(), "cli"};
    kiln_err err = KILN_ERR_INIT;
    kiln_store *store = NULL;
    kiln_role role = KILN_ROLE_NONE;
    int status = KILN_EXIT_OK, rc = 0;
    size_t want;

    want = strcmp(verb, "list") == 0     ? 1
           : strcmp(verb, "add") == 0    ? 2
           : strcmp(verb, "remove") == 0 ? 2
           : strcmp(verb, "role") == 0   ? 3
                                         : 0;
    if (!want)
        return kiln_cli_usage_error(&kiln_cmd_users, "unknown subcommand "
                                    "\"%s\": list, add, role or remove",
                                    verb);
    if (o->args.n != want && !(want == 1 && o->args.n == 0))
        return kiln_cli_usage_error(&kiln_cmd_users, "%s takes %s", verb,
                                    want == 1 ? "no argument"
                                    : want == 2 ? "a user name"
                                                : "a user name and a role");
    if (strcmp(verb, "add") == 0 &&
        (role = role_arg(o->role ? o->role : "viewer")) == KILN_ROLE_NONE)
        return KILN_EXIT_USAGE;
    if (strcmp(verb, "role") == 0 &&
        (role = role_arg(argv[2])) == KILN_ROLE_NONE)
        return KILN_EXIT_USAGE;
    if (want == 1)
        rc = kiln_cli_open_store(&store, o->state, true, &err);
    else
        rc = open_store_for_accounts(&store, o->state, &err);
    if (rc != 0)
        return kiln_cli_fail(&err);
    if (want == 1) {
        status = list(store, o->json);
    } else if (strcmp(verb, "add") == 0) {
        if (kiln_store_user_add(store, argv[1], role, &who, &err) != 0)
            status = kiln_cli_fail(&err);
        else
            printf("added user %s (%s): kiln tokens create %s makes its "
                   "token\n", argv[1], kiln_role_name(role), argv[1]);
    } else if (strcmp(verb, "role") == 0) {
        if (kiln_store_user_set_role(store, argv[1], role, &who, &err) != 0)
            status = kiln_cli_fail(&err);
        else
            printf("user %s is now %s %s\n", argv[1],
                   role == KILN_ROLE_ADMIN ? "an" : "a",
                   kiln_role_name(role));
    } else {
        if (kiln_store_user_remove(store, argv[1], &who, &err) != 0)
            status = kiln_cli_fail(&err);
        else
            printf("removed user %s: its tokens are revoked and its "
                   "sessions ended\n", argv[1]);
    }
    kiln_store_close(store);
    return status;
}

const kiln_cmd kiln_cmd_users = {
    .name = "users",
    .summary = "Accounts of kiln serve: list, add, change the role of, "
               "remove users.",
    .help = "  kiln users [list] [--json]\n"
            "  kiln users add NAME [--role viewer|operator|admin]\n"
            "  kiln users role NAME viewer|operator|admin\n"
            "  kiln users remove NAME\n\n"
            "Each user has one role: a viewer reads everything (logs "
            "included), an\noperator also starts, cancels and retries runs "
            "and moves model aliases, an\nadmin also manages users and "
            "tokens. Users sign in to the API and the\nstatus page with "
            "tokens (kiln tokens create USER). A role changed or a user\n"
            "removed counts at once, for every token and session; removing "
            "a user revokes\nits tokens. Each change is an audit row by the "
            "Unix user running the command.\n",
    .notes = "Exit status: 0 done; 2 a usage error, an unknown user or role, "
             "a name taken;\n3 kiln could not work.\n",
    .opts = options,
    .opts_size = sizeof(users_opts),
    .exec = exec_users,
};
