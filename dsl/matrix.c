/*
 * matrix.c: a matrix step expanded into its items, once every step is
 * read (schema-matrix.c has read the values).
 *
 * The items are the cross product of the params' values, first param
 * outermost, less the combinations an exclude: entry matches, plus the
 * include: entries as in CI matrices: an entry whose matrix params match
 * a combination adds its other keys to it (never changing a matrix
 * value); an entry that matches none is a combination of its own. Each
 * item is an ordinary step in pipeline->steps, in the template's place,
 * named "STEP[p1=v1,p2=v2]" in the matrix's key order, with its values
 * in item_params and "{param}" in its outputs:, inputs: and metrics:
 * replaced by them. A need of the template becomes a need of every item.
 */
#include "schema.h"

#include <stdlib.h>
#include <string.h>

/* Steps a pipeline may have once its matrices are expanded. */
#define MATRIX_TOTAL_CAP 200000

/* One matrix's combinations while they are worked out: keys[k] for
 * k < n_keys, and per combination a value per key (NULL: not set). */
typedef struct combos {
    size_t n_keys;
    const char **keys;        /* the axes' params, then include:'s others */
    kiln_pos *key_pos;
    size_t n, cap;
    const char **vals;        /* n * n_keys */
} combos;

static const char **combo_at(combos *c, size_t i)
{
    return &c->vals[i * c->n_keys];
}

static const char **combo_add(combos *c)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 16;
        c->vals = kiln_realloc(c->vals, c->cap * c->n_keys * sizeof(char *));
    }
    memset(&c->vals[c->n * c->n_keys], 0, c->n_keys * sizeof(char *));
    return combo_at(c, c->n++);
}

static size_t key_index(const combos *c, const char *key)
{
    for (size_t k = 0; k < c->n_keys; k++)
        if (strcmp(c->keys[k], key) == 0)
            return k;
    return (size_t)-1;
}

/* Does combination row have every key/value of co? */
static bool matches(const combos *c, const char **row,
                    const kiln_matrix_combo *co)
{
    for (size_t j = 0; j < co->n; j++) {
        size_t k = key_index(c, co->kv[j].key);
        if (k == (size_t)-1 || !row[k] || strcmp(row[k], co->kv[j].value))
            return false;
    }
    return true;
}

/* Work out m's combinations into c. Returns false after an error (too
 * many, none). */
static bool combine(vctx *v, const kiln_matrix *m, combos *c)
{
    char q[KILN_DSL_QUOTE_SIZE];
    double total = 1;
    size_t n_orig, *odo;
    const char **probe;

    memset(c, 0, sizeof(*c));
    c->keys = kiln_malloc((m->n_axes + 1) * sizeof(char *));
    c->key_pos = kiln_malloc((m->n_axes + 1) * sizeof(kiln_pos));
    for (size_t a = 0; a < m->n_axes; a++) {
        c->keys[c->n_keys] = m->axes[a].param;
        c->key_pos[c->n_keys++] = m->axes[a].pos;
        total *= (double)m->axes[a].n_values;
    }
    for (size_t i = 0; i < m->n_include; i++)
        for (size_t j = 0; j < m->include[i].n; j++)
            if (key_index(c, m->include[i].kv[j].key) == (size_t)-1) {
                c->keys = kiln_realloc(c->keys,
                                       (c->n_keys + 1) * sizeof(char *));
                c->key_pos = kiln_realloc(c->key_pos, (c->n_keys + 1) *
                                                          sizeof(kiln_pos));
                c->keys[c->n_keys] = m->include[i].kv[j].key;
                c->key_pos[c->n_keys++] = m->include[i].kv[j].pos;
            }
    kiln_dsl__quote(q, m->step, strlen(m->step));
    if (total > (double)m->max_items) {
        kiln_dsl__error(v->c, m->pos.line, m->pos.col, "the matrix of step "
                        "%s has %.0f items, more than %llu (max_items: "
                        "raises the limit)", q, total,
                        (unsigned long long)m->max_items);
        return false;
    }
    /* The cross product, the first axis outermost. */
    odo = kiln_calloc(m->n_axes + 1, sizeof(size_t));
    probe = kiln_calloc(c->n_keys + 1, sizeof(char *));
    while (m->n_axes > 0) {
        bool out = false;
        size_t a;
        for (a = 0; a < m->n_axes; a++)
            probe[a] = m->axes[a].values[odo[a]];
        /* Kept unless an exclude: entry matches it. */
        for (size_t e = 0; e < m->n_exclude && !out; e++)
            out = matches(c, probe, &m->exclude[e]);
        if (!out)
            memcpy(combo_add(c), probe, m->n_axes * sizeof(char *));
        a = m->n_axes;
        while (a > 0 && ++odo[a - 1] == m->axes[a - 1].n_values)
            odo[--a] = 0;
        if (a == 0)
            break;
    }
    free(probe);
    free(odo);
    /* include:, against the product's combinations only. */
    n_orig = c->n;
    for (size_t i = 0; i < m->n_include; i++) {
        const kiln_matrix_combo *co = &m->include[i];
        bool used = false;
        for (size_t r = 0; r < n_orig; r++) {
            const char **row = combo_at(c, r);
            bool fits = true;
            for (size_t j = 0; j < co->n && fits; j++) {
                size_t k = key_index(c, co->kv[j].key);
                if (k < m->n_axes && strcmp(row[k], co->kv[j].value))
                    fits = false;
            }
            if (!fits)
                continue;
            for (size_t j = 0; j < co->n; j++) {
                size_t k = key_index(c, co->kv[j].key);
                if (k >= m->n_axes)
                    row[k] = co->kv[j].value;
            }
            used = true;
        }
        if (!used) {
            const char **row = combo_add(c);
            for (size_t j = 0; j < co->n; j++)
                row[key_index(c, co->kv[j].key)] = co->kv[j].value;
        }
    }
    if (c->n == 0) {
        kiln_dsl__error(v->c, m->pos.line, m->pos.col, "the matrix of step "
                        "%s is empty: exclude: removes every combination",
                        q);
        return false;
    }
    if (c->n > m->max_items) {
        kiln_dsl__error(v->c, m->pos.line, m->pos.col, "the matrix of step "
                        "%s has %zu items, more than %llu (max_items: "
                        "raises the limit)", q, c->n,
                        (unsigned long long)m->max_items);
        return false;
    }
    return true;
}

static void combos_dispose(combos *c)
{
    free(c->keys);
    free(c->key_pos);
    free(c->vals);
}

/* The end of a "{name}" placeholder starting at s, or NULL. */
static const char *placeholder_end(const char *s)
{
    const char *e = s + 1;
    if (*s != '{' || !((*e >= 'a' && *e <= 'z') || (*e >= 'A' && *e <= 'Z') ||
                       *e == '_'))
        return NULL;
    while ((*e >= 'a' && *e <= 'z') || (*e >= 'A' && *e <= 'Z') ||
           (*e >= '0' && *e <= '9') || *e == '_')
        e++;
    return *e == '}' ? e : NULL;
}

/* Report each placeholder of path (written at pos) that names no key
 * of c. */
static void check_placeholders(vctx *v, const kiln_step *st, const combos *c,
                               const char *path, kiln_pos pos,
                               const char *what)
{
    for (const char *s = path; *s; s++) {
        const char *e = placeholder_end(s);
        bool found = false;
        if (!e)
            continue;
        for (size_t k = 0; k < c->n_keys && !found; k++)
            found = strlen(c->keys[k]) == (size_t)(e - s - 1) &&
                    memcmp(c->keys[k], s + 1, (size_t)(e - s - 1)) == 0;
        if (!found)
            kiln_dsl__error(v->c, pos.line, pos.col, "%s \"%s\" of step "
                            "\"%s\" uses {%.*s}, which is not a param of "
                            "its matrix", what, path, st->name,
                            (int)(e - s - 1), s + 1);
        s = e;
    }
}

/* path with each placeholder replaced by the item's value (or, for a
 * key the item has not, the pipeline's), in the arena. */
static const char *substitute(vctx *v, const char *path, const kiln_step *it)
{
    kiln_buf b = KILN_BUF_INIT;
    const char *out;
    if (!path || !strchr(path, '{'))
        return path;
    for (const char *s = path; *s; s++) {
        const char *e = placeholder_end(s);
        const char *val = NULL;
        size_t len;
        if (!e) {
            kiln_buf_add(&b, s, 1);
            continue;
        }
        len = (size_t)(e - s - 1);
        for (size_t k = 0; k < it->n_item_params && !val; k++)
            if (strlen(it->item_params[k].key) == len &&
                memcmp(it->item_params[k].key, s + 1, len) == 0)
                val = it->item_params[k].value;
        for (size_t k = 0; k < v->p->n_params && !val; k++)
            if (strlen(v->p->params[k].key) == len &&
                memcmp(v->p->params[k].key, s + 1, len) == 0)
                val = v->p->params[k].value;
        kiln_buf_puts(&b, val ? val : "");
        s = e;
    }
    out = kiln_arena_strdup(v->p->arena, kiln_buf_cstr(&b));
    kiln_buf_dispose(&b);
    return out;
}

static kiln_strlist substitute_list(vctx *v, const kiln_strlist *l,
                                    const kiln_step *it)
{
    kiln_strlist r = *l;
    r.items = kiln_arena_alloc(v->p->arena, (l->n + 1) * sizeof(char *));
    for (size_t i = 0; i < l->n; i++)
        r.items[i] = substitute(v, l->items[i], it);
    return r;
}

/* The item of template t for combination row, written at out. */
static void make_item(vctx *v, const kiln_step *t, const combos *c,
                      const char **row, kiln_matrix *m, kiln_step *out)
{
    kiln_buf name = KILN_BUF_INIT;
    size_t n = 0;

    *out = *t;
    out->matrix = m;
    out->item_params = kiln_arena_alloc(v->p->arena,
                                        c->n_keys * sizeof(kiln_kv));
    kiln_buf_printf(&name, "%s[", t->name);
    for (size_t k = 0; k < c->n_keys; k++) {
        if (!row[k])
            continue;
        kiln_buf_printf(&name, "%s%s=%s", n ? "," : "", c->keys[k], row[k]);
        out->item_params[n].key = c->keys[k];
        out->item_params[n].value = row[k];
        out->item_params[n].pos = c->key_pos[k];
        n++;
    }
    kiln_buf_puts(&name, "]");
    out->n_item_params = n;
    out->name = kiln_arena_strdup(v->p->arena, kiln_buf_cstr(&name));
    kiln_buf_dispose(&name);
    out->outputs = substitute_list(v, &t->outputs, out);
    out->inputs = substitute_list(v, &t->inputs, out);
    out->metrics = substitute(v, t->metrics, out);
    if (t->reg) {
        out->reg = kiln_arena_alloc(v->p->arena, sizeof(*out->reg));
        *out->reg = *t->reg;
        out->reg->register_path = substitute(v, t->reg->register_path, out);
    }
    /* A step naming its params uses its matrix's too. */
    if (t->has_params) {
        kiln_strlist *l = &out->params;
        const char **items = kiln_arena_alloc(
            v->p->arena, (l->n + n + 1) * sizeof(char *));
        kiln_pos *pos = kiln_arena_alloc(v->p->arena,
                                         (l->n + n + 1) * sizeof(kiln_pos));
        size_t total = l->n;
        memcpy(items, l->items, l->n * sizeof(char *));
        memcpy(pos, l->pos, l->n * sizeof(kiln_pos));
        for (size_t k = 0; k < n; k++) {
            size_t j;
            for (j = 0; j < total; j++)
                if (strcmp(items[j], out->item_params[k].key) == 0)
                    break;
            if (j == total) {
                items[total] = out->item_params[k].key;
                pos[total++] = out->item_params[k].pos;
            }
        }
        l->items = items;
        l->pos = pos;
        l->n = total;
    }
}

/* Two items of m writing the same output: reported once per matrix. */
static void check_collisions(vctx *v, const kiln_pipeline *p,
                             const kiln_step *t, const kiln_matrix *m)
{
    kiln_strmap seen;
    kiln_dsl__strmap_init(&seen, m->n_items * t->outputs.n);
    for (size_t i = 0; i < m->n_items; i++) {
        const kiln_step *it = &p->steps[m->first + i];
        for (size_t j = 0; j < it->outputs.n; j++) {
            const char *o = it->outputs.items[j];
            size_t old;
            if (kiln_dsl__strmap_add(&seen, o, strlen(o), i, &old))
                continue;
            kiln_dsl__error(v->c, t->outputs.pos[j].line,
                            t->outputs.pos[j].col, "items \"%s\" and \"%s\" "
                            "of step \"%s\" both write \"%s\" (put the "
                            "matrix's params in the path: {param})",
                            p->steps[m->first + old].name, it->name,
                            t->name, o);
            kiln_dsl__strmap_dispose(&seen);
            return;
        }
    }
    kiln_dsl__strmap_dispose(&seen);
}

/* Needs naming a template name every item instead. */
static void expand_needs(vctx *v, kiln_pipeline *p, const kiln_strmap *tmpl)
{
    for (size_t i = 0; i < p->n_steps; i++) {
        kiln_step *st = &p->steps[i];
        size_t total = 0, m, n = 0;
        bool any = false;
        for (size_t j = 0; j < st->needs.n; j++) {
            const char *nd = st->needs.items[j];
            if (kiln_dsl__strmap_get(tmpl, nd, strlen(nd), &m)) {
                total += p->matrices[m].n_items;
                any = true;
            } else {
                total++;
            }
        }
        if (!any)
            continue;
        const char **items = kiln_arena_alloc(p->arena,
                                              (total + 1) * sizeof(char *));
        kiln_pos *pos = kiln_arena_alloc(p->arena,
                                         (total + 1) * sizeof(kiln_pos));
        for (size_t j = 0; j < st->needs.n; j++) {
            const char *nd = st->needs.items[j];
            if (!kiln_dsl__strmap_get(tmpl, nd, strlen(nd), &m)) {
                items[n] = nd;
                pos[n++] = st->needs.pos[j];
                continue;
            }
            for (size_t k = 0; k < p->matrices[m].n_items; k++) {
                items[n] = p->steps[p->matrices[m].first + k].name;
                pos[n++] = st->needs.pos[j];
            }
        }
        st->needs.items = items;
        st->needs.pos = pos;
        st->needs.n = n;
    }
    (void)v;
}

static void expand(vctx *v)
{
    kiln_pipeline *p = v->p;
    size_t n_m = 0, total = 0, mi = 0, at = 0;
    combos *cs;
    kiln_step *steps;
    kiln_strmap tmpl;
    bool ok = true;

    for (size_t i = 0; i < p->n_steps; i++)
        n_m += p->steps[i].matrix != NULL;
    if (n_m == 0)
        return;
    cs = kiln_calloc(n_m, sizeof(*cs));
    p->matrices = kiln_arena_alloc(p->arena, n_m * sizeof(*p->matrices));
    for (size_t i = 0; i < p->n_steps; i++) {
        const kiln_step *t = &p->steps[i];
        if (!t->matrix) {
            total++;
            continue;
        }
        p->matrices[mi] = *t->matrix;
        p->matrices[mi].index = mi;
        if (!combine(v, t->matrix, &cs[mi])) {
            ok = false;
        } else {
            for (size_t j = 0; j < t->outputs.n; j++)
                check_placeholders(v, t, &cs[mi], t->outputs.items[j],
                                   t->outputs.pos[j], "output");
            for (size_t j = 0; j < t->inputs.n; j++)
                check_placeholders(v, t, &cs[mi], t->inputs.items[j],
                                   t->inputs.pos[j], "input");
            if (t->metrics)
                check_placeholders(v, t, &cs[mi], t->metrics, t->pos,
                                   "metrics file");
        }
        total += cs[mi].n;
        mi++;
    }
    p->n_matrices = n_m;
    if (ok && total > MATRIX_TOTAL_CAP) {
        kiln_dsl__error(v->c, p->matrices[n_m - 1].pos.line,
                        p->matrices[n_m - 1].pos.col, "the pipeline has "
                        "%zu steps once its matrices are expanded, more "
                        "than %d", total, MATRIX_TOTAL_CAP);
        ok = false;
    }
    if (!ok || v->c->n_errors) {
        /* The items are not worth checking further: keep the templates. */
        for (size_t i = 0; i < n_m; i++)
            combos_dispose(&cs[i]);
        free(cs);
        p->n_matrices = 0;
        return;
    }
    steps = kiln_arena_alloc(p->arena, total * sizeof(*steps));
    kiln_dsl__strmap_init(&tmpl, n_m);
    mi = 0;
    for (size_t i = 0; i < p->n_steps; i++) {
        const kiln_step *t = &p->steps[i];
        kiln_matrix *m;
        if (!t->matrix) {
            steps[at++] = *t;
            continue;
        }
        m = &p->matrices[mi];
        m->first = at;
        m->n_items = cs[mi].n;
        kiln_dsl__strmap_set(&tmpl, t->name, strlen(t->name), mi);
        for (size_t r = 0, said = 0; r < cs[mi].n; r++) {
            const char *name;
            make_item(v, t, &cs[mi], combo_at(&cs[mi], r), m, &steps[at++]);
            name = steps[at - 1].name;
            if (strlen(name) > KILN_DSL_MAX_ITEM_NAME && !said++) {
                kiln_dsl__error(v->c, m->pos.line, m->pos.col, "step \"%s\": "
                                "the name of item %.60s... is %zu "
                                "characters, at most %d (its log files are "
                                "named by it): use shorter values or "
                                "fewer params", t->name, name, strlen(name),
                                KILN_DSL_MAX_ITEM_NAME);
            }
        }
        mi++;
    }
    /* Collisions are reported at the template's outputs. */
    mi = 0;
    for (size_t i = 0; i < p->n_steps; i++)
        if (p->steps[i].matrix)
            check_collisions(v, &(kiln_pipeline){.steps = steps},
                             &p->steps[i], &p->matrices[mi++]);
    p->steps = steps;
    p->n_steps = total;
    expand_needs(v, p, &tmpl);
    kiln_dsl__strmap_dispose(&tmpl);
    for (size_t i = 0; i < n_m; i++)
        combos_dispose(&cs[i]);
    free(cs);
}

/* Each select: names a matrix step the step needs. */
static void resolve_selects(vctx *v)
{
    kiln_pipeline *p = v->p;
    bool clean = v->c->n_errors == 0;
    for (size_t i = 0; i < p->n_steps; i++) {
        kiln_step *st = &p->steps[i];
        kiln_select *sel = (kiln_select *)st->select;
        const kiln_matrix *m = NULL;
        bool needs = false;
        if (!sel || sel->matrix)
            continue; /* none, or an item's, shared and done */
        for (size_t j = 0; j < p->n_matrices && !m; j++)
            if (strcmp(p->matrices[j].step, sel->from) == 0)
                m = &p->matrices[j];
        if (!m) {
            if (clean)
                kiln_dsl__error(v->c, sel->pos.line, sel->pos.col, "select: "
                                "\"%s\" is not a matrix step (select: picks "
                                "the best of a matrix step's items)",
                                sel->from);
            continue;
        }
        for (size_t j = 0; j < st->needs.n && !needs; j++)
            needs = strcmp(st->needs.items[j], p->steps[m->first].name) == 0;
        if (!needs) {
            kiln_dsl__error(v->c, sel->pos.line, sel->pos.col, "step \"%s\" "
                            "selects from \"%s\" but does not need it (add "
                            "it to needs:)", st->name, sel->from);
            continue;
        }
        sel->matrix = m;
    }
}

void kiln_dsl__matrix_expand(vctx *v)
{
    expand(v);
    resolve_selects(v);
}
