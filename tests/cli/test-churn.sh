# examples/churn end to end, as contrib/demo.sh runs it: a first run
# sweeps four models, picks the best by its validation AUC and deploys it;
# the second is entirely cached; a large shift is stopped by
# validation; a worse model is gated and production stays; a drifted batch
# makes kiln serve retrain, and the new model becomes the challenger
# (test-churn-loop follows it to its promotion).
. "$(dirname "$0")/lib.sh"
# In a repository, as a user's project is: runs are pinned to a commit
# (kiln reproduce checks it out again).
churn_example
production() { q "select version from model_aliases a where name = 'churn' and alias = 'production' and id = (select max(id) from model_aliases where name = 'churn' and alias = 'production')"; }

kiln_rc run pipeline.yaml
eq "the first run succeeds" 0 "$rc"
eq "every step ran, the sweep's four items too" "ingest validate train[max_depth=2,learning_rate=0.05] train[max_depth=2,learning_rate=0.1] train[max_depth=3,learning_rate=0.05] train[max_depth=3,learning_rate=0.1] pick evaluate deploy" \
    "$(q "select step from run_steps where run_id = 1 and status = 'succeeded' order by position" | tr '\n' ' ' | sed 's/ $//')"
eq "each item's validation AUC is recorded" 4 "$(q "select count(*) from metrics where run_id = 1 and step like 'train[%' and key = 'val_auc' and value > 0.9")"
best=$(q "select step from metrics where run_id = 1 and key = 'val_auc' and step like 'train[%' order by value desc, step limit 1")
contains "pick chose the best item" "selected $best (val_auc" "$(q "select reason from run_steps where run_id = 1 and step = 'pick'")"
check "the deployed model is the winner's bytes" cmp serving/model.pkl "models/model-$(echo "$best" | sed 's/.*max_depth=\([0-9]*\),learning_rate=\([0-9.]*\)]/\1-\2/').pkl"
kiln_rc compare 1:train --sort train.val_auc --format csv
eq "kiln compare lists the four items" 5 "$(printf '%s\n' "$out" | wc -l)"
eq "version 1 is in production" 1 "$(production)"
check "the metrics are recorded" test "$(q "select value > 0.9 from metrics where run_id = 1 and key = 'auc'")" = 1
check "the served model exists" test -s serving/model.pkl

kiln_rc run pipeline.yaml
eq "the second run succeeds" 0 "$rc"
# (evaluate reads churn@production, which run 1 promoted: it runs again;
# deploy is gated now that there is a production model, and challenge
# too: the model is production's bytes, nothing new to try.)
eq "cached but evaluate" "cached cached cached cached cached cached cached succeeded" \
    "$(q "select status from executions where run_id = 2 order by id" | tr '\n' ' ' | sed 's/ $//')"

kiln_rc run pipeline.yaml --param shift=3
eq "a large shift fails the run" 1 "$rc"
eq "validation catches it: the sweep is skipped" "failed skipped skipped skipped skipped skipped" \
    "$(q "select status from run_steps where run_id = 3 and (step in ('validate', 'pick') or step like 'train[%') order by position" | tr '\n' ' ' | sed 's/ $//')"
contains "naming the drifted columns" "FAIL radius: drift" "$("$KILN" logs 3 validate)"
eq "production untouched" 1 "$(production)"

kiln_rc run pipeline.yaml --param n_estimators=2
eq "a worse model: the run succeeds" 0 "$rc"
eq "its deploy is gated" gated "$(q "select status from run_steps where run_id = 4 and step = 'deploy'")"
eq "production stays on version 1" 1 "$(production)"
eq "and nothing new was registered" 1 "$(q "select count(*) from models")"

# The daemon: a first batch like the reference, then one that drifted.
/usr/bin/python3 simulate.py 0 > /dev/null
serve serve.log pipeline.yaml
wait_for "a quiet drift check" 30 '[ "$(q "select count(*) from trigger_checks where status = '"'quiet'"'")" -ge 1 ]'
/usr/bin/python3 simulate.py 0.5 > /dev/null
wait_for "the drift trigger fires" 30 '[ "$(q "select count(*) from runs where trigger = '"'drift'"'")" = 1 ]'
wait_for "the retrain ends" 60 '[ "$(q "select status from runs where trigger = '"'drift'"'")" = succeeded ]'
eq "the retrained model is the challenger" 2 "$(q "select version from model_aliases where alias = 'challenger' order by id desc limit 1")"
eq "production stays until it wins live (score.yaml)" 1 "$(production)"
# The status page shows it (the README's screenshots come from here).
W=$KILN_SRC/tests/web
if [ -x /usr/bin/chromium ] && command -v node > /dev/null &&
   [ -d "$W/node_modules/playwright-core" ]; then
    KILN_URL=$(web_url) RUN=$(q "select id from runs where trigger = 'drift'") \
        KILN_WEB_SHOTS=${KILN_WEB_SHOTS:-$T/screenshots} \
        timeout 60 node "$W/churn-ui.mjs"
    eq "the status page shows the retrain" 0 "$?"
elif [ -n "${KILN_REQUIRE_BROWSER:-}" ]; then
    fail "no browser (chromium, node, npm ci in tests/web) for the status page"
else
    echo "status page not checked: no chromium, node or playwright-core"
fi
stop "$daemon"

# The first run reproduces identical, though incoming/ changed since (its
# inputs are put back from the store) and production moved (evaluate read
# no production model then, and reads none now); nothing is deployed.
kiln_rc reproduce 1
eq "the first run reproduces identical" 0 "$rc"
contains "the model identical" "pick             models/model.pkl             identical" "$out"
contains "the metrics identical" "evaluate         reports/metrics.json         identical" "$out"
eq "production did not move" 1 "$(production)"
finish
