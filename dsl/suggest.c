/* suggest.c: "did you mean" by edit distance. */
#include "internal.h"

#include <ctype.h>
#include <string.h>

#define MAX_DIST 2
#define MAX_LEN 128 /* longer words get no suggestion */

static bool same(char a, char b)
{
    return tolower((unsigned char)a) == tolower((unsigned char)b);
}

/*
 * Optimal string alignment distance between a and b, ignoring case
 * (insertions, deletions, substitutions and adjacent transpositions cost
 * 1; "TRAIN" is 0 away from "train"), or
 * MAX_DIST + 1 once it must exceed MAX_DIST. Both lengths are at most
 * MAX_LEN.
 */
static size_t distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t rows[3][MAX_LEN + 1];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2], *t;
    size_t i, j;

    for (j = 0; j <= nb; j++)
        prev[j] = j;
    for (i = 1; i <= na; i++) {
        size_t best;
        cur[0] = best = i;
        for (j = 1; j <= nb; j++) {
            size_t cost = !same(a[i - 1], b[j - 1]);
            size_t d = prev[j - 1] + cost;
            if (prev[j] + 1 < d)
                d = prev[j] + 1;
            if (cur[j - 1] + 1 < d)
                d = cur[j - 1] + 1;
            if (i > 1 && j > 1 && same(a[i - 1], b[j - 2]) &&
                same(a[i - 2], b[j - 1]) && prev2[j - 2] + 1 < d)
                d = prev2[j - 2] + 1;
            cur[j] = d;
            if (d < best)
                best = d;
        }
        if (best > MAX_DIST)
            return MAX_DIST + 1;
        t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[nb];
}

const char *kiln_dsl__suggest(kiln_dsl_ctx *c, const char *word, size_t len,
                              const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t best_d = MAX_DIST + 1, i;

    /* Past the cap the error is dropped anyway. */
    if (len > MAX_LEN || c->diag->n >= KILN_DIAG_MAX)
        return NULL;
    for (i = 0; i < n; i++) {
        size_t nc = strlen(cands[i]), d, cost;
        if (nc > MAX_LEN || nc + MAX_DIST < len || len + MAX_DIST < nc)
            continue;
        cost = (len + 1) * (nc + 1);
        if (cost > c->suggest_budget)
            return NULL;
        c->suggest_budget -= cost;
        d = distance(word, len, cands[i], nc);
        /* Short words get one edit: "dir" is not a typo of "git". */
        if (d < best_d && d < nc && (d <= 1 || len > 4)) {
            best = cands[i];
            best_d = d;
        }
    }
    return best;
}
