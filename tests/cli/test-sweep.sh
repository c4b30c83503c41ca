# Sweeps: a 3x2 matrix runs its 6 items, at most max_parallel at once
# (the steps write when they start and end), each with its own params and
# metrics; the step needing it waits for every item and reads them in
# $KILN_UPSTREAM; an unchanged sweep is served from the cache, and a
# changed value re-runs only its items; a failed item under fail_fast
# and under continue; select: picks the best item, its gate reads the
# winner's metrics.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/p"
cd "$T/p" || exit 1
command -v python3 >/dev/null || exit 77

# sweep LR_VALUES ON_FAILURE: the pipeline; the item whose "lr-depth" is
# the param fail_at ("0.1-2") exits 1 at once.
sweep() {
    cat > s.yaml <<YAML
pipeline: s
params: {lr: 0.5, depth: 9, fail_at: none}
steps:
  train:
    run: |
      echo "start \$(date +%s%N) \$KILN_STEP" >> times.log
      test "\$KILN_PARAM_LR-\$KILN_PARAM_DEPTH" != "\$KILN_PARAM_FAIL_AT" || exit 1
      sleep 0.3
      mkdir -p models
      echo "\$KILN_PARAM_LR \$KILN_PARAM_DEPTH" > models/\$KILN_PARAM_LR-\$KILN_PARAM_DEPTH.txt
      echo "{\"score\": \$(awk -v l=\$KILN_PARAM_LR -v d=\$KILN_PARAM_DEPTH 'BEGIN { print l * d }')}" > \$KILN_METRICS
      echo "end \$(date +%s%N) \$KILN_STEP" >> times.log
    outputs: ["models/{lr}-{depth}.txt"]
    matrix:
      lr: [$1]
      depth: {from: 1, to: 2, step: 1}
      max_parallel: 2
      on_failure: $2
  report:
    needs: [train]
    run: cp \$KILN_UPSTREAM upstream.json
  pick:
    needs: [train]
    select: {from: train, metric: score, mode: max}
    when: metrics.selected.score > 0.5
    run: env | grep '^KILN_SELECTED_' | sort > selected.txt
YAML
}
last() { q "select max(id) from runs"; }
status() { q "select status || ':' || coalesce(reason, '') from run_steps where run_id=$1 and step='$2'"; }

sweep "0.1, 0.2, 0.3" fail_fast
kiln_rc validate s.yaml
eq "validate: 8 steps" 's.yaml: ok (pipeline "s", 8 steps)' "$out"
kiln_rc run s.yaml -j 6
eq "the sweep ran" 0 "$rc"
r1=$(last)
eq "6 items ran" 6 "$(grep -c '^start' times.log)"
eq "each item succeeded" 6 "$(q "select count(*) from run_steps where run_id=$r1 and step like 'train[%' and status='succeeded'")"
# At most 2 at once, and 2 at some point: replay the starts and ends.
par=$(sort -k2,2n times.log | awk '$1 == "start" { n++; if (n > m) m = n } $1 == "end" { n-- } END { print m }')
eq "at most max_parallel (2) at once" 2 "$par"
eq "each item's metrics" "0.1 0.2 0.2 0.4 0.3 0.6" "$(q "select value from metrics where run_id=$r1 order by step" | tr '\n' ' ' | sed 's/ $//')"
check "the item's params reached it" grep -qx "0.3 2" models/0.3-2.txt
eq "the item's cache key has its params" '{"depth":"2","fail_at":"none","lr":"0.3"}' "$(q "select json_extract(key_doc, '\$.params') from executions where run_id=$r1 and step='train[lr=0.3,depth=2]'")"
eq "report saw 6 items" 6 "$(python3 -c 'import json; print(len(json.load(open("upstream.json"))["steps"]))')"
eq "an item in KILN_UPSTREAM" "train[lr=0.2,depth=2] train {'lr': '0.2', 'depth': '2'} succeeded {'score': 0.4} $T/p/models/0.2-2.txt" \
   "$(python3 -c 'import json
e = json.load(open("upstream.json"))["steps"][3]
print(e["step"], e["matrix"], e["params"], e["status"], e["metrics"], " ".join(e["outputs"]))')"
eq "select: the winner's params, metrics and outputs" "KILN_SELECTED_METRIC_SCORE=0.6
KILN_SELECTED_OUTPUTS=$T/p/models/0.3-2.txt
KILN_SELECTED_PARAM_DEPTH=2
KILN_SELECTED_PARAM_LR=0.3
KILN_SELECTED_STEP=train[lr=0.3,depth=2]" "$(cat selected.txt)"
eq "the choice is the step's reason" "succeeded:selected train[lr=0.3,depth=2] (score 0.6, the max of 6 items)" "$(status "$r1" pick)"
kiln_rc show "$r1" --json
eq "the ranking in the record (kiln show --json, the API)" "train[lr=0.3,depth=2] 0.6 train[lr=0.2,depth=2] train[lr=0.1,depth=1] True" "$(printf '%s' "$out" | python3 -c 'import json, sys
st = [s for s in json.load(sys.stdin)["steps"] if s["name"] == "pick"][0]
sel, g = st["gate"]["select"], st["gate"]
print(sel["selected"], sel["value"], sel["ranking"][1]["step"], sel["ranking"][-1]["step"], g["passed"])')"
kiln_rc show "$r1"
contains "kiln show says which" "selected train[lr=0.3,depth=2] (score 0.6" "$out"
contains "kiln show ranks them" "ranking by score (max): train[lr=0.3,depth=2] 0.6, train[lr=0.2,depth=2] 0.4, train[lr=0.3,depth=1] 0.3," "$out"
kiln_rc dag s.yaml
contains "kiln dag: report needs every item" "report                task      <- train[lr=0.1,depth=1], train[lr=0.1,depth=2]" "$out"

# Unchanged: every item from the cache.
rm times.log
kiln_rc run s.yaml -j 6
r2=$(last)
check "nothing ran again" test ! -e times.log
eq "6 items cached" 6 "$(q "select count(*) from run_steps where run_id=$r2 and reason='cached from run $r1'")"
eq "their metrics are the run's too" 6 "$(q "select count(*) from metrics where run_id=$r2")"

# 0.3 becomes 0.4: only its two items run.
sweep "0.1, 0.2, 0.4" fail_fast
kiln_rc run s.yaml -j 6
r3=$(last)
eq "only lr=0.4 ran" "train[lr=0.4,depth=1] train[lr=0.4,depth=2]" "$(grep '^start' times.log | awk '{ print $3 }' | sort | tr '\n' ' ' | sed 's/ $//')"
eq "the rest cached" "4" "$(q "select count(*) from run_steps where run_id=$r3 and reason like 'cached from run %'")"

# A matrix step's name in --only, --from and kiln retry --from: its items.
kiln_rc run s.yaml -j 6 --only train
eq "--only train: exit 0" 0 "$rc"
eq "--only train: 6 items, nothing else" "6 skipped:not selected (--only train)" "$(q "select count(*) from run_steps where run_id=$(last) and step like 'train[%' and status='succeeded'") $(status "$(last)" report)"
rm -f times.log
kiln_rc retry "$r3" --from train
eq "retry --from train: exit 0" 0 "$rc"
eq "retry --from train: the items again (from the cache)" 6 "$(q "select count(*) from run_steps where run_id=$(last) and step like 'train[%' and reason like 'cached from run %'")"

# fail_fast: lr=0.1,depth=2 fails at once, while lr=0.1,depth=1 runs:
# the items not started never start, and report does not run.
rm -rf times.log models "$KILN_STATE"
kiln_rc run s.yaml -j 6 --param fail_at=0.1-2
eq "fail_fast: exit 1" 1 "$rc"
r4=$(last)
eq "the item failed" "failed" "$(q "select status from run_steps where run_id=$r4 and step='train[lr=0.1,depth=2]'")"
eq "the others not started are skipped" "skipped:item \"train[lr=0.1,depth=2]\" failed (on_failure: fail_fast)" "$(status "$r4" 'train[lr=0.4,depth=2]')"
eq "2 ran" 2 "$(grep -c '^start' times.log)"
eq "report skipped" "skipped" "$(q "select status from run_steps where run_id=$r4 and step='report'")"

# The gate reads the winner: below 0.5 it says no.
sed 's/> 0.5/> 0.9/' s.yaml > g.yaml
kiln_rc run g.yaml -j 6
eq "a gate on metrics.selected: exit 0" 0 "$rc"
contains "gated by the winner's metric" "gated: metrics.selected.score > 0.9 was false (metrics.selected.score = 0.8)" "$(status "$(last)" pick)"

# continue: every other item runs, report runs with them and is told.
sweep "0.1, 0.2, 0.4" continue
rm -rf times.log models "$KILN_STATE" upstream.json
kiln_rc run s.yaml -j 6 --param fail_at=0.1-2
eq "continue: the run still fails (an item did)" 1 "$rc"
r5=$(last)
eq "5 items succeeded" 5 "$(q "select count(*) from run_steps where run_id=$r5 and step like 'train[%' and status='succeeded'")"
eq "report ran" "succeeded" "$(q "select status from run_steps where run_id=$r5 and step='report'")"
eq "select: among those that succeeded" "succeeded:selected train[lr=0.4,depth=2] (score 0.8, the max of 5 items)" "$(status "$r5" pick)"
eq "KILN_UPSTREAM says which failed" "train[lr=0.1,depth=2]" "$(python3 -c 'import json
print(" ".join(e["step"] for e in json.load(open("upstream.json"))["steps"] if e["status"] == "failed"))')"
contains "the run's reason names the item" 'step "train[lr=0.1,depth=2]" failed' "$(q "select reason from runs where id=$r5")"

# continue, taken over (kiln resume) after kiln died: the failed item
# does not stop what needs the matrix step.
cat > k.yaml <<'YAML'
pipeline: k
params: {n: 0}
steps:
  work:
    run: test "$KILN_PARAM_N" = 2 || exit 1; while [ ! -e go ]; do sleep 0.05; done
    matrix: {n: [1, 2], on_failure: continue}
  after: {needs: [work], run: "echo after > after.txt"}
YAML
"$KILN" run k.yaml >/dev/null 2>&1 &
runner=$!
wait_for "work[n=2] runs" 10 '[ "$(q "select group_concat(status) from run_steps where step like '"'work[%'"' and run_id = (select max(id) from runs)")" = failed,running ]'
kid=$(last)
kill -9 "$runner"
wait "$runner" 2>/dev/null
touch go
kiln_rc resume "$kid"
eq "resumed: exit 1 (an item failed)" 1 "$rc"
eq "after ran" "succeeded" "$(q "select status from run_steps where run_id=$kid and step='after'")"
check "after.txt made" test -e after.txt

# The API: the pipeline's DAG says which steps are items, of what, with
# which values, and which step selects; the run has the decision.
if command -v curl >/dev/null; then
    TOKEN=0123456789abcdef-test-token
    printf '%s\n' "$TOKEN" > "$T/token"
    chmod 600 "$T/token"
    mkdir -p "$T/d"
    cp s.yaml "$T/d/s.yaml"
    serve serve.log --token-file "$T/token" "$T/d"
    wait_for "the web URL" 10 '[ -n "$(web_url)" ]'
    body=$(curl -s -H "Authorization: Bearer $TOKEN" "$(web_url)api/v1/pipelines/s")
    eq "API: an item, its matrix and values; the select step" "train[lr=0.4,depth=1] train {'lr': '0.4', 'depth': '1'} 6 {'from': 'train', 'metric': 'score', 'mode': 'max'}" \
       "$(printf '%s' "$body" | python3 -c 'import json, sys
n = json.load(sys.stdin)["dag"]["nodes"]
it, pick = n[4], [x for x in n if x["name"] == "pick"][0]
print(it["name"], it["matrix"], it["item_params"], len(pick["needs"]), pick["select"])')"
    body=$(curl -s -H "Authorization: Bearer $TOKEN" "$(web_url)api/v1/runs/$r5")
    eq "API: the run's selection" "train[lr=0.4,depth=2] 5" "$(printf '%s' "$body" | python3 -c 'import json, sys
st = [s for s in json.load(sys.stdin)["steps"] if s["name"] == "pick"][0]
print(st["gate"]["select"]["selected"], len(st["gate"]["select"]["ranking"]))')"
fi

# A join of more than 1,000 steps: its $KILN_UPSTREAM is written to the
# file entry by entry and hashed from there, never whole in memory.
mkdir -p "$T/wide"
/usr/bin/python3 - "$T/wide/wide.yaml" <<'PY'
import sys
n = 1001
with open(sys.argv[1], "w") as f:
    f.write("pipeline: wide\nsteps:\n")
    for i in range(n):
        f.write(f"  b{i}: {{run: \": > o{i}.txt\", outputs: [o{i}.txt]}}\n")
    f.write("  join:\n    needs: [" + ", ".join(f"b{i}" for i in range(n)) +
            "]\n    run: sh -c 'cp $KILN_UPSTREAM upstream.json; "
            "basename $KILN_UPSTREAM > name.txt'\n")
PY
kiln_rc run "$T/wide/wide.yaml" --jobs 2
eq "the wide run succeeds" 0 "$rc"
eq "KILN_UPSTREAM of 1,001 steps, in order, with their outputs" \
    "1001 b0 b1000 $T/wide/o1000.txt succeeded" \
    "$(/usr/bin/python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))["steps"]
print(len(s), s[0]["step"], s[-1]["step"], s[-1]["outputs"][0], s[-1]["status"])' "$T/wide/upstream.json")"
check "named by its hash" grep -qE '^upstream-[0-9a-f]{32}\.json$' "$T/wide/name.txt"
eq "no file left beside it" "" \
    "$(find "$KILN_STATE/logs" -name 'upstream*.tmp')"

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
