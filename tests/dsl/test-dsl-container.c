/*
 * test-dsl-container.c: image: and container: in the model.
 *
 * What a step ends up with from its own keys and defaults: (an image
 * replaces the other, a container: block the other whole, image: "" turns
 * the defaults' off), positions, the built-in settings, and image
 * references the syntax check takes and refuses.
 */
#include "dsl/dsl.h"
#include "kiln_test.h"

#include <stdlib.h>
#include <string.h>

static kiln_pipeline *load(const char *yaml)
{
    kiln_pipeline *p = NULL;
    kiln_diag diag = KILN_DIAG_INIT;
    if (kiln_dsl_load_buffer(&p, "c.yaml", "/", yaml, strlen(yaml),
                             &diag) != 0) {
        kiln_diag_print(&diag);
        ASSERT(!"load failed");
    }
    kiln_diag_dispose(&diag);
    return p;
}

/* The printed errors of loading yaml, which must fail. */
static char *errors_of(const char *yaml)
{
    kiln_pipeline *p = NULL;
    kiln_diag diag = KILN_DIAG_INIT;
    kiln_buf out = KILN_BUF_INIT;
    ASSERT_EQ_INT(kiln_dsl_load_buffer(&p, "c.yaml", "/", yaml,
                                       strlen(yaml), &diag), KILN_EINVAL);
    ASSERT_NULL(p);
    kiln_diag_format(&diag, &out);
    kiln_diag_dispose(&diag);
    return kiln_buf_detach(&out);
}

static const kiln_container *container_of(const kiln_pipeline *p,
                                          const char *name)
{
    ssize_t i = kiln_pipeline_find_step(p, name);
    ASSERT_LE_INT(0, i);
    return p->steps[i].container;
}

static void test_defaults(void)
{
    kiln_pipeline *p = load(
        "pipeline: c\n"                                        /* 1 */
        "defaults:\n"                                          /* 2 */
        "  image: registry.example.com:5000/team/img:1.2\n"    /* 3 */
        "  container:\n"                                       /* 4 */
        "    engine: docker\n"                                 /* 5 */
        "    mounts: [data:/data:ro, /srv/x:/x]\n"             /* 6 */
        "    gpus: 2\n"                                        /* 7 */
        "steps:\n"                                             /* 8 */
        "  a: {run: \"true\"}\n"                               /* 9 */
        "  b: {run: \"true\"}\n"                               /* 10 */
        "  own_image: {run: \"true\", image: \"py:3\"}\n"      /* 11 */
        "  own_block:\n"                                       /* 12 */
        "    container: {network: none, options: [--init]}\n"  /* 13 */
        "    run: \"true\"\n"                                  /* 14 */
        "  host: {run: \"true\", image: \"\"}\n"               /* 15 */
        "  host2: {run: \"true\", image: null}\n"              /* 16 */
        "  both:\n"                                            /* 17 */
        "    container:\n"                                     /* 18 */
        "    image: localhost/kiln-test:py\n"                  /* 19 */
        "    run: \"true\"\n");                                /* 20 */
    const kiln_container *a = container_of(p, "a"), *c;

    /* Both from defaults: shared. */
    ASSERT_NOT_NULL(a);
    ASSERT(container_of(p, "b") == a);
    ASSERT_STREQ(a->image, "registry.example.com:5000/team/img:1.2");
    ASSERT_STREQ(a->engine, "docker");
    ASSERT_STREQ(a->pull, "missing");
    ASSERT_STREQ(a->network, "default");
    ASSERT_EQ_INT(a->mounts.n, 2);
    ASSERT_STREQ(a->mounts.items[0], "data:/data:ro");
    ASSERT_STREQ(a->mounts.items[1], "/srv/x:/x");
    ASSERT_EQ_INT(a->mounts.pos[1].line, 6);
    ASSERT_EQ_INT(a->mounts.pos[1].col, 29);
    ASSERT_STREQ(a->gpus, "2");
    ASSERT_EQ_INT(a->options.n, 0);
    ASSERT_STREQ(a->pos.file, "c.yaml");
    ASSERT_EQ_INT(a->pos.line, 3);
    ASSERT_EQ_INT(a->pos.col, 3);

    /* The step's image, the defaults' block. */
    c = container_of(p, "own_image");
    ASSERT(c && c != a);
    ASSERT_STREQ(c->image, "py:3");
    ASSERT_STREQ(c->engine, "docker");
    ASSERT_EQ_INT(c->mounts.n, 2);
    ASSERT_EQ_INT(c->pos.line, 11);
    ASSERT_EQ_INT(c->pos.col, 28);

    /* The step's block replaces the defaults' whole. */
    c = container_of(p, "own_block");
    ASSERT_NOT_NULL(c);
    ASSERT_STREQ(c->image, a->image);
    ASSERT_EQ_INT(c->pos.line, 3);
    ASSERT_STREQ(c->engine, "podman");
    ASSERT_STREQ(c->network, "none");
    ASSERT_EQ_INT(c->mounts.n, 0);
    ASSERT_NULL(c->gpus);
    ASSERT_EQ_INT(c->options.n, 1);
    ASSERT_STREQ(c->options.items[0], "--init");

    /* image: "" and null turn the defaults' off. */
    ASSERT_NULL(container_of(p, "host"));
    ASSERT_NULL(container_of(p, "host2"));

    /* container: null is the built-in settings; keys in any order. */
    c = container_of(p, "both");
    ASSERT_NOT_NULL(c);
    ASSERT_STREQ(c->image, "localhost/kiln-test:py");
    ASSERT_STREQ(c->engine, "podman");
    ASSERT_STREQ(c->pull, "missing");
    ASSERT_STREQ(c->network, "default");
    ASSERT_EQ_INT(c->mounts.n, 0);
    ASSERT_EQ_INT(c->pos.line, 19);
    kiln_pipeline_free(p);
}

static void test_no_defaults(void)
{
    kiln_pipeline *p = load(
        "pipeline: c\n"
        "steps:\n"
        "  host: {run: \"true\"}\n"
        "  box:\n"
        "    image: python@sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
        "    container: {pull: always, gpus: all, options: [\"--shm-size=1g\","
        " -q]}\n"
        "    run: \"true\"\n"
        "  check:\n"
        "    kind: validate\n"
        "    data: x.csv\n"
        "  check_run:\n"
        "    kind: validate\n"
        "    run: ./prepare.sh\n"
        "    image: python:3\n");
    const kiln_container *c = container_of(p, "box");
    ASSERT_NULL(container_of(p, "host"));
    ASSERT_NULL(container_of(p, "check"));
    ASSERT_NOT_NULL(c);
    ASSERT_STREQ(c->pull, "always");
    ASSERT_STREQ(c->gpus, "all");
    ASSERT_EQ_INT(c->options.n, 2);
    ASSERT_STREQ(c->options.items[1], "-q");
    /* A validate step without checks runs its command like any step. */
    ASSERT_NOT_NULL(container_of(p, "check_run"));
    kiln_pipeline_free(p);
}

/* A pipeline whose only step has image: ref. */
static char *with_image(const char *ref)
{
    kiln_buf b = KILN_BUF_INIT;
    kiln_buf_printf(&b, "pipeline: c\nsteps:\n  a:\n    run: \"true\"\n"
                    "    image: '%s'\n", ref);
    return kiln_buf_detach(&b);
}

static void test_references(void)
{
    static const char *const good[] = {
        "python",
        "python:3.12",
        "python:3.12-slim_bookworm",
        "library/python:latest",
        "docker.io/library/python:3",
        "registry.example.com:5000/team/img:1.2",
        "localhost/kiln-test:py",
        "localhost:5000/a/b/c",
        "localhost",
        "my-org/my__img.v2",
        "a--b/c_d.e:_tag",
        "Registry.Example.com/img", /* a registry's case is free */
        "python@sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "python:3@sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "3",
    };
    static const struct {
        const char *ref, *msg;
    } bad[] = {
        {"py thon", "holds no spaces or control characters"},
        {"python\\t", "unexpected character \"\\\""},
        {"py$", "unexpected character \"$\""},
        {"pythön", "is ASCII letters, digits"},
        {"Python", "repository names are lowercase"},
        {"org/Img:1", "repository names are lowercase"},
        {"ghcr.io/Org/img", "repository names are lowercase"},
        {"python@sha256:abc", "a digest is \"sha256:\" and 64"},
        {"python@sha256:"
         "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
         "a digest is"},
        {"python@md5:0123", "a digest is"},
        {"python@", "a digest is"},
        {"python:", "a tag is letters"},
        {"python:-x", "a tag is letters"},
        {"python:3:4", "a tag is letters"},
        {":3", "has no image name"},
        {"@sha256:"
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
         "has no image name"},
        {"reg.example.com:x/img", "invalid registry"},
        {"-reg.io/img", "invalid registry"},
        {"a//b", "an empty name component"},
        {"a/", "an empty name component"},
        {"/a", "an empty name component"},
        {"a..b", "invalid name component \"a..b\""},
        {"a___b", "invalid name component"},
        {"a-", "invalid name component"},
        {"_a", "invalid name component"},
    };
    for (size_t i = 0; i < KILN_ARRAY_SIZE(good); i++) {
        char *yaml = with_image(good[i]);
        kiln_pipeline *p = load(yaml);
        ASSERT_STREQ(p->steps[0].container->image, good[i]);
        kiln_pipeline_free(p);
        free(yaml);
    }
    for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++) {
        char *yaml = with_image(bad[i].ref), *err = errors_of(yaml);
        if (!strstr(err, bad[i].msg) || strncmp(err, "c.yaml:5:12: ", 13) ||
            strchr(err, '\n') != err + strlen(err) - 1) {
            fprintf(stderr, "image '%s': expected one error with [%s] at "
                    "5:12, got:\n%s", bad[i].ref, bad[i].msg, err);
            ASSERT(!"wrong error");
        }
        free(err);
        free(yaml);
    }
}

int main(void)
{
    RUN_TEST(test_defaults);
    RUN_TEST(test_no_defaults);
    RUN_TEST(test_references);
    return 0;
}
