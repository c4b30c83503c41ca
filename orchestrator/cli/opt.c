/* opt.c: parsing a command line by a table of options, and printing the
 * table as a usage line and --help. */
#include "opt.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define WIDTH 80     /* wrap --help and usage lines before this column */
#define HELP_COL 26  /* where options' help starts, at the most */

/* Every command's -h, --help. */
static const kiln_opt help_opt = {
    .kind = KILN_OPT_KIND_SWITCH, .short_name = 'h', .name = "help",
    .help = "print this help",
};

static void *field(const kiln_opt *spec, void *opts)
{
    return (char *)opts + spec->offset;
}

static bool takes_value(const kiln_opt *spec)
{
    return spec->kind != KILN_OPT_KIND_SWITCH;
}

static bool is_option(const kiln_opt *spec)
{
    return spec->kind != KILN_OPT_KIND_ARG && spec->kind != KILN_OPT_KIND_ARGS;
}

/* "psi|js|ks" as "psi, js or ks". */
static void choices_text(char *buf, size_t size, const char *choices)
{
    size_t n = 0, k = 0;
    const char *p;
    for (p = choices; *p; p++)
        n += *p == '|';
    buf[0] = '\0';
    for (p = choices; *p; k++) {
        size_t len = strcspn(p, "|"), used = strlen(buf);
        snprintf(buf + used, size - used, "%s%.*s",
                 k == 0 ? "" : k == n ? " or " : ", ", (int)len, p);
        p += len + (p[len] == '|');
    }
}

static int parse_long(long *out, const char *text)
{
    char *end;
    errno = 0;
    *out = strtol(text, &end, 10);
    return errno || end == text || *end ? -1 : 0;
}

/* Store text as spec's value. */
static int set_value(const kiln_opt *spec, void *opts, char *text,
                     kiln_err *err)
{
    void *dst = field(spec, opts);
    switch (spec->kind) {
    case KILN_OPT_KIND_INT: {
        long v;
        if (parse_long(&v, text) == 0 && v >= spec->min && v <= spec->max) {
            *(long *)dst = v;
            return 0;
        }
        if (spec->max == INT_MAX && spec->min == 1)
            return kiln_err_set(err, KILN_EINVAL, "--%s expects a positive "
                                "number, got \"%s\"", spec->name, text);
        return kiln_err_set(err, KILN_EINVAL, "--%s expects %ld to %ld, got "
                            "\"%s\"", spec->name, spec->min, spec->max, text);
    }
    case KILN_OPT_KIND_CHOICE: {
        size_t len = strlen(text);
        char list[256];
        for (const char *p = spec->value_name; *p;) {
            size_t n = strcspn(p, "|");
            if (n == len && strncmp(p, text, len) == 0) {
                *(const char **)dst = text;
                return 0;
            }
            p += n + (p[n] == '|');
        }
        choices_text(list, sizeof(list), spec->value_name);
        return kiln_err_set(err, KILN_EINVAL, "--%s expects %s, got \"%s\"",
                            spec->name, list, text);
    }
    case KILN_OPT_KIND_LIST:
    case KILN_OPT_KIND_ARGS: {
        kiln_opt_list *list = dst;
        char *item;
        list->items = kiln_realloc(list->items, (list->n + 1) * spec->size);
        item = (char *)list->items + list->n * spec->size;
        memset(item, 0, spec->size);
        if (!spec->parse)
            *(char **)item = text;
        else if (spec->parse(item, text, spec, err) != 0)
            return KILN_EINVAL;
        list->n++;
        return 0;
    }
    default:
        if (spec->parse)
            return spec->parse(dst, text, spec, err) == 0 ? 0 : KILN_EINVAL;
        if ((spec->flags & KILN_OPT_NONEMPTY) && !*text)
            return kiln_err_set(err, KILN_EINVAL, "--%s expects %s, got an "
                                "empty value", spec->name, spec->value_name);
        *(const char **)dst = text;
        return 0;
    }
}

/* The option named name (len bytes of it): the one of that name, else the
 * only one it abbreviates. NULL with err set when none or several. */
static const kiln_opt *find_long(const kiln_opt *specs, const char *name,
                                 size_t len, kiln_err *err)
{
    const kiln_opt *found = NULL;
    char others[256] = "";
    int n = 0;
    for (const kiln_opt *s = specs;; s++) {
        const kiln_opt *o = s->kind == KILN_OPT_KIND_END ? &help_opt : s;
        if (len && is_option(o) && strncmp(o->name, name, len) == 0) {
            if (strlen(o->name) == len)
                return o;
            size_t used = strlen(others);
            snprintf(others + used, sizeof(others) - used, "%s--%s",
                     n ? ", " : "", o->name);
            found = o;
            n++;
        }
        if (s->kind == KILN_OPT_KIND_END)
            break;
    }
    if (n == 1)
        return found;
    if (n == 0)
        kiln_err_set(err, KILN_EINVAL, "unknown option --%.*s", (int)len,
                     name);
    else
        kiln_err_set(err, KILN_EINVAL, "option --%.*s is ambiguous (%s)",
                     (int)len, name, others);
    return NULL;
}

static const kiln_opt *find_short(const kiln_opt *specs, char c)
{
    for (const kiln_opt *s = specs; s->kind != KILN_OPT_KIND_END; s++)
        if (is_option(s) && s->short_name == c)
            return s;
    return c == help_opt.short_name ? &help_opt : NULL;
}

/* Apply option spec, given as arg ("--jobs", "-j"), to opts. Its value is
 * inline (--jobs=4, -j4) or the next argument, taken by *i. */
static int apply(const kiln_opt *spec, void *opts, const char *arg,
                 char *inline_value, int argc, char **argv, int *i,
                 kiln_err *err)
{
    char *value = inline_value;
    if (spec == &help_opt)
        return KILN_OPT_HELP;
    if (!takes_value(spec)) {
        if (value)
            return kiln_err_set(err, KILN_EINVAL, "option %s takes no value",
                                arg);
        *(bool *)field(spec, opts) = !(spec->flags & KILN_OPT_CLEARS);
        return 0;
    }
    if (!value) {
        if (*i + 1 >= argc)
            return kiln_err_set(err, KILN_EINVAL, "option %s needs a value "
                                "(%s)", arg, spec->value_name);
        value = argv[++*i];
    }
    return set_value(spec, opts, value, err);
}

static bool required_arg(const kiln_opt *s)
{
    return (s->kind == KILN_OPT_KIND_ARG && !(s->flags & KILN_OPT_OPTIONAL)) ||
           (s->kind == KILN_OPT_KIND_ARGS && s->min > 0);
}

/* "FILE", "RUN and STEP", "at least one PATH (a pipeline file or a
 * directory)": the required arguments from first on. */
static void missing_args(char *buf, size_t size, const kiln_opt *first)
{
    const kiln_opt *s;
    size_t n = 0, k = 0;
    for (s = first; s->kind != KILN_OPT_KIND_END; s++)
        n += required_arg(s);
    buf[0] = '\0';
    for (s = first; s->kind != KILN_OPT_KIND_END; s++) {
        size_t used = strlen(buf);
        bool why = n == 1 && s->help;
        if (!required_arg(s))
            continue;
        snprintf(buf + used, size - used, "%s%s%s%s%s%s",
                 k == 0 ? "" : k + 1 == n ? " and " : ", ",
                 s->kind == KILN_OPT_KIND_ARGS ? "at least one " : "",
                 s->name, why ? " (" : "", why ? s->help : "",
                 why ? ")" : "");
        k++;
    }
}

/* Hand the arguments (pos, n of them) to the ARG and ARGS rows. */
static int assign_args(const kiln_opt *specs, void *opts, char **pos,
                       size_t n, kiln_err *err)
{
    size_t next = 0;
    for (const kiln_opt *s = specs; s->kind != KILN_OPT_KIND_END; s++) {
        if (s->kind == KILN_OPT_KIND_ARG) {
            if (next == n && !(s->flags & KILN_OPT_OPTIONAL)) {
                char what[256];
                missing_args(what, sizeof(what), s);
                return kiln_err_set(err, KILN_EINVAL, "expected %s", what);
            }
            if (next < n && set_value(s, opts, pos[next++], err) != 0)
                return KILN_EINVAL;
        } else if (s->kind == KILN_OPT_KIND_ARGS) {
            if (n - next < (size_t)s->min) {
                char what[256];
                missing_args(what, sizeof(what), s);
                return kiln_err_set(err, KILN_EINVAL, "expected %s", what);
            }
            while (next < n)
                if (set_value(s, opts, pos[next++], err) != 0)
                    return KILN_EINVAL;
        }
    }
    if (next < n)
        return kiln_err_set(err, KILN_EINVAL, "unexpected argument \"%s\"",
                            pos[next]);
    return 0;
}

/* Options with KILN_OPT_REQUIRED that have no value: "expected --reference
 * and --current". */
static int check_required(const kiln_opt *specs, void *opts, kiln_err *err)
{
    char what[256] = "";
    size_t n = 0, k = 0;
    const kiln_opt *s;
    for (s = specs; s->kind != KILN_OPT_KIND_END; s++)
        n += (s->flags & KILN_OPT_REQUIRED) &&
             !*(const char **)field(s, opts);
    if (n == 0)
        return 0;
    for (s = specs; s->kind != KILN_OPT_KIND_END; s++) {
        size_t used = strlen(what);
        if (!(s->flags & KILN_OPT_REQUIRED) || *(const char **)field(s, opts))
            continue;
        snprintf(what + used, sizeof(what) - used, "%s--%s",
                 k == 0 ? "" : k + 1 == n ? " and " : ", ", s->name);
        k++;
    }
    return kiln_err_set(err, KILN_EINVAL, "expected %s", what);
}

int kiln_opt_parse(const kiln_opt *specs, void *opts, int argc, char **argv,
                   kiln_err *err)
{
    char **pos = kiln_calloc((size_t)argc + 1, sizeof(char *));
    size_t n_pos = 0;
    bool literal = false;
    int rc = 0;

    for (const kiln_opt *s = specs; s->kind != KILN_OPT_KIND_END && !rc; s++) {
        if (!s->def)
            continue;
        /* A default is a valid value of an option that takes one; else the
         * table is wrong. */
        assert(is_option(s) && takes_value(s));
        rc = set_value(s, opts, (char *)s->def, err);
        assert(rc == 0);
    }
    for (int i = 0; i < argc && !rc; i++) {
        char *a = argv[i];
        if (literal || a[0] != '-' || a[1] == '\0') {
            pos[n_pos++] = a;
        } else if (strcmp(a, "--") == 0) {
            literal = true;
        } else if (a[1] == '-') {
            char *name = a + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const kiln_opt *spec = find_long(specs, name, len, err);
            char arg[128];
            if (!spec) {
                rc = KILN_EINVAL;
                break;
            }
            snprintf(arg, sizeof(arg), "--%s", spec->name);
            rc = apply(spec, opts, arg, eq ? eq + 1 : NULL, argc, argv, &i,
                       err);
        } else {
            /* -abc: switches, the last may take a value; -j4 is -j 4. */
            for (char *p = a + 1; *p && !rc; p++) {
                const kiln_opt *spec = find_short(specs, *p);
                char arg[3] = {'-', *p, '\0'};
                if (!spec) {
                    rc = kiln_err_set(err, KILN_EINVAL, "unknown option -%c",
                                      *p);
                    break;
                }
                if (takes_value(spec)) {
                    rc = apply(spec, opts, arg, p[1] ? p + 1 : NULL, argc,
                               argv, &i, err);
                    break;
                }
                rc = apply(spec, opts, arg, NULL, argc, argv, &i, err);
            }
        }
    }
    if (!rc)
        rc = assign_args(specs, opts, pos, n_pos, err);
    if (!rc)
        rc = check_required(specs, opts, err);
    free(pos);
    return rc;
}

void kiln_opt_dispose(const kiln_opt *specs, void *opts)
{
    for (const kiln_opt *s = specs; s->kind != KILN_OPT_KIND_END; s++) {
        if (s->kind == KILN_OPT_KIND_LIST || s->kind == KILN_OPT_KIND_ARGS) {
            kiln_opt_list *list = field(s, opts);
            free(list->items);
            list->items = NULL;
            list->n = 0;
        }
    }
}

/* How a row is written in the usage line: "[--jobs N]", "FILE". */
static void usage_word(char *buf, size_t size, const kiln_opt *s)
{
    bool optional = !(s->flags & KILN_OPT_REQUIRED);
    switch (s->kind) {
    case KILN_OPT_KIND_ARG:
        snprintf(buf, size, s->flags & KILN_OPT_OPTIONAL ? "[%s]" : "%s",
                 s->name);
        break;
    case KILN_OPT_KIND_ARGS:
        /* "diff RUN_A RUN_B": forms the command tells apart itself. */
        snprintf(buf, size, s->min ? "%s%s" : "[%s]%s", s->name,
                 strchr(s->name, ' ') ? "" : "...");
        break;
    default:
        snprintf(buf, size, "%s--%s%s%s%s%s", optional ? "[" : "", s->name,
                 takes_value(s) ? " " : "",
                 takes_value(s) ? s->value_name : "", optional ? "]" : "",
                 s->kind == KILN_OPT_KIND_LIST ? "..." : "");
    }
}

/* Words wrapped at WIDTH, continuation lines indented by indent; col is
 * the column the first word starts at. Returns the column after. */
static size_t put_word(FILE *f, const char *word, size_t len, size_t col,
                       size_t indent, bool first)
{
    if (!first && col + 1 + len >= WIDTH && col > indent) {
        fprintf(f, "\n%*s", (int)indent, "");
        col = indent;
    } else if (!first) {
        fputc(' ', f);
        col++;
    }
    fwrite(word, 1, len, f);
    return col + len;
}

void kiln_opt_usage(FILE *f, const char *prefix, const kiln_opt *specs,
                    const char *suffix)
{
    size_t indent = strlen(prefix), col = indent;
    bool first = true;
    char word[256];

    if (indent > 40)
        indent = 8;
    fputs(prefix, f);
    for (const kiln_opt *s = specs; s->kind != KILN_OPT_KIND_END; s++) {
        usage_word(word, sizeof(word), s);
        col = put_word(f, word, strlen(word), col, indent, first);
        first = false;
    }
    if (suffix)
        col = put_word(f, suffix, strlen(suffix), col, indent, first);
    fputc('\n', f);
}

/* text wrapped into the column from col to WIDTH. */
static void put_wrapped(FILE *f, const char *text, size_t col)
{
    size_t at = col;
    bool first = true;
    while (*text) {
        size_t len = strcspn(text, " ");
        if (len) {
            if (!first && at + 1 + len >= WIDTH) {
                fprintf(f, "\n%*s", (int)col, "");
                at = col;
                first = true;
            }
            if (!first) {
                fputc(' ', f);
                at++;
            }
            fwrite(text, 1, len, f);
            at += len;
            first = false;
        }
        text += len;
        text += strspn(text, " ");
    }
}

/* "-j, --jobs N" or "    --pool NAME=N"; an argument's name. */
static void help_name(char *buf, size_t size, const kiln_opt *s)
{
    if (!is_option(s))
        snprintf(buf, size, "%s", s->name);
    else if (s->short_name)
        snprintf(buf, size, "-%c, --%s%s%s", s->short_name, s->name,
                 takes_value(s) ? " " : "",
                 takes_value(s) ? s->value_name : "");
    else
        snprintf(buf, size, "    --%s%s%s", s->name, takes_value(s) ? " " : "",
                 takes_value(s) ? s->value_name : "");
}

static void help_row(FILE *f, const kiln_opt *s, size_t col)
{
    char name[128], help[1024];
    size_t len;
    help_name(name, sizeof(name), s);
    len = strlen(name);
    fprintf(f, "  %s", name);
    snprintf(help, sizeof(help), "%s%s%s%s%s", s->help ? s->help : "",
             s->kind == KILN_OPT_KIND_LIST ? " (repeatable)" : "",
             s->def ? " (default " : "", s->def ? s->def : "",
             s->def ? ")" : "");
    if (!*help) {
        fputc('\n', f);
        return;
    }
    if (2 + len + 2 > col)
        fprintf(f, "\n%*s", (int)col, "");
    else
        fprintf(f, "%*s", (int)(col - 2 - len), "");
    put_wrapped(f, help, col);
    fputc('\n', f);
}

void kiln_opt_help(FILE *f, const kiln_opt *specs)
{
    size_t col = 0;
    bool args = false;
    char name[128];
    const kiln_opt *s;

    for (s = specs; s->kind != KILN_OPT_KIND_END; s++) {
        size_t len;
        help_name(name, sizeof(name), s);
        len = 2 + strlen(name) + 2;
        if (len <= HELP_COL && len > col)
            col = len;
        args |= !is_option(s) && s->help;
    }
    if (col < 20)
        col = 20;
    if (args) {
        fprintf(f, "Arguments:\n");
        for (s = specs; s->kind != KILN_OPT_KIND_END; s++)
            if (!is_option(s) && s->help)
                help_row(f, s, col);
        fputc('\n', f);
    }
    fprintf(f, "Options:\n");
    for (s = specs; s->kind != KILN_OPT_KIND_END; s++)
        if (is_option(s))
            help_row(f, s, col);
    help_row(f, &help_opt, col);
}

void kiln_opt_list_names(FILE *f, const kiln_opt *specs)
{
    for (const kiln_opt *s = specs;; s++) {
        const kiln_opt *o = s->kind == KILN_OPT_KIND_END ? &help_opt : s;
        const char *v = takes_value(o) ? o->value_name : "";
        if (is_option(o))
            fprintf(f, "--%s%s%s\n", o->name, *v ? " " : "", v);
        if (is_option(o) && o->short_name)
            fprintf(f, "-%c%s%s\n", o->short_name, *v ? " " : "", v);
        if (s->kind == KILN_OPT_KIND_END)
            break;
    }
}
