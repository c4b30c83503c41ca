/*
 * validate.h: the checks of a `kind: validate` step, run on its CSV file.
 *
 * Each failed rule is one violation and one "FAIL" line of the report:
 * a schema column the data lacks; per column, values of the wrong type,
 * outside values:, below min or above max, more empty cells than
 * max_missing allows; a data column the schema lacks when strict (a
 * "WARN" line otherwise); too few or too many rows; a column that drifted
 * from the reference. Lines of offending values are the lines of the file
 * their records start on, the first few of them. Reading blocks.
 *
 *   FAIL age: min 0: 3 values below (lines 14, 27, 300)
 *
 * The outcome is also kept as metrics for gates and the status page:
 * validate.rows, validate.violations, validate.warnings,
 * validate.missing.COLUMN (the fraction of empty cells of each schema
 * column) and drift.COLUMN.STAT (psi, js; numeric columns also ks,
 * ks_pvalue and wasserstein). Column names in keys keep [A-Za-z0-9_-];
 * other characters become "_", so gates can name every key.
 */
#ifndef KILN_VALIDATE_H
#define KILN_VALIDATE_H

#include "dsl/dsl.h"
#include "data/metrics.h"

typedef struct kiln_validate_result {
    size_t rows;          /* data rows, the header not counted */
    size_t violations;    /* failed rules: "FAIL" lines */
    size_t warnings;      /* "WARN" lines */
    kiln_buf report;      /* FAIL and WARN lines, then a summary line */
    kiln_metrics metrics;
} kiln_validate_result;

/*
 * Run v's checks. Paths are relative to dir (NULL: the current
 * directory). Returns 0 when the checks ran, whether or not they passed;
 * KILN_EINVAL for unusable input (a file csvfile.h does not read as CSV,
 * with its message naming the file and line) and KILN_ERROR when a file
 * cannot be read (naming its path), with nothing in out. A header alone
 * is data of 0 rows. Release out with kiln_validate_result_dispose()
 * either way.
 */
int kiln_validate_run(kiln_validate_result *out, const kiln_validation *v,
                      const char *dir, kiln_err *err);
void kiln_validate_result_dispose(kiln_validate_result *r);

#endif
