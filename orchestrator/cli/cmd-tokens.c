/* cmd-tokens.c: kiln tokens create USER [--name N] [--expires DURATION]
 *                                      [--read-only] [--json]
 *               kiln tokens [list] [--user U] [--json]
 *               kiln tokens revoke ID
 *
 * API tokens of kiln serve's users. A token is printed once, when made;
 * kiln keeps only a hash of it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

typedef struct tokens_opts {
    kiln_opt_list args;  /* [list] | create USER | revoke ID */
    const char *name;    /* --name N */
    int64_t expires_ms;  /* --expires DURATION; 0: never */
    bool read_only;      /* --read-only */
    const char *user;    /* --user U */
    const char *state;   /* --state DIR */
    bool json;           /* --json */
} tokens_opts;

static int parse_expires(void *out, char *text, const kiln_opt *spec,
                         kiln_err *err)
{
    kiln_err derr = KILN_ERR_INIT;
    if (kiln_dsl_parse_duration(out, text, &derr) == 0 &&
        *(int64_t *)out > 0)
        return 0;
    return kiln_err_set(err, KILN_EINVAL, "--%s: expected a duration such "
                        "as 90d or 12h, got \"%s\"", spec->name, text);
}

static const kiln_opt options[] = {
    KILN_OPT_ARGS(tokens_opts, args, "[create USER|revoke ID]", 0, NULL),
    KILN_OPT_VALUE(0, "name", tokens_opts, name, "N", "create: what the "
                   "token is for (ci, alice-laptop)"),
    KILN_OPT_PARSED(0, "expires", tokens_opts, expires_ms, int64_t,
                    parse_expires, "DURATION", "create: it stops working "
                    "after DURATION (default: never)"),
    KILN_OPT_SWITCH(0, "read-only", tokens_opts, read_only, "create: it "
                  "reads only, whatever its user's role"),
    KILN_OPT_VALUE(0, "user", tokens_opts, user, "U", "list: U's tokens "
                   "only"),
    KILN_CLI_OPT_STATE(tokens_opts),
    KILN_CLI_OPT_JSON(tokens_opts),
    KILN_OPT_END,
};

static const char *token_state(const kiln_token_info *t, int64_t now)
{
    return t->revoked_ms                            ? "revoked"
           : t->expires_ms && t->expires_ms <= now ? "expired"
                                                    : "active";
}

static void print_tokens(json_t *doc)
{
    json_t *t;
    size_t i;
    char made[32], ends[32];
    if (json_array_size(doc) == 0) {
        printf("no tokens: kiln tokens create USER makes one\n");
        return;
    }
    printf("%-5s %-20s %-16s %-8s %-9s %-20s %s\n", "ID", "USER", "NAME",
           "ACCESS", "STATE", "CREATED", "EXPIRES");
    json_array_foreach(doc, i, t) {
        json_t *exp = json_object_get(t, "expires_at");
        printf("%-5lld %-20s %-16s %-8s %-9s %-20s %s\n",
               (long long)json_integer_value(json_object_get(t, "id")),
               kiln_cli_str(t, "user"),
               json_is_string(json_object_get(t, "name"))
                   ? kiln_cli_str(t, "name") : "-",
               json_is_true(json_object_get(t, "read_only")) ? "read"
                                                              : "role",
               kiln_cli_str(t, "state"),
               kiln_fmt_time(made, sizeof(made), json_integer_value(
                   json_object_get(t, "created_at"))),
               json_is_integer(exp)
                   ? kiln_fmt_time(ends, sizeof(ends),
                                   json_integer_value(exp))
                   : "never");
    }
}

static int list(kiln_store *store, const char *user, bool json)
{
    kiln_err err = KILN_ERR_INIT;
    kiln_token_info *t = NULL;
    int64_t now = kiln_now_ms();
    size_t n = 0;
    json_t *doc;
    if (kiln_store_tokens(&t, &n, store, user, &err) != 0)
        return kiln_cli_fail(&err);
    doc = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(doc, json_pack(
            "{s:I, s:s, s:s?, s:b, s:s, s:I, s:o, s:o}", "id",
            (json_int_t)t[i].id, "user", t[i].user, "name", t[i].name,
            "read_only", t[i].read_only, "state", token_state(&t[i], now),
            "created_at", (json_int_t)t[i].created_ms, "expires_at",
            t[i].expires_ms ? json_integer(t[i].expires_ms) : json_null(),
            "revoked_at",
            t[i].revoked_ms ? json_integer(t[i].revoked_ms) : json_null()));
    kiln_cli_output(doc, json, print_tokens);
    json_decref(doc);
    kiln_tokens_free(t, n);
    return KILN_EXIT_OK;
}

static int create(kiln_store *store, const tokens_opts *o, const char *user)
{
    kiln_audit_who who = {kiln_user_name(), "cli"};
    kiln_err err = KILN_ERR_INIT;
    int64_t expires = o->expires_ms ? kiln_now_ms() + o->expires_ms : 0;
    int64_t id = 0;
    char *text = NULL, when[32];

    if (kiln_store_token_create(store, &text, &id, user, o->name, expires,
                                o->read_only, &who, &err) != 0)
        return kiln_cli_fail(&err);
    if (o->json) {
        json_t *doc = json_pack("{s:I, s:s, s:s, s:b, s:o}", "id",
                                (json_int_t)id, "user", user, "token", text,
                                "read_only", o->read_only, "expires_at",
                                expires ? json_integer(expires)
                                        : json_null());
        kiln_cli_print_json(doc);
        json_decref(doc);
    } else {
        printf("%s\n", text);
        fprintf(stderr, "token %lld for %s%s, %s%s: shown this once, kiln "
                "keeps only its hash\n", (long long)id, user,
                o->read_only ? " (read-only)" : "",
                expires ? "expires " : "does not expire",
                expires ? kiln_fmt_time(when, sizeof(when), expires) : "");
    }
    free(text);
    return KILN_EXIT_OK;
}

static int exec_tokens(void *opts)
{
    const tokens_opts *o = opts;
    char **argv = KILN_OPT_STRINGS(o->args);
    const char *verb = o->args.n ? argv[0] : "list";
    kiln_audit_who who = {kiln_user_name(), "cli"};
    kiln_err err = KILN_ERR_INIT;
    kiln_store *store = NULL;
    int64_t id = 0;
    int status, rc;
    bool is_list = strcmp(verb, "list") == 0;

    if (!is_list && strcmp(verb, "create") != 0 &&
        strcmp(verb, "revoke") != 0)
        return kiln_cli_usage_error(&kiln_cmd_tokens, "unknown subcommand "
                                    "\"%s\": list, create or revoke", verb);
    if (is_list ? o->args.n > 1 : o->args.n != 2)
        return kiln_cli_usage_error(&kiln_cmd_tokens, "%s takes %s", verb,
                                    is_list ? "no argument"
                                    : strcmp(verb, "create") == 0
                                        ? "a user name"
                                        : "a token id");
    if (!is_list && strcmp(verb, "create") != 0 &&
        (o->name || o->expires_ms || o->read_only))
        return kiln_cli_usage_error(&kiln_cmd_tokens, "--name, --expires "
                                    "and --read-only are create's");
    if (strcmp(verb, "revoke") == 0 &&
        kiln_cli_parse_id(&id, argv[1], &err) != 0)
        return kiln_cli_usage_error(&kiln_cmd_tokens, "invalid token id "
                                    "\"%s\"", argv[1]);
    rc = kiln_cli_open_store(&store, o->state, is_list, &err);
    if (rc != 0)
        return kiln_cli_fail(&err);
    if (is_list) {
        status = list(store, o->user, o->json);
    } else if (strcmp(verb, "create") == 0) {
        status = create(store, o, argv[1]);
    } else if (kiln_store_token_revoke(store, id, &who, &err) != 0) {
        status = kiln_cli_fail(&err);
    } else {
        printf("token %lld revoked: it and the sessions opened with it no "
               "longer work\n", (long long)id);
        status = KILN_EXIT_OK;
    }
    kiln_store_close(store);
    return status;
}

const kiln_cmd kiln_cmd_tokens = {
    .name = "tokens",
    .summary = "API tokens of kiln serve's users: create, list, revoke.",
    .help = "  kiln tokens create USER [--name N] [--expires DURATION] "
            "[--read-only] [--json]\n"
            "  kiln tokens [list] [--user U] [--json]\n"
            "  kiln tokens revoke ID\n\n"
            "create prints a new token of USER on stdout, once: kiln keeps "
            "only a hash of\nit. Send it as \"Authorization: Bearer TOKEN\", "
            "give it to kiln trigger\n--server (--token-file), or sign in "
            "to the status page with it (/login).\nIt acts with its user's "
            "role (a --read-only token: a viewer's), as that\nrole is "
            "now. revoke ends it and every page session opened with it at "
            "once.\nEach change is an audit row by the Unix user running the "
            "command.\n",
    .notes = "Exit status: 0 done; 2 a usage error, an unknown user or "
             "token; 3 kiln could\nnot work.\n",
    .opts = options,
    .opts_size = sizeof(tokens_opts),
    .exec = exec_tokens,
};
