/* fetch.c: putting stored bytes at a path the user names (see fetch.h). */
#include "cli/fetch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *kiln_fetch_target(const char *to)
{
    char *t = kiln_strdup(to);
    size_t len = strlen(t);
    while (len > 1 && t[len - 1] == '/')
        t[--len] = '\0';
    return t;
}

/* A hidden sibling of to named for this process and what it is for. */
static char *sibling(const char *to, const char *what)
{
    const char *slash = strrchr(to, '/');
    if (!slash)
        return kiln_asprintf(".%s.kiln-%s.%d", to, what, (int)getpid());
    return kiln_asprintf("%.*s/.%s.kiln-%s.%d", (int)(slash - to), to,
                         slash + 1, what, (int)getpid());
}

int kiln_fetch_begin(char **tmp, const char *to, bool is_dir, bool force,
                     kiln_err *err)
{
    struct stat st;
    char *parent;
    int rc;

    *tmp = NULL;
    if (lstat(to, &st) == 0) {
        bool dir = S_ISDIR(st.st_mode);
        if (!force)
            return kiln_err_set(err, KILN_EINVAL, "%s already exists (give "
                                "--force to replace it)", to);
        if (dir && !is_dir)
            return kiln_err_set(err, KILN_EINVAL, "%s is a directory, and "
                                "what is asked for is a file: give the "
                                "file's own path (such as %s/NAME)", to, to);
        if (!dir && is_dir)
            return kiln_err_set(err, KILN_EINVAL, "%s is a file, and what "
                                "is asked for is a directory", to);
    } else if (errno != ENOENT) {
        return kiln_err_set_os(err, "cannot look at %s", to);
    }
    parent = kiln_path_dirname(to);
    rc = kiln_mkdir_p(parent, err);
    free(parent);
    if (rc != 0)
        return rc;
    *tmp = sibling(to, "new");
    kiln_remove_tree(*tmp);
    return 0;
}

int kiln_fetch_finish(char *tmp, const char *to, bool is_dir, int rc,
                      kiln_err *err)
{
    char *old = NULL;
    struct stat st;

    if (rc != 0)
        goto out;
    if (is_dir && lstat(to, &st) == 0) {
        /* rename() does not replace a directory that has files: move the
         * old one aside first, and put it back when the new one cannot
         * take its place. */
        old = sibling(to, "old");
        kiln_remove_tree(old);
        if (rename(to, old) != 0) {
            rc = kiln_err_set_os(err, "cannot replace %s", to);
            goto out;
        }
    }
    if (rename(tmp, to) != 0) {
        rc = kiln_err_set_os(err, "cannot write %s", to);
        if (old)
            rename(old, to);
        goto out;
    }
    if (old)
        kiln_remove_tree(old);
out:
    if (rc != 0)
        kiln_remove_tree(tmp);
    free(old);
    free(tmp);
    return rc;
}
