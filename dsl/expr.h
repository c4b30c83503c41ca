/*
 * expr.h: gate expressions, the `when:` of a step.
 *
 *   metrics.evaluate.accuracy >= 0.9 && metrics.evaluate.auc > params.min_auc
 *
 *   metrics.evaluate.auc >= metrics.production.auc - 0.02
 *
 * Grammar (a small recursive-descent parser):
 *   expr := and ("||" and)*        and := not ("&&" not)*
 *   not  := "!" not | cmp          cmp := sum OP sum | "(" expr ")"
 *   OP   := < <= > >= == !=        sum := term (("+" | "-") term)*
 *   term := value (("*" | "/") value)*
 *   value := NUMBER | metrics.STEP.KEY | params.NAME | "(" sum ")"
 *          | "-" value
 * KEY may hold dots (nested metrics flatten to dotted keys), and names
 * may hold "-": write spaces around a minus after a name. Comparisons
 * give booleans; && || ! take booleans; a bare value is not a condition.
 * A "(" opens a condition unless what it holds is a value. Division by
 * zero, or a result that is not a finite number, is an error when
 * evaluated.
 */
#ifndef KILN_EXPR_H
#define KILN_EXPR_H

#include "base/base.h"

typedef struct kiln_expr kiln_expr;

typedef enum kiln_expr_kind {
    KILN_EXPR_NUMBER,
    KILN_EXPR_METRIC,   /* step, key */
    KILN_EXPR_PARAM,    /* key */
    KILN_EXPR_CMP,      /* op, a, b */
    KILN_EXPR_AND,
    KILN_EXPR_OR,
    KILN_EXPR_NOT,      /* a */
    KILN_EXPR_ARITH,    /* op[0] one of + - * /, a, b */
    KILN_EXPR_NEG       /* -a */
} kiln_expr_kind;

struct kiln_expr {
    kiln_expr_kind kind;
    char op[3];         /* CMP: "<", "<=", ">", ">=", "==", "!=";
                           ARITH: "+", "-", "*", "/" */
    double number;
    const char *step;   /* METRIC */
    const char *key;    /* METRIC, PARAM */
    unsigned offset;    /* where it starts in the text, 0-based */
    kiln_expr *a, *b;
};

/* Parse text into nodes allocated in arena. Returns 0 and *out, or
 * KILN_EINVAL with err's message and *offset at the problem. */
int kiln_expr_parse(kiln_expr **out, kiln_arena *arena, const char *text,
                    size_t *offset, kiln_err *err);

/* Look up a reference's value; return false when there is none. */
typedef bool (*kiln_expr_lookup)(double *out, const kiln_expr *ref,
                                 void *data);

/*
 * Evaluate e. Returns 0 with *result, or KILN_ENOTFOUND when a reference
 * has no value (err names it). `trace` receives "name = value" for every
 * reference looked up (each name once), for the record of what decided
 * a gate. KILN_EINVAL for a division by zero or a value that is not
 * finite.
 */
int kiln_expr_eval(bool *result, const kiln_expr *e, kiln_expr_lookup lookup,
                   void *data, kiln_buf *trace, kiln_err *err);

/* Call fn for every reference in e (validation of names). */
void kiln_expr_walk(const kiln_expr *e,
                    void (*fn)(const kiln_expr *ref, void *data), void *data);

#endif
