# A metric trigger on a metric kiln recorded for another pipeline
# (metric: {pipeline: score, key: monitor.low_confidence_share, above:
# 0.2}): read from the store, it fires once when the value crosses, not
# again while it stays over, again after it came back and crossed anew,
# respects the pipeline's cooldown, and is recorded in kiln triggers.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/p"
cat > "$T/p/score.yaml" <<'YAML'
pipeline: score
params: {share: 0.1}
steps:
  monitor:
    run: |
      echo "{\"low_confidence_share\": $KILN_PARAM_SHARE}" > "$KILN_METRICS"
YAML
cat > "$T/p/retrain.yaml" <<'YAML'
pipeline: retrain
triggers:
  - metric: {pipeline: score, key: monitor.low_confidence_share, above: 0.2, every: 1s}
steps:
  train: {run: "echo retraining"}
YAML
checks() { q "select count(*) from trigger_checks where pipeline = 'retrain' ${1:-}"; }
runs() { q "select count(*) from runs where pipeline = 'retrain'"; }
score() {
    kiln_rc trigger score --param share="$1" --wait
    eq "score with share $1" 0 "$rc"
    # Two checks after it, so the newest value has been looked at.
    local n; n=$(checks)
    wait_for "two checks after score $1" 10 '[ "$(checks)" -ge $((n + 2)) ]'
}
serve serve.log "$T/p"
wait_for "the first check" 10 '[ "$(checks)" -ge 1 ]'
contains "nothing recorded yet: an error saying so" "no run of pipeline score recorded metric monitor.low_confidence_share yet" \
    "$(q "select reason from trigger_checks where pipeline = 'retrain' order by id limit 1")"
score 0.1
eq "below the bound: no run" 0 "$(runs)"
contains "a quiet check says the value" "0.1 is not above 0.2" \
    "$(q "select reason from trigger_checks where pipeline = 'retrain' order by id desc limit 1")"
score 0.3
wait_for "crossing fires a retrain" 10 '[ "$(runs)" = 1 ]'
eq "the firing check, with the value and the score run" "fired|0.3 is above 0.2|0.3|2|metric" \
    "$(q "select c.status, c.reason, json_extract(c.detail, '$.value'), json_extract(c.detail, '$.run_id'), r.trigger from trigger_checks c join runs r on r.id = c.run_id where c.pipeline = 'retrain'")"
score 0.35
eq "still above: no second run" 1 "$(runs)"
contains "and says so" "still above 0.2" \
    "$(q "select reason from trigger_checks where pipeline = 'retrain' order by id desc limit 1")"
score 0.1
score 0.4
wait_for "back and over again: a second run" 10 '[ "$(runs)" = 2 ]'
kiln_rc triggers --limit 50
contains "kiln triggers shows it" "score:monitor.low_confidence_share" "$out"
stop "$daemon"

# With a cooldown, a new crossing within it is held.
sed -i 's/^triggers:/cooldown: 1h\ntriggers:/' "$T/p/retrain.yaml"
serve serve2.log "$T/p"
n=$(checks)
wait_for "checks again" 10 '[ "$(checks)" -gt "$n" ]'
score 0.1
score 0.5
wait_for "a held check" 10 '[ "$(checks "and status = '"'held'"'")" -ge 1 ]'
eq "the cooldown holds it: still 2 runs" 2 "$(runs)"
contains "saying why" "cooldown" "$(q "select reason from trigger_checks where pipeline = 'retrain' and status = 'held' order by id desc limit 1")"
stop "$daemon"

# Validation.
cat > "$T/bad.yaml" <<'YAML'
pipeline: bad
triggers:
  - metric: {pipeline: score, above: 1}
  - metric: {pipeline: score, key: nodot, above: 1}
  - metric: {pipeline: score, file: x.json, key: a.b, above: 1}
  - metric: {file: x.json, key: a.b, above: 1}
steps:
  a: {run: "true"}
YAML
kiln_rc validate "$T/bad.yaml"
eq "bad metric triggers: 2" 2 "$rc"
contains "pipeline: needs key" "bad.yaml:3:5: error: metric trigger: pipeline: needs \"key: STEP.KEY\"" "$err"
contains "a key without a step" "bad.yaml:4:5: error: metric trigger: pipeline: needs" "$err"
contains "two sources" "bad.yaml:5:5: error: metric trigger: give one of \"url:\", \"file:\" or \"pipeline:\"" "$err"
contains "key: with file:" "bad.yaml:6:5: error: metric trigger: key: goes with pipeline:" "$err"
finish
