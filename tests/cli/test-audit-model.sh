# kiln audit model: the governance report of a model version, as Markdown
# and as JSON, after a retrain made version 2 and a user promoted it: both
# versions, the producing run, who started it, its commit, the gate's
# expression and values, the validation, the inputs with their hashes and
# the steps that made them, params, metrics, environment captures and the
# alias history; unknown models, versions and aliases. Then the audit
# rows of kiln resume, kiln abandon and kiln gc: one each, the Unix user
# via cli (kiln serve's takeovers: kiln via daemon), and the chain still
# intact. With scikit-learn, the same on the
# churn example after a drifted batch.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || exit 77
git_identity
cd "$T"
ME=$(id -un)
rows() { q 'select count(*) from audit'; }
last() { q "select actor || '|' || via || '|' || action || '|' || target from audit order by id desc limit 1"; }
# py EXPR: EXPR over the JSON report d in $out.
py() { printf '%s' "$out" | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

mkdir -p gov/src
cd gov
git -c init.defaultBranch=main init -q .
printf 'x,y\n1.5,0\n2.5,1\n3.5,1\n' > src/raw.csv
cat > gov.yaml <<'YAML'
pipeline: gov
params: {lr: 0.1, min_score: 0.5}
steps:
  ingest:
    kind: ingest
    run: mkdir -p data && cp src/raw.csv data/table.csv
    inputs: [src/raw.csv]
    outputs: [data/table.csv]
  check:
    kind: validate
    needs: [ingest]
    data: data/table.csv
    schema:
      x: {type: float, min: 0}
      y: {type: int, min: 0, max: 1}
    min_rows: 2
  train:
    kind: train
    needs: [check]
    environment: {commands: ["echo toolchain-1"]}
    run: |
      mkdir -p models && { cat data/table.csv; echo "lr=$KILN_PARAM_LR"; } > models/m.txt
      printf '{"score": 0.75, "rows": %s}' "$(($(wc -l < data/table.csv) - 1))" > "$KILN_METRICS"
    inputs: [data/table.csv]
    outputs: [models/m.txt]
  deploy:
    kind: deploy
    needs: [train]
    when: metrics.train.score >= params.min_score && metrics.train.rows > 1
    run: mkdir -p serving && cp models/m.txt serving/m.txt
    inputs: [models/m.txt]
    outputs: [serving/m.txt]
    register: {model: gov, path: serving/m.txt, alias: staging}
YAML
git add -A && git commit -qm one
kiln_rc run gov.yaml
eq "version 1" 0 "$rc"
# A new batch, committed: the retrain makes version 2; the user promotes
# it.
printf '4.5,0\n' >> src/raw.csv
git commit -qam two
commit=$(git rev-parse HEAD)
kiln_rc run gov.yaml --param lr=0.2
eq "version 2" 0 "$rc"
kiln_rc models promote gov 2 production
eq "promote" 0 "$rc"
# A run whose gate says no registers nothing.
kiln_rc run gov.yaml --param min_score=2
eq "a gated run" gated "$(q "select status from run_steps where run_id = 3 and step = 'deploy'")"
eq "two versions" 2 "$(q 'select count(*) from models')"
n=$(rows)
sha2=$(q "select a.sha256 from models m join artifacts a on a.id = m.artifact_id where m.version = 2")
table=$(q "select sha256 from artifacts where path like '%/data/table.csv' order by id desc limit 1")
raw=$(q "select sha256 from artifacts where path like '%/src/raw.csv' order by id desc limit 1")

# Markdown, the newest version by default.
kiln_rc audit model gov
eq "audit model" 0 "$rc"
contains "a title" "# Model card: gov version 2" "$out"
contains "the summary names the run, its user and commit" "by step deploy of run 2 of pipeline gov, started by $ME at commit ${commit:0:10}" "$out"
contains "who put production there" "production by $ME via cli" "$out"
contains "the version's hash" "| SHA-256 | \`$sha2\` |" "$out"
contains "version 2 in the list of versions" "| 2 (this) | \`${sha2:0:12}\`" "$out"
contains "version 1 in the list of versions" "| 1 | \`" "$out"
contains "the producing run" "| Run | 2 |" "$out"
contains "who started it" "| Started by | $ME |" "$out"
contains "its commit" "| Git commit | $commit on main |" "$out"
contains "a param" "| lr | 0.2 |" "$out"
contains "a metric" "| train | score | 0.75 |" "$out"
contains "the gate decided" "### Step deploy: passed, the step ran" "$out"
contains "the gate's expression" "metrics.train.score >= params.min_score && metrics.train.rows > 1" "$out"
contains "a value of the gate" "| \`metrics.train.score\` | 0.75 |" "$out"
contains "a param of the gate" "| \`params.min_score\` | 0.5 |" "$out"
contains "the rows the gate read" "| \`metrics.train.rows\` | 4 |" "$out"
contains "the validation" "### Step check: succeeded" "$out"
contains "the validation's report" "validate data/table.csv: 4 rows, all checks passed" "$out"
contains "a validation check" "| validate.violations | 0 |" "$out"
contains "an input made in the run" "| data/table.csv | \`${table:0:12}\` | 28 | step ingest of this run | check, train |" "$out"
contains "a source" "| src/raw.csv | \`${raw:0:12}\` | 28 | source (not made by kiln) | ingest |" "$out"
contains "the lineage to the source" "      - \`src/raw.csv\` \`${raw:0:12}\`: source (not made by kiln)" "$out"
contains "the environment capture" "toolchain-1" "$out"
contains "the run's alias move" "| staging | 1 | 2 | run 2 | cli | alias.moved |" "$out"
contains "the user's promote" "| production | - | 2 | $ME | cli | alias.moved |" "$out"
contains "no image" "No step ran in a container." "$out"

# JSON: the same content, one object.
kiln_rc audit model gov --format json
eq "audit model --format json" 0 "$rc"
eq "valid JSON" ok "$(py '"ok"')"
eq "the version" "gov 2 $sha2" "$(py 'd["model"]["name"], d["model"]["version"], d["model"]["sha256"]')"
eq "both versions" "[2, 1]" "$(py '[v["version"] for v in d["model"]["versions"]]')"
eq "the run" "2 gov $ME manual succeeded" "$(py 'd["run"]["id"], d["run"]["pipeline"], d["run"]["started_by"], d["run"]["trigger"], d["run"]["status"]')"
eq "the commit" "$commit main False" "$(py 'd["git"]["commit"], d["git"]["branch"], d["git"]["dirty"]')"
eq "params" "{'lr': '0.2', 'min_score': '0.5'}" "$(py 'd["params"]')"
eq "metrics" "0.75" "$(py '[m["value"] for m in d["metrics"] if m["step"] == "train" and m["key"] == "score"][0]')"
eq "the gate" "deploy passed True" "$(py 'd["gates"][0]["step"], d["gates"][0]["decision"], d["gates"][0]["evaluates_to"]')"
eq "the gate's values" "{'metrics.train.score': 0.75, 'params.min_score': 0.5, 'metrics.train.rows': 4.0}" "$(py 'd["gates"][0]["values"]')"
eq "the validation" "check data/table.csv 4.0 0.0" "$(py 'd["validation"][0]["step"], d["validation"][0]["data"], d["validation"][0]["metrics"]["validate.rows"], d["validation"][0]["metrics"]["validate.violations"]')"
eq "an input, its hash and maker" "$table ingest 2 ['check', 'train']" "$(py '*[(i["sha256"], i["made_by"]["step"], i["made_by"]["run_id"], i["read_by"]) for i in d["inputs"] if i["path"].endswith("/data/table.csv")][0]')"
eq "a source" "$raw None" "$(py '*[(i["sha256"], i["made_by"]) for i in d["inputs"] if i["path"].endswith("/src/raw.csv")][0]')"
eq "the lineage, to the source" "deploy train ingest None" "$(py 'd["lineage"]["made_by"]["step"], d["lineage"]["inputs"][0]["made_by"]["step"], d["lineage"]["inputs"][0]["inputs"][0]["made_by"]["step"], d["lineage"]["inputs"][0]["inputs"][0]["inputs"][0]["made_by"]')"
eq "the environment capture" "toolchain-1" "$(py '[e["text"].strip() for s in d["steps"] for e in s["environment"]][0]')"
eq "the alias history" "[('staging', None, 1, 'run 1'), ('staging', 1, 2, 'run 2'), ('production', None, 2, '$ME')]" "$(py '[(h["alias"], h["from"], h["to"], h["by"]) for h in d["alias_history"]]')"

# A container step's image as the record has it (test-container runs real
# ones): its reference and ID.
img=sha256:$(printf '%064d' 7)
q "update executions set image = '$img', image_ref = 'kiln-test:py' where run_id = 2 and step = 'train'"
kiln_rc audit model gov
contains "the image" "| train | kiln-test:py | \`$img\` |" "$out"
kiln_rc audit model gov --format json
eq "the image in JSON" "kiln-test:py $img" "$(py '*[(s["image_ref"], s["image"]) for s in d["steps"] if s["name"] == "train"][0]')"
q "update executions set image = null, image_ref = null where run_id = 2"

# Other versions: by number, NAME:VERSION, NAME@ALIAS.
kiln_rc audit model gov 1 --format json
eq "version 1" "1 1 0.1" "$(py 'd["model"]["version"], d["run"]["id"], d["params"]["lr"]')"
kiln_rc audit model gov:1
contains "NAME:VERSION" "# Model card: gov version 1" "$out"
contains "no alias on version 1" "No alias points at it now." "$out"
kiln_rc audit model gov@production --format json
eq "NAME@ALIAS" 2 "$(py 'd["model"]["version"]')"

# What does not exist.
kiln_rc audit model nosuch
eq "an unknown model: exit 2" 2 "$rc"
contains "an unknown model: said" "no model nosuch" "$err"
kiln_rc audit model gov 9
eq "an unknown version: exit 2" 2 "$rc"
contains "an unknown version: said" "model gov has no version 9" "$err"
kiln_rc audit model gov@canary
eq "an unknown alias: exit 2" 2 "$rc"
contains "an unknown alias: said" "no alias canary" "$err"
kiln_rc audit model gov 1 2
eq "too many arguments" 2 "$rc"
kiln_rc audit model gov --format yaml
eq "an unknown format" 2 "$rc"
kiln_rc audit --format json
eq "--format without model" 2 "$rc"
eq "reports are reads: no rows" "$n" "$(rows)"

kiln_rc audit model gov --format json
eq "the gate as the engine recorded it" "True True" "$(py 'd["gates"][0]["recorded"], d["gates"][0]["evaluates_to"]')"

# A pipeline file changed since the run: every gate is still known, as
# the engine recorded its decision and values.
sed -i 's/params.min_score && /params.min_score \&\& 1 == 1 \&\& /' gov.yaml
kiln_rc audit model gov --format json
eq "a changed file: the recorded gate" "False 1 deploy passed True" "$(py 'd["gates_from_pipeline_file"], len(d["gates"]), d["gates"][0]["step"], d["gates"][0]["decision"], d["gates"][0]["evaluates_to"]')"
eq "...with its values" "{'metrics.train.score': 0.75, 'params.min_score': 0.5, 'metrics.train.rows': 4.0}" "$(py 'd["gates"][0]["values"]')"
contains "a changed file: said" "The pipeline file changed since the run" "$(py 'd["gates_note"]')"
# A run from before gates were recorded (schema 14): only the gates that
# said no are known then.
q "update run_steps set gate = null where run_id = 2"
kiln_rc audit model gov --format json
eq "an old run, a changed file: no passed gate" "False 0" "$(py 'd["gates_from_pipeline_file"], len(d["gates"])')"
git checkout -q gov.yaml
cd "$T"

# kiln resume, kiln abandon and kiln gc: one row each, the Unix user via
# cli.
pipeline o <<EOF2
pipeline: o
steps:
  a: {run: "sh -c 'echo ran >> a.count; sleep 2'"}
  b: {needs: [a], run: "true"}
EOF2
pipeline long <<EOF2
pipeline: long
steps:
  a: {run: "sh -c 'sleep 30$$'"}
  b: {needs: [a], run: "true"}
EOF2
start_killed o.yaml
n=$(rows)
kiln_rc resume "$id"
eq "resume" 0 "$rc"
eq "resume: one row" $((n + 1)) "$(rows)"
eq "resume: who and how" "$ME|cli|run.resumed|run $id" "$(last)"
kiln_rc resume "$id"
eq "a refused resume: no row" $((n + 1)) "$(rows)"

start_killed long.yaml
n=$(rows)
kiln_rc abandon "$id" --reason "no longer wanted"
eq "abandon" 0 "$rc"
eq "abandon: one row" $((n + 1)) "$(rows)"
eq "abandon: who and how" "$ME|cli|run.abandoned|run $id" "$(last)"
eq "abandon: before and after" '{"pipeline":"long","status":"running"}|{"status":"failed","reason":"abandoned: no longer wanted"}' \
    "$(q "select before || '|' || after from audit order by id desc limit 1")"
kiln_rc abandon "$id"
eq "a refused abandon: no row" $((n + 1)) "$(rows)"
wait_for "the step's process stopped" 15 '! pgrep -f "sleep 30$$"'

# kiln serve taking over a run orphaned while it runs, and giving up on
# one whose pipeline file changed: kiln via daemon.
mkdir -p none
printf 'pipeline: other\nsteps:\n  x: {run: "true"}\n' > none/other.yaml
serve serve.log none
wait_for "the daemon" 5 'grep -q "loaded" "$T/serve.log"'
n=$(rows)
start_killed o.yaml
wait_for "the daemon took it over and ended it" 20 \
    '[ "$(q "select status from runs where id = '"$id"'")" = succeeded ]'
eq "takeover: run.started and run.resumed" "$((n + 2)) kiln|daemon|run.resumed|run $id" "$(rows) $(last)"
stop $daemon
start_killed o.yaml
echo "# changed" >> o.yaml
n=$(rows)
serve serve.log none
wait_for "the daemon gave up on it" 20 \
    '[ "$(q "select status from runs where id = '"$id"'")" = failed ]'
eq "given up: run.abandoned" "$((n + 1)) kiln|daemon|run.abandoned|run $id" "$(rows) $(last)"
stop $daemon

n=$(rows)
kiln_rc gc --dry-run --max-size 0
eq "gc --dry-run: no row" "$n" "$(rows)"
objects=$(find "$KILN_STATE/objects" -type f | wc -l)
kiln_rc gc --max-size 0
eq "gc" 0 "$rc"
eq "gc: one row" $((n + 1)) "$(rows)"
eq "gc: who and how" "$ME|cli|gc|objects" "$(last)"
left=$(find "$KILN_STATE/objects" -type f | wc -l)
eq "gc: the counts" "$objects $left $((objects - left))" \
    "$(q "select json_extract(before, '\$.objects') || ' ' || json_extract(after, '\$.objects') || ' ' || json_extract(after, '\$.removed') from audit order by id desc limit 1")"
kiln_rc audit --actor "$ME" --json
eq "kiln audit lists them" "True" "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; a=[r["action"] for r in json.load(sys.stdin)]; print(all(x in a for x in ("run.resumed", "run.abandoned", "gc")))')"
kiln_rc audit verify
eq "the chain is intact after them" 0 "$rc"
kiln_rc audit model gov
eq "the report after gc (model bytes stay)" 0 "$rc"

# The churn example after a drifted batch: version 2 by the retrain, the
# challenger, promoted to production by the user.
if /usr/bin/python3 -c 'import sklearn' 2>/dev/null; then
    export KILN_STATE=$T/churn-state
    churn_example
    kiln_rc run pipeline.yaml
    eq "churn: version 1" 0 "$rc"
    /usr/bin/python3 simulate.py 0.5 > /dev/null
    kiln_rc run pipeline.yaml
    eq "churn: the retrain" 0 "$rc"
    eq "churn: two versions" 2 "$(q 'select count(*) from models')"
    eq "churn: the retrain is the challenger" 2 "$(q "select version from model_aliases where alias = 'challenger' order by id desc limit 1")"
    kiln_rc models promote churn 2 production
    eq "churn: promote" 0 "$rc"
    kiln_rc audit model churn
    eq "churn: audit model" 0 "$rc"
    contains "churn: version 2" "# Model card: churn version 2" "$out"
    contains "churn: version 1 too" "| 1 | \`" "$out"
    contains "churn: the gate" "metrics.evaluate.auc >= params.min_auc && metrics.evaluate.has_production == 1 && metrics.evaluate.same_as_production == 0 && metrics.evaluate.accuracy >= metrics.evaluate.production_accuracy" "$out"
    contains "churn: a gate value" "| \`params.min_auc\` | 0.9 |" "$out"
    contains "churn: who promoted" "| production | 1 | 2 | $ME | cli | alias.moved |" "$out"
    contains "churn: the production model evaluate compared with" "version 1 of model churn | evaluate |" "$out"
    kiln_rc audit model churn --format json
    eq "churn: JSON" "2 [2, 1] deploy gated challenge passed" "$(py 'd["model"]["version"], [v["version"] for v in d["model"]["versions"]], " ".join(g["step"] + " " + g["decision"] for g in d["gates"])')"
    eq "churn: the gate's values are the run's metrics" True "$(py '[g for g in d["gates"] if g["step"] == "challenge"][0]["values"]["metrics.evaluate.auc"] == [m["value"] for m in d["metrics"] if m["key"] == "auc"][0]')"
else
    echo "the churn example not checked: no scikit-learn"
fi
finish
