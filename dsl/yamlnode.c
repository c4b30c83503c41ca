/*
 * yamlnode.c: phase 1, libyaml events into a tree of kiln_ynode.
 *
 * libyaml does all the tokenizing; this file turns its event stream into
 * nodes that keep their line and column, and settles what YAML leaves to
 * the loader:
 *
 *   - an alias becomes a shallow copy of the anchored node carrying the
 *     alias's position. Copies share the anchored node's children, so
 *     "billion laughs" costs one node per alias written. An alias to an
 *     anchor whose node is still open (a recursive alias) or to no anchor
 *     at all is an error;
 *   - a duplicate key is an error at its second occurrence, naming the
 *     first; it is never "last wins";
 *   - merge keys ("<<: *a", "<<: [*a, *b]") are applied when the mapping
 *     ends: explicit keys win over merged ones, earlier sources over later;
 *   - tags other than YAML's core ones (!!str, !!int, ...) are refused.
 *
 * A syntax error (or a limit) ends the parse; everything else is reported
 * and parsing goes on, so one pass finds as much as it can.
 */
#include "internal.h"

#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <yaml.h>

#define POOL_CHUNK 65536 /* arena block carved into nodes and strings */
#define POOL_BIG 4096    /* larger requests get an arena block each */
#define SMALL_MAP 8      /* up to this many keys, duplicates are found by a
                            linear scan instead of a hash table */

#define GROW(arr, n, cap)                                            \
    do {                                                             \
        if ((n) == (cap)) {                                          \
            (cap) = (cap) ? 2 * (cap) : 16;                          \
            (arr) = kiln_realloc((arr), (cap) * sizeof(*(arr)));     \
        }                                                            \
    } while (0)

typedef struct frame {
    kiln_ynode *node; /* the open sequence or mapping */
    size_t base;      /* index of its first child in parser.kids */
} frame;

typedef struct parser {
    kiln_dsl_ctx *c;
    kiln_ydoc *doc;
    yaml_parser_t yp;
    frame *frames;            /* open collections, outermost first */
    size_t n_frames, cap_frames;
    kiln_ynode **kids;        /* children of the open collections */
    size_t n_kids, cap_kids;
    kiln_ynode **tmp;         /* a mapping's pairs while merging */
    size_t n_tmp, cap_tmp;
    kiln_strmap anchors;      /* anchor name -> index in anchored */
    kiln_ynode **anchored;
    size_t n_anchored, cap_anchored;
    char *pool;               /* free bytes of the current pool block */
    size_t pool_left;
    size_t merged;            /* pairs merge keys have copied so far */
    int docs;                 /* documents seen */
} parser;

/* Keys seen in one mapping, for duplicates and merging. */
typedef struct keyset {
    const kiln_ynode *small[SMALL_MAP];
    size_t n;
    kiln_strmap big;          /* every key, once there are too many */
    bool hashed;
} keyset;

static const struct {
    const char *tag;          /* as libyaml resolves it */
    unsigned char id;         /* kiln_ytag */
    signed char type;         /* the node type it fits; -1: any */
} known_tags[] = {
    {"!", KILN_YTAG_STR, -1},
    {YAML_STR_TAG, KILN_YTAG_STR, KILN_YNODE_SCALAR},
    {YAML_INT_TAG, KILN_YTAG_INT, KILN_YNODE_SCALAR},
    {YAML_FLOAT_TAG, KILN_YTAG_FLOAT, KILN_YNODE_SCALAR},
    {YAML_BOOL_TAG, KILN_YTAG_BOOL, KILN_YNODE_SCALAR},
    {YAML_NULL_TAG, KILN_YTAG_NULL, KILN_YNODE_SCALAR},
    {YAML_MAP_TAG, KILN_YTAG_MAP, KILN_YNODE_MAP},
    {YAML_SEQ_TAG, KILN_YTAG_SEQ, KILN_YNODE_SEQ},
    {"tag:yaml.org,2002:merge", KILN_YTAG_MERGE, KILN_YNODE_SCALAR},
};

static const char *const type_names[] = {"a scalar", "a list", "a mapping"};

static unsigned mark_line(yaml_mark_t m)
{
    return (unsigned)m.line + 1;
}

static unsigned mark_col(yaml_mark_t m)
{
    return (unsigned)m.column + 1;
}

/* Carve n bytes aligned to align (a power of two) from the pool. The
 * arena zeroes its blocks, so the memory is zeroed. */
static void *pool_alloc(parser *p, size_t n, size_t align)
{
    size_t pad;
    void *mem;
    if (n >= POOL_BIG)
        return kiln_arena_alloc(p->doc->arena, n);
    pad = (align - ((uintptr_t)p->pool & (align - 1))) & (align - 1);
    if (!p->pool || p->pool_left < n + pad) {
        p->pool = kiln_arena_alloc(p->doc->arena, POOL_CHUNK);
        p->pool_left = POOL_CHUNK;
        pad = 0;
    }
    mem = p->pool + pad;
    p->pool += pad + n;
    p->pool_left -= pad + n;
    return mem;
}

static char *pool_strndup(parser *p, const char *s, size_t n)
{
    char *d = pool_alloc(p, n + 1, 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static kiln_ynode *new_node(parser *p, int type, yaml_mark_t m)
{
    kiln_ynode *n = pool_alloc(p, sizeof(*n), _Alignof(kiln_ynode));
    n->type = (unsigned char)type;
    n->line = mark_line(m);
    n->col = mark_col(m);
    p->doc->n_nodes++;
    return n;
}

/* A null scalar standing for an alias that could not be resolved. */
static kiln_ynode *bad_node(parser *p, yaml_mark_t m)
{
    kiln_ynode *n = new_node(p, KILN_YNODE_SCALAR, m);
    n->u.str = "";
    n->flags = KILN_YNODE_BAD;
    return n;
}

/* Attach a finished node to the open collection, or make it the root. */
static void add_child(parser *p, kiln_ynode *n)
{
    if (p->n_frames == 0) {
        if (!p->doc->root)
            p->doc->root = n;
        return;
    }
    GROW(p->kids, p->n_kids, p->cap_kids);
    p->kids[p->n_kids++] = n;
}

static kiln_ynode **copy_nodes(parser *p, kiln_ynode **src, size_t n)
{
    kiln_ynode **dst;
    if (!n)
        return NULL;
    dst = pool_alloc(p, n * sizeof(*dst), _Alignof(kiln_ynode *));
    memcpy(dst, src, n * sizeof(*dst));
    return dst;
}

/* Check a node's tag against known_tags[]; unknown tags are errors. */
static void set_tag(parser *p, kiln_ynode *n, const yaml_char_t *utag)
{
    const char *tag = (const char *)utag;
    static const char core[] = "tag:yaml.org,2002:";
    char shown[KILN_DSL_QUOTE_SIZE], q[KILN_DSL_QUOTE_SIZE];
    size_t i;

    if (!tag)
        return;
    for (i = 0; i < KILN_ARRAY_SIZE(known_tags); i++) {
        if (strcmp(tag, known_tags[i].tag) != 0)
            continue;
        if (known_tags[i].type >= 0 && known_tags[i].type != n->type) {
            snprintf(shown, sizeof(shown), "!!%s", tag + sizeof(core) - 1);
            kiln_dsl__error(p->c, n->line, n->col,
                            "tag %s cannot be used on %s",
                            kiln_dsl__quote(q, shown, strlen(shown)),
                            type_names[n->type]);
            return;
        }
        n->tag = n->type == KILN_YNODE_SCALAR ? known_tags[i].id
                                                : KILN_YTAG_NONE;
        return;
    }
    if (strncmp(tag, core, sizeof(core) - 1) == 0)
        snprintf(shown, sizeof(shown), "!!%.80s", tag + sizeof(core) - 1);
    else
        snprintf(shown, sizeof(shown), "%.80s", tag);
    kiln_dsl__error(p->c, n->line, n->col,
                    "unsupported tag %s: only YAML's standard tags "
                    "(!!str, !!int, !!float, !!bool, !!null, !!map, !!seq) "
                    "are allowed",
                    kiln_dsl__quote(q, shown, strlen(shown)));
}

static void add_anchor(parser *p, const yaml_char_t *anchor, kiln_ynode *n)
{
    size_t len;
    char *name;
    if (!anchor)
        return;
    len = strlen((const char *)anchor);
    name = pool_strndup(p, (const char *)anchor, len);
    GROW(p->anchored, p->n_anchored, p->cap_anchored);
    p->anchored[p->n_anchored] = n;
    /* A later anchor with the same name replaces the earlier one. */
    kiln_dsl__strmap_set(&p->anchors, name, len, p->n_anchored++);
}

/* Quote "*name" for a message. */
static const char *quote_alias(char *q, const char *name)
{
    char tmp[KILN_DSL_QUOTE_SIZE];
    snprintf(tmp, sizeof(tmp), "*%.80s", name);
    return kiln_dsl__quote(q, tmp, strlen(tmp));
}

static void on_alias(parser *p, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    yaml_mark_t m = ev->start_mark;
    char q[KILN_DSL_QUOTE_SIZE];
    kiln_ynode *n, *target;
    size_t idx;

    if (!kiln_dsl__strmap_get(&p->anchors, name, strlen(name), &idx)) {
        kiln_dsl__error(p->c, mark_line(m), mark_col(m),
                        "undefined alias %s: no anchor with that name "
                        "comes before it", quote_alias(q, name));
        add_child(p, bad_node(p, m));
        return;
    }
    target = p->anchored[idx];
    if (target->flags & KILN_YNODE_OPEN) {
        kiln_dsl__error(p->c, mark_line(m), mark_col(m),
                        "alias %s is inside the node it refers to "
                        "(a recursive alias)", quote_alias(q, name));
        add_child(p, bad_node(p, m));
        return;
    }
    n = new_node(p, target->type, m);
    *n = *target;
    n->line = mark_line(m);
    n->col = mark_col(m);
    add_child(p, n);
}

static void on_scalar(parser *p, const yaml_event_t *ev)
{
    kiln_ynode *n = new_node(p, KILN_YNODE_SCALAR, ev->start_mark);
    size_t len = ev->data.scalar.length;
    n->u.str = pool_strndup(p, (const char *)ev->data.scalar.value, len);
    n->n = (uint32_t)len;
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    set_tag(p, n, ev->data.scalar.tag);
    /* "\0" in a double-quoted string would silently cut a C string. */
    if (memchr(n->u.str, '\0', len))
        kiln_dsl__error(p->c, n->line, n->col,
                        "a string contains a NUL character (\\0)");
    add_anchor(p, ev->data.scalar.anchor, n);
    add_child(p, n);
}

/* A sequence or mapping starts. Returns -1 when nested too deeply. */
static int on_start(parser *p, const yaml_event_t *ev, int type)
{
    kiln_ynode *n;
    if (p->n_frames >= KILN_DSL_MAX_DEPTH) {
        kiln_dsl__error(p->c, mark_line(ev->start_mark),
                        mark_col(ev->start_mark),
                        "lists and mappings are nested more than %d deep",
                        KILN_DSL_MAX_DEPTH);
        return -1;
    }
    n = new_node(p, type, ev->start_mark);
    n->flags = KILN_YNODE_OPEN;
    if (type == KILN_YNODE_MAP) {
        set_tag(p, n, ev->data.mapping_start.tag);
        add_anchor(p, ev->data.mapping_start.anchor, n);
    } else {
        set_tag(p, n, ev->data.sequence_start.tag);
        add_anchor(p, ev->data.sequence_start.anchor, n);
    }
    GROW(p->frames, p->n_frames, p->cap_frames);
    p->frames[p->n_frames].node = n;
    p->frames[p->n_frames].base = p->n_kids;
    p->n_frames++;
    return 0;
}

static void close_seq(parser *p)
{
    frame f = p->frames[--p->n_frames];
    size_t n = p->n_kids - f.base;
    f.node->u.items = copy_nodes(p, p->kids + f.base, n);
    f.node->n = (uint32_t)n;
    f.node->flags &= (unsigned char)~KILN_YNODE_OPEN;
    p->n_kids = f.base;
    add_child(p, f.node);
}

/* Add key k to ks. Returns 0, or the line where k was already seen. */
static unsigned keyset_add(keyset *ks, const kiln_ynode *k)
{
    size_t i, line;
    if (!ks->hashed) {
        for (i = 0; i < ks->n; i++)
            if (ks->small[i]->n == k->n &&
                memcmp(ks->small[i]->u.str, k->u.str, k->n) == 0)
                return ks->small[i]->line;
        if (ks->n < SMALL_MAP) {
            ks->small[ks->n++] = k;
            return 0;
        }
        kiln_dsl__strmap_init(&ks->big, 4 * SMALL_MAP);
        for (i = 0; i < ks->n; i++)
            kiln_dsl__strmap_set(&ks->big, ks->small[i]->u.str,
                                 ks->small[i]->n, ks->small[i]->line);
        ks->hashed = true;
    }
    if (!kiln_dsl__strmap_add(&ks->big, k->u.str, k->n, k->line, &line))
        return (unsigned)line;
    return 0;
}

static bool is_merge_key(const kiln_ynode *k)
{
    return k->type == KILN_YNODE_SCALAR &&
           (k->tag == KILN_YTAG_MERGE ||
            (k->tag == KILN_YTAG_NONE && k->plain && k->n == 2 &&
             memcmp(k->u.str, "<<", 2) == 0));
}

static void push_pair(parser *p, kiln_ynode *k, kiln_ynode *v)
{
    GROW(p->tmp, p->n_tmp, p->cap_tmp);
    p->tmp[p->n_tmp++] = k;
    GROW(p->tmp, p->n_tmp, p->cap_tmp);
    p->tmp[p->n_tmp++] = v;
}

/* Copy the pairs of src whose keys are not in ks yet. Returns -1 past
 * KILN_DSL_MAX_MERGED. */
static int merge_from(parser *p, keyset *ks, const kiln_ynode *src)
{
    size_t i;
    for (i = 0; i < src->n; i++) {
        kiln_ynode *k = src->u.items[2 * i], *v = src->u.items[2 * i + 1];
        if (++p->merged > KILN_DSL_MAX_MERGED) {
            kiln_dsl__error(p->c, src->line, src->col,
                            "merge keys copy more than %zu keys in all; "
                            "the file is too large", KILN_DSL_MAX_MERGED);
            return -1;
        }
        if (k->type == KILN_YNODE_SCALAR && keyset_add(ks, k))
            continue;
        push_pair(p, k, v);
    }
    return 0;
}

/* Report a "<<" value that is neither a mapping nor a list of them. */
static void bad_merge(parser *p, const kiln_ynode *v)
{
    char got[KILN_DSL_QUOTE_SIZE];
    if (v->flags & KILN_YNODE_BAD)
        return;
    kiln_dsl__error(p->c, v->line, v->col,
                    "merge key \"<<\" needs a mapping or a list of "
                    "mappings, got %s", kiln_dsl__describe(got, v));
}

/*
 * Rebuild a mapping's n pairs kv with its merge keys applied: the pairs
 * of each merged mapping take the place of the "<<" key, minus the keys
 * already in ks (every explicit key, then whatever was merged before).
 * Returns -1 past KILN_DSL_MAX_MERGED.
 */
static int apply_merges(parser *p, kiln_ynode *map, kiln_ynode **kv,
                        size_t n, keyset *ks)
{
    size_t i, j;
    p->n_tmp = 0;
    for (i = 0; i < n; i++) {
        kiln_ynode *k = kv[2 * i], *v = kv[2 * i + 1];
        if (!is_merge_key(k)) {
            push_pair(p, k, v);
        } else if (v->type == KILN_YNODE_MAP) {
            if (merge_from(p, ks, v) < 0)
                return -1;
        } else if (v->type == KILN_YNODE_SEQ) {
            for (j = 0; j < v->n; j++) {
                if (v->u.items[j]->type != KILN_YNODE_MAP)
                    bad_merge(p, v->u.items[j]);
                else if (merge_from(p, ks, v->u.items[j]) < 0)
                    return -1;
            }
        } else {
            bad_merge(p, v);
        }
    }
    map->u.items = copy_nodes(p, p->tmp, p->n_tmp);
    map->n = (uint32_t)(p->n_tmp / 2);
    return 0;
}

/* A mapping ends: drop duplicate keys (reporting them), apply merge keys.
 * Returns -1 past a limit. */
static int close_map(parser *p)
{
    frame f = p->frames[--p->n_frames];
    kiln_ynode **kv = p->kids + f.base;
    size_t n = (p->n_kids - f.base) / 2, i, kept = 0, merges = 0;
    char q[KILN_DSL_QUOTE_SIZE];
    keyset ks;
    int rc = 0;

    memset(&ks, 0, sizeof(ks));
    for (i = 0; i < n; i++) {
        kiln_ynode *k = kv[2 * i], *v = kv[2 * i + 1];
        unsigned first;
        if (k->type == KILN_YNODE_SCALAR && !(k->flags & KILN_YNODE_BAD) &&
            (first = keyset_add(&ks, k)) != 0) {
            kiln_dsl__error(p->c, k->line, k->col,
                            "duplicate key %s (first defined at line %u)",
                            kiln_dsl__quote(q, k->u.str, k->n), first);
            continue;
        }
        merges += is_merge_key(k);
        kv[2 * kept] = k;
        kv[2 * kept + 1] = v;
        kept++;
    }
    if (merges) {
        rc = apply_merges(p, f.node, kv, kept, &ks);
    } else {
        f.node->u.items = copy_nodes(p, kv, 2 * kept);
        f.node->n = (uint32_t)kept;
    }
    if (ks.hashed)
        kiln_dsl__strmap_dispose(&ks.big);
    f.node->flags &= (unsigned char)~KILN_YNODE_OPEN;
    p->n_kids = f.base;
    add_child(p, f.node);
    return rc;
}

/* Line and column of byte off, for libyaml's reader errors, which give
 * only an offset. Columns count characters, as libyaml's marks do. */
static void offset_pos(const char *data, size_t len, size_t off,
                       unsigned *line, unsigned *col)
{
    size_t i;
    *line = *col = 1;
    for (i = 0; i < off && i < len; i++) {
        unsigned char ch = (unsigned char)data[i];
        if (ch == '\n') {
            ++*line;
            *col = 1;
        } else if ((ch & 0xC0) != 0x80) {
            ++*col;
        }
    }
}

/* The byte at line:col (1-based, columns in characters), or -1. */
static int byte_at(const char *data, size_t len, unsigned line, unsigned col)
{
    unsigned l = 1, c = 1;
    size_t i;
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)data[i];
        if ((ch & 0xC0) == 0x80)
            continue;
        if (l == line && c == col)
            return ch;
        if (ch == '\n') {
            if (l == line)
                return -1;
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    return -1;
}

/* The key a line starts with ("run" of "  run: echo a: b", or of
 * "  - run: ..."), into key, and the column its value starts at in
 * *value_col; false when it starts with none. */
static bool line_key(const char *data, size_t len, unsigned line,
                     char *key, size_t size, unsigned *value_col)
{
    const char *p = data, *end = data + len, *start;
    size_t n = 0;
    for (unsigned l = 1; l < line && p < end; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    start = p;
    while (p < end && (*p == ' ' || *p == '-'))
        p++;
    while (p + n < end && (isalnum((unsigned char)p[n]) || p[n] == '_' ||
                           p[n] == '-'))
        n++;
    if (!n || n >= size || p + n + 1 >= end || p[n] != ':' ||
        (p[n + 1] != ' ' && p[n + 1] != '\t'))
        return false;
    memcpy(key, p, n);
    key[n] = '\0';
    *value_col = (unsigned)(p + n + 2 - start) + 1;
    return true;
}

/* What to do about "mapping values are not allowed in this context" at
 * line:col inside a plain value that holds ": " (a shell command, often)
 * after a key. */
static const char *colon_hint(const char *problem, const char *data,
                              size_t len, unsigned line, unsigned col,
                              char *buf, size_t size)
{
    char key[64];
    const char *p = data, *end = data + len;
    unsigned value_col, indent = 1;
    if (strstr(problem, "mapping values are not allowed") == NULL)
        return "";
    /* A key of more than 1024 characters: libyaml looks no further for
     * its ':' (YAML's limit on an implicit key). */
    for (unsigned l = 1; l < line && p < end; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    for (; p < end && (*p == ' ' || *p == '-'); p++)
        indent++;
    if (col > indent + 1024)
        return " (a key of more than 1024 characters, which YAML does not "
               "allow; a name has at most 64)";
    if (!line_key(data, len, line, key, sizeof(key), &value_col) ||
        col <= value_col)
        return "";
    if (strcmp(key, "run") == 0)
        snprintf(buf, size, " (the command holds \": \": quote it, "
                 "run: \"...\", or write it on the next lines after "
                 "run: |)");
    else
        snprintf(buf, size, " (the value of %s: holds \": \": quote it, "
                 "%s: \"...\", or write it on the next lines after %s: |)",
                 key, key, key);
    return buf;
}

/* Report libyaml's error in its own words, at its position. */
static void syntax_error(parser *p, const char *data, size_t len)
{
    yaml_parser_t *yp = &p->yp;
    const char *problem = yp->problem ? yp->problem : "invalid YAML";
    unsigned line, col;
    char hint[400];

    switch (yp->error) {
    case YAML_MEMORY_ERROR:
        kiln_fatal("out of memory parsing YAML");
    case YAML_READER_ERROR:
        offset_pos(data, len, yp->problem_offset, &line, &col);
        if (yp->problem_value != -1)
            kiln_dsl__error(p->c, line, col, "%s (0x%02X)", problem,
                            (unsigned)yp->problem_value);
        else
            kiln_dsl__error(p->c, line, col, "%s", problem);
        break;
    default:
        /* The scanner's context is the token it was reading ("while
         * scanning a simple key"), whose start is where the mistake is;
         * the problem mark is often the next line. The parser's problem
         * mark is the better one ("did not find expected key"). */
        if (yp->error == YAML_SCANNER_ERROR && yp->context) {
            line = mark_line(yp->context_mark);
            col = mark_col(yp->context_mark);
        } else {
            line = mark_line(yp->problem_mark);
            col = mark_col(yp->problem_mark);
        }
        kiln_dsl__error(p->c, line, col, "%s%s%s%s%s", problem,
                        yp->context ? " " : "",
                        yp->context ? yp->context : "",
                        byte_at(data, len, line, col) == '\t'
                            ? " (YAML does not allow tabs for indentation)"
                            : "",
                        colon_hint(problem, data, len, line, col, hint,
                                   sizeof(hint)));
        break;
    }
}

/* Handle one event. Returns 1 at the end, -1 on a fatal error. */
static int on_event(parser *p, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
    case YAML_NO_EVENT:
        return 1;
    case YAML_DOCUMENT_START_EVENT:
        if (p->docs++ == 0)
            return 0;
        /* Keep the first document; the rest is not read. */
        kiln_dsl__error(p->c, mark_line(ev->start_mark),
                        mark_col(ev->start_mark),
                        "a second YAML document starts here; a pipeline "
                        "file holds exactly one");
        return 1;
    case YAML_ALIAS_EVENT:
        on_alias(p, ev);
        return 0;
    case YAML_SCALAR_EVENT:
        on_scalar(p, ev);
        return 0;
    case YAML_SEQUENCE_START_EVENT:
        return on_start(p, ev, KILN_YNODE_SEQ);
    case YAML_MAPPING_START_EVENT:
        return on_start(p, ev, KILN_YNODE_MAP);
    case YAML_SEQUENCE_END_EVENT:
        close_seq(p);
        return 0;
    case YAML_MAPPING_END_EVENT:
        return close_map(p);
    default: /* stream start, document end */
        return 0;
    }
}

int kiln_dsl__parse(kiln_ydoc *doc, kiln_dsl_ctx *c, const char *data,
                    size_t len)
{
    parser p;
    int rc = 0, r = 0;

    memset(&p, 0, sizeof(p));
    memset(doc, 0, sizeof(*doc));
    doc->arena = kiln_arena_new();
    p.c = c;
    p.doc = doc;
    /* Never NULL, so "kids + base" is always defined behaviour. */
    p.cap_kids = 64;
    p.kids = kiln_malloc(p.cap_kids * sizeof(*p.kids));
    if (!yaml_parser_initialize(&p.yp))
        kiln_fatal("out of memory initializing libyaml");
    yaml_parser_set_input_string(&p.yp, (const unsigned char *)data, len);
    while (r == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p.yp, &ev)) {
            syntax_error(&p, data, len);
            rc = KILN_EINVAL;
            break;
        }
        r = on_event(&p, &ev);
        yaml_event_delete(&ev);
        if (r < 0)
            rc = KILN_EINVAL;
    }
    yaml_parser_delete(&p.yp);
    free(p.frames);
    free(p.kids);
    free(p.tmp);
    free(p.anchored);
    kiln_dsl__strmap_dispose(&p.anchors);
    return rc;
}

void kiln_dsl__ydoc_dispose(kiln_ydoc *doc)
{
    kiln_arena_free(doc->arena);
    doc->arena = NULL;
    doc->root = NULL;
}
