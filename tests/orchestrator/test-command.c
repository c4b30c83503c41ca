/* test-command.c: shell or direct execution; environments. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kiln_test.h"
#include "engine/command.h"
#include "engine/env.h"

static void expect(const char *cmd, const char *const *want)
{
    char **argv = kiln_command_argv(cmd);
    size_t i;
    for (i = 0; want[i]; i++)
        ASSERT_STREQ(argv[i], want[i]);
    ASSERT_NULL(argv[i]);
    free(argv);
}

#define SHELL(cmd) expect(cmd, (const char *const[]){"/bin/sh", "-c", cmd, NULL})

static void test_direct(void)
{
    expect("true", (const char *const[]){"true", NULL});
    expect("  python3   train.py --lr=0.1  ",
           (const char *const[]){"python3", "train.py", "--lr=0.1", NULL});
    expect("/usr/bin/env a,b x:y 50% @f ^",
           (const char *const[]){"/usr/bin/env", "a,b", "x:y", "50%", "@f",
                                 "^", NULL});
}

static void test_shell(void)
{
    SHELL("echo $HOME");
    SHELL("echo \"quoted\"");
    SHELL("echo 'x'");
    SHELL("ls *.csv");
    SHELL("a && b");
    SHELL("a; b");
    SHELL("a | b");
    SHELL("a > out");
    SHELL("a\nb");
    SHELL("a\tb");
    SHELL("echo ~");
    SHELL("X=1 env");
    SHELL("cd data");
    SHELL("exit 3");
    SHELL("export A");
    SHELL("if");
    SHELL("set -e");
    SHELL(". ./env.sh");
    SHELL(": nothing");
    SHELL("");
    SHELL("   ");
    SHELL("echo a\\ b");
    SHELL("echo $(id)");
    SHELL("echo #comment");
    SHELL("f() { :; }");
}

static void test_env(void)
{
    char *base[] = {"A=1", "B=2", "A=shadowed", "junk", NULL};
    kiln_env e = KILN_ENV_INIT, f = KILN_ENV_INIT;
    char **v;

    kiln_env_borrow(&e, base);
    kiln_env_set(&e, "B", "3");
    kiln_env_set(&e, "C", "4");
    v = kiln_env_vector(&e);
    ASSERT_STREQ(v[0], "A=1");
    ASSERT_STREQ(v[1], "B=3");
    ASSERT_STREQ(v[2], "C=4");
    ASSERT_NULL(v[3]);
    /* A second environment borrows the first's strings. */
    kiln_env_borrow(&f, kiln_env_vector(&e));
    kiln_env_set(&f, "A", "x");
    kiln_env_set(&f, "AB", "y");
    v = kiln_env_vector(&f);
    ASSERT_STREQ(v[0], "A=x");
    ASSERT_STREQ(v[1], "B=3");
    ASSERT_STREQ(v[3], "AB=y");
    ASSERT_STREQ(kiln_env_vector(&e)[0], "A=1");
    kiln_env_dispose(&f);
    kiln_env_dispose(&e);
    v = kiln_env_vector(&e);
    ASSERT_NULL(v[0]);
    kiln_env_dispose(&e);
}

/* Run argv with stdout in a buffer; returns the exit status. */
static int run_argv(char **argv, kiln_buf *out)
{
    char path[] = "/tmp/kiln-test-command.XXXXXX";
    int fd = mkstemp(path), status;
    char *text = NULL;
    size_t len = 0;
    kiln_err err = KILN_ERR_INIT;
    pid_t pid;

    ASSERT(fd >= 0);
    if ((pid = fork()) == 0) {
        dup2(fd, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    ASSERT(waitpid(pid, &status, 0) == pid);
    close(fd);
    ASSERT_EQ_INT(kiln_read_file(&text, &len, path, 1 << 20, &err), 0);
    kiln_buf_add(out, text, len);
    free(text);
    unlink(path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A step with checks: kiln validate-step, after run: when it succeeded;
 * no argument is ever parsed by the shell. /bin/echo stands in for
 * kiln. */
static void test_validate(void)
{
    const char *file = "/p/it's a \"pipe\" $HOME.yaml";
    kiln_buf out = KILN_BUF_INIT;
    char **argv;

    argv = kiln_command_validate_argv("/bin/echo", NULL, file, "check");
    ASSERT_STREQ(argv[0], "/bin/echo");
    ASSERT_STREQ(argv[1], "validate-step");
    ASSERT_STREQ(argv[2], file);
    ASSERT_STREQ(argv[3], "check");
    ASSERT_NULL(argv[4]);
    free(argv);

    argv = kiln_command_validate_argv("/bin/echo", "echo \"run $1\"; exit 0",
                                      file, "check");
    ASSERT_EQ_INT(run_argv(argv, &out), 0);
    ASSERT_STREQ(kiln_buf_cstr(&out), "run \nvalidate-step /p/it's a "
                 "\"pipe\" $HOME.yaml check\n");
    free(argv);

    /* A failing command: no checks, its status. */
    kiln_buf_clear(&out);
    argv = kiln_command_validate_argv("/bin/echo", "echo ran; exit 3", file,
                                      "check");
    ASSERT_EQ_INT(run_argv(argv, &out), 3);
    ASSERT_STREQ(kiln_buf_cstr(&out), "ran\n");
    free(argv);
    kiln_buf_dispose(&out);
}

int main(void)
{
    RUN_TEST(test_direct);
    RUN_TEST(test_shell);
    RUN_TEST(test_env);
    RUN_TEST(test_validate);
    return 0;
}
