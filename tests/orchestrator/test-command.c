/* test-command.c: shell or direct execution; environments. */
#include <stdlib.h>

#include "kiln_test.h"
#include "orchestrator/command.h"
#include "orchestrator/env.h"

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

int main(void)
{
    RUN_TEST(test_direct);
    RUN_TEST(test_shell);
    RUN_TEST(test_env);
    return 0;
}
