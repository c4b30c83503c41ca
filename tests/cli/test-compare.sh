# kiln compare and GET /api/v1/compare: one row per run, only the params
# and metrics that differ (all with --all-params), sorted by a metric or
# a param either way, in every format (the CSV parsed back), the latest
# runs of a pipeline, pages of the API, and what is refused.
. "$(dirname "$0")/lib.sh"
cd "$T"
pipeline exp <<'YAML'
pipeline: exp
params: {lr: 0.1, depth: 3, seed: 1}
steps:
  train:
    run: |
      /usr/bin/python3 -c "import json,os; lr=float(os.environ['KILN_PARAM_LR']); d=int(os.environ['KILN_PARAM_DEPTH']); json.dump({'auc': round(0.8+lr-d*0.01,4), 'loss': round(1-lr,4), 'same': 1}, open(os.environ['KILN_METRICS'],'w'))"
YAML
for a in "0.1 3" "0.2 3" "0.05 5"; do
    set -- $a
    kiln_rc run exp.yaml --param lr=$1 --param depth=$2
    eq "run lr=$1 depth=$2" 0 "$rc"
done
kiln_rc compare 1 2 3
eq "compare: 0" 0 "$rc"
eq "a header of what differs" "RUN PIPELINE STATUS depth lr train.auc train.loss" "$(head -1 <<<"$out" | tr -s ' ')"
eq "the rows, in the order given" "1 2 3" "$(tail -n +2 <<<"$out" | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//')"
case "$out" in *seed*|*train.same*) fail "a column that does not differ: $out" ;; *) ok ;; esac
kiln_rc compare 1 2 1
eq "a run named twice: a usage error" 2 "$rc"
contains "...saying which" "run 1 is named twice" "$err"
kiln_rc compare 1 2 3 --sort train.auc
eq "sorted by a metric, highest first" "2 1 3" "$(tail -n +2 <<<"$out" | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//')"
kiln_rc compare 1 2 3 --sort train.loss:asc
eq "lowest first with :asc" "2 1 3" "$(tail -n +2 <<<"$out" | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//')"
kiln_rc compare 1 2 3 --sort params.depth:asc
eq "by a param as a number (ties keep their order)" "1 2 3" "$(tail -n +2 <<<"$out" | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//')"
kiln_rc compare --pipeline exp --last 2
eq "the latest 2 runs of the pipeline, newest first" "3 2" "$(tail -n +2 <<<"$out" | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//')"
kiln_rc compare 1 2 3 --all-params --format csv --sort train.auc
eq "CSV parsed back" "[['run', 'pipeline', 'status', 'params.depth', 'params.lr', 'params.seed', 'train.auc', 'train.loss', 'train.same'], ['2', 'exp', 'succeeded', '3', '0.2', '1', '0.97', '0.8', '1'], ['1', 'exp', 'succeeded', '3', '0.1', '1', '0.87', '0.9', '1'], ['3', 'exp', 'succeeded', '5', '0.05', '1', '0.8', '0.95', '1']]" \
    "$(printf '%s\n' "$out" | /usr/bin/python3 -c 'import csv,sys; print(list(csv.reader(sys.stdin)))')"
kiln_rc compare 1 3 --format json
eq "JSON: columns and rows" "['depth', 'lr'] ['train.auc', 'train.loss'] [1, 3] 0.8" \
    "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["params"], d["metrics"], [r["run"] for r in d["rows"]], d["rows"][1]["metrics"]["train.auc"])')"
kiln_rc compare 1 3 --format md
eq "Markdown: a table" "| run | pipeline | status | depth | lr | train.auc | train.loss |" "$(head -1 <<<"$out")"
contains "a row of it" "| 3 | exp | succeeded | 5 | 0.05 | 0.8 | 0.95 |" "$out"
kiln_rc compare 1 9
eq "an unknown run: 2" 2 "$rc"
contains "naming it" "no run 9" "$err"
kiln_rc compare 1
eq "one run is no comparison: 2" 2 "$rc"
kiln_rc compare
eq "nothing to compare: 2" 2 "$rc"
kiln_rc compare --pipeline nope
eq "a pipeline without runs: 2" 2 "$rc"

# A sweep's items: RUN:STEP is every item of the matrix step, each with
# the run's params and its own values, metrics under the step's name.
pipeline sweep <<'YAML'
pipeline: sweep
params: {lr: 0.1, depth: 3, seed: 1}
steps:
  train:
    matrix: {lr: [0.1, 0.2], depth: [2, 4]}
    run: |
      /usr/bin/python3 -c "import json,os; lr=float(os.environ['KILN_PARAM_LR']); d=int(os.environ['KILN_PARAM_DEPTH']); json.dump({'auc': round(0.8+lr-d*0.01,4), 'same': 1}, open(os.environ['KILN_METRICS'],'w'))"
YAML
kiln_rc run sweep.yaml
eq "the sweep ran" 0 "$rc"
sweep=$(q "select max(id) from runs")
kiln_rc compare "$sweep:train" --sort train.auc --format csv
eq "items, best first, with their values and metrics" "[['run', 'pipeline', 'status', 'params.depth', 'params.lr', 'train.auc'], ['$sweep:train[lr=0.2,depth=2]', 'sweep', 'succeeded', '2', '0.2', '0.98'], ['$sweep:train[lr=0.2,depth=4]', 'sweep', 'succeeded', '4', '0.2', '0.96'], ['$sweep:train[lr=0.1,depth=2]', 'sweep', 'succeeded', '2', '0.1', '0.88'], ['$sweep:train[lr=0.1,depth=4]', 'sweep', 'succeeded', '4', '0.1', '0.86']]" \
    "$(printf '%s\n' "$out" | /usr/bin/python3 -c 'import csv,sys; print(list(csv.reader(sys.stdin)))')"
kiln_rc compare "$sweep:train[lr=0.1,depth=2]" 1
eq "an item beside a run" "$sweep:train[lr=0.1,depth=2] 1" "$(tail -n +2 <<<"$out" | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//')"
kiln_rc compare "$sweep:nope"
eq "no such items: 2" 2 "$rc"
contains "saying so" "has no items of step nope" "$err"

# The API says the same, in pages.
mkdir -p p && cp exp.yaml p/
serve serve.log p
wait_for "the web URL" 10 '[ -n "$(web_url)" ]'
U=$(web_url)
wait_for "the daemon answers" 10 'curl -sf "${U}healthz"'
api() { curl -s "${U}api/v1/compare?$1"; }
py() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
eq "API: runs and columns" "['depth', 'lr'] ['train.auc', 'train.loss'] 3 [2, 1, 3]" \
    "$(api 'runs=1,2,3&sort=train.auc' | py 'd["params"], d["metrics"], d["total"], [r["run"] for r in d["rows"]]')"
eq "API: a page" "3 1 [1]" "$(api 'runs=1,2,3&sort=train.auc&offset=1&limit=1' | py 'd["total"], d["offset"], [r["run"] for r in d["rows"]]')"
eq "API: a pipeline's latest" "[3, 2]" "$(api 'pipeline=exp&last=2' | py '[r["run"] for r in d["rows"]]')"
eq "API: all columns" "['depth', 'lr', 'seed']" "$(api 'runs=1,2&all=1' | py 'd["params"]')"
eq "API: a sweep's items" "4 ['train[lr=0.2,depth=2]', 'train[lr=0.2,depth=4]', 'train[lr=0.1,depth=2]', 'train[lr=0.1,depth=4]']" \
    "$(api "items=$sweep:train&sort=train.auc" | py 'd["total"], [r["item"] for r in d["rows"]]')"
eq "API: an item's log" 200 "$(curl -s -o /dev/null -w '%{http_code}' "${U}api/v1/runs/$sweep/steps/train%5Blr=0.1,depth=2%5D/log")"
eq "API: a malformed item's name" 400 "$(curl -s -o /dev/null -w '%{http_code}' "${U}api/v1/runs/$sweep/steps/train%5Blr=0.1%5Bx%5D/log")"
for bad in "" "runs=1,x" "runs=1,,2" "runs=1,2,1" "runs=1&pipeline=exp" "pipeline=exp&limit=0" "runs=1,99" "items=x" "items=1:" "items=$sweep:nope"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "${U}api/v1/compare?$bad")
    case "$bad" in *99|*nope) want=404 ;; *) want=400 ;; esac
    eq "API: [$bad] refused" "$want" "$code"
done
stop "$daemon"
finish
