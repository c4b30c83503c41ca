/*
 * test-dsl-golden.c: kiln's error messages, pinned by golden files.
 *
 * Every bad/<case>.yaml must fail to load with exactly the text in
 * bad/<case>.err, byte for byte, as kiln_diag_print() would print it (with
 * FILE as "bad/<case>.yaml"). Every good/<case>.yaml must load cleanly.
 * Runs from tests/dsl, as CTest does.
 *
 * KILN_UPDATE_GOLDEN=1 rewrites the .err files from the current output
 * instead of comparing. The .err files are the spec of kiln's messages:
 * read every rewritten one before committing it.
 */
#include "dsl/dsl.h"
#include "kiln_test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_BAD_CASES 30

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.yaml names in dir, sorted so runs are reproducible. Free each
 * name and the array. */
static char **list_yaml(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t cap = 0;

    *n = 0;
    if (!d) {
        fprintf(stderr, "cannot open %s/ (run from tests/dsl)\n", dir);
        abort();
    }
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            names = kiln_realloc(names, cap * sizeof(*names));
        }
        names[(*n)++] = kiln_strdup(e->d_name);
    }
    closedir(d);
    qsort(names, *n, sizeof(*names), cmp_names);
    return names;
}

/* Print expected and actual output so the first difference is easy to
 * spot. */
static void show_mismatch(const char *errpath, const char *want,
                          const char *got)
{
    size_t line = 1, i;
    for (i = 0; want[i] && want[i] == got[i]; i++)
        if (want[i] == '\n')
            line++;
    fprintf(stderr,
            "FAIL %s differs at line %zu\n"
            "--- expected (%s)\n%s"
            "+++ actual\n%s"
            "(rerun with KILN_UPDATE_GOLDEN=1 to accept the actual output)\n",
            errpath, line, errpath, want, got);
}

/* Check one bad case. Returns 0 when it matches (or was rewritten). */
static int check_bad(const char *name, bool update)
{
    char *path = kiln_asprintf("bad/%s", name);
    char *errpath = kiln_asprintf("%.*s.err", (int)(strlen(path) - 5), path);
    kiln_pipeline *p = NULL;
    kiln_diag diag = KILN_DIAG_INIT;
    kiln_buf got = KILN_BUF_INIT;
    kiln_err err = KILN_ERR_INIT;
    char *want = NULL;
    int rc, fail = 0;

    rc = kiln_dsl_load_file(&p, path, &diag);
    kiln_diag_format(&diag, &got);
    if (rc == 0 || p != NULL || diag.n == 0) {
        fprintf(stderr, "FAIL %s loaded without errors\n", path);
        fail = 1;
    } else if (update) {
        FILE *f = fopen(errpath, "w");
        ASSERT_NOT_NULL(f);
        fputs(kiln_buf_cstr(&got), f);
        ASSERT_EQ_INT(fclose(f), 0);
        fprintf(stderr, "wrote %s\n", errpath);
    } else if (kiln_read_file(&want, NULL, errpath, 1 << 20, &err) < 0) {
        fprintf(stderr, "FAIL %s: %s (KILN_UPDATE_GOLDEN=1 creates it)\n",
                path, err.msg);
        fail = 1;
    } else if (strcmp(want, kiln_buf_cstr(&got)) != 0) {
        show_mismatch(errpath, want, kiln_buf_cstr(&got));
        fail = 1;
    }
    free(want);
    kiln_buf_dispose(&got);
    kiln_diag_dispose(&diag);
    kiln_pipeline_free(p);
    free(errpath);
    free(path);
    return fail;
}

static int check_good(const char *name)
{
    char *path = kiln_asprintf("good/%s", name);
    kiln_pipeline *p = NULL;
    kiln_diag diag = KILN_DIAG_INIT;
    int fail = 0;

    if (kiln_dsl_load_file(&p, path, &diag) != 0 || !p) {
        fprintf(stderr, "FAIL %s did not load:\n", path);
        kiln_diag_print(&diag);
        fail = 1;
    } else if (p->n_steps == 0 || !p->topo || !p->name) {
        fprintf(stderr, "FAIL %s: incomplete model\n", path);
        fail = 1;
    }
    kiln_diag_dispose(&diag);
    kiln_pipeline_free(p);
    free(path);
    return fail;
}

static void test_bad_files(void)
{
    const char *env = getenv("KILN_UPDATE_GOLDEN");
    bool update = env && *env && strcmp(env, "0") != 0;
    size_t n, i;
    char **names = list_yaml("bad", &n);
    int failures = 0;

    for (i = 0; i < n; i++) {
        failures += check_bad(names[i], update);
        free(names[i]);
    }
    free(names);
    fprintf(stderr, "%zu bad cases, %d failed\n", n, failures);
    ASSERT_EQ_INT(failures, 0);
    ASSERT_LE_INT(MIN_BAD_CASES, n);
}

static void test_good_files(void)
{
    size_t n, i;
    char **names = list_yaml("good", &n);
    int failures = 0;

    for (i = 0; i < n; i++) {
        failures += check_good(names[i]);
        free(names[i]);
    }
    free(names);
    fprintf(stderr, "%zu good cases, %d failed\n", n, failures);
    ASSERT_EQ_INT(failures, 0);
    ASSERT_LE_INT(1, n);
}

/* A file that is not there is the user's error (KILN_EINVAL: exit 2),
 * without a position. */
static void test_missing_file(void)
{
    kiln_pipeline *p = NULL;
    kiln_diag diag = KILN_DIAG_INIT;
    kiln_buf out = KILN_BUF_INIT;

    ASSERT_EQ_INT(kiln_dsl_load_file(&p, "bad/no-such-file.yaml", &diag),
                  KILN_EINVAL);
    ASSERT_NULL(p);
    ASSERT_EQ_INT(diag.n, 1);
    ASSERT_EQ_INT(diag.errs[0].code, KILN_EINVAL);
    kiln_diag_format(&diag, &out);
    ASSERT_STREQ(kiln_buf_cstr(&out),
                 "kiln: error: cannot open bad/no-such-file.yaml: "
                 "No such file or directory\n");
    kiln_buf_dispose(&out);
    kiln_diag_dispose(&diag);
}

int main(void)
{
    RUN_TEST(test_bad_files);
    RUN_TEST(test_good_files);
    RUN_TEST(test_missing_file);
    return 0;
}
