/* fuzz-expr.c: libFuzzer target for gate expressions (parse, evaluate). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/expr.h"

static bool lookup(double *out, const kiln_expr *ref, void *data)
{
    (void)data;
    *out = (double)strlen(ref->key);
    return ref->key[0] != 'z';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    kiln_arena *a = kiln_arena_new();
    kiln_expr *e;
    kiln_err err = KILN_ERR_INIT;
    kiln_buf trace = KILN_BUF_INIT;
    size_t off;
    bool result;

    memcpy(text, data, size);
    text[size] = '\0';
    if (kiln_expr_parse(&e, a, text, &off, &err) == 0)
        kiln_expr_eval(&result, e, lookup, NULL, &trace, &err);
    else if (off > strlen(text))
        abort(); /* an error must point inside the text */
    kiln_buf_dispose(&trace);
    kiln_arena_free(a);
    free(text);
    return 0;
}
