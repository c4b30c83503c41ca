# kiln reproduce: a run re-executed as recorded (commit, params, model
# versions, inputs by hash) in a scratch tree, its outputs compared.
. "$(dirname "$0")/lib.sh"
git_identity
R=$T/repo
mkdir -p "$R/raw"
cd "$R"
git -c init.defaultBranch=main init -q .
echo v1 > "$T/tool-version"
cat > p.yaml <<YAML
pipeline: rp
params: {n: 3}
steps:
  ingest:
    run: mkdir -p data && cp raw/input.csv data/clean.csv && seq "\$KILN_PARAM_N" >> data/clean.csv
    inputs: [raw/input.csv]
    outputs: [data/clean.csv]
  train:
    needs: [ingest]
    run: sort -r data/clean.csv > model.txt && cat "$T/tool-version" >> model.txt
    inputs: [data/clean.csv]
    outputs: [model.txt]
    environment: {commands: ["cat $T/tool-version"]}
  evaluate:
    needs: [train]
    run: wc -l < model.txt > score.txt
    inputs: [model.txt]
    outputs: [score.txt]
  ship:
    kind: deploy
    needs: [evaluate]
    run: cp model.txt shipped.txt
    outputs: [shipped.txt]
    register: {model: m, path: shipped.txt, alias: production}
YAML
printf 'raw/\ndata/\n*.txt\n' > .gitignore
echo a,b > raw/input.csv
git add -A && git commit -qm one
commit=$(git rev-parse HEAD)

kiln_rc run p.yaml --param n=4
eq "the original run" 0 "$rc"
snapshot() {
    (cd "$R" && find . -path ./.git -prune -o -type f -print | grep -v '^./.kiln/' | sort | xargs sha256sum)
    q "select name || ':' || version || ':' || alias || ':' || rolled_back from model_aliases order by id"
    q "select name || ':' || version from models order by 1"
}
before=$(snapshot)

# A deterministic run reproduces identical: exit 0, though its git-ignored
# input changed on disk (put back from the store by its recorded hash).
echo changed > raw/input.csv
kiln_rc reproduce 1
eq "identical: exit 0" 0 "$rc"
contains "ingest identical" "ingest           data/clean.csv               identical" "$out"
contains "train identical" "train            model.txt                    identical" "$out"
contains "the deploy step is not run" "ship             shipped.txt                  not checked" "$out"
contains "summary" "3 identical, 0 differ, 0 missing, 1 not checked" "$out"
new=$(q "select max(id) from runs")
eq "a run of its own, linked" "reproduce|1|$commit" \
    "$(q "select trigger || '|' || reproduces || '|' || git_commit from runs where id = $new")"
eq "with the original's params" '{"n":"4"}' "$(q "select params from runs where id = $new")"
eq "nothing served from the cache" "0" \
    "$(q "select count(*) from executions where run_id = $new and status = 'cached'")"
contains "the deploy step skipped" "side effects are off" \
    "$(q "select reason from run_steps where run_id = $new and step = 'ship'")"
kiln_rc show 1 --json
eq "the original knows its reproduction" "[$new]" "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["reproduced_by"])')"
contains "in a scratch tree under the state dir" "$KILN_STATE/reproduce/1." "$(q "select workdir from runs where id = $new")"
eq "the input restored there is the recorded one" "a,b" \
    "$(head -1 "$(q "select workdir from runs where id = $new")/raw/input.csv")"
echo a,b > raw/input.csv
eq "work tree, registry and aliases unchanged" "$before" "$(snapshot)"

# JSON.
kiln_rc reproduce 1 --json --step train
eq "--step --json" 0 "$rc"
eq "only train compared" "train:model.txt:identical" "$(printf '%s' "$out" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
print(*["%s:%s:%s" % (o["step"], o["path"], o["verdict"]) for o in d["outputs"]])')"
new=$(q "select max(id) from runs")
eq "the others not run" "evaluate:skipped ingest:skipped ship:skipped train:succeeded" \
    "$(q "select step || ':' || status from run_steps where run_id = $new order by step" | tr '\n' ' ' | sed 's/ $//')"

# A changed environment: train's output differs (exit 1, naming the step
# and the output), and the capture's diff is shown.
echo v2 > "$T/tool-version"
kiln_rc reproduce 1
eq "differs: exit 1" 1 "$rc"
contains "names the step and output" "train            model.txt                    differs" "$out"
contains "its environment changed" "its environment changed: command cat $T/tool-version" "$out"
contains "the old text" "-v1" "$out"
contains "the new text" "+v2" "$out"
echo v1 > "$T/tool-version"

# A step that writes the time: differs; with deterministic: false it is
# reported, not counted.
cat >> p.yaml <<'YAML'
  stamp:
    needs: [train]
    run: date +%s%N > stamp.txt
    outputs: [stamp.txt]
YAML
git commit -qam stamp
kiln_rc run p.yaml
eq "second original" 0 "$rc"
orig2=$(q "select max(id) from runs")
kiln_rc reproduce "$orig2"
eq "a clock in the output: exit 1" 1 "$rc"
contains "names the stamp" "stamp            stamp.txt                    differs" "$out"
sed -i 's|    run: date +%s%N > stamp.txt|    deterministic: false\n    run: date +%s%N > stamp.txt|' p.yaml
git commit -qam nondet
kiln_rc run p.yaml
orig3=$(q "select max(id) from runs")
kiln_rc reproduce "$orig3"
eq "deterministic: false is not counted" 0 "$rc"
contains "reported as not checked" "stamp            stamp.txt                    not checked" "$out"

# Params are checked against the definition at the recorded commit: one
# the work tree no longer declares still reproduces.
sed -i 's/^params: {n: 3}$/params: {rows: 3}/; s/KILN_PARAM_N/KILN_PARAM_ROWS/' p.yaml
kiln_rc reproduce "$orig3"
eq "params of the recorded commit" 0 "$rc"
git checkout -q p.yaml

# A run made with uncommitted changes: the reproduction runs the commit
# without them, and says so before its verdicts (before, a bare
# "differs" read as a step that is not deterministic).
sed -i 's|    run: date +%s%N > stamp.txt|    run: echo uncommitted > stamp.txt|' p.yaml
kiln_rc run p.yaml
dirty=$(q "select max(id) from runs")
eq "a run with uncommitted changes" "1" "$(q "select git_dirty from runs where id = $dirty")"
kiln_rc reproduce "$dirty"
contains "it warns" "run $dirty ran with uncommitted changes to commit" "$err"
contains "the header says so" "without the run's uncommitted changes" "$out"
kiln_rc reproduce "$dirty" --json
eq "JSON: original_dirty" True "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["original_dirty"])')"
kiln_rc reproduce "$orig3" --json
eq "JSON: a clean original" False "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["original_dirty"])')"
git checkout -q p.yaml

# An input whose bytes were collected and which changed on disk: the step
# is "inputs unavailable", never run on other data; what needs it neither.
kiln_rc gc --max-size 0
eq "gc" 0 "$rc"
echo other > raw/input.csv
kiln_rc reproduce 1
eq "inputs unavailable: exit 1" 1 "$rc"
contains "ingest's inputs unavailable" "ingest           data/clean.csv               inputs unavailable" "$out"
contains "names the input" "raw/input.csv" "$out"
contains "downstream too" "upstream step ingest's inputs are unavailable" "$out"
new=$(q "select max(id) from runs")
eq "nothing ran" "0" "$(q "select count(*) from executions where run_id = $new")"
# ...but when the file on disk still has the recorded bytes, it is used.
echo a,b > raw/input.csv
kiln_rc reproduce 1
eq "the unchanged file on disk serves" 0 "$rc"

# With --with-deploy the deploy step runs and registers, but no alias
# moves (production stays where it was).
before_alias=$(q "select count(*) from model_aliases")
kiln_rc reproduce 1 --with-deploy
eq "--with-deploy: identical" 0 "$rc"
eq "the deploy step ran" "succeeded" "$(q "select status from run_steps where run_id = (select max(id) from runs) and step = 'ship'")"
eq "no alias moved" "$before_alias" "$(q "select count(*) from model_aliases")"
# A reproduction can itself be reproduced.
rep=$(q "select max(id) from runs")
kiln_rc reproduce "$rep"
eq "a reproduction reproduced" 0 "$rc"
# What could not be made fails the reproduction's run, not just its exit.
kiln_rc gc --max-size 0
echo again-other > raw/input.csv
kiln_rc reproduce 1
eq "inputs unavailable: the run failed" "failed" "$(q "select status from runs where id = (select max(id) from runs)")"
echo a,b > raw/input.csv

# --step of a gated step: its gate reads the metrics the original run's
# upstream steps recorded.
cat > g.yaml <<'YAML'
pipeline: gated
steps:
  ev:
    run: |
      echo '{"acc": 0.9}' > "$KILN_METRICS"
  post:
    needs: [ev]
    when: metrics.ev.acc > 0.5
    run: echo posted > posted.txt
    outputs: [posted.txt]
YAML
git add g.yaml && git commit -qm gated
kiln_rc run g.yaml
g=$(q "select max(id) from runs")
kiln_rc reproduce "$g" --step post
eq "--step of a gated step" 0 "$rc"
contains "post identical" "post             posted.txt                   identical" "$out"

# Retention: a reproduction that goes takes its scratch tree with it;
# the others stay.
r=$(q "select max(id) from runs where reproduces = $g")
w=$(q "select workdir from runs where id = $r")
case $w in "$KILN_STATE"/reproduce/*|*/reproduce/*) ok ;; *) fail "reproduction's workdir $w" ;; esac
trees=$(ls "$KILN_STATE/reproduce" | wc -l)
kiln_rc run g.yaml
kiln_rc gc --runs --pipeline gated --keep-runs 1
contains "the reproduction deleted" "deleted 1 run" "$out"
eq "...that run" 0 "$(q "select count(*) from runs where id = $r")"
check "its scratch tree is gone" test ! -e "$w"
eq "the other scratch trees stay" "$((trees - 1))" "$(ls "$KILN_STATE/reproduce" | wc -l)"

# Usage errors.
kiln_rc reproduce 999
eq "unknown run" 2 "$rc"
kiln_rc reproduce 1 --step nosuch
eq "unknown step" 2 "$rc"

# A reproduction killed midway cannot be taken over: kiln resume would
# run it without what kiln reproduce set up (its deploy step ran, with
# side effects, before). Refused; kiln abandon ends it.
mkdir -p "$T/rk" && cd "$T/rk" || exit 1
git init -q .
cat > rk.yaml <<YAML
pipeline: rk
steps:
  slow:
    run: sleep 2; echo x > x.txt
    outputs: [x.txt]
  ship:
    kind: deploy
    needs: [slow]
    run: echo shipped >> "$T/shipped.log"
YAML
printf 'x.txt\n' > .gitignore
git add -A && git commit -qm rk
kiln_rc run rk.yaml; eq "rk: the original ships" 1 "$(wc -l < "$T/shipped.log")"
rk=$(q "select max(id) from runs")
"$KILN" reproduce "$rk" >/dev/null 2>&1 &
runner=$!
wait_for "the reproduction's step running" 10 \
    '[ "$(q "select count(*) from executions x join runs r on r.id = x.run_id where r.trigger = '\''reproduce'\'' and r.pipeline = '\''rk'\'' and x.status = '\''running'\''")" = 1 ]'
kill -9 $runner; wait $runner 2>/dev/null
rep=$(q "select max(id) from runs")
kiln_rc resume "$rep"
eq "resuming a reproduction is refused" 2 "$rc"
contains "...saying why" "a reproduction of run $rk, which only kiln reproduce can run" "$err"
sleep 3
eq "...and its deploy step did not run" 1 "$(wc -l < "$T/shipped.log")"
kiln_rc abandon "$rep"; eq "kiln abandon ends it" 0 "$rc"
finish
