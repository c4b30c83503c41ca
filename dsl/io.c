/*
 * io.c: phase 3b, the DAG the files imply.
 *
 * A step that reads what another step writes depends on it, whether or
 * not needs: says so. When no path of needs: leads from the writer to
 * the reader, both would start at once and the reader would fail on a
 * file not made yet, or worse, read an old one: that is an error at the
 * input, naming both steps. Paths are compared as the steps see them,
 * each joined to its step's workdir and made canonical without touching
 * the disk: the same file, a file inside a directory another step
 * writes, a directory holding a file another step writes, and globs
 * matching another step's path all count. Each input's writer is kept
 * (kiln_step.input_from) for the CLI, which warns about inputs no step
 * writes and the disk does not have.
 *
 * Two steps writing the same path (as canonical) is an error too, at the
 * later one, unless a path of needs: leads from one to the other (a step
 * updating another's output in place): each step's outputs are hashed
 * when it ends, so a step could record the other's bytes as its own, and
 * the cache give them back as its. The writers of a path must all be in
 * one chain of needs; steps in that chain are in topological order, so
 * each writer is checked against the one before it in that order alone.
 *
 * Exact paths and the directories above an input are looked up in a
 * hash map of every output; only globs and inputs that are directories
 * of outputs scan them all. Whether a writer is upstream is a search
 * backwards from the reader that never goes below the writer's place in
 * the topological order, so a long chain costs a step per input.
 */
#include "internal.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#define NONE ((size_t)-1)

typedef struct io {
    kiln_dsl_ctx *c;
    kiln_pipeline *p;
    size_t *rank;            /* each step's place in p->topo */
    char **out_path;         /* every output, canonical */
    size_t *out_step;        /* ...and the step writing it */
    size_t *out_item;        /* ...and which of its outputs it is */
    size_t *same;            /* the output before it with the same path,
                                or NONE */
    size_t n_out;
    kiln_strmap outs;        /* canonical output -> index in out_path */
    kiln_strmap last;        /* canonical output -> the last output with
                                that path */
    kiln_strmap dirs;        /* each directory above an output -> the
                                output's index */
    size_t *globs;           /* indexes of outputs that are globs */
    size_t n_globs;
    bool *seen;              /* for upstream() */
    size_t *stack;
} io;

static bool has_glob(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* workdir/path as a canonical relative (or absolute) path: "." and
 * empty segments dropped, ".." taking the one before (kept at the
 * start). A trailing "/" is dropped: a directory is its path. */
static char *canonical(const char *workdir, const char *path)
{
    size_t wl = path[0] == '/' ? 0 : strlen(workdir);
    char *joined = kiln_malloc(wl + strlen(path) + 2), *out, *seg, *save;
    size_t n = 0;
    bool abs_path = path[0] == '/' || (wl && workdir[0] == '/');

    memcpy(joined, workdir, wl);
    joined[wl] = '/';
    strcpy(joined + wl + 1, path);
    out = kiln_malloc(strlen(joined) + 2);
    out[0] = '\0';
    for (seg = strtok_r(joined, "/", &save); seg;
         seg = strtok_r(NULL, "/", &save)) {
        if (strcmp(seg, ".") == 0)
            continue;
        if (strcmp(seg, "..") == 0 && n > 0) {
            char *slash = strrchr(out, '/');
            const char *last = slash ? slash + 1 : out;
            if (strcmp(last, "..") != 0) {
                n = slash ? (size_t)(slash - out) : 0;
                out[n] = '\0';
                continue;
            }
        }
        if (n || abs_path)
            out[n++] = '/';
        strcpy(out + n, seg);
        n += strlen(seg);
    }
    if (!n)
        strcpy(out, abs_path ? "/" : ".");
    free(joined);
    return out;
}

/* Is step up among the transitive needs of step down? Steps placed
 * before up in the topological order cannot lead to it: not searched. */
static bool upstream(io *w, size_t up, size_t down)
{
    const kiln_pipeline *p = w->p;
    size_t n = 0, touched = 0;
    bool found = false;

    w->stack[n++] = down;
    while (n && !found) {
        const kiln_step *s = &p->steps[w->stack[--n]];
        for (size_t i = 0; i < s->needs.n && !found; i++) {
            size_t j = s->need_idx[i];
            if (j == up)
                found = true;
            else if (j < p->n_steps && !w->seen[j] &&
                     w->rank[j] > w->rank[up]) {
                w->seen[j] = true;
                w->stack[n++] = j;
                /* Keep the steps marked in the stack's tail to clear. */
                w->stack[p->n_steps + touched++] = j;
            }
        }
    }
    for (size_t i = 0; i < touched; i++)
        w->seen[w->stack[p->n_steps + i]] = false;
    return found;
}

/* The step writing what input in (canonical) reads, or NONE: the
 * output itself, a directory above it, an output inside it, or a glob
 * either way. Not the reader itself. */
static size_t writer_of(io *w, const char *in, size_t reader)
{
    char *dir = kiln_strdup(in), *slash;
    size_t k, len = strlen(in);

    if (kiln_dsl__strmap_get(&w->outs, in, len, &k) &&
        w->out_step[k] != reader)
        goto found;
    /* A file inside a directory a step writes. */
    while ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
        *slash = '\0';
        if (kiln_dsl__strmap_get(&w->outs, dir, strlen(dir), &k) &&
            w->out_step[k] != reader)
            goto found;
    }
    /* A directory holding an output. */
    if (kiln_dsl__strmap_get(&w->dirs, in, len, &k) &&
        w->out_step[k] != reader)
        goto found;
    /* Globs, either way: the only scans. */
    for (k = 0; has_glob(in) && k < w->n_out; k++)
        if (w->out_step[k] != reader &&
            fnmatch(in, w->out_path[k], FNM_PATHNAME) == 0)
            goto found;
    for (size_t g = 0; g < w->n_globs; g++) {
        k = w->globs[g];
        if (w->out_step[k] != reader &&
            fnmatch(w->out_path[k], in, FNM_PATHNAME) == 0)
            goto found;
    }
    free(dir);
    return NONE;
found:
    free(dir);
    return w->out_step[k];
}

/* Index output k: by its path, and by every directory above it (their
 * text lives in the pipeline's arena, as the maps keep pointers). */
static void add_output(io *w, size_t k)
{
    const char *o = w->out_path[k];
    size_t old, len;
    w->same[k] = NONE;
    if (has_glob(o)) {
        w->globs[w->n_globs++] = k;
        return;
    }
    if (kiln_dsl__strmap_get(&w->last, o, strlen(o), &old))
        w->same[k] = old;
    kiln_dsl__strmap_set(&w->last, o, strlen(o), k);
    kiln_dsl__strmap_add(&w->outs, o, strlen(o), k, &old);
    for (len = strlen(o); len > 1; len--) {
        if (o[len - 1] != '/' || len - 1 == 0)
            continue;
        /* o[0 .. len-2] is a directory above o: stop at one known. */
        if (!kiln_dsl__strmap_add(&w->dirs, o, len - 1, k, &old))
            break;
    }
}

typedef struct ranked {
    size_t rank, k;          /* output k's step's place in p->topo */
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return x->k < y->k ? -1 : x->k > y->k;
}

/* The outputs with the same path as output last (the last of them):
 * each writer must need the one before it in topological order, or
 * both may run at once. Two items of one matrix are the matrix's error,
 * said already. */
static void check_writers(io *w, size_t last, ranked *buf)
{
    const kiln_pipeline *p = w->p;
    size_t n = 0;
    for (size_t k = last; k != NONE; k = w->same[k]) {
        buf[n].rank = w->rank[w->out_step[k]];
        buf[n++].k = k;
    }
    qsort(buf, n, sizeof(*buf), cmp_ranked);
    for (size_t i = 1; i < n; i++) {
        size_t up = w->out_step[buf[i - 1].k], down = w->out_step[buf[i].k];
        size_t later = buf[i - 1].k > buf[i].k ? buf[i - 1].k : buf[i].k;
        const kiln_step *s = &p->steps[w->out_step[later]];
        const kiln_step *a = &p->steps[up == w->out_step[later] ? down
                                                                 : up];
        if (up == down || (s->matrix && s->matrix == a->matrix) ||
            upstream(w, up, down))
            continue;
        kiln_dsl__error(w->c, s->outputs.pos[w->out_item[later]].line,
                        s->outputs.pos[w->out_item[later]].col,
                        "step \"%s\" writes \"%s\", which step \"%s\" "
                        "(line %u) writes too, but neither needs the "
                        "other: both would start at once, and each could "
                        "record the other's bytes as its own (add one to "
                        "the other's needs:, or write another path)",
                        s->name, s->outputs.items[w->out_item[later]],
                        a->name, a->pos.line);
        return;
    }
}

void kiln_dsl__io(kiln_dsl_ctx *c, kiln_pipeline *p, bool graph_ok)
{
    io w;
    size_t i, j, total = 0;

    memset(&w, 0, sizeof(w));
    w.c = c;
    w.p = p;
    for (i = 0; i < p->n_steps; i++)
        total += p->steps[i].outputs.n;
    w.out_path = kiln_malloc((total + 1) * sizeof(char *));
    w.out_step = kiln_malloc((total + 1) * sizeof(size_t));
    w.out_item = kiln_malloc((total + 1) * sizeof(size_t));
    w.same = kiln_malloc((total + 1) * sizeof(size_t));
    w.globs = kiln_malloc((total + 1) * sizeof(size_t));
    kiln_dsl__strmap_init(&w.outs, total);
    kiln_dsl__strmap_init(&w.last, total);
    kiln_dsl__strmap_init(&w.dirs, total);
    for (i = 0; i < p->n_steps; i++) {
        const kiln_step *s = &p->steps[i];
        for (j = 0; j < s->outputs.n; j++) {
            char *o = canonical(s->workdir, s->outputs.items[j]);
            w.out_path[w.n_out] = kiln_arena_strdup(p->arena, o);
            w.out_step[w.n_out] = i;
            w.out_item[w.n_out] = j;
            free(o);
            add_output(&w, w.n_out++);
        }
    }
    if (graph_ok) {
        ranked *buf = kiln_malloc((total + 1) * sizeof(*buf));
        w.rank = kiln_malloc((p->n_steps + 1) * sizeof(size_t));
        for (i = 0; i < p->n_steps; i++)
            w.rank[p->topo[i]] = i;
        w.seen = kiln_calloc(p->n_steps + 1, sizeof(bool));
        w.stack = kiln_malloc((2 * p->n_steps + 1) * sizeof(size_t));
        /* Each path written more than once, from its last output. */
        for (size_t k = 0; k < w.n_out; k++) {
            const char *o = w.out_path[k];
            size_t at;
            if (w.same[k] != NONE &&
                kiln_dsl__strmap_get(&w.last, o, strlen(o), &at) && at == k)
                check_writers(&w, k, buf);
        }
        free(buf);
    }
    for (i = 0; i < p->n_steps; i++) {
        kiln_step *s = &p->steps[i];
        /* None for the many steps without inputs. */
        s->input_from = s->inputs.n ? kiln_arena_alloc(p->arena,
                                          s->inputs.n * sizeof(size_t))
                                    : NULL;
        for (j = 0; j < s->inputs.n; j++) {
            char *in = canonical(s->workdir, s->inputs.items[j]);
            size_t from = writer_of(&w, in, i);
            s->input_from[j] = from;
            if (from != NONE && graph_ok && !upstream(&w, from, i)) {
                const kiln_step *a = &p->steps[from];
                kiln_dsl__error(c, s->inputs.pos[j].line,
                                s->inputs.pos[j].col, "step \"%s\" reads "
                                "\"%s\", which step \"%s\" (line %u) "
                                "writes, but does not need \"%s\": both "
                                "would start at once (add it to needs:)",
                                s->name, s->inputs.items[j], a->name,
                                a->pos.line, a->name);
            }
            free(in);
        }
    }
    kiln_dsl__strmap_dispose(&w.outs);
    kiln_dsl__strmap_dispose(&w.last);
    kiln_dsl__strmap_dispose(&w.dirs);
    free(w.globs);
    free(w.out_path);
    free(w.out_step);
    free(w.out_item);
    free(w.same);
    free(w.rank);
    free(w.seen);
    free(w.stack);
}
