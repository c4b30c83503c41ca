/*
 * internal.h: what the files of dsl/ share and nobody else sees.
 *
 * Loading a pipeline runs in three phases, one file each:
 *
 *   yamlnode.c  libyaml events -> a tree of kiln_ynode: syntax errors,
 *               anchors and aliases, merge keys, duplicate keys, tags;
 *   schema.c    the tree -> a kiln_pipeline, checked against key tables
 *               (schema.h; the tables of each part in a schema-*.c);
 *   graph.c     needs -> need_idx, cycles, topological order.
 *
 * load.c ties the phases together, pipeline.c has the model's own
 * functions, diag.c collects errors, value.c reads scalars, suggest.c finds
 * "did you mean" candidates and strmap.c is the hash table they use. Only
 * yamlnode.c includes <yaml.h>.
 */
#ifndef KILN_DSL_INTERNAL_H
#define KILN_DSL_INTERNAL_H

#include "dsl/dsl.h"

/* Limits. */
#define KILN_DSL_MAX_FILE ((size_t)64 << 20) /* bytes in a pipeline file */
#define KILN_DSL_MAX_DEPTH 256     /* nested sequences and mappings */
#define KILN_DSL_MAX_NAME 64       /* pipeline and step names */
/* A matrix item's name, "STEP[p=v,...]": its log file's name
 * (NAME.ATTEMPT.metrics.json) must fit a file system's 255 bytes. */
#define KILN_DSL_MAX_ITEM_NAME 200
#define KILN_DSL_MAX_RETRIES 100
#define KILN_DSL_MAX_CPUS 4096     /* resources: cpus and gpus */
/* Key/value pairs that merge keys may copy in one file. */
#define KILN_DSL_MAX_MERGED ((size_t)4000000)
/* Edit-distance cells "did you mean" may compute in one load. */
#define KILN_DSL_SUGGEST_BUDGET ((size_t)20000000)

/* Error collection (diag.c). */

/* One load's view of the caller's kiln_diag. */
typedef struct kiln_dsl_ctx {
    kiln_diag *diag;
    const char *file;      /* the name used in positions; borrowed */
    size_t first;          /* diag->n when this load started */
    size_t n_errors;       /* errors this load found, kept or dropped */
    size_t suggest_budget; /* cells left for kiln_dsl__suggest() */
} kiln_dsl_ctx;

void kiln_dsl__ctx_init(kiln_dsl_ctx *c, kiln_diag *diag, const char *file);
/* Add an error at line:col (1-based; line 0 = the whole file). Past
 * KILN_DIAG_MAX errors it is only counted in diag->dropped. */
void kiln_dsl__error(kiln_dsl_ctx *c, unsigned line, unsigned col,
                     const char *fmt, ...) KILN_PRINTF(4, 5);
/* Sort this load's errors by position, keeping the order of ties. */
void kiln_dsl__sort_errors(kiln_dsl_ctx *c);

/* Quote user text for a message: "text" with control characters escaped,
 * cut with "..." after about 64 bytes. buf needs KILN_DSL_QUOTE_SIZE
 * bytes; returns buf. */
#define KILN_DSL_QUOTE_SIZE 96
const char *kiln_dsl__quote(char *buf, const char *s, size_t len);

/* The YAML node tree (yamlnode.c). */

typedef enum kiln_ynode_type {
    KILN_YNODE_SCALAR = 0,
    KILN_YNODE_SEQ,
    KILN_YNODE_MAP
} kiln_ynode_type;

/* The tags kiln accepts; any other tag is an error. */
typedef enum kiln_ytag {
    KILN_YTAG_NONE = 0, /* no tag: the value is read from its text */
    KILN_YTAG_STR,      /* !!str, or "!": always a string, never null */
    KILN_YTAG_INT,
    KILN_YTAG_FLOAT,
    KILN_YTAG_BOOL,
    KILN_YTAG_NULL,
    KILN_YTAG_MAP,
    KILN_YTAG_SEQ,
    KILN_YTAG_MERGE     /* !!merge, on a "<<" key */
} kiln_ytag;

/*
 * A node keeps its position and little else, because a 10 MB file holds
 * millions of them. An alias is a shallow copy of the anchored node with the
 * alias's position: both share one items array (and its subtree), so
 * aliases never multiply memory. Mappings are stored after merge keys were
 * applied, so later phases never see "<<".
 */
#define KILN_YNODE_OPEN 1 /* a collection whose end is not read yet */
#define KILN_YNODE_BAD 2  /* stands for a broken alias, already reported:
                             later phases skip it without a word */

typedef struct kiln_ynode kiln_ynode;
struct kiln_ynode {
    unsigned char type;  /* kiln_ynode_type */
    unsigned char tag;   /* kiln_ytag */
    unsigned char plain; /* scalar written without quotes or | > */
    unsigned char flags; /* KILN_YNODE_OPEN, KILN_YNODE_BAD */
    uint32_t line, col;  /* 1-based */
    uint32_t n;          /* scalar: bytes; sequence: items; map: pairs */
    union {
        const char *str;    /* scalar text, NUL-terminated */
        kiln_ynode **items; /* sequence items, or key, value, key, ... */
    } u;
};

typedef struct kiln_ydoc {
    kiln_arena *arena;  /* owns every node and string */
    kiln_ynode *root;   /* NULL when the stream holds no document */
    size_t n_nodes;     /* nodes created, aliases included */
} kiln_ydoc;

/*
 * Parse len bytes of data into doc. Returns 0 when doc holds a tree to
 * validate, even if some problems (duplicate keys, bad tags, undefined
 * aliases) were reported into c; returns KILN_EINVAL after a syntax error
 * or a limit, when the tree is unusable. Either way release doc with
 * kiln_dsl__ydoc_dispose().
 */
int kiln_dsl__parse(kiln_ydoc *doc, kiln_dsl_ctx *c, const char *data,
                    size_t len);
void kiln_dsl__ydoc_dispose(kiln_ydoc *doc);

/* Scalar values (value.c). */

/* null, ~, an empty plain scalar, or anything tagged !!null. */
bool kiln_dsl__is_null(const kiln_ynode *n);
/* A scalar that is not null. */
bool kiln_dsl__is_text(const kiln_ynode *n);
/* true/false in YAML 1.2 spellings (True, TRUE...). Returns 0 or -1. */
int kiln_dsl__as_bool(const kiln_ynode *n, bool *out);
/* Decimal digits only, quoted or not; saturates at UINT64_MAX. Returns 0
 * or -1. */
int kiln_dsl__as_count(const kiln_ynode *n, uint64_t *out);
/* A finite decimal number ("0.2", "-3", "1e-4"). Returns 0 or -1. */
int kiln_dsl__as_number(const kiln_ynode *n, double *out);
/* For "got X" in messages: a quoted scalar, null, a list or a mapping.
 * buf needs KILN_DSL_QUOTE_SIZE bytes; returns buf or a literal. */
const char *kiln_dsl__describe(char *buf, const kiln_ynode *n);

/* Validation (schema*.c) and the graph (graph.c). */

/* Check doc against the key tables and fill p, whose arena, file and dir
 * are set. Returns 0, or -1 when a limit stopped validation midway (then
 * the graph is not worth checking). */
int kiln_dsl__validate(kiln_dsl_ctx *c, const kiln_ydoc *doc,
                       kiln_pipeline *p);
/* Resolve needs into need_idx, report unknown, repeated and self needs and
 * dependency cycles, and set p->topo. */
void kiln_dsl__graph(kiln_dsl_ctx *c, kiln_pipeline *p);
/* io.c: the steps each input comes from (kiln_step.input_from); an error
 * for a step reading another's output without needing it (graph_ok: the
 * needs are resolved, with no cycle). */
void kiln_dsl__io(kiln_dsl_ctx *c, kiln_pipeline *p, bool graph_ok);

/* Names (names.c). */

extern const char *const kiln_dsl__kind_names[]; /* by kiln_step_kind */
extern const size_t kiln_dsl__n_kinds;
extern const char *const kiln_dsl__col_type_names[]; /* by kiln_col_type */
extern const size_t kiln_dsl__n_col_types;
extern const char *const kiln_dsl__trigger_names[]; /* by kiln_trigger_kind */
extern const size_t kiln_dsl__n_triggers;

/* "Did you mean" (suggest.c). */

/* The candidate closest to word (edit distance at most 2, transpositions
 * counting 1, case ignored), or NULL. Ties go to the earlier candidate.
 * Spends c->suggest_budget; once it is gone, or once the diag is full,
 * returns NULL. */
const char *kiln_dsl__suggest(kiln_dsl_ctx *c, const char *word, size_t len,
                              const char *const *cands, size_t n);

/* A string -> size_t hash table (strmap.c). Keys are borrowed and must
 * outlive the table. */

typedef struct kiln_strmap_slot kiln_strmap_slot;
typedef struct kiln_strmap {
    kiln_strmap_slot *slots;
    size_t cap;   /* a power of two */
    size_t n;
} kiln_strmap;

void kiln_dsl__strmap_init(kiln_strmap *m, size_t hint);
void kiln_dsl__strmap_dispose(kiln_strmap *m);
/* Returns true and *value when key is present. */
bool kiln_dsl__strmap_get(const kiln_strmap *m, const char *key, size_t len,
                          size_t *value);
/* Insert key or replace its value. */
void kiln_dsl__strmap_set(kiln_strmap *m, const char *key, size_t len,
                          size_t value);
/* Insert key unless present. Returns true when inserted; otherwise false
 * and the value already there in *old. */
bool kiln_dsl__strmap_add(kiln_strmap *m, const char *key, size_t len,
                          size_t value, size_t *old);

#endif
