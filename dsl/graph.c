/*
 * graph.c: phase 3, the needs: graph.
 *
 * Resolves each step's needs into need_idx, reports needs that name no step,
 * the step itself or a step twice, then orders the steps with Kahn's
 * algorithm. Among the steps ready at once, the earliest in the file goes
 * first (a min-heap on the file index), so the order is stable and
 * predictable. Steps left over sit on or behind a cycle: Tarjan's algorithm
 * groups them into strongly connected components and each component with a
 * cycle gets exactly one error, showing its shortest cycle through its
 * first step in the file. Everything is iterative and linear, so a file
 * with 100,000 steps or a chain 100,000 deep costs no stack.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define NONE ((size_t)-1)
#define CYCLE_SHOW 8 /* steps named in a cycle message before "..." */

typedef struct graph {
    kiln_dsl_ctx *c;
    kiln_pipeline *p;
    size_t n;
    size_t *off;   /* needs of step i: need[off[i]] .. need[off[i + 1]] */
    size_t *need;  /* resolved, valid edges only */
} graph;

/* Resolve every step's needs; fill need_idx and g's edge arrays. */
static void resolve(graph *g)
{
    kiln_pipeline *p = g->p;
    const char **names = kiln_malloc(g->n * sizeof(*names));
    size_t *mark = kiln_calloc(g->n, sizeof(*mark));
    char q[KILN_DSL_QUOTE_SIZE], qs[KILN_DSL_QUOTE_SIZE];
    kiln_strmap idx;
    size_t i, j, e = 0, total = 0, *all;

    kiln_dsl__strmap_init(&idx, g->n);
    for (i = 0; i < g->n; i++) {
        names[i] = p->steps[i].name;
        kiln_dsl__strmap_set(&idx, names[i], strlen(names[i]), i);
        total += p->steps[i].needs.n;
    }
    g->off = kiln_malloc((g->n + 1) * sizeof(*g->off));
    g->need = kiln_malloc((total ? total : 1) * sizeof(*g->need));
    /* Every step's need_idx, one slice each of one block. */
    all = kiln_arena_alloc(p->arena, (total ? total : 1) * sizeof(size_t));
    for (i = 0; i < g->n; i++) {
        kiln_step *st = &p->steps[i];
        g->off[i] = e;
        st->need_idx = all;
        all += st->needs.n;
        for (j = 0; j < st->needs.n; j++) {
            const char *name = st->needs.items[j];
            kiln_pos pos = st->needs.pos[j];
            size_t t, len = strlen(name);
            st->need_idx[j] = NONE;
            if (kiln_dsl__strmap_get(&idx, name, len, &t) && t != i &&
                mark[t] != i + 1) {
                mark[t] = i + 1;
                st->need_idx[j] = t;
                g->need[e++] = t;
                continue;
            }
            /* Only errors from here on: quoting is worth it now. */
            kiln_dsl__quote(qs, st->name, strlen(st->name));
            kiln_dsl__quote(q, name, len);
            if (!kiln_dsl__strmap_get(&idx, name, len, &t)) {
                const char *guess = kiln_dsl__suggest(g->c, name, len,
                                                      names, g->n);
                if (guess)
                    kiln_dsl__error(g->c, pos.line, pos.col,
                                    "step %s needs unknown step %s (did "
                                    "you mean \"%s\"?)", qs, q, guess);
                else
                    kiln_dsl__error(g->c, pos.line, pos.col,
                                    "step %s needs unknown step %s", qs, q);
            } else if (t == i) {
                kiln_dsl__error(g->c, pos.line, pos.col,
                                "step %s needs itself", qs);
            } else {
                kiln_dsl__error(g->c, pos.line, pos.col,
                                "step %s needs %s twice", qs, q);
            }
        }
    }
    g->off[g->n] = e;
    kiln_dsl__strmap_dispose(&idx);
    free(mark);
    free(names);
}

/* A binary min-heap of step indexes. */
typedef struct heap {
    size_t *a;
    size_t n;
} heap;

static void heap_push(heap *h, size_t x)
{
    size_t i = h->n++;
    while (i > 0 && h->a[(i - 1) / 2] > x) {
        h->a[i] = h->a[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->a[i] = x;
}

static size_t heap_pop(heap *h)
{
    size_t top = h->a[0], x = h->a[--h->n], i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->a[c + 1] < h->a[c])
            c++;
        if (h->a[c] >= x)
            break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n)
        h->a[i] = x;
    return top;
}

/* Kahn's algorithm into p->topo. Returns how many steps it placed; the
 * rest are on or behind a cycle. */
static size_t order(graph *g)
{
    size_t n = g->n, i, j, placed = 0;
    size_t *indeg = kiln_calloc(n, sizeof(size_t));
    size_t *doff = kiln_calloc(n + 1, sizeof(size_t));
    size_t *dep = kiln_malloc((g->off[n] ? g->off[n] : 1) * sizeof(size_t));
    size_t *fill = kiln_malloc((n ? n : 1) * sizeof(size_t));
    heap h = {kiln_malloc((n ? n : 1) * sizeof(size_t)), 0};

    /* Dependents of each step, in CSR form: dep[doff[t]..doff[t + 1]]. */
    for (i = 0; i < n; i++) {
        indeg[i] = g->off[i + 1] - g->off[i];
        for (j = g->off[i]; j < g->off[i + 1]; j++)
            doff[g->need[j] + 1]++;
    }
    for (i = 0; i < n; i++)
        doff[i + 1] += doff[i];
    memcpy(fill, doff, n * sizeof(size_t));
    for (i = 0; i < n; i++)
        for (j = g->off[i]; j < g->off[i + 1]; j++)
            dep[fill[g->need[j]]++] = i;

    for (i = 0; i < n; i++)
        if (indeg[i] == 0)
            heap_push(&h, i);
    while (h.n) {
        size_t s = heap_pop(&h);
        g->p->topo[placed++] = s;
        for (j = doff[s]; j < doff[s + 1]; j++)
            if (--indeg[dep[j]] == 0)
                heap_push(&h, dep[j]);
    }
    free(indeg);
    free(doff);
    free(dep);
    free(fill);
    free(h.a);
    return placed;
}

/* Scratch space for report_cycle(), allocated once per load. */
typedef struct bfs {
    size_t *parent; /* NONE, or the step that needs this one */
    size_t *queue;
    size_t *path;
} bfs;

/* Append a step name to a cycle message: bare when valid (it usually is;
 * an invalid one was reported already), quoted otherwise. */
static void add_name(kiln_buf *b, const char *name)
{
    char q[KILN_DSL_QUOTE_SIZE];
    if (kiln_dsl_valid_name(name))
        kiln_buf_puts(b, name);
    else
        kiln_buf_puts(b, kiln_dsl__quote(q, name, strlen(name)));
}

/* Report the shortest cycle through s inside component comp[] == id. */
static void report_cycle(graph *g, bfs *w, const size_t *comp, size_t id,
                         size_t s)
{
    size_t head = 0, tail = 0, last = NONE, len = 0, i, j;
    kiln_buf b = KILN_BUF_INIT;

    w->queue[tail++] = s;
    w->parent[s] = s;
    /* Breadth-first along needs until an edge comes back to s. A
     * component of two or more steps always has one. */
    while (head < tail && last == NONE) {
        size_t u = w->queue[head++];
        for (j = g->off[u]; j < g->off[u + 1]; j++) {
            size_t t = g->need[j];
            if (comp[t] != id)
                continue;
            if (t == s) {
                last = u;
                break;
            }
            if (w->parent[t] == NONE) {
                w->parent[t] = u;
                w->queue[tail++] = t;
            }
        }
    }
    /* path runs backwards: s needs path[len - 2], ..., path[0] needs s. */
    for (i = last; i != s; i = w->parent[i])
        w->path[len++] = i;
    w->path[len++] = s;
    for (i = 0; i < tail; i++)
        w->parent[w->queue[i]] = NONE;

    kiln_buf_puts(&b, "dependency cycle: ");
    for (i = len; i > 0; i--) {
        if (len > CYCLE_SHOW && len - i == CYCLE_SHOW - 2) {
            kiln_buf_printf(&b, "... (%zu steps) -> ", len);
            i = 2; /* on to the last step */
            continue;
        }
        add_name(&b, g->p->steps[w->path[i - 1]].name);
        kiln_buf_puts(&b, " -> ");
    }
    add_name(&b, g->p->steps[s].name);
    kiln_dsl__error(g->c, g->p->steps[s].pos.line, g->p->steps[s].pos.col,
                    "%s", kiln_buf_cstr(&b));
    kiln_buf_dispose(&b);
}

/*
 * Tarjan's strongly connected components, iteratively, over the steps not
 * in topo[0..placed). Reports one cycle per component of two or more
 * steps (a step needing itself was reported by resolve()).
 */
static void find_cycles(graph *g, size_t placed)
{
    size_t n = g->n, i, counter = 0, n_comp = 0, sp = 0, cp;
    size_t *index = kiln_malloc(n * sizeof(size_t));
    size_t *low = kiln_malloc(n * sizeof(size_t));
    size_t *comp = kiln_malloc(n * sizeof(size_t));
    size_t *stack = kiln_malloc(n * sizeof(size_t));
    size_t *calls = kiln_malloc(n * sizeof(size_t)); /* DFS path */
    size_t *edge = kiln_malloc(n * sizeof(size_t));  /* next edge to try */
    bool *on = kiln_calloc(n, sizeof(bool));
    bfs w;

    w.parent = kiln_malloc(n * sizeof(size_t));
    w.queue = kiln_malloc(n * sizeof(size_t));
    w.path = kiln_malloc(n * sizeof(size_t));
    for (i = 0; i < n; i++) {
        index[i] = NONE;
        comp[i] = NONE;
        w.parent[i] = NONE;
    }
    /* Placed steps cannot be on a cycle: mark them done. */
    for (i = 0; i < placed; i++) {
        index[g->p->topo[i]] = 0;
        comp[g->p->topo[i]] = NONE - 1;
    }
    for (i = 0; i < n; i++) {
        if (index[i] != NONE)
            continue;
        cp = 0;
        calls[cp++] = i;
        index[i] = low[i] = counter++;
        edge[i] = g->off[i];
        stack[sp++] = i;
        on[i] = true;
        while (cp) {
            size_t u = calls[cp - 1];
            if (edge[u] < g->off[u + 1]) {
                size_t t = g->need[edge[u]++];
                if (index[t] == NONE) {
                    index[t] = low[t] = counter++;
                    edge[t] = g->off[t];
                    stack[sp++] = t;
                    on[t] = true;
                    calls[cp++] = t;
                } else if (on[t] && index[t] < low[u]) {
                    low[u] = index[t];
                }
                continue;
            }
            cp--;
            if (cp && low[u] < low[calls[cp - 1]])
                low[calls[cp - 1]] = low[u];
            if (low[u] == index[u]) {
                size_t first = u, size = 0, t;
                do {
                    t = stack[--sp];
                    on[t] = false;
                    comp[t] = n_comp;
                    if (t < first)
                        first = t;
                    size++;
                } while (t != u);
                if (size > 1)
                    report_cycle(g, &w, comp, n_comp, first);
                n_comp++;
            }
        }
    }
    free(index);
    free(low);
    free(comp);
    free(stack);
    free(calls);
    free(edge);
    free(on);
    free(w.parent);
    free(w.queue);
    free(w.path);
}

/* Gate references: metrics of a step upstream of the gated one, declared
 * params. */
typedef struct gate_check {
    kiln_dsl_ctx *c;
    kiln_pipeline *p;
    const kiln_step *st;
    bool graph_ok;       /* needs resolved and acyclic */
} gate_check;

/* Is step up among the transitive needs of step down? */
static bool upstream(const kiln_pipeline *p, size_t up, size_t down)
{
    bool *seen = kiln_calloc(p->n_steps, sizeof(bool));
    size_t *stack = kiln_malloc(p->n_steps * sizeof(size_t)), n = 0;
    bool found = false;
    stack[n++] = down;
    while (n && !found) {
        const kiln_step *s = &p->steps[stack[--n]];
        for (size_t i = 0; i < s->needs.n; i++) {
            size_t j = s->need_idx[i];
            if (j == up)
                found = true;
            if (j < p->n_steps && !seen[j]) {
                seen[j] = true;
                stack[n++] = j;
            }
        }
    }
    free(seen);
    free(stack);
    return found;
}

static void check_ref(const kiln_expr *ref, void *data)
{
    gate_check *g = data;
    unsigned line = g->st->when_pos.line, col = g->st->when_pos.col +
                    ref->offset;
    if (ref->kind == KILN_EXPR_PARAM) {
        for (size_t i = 0; i < g->p->n_params; i++)
            if (strcmp(g->p->params[i].key, ref->key) == 0)
                return;
        kiln_dsl__error(g->c, line, col, "when: unknown parameter "
                        "\"%s\" (declare it under params:)", ref->key);
        return;
    }
    ssize_t idx = kiln_pipeline_find_step(g->p, ref->step);
    /* metrics.selected.KEY: the item select: picked. */
    if (idx < 0 && strcmp(ref->step, "selected") == 0) {
        if (!g->st->select)
            kiln_dsl__error(g->c, line, col, "when: metrics.selected.%s "
                            "needs select: on step \"%s\"", ref->key,
                            g->st->name);
        return;
    }
    if (idx < 0) {
        const char **names = kiln_malloc((g->p->n_steps + 1) *
                                         sizeof(char *));
        const char *guess;
        for (size_t i = 0; i < g->p->n_steps; i++)
            names[i] = g->p->steps[i].name;
        guess = kiln_dsl__suggest(g->c, ref->step, strlen(ref->step), names,
                                  g->p->n_steps);
        kiln_dsl__error(g->c, line, col, "when: unknown step \"%s\"%s%s%s",
                        ref->step, guess ? " (did you mean \"" : "",
                        guess ? guess : "", guess ? "\"?)" : "");
        free(names);
        return;
    }
    if (g->graph_ok && !upstream(g->p, (size_t)idx,
                                 (size_t)(g->st - g->p->steps)))
        kiln_dsl__error(g->c, line, col, "when: step \"%s\" is not "
                        "upstream of \"%s\", so its metrics are not known "
                        "yet (add it to needs:)", ref->step, g->st->name);
}

static void check_gates(kiln_dsl_ctx *c, kiln_pipeline *p, bool graph_ok)
{
    for (size_t i = 0; i < p->n_steps; i++) {
        gate_check g = {c, p, &p->steps[i], graph_ok};
        kiln_expr_walk(p->steps[i].when_expr, check_ref, &g);
    }
}

void kiln_dsl__graph(kiln_dsl_ctx *c, kiln_pipeline *p)
{
    graph g;
    size_t placed;
    bool ok;

    memset(&g, 0, sizeof(g));
    g.c = c;
    g.p = p;
    g.n = p->n_steps;
    p->topo = kiln_arena_alloc(p->arena, g.n * sizeof(*p->topo));
    size_t errors = c->n_errors;
    resolve(&g);
    placed = order(&g);
    if (placed < g.n)
        find_cycles(&g, placed);
    /* Upstream checks need every need resolved and no cycle. */
    ok = placed == g.n && c->n_errors == errors;
    check_gates(c, p, ok);
    kiln_dsl__io(c, p, ok);
    free(g.off);
    free(g.need);
}
