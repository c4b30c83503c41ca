/* takeover.c: preparing to take over an orphaned run. */
#include "takeover.h"

#include <stdlib.h>
#include <string.h>

bool kiln_takeover_owner_alive(json_t *rec)
{
    pid_t pid = (pid_t)json_integer_value(json_object_get(rec,
                                                          "owner_pid"));
    uint64_t start = (uint64_t)json_integer_value(json_object_get(
        rec, "owner_start"));
    return pid > 0 && start && kiln_proc_start(pid) == start;
}

kiln_kv *kiln_takeover_params(json_t *params, size_t *n)
{
    kiln_kv *kv = kiln_calloc(json_object_size(params) + 1, sizeof(*kv));
    const char *key;
    json_t *v;
    *n = 0;
    json_object_foreach(params, key, v) {
        if (json_is_string(v)) {
            kv[*n].key = key;
            kv[*n].value = json_string_value(v);
            (*n)++;
        }
    }
    return kv;
}

int kiln_takeover_load(kiln_takeover *t, kiln_store *st, int64_t id,
                       kiln_err *err)
{
    kiln_diag diag = KILN_DIAG_INIT;
    const char *status, *file, *hash;
    int rc;

    memset(t, 0, sizeof(*t));
    if ((rc = kiln_store_run_json(st, &t->rec, id, err)) != 0)
        return rc;
    status = json_string_value(json_object_get(t->rec, "status"));
    if (!status || (strcmp(status, KILN_ST_RUNNING) != 0 &&
                    strcmp(status, KILN_ST_QUEUED) != 0))
        return kiln_err_set(err, KILN_EBUSY, "run %lld has ended (%s)",
                            (long long)id, status ? status : "?");
    if (kiln_takeover_owner_alive(t->rec))
        return kiln_err_set(err, KILN_EBUSY, "run %lld is still run by "
                            "kiln process %lld", (long long)id,
                            (long long)json_integer_value(json_object_get(
                                t->rec, "owner_pid")));
    file = json_string_value(json_object_get(t->rec, "file"));
    hash = json_string_value(json_object_get(t->rec, "pipeline_hash"));
    if (!file || kiln_dsl_load_file(&t->p, file, &diag) != 0) {
        kiln_diag_dispose(&diag);
        return kiln_err_set(err, KILN_EINVAL, "its pipeline file no longer "
                            "loads");
    }
    kiln_diag_dispose(&diag);
    t->file = kiln_path_absolute(file);
    if (kiln_hash_file(t->hash, t->file, err) != 0 || !hash ||
        strcmp(t->hash, hash) != 0)
        return kiln_err_set(err, KILN_EINVAL, "its pipeline file changed "
                            "since it started");
    t->params = kiln_takeover_params(json_object_get(t->rec, "params"),
                                &t->n_params);
    t->opts.pipeline = t->p;
    t->opts.file = t->file;
    t->opts.hash = t->hash;
    t->opts.root = json_string_value(json_object_get(t->rec, "workdir"));
    t->opts.n_params = t->n_params;
    t->opts.params = t->params;
    t->opts.git_commit = json_string_value(json_object_get(t->rec,
                                                           "git_commit"));
    return 0;
}

void kiln_takeover_dispose(kiln_takeover *t)
{
    kiln_pipeline_free(t->p);
    free(t->file);
    free(t->params);
    json_decref(t->rec);
    memset(t, 0, sizeof(*t));
}
