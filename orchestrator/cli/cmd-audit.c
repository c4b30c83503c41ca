/* cmd-audit.c: kiln audit [--since T] [--until T] [--actor U] [--json]
 *              kiln audit verify [--json]
 *              kiln audit model NAME[@ALIAS] [VERSION] [--format md|json]
 *
 * The audit trail: every change kiln made (runs started, cancelled,
 * retried, resumed, abandoned, aliases moved, pipelines reloaded, the
 * object store collected), who made it and how. verify recomputes the
 * hash chain and names the first row altered or removed. model prints the
 * governance report of a model version (cli/governance.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/governance.h"

typedef struct audit_opts {
    kiln_opt_list args;  /* verify, model NAME [VERSION], or nothing */
    int64_t since_ms;    /* --since T */
    int64_t until_ms;    /* --until T */
    const char *actor;   /* --actor U */
    const char *state;   /* --state DIR */
    bool json;           /* --json */
    const char *format;  /* model: --format md|json (NULL: md) */
} audit_opts;

static const kiln_opt options[] = {
    KILN_OPT_ARGS(audit_opts, args, "verify | model NAME [VERSION]", 0,
                  NULL),
    KILN_OPT_PARSED(0, "since", audit_opts, since_ms, int64_t,
                    kiln_cli_opt_when, "T", "rows at or after T (a UTC "
                    "time, or a duration ago: 2h)"),
    KILN_OPT_PARSED(0, "until", audit_opts, until_ms, int64_t,
                    kiln_cli_opt_when, "T", "rows before T"),
    KILN_OPT_VALUE(0, "actor", audit_opts, actor, "U", "rows of this actor "
                   "(a user, scheduler, trigger:drift, run 12, kiln)"),
    KILN_CLI_OPT_STATE(audit_opts),
    KILN_CLI_OPT_JSON(audit_opts),
    KILN_OPT_CHOICE(0, "format", audit_opts, format, "md|json", "model: "
                    "the report as Markdown (the default) or JSON"),
    KILN_OPT_END,
};

static json_t *text_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* before and after are JSON text: embedded as JSON. */
static json_t *embedded(const char *s)
{
    json_t *v = s ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;
    return v ? v : text_or_null(s);
}

static json_t *rows_json(const kiln_audit_row *rows, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const kiln_audit_row *r = &rows[i];
        json_array_append_new(arr, json_pack(
            "{s:I, s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:s}", "id",
            (json_int_t)r->id, "at", (json_int_t)r->at_ms, "actor",
            r->actor, "via", r->via, "action", r->action, "target",
            r->target, "before", embedded(r->before), "after",
            embedded(r->after), "prev_hash", r->prev_hash ? r->prev_hash : "",
            "hash", r->hash ? r->hash : ""));
    }
    return arr;
}

static void print_rows(json_t *rows)
{
    json_t *r;
    size_t i;
    char when[32];
    printf("%-5s %-20s %-16s %-7s %-18s %-28s %s\n", "ID", "TIME", "ACTOR",
           "VIA", "ACTION", "TARGET", "CHANGE");
    json_array_foreach(rows, i, r) {
        json_t *before = json_object_get(r, "before");
        json_t *after = json_object_get(r, "after");
        char *b = json_is_null(before) ? NULL
                                       : json_dumps(before, JSON_COMPACT |
                                                    JSON_ENCODE_ANY);
        char *a = json_is_null(after) ? NULL
                                      : json_dumps(after, JSON_COMPACT |
                                                   JSON_ENCODE_ANY);
        printf("%-5lld %-20s %-16s %-7s %-18s %-28s %s%s%s\n",
               (long long)json_integer_value(json_object_get(r, "id")),
               kiln_fmt_time(when, sizeof(when),
                             json_integer_value(json_object_get(r, "at"))),
               kiln_cli_str(r, "actor"), kiln_cli_str(r, "via"),
               kiln_cli_str(r, "action"), kiln_cli_str(r, "target"),
               b ? b : "", b && a ? " -> " : "", a ? a : "");
        free(b);
        free(a);
    }
}

static int verify(kiln_store *store, bool json)
{
    kiln_err err = KILN_ERR_INIT;
    char why[300];
    int64_t bad = 0, n = 0;
    if (kiln_store_audit_verify(store, &bad, why, sizeof(why), &n,
                                &err) != 0)
        return kiln_cli_fail(&err);
    if (json) {
        json_t *doc = json_pack("{s:b, s:I}", "intact", bad == 0, "rows",
                                (json_int_t)n);
        if (bad) {
            json_object_set_new(doc, "first_bad_row", json_integer(bad));
            json_object_set_new(doc, "reason", json_string(why));
        }
        kiln_cli_print_json(doc);
        json_decref(doc);
    } else if (bad) {
        printf("audit trail NOT intact: %s\n", why);
    } else {
        printf("audit trail intact: %lld row%s, each chained to the one "
               "before\n", (long long)n, n == 1 ? "" : "s");
    }
    return bad ? KILN_EXIT_FAILED : KILN_EXIT_OK;
}

/* NAME, NAME@ALIAS or NAME:VERSION, then VERSION: *alias points into
 * ref (or NULL), *version is 0 for the newest. false when malformed. */
static bool parse_model(char *name, size_t cap, const char **alias,
                        int *version, const char *ref, const char *vtext)
{
    size_t n = strcspn(ref, "@:");
    const char *rest = ref + n + 1;

    *alias = NULL;
    *version = 0;
    if (n == 0 || n >= cap)
        return false;
    memcpy(name, ref, n);
    name[n] = '\0';
    if (!kiln_dsl_valid_name(name))
        return false;
    if (ref[n] == '@') {
        *alias = rest;
        if (!kiln_dsl_valid_name(rest) || vtext)
            return false;
        return true;
    }
    if (ref[n] == ':') {
        if (vtext)
            return false;
        vtext = rest;
    }
    if (!vtext)
        return true;
    if (!*vtext || strspn(vtext, "0123456789") != strlen(vtext) ||
        strlen(vtext) > 9)
        return false;
    *version = atoi(vtext);
    return *version > 0;
}

/* kiln audit model NAME[@ALIAS] [VERSION] [--format md|json] */
static int model_report(const audit_opts *o, char **argv)
{
    const char *alias;
    char name[128];
    int version, status = KILN_EXIT_OK;
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    json_t *doc = NULL;

    if (o->args.n < 2 || o->args.n > 3)
        return kiln_cli_usage_error(&kiln_cmd_audit, "model expects NAME "
                                    "[VERSION] (or NAME@ALIAS)");
    if (!parse_model(name, sizeof(name), &alias, &version, argv[1],
                     o->args.n == 3 ? argv[2] : NULL))
        return kiln_cli_usage_error(&kiln_cmd_audit, "model expects NAME "
                                    "[VERSION], NAME@ALIAS or NAME:VERSION, "
                                    "got \"%s%s%s\"", argv[1],
                                    o->args.n == 3 ? " " : "",
                                    o->args.n == 3 ? argv[2] : "");
    if (o->since_ms || o->until_ms || o->actor || o->json)
        return kiln_cli_usage_error(&kiln_cmd_audit, "model takes "
                                    "--format md|json, not --since, "
                                    "--until, --actor or --json");
    if (kiln_cli_open_store(&store, o->state, true, &err) != 0 ||
        kiln_governance_report(&doc, store, name, alias, version,
                               &err) != 0)
        status = kiln_cli_fail(&err);
    else if (o->format && strcmp(o->format, "json") == 0)
        kiln_cli_print_json(doc);
    else
        kiln_governance_print_md(doc);
    json_decref(doc);
    kiln_store_close(store);
    return status;
}

static int exec_audit(void *opts)
{
    const audit_opts *o = opts;
    char **argv = KILN_OPT_STRINGS(o->args);
    kiln_store *store = NULL;
    kiln_err err = KILN_ERR_INIT;
    kiln_audit_row *rows = NULL;
    kiln_audit_query q;
    size_t n = 0;
    int status;

    if (o->args.n >= 1 && strcmp(argv[0], "model") == 0)
        return model_report(o, argv);
    if (o->format)
        return kiln_cli_usage_error(&kiln_cmd_audit, "--format is model's");
    if (o->args.n > 1 || (o->args.n == 1 && strcmp(argv[0], "verify") != 0))
        return kiln_cli_usage_error(&kiln_cmd_audit, "unexpected argument "
                                    "\"%s\"", argv[o->args.n - 1]);
    if (o->args.n == 1 && (o->since_ms || o->until_ms || o->actor))
        return kiln_cli_usage_error(&kiln_cmd_audit, "verify checks the "
                                    "whole trail: --since, --until and "
                                    "--actor are the listing's");
    if (kiln_cli_open_store(&store, o->state, true, &err) != 0)
        return kiln_cli_fail(&err);
    if (o->args.n == 1) {
        status = verify(store, o->json);
    } else {
        memset(&q, 0, sizeof(q));
        q.since_ms = o->since_ms;
        q.until_ms = o->until_ms;
        q.actor = o->actor;
        if (kiln_store_audit_list(&rows, &n, store, &q, &err) != 0) {
            status = kiln_cli_fail(&err);
        } else {
            json_t *doc = rows_json(rows, n);
            kiln_cli_output(doc, o->json, print_rows);
            json_decref(doc);
            status = KILN_EXIT_OK;
        }
        kiln_audit_rows_free(rows, n);
    }
    kiln_store_close(store);
    return status;
}

const kiln_cmd kiln_cmd_audit = {
    .name = "audit",
    .summary = "The audit trail: who changed what, when and how; verify "
               "it.",
    .help = "  kiln audit [--since T] [--until T] [--actor U] [--json]\n"
            "  kiln audit verify [--json]\n"
            "  kiln audit model NAME[@ALIAS] [VERSION] [--format md|json]\n\n"
            "Every change is a row: runs started (run.started), cancelled, "
            "retried,\nresumed and abandoned, aliases moved (alias.moved, "
            "alias.rolled_back),\npipelines reloaded, the object store "
            "collected (gc). The actor is the\nUnix user of a CLI command, "
            "scheduler, trigger:KIND, \"run N\" (a register:\nalias), "
            "admin-token (the API) or kiln; via says how: cli, api, page or"
            "\ndaemon. Reads are not recorded. Each row carries the hash of "
            "the row\nbefore and its own, so verify names the first row "
            "altered or removed.\n\n"
            "model prints the governance report of a model version (the "
            "newest by\ndefault), a model card: the version, the run that "
            "produced it (who\nstarted it, its commit, images, environment "
            "captures), params, metrics,\neach gate with the values that "
            "decided it, data validation, every input\nwith its hash and "
            "what made it (lineage, to the sources), and the\nmodel's alias "
            "history.\n",
    .notes = "Exit status: 0 listed, the trail is intact, or the report "
             "printed; 1 verify\nfound a row altered or removed; 2 usage, "
             "or an unknown model, version or\nalias; 3 kiln itself could "
             "not work.\n",
    .opts = options,
    .opts_size = sizeof(audit_opts),
    .exec = exec_audit,
};
