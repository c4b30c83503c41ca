/*
 * schema-resources.c: resources: (what a step asks of the machine or the
 * cluster) and slurm: (options only Slurm understands), in defaults: or a
 * step (schema.h).
 */
#include "schema.h"

#include <string.h>

/* resources: cpus, a count from 1 to KILN_DSL_MAX_CPUS. */
static void set_cpus(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                     void *obj, const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    uint64_t n;
    if (kiln_dsl__as_count(val, &n) < 0 || n == 0 ||
        n > KILN_DSL_MAX_CPUS) {
        error_at(v, val, "%s: expected an integer from 1 to %d, got %s",
                 k->name, KILN_DSL_MAX_CPUS, kiln_dsl__describe(got, val));
        return;
    }
    *FIELD(obj, k->off, unsigned) = (unsigned)n;
}

/* resources: gpus, a count from 0 (none) to KILN_DSL_MAX_CPUS. */
static void set_gpus(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                     void *obj, const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    uint64_t n;
    if (kiln_dsl__as_count(val, &n) < 0 || n > KILN_DSL_MAX_CPUS) {
        error_at(v, val, "%s: expected an integer from 0 to %d, got %s",
                 k->name, KILN_DSL_MAX_CPUS, kiln_dsl__describe(got, val));
        return;
    }
    *FIELD(obj, k->off, unsigned) = (unsigned)n;
}

/* resources: mem, in Slurm's spelling: a number of MiB, or a number with
 * K, M, G or T (binary units, an optional B). Stored in MiB, rounded up,
 * so what kiln passes on is what was asked for or a little more. */
static void set_mem(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                    void *obj, const keyspec *k)
{
    char got[KILN_DSL_QUOTE_SIZE];
    uint64_t n = 0, kib;
    uint32_t i = 0, digits;
    int shift = 10; /* KiB per unit, as a shift: MiB by default */

    if (kiln_dsl__is_text(val))
        for (; i < val->n && val->u.str[i] >= '0' && val->u.str[i] <= '9';
             i++)
            n = n > (UINT64_MAX - 9) / 10
                    ? UINT64_MAX
                    : n * 10 + (uint64_t)(val->u.str[i] - '0');
    digits = i;
    if (digits > 0 && i < val->n) {
        switch (val->u.str[i] | 0x20) {
        case 'k': shift = 0; i++; break;
        case 'm': shift = 10; i++; break;
        case 'g': shift = 20; i++; break;
        case 't': shift = 30; i++; break;
        default: break;
        }
        if (i < val->n && (val->u.str[i] | 0x20) == 'b')
            i++;
    }
    if (!kiln_dsl__is_text(val) || digits == 0 || i != val->n || n == 0 ||
        n > (UINT64_MAX >> 40)) {
        error_at(v, val, "%s: expected a size such as 512M or 16G, got %s",
                 k->name, kiln_dsl__describe(got, val));
        return;
    }
    kib = n << shift;
    *FIELD(obj, k->off, uint64_t) = (kib + 1023) / 1024;
}

/* slurm: extra, sbatch options: each must look like one ("-x", "--x"), so
 * that a command or a stray word is caught here and not by sbatch later. */
static void set_sbatch_opts(vctx *v, const kiln_ynode *key,
                            const kiln_ynode *val, void *obj,
                            const keyspec *k)
{
    kiln_strlist *l = FIELD(obj, k->off, kiln_strlist);
    char q[KILN_DSL_QUOTE_SIZE];
    kiln_dsl__set_list(v, val, obj, k, "a list of sbatch options",
                       "an sbatch option such as --constraint=a100");
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i][0] != '-' || l->items[i][1] == '\0')
            kiln_dsl__error(v->c, l->pos[i].line, l->pos[i].col,
                            "%s: %s is not an sbatch option (expected "
                            "something like --constraint=a100)", k->name,
                            kiln_dsl__quote(q, l->items[i],
                                            strlen(l->items[i])));
}

/* resources:; target: kiln_resources. */
static const keyspec resources_keys[] = {
    ROW(kiln_resources, "cpus", set_cpus, cpus),
    ROW(kiln_resources, "mem", set_mem, mem_mb),
    ROW(kiln_resources, "gpus", set_gpus, gpus),
    ROW(kiln_resources, "time", kiln_dsl__set_duration, time_ms),
    ROW(kiln_resources, "partition", kiln_dsl__set_string, partition),
};

/* slurm:; target: kiln_slurm_opts. */
static const keyspec slurm_keys[] = {
    ROW(kiln_slurm_opts, "account", kiln_dsl__set_string, account),
    ROW(kiln_slurm_opts, "qos", kiln_dsl__set_string, qos),
    ROW(kiln_slurm_opts, "extra", set_sbatch_opts, extra),
};

/* Each table fits walk()'s 64-bit mask of the keys seen. */
_Static_assert(KILN_ARRAY_SIZE(resources_keys) <= 64, "too many keys");
_Static_assert(KILN_ARRAY_SIZE(slurm_keys) <= 64, "too many keys");

static const mapspec resources_spec = SPEC(resources_keys, false);
static const mapspec slurm_spec = SPEC(slurm_keys, false);

/* resources: in defaults: or a step; a step's keys override the
 * defaults' one by one. */
/* st's own copy of what it shares with the defaults (shared: the
 * template's), made before a step writes its own keys over it. */
static void *own(vctx *v, const kiln_step *st, const void *shared,
                 const void *cur, size_t size)
{
    void *copy;
    if (st == &v->tmpl || cur != shared)
        return (void *)cur; /* the template's, or the step's already */
    copy = kiln_arena_alloc(v->p->arena, size);
    memcpy(copy, cur, size);
    return copy;
}

void kiln_dsl__set_resources(vctx *v, const kiln_ynode *key,
                             const kiln_ynode *val, void *obj, const keyspec *k)
{
    kiln_step *st = obj;
    kiln_resources *r;
    if (!kiln_dsl__nested_map(v, val, k->name))
        return;
    r = own(v, st, v->tmpl.resources, st->resources, sizeof(*r));
    st->resources = r;
    kiln_dsl__walk(v, &resources_spec,
                   val->type == KILN_YNODE_MAP ? val : NULL, r,
                   "resources", NULL, key);
}

void kiln_dsl__set_slurm(vctx *v, const kiln_ynode *key, const kiln_ynode *val,
                         void *obj, const keyspec *k)
{
    kiln_step *st = obj;
    kiln_slurm_opts *o;
    if (!kiln_dsl__nested_map(v, val, k->name))
        return;
    o = own(v, st, v->tmpl.slurm, st->slurm, sizeof(*o));
    st->slurm = o;
    o->pos = model_pos(v, key);
    kiln_dsl__walk(v, &slurm_spec, val->type == KILN_YNODE_MAP ? val : NULL,
                   o, "slurm", NULL, key);
}
