/*
 * drift.h: the drift between a reference and a current data set, column
 * by column.
 *
 * The columns come from csvfile.h's tables (kiln_csv_load(): the first row
 * names the columns, empty cells are missing, a column is numeric when
 * every non-empty value parses as a number, categorical otherwise), so a
 * file is read and rejected as everywhere else. Reading and the
 * statistics block: the daemon runs them on the thread pool.
 *
 * Numeric columns: bins at the distinct values among the reference's
 * 10%..90% quantiles (numpy's linear interpolation), fractions floored at
 * 0.0001; psi = sum (c - r) ln(c / r); js = Jensen-Shannon distance, base
 * 2; ks = two-sample Kolmogorov-Smirnov D and its asymptotic p-value
 * (scipy's kstwobign.sf(sqrt(nm/(n+m)) D)); wasserstein = 1-Wasserstein
 * distance of the raw values. Categorical columns: the union of
 * categories, frequencies floored at 0.0001, psi and js; ks and
 * wasserstein do not apply (NAN).
 */
#ifndef KILN_DRIFT_H
#define KILN_DRIFT_H

#include <jansson.h>

#include "base/base.h"
#include "data/csvfile.h"

typedef struct kiln_drift_stats {
    bool numeric;          /* both sides numeric */
    size_t n_ref, n_cur;
    double missing_ref, missing_cur; /* fractions of empty cells */
    double psi, js;
    double ks, ks_pvalue, wasserstein; /* NAN for categorical columns */
} kiln_drift_stats;

/* Compare a column of the reference with the same of the current data.
 * Numeric values are sorted in place. */
void kiln_drift_compare(kiln_drift_stats *out, kiln_csv_column *ref,
                        size_t ref_rows, kiln_csv_column *cur,
                        size_t cur_rows);

/* Does stats show drift by method (psi, js, ks: p-value below the
 * threshold, wasserstein) at threshold? KILN_EINVAL for an unknown method
 * or one that does not apply to the column. */
int kiln_drift_decide(bool *out, const kiln_drift_stats *s,
                      const char *method, double threshold, kiln_err *err);

/*
 * Compare two CSV files, as kiln drift does: load both (in parallel;
 * either one's error is kiln_csv_load()'s, the reference's first),
 * compare the columns they share (or only those named; each must be in
 * both files) and decide each by method and threshold. *out is
 * {"columns": [{"name", "type", "n_reference", "n_current",
 * "missing_reference", "missing_current", "psi", "js", "ks", "ks_pvalue",
 * "wasserstein", "drift"}...]} (statistics that do not apply are null);
 * *n_drifted (may be NULL) counts the drifted columns. Blocks: call it off
 * the loop.
 */
int kiln_drift_report(json_t **out, size_t *n_drifted, const char *ref_path,
                      const char *cur_path, const char *const *columns,
                      size_t n_columns, const char *method, double threshold,
                      kiln_err *err);

#endif
