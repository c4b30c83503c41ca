/* test-artifacts.c: finding and hashing inputs and outputs. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln_test.h"
#include "engine/artifacts.h"

static char dir[] = "/tmp/kiln-art.XXXXXX";

static void put(const char *rel, const char *text)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    ASSERT_NOT_NULL(f = fopen(path, "w"));
    fputs(text, f);
    fclose(f);
}

static kiln_strlist list(const char **items, size_t n)
{
    kiln_strlist l = {n, items, NULL};
    return l;
}

static void collect(kiln_artifact_list *out, const char **pats, size_t n)
{
    kiln_err err = KILN_ERR_INIT;
    kiln_strlist l = list(pats, n);
    ASSERT_EQ_INT(kiln_artifacts_collect(out, dir, &l, &err), 0);
}

static void test_files_and_globs(void)
{
    const char *pats[] = {"a.txt", "*.csv", "none/*.bin", "a.txt"};
    kiln_artifact_list l;
    char path[512];

    put("a.txt", "hello\n");
    put("x.csv", "1\n");
    put("y.csv", "2\n");
    collect(&l, pats, 4);
    ASSERT_EQ_INT(l.n, 3); /* a.txt named twice counts once */
    snprintf(path, sizeof(path), "%s/a.txt", dir);
    ASSERT_STREQ(l.items[0].path, path);
    ASSERT_EQ_INT(l.items[0].size, 6);
    /* sha256("hello\n") */
    ASSERT_STREQ(l.items[0].sha256, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc"
                                    "7163af34d08286a2e846f6be03");
    ASSERT(!l.items[0].is_dir);
    ASSERT_EQ_INT(l.n_missing, 1);
    ASSERT_STREQ(l.missing[0], "none/*.bin");
    kiln_artifact_list_dispose(&l);
}

static void test_directories(void)
{
    const char *pats[] = {"d"};
    kiln_artifact_list l;
    char first[KILN_HASH_HEX], path[512];

    snprintf(path, sizeof(path), "%s/d", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/d/sub", dir);
    mkdir(path, 0755);
    put("d/z.txt", "z");
    put("d/sub/a.txt", "aa");
    collect(&l, pats, 1);
    ASSERT_EQ_INT(l.n, 1);
    ASSERT(l.items[0].is_dir);
    ASSERT_EQ_INT(l.items[0].size, 3);
    /* "name\0hash\n" per file, as before kiln kept symlinks and empty
     * directories: the keys of cache entries made then still match. */
    ASSERT_STREQ(l.items[0].sha256, "6451443837969ce6fdf43505da82b669f86adc"
                                    "71fb2b37a573841b5adf7990f6");
    snprintf(first, sizeof(first), "%s", l.items[0].sha256);
    kiln_artifact_list_dispose(&l);

    /* Same names and contents written in another order: same hash. */
    snprintf(path, sizeof(path), "%s/d/z.txt", dir);
    unlink(path);
    put("d/z.txt", "z");
    collect(&l, pats, 1);
    ASSERT_STREQ(l.items[0].sha256, first);
    kiln_artifact_list_dispose(&l);

    /* One byte changed, or a file renamed: another hash. */
    put("d/sub/a.txt", "ab");
    collect(&l, pats, 1);
    ASSERT(strcmp(l.items[0].sha256, first) != 0);
    kiln_artifact_list_dispose(&l);
    put("d/sub/a.txt", "aa");
    snprintf(path, sizeof(path), "%s/d/z.txt", dir);
    {
        char to[512];
        snprintf(to, sizeof(to), "%s/d/y.txt", dir);
        rename(path, to);
    }
    collect(&l, pats, 1);
    ASSERT(strcmp(l.items[0].sha256, first) != 0);
    kiln_artifact_list_dispose(&l);
}

/* A file is typed by what declared it, whatever the step's kind. */
static void test_types(void)
{
    kiln_step st;
    kiln_registry_ops reg;
    memset(&st, 0, sizeof(st));
    memset(&reg, 0, sizeof(reg));
    st.kind = KILN_KIND_DEPLOY;
    reg.register_path = "models/m.pkl";
    st.reg = &reg;
    st.metrics = "./reports/metrics.json";
    ASSERT_STREQ(kiln_artifact_type_of(&st, "/w", "/w/models/m.pkl"),
                 "model");
    ASSERT_STREQ(kiln_artifact_type_of(&st, "/w",
                                       "/w/reports/metrics.json"),
                 "metrics");
    ASSERT_STREQ(kiln_artifact_type_of(&st, "/w", "/w/data.csv"), "file");
    st.kind = KILN_KIND_TRAIN;
    st.reg = NULL;
    ASSERT_STREQ(kiln_artifact_type_of(&st, "/w", "/w/models/m.pkl"),
                 "file");
}

int main(void)
{
    char cmd[600];
    ASSERT_NOT_NULL(mkdtemp(dir));
    RUN_TEST(test_files_and_globs);
    RUN_TEST(test_directories);
    RUN_TEST(test_types);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
