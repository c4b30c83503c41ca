# Validate steps: kiln runs a step's checks on its CSV as a process of its
# own (kiln validate-step), reports each violation in the step's log with
# its lines, fails the step, and records the outcome as metrics for gates.
. "$(dirname "$0")/lib.sh"
cd "$T"
F=$KILN_SRC/tests/fixtures/drift

# metrics RUN STEP: "key=value" of a step's metrics, sorted, one line.
metrics() {
    q "select key || '=' || value from metrics where run_id = $1 and step = '$2' order by key" | tr '\n' ' ' | sed 's/ $//'
}

mkdir -p data
printf 'age,plan,income\n30,free,10.5\n45,pro,0\n61,team,3\n' > data/good.csv
pipeline v <<'YAML'
pipeline: v
params: {data: good}
steps:
  ingest:
    run: cp data/$KILN_PARAM_DATA.csv data/raw.csv
  validate:
    kind: validate
    needs: [ingest]
    data: data/raw.csv
    schema:
      age: {type: int, min: 0, max: 120, max_missing: 0.01}
      plan: {type: category, values: [free, pro, team]}
      income: {type: float, min: 0}
    min_rows: 3
  train:
    needs: [validate]
    when: metrics.validate.validate.violations == 0
    run: touch trained-$KILN_RUN_ID
  report:
    needs: [validate]
    when: metrics.validate.validate.warnings == 0
    run: touch reported-$KILN_RUN_ID
YAML

# 1. Passing data: the step succeeds without a run: command, its metrics
# are recorded, and the gates downstream read them.
kiln_rc run v.yaml
eq "passing validation: exit 0" 0 "$rc"
eq "validate succeeded" succeeded "$(q "select status from run_steps where run_id = 1 and step = 'validate'")"
eq "metrics recorded" "validate.missing.age=0.0 validate.missing.income=0.0 validate.missing.plan=0.0 validate.rows=3.0 validate.violations=0.0 validate.warnings=0.0" "$(metrics 1 validate)"
check "gate on validate.violations let train run" test -e trained-1
check "gate on validate.warnings let report run" test -e reported-1
kiln_rc logs 1 validate
eq "the log: the summary" "validate data/raw.csv: 3 rows, all checks passed" "$out"
eq "the data file is an input of the step" "$T/data/raw.csv" \
    "$(q "select a.path from artifacts a join events ev on ev.artifact_id = a.id join executions e on e.id = ev.execution_id where e.run_id = 1 and e.step = 'validate' and ev.type = 'input'")"
kiln_rc metrics --key validate.violations
contains "kiln metrics shows it" "validate.validate.violations" "$out"

# 2. Failing data: exact FAIL lines with counts and the first lines of the
# file (a quoted field spans lines 5-6), the run fails, downstream steps
# are skipped, and the metrics are recorded all the same.
printf 'age,plan,income,extra\n30,free,10.5,x\n-1,gold,-2,x\n,pro,1,x\n"4\n0",team,1,x\n200,Pro,x,x\n' > data/bad.csv
kiln_rc run v.yaml --param data=bad
eq "failing validation: exit 1" 1 "$rc"
eq "validate failed, saying how many checks" 'failed|7 checks failed (kiln logs 2 validate)' \
    "$(q "select status, reason from run_steps where run_id = 2 and step = 'validate'")"
eq "downstream skipped" 'skipped skipped' \
    "$(q "select status from run_steps where run_id = 2 and step in ('train', 'report')" | tr '\n' ' ' | sed 's/ $//')"
check "train did not run" test ! -e trained-2
kiln_rc logs 2 validate
eq "the log lists every violation" \
"FAIL age: type int: 1 non-integer value (line 5)
FAIL age: min 0: 1 value below (line 3)
FAIL age: max 120: 1 value above (line 7)
FAIL age: max_missing 0.01: 1 of 5 cells are empty, 20% (line 4)
FAIL plan: values [free, pro, team]: 2 values not in the list (lines 3, 7)
FAIL income: type float: 1 non-numeric value (line 7)
FAIL income: min 0: 1 value below (line 3)
WARN extra: column not in the schema
validate data/raw.csv: 5 rows, 7 violations, 1 warning" "$out"
eq "metrics of the failed step" "validate.missing.age=0.2 validate.missing.income=0.0 validate.missing.plan=0.0 validate.rows=5.0 validate.violations=7.0 validate.warnings=1.0" "$(metrics 2 validate)"

# 3. A malformed CSV is unusable input: validate-step exits 2 and the log
# names the line.
printf 'age,plan,income\n1,free,2\n3,"pro,4\n' > data/broken.csv
kiln_rc run v.yaml --param data=broken
eq "malformed CSV: the run fails" 1 "$rc"
eq "exit status 2 recorded" 2 "$(q "select exit_code from executions where run_id = 3 and step = 'validate'")"
kiln_rc logs 3 validate
eq "the log names the line" "kiln: error: data/raw.csv: line 3: a quoted field is not closed before the end of the file" "$out"
eq "no metrics for unusable input" "" "$(metrics 3 validate)"
printf 'age,plan,income\n1,free,2\n3,pro\n' > data/short.csv
kiln_rc run v.yaml --param data=short
kiln_rc logs 4 validate
eq "a short row" "kiln: error: data/raw.csv: line 3: expected 3 fields as in the header, got 2" "$out"

# 4. A run: command first, then the checks, in the step's workdir; a
# failing command skips the checks. Drift against a reference adds
# drift.COLUMN.STAT metrics; strict makes an extra column fail.
mkdir -p work
cp "$F/reference.csv" work/ref.csv
pipeline d <<YAML
pipeline: d
params: {fail: "0"}
steps:
  check:
    kind: validate
    workdir: work
    run: cp "$F/current.csv" cur.csv && exit \$KILN_PARAM_FAIL
    data: cur.csv
    schema:
      age: {type: float, max_missing: 0.5}
      income: {type: float, max_missing: 0.5}
      plan: {type: category}
    drift: {reference: ref.csv, columns: [age, income], threshold: 0.2}
YAML
kiln_rc run d.yaml
eq "drift: the step fails" 1 "$rc"
kiln_rc logs 5 check
contains "age drifted" "FAIL age: drift psi 0.2: psi 0.4213 above the threshold" "$out"
contains "score is not in the schema" "WARN score: column not in the schema" "$out"
eq "income did not drift" "" "$(printf '%s\n' "$out" | grep 'FAIL income')"
eq "drift statistics as metrics" "0.421308 0.030292" \
    "$(q "select printf('%.6f', value) from metrics where run_id = 5 and key in ('drift.age.psi', 'drift.income.psi') order by key" | tr '\n' ' ' | sed 's/ $//')"
eq "ks and wasserstein of numeric columns" 6 \
    "$(q "select count(*) from metrics where run_id = 5 and key like 'drift.%' and key not like '%.psi' and key not like '%.js'")"
rm work/cur.csv
kiln_rc run d.yaml --param fail=3
eq "the command fails: exit 1" 1 "$rc"
eq "its status, not the checks'" 3 "$(q "select exit_code from executions where run_id = 6")"
kiln_rc logs 6 check
eq "no report" "" "$(printf '%s\n' "$out" | grep -E '^(FAIL|WARN|validate)')"

# 5. A missing data file names the path.
pipeline m <<'YAML'
pipeline: m
steps:
  validate:
    kind: validate
    data: data/nowhere.csv
    min_rows: 1
YAML
kiln_rc run m.yaml
eq "missing data: exit 1" 1 "$rc"
kiln_rc logs 7 validate
eq "the log names the file" "kiln: error: cannot open data/nowhere.csv: No such file or directory" "$out"

# 6. Under kiln serve, steps run under kiln-shim: the same checks.
serve serve.log v.yaml
wait_for "the daemon" 5 'grep -q "pipeline loaded" serve.log'
kiln_rc trigger v
wait_for "the triggered run to end" 15 'test "$(q "select status from runs where id = 8")" = succeeded'
eq "its metrics" "validate.missing.age=0.0 validate.missing.income=0.0 validate.missing.plan=0.0 validate.rows=3.0 validate.violations=0.0 validate.warnings=0.0" "$(metrics 8 validate)"
stop "$daemon"

# 7. The command itself, as kiln runs it.
kiln_rc --help
contains "listed as internal" "validate-step" "$out"
printf 'age,plan,income\n1,free,2\n' > data/raw.csv
kiln_rc validate-step v.yaml validate
eq "validate-step exits 1 on a violation" 1 "$rc"
eq "and says why" "FAIL rows: min_rows 3: the data has 1
validate data/raw.csv: 1 row, 1 violation" "$out"
kiln_rc validate-step v.yaml train
eq "a step without checks" 2 "$rc"
contains "is an error" 'has no step "train" with checks' "$err"
finish
