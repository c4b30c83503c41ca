/*
 * test-git.c: commit pinning against repositories built with the git CLI.
 *
 * The git CLI only builds fixtures; everything under test goes through
 * libgit2. Exits 77 (skipped) when git is not installed.
 */
#include "git/git.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <git2.h>

#define CHECK(c)                                                        \
    do {                                                                \
        if (!(c)) {                                                     \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,      \
                    __LINE__, #c);                                      \
            exit(1);                                                    \
        }                                                               \
    } while (0)

#define CHECK_INT(a, b)                                                 \
    do {                                                                \
        long long a_ = (long long)(a), b_ = (long long)(b);             \
        if (a_ != b_) {                                                 \
            fprintf(stderr, "%s:%d: %s == %s: %lld != %lld\n",          \
                    __FILE__, __LINE__, #a, #b, a_, b_);                \
            exit(1);                                                    \
        }                                                               \
    } while (0)

#define CHECK_STR(a, b)                                                 \
    do {                                                                \
        const char *a_ = (a), *b_ = (b);                                \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                        \
            fprintf(stderr, "%s:%d: %s == %s: \"%s\" != \"%s\"\n",      \
                    __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)",     \
                    b_ ? b_ : "(null)");                                \
            exit(1);                                                    \
        }                                                               \
    } while (0)

/* Check a kiln call's result, printing its message on a mismatch. */
#define CHECK_RC(call, want, err)                                       \
    do {                                                                \
        int rc_ = (call);                                               \
        if (rc_ != (want)) {                                            \
            fprintf(stderr, "%s:%d: %s returned %d, want %d: %s\n",     \
                    __FILE__, __LINE__, #call, rc_, (int)(want),        \
                    (err)->msg);                                        \
            exit(1);                                                    \
        }                                                               \
    } while (0)

static char root[] = "/tmp/kiln-test-git-XXXXXX";

/* Run a shell command built from fmt in the fixture root; return its
 * exit status. */
static int sh(const char *fmt, ...) KILN_PRINTF(1, 2);
static int sh(const char *fmt, ...)
{
    kiln_buf b = KILN_BUF_INIT;
    va_list ap;
    int rc;

    kiln_buf_printf(&b, "cd '%s' && { ", root);
    va_start(ap, fmt);
    kiln_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    kiln_buf_puts(&b, "; } >/dev/null");
    rc = system(b.ptr);
    kiln_buf_dispose(&b);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

#define SH(...) CHECK_INT(sh(__VA_ARGS__), 0)

/* The first line a command prints, malloc'd. */
static char *capture(const char *cmd)
{
    char *full = kiln_asprintf("cd '%s' && %s", root, cmd);
    FILE *p = popen(full, "r");
    char line[4096] = "";
    size_t n;

    CHECK(p != NULL);
    if (!fgets(line, sizeof(line), p))
        line[0] = '\0';
    while (fgetc(p) != EOF)
        ;
    CHECK_INT(pclose(p), 0);
    n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    free(full);
    return kiln_strdup(line);
}

/* Everything a command prints, malloc'd. */
static char *capture_all(const char *cmd)
{
    char *full = kiln_asprintf("cd '%s' && %s", root, cmd);
    FILE *p = popen(full, "r");
    kiln_buf b = KILN_BUF_INIT;
    char chunk[4096], *out;
    size_t n;

    CHECK(p != NULL);
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        kiln_buf_add(&b, chunk, n);
    CHECK_INT(pclose(p), 0);
    free(full);
    out = kiln_strdup(kiln_buf_cstr(&b));
    kiln_buf_dispose(&b);
    return out;
}

/* The contents of root/rel, malloc'd, or NULL when it cannot be read. */
static char *slurp_len(const char *rel, size_t *len)
{
    char *path = kiln_path_join(root, rel);
    char *text = NULL;
    if (kiln_read_file(&text, len, path, 1 << 20, NULL) < 0)
        text = NULL;
    free(path);
    return text;
}

static char *slurp(const char *rel)
{
    size_t len;
    return slurp_len(rel, &len);
}

static bool exists(const char *rel)
{
    char *path = kiln_path_join(root, rel);
    struct stat st;
    bool ok = lstat(path, &st) == 0;
    free(path);
    return ok;
}

static char *rpath(const char *rel)
{
    return kiln_path_join(root, rel);
}

static void check_file(const char *rel, const char *want)
{
    char *got = slurp(rel);
    if (!got || strcmp(got, want) != 0) {
        fprintf(stderr, "%s: got \"%s\", want \"%s\"\n", rel,
                got ? got : "(unreadable)", want);
        exit(1);
    }
    free(got);
}

static void test_outside(void)
{
    kiln_git_info info;
    kiln_err err = KILN_ERR_INIT;
    char *dir = rpath("outside");
    char out[41];

    SH("mkdir outside");
    if (sh("git -C outside rev-parse --git-dir 2>/dev/null") == 0) {
        fprintf(stderr, "%s is inside a repository; skipping the outside "
                        "case\n", root);
        free(dir);
        return;
    }
    CHECK_RC(kiln_git_inspect(&info, dir, &err), 0, &err);
    CHECK(!info.in_repo);
    CHECK(info.workdir == NULL && info.branch == NULL);
    kiln_git_info_dispose(&info);

    CHECK_RC(kiln_git_resolve(out, dir, "HEAD", &err), KILN_ENOTFOUND, &err);
    CHECK(strstr(err.msg, "no Git repository") != NULL);
    free(dir);
}

static void test_bare(void)
{
    kiln_git_info info;
    kiln_err err = KILN_ERR_INIT;
    char *dir = rpath("bare.git");

    SH("git -c init.defaultBranch=main init -q --bare bare.git");
    CHECK_RC(kiln_git_inspect(&info, dir, &err), 0, &err);
    CHECK(!info.in_repo);
    kiln_git_info_dispose(&info);
    free(dir);
}

static void test_unborn(void)
{
    kiln_git_info info;
    kiln_err err = KILN_ERR_INIT;
    char *dir = rpath("empty");

    SH("git -c init.defaultBranch=main init -q empty");
    CHECK_RC(kiln_git_inspect(&info, dir, &err), 0, &err);
    CHECK(info.in_repo);
    CHECK_STR(info.commit, "");
    CHECK_STR(info.branch, "main");
    CHECK(!info.dirty);
    kiln_git_info_dispose(&info);

    SH("cd empty && echo x > x.txt && git add x.txt");
    CHECK_RC(kiln_git_inspect(&info, dir, &err), 0, &err);
    CHECK(info.dirty);
    CHECK_INT(info.n_changed, 1);
    CHECK_STR(info.changed[0], "A x.txt");
    kiln_git_info_dispose(&info);
    free(dir);
}

/* Build root/repo with two commits on main; return their ids. */
static void make_repo(char **c1, char **c2)
{
    SH("git -c init.defaultBranch=main init -q repo");
    SH("cd repo && printf 'one\\n' > a.txt && mkdir sub && "
       "printf 'b\\n' > sub/b.txt && printf '#!/bin/sh\\necho hi\\n' > "
       "run.sh && chmod +x run.sh && ln -s a.txt link && "
       "printf 'steps: []\\n' > pipeline.yaml && "
       "git add -A && git commit -q -m first");
    *c1 = capture("git -C repo rev-parse HEAD");
    SH("git -C repo tag -a v1 -m 'version 1' HEAD");
    SH("cd repo && printf 'two\\n' > a.txt && printf 'c\\n' > c.txt && "
       "git add -A && git commit -q -m second");
    *c2 = capture("git -C repo rev-parse HEAD");
    CHECK_INT(strlen(*c1), 40);
    CHECK_INT(strlen(*c2), 40);
}

static void test_inspect(const char *c1, const char *c2)
{
    kiln_git_info info;
    kiln_err err = KILN_ERR_INIT;
    char *file = rpath("repo/pipeline.yaml");
    char *sub = rpath("repo/sub");
    char *rel = rpath("repo");
    char *top = realpath(rel, NULL);

    /* Clean, from a file and from a subdirectory. */
    CHECK_RC(kiln_git_inspect(&info, file, &err), 0, &err);
    CHECK(info.in_repo);
    CHECK_STR(info.commit, c2);
    CHECK_STR(info.branch, "main");
    CHECK_STR(info.workdir, top);
    CHECK(!info.dirty);
    CHECK_INT(info.n_changed, 0);
    kiln_git_info_dispose(&info);
    CHECK_RC(kiln_git_inspect(&info, sub, &err), 0, &err);
    CHECK_STR(info.workdir, top);
    kiln_git_info_dispose(&info);

    /* A modified tracked file. */
    SH("cd repo && echo more >> a.txt");
    CHECK_RC(kiln_git_inspect(&info, file, &err), 0, &err);
    CHECK(info.dirty);
    CHECK_INT(info.n_changed, 1);
    CHECK_STR(info.changed[0], "M a.txt");
    kiln_git_info_dispose(&info);
    SH("cd repo && git checkout -q -- a.txt");

    /* A staged new file. */
    SH("cd repo && echo d > d.txt && git add d.txt");
    CHECK_RC(kiln_git_inspect(&info, file, &err), 0, &err);
    CHECK(info.dirty);
    CHECK_INT(info.n_changed, 1);
    CHECK_STR(info.changed[0], "A d.txt");
    kiln_git_info_dispose(&info);

    /* Untracked files only, including kiln's ignored state directory. */
    SH("cd repo && git rm -q --cached d.txt && mkdir .kiln && "
       "echo '*' > .kiln/.gitignore && echo x > .kiln/state.db");
    CHECK_RC(kiln_git_inspect(&info, file, &err), 0, &err);
    CHECK(!info.dirty);
    CHECK_INT(info.n_changed, 0);
    kiln_git_info_dispose(&info);

    /* Several kinds at once, sorted by path. */
    SH("cd repo && git mv a.txt z.txt && rm c.txt && echo x >> sub/b.txt && "
       "rm link && echo notalink > link");
    CHECK_RC(kiln_git_inspect(&info, file, &err), 0, &err);
    CHECK(info.dirty);
    CHECK_INT(info.n_changed, 4);
    CHECK_STR(info.changed[0], "R a.txt -> z.txt");
    CHECK_STR(info.changed[1], "D c.txt");
    CHECK_STR(info.changed[2], "T link");
    CHECK_STR(info.changed[3], "M sub/b.txt");
    kiln_git_info_dispose(&info);
    SH("cd repo && git reset -q --hard");

    /* Detached HEAD. */
    SH("cd repo && git checkout -q --detach HEAD~1");
    CHECK_RC(kiln_git_inspect(&info, file, &err), 0, &err);
    CHECK(info.in_repo);
    CHECK(info.branch == NULL);
    CHECK_STR(info.commit, c1);
    kiln_git_info_dispose(&info);
    SH("cd repo && git checkout -q main");

    free(file);
    free(sub);
    free(rel);
    free(top);
}

static void test_resolve(const char *c1, const char *c2)
{
    kiln_err err = KILN_ERR_INIT;
    char *dir = rpath("repo");
    char *prefix = kiln_strndup(c1, 8);
    char *blob = capture("git -C repo rev-parse HEAD:a.txt");
    char out[41];

    CHECK_RC(kiln_git_resolve(out, dir, "HEAD~1", &err), 0, &err);
    CHECK_STR(out, c1);
    CHECK_RC(kiln_git_resolve(out, dir, prefix, &err), 0, &err);
    CHECK_STR(out, c1);
    CHECK_RC(kiln_git_resolve(out, dir, "main", &err), 0, &err);
    CHECK_STR(out, c2);
    CHECK_RC(kiln_git_resolve(out, dir, c2, &err), 0, &err);
    CHECK_STR(out, c2);
    CHECK_RC(kiln_git_resolve(out, dir, "v1", &err), 0, &err); /* peeled */
    CHECK_STR(out, c1);

    CHECK_RC(kiln_git_resolve(out, dir, "nope", &err), KILN_ENOTFOUND, &err);
    CHECK(strstr(err.msg, "unknown revision \"nope\" in repository /") ==
          err.msg);
    CHECK_RC(kiln_git_resolve(out, dir, "HEAD~5", &err), KILN_ENOTFOUND,
             &err);
    CHECK_RC(kiln_git_resolve(out, dir, blob, &err), KILN_ENOTFOUND, &err);
    CHECK(strstr(err.msg, "not a commit") != NULL);

    free(dir);
    free(prefix);
    free(blob);
}

/* Names in root/rel, sorted and joined with spaces, malloc'd. */
static char *listing(const char *rel)
{
    char *cmd = kiln_asprintf("ls -A '%s' | tr '\\n' ' '", rel);
    char *out = capture(cmd);
    free(cmd);
    return out;
}

static void test_checkout(const char *c1, const char *c2)
{
    kiln_err err = KILN_ERR_INIT;
    char *repo = rpath("repo");
    char *dest = rpath("co/c1");
    char *dest2 = rpath("co/x/");
    char *head, *idx, *status, *s;
    size_t idx_len, len;
    char link[64];
    ssize_t n;
    struct stat st;

    /* The user has work in progress: an edit, a staged file, a stray. */
    SH("cd repo && echo edit >> a.txt && echo s > staged.txt && "
       "git add staged.txt && echo u > untracked.txt");
    status = capture_all("git -C repo --no-optional-locks status "
                         "--porcelain");
    head = slurp("repo/.git/HEAD");
    idx = slurp_len("repo/.git/index", &idx_len);
    CHECK(head && idx);

    CHECK_RC(kiln_git_checkout(repo, c1, dest, &err), 0, &err);
    check_file("co/c1/a.txt", "one\n");
    check_file("co/c1/sub/b.txt", "b\n");
    check_file("co/c1/run.sh", "#!/bin/sh\necho hi\n");
    CHECK(!exists("co/c1/c.txt"));
    CHECK(!exists("co/c1/staged.txt"));
    CHECK(!exists("co/c1/untracked.txt"));
    CHECK(!exists("co/c1/.git"));
    s = rpath("co/c1/run.sh");
    CHECK_INT(stat(s, &st), 0);
    CHECK(st.st_mode & S_IXUSR);
    free(s);
    s = rpath("co/c1/a.txt");
    CHECK_INT(stat(s, &st), 0);
    CHECK(!(st.st_mode & S_IXUSR));
    free(s);
    s = rpath("co/c1/link");
    n = readlink(s, link, sizeof(link) - 1);
    CHECK(n > 0);
    link[n] = '\0';
    CHECK_STR(link, "a.txt");
    free(s);
    s = kiln_asprintf("%s\n", c1);
    check_file("co/c1/.kiln-checkout-complete", s);
    free(s);

    /* The repository is untouched. */
    s = slurp("repo/.git/HEAD");
    CHECK_STR(s, head);
    free(s);
    s = slurp_len("repo/.git/index", &len);
    CHECK(s != NULL);
    CHECK_INT(len, idx_len);
    CHECK(memcmp(s, idx, len) == 0);
    free(s);
    check_file("repo/a.txt", "two\nedit\n");
    check_file("repo/untracked.txt", "u\n");
    s = capture_all("git -C repo --no-optional-locks status --porcelain");
    CHECK_STR(s, status);
    free(s);
    s = listing("co");
    CHECK_STR(s, "c1 ");  /* no temporary directory left behind */
    free(s);

    /* A complete checkout is reused as is. */
    SH("echo mine > co/c1/sentinel");
    CHECK_RC(kiln_git_checkout(repo, c1, dest, &err), 0, &err);
    CHECK(exists("co/c1/sentinel"));

    /* Without the marker it is redone. */
    SH("rm co/c1/.kiln-checkout-complete && rm co/c1/a.txt");
    CHECK_RC(kiln_git_checkout(repo, c1, dest, &err), 0, &err);
    CHECK(!exists("co/c1/sentinel"));
    check_file("co/c1/a.txt", "one\n");
    CHECK(exists("co/c1/.kiln-checkout-complete"));

    /* A marker for another commit is replaced too. */
    CHECK_RC(kiln_git_checkout(repo, c2, dest, &err), 0, &err);
    check_file("co/c1/a.txt", "two\n");
    check_file("co/c1/c.txt", "c\n");

    /* A stray directory (given with a trailing slash) is replaced. */
    SH("mkdir -p co/x/deep && echo junk > co/x/deep/junk");
    CHECK_RC(kiln_git_checkout(repo, c2, dest2, &err), 0, &err);
    CHECK(!exists("co/x/deep"));
    check_file("co/x/c.txt", "c\n");
    s = listing("co");
    CHECK_STR(s, "c1 x ");
    free(s);

    /* Bad input. */
    CHECK_RC(kiln_git_checkout(repo, "xyz", dest, &err), KILN_EINVAL, &err);
    CHECK_RC(kiln_git_checkout(repo,
                               "0000000000000000000000000000000000000001",
                               dest, &err),
             KILN_ENOTFOUND, &err);
    CHECK(strstr(err.msg, "unknown commit") != NULL);

    /* Never delete the repository itself. */
    CHECK_RC(kiln_git_checkout(repo, c1, repo, &err), KILN_EINVAL, &err);
    CHECK(strstr(err.msg, "refusing") != NULL);
    check_file("repo/a.txt", "two\nedit\n");
    s = listing(".");
    CHECK(strstr(s, "tmp-") == NULL);
    free(s);

    SH("cd repo && git reset -q --hard && rm -f untracked.txt staged.txt");
    free(head);
    free(idx);
    free(status);
    free(repo);
    free(dest);
    free(dest2);
}

int main(void)
{
    char *c1, *c2;

    if (system("git --version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "git CLI not found; skipping\n");
        return 77;
    }
    CHECK(mkdtemp(root) != NULL);

    /* Keep the user's and the system's Git configuration out. */
    setenv("HOME", root, 1);
    setenv("XDG_CONFIG_HOME", root, 1);
    setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    setenv("GIT_AUTHOR_NAME", "Kiln Test", 1);
    setenv("GIT_AUTHOR_EMAIL", "test@kiln.invalid", 1);
    setenv("GIT_COMMITTER_NAME", "Kiln Test", 1);
    setenv("GIT_COMMITTER_EMAIL", "test@kiln.invalid", 1);
    unsetenv("GIT_DIR");
    unsetenv("GIT_WORK_TREE");
    unsetenv("GIT_INDEX_FILE");

    test_outside();
    test_bare();
    test_unborn();
    make_repo(&c1, &c2);
    test_inspect(c1, c2);
    test_resolve(c1, c2);
    test_checkout(c1, c2);

    free(c1);
    free(c2);
    sh("rm -rf '%s'", root);
    git_libgit2_shutdown();
    printf("ok\n");
    return 0;
}
