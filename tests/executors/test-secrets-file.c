/*
 * test-secrets-file.c: the file that carries a task's secrets to
 * kiln-shim --secrets (the local and the Slurm executors write it): mode
 * 0600 whatever the umask, beside the status file, "NAME=VALUE" entries
 * each ended by a NUL byte; never written through a link left at its
 * path; none for a task without secrets; refused without a status file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "executors/internal.h"
#include "kiln_test.h"

static char dir[] = "/tmp/kiln-secrets-file.XXXXXX";

static void test_file(void)
{
    char *const secrets[] = {"TOKEN=abcd1234", "SHORT=x", NULL};
    char status[300], victim[300], *path = NULL, *text = NULL, *want;
    kiln_err err = KILN_ERR_INIT;
    kiln_task t;
    struct stat sb;
    size_t len = 0;

    snprintf(status, sizeof(status), "%s/a.1.status", dir);
    snprintf(victim, sizeof(victim), "%s/victim", dir);
    memset(&t, 0, sizeof(t));
    t.status_path = status;
    t.secrets = secrets;

    /* A link at the path is replaced, never followed. */
    want = kiln_executor__secrets_path(status);
    ASSERT_EQ_INT(symlink(victim, want), 0);
    umask(0);
    ASSERT_EQ_INT(kiln_executor__write_secrets(&path, &t, &err), 0);
    umask(022);
    ASSERT_NOT_NULL(path);
    ASSERT_STREQ(path, want);
    free(want);
    ASSERT_EQ_INT(lstat(path, &sb), 0);
    ASSERT(S_ISREG(sb.st_mode));
    ASSERT_EQ_INT(sb.st_mode & 07777, 0600);
    ASSERT_EQ_INT(access(victim, F_OK), -1);
    ASSERT_EQ_INT(kiln_read_file(&text, &len, path, 1024, &err), 0);
    ASSERT_EQ_INT(len, sizeof("TOKEN=abcd1234\0SHORT=x"));
    ASSERT(memcmp(text, "TOKEN=abcd1234\0SHORT=x\0", len) == 0);
    free(text);
    unlink(path);
    free(path);

    /* No secrets: no file. */
    t.secrets = NULL;
    ASSERT_EQ_INT(kiln_executor__write_secrets(&path, &t, &err), 0);
    ASSERT_NULL(path);

    /* Secrets need the shim, which needs a status file. */
    t.secrets = secrets;
    t.status_path = NULL;
    ASSERT_EQ_INT(kiln_executor__write_secrets(&path, &t, &err), KILN_ERROR);
    ASSERT_NULL(path);
}

int main(void)
{
    ASSERT_NOT_NULL(mkdtemp(dir));
    RUN_TEST(test_file);
    kiln_remove_tree(dir);
    return 0;
}
