/* load.c: the public entry points, running the three phases in turn. */
#include "internal.h"

#include <assert.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* A document of more nodes than this (a pipeline of some 3,000 steps)
 * gives its memory back once it is read. */
#define TRIM_NODES 20000

int kiln_dsl_load_buffer(kiln_pipeline **out, const char *name,
                         const char *dir, const char *data, size_t len,
                         kiln_diag *diag)
{
    kiln_dsl_ctx c;
    kiln_ydoc doc;
    kiln_pipeline *p = NULL;
    kiln_arena *a;
    char *abs;
    bool big;

    assert(out && name && diag && (data || len == 0));
    *out = NULL;
    kiln_dsl__ctx_init(&c, diag, name);
    if (!data)
        data = ""; /* libyaml wants a pointer even for no bytes */
    if (len > KILN_DSL_MAX_FILE) {
        kiln_dsl__error(&c, 0, 0, "the file is larger than %zu MiB",
                        KILN_DSL_MAX_FILE >> 20);
        return KILN_EINVAL;
    }
    if (kiln_dsl__parse(&doc, &c, data, len) == 0) {
        a = kiln_arena_new();
        p = kiln_arena_alloc(a, sizeof(*p));
        p->arena = a;
        p->file = kiln_arena_strdup(a, name);
        abs = kiln_path_absolute(dir ? dir : ".");
        p->dir = kiln_arena_strdup(a, abs);
        free(abs);
        if (kiln_dsl__validate(&c, &doc, p) == 0)
            kiln_dsl__graph(&c, p);
    }
    big = doc.n_nodes > TRIM_NODES;
    kiln_dsl__ydoc_dispose(&doc);
    /* The tree of a large file leaves a hole in the heap that what comes
     * next (a run's state, mapped apart) would not fill. */
    if (big)
        kiln_mem_trim();
    if (c.n_errors) {
        kiln_dsl__sort_errors(&c);
        kiln_pipeline_free(p);
        return KILN_EINVAL;
    }
    *out = p;
    return 0;
}

int kiln_dsl_load_file(kiln_pipeline **out, const char *path,
                       kiln_diag *diag)
{
    kiln_err err = KILN_ERR_INIT;
    kiln_dsl_ctx c;
    char *data, *dir;
    size_t len;
    int rc;

    *out = NULL;
    rc = kiln_read_file(&data, &len, path, KILN_DSL_MAX_FILE, &err);
    if (rc == KILN_EINVAL) {
        kiln_dsl__ctx_init(&c, diag, path);
        kiln_dsl__error(&c, 0, 0, "the file is larger than %zu MiB",
                        KILN_DSL_MAX_FILE >> 20);
        return KILN_EINVAL;
    }
    if (rc < 0) {
        /* "cannot open PATH: ..." already names the file. A path that
         * names no readable file is the user's to fix (as kiln run says:
         * exit 2); a file that cannot be read is kiln's (exit 3). */
        struct stat sb;
        int code = stat(path, &sb) != 0 || S_ISDIR(sb.st_mode) ||
                   access(path, R_OK) != 0 ? KILN_EINVAL : KILN_ERROR;
        kiln_dsl__ctx_init(&c, diag, NULL);
        kiln_dsl__error(&c, 0, 0, "%s", err.msg);
        if (diag->n > c.first)
            diag->errs[diag->n - 1].code = code;
        return code;
    }
    dir = kiln_path_dirname(path);
    rc = kiln_dsl_load_buffer(out, path, dir, data, len, diag);
    free(dir);
    free(data);
    return rc;
}
