/*
 * fuzz-dsl.c: libFuzzer entry point for the pipeline loader.
 *
 * Every input must load or fail with errors, never crash, leak or hang.
 * Build with clang in a tree of its own:
 *   CC=clang cmake -S . -B build-fuzz -DKILN_FUZZ=ON
 *   make -C build-fuzz fuzz-dsl
 *   build-fuzz/tests/fuzz-dsl -max_total_time=120 new-corpus tests/fuzz/corpus
 * (new inputs go to the first directory; keep tests/fuzz/corpus small).
 */
#include "dsl/dsl.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kiln_pipeline *p = NULL;
    kiln_diag diag = KILN_DIAG_INIT;
    kiln_buf out = KILN_BUF_INIT;
    size_t i;

    if (kiln_dsl_load_buffer(&p, "fuzz.yaml", "/", (const char *)data, size,
                             &diag) == 0) {
        /* Touch the model the way the orchestrator will. */
        for (i = 0; i < p->n_steps; i++) {
            const kiln_step *s = &p->steps[p->topo[i]];
            size_t j;
            if (kiln_pipeline_find_step(p, s->name) < 0)
                __builtin_trap();
            for (j = 0; j < s->needs.n; j++)
                if (s->need_idx[j] >= p->n_steps)
                    __builtin_trap();
        }
    } else if (diag.n == 0) {
        __builtin_trap(); /* a failure must say why */
    }
    kiln_diag_format(&diag, &out);
    kiln_buf_dispose(&out);
    kiln_diag_dispose(&diag);
    kiln_pipeline_free(p);
    return 0;
}
