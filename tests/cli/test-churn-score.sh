# examples/churn's score pipeline (score.yaml): batches scored with
# churn@production, predictions with lineage to the model version and its
# training data, monitoring metrics (the distribution, the low-confidence
# share, PSI against the training set's scores, live accuracy and AUC once
# labels come back), the labelling queue, labelled rows joining the next
# retrain, and under kiln serve a batch the model is unsure of that makes
# the churn pipeline retrain, once, through its metric trigger.
. "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c 'import sklearn, yaml' 2>/dev/null || exit 77
churn_example
# metric KEY: the monitor step's KEY in the newest score run that has it.
metric() {
    q "select printf('%g', value) from metrics m join runs r on r.id = m.run_id where r.pipeline = 'score' and m.step = 'monitor' and m.key = '$1' order by m.run_id desc limit 1"
}
# within LO HI VALUE: LO <= VALUE <= HI.
within() { awk -v lo="$1" -v hi="$2" -v v="$3" 'BEGIN { exit !(v != "" && v >= lo && v <= hi) }'; }

kiln_rc run pipeline.yaml
eq "the churn model is trained and deployed" 0 "$rc"

# A first batch, like the training data.
/usr/bin/python3 batch.py b001 > /dev/null
kiln_rc run score.yaml
eq "the first batch is scored" 0 "$rc"
eq "every step ran" "baseline score monitor" \
    "$(q "select step from run_steps where run_id = 2 and status = 'succeeded' order by position" | tr '\n' ' ' | sed 's/ $//')"
eq "one prediction per row" 229 "$(wc -l < predictions/b001.csv)"
eq "predictions: id, probability, prediction" "id,probability,prediction" \
    "$(head -1 predictions/b001.csv)"
eq "228 rows monitored" 228 "$(metric rows)"
check "low_confidence_share in [0, 1]" within 0 1 "$(metric low_confidence_share)"
check "a like batch: few unsure" within 0 0.2 "$(metric low_confidence_share)"
check "PSI against the training scores >= 0" within 0 1000 "$(metric drift.probability.psi)"
check "the mean probability in [0, 1]" within 0 1 "$(metric mean)"
check "quantiles in order" awk -v a="$(metric p10)" -v b="$(metric p50)" \
    -v c="$(metric p90)" 'BEGIN { exit !(0 <= a && a <= b && b <= c && c <= 1) }'
check "the histogram sums to 1" within 0.999 1.001 \
    "$(q "select sum(value) from metrics where run_id = 2 and key like 'hist.%'")"
eq "no labels yet: no live accuracy" "" "$(metric live_accuracy)"
unsure=$(awk -F, 'NR > 1 && $2 >= 0.4 && $2 <= 0.6 { print "b001," $1 "," $2 }' predictions/b001.csv)
eq "the labelling queue holds the unsure rows" "$unsure" "$(tail -n +2 labels/queue.csv)"
eq "as many as the share says" "$(metric queue)" "$(printf '%s' "$unsure" | grep -c .)"
eq "the model version is an input of the step" "churn:1" \
    "$(q "select a.path from artifacts a join events e on e.artifact_id = a.id join executions x on x.id = e.execution_id where x.run_id = 2 and x.step = 'score' and a.type = 'model'" | sed 's/.*\(churn\).*/\1/'):$(q "select version from models where name = 'churn'")"
kiln_rc lineage predictions/b001.csv
eq "lineage of the predictions" 0 "$rc"
contains "made by the score step" "made by step score of run 2 (score)" "$out"
contains "from the batch" "incoming/batches/b001.csv" "$out"
contains "with the production model" "= model churn version 1, registered by run 1" "$out"
contains "back to its training data" "data/reference.csv" "$out"
contains "...made by the churn pipeline" "made by step ingest of run 1 (churn)" "$out"

kiln_rc run score.yaml
eq "nothing new: cached" "cached cached cached" \
    "$(q "select status from executions where run_id = 3 order by id" | tr '\n' ' ' | sed 's/ $//')"

# Labels for a second batch: live accuracy and AUC; its rows leave the queue.
/usr/bin/python3 batch.py b002 --labels > /dev/null
kiln_rc run score.yaml
eq "the labelled batch is scored" 0 "$rc"
eq "the baseline is reused (production did not move)" cached \
    "$(q "select status from executions where run_id = 4 and step = 'baseline'")"
eq "live accuracy on its 228 labels" 228 "$(metric live_labelled)"
check "live accuracy is good" within 0.8 1 "$(metric live_accuracy)"
check "live AUC is good" within 0.8 1 "$(metric live_auc)"
eq "the labelled batch is not queued" "" "$(grep '^b002,' labels/queue.csv)"
contains "the first batch's unsure rows still are" "$unsure" "$(cat labels/queue.csv)"

# The daemon: both pipelines. A batch the model cannot place pushes the
# low-confidence share over 0.2: the churn pipeline retrains, once.
serve serve.log .
wait_for "a quiet metric check" 30 '[ "$(q "select count(*) from trigger_checks where pipeline = '"'churn'"' and status = '"'quiet'"' and trigger like '"'metric%'"'")" -ge 1 ]'
/usr/bin/python3 batch.py b003 --unsure 0.4 > /dev/null
wait_for "the new batch is scored" 30 '[ "$(q "select count(*) from runs where pipeline = '"'score'"' and trigger = '"'data'"' and status = '"'succeeded'"'")" -ge 1 ]'
check "the share crossed 0.2" within 0.2 1 "$(metric low_confidence_share)"
check "and the predictions drifted" within 0.2 1000 "$(metric drift.probability.psi)"
wait_for "the retrain fires" 30 '[ "$(q "select count(*) from runs where pipeline = '"'churn'"' and trigger = '"'metric'"'")" = 1 ]'
wait_for "the retrain ends" 60 '[ "$(q "select status from runs where pipeline = '"'churn'"' and trigger = '"'metric'"'")" = succeeded ]'
retrain=$(q "select id from runs where pipeline = 'churn' and trigger = 'metric'")
last=$(q "select max(id) from trigger_checks where pipeline = 'churn' and trigger like 'metric%'")
wait_for "a later metric check" 30 '[ "$(q "select max(id) from trigger_checks where pipeline = '"'churn'"' and trigger like '"'metric%'"'")" -gt "$last" ]'
eq "it fired once" 1 "$(q "select count(*) from runs where pipeline = 'churn' and trigger = 'metric'")"
eq "the batch was scored once" 1 "$(q "select count(*) from runs where pipeline = 'score' and trigger = 'data'")"
kiln_rc triggers churn
contains "kiln triggers shows it" "fired" "$out"
contains "...when the share crossed 0.2" "metric  fired  $retrain" "$out"
kiln_rc triggers churn --json
contains "...read from the score pipeline's metric" '"target": "score:monitor.low_confidence_share"' "$out"
stop "$daemon"

eq "the retrain learnt from the labelled rows" 229 \
    "$(wc -l < data/labelled.csv)"
kiln_rc lineage models/model.pkl --run "$retrain"
contains "the retrained model's lineage reaches the labelled batch" \
    "incoming/batches/b002.labels.csv" "$out"
contains "...and the batch itself" "incoming/batches/b002.csv" "$out"
finish
