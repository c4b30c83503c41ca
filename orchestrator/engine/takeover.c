/* takeover.c: preparing to take over an orphaned run. */
#include "takeover.h"

#include <stdlib.h>
#include <string.h>

int kiln_takeover_load(kiln_takeover *t, kiln_store *st, int64_t id,
                       kiln_err *err)
{
    kiln_diag diag = KILN_DIAG_INIT;
    const kiln_run_info *rec;
    int rc;

    memset(t, 0, sizeof(*t));
    if ((rc = kiln_store_run_get(&t->rec, st, id, err)) != 0)
        return rc;
    rec = t->rec;
    if (kiln_run_state_final(rec->state))
        return kiln_err_set(err, KILN_EBUSY, "run %lld has ended (%s)",
                            (long long)id, kiln_run_state_name(rec->state));
    if (!kiln_run_info_orphaned(rec))
        return kiln_err_set(err, KILN_EBUSY, "run %lld is still run by "
                            "kiln process %lld", (long long)id,
                            (long long)rec->owner_pid);
    if (!rec->file || kiln_dsl_load_file(&t->p, rec->file, &diag) != 0) {
        kiln_diag_dispose(&diag);
        return kiln_err_set(err, KILN_EINVAL, "its pipeline file no longer "
                            "loads");
    }
    kiln_diag_dispose(&diag);
    t->file = kiln_path_absolute(rec->file);
    if (kiln_hash_file(t->hash, t->file, err) != 0 || !rec->hash ||
        strcmp(t->hash, rec->hash) != 0)
        return kiln_err_set(err, KILN_EINVAL, "its pipeline file changed "
                            "since it started");
    t->opts.pipeline = t->p;
    t->opts.file = t->file;
    t->opts.hash = t->hash;
    t->opts.root = rec->workdir;
    t->opts.n_params = rec->n_params;
    t->opts.params = rec->params;
    t->opts.git_commit = rec->git_commit;
    return 0;
}

void kiln_takeover_dispose(kiln_takeover *t)
{
    kiln_pipeline_free(t->p);
    free(t->file);
    kiln_run_info_free(t->rec);
    memset(t, 0, sizeof(*t));
}
