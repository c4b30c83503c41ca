# examples/churn's whole loop under kiln serve with the test clock (60x:
# the score pipeline's data trigger checks every second): the churn
# pipeline trains (kiln trigger, as CI would), deploys version 1, then a
# retrain on a shifted batch becomes the challenger; the score pipeline
# scores every batch with both, and once the challenger has two labelled
# live batches, its gated steps decide: the first challenger loses on
# batches like the training data and is retired, the second (trained on
# the labelled rows too) wins on shifted batches and is promoted, its
# bytes deployed; a rollback restores the old bytes. Every decision is a
# recorded gate, every alias move an audit row by the run; the status
# page's models view shows the versions, their live metrics and the
# alias history (chromium).
. "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c 'import sklearn, yaml' 2>/dev/null || exit 77
churn_example
alias_of() { q "select version from model_aliases where name = 'churn' and alias = '$1' and rolled_back = 0 order by id desc limit 1"; }
# scored NAME: the score run the data trigger started for NAME (a new or
# changed file under incoming/batches/), once it has finished. It was
# made after NAME was written, so it saw it; a run that an hourly fire
# or an earlier change started meanwhile may not have.
scored() { q "select c.run_id from trigger_checks c join runs r on r.id = c.run_id
    where c.pipeline = 'score' and c.trigger = 'data' and c.status = 'fired'
      and r.status in ('succeeded', 'failed')
      and exists (select 1 from json_each(c.detail, '\$.new') where value = '$1'
                  union all
                  select 1 from json_each(c.detail, '\$.changed') where value = '$1')
    order by c.id desc limit 1"; }
# batch NAME SHIFT: a batch arrives and is scored (the challenger scores
# it in shadow: its outcome is not known yet); its labels come back and
# it is scored again, now with live metrics: $scored_run.
batch() {
    /usr/bin/python3 batch.py "$1" "$2" > /dev/null
    wait_for "batch $1 scored" 60 '[ -n "$(scored '"$1.csv"')" ]'
    /usr/bin/python3 batch.py "$1" "$2" --labels-only > /dev/null
    wait_for "batch $1 scored with its labels" 60 \
        '[ -n "$(scored '"$1.labels.csv"')" ]'
    scored_run=$(scored "$1.labels.csv")
}
gate() { q "select json_extract(gate, '\$.passed') from run_steps where run_id = $1 and step = '$2'"; }

KILN_NOW=2026-03-02T08:00:00Z KILN_CLOCK_SPEED=60 serve serve.log .
wait_for "kiln serve is up" 30 '[ -n "$(web_url)" ]'
url=$(web_url)
kiln_rc trigger churn --wait
[ "$rc" = 0 ] || echo "kiln trigger: $out $err"
eq "the first model is trained and deployed" "0 1" "$rc $(alias_of production)"
kiln_rc trigger churn --param shift=0.5 --wait
eq "a retrain on a shifted batch: the challenger" "0 2 1" \
    "$rc $(alias_of challenger) $(alias_of production)"
"$KILN" models pull churn:1 --to "$T/v1.pkl" > /dev/null
check "production is still served" cmp serving/model.pkl "$T/v1.pkl"

# Batches like the training data: the challenger, trained to the shift,
# loses.
batch b001 0
run=$scored_run
eq "one labelled live batch: no decision yet" "0 0" "$(gate "$run" promote) $(gate "$run" retire)"
check "the challenger scored it in shadow" test -s predictions/challenger/v2/b001.csv
batch b002 0
run=$scored_run
eq "two: the challenger lost, retired" "0 1 succeeded" \
    "$(gate "$run" promote) $(gate "$run" retire) $(q "select status from run_steps where run_id = $run and step = 'retire'")"
eq "challenger points nowhere, production stays" "0 1" "$(alias_of challenger) $(alias_of production)"
eq "the decision's values are recorded" "2.0" \
    "$(q "select json_extract(gate, '\$.values.\"metrics.monitor.challenger.live_batches\"') from run_steps where run_id = $run and step = 'retire'")"
eq "audited as the run" "run $run alias.retired" \
    "$(q "select actor || ' ' || action from audit where target = 'model churn challenger' order by id desc limit 1")"

# A retrain (it learns from the labelled rows too) on shifted data; shifted
# batches: this challenger wins and is promoted.
kiln_rc trigger churn --param shift=0.5 --wait
eq "a new challenger" "0 3" "$rc $(alias_of challenger)"
batch b003 0.5
batch b004 0.5
run=$scored_run
eq "the challenger won, promoted" "1 0 succeeded" \
    "$(gate "$run" promote) $(gate "$run" retire) $(q "select status from run_steps where run_id = $run and step = 'promote'")"
eq "production is version 3, no challenger" "3 0" "$(alias_of production) $(alias_of challenger)"
"$KILN" models pull churn:3 --to "$T/v3.pkl" > /dev/null
check "its bytes are served (the deploy command ran)" cmp serving/model.pkl "$T/v3.pkl"
kiln_rc models history churn
contains "kiln models history: promoted by the run" "production     1       -> 3       run $run" "$out"
contains "...and the challenger retired" "challenger     3       -> none    run $run" "$out"
kiln_rc models --json
eq "live metrics per version" "3 challenger.live_auc 1 production.live_auc" "$(printf '%s' "$out" | python3 -c '
import json, sys
for v in json.load(sys.stdin):
    if v["version"] in (1, 3):
        print(v["version"], sorted(k for k in v["live_metrics"] if k.endswith("live_auc"))[0], end=" ")' | sed 's/ $//')"

W=$KILN_SRC/tests/web
if [ -x /usr/bin/chromium ] && command -v node > /dev/null &&
   [ -d "$W/node_modules/playwright-core" ]; then
    KILN_URL=$url KILN_WEB_SHOTS=${KILN_WEB_SHOTS:-$T/screenshots} \
        timeout 60 node "$W/churn-models.mjs"
    eq "the models view shows versions, live metrics and the history" 0 "$?"
elif [ -n "${KILN_REQUIRE_BROWSER:-}" ]; then
    fail "no browser (chromium, node, npm ci in tests/web) for the models view"
else
    echo "models view not checked: no chromium, node or playwright-core"
fi

# A rollback restores the old bytes.
kiln_rc models rollback churn production
eq "rollback: production is version 1 again" "0 1" "$rc $(alias_of production)"
check "its bytes are served again" cmp serving/model.pkl "$T/v1.pkl"
stop "$daemon"
finish
