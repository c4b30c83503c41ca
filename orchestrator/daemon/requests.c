/*
 * requests.c: the JSON edge of kiln trigger's and kiln cancel's requests
 * (the inbox: JSON files in STATE/inbox/): {"op": "trigger", "pipeline": NAME,
 * "params": {...}, "user": ..., "pid": ...} or {"op": "cancel", "run_id":
 * N}, answered {status, run_id, reason} or {error, code} with code
 * not_found, invalid or unavailable. The typed commands are in
 * commands.c; the web API's edge is web.c.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kiln_daemon__params_from_json(kiln_kv **out, size_t *n, json_t *params)
{
    const char *key;
    json_t *v;
    *out = kiln_calloc(json_object_size(params) + 1, sizeof(kiln_kv));
    *n = 0;
    json_object_foreach(params, key, v) {
        char buf[64];
        const char *text = json_string_value(v);
        if (json_is_number(v)) {
            if (json_is_integer(v))
                snprintf(buf, sizeof(buf), "%lld",
                         (long long)json_integer_value(v));
            else /* the shortest text that reads back as the number */
                for (int prec = 15; prec <= 17; prec++) {
                    snprintf(buf, sizeof(buf), "%.*g", prec,
                             json_real_value(v));
                    if (strtod(buf, NULL) == json_real_value(v))
                        break;
                }
            text = buf;
        }
        (*out)[*n].key = kiln_strdup(key);
        (*out)[*n].value = kiln_strdup(text ? text : "");
        (*n)++;
    }
    return 0;
}

void kiln_daemon__params_free(kiln_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)kv[i].key);
        free((char *)kv[i].value);
    }
    free(kv);
}

/* A command's error as the inbox protocol's code. */
static void refuse(json_t *reply, const kiln_err *err)
{
    const char *code = err->code == KILN_ENOTFOUND ? "not_found"
                       : err->code == KILN_EINVAL  ? "invalid"
                                                   : "unavailable";
    json_object_set_new(reply, "error", json_string(err->msg));
    json_object_set_new(reply, "code", json_string(code));
}

void kiln_daemon__fire_reply(json_t *reply, const kiln_fire_result *res)
{
    json_object_set_new(reply, "status",
                        json_string(kiln_fire_status_name(res->status)));
    if (res->run_id)
        json_object_set_new(reply, "run_id", json_integer(res->run_id));
    if (res->reason[0])
        json_object_set_new(reply, "reason", json_string(res->reason));
}

/* A trigger's run started, or not: its answer. */
static void trigger_done(void *ctx, int rc, const kiln_fire_result *res,
                         const kiln_err *err)
{
    json_t *reply = json_object();
    if (rc != 0)
        refuse(reply, err);
    else
        kiln_daemon__fire_reply(reply, res);
    kiln_inbox_answer(ctx, reply);
}

void kiln_daemon__on_request(json_t *req, kiln_inbox_reply *answer,
                             void *data)
{
    kiln_daemon *dm = data;
    json_t *reply = json_object();
    const char *op = json_string_value(json_object_get(req, "op"));
    const char *name = json_string_value(json_object_get(req, "pipeline"));
    json_t *params = json_object_get(req, "params"), *who;
    kiln_err err = KILN_ERR_INIT;
    kiln_run_request rr;
    kiln_kv *kv = NULL;

    if (op && strcmp(op, "cancel") == 0 &&
        json_is_integer(json_object_get(req, "run_id"))) {
        const char *user = json_string_value(json_object_get(req, "user"));
        kiln_audit_who by = {user ? user : "unknown", "cli"};
        if (kiln_daemon__cancel_run_as(dm, json_integer_value(
                                               json_object_get(req,
                                                               "run_id")),
                                       "kiln cancel", &by, &err) != 0) {
            if (err.code != KILN_ENOTFOUND)
                err.code = KILN_EINVAL;
            refuse(reply, &err);
        } else {
            json_object_set_new(reply, "status", json_string("cancelling"));
        }
        kiln_inbox_answer(answer, reply);
        return;
    }
    if (!op || strcmp(op, "trigger") != 0 || !name ||
        (params && !json_is_object(params))) {
        kiln_err_set(&err, KILN_EINVAL, "unknown request: expected "
                     "{\"op\": \"trigger\", \"pipeline\": NAME, \"params\": "
                     "{...}}");
        refuse(reply, &err);
        kiln_inbox_answer(answer, reply);
        return;
    }
    json_decref(reply); /* answered once the run started, or not */
    memset(&rr, 0, sizeof(rr));
    rr.pipeline = name;
    kiln_daemon__params_from_json(&kv, &rr.n_params, params);
    rr.params = kv;
    rr.via = "kiln trigger";
    rr.by.actor = json_string_value(json_object_get(req, "user"));
    rr.by.via = "cli";
    who = json_pack("{s:s, s:O?, s:O?}", "via", "kiln trigger", "user",
                    json_object_get(req, "user"), "pid",
                    json_object_get(req, "pid"));
    rr.who_json = json_dumps(who, JSON_COMPACT);
    rr.params_json = params ? json_dumps(params, JSON_COMPACT) : NULL;
    /* The repository is read on the thread pool first (commands.c). */
    kiln_daemon__manual_run_async(dm, &rr, trigger_done, answer);
    free((char *)rr.who_json);
    free((char *)rr.params_json);
    json_decref(who);
    kiln_daemon__params_free(kv, rr.n_params);
}
