# Cache keys that match what a step reads (issue 14): models: versions,
# kind: deploy, params: lists, environment: captures; kiln why names what
# differed, old and new; kiln show --env prints the captured texts; kiln
# run --dry-run says what would run and why, and changes nothing.
. "$(dirname "$0")/lib.sh"
cd "$T"
pipeline k <<'YAML'
pipeline: k
params: {a: 1, b: 2, gate: 5}
steps:
  ingest:
    kind: ingest
    params: []
    run: echo run >> ingest.count; cp data.csv raw.csv
    inputs: [data.csv]
    outputs: [raw.csv]
  train:
    kind: train
    needs: [ingest]
    params: [a]
    run: |
      echo run >> train.count
      mkdir -p models && cat raw.csv > models/m.txt
      env | grep '^KILN_PARAM_' | sort > train.env
    inputs: [raw.csv]
    outputs: [models/m.txt]
    register: {model: m, path: models/m.txt}
  evaluate:
    kind: evaluate
    needs: [train]
    params: []
    models: [m@production]
    run: |
      echo run >> evaluate.count
      cat "$KILN_MODEL_M" > score.txt
      echo "$KILN_MODEL_M $KILN_MODEL_M_PRODUCTION" > evaluate.model
      stat -c %a "$KILN_MODEL_M" >> evaluate.model
      env | grep '^KILN_PARAM_' | sort > evaluate.env
    outputs: [score.txt]
  report:
    needs: [train]
    run: echo run >> report.count; env | grep '^KILN_PARAM_' | sort > report.txt
    outputs: [report.txt]
  deploy:
    kind: deploy
    needs: [evaluate]
    params: []
    run: echo run >> deploy.count; cp score.txt deployed.txt
    inputs: [score.txt]
    outputs: [deployed.txt]
  deploy_cached:
    kind: deploy
    cache: true
    needs: [evaluate]
    params: []
    run: echo run >> deploy_cached.count; cp score.txt shipped.txt
    inputs: [score.txt]
    outputs: [shipped.txt]
  envstep:
    params: []
    environment: {files: [req.txt], commands: [cat ver.txt]}
    run: echo run >> envstep.count; echo made > env.txt
    outputs: [env.txt]
  tick:
    params: []
    run: echo run >> tick.count
  side:
    params: []
    cache: false
    run: echo run >> side.count; echo side > side.txt
    outputs: [side.txt]
YAML
STEPS="ingest train evaluate report deploy deploy_cached envstep tick side"
counts() {
    for s in $STEPS; do printf '%s ' "$(cat $s.count 2>/dev/null | wc -l)"; done |
        sed 's/ $//'
}
sha12() { sha256sum "$1" | cut -c1-12; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
# js EXPR: evaluate EXPR on the JSON in $out (t).
js() { printf '%s' "$out" | /usr/bin/python3 -c "import json, sys; t = json.load(sys.stdin); print($1)"; }
# verdict STEP: what the dry run in $out says of STEP (after its name).
verdict() { printf '%s\n' "$out" | sed -n "s/^  $1  *//p" | head -1; }
# snapshot: every file and directory under $T (the state too), with the
# hash of each file's bytes.
snapshot() {
    find . | sort
    find . -type f | sort | xargs sha256sum
}
# dry ARGS...: kiln run k.yaml --dry-run ARGS, its output in $out and
# nothing written under $T (kiln_rc keeps its output in $T).
dry() { out=$("$KILN" run k.yaml --dry-run "$@" 2>/dev/null); rc=$?; }
echo "id,x" > data.csv
echo "numpy==1.26" > req.txt
echo "v1" > ver.txt

# A dry run with no records yet: everything would run, evaluate's model
# does not exist, and not even the state directory is made.
kiln_rc run k.yaml --dry-run
eq "dry run, no state: exit" 0 "$rc"
eq "dry run, no state: ingest" "would run" "$(verdict ingest)"
eq "dry run, no state: evaluate" \
    "would fail unless train (which runs first) changes this: model m has no alias production" \
    "$(verdict evaluate)"
eq "dry run, no state: deploy" \
    "would run: kind: deploy is never served from the cache" "$(verdict deploy)"
eq "dry run, no state: tick" \
    "would run: it declares no outputs to restore" "$(verdict tick)"
eq "dry run, no state: side" "would run: cache: false" "$(verdict side)"
contains "dry run: summary" "9 steps would run, 0 would be served from the cache" "$out"
check "dry run made no state directory" test ! -e "$KILN_STATE"
eq "dry run ran no step" "0 0 0 0 0 0 0 0 0" "$(counts)"
check "dry run wrote no output" test ! -e raw.csv

# Run 1: no production model yet, so evaluate cannot start.
kiln_rc run k.yaml
eq "run 1 fails at evaluate" 1 "$rc"
contains "evaluate's reason" "model m has no alias production" \
    "$(q "select reason from run_steps where run_id = 1 and step = 'evaluate'")"
eq "run 1 counts" "1 1 0 1 0 0 1 1 1" "$(counts)"
v1=$(sha models/m.txt)
kiln_rc models promote m 1 production
eq "promote v1" 0 "$rc"

# Run 2: evaluate reads a read-only copy of version 1.
kiln_rc run k.yaml
eq "run 2" 0 "$rc"; [ "$rc" = 0 ] || echo "$err" >&2
eq "run 2: evaluate and both deploys ran, the rest cached" \
    "1 1 1 1 1 1 1 2 2" "$(counts)"
eq "evaluate read version 1's bytes" "$v1" "$(sha score.txt)"
eq "through KILN_MODEL_M and KILN_MODEL_M_PRODUCTION, a read-only copy" \
    "$KILN_STATE/models/m/1/m.txt $KILN_STATE/models/m/1/m.txt
444" "$(cat evaluate.model)"
eq "the version is an input of evaluate" "model|$v1" \
    "$(q "select a.type || '|' || a.sha256 from events ev join artifacts a on a.id = ev.artifact_id join executions e on e.id = ev.execution_id where e.run_id = 2 and e.step = 'evaluate' and ev.type = 'input'")"

# Run 3: nothing changed. evaluate and the deploy with cache: true are
# served from the cache; the other deploy runs anyway.
kiln_rc run k.yaml
eq "run 3" 0 "$rc"
eq "run 3: deploy ran, deploy_cached did not" "1 1 1 1 2 1 1 3 3" "$(counts)"
eq "run 3 statuses" "deploy|succeeded deploy_cached|cached evaluate|cached" \
    "$(q "select step || '|' || status from executions where run_id = 3 and step in ('evaluate', 'deploy', 'deploy_cached') order by step" | tr '\n' ' ' | sed 's/ $//')"
kiln_rc why 3 evaluate
eq "why, cached: exit" 0 "$rc"
contains "why names the model version in the key" \
    "  model m@production: version 1 (${v1:0:12})" "$out"
contains "why: served from the cache" \
    "served from the cache: run 2 made its outputs with the same key" "$out"
kiln_rc why 3 evaluate --json
eq "why --json, cached" "cached [] None 1 $v1" \
    "$(js 't["outcome"], t["changes"], t["compared_with_run"], t["key"]["models"]["m@production"]["version"], t["key"]["models"]["m@production"]["sha256"]')"
kiln_rc why 3 deploy
contains "why: a deploy step ran with the same key" \
    "it ran with the same key as run 2: its cache was not used" "$out"
kiln_rc why 3 deploy --json
eq "why --json, deploy" "ran [] deploy" \
    "$(js 't["outcome"], t["changes"], t["key"]["kind"]')"
kiln_rc why 3 deploy_cached --json
eq "why --json, deploy with cache: true" "cached" "$(js 't["outcome"]')"

# Params: a step sees only the params it lists, none for params: [];
# without a list, all of them.
eq "train sees only KILN_PARAM_A" "KILN_PARAM_A=1" "$(cat train.env)"
eq "evaluate (params: []) sees none" "" "$(cat evaluate.env)"
eq "report (no list) sees all" "KILN_PARAM_A=1
KILN_PARAM_B=2
KILN_PARAM_GATE=5" "$(cat report.txt)"

# Run 4: a changed input re-runs what reads it. train registers version
# 2; production is still on 1, so evaluate is served from the cache.
old_data=$(sha12 data.csv) old_raw=$(sha12 raw.csv)
echo "id,y" > data.csv
new_data=$(sha12 data.csv)
kiln_rc run k.yaml
eq "run 4" 0 "$rc"
eq "run 4: ingest and train ran, evaluate did not" "2 2 1 1 3 1 1 4 4" "$(counts)"
new_raw=$(sha12 raw.csv)
v2=$(sha models/m.txt)
eq "version 2 registered" "2|$v2" \
    "$(q "select m.version || '|' || a.sha256 from models m join artifacts a on a.id = m.artifact_id where m.name = 'm' and m.version = 2")"
kiln_rc why 4 ingest
contains "why names the changed input, old and new" \
    "  input data.csv: $old_data -> $new_data" "$out"
contains "against run 3" "against run 3 (the closest earlier execution):" "$out"
kiln_rc why 4 train --json
eq "why --json: train's changed input" "ran ['input raw.csv: $old_raw -> $new_raw'] 3" \
    "$(js 't["outcome"], t["changes"], t["compared_with_run"]')"

# Run 5: production promoted to version 2: evaluate runs again and reads
# version 2; why names the model versions.
kiln_rc models promote m 2 production
kiln_rc run k.yaml
eq "run 5" 0 "$rc"
eq "run 5: evaluate ran after the promotion" "2 2 2 1 4 2 1 5 5" "$(counts)"
eq "evaluate read version 2's bytes" "$v2" "$(sha score.txt)"
eq "the version it read is recorded" "$v2" \
    "$(q "select a.sha256 from events ev join artifacts a on a.id = ev.artifact_id join executions e on e.id = ev.execution_id where e.run_id = 5 and e.step = 'evaluate' and ev.type = 'input'")"
kiln_rc why 5 evaluate
contains "why names the model version, old and new" \
    "  model m@production: version 1 (${v1:0:12}) -> version 2 (${v2:0:12})" "$out"
kiln_rc why 5 evaluate --json
eq "why --json: the model change" \
    "ran ['model m@production: version 1 (${v1:0:12}) -> version 2 (${v2:0:12})'] 4" \
    "$(js 't["outcome"], t["changes"], t["compared_with_run"]')"
kiln_rc why 5 deploy_cached --json
eq "deploy_cached ran after evaluate's new output" "ran" "$(js 't["outcome"]')"

# Run 6: rolled back to version 1: evaluate's key is run 4's again.
kiln_rc models rollback m production
kiln_rc run k.yaml
eq "run 6" 0 "$rc"
eq "run 6: evaluate cached after the rollback" "2 2 2 1 5 2 1 6 6" "$(counts)"
eq "and version 1's score is back" "$v1" "$(sha score.txt)"
kiln_rc why 6 evaluate --json
eq "why --json: served run 4's entry, which run 2 made" "cached 4 2 []" \
    "$(js 't["outcome"], t["cached_from_run"], t["made_by_run"], t["changes"]')"
kiln_rc why 6 evaluate
contains "why names the run that made the outputs" \
    "served from the cache: run 2 made its outputs with the same key (reached through run 4, itself served from the cache)" "$out"

# Run 7: a param no step lists re-runs only the step without a params:
# list (and the deploy steps, which run anyway or read nothing else).
kiln_rc run k.yaml --param gate=9
eq "run 7" 0 "$rc"
eq "run 7: only report re-ran for gate" "2 2 2 2 6 2 1 7 7" "$(counts)"
eq "run 7 statuses" "deploy_cached|cached envstep|cached evaluate|cached ingest|cached report|succeeded train|cached" \
    "$(q "select step || '|' || status from executions where run_id = 7 and step not in ('deploy', 'tick', 'side') order by step" | tr '\n' ' ' | sed 's/ $//')"
kiln_rc why 7 report
contains "why names the param, old and new" "  param gate: 5 -> 9" "$out"
kiln_rc why 7 report --json
eq "why --json: the param change" "ran ['param gate: 5 -> 9'] 6" \
    "$(js 't["outcome"], t["changes"], t["compared_with_run"]')"
kiln_rc why 7 train
contains "train's key has only a" "  param a: 1
  pipeline env: none" "$out"
contains "train was served from the cache" "served from the cache" "$out"
kiln_rc why 7 envstep
contains "params: [] has none in the key" "  params: none" "$out"
# Run 8: a param train lists re-runs it (and report).
kiln_rc run k.yaml --param gate=9 --param a=3
eq "run 8" 0 "$rc"
eq "run 8: train and report re-ran for a" "2 3 2 3 7 2 1 8 8" "$(counts)"
eq "train sees the new a, still not b" "KILN_PARAM_A=3" "$(cat train.env)"
kiln_rc why 8 train --json
eq "why --json: param a" "['param a: 1 -> 3']" "$(js 't["changes"]')"

# Environment captures: a lock file edited, a command's output changed.
req1=$(sha12 req.txt) ver1=$(sha12 ver.txt)
echo "numpy==2.0" > req.txt
req2=$(sha12 req.txt)
kiln_rc run k.yaml
eq "run 9" 0 "$rc"
eq "run 9: the lock file changed, envstep ran" "2 3 2 3 8 2 2 9 9" "$(counts)"
kiln_rc why 9 envstep
contains "why names the lock file, old and new" \
    "  environment file req.txt: $req1 -> $req2" "$out"
echo "v2" > ver.txt
ver2=$(sha12 ver.txt)
kiln_rc run k.yaml
eq "run 10" 0 "$rc"
eq "run 10: the command's output changed, envstep ran" "2 3 2 3 9 2 3 10 10" "$(counts)"
kiln_rc why 10 envstep --json
eq "why --json names the command, old and new" \
    "ran ['environment command cat ver.txt: $ver1 -> $ver2'] 9" \
    "$(js 't["outcome"], t["changes"], t["compared_with_run"]')"
eq "the key holds the captures' whole hashes" "$(sha req.txt) $(sha ver.txt)" \
    "$(js 't["key"]["environment"]["file req.txt"], t["key"]["environment"]["command cat ver.txt"]')"
kiln_rc show 10 --env envstep
eq "show --env: exit" 0 "$rc"
contains "show --env prints the lock file" "== file req.txt (sha256 $req2)
numpy==2.0" "$out"
contains "show --env prints the command's output" "== command cat ver.txt (sha256 $ver2)
v2" "$out"
kiln_rc show 10 --env envstep --json
eq "show --env --json" "numpy==2.0
|$(sha req.txt)|v2" "$(js 't["file req.txt"]["text"] + "|" + t["file req.txt"]["sha256"] + "|" + t["command cat ver.txt"]["text"]')"
kiln_rc run k.yaml
eq "run 11: nothing changed, envstep cached" "2 3 2 3 10 2 3 11 11" "$(counts)"
eq "each captured text stored once" 4 "$(q 'select count(*) from captures')"
kiln_rc show 11 --env envstep
contains "a cached step's captures are recorded too" "== file req.txt (sha256 $req2)" "$out"

# A command of several lines: why shows the line that changed.
sed -i 's/cat "\$KILN_MODEL_M" > score.txt/cat "$KILN_MODEL_M" "$KILN_MODEL_M" > score.txt/' k.yaml
kiln_rc run k.yaml
eq "run 12" 0 "$rc"
kiln_rc why 12 evaluate
contains "why shows the changed line of the command" \
    '  command, line 2: "cat "$KILN_MODEL_M" > score.txt" -> "cat "$KILN_MODEL_M" "$KILN_MODEL_M" > score.txt"' "$out"

# --dry-run: the verdicts, and nothing changes on disk or in the
# database. Every command that opens the database to read only (kiln
# why, show, runs, and a dry run) leaves SQLite's empty kiln.db-wal and
# its kiln.db-shm beside it when they were not there; a read first makes
# them, so that the dry run is compared with everything else as it is.
kiln_rc why 12 evaluate
before=$(snapshot)
db_before=$(sha "$KILN_STATE/kiln.db")
dry
eq "dry run: exit" 0 "$rc"
eq "dry run: ingest" "cached from run 12" "$(verdict ingest)"
eq "dry run: evaluate" "cached from run 12" "$(verdict evaluate)"
eq "dry run: deploy" "would run: kind: deploy is never served from the cache" \
    "$(verdict deploy)"
eq "dry run: deploy_cached" "cached from run 12" "$(verdict deploy_cached)"
eq "dry run: envstep" "cached from run 12" "$(verdict envstep)"
eq "dry run: side" "would run: cache: false" "$(verdict side)"
eq "dry run: tick" "would run: it declares no outputs to restore" "$(verdict tick)"
contains "dry run: summary" "3 steps would run, 6 would be served from the cache" "$out"
dry --param gate=9
eq "dry run, gate=9: report (no list)" "cached from run 7" "$(verdict report)"
dry --param b=4
eq "dry run, b=4: report would run" "would run" "$(verdict report)"
contains "dry run, b=4: why" "$(printf '  %-22s would run' report)
    because, against run 12:
      param b: 2 -> 4" "$out"
eq "dry run, b=4: train (params: [a]) cached" "cached from run 12" "$(verdict train)"
dry --no-cache
eq "dry run, --no-cache" "would run: kiln run --no-cache" "$(verdict ingest)"
contains "dry run, --no-cache: summary" "9 steps would run, 0 would" "$out"
dry --param a=7
eq "dry run, a=7: train would run" "would run" "$(verdict train)"
contains "dry run, a=7: why" "      param a: 1 -> 7" "$out"
eq "dry run, a=7: evaluate waits on train" \
    "cached from run 12 if train (which runs) makes the same outputs again" \
    "$(verdict evaluate)"
eq "dry run: database unchanged" "$db_before" "$(sha "$KILN_STATE/kiln.db")"
eq "dry run: no file changed, none made or removed" "$before" "$(snapshot)"
eq "dry run ran no step" "2 3 3 3 11 3 3 12 12" "$(counts)"
eq "dry run recorded no run" 12 "$(q 'select count(*) from runs')"

# What the dry run sees that changed since: edited files and a capture
# command's new output (it runs the capture commands, nothing else).
echo "id,z" > data.csv
echo "numpy==2.1" > req.txt
echo "v3" > ver.txt
kiln_rc runs
before=$(snapshot)
db_before=$(sha "$KILN_STATE/kiln.db")
dry
eq "dry run, edits: ingest" "would run" "$(verdict ingest)"
contains "dry run, edits: the input" \
    "      input data.csv: $new_data -> $(sha12 data.csv)" "$out"
eq "dry run, edits: train waits on ingest" \
    "cached from run 12 if ingest (which runs) makes the same outputs again" \
    "$(verdict train)"
eq "dry run, edits: envstep" "would run" "$(verdict envstep)"
contains "dry run, edits: the lock file" \
    "      environment file req.txt: $req2 -> $(sha12 req.txt)" "$out"
contains "dry run, edits: the command's output" \
    "      environment command cat ver.txt: $ver2 -> $(sha12 ver.txt)" "$out"
eq "dry run, edits: database unchanged" "$db_before" "$(sha "$KILN_STATE/kiln.db")"
after=$(snapshot)
eq "dry run, edits: no file changed" "$before" "$after"
[ "$before" = "$after" ] || diff <(echo "$before") <(echo "$after") >&2
kiln_rc run k.yaml
eq "the real run: ingest, train (its input changed after all), envstep" \
    "3 4 3 3 12 3 4 13 13" "$(counts)"

# environment: in defaults: applies to every step without its own; a
# step's own replaces it whole. cache: true in defaults: does not make a
# deploy step cached: only its own does.
pipeline d <<'YAML'
pipeline: d
defaults:
  cache: true
  environment: {files: [lock.txt]}
steps:
  plain: {run: 'echo run >> plain.count; echo p > p.txt', outputs: [p.txt]}
  own:
    environment: {commands: [echo fixed]}
    run: echo run >> own.count; echo o > o.txt
    outputs: [o.txt]
  ship: {kind: deploy, run: 'echo run >> ship.count; echo s > s.txt', outputs: [s.txt]}
YAML
echo one > lock.txt
kiln_rc run d.yaml; eq "d first" 0 "$rc"
echo two > lock.txt
kiln_rc run d.yaml; eq "d again" 0 "$rc"
eq "the defaults' lock file re-ran plain only" "2 1" \
    "$(echo $(wc -l < plain.count) $(wc -l < own.count))"
kiln_rc why 15 plain
contains "why names the defaults' lock file" \
    "  environment file lock.txt: $(printf 'one\n' | sha256sum | cut -c1-12) -> $(sha12 lock.txt)" "$out"
kiln_rc show 15 --env own
eq "own's captures replace the defaults'" "== command echo fixed (sha256 $(printf 'fixed\n' | sha256sum | cut -c1-12))
fixed" "$out"
kiln_rc run d.yaml; eq "d a third time" 0 "$rc"
eq "plain and own cached, the deploy step ran each time" "2 1 3" \
    "$(echo $(wc -l < plain.count) $(wc -l < own.count) $(wc -l < ship.count))"
# Gates: one on params decided now (gated, and what needs it skipped),
# one on a cached step's metrics too (as its run recorded them), one on
# a step that runs said to be decided then.
mkdir -p gates
cat > gates/g.yaml <<'YAML'
pipeline: g
params: {ship: 0, min: 0.3}
steps:
  train:
    params: []
    run: "echo '{\"acc\": 0.5}' > $KILN_METRICS; echo m > m.txt"
    outputs: [m.txt]
  deploy: {needs: [train], run: "echo deploy", when: "params.ship == 1"}
  after: {needs: [deploy], run: "echo after"}
  check: {needs: [train], run: "echo ok", when: "metrics.train.acc > params.min"}
YAML
gdry() { out=$(cd gates && "$KILN" run g.yaml --dry-run "$@" 2>/dev/null); rc=$?; }
gdry
eq "gates: params.ship == 1 false now" \
    "would be gated: params.ship == 1 is false (params.ship = 0)" "$(verdict deploy)"
eq "gates: what needs it skipped" "would be skipped: deploy is gated or skipped" "$(verdict after)"
contains "gates: on metrics of a step that runs, decided then" \
    "    if its gate holds: metrics.train.acc > params.min is decided when it runs (it reads metrics of train, which runs first)" "$out"
contains "gates: the summary" "2 steps would run, 0 would be served from the cache, 2 gated or skipped" "$out"
(cd gates && "$KILN" run g.yaml > /dev/null 2>&1)
eq "gates: the real run agrees" "after skipped check succeeded deploy gated train succeeded" \
    "$(q "select step, status from run_steps where run_id = (select max(id) from runs) order by step" | tr '|\n' '  ' | sed 's/ $//')"
gdry --param min=0.9
eq "gates: on a cached step's metrics, decided now" \
    "would be gated: metrics.train.acc > params.min is false (metrics.train.acc = 0.5, params.min = 0.9)" \
    "$(verdict check)"
gdry
eq "gates: ... and holding" "would run: it declares no outputs to restore" "$(verdict check)"
# A reused step, by kiln retry or because kiln run --from needs it
# without picking it: kiln why says from which run (it said "recorded no
# key", or "served from the cache ... with the same key" when the key,
# looked up first, had changed).
mkdir -p "$T/reuse"
cd "$T/reuse"
cat > r.yaml <<'YAML'
pipeline: r
steps:
  a: {run: "cat in.txt > a.txt", inputs: [in.txt], outputs: [a.txt]}
  b: {needs: [a], run: "test -e ok && cp a.txt b.txt", outputs: [b.txt]}
YAML
echo 1 > in.txt
"$KILN" run r.yaml > /dev/null 2>&1
r1=$(q "select max(id) from runs")
touch ok
kiln_rc retry "$r1"
r2=$(q "select max(id) from runs")
eq "the retry ran" 0 "$rc"
kiln_rc why "$r2" a
eq "why, reused by a retry: exit" 0 "$rc"
contains "...says from which run" \
    "reused from run $r1: it did not run, nor was it served from the cache" "$out"
kiln_rc why "$r2" a --json
eq "why --json, reused by a retry" "reused $r1 None None" \
    "$(js 't["outcome"], t["reused_from_run"], t["cached_from_run"], t["key"]')"
old_in=$(sha12 in.txt)
echo 2 > in.txt
kiln_rc run r.yaml --from b
r3=$(q "select max(id) from runs")
kiln_rc why "$r3" a
contains "why, reused for --from: from the last run that made it" \
    "reused from run $r2: it did not run, nor was it served from the cache" "$out"
contains "...which run made its outputs" "; run $r1 made them" "$out"
contains "...and what in its key kept the cache from serving it" \
    "its key differs from that of run $r1, which made them, so the cache did not serve it:
  input in.txt: $old_in -> $(sha12 in.txt)" "$out"
cd "$T"
finish
