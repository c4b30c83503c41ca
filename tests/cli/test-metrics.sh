# Metrics: steps write numbers to $KILN_METRICS or a declared file; nested
# objects flatten to dotted keys; bad files warn in the step's log and
# never break the records.
. "$(dirname "$0")/lib.sh"
cd "$T"
pipeline m <<'YAML'
pipeline: m
params: {acc: 0.9}
steps:
  train:
    run: |
      printf '{"loss": 0.25, "eval": {"auc": 0.8, "f1": 0.5}}' > "$KILN_METRICS"
  evaluate:
    needs: [train]
    run: |
      printf '{"accuracy": %s, "n": 100}' "$KILN_PARAM_ACC" > out.json
    metrics: out.json
  bad_json:
    run: |
      printf '{"a": 1,' > "$KILN_METRICS"
  bad_values:
    run: |
      printf '{"a": "high", "b": true, "c": [1], "d": 2}' > "$KILN_METRICS"
  clash:
    run: |
      printf '{"a.b": {"c": 3}, "a": {"b.c": 4}}' > "$KILN_METRICS"
  not_written:
    run: "true"
    metrics: nowhere.json
YAML
kiln_rc run m.yaml
eq "run succeeds despite bad metrics files" 0 "$rc"
kiln_rc run m.yaml --param acc=0.95
eq "second run" 0 "$rc"
eq "flattened, recorded per execution" \
    "bad_values.d=2.0 clash.a.b.c=4.0 evaluate.accuracy=0.9 evaluate.n=100.0 train.eval.auc=0.8 train.eval.f1=0.5 train.loss=0.25" \
    "$(q "select step || '.' || key || '=' || value from metrics where run_id = 1 order by 1" | tr '\n' ' ' | sed 's/ $//')"
kiln_rc logs 1 bad_json
contains "malformed JSON warned in the log" "is not valid JSON" "$out"
kiln_rc logs 1 bad_values
contains "non-numeric value warned" '"a" is not a number; ignored' "$out"
contains "booleans too" '"b" is not a number; ignored' "$out"
kiln_rc logs 1 clash
contains "two keys naming one metric warned" \
    '"a.b.c" is given twice (nested and dotted keys name the same metric); the last one is kept' "$out"
eq "the last one kept" "4.0" \
    "$(q "select value from metrics where run_id = 1 and step = 'clash' and key = 'a.b.c'")"
kiln_rc logs 1 not_written
contains "declared file missing warned" "declared metrics file nowhere.json but did not write it" "$out"
eq "bad metrics leave steps succeeded" "succeeded succeeded" \
    "$(q "select status from run_steps where run_id = 1 and step like 'bad_%' order by step" | tr '\n' ' ' | sed 's/ $//')"

kiln_rc metrics --key accuracy
eq "kiln metrics" 0 "$rc"
contains "both runs' accuracy" "2      m                    evaluate.accuracy" "$out"
contains "newest first, value" "0.95" "$out"
kiln_rc metrics --last 1 --json
eq "json, last run only" "2 7" "$(printf '%s' "$out" | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
print(len({x["run_id"] for x in r}) + 1, len(r))')"
kiln_rc metrics diff 1 2
eq "kiln metrics diff" 0 "$rc"
contains "accuracy changed" "evaluate.accuracy" "$out"
contains "by +0.05" "+0.05" "$out"
kiln_rc metrics diff 1
eq "diff needs two runs" 2 "$rc"
# A run against itself: the same values in both columns, no change.
kiln_rc metrics diff 2 2 --json
eq "diff 2 2: both columns filled, equal" "True" "$(printf '%s' "$out" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
print(bool(d) and all(a is not None and a == b for a, b in d.values()))')"
kiln_rc metrics diff 999 998
eq "runs that do not exist: exit 2" 2 "$rc"
contains "...named" "999" "$err"
kiln_rc metrics diff 1 998
eq "one that does not: exit 2" 2 "$rc"
finish
