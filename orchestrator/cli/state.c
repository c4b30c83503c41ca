/* state.c: choosing and preparing the state directory. */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

char *kiln_state_dir_pick(const char *explicit_dir, const char *repo_top,
                          const char *pipeline_dir)
{
    const char *env = getenv("KILN_STATE");
    char *rel, *abs;
    if (explicit_dir && *explicit_dir)
        return kiln_path_absolute(explicit_dir);
    if (env && *env)
        return kiln_path_absolute(env);
    rel = kiln_path_join(repo_top ? repo_top : pipeline_dir, ".kiln");
    abs = kiln_path_absolute(rel);
    free(rel);
    return abs;
}

int kiln_state_dir_prepare(const char *dir, kiln_err *err)
{
    char *ignore;
    int fd, rc;

    if ((rc = kiln_mkdir_p(dir, err)) != 0)
        return rc;
    if (access(dir, W_OK) != 0)
        return kiln_err_set_os(err, "state directory %s is not writable",
                               dir);
    ignore = kiln_path_join(dir, ".gitignore");
    fd = open(ignore, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
        if (write(fd, "*\n", 2) != 2)
            rc = kiln_err_set_os(err, "cannot write %s", ignore);
        close(fd);
    } else if (errno != EEXIST) {
        rc = kiln_err_set_os(err, "cannot write %s", ignore);
    }
    free(ignore);
    return rc;
}
