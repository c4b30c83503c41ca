# Artifacts and lineage: outputs and inputs are hashed and linked to the
# executions that made and used them, across runs.
. "$(dirname "$0")/lib.sh"
git_identity
R=$T/repo
mkdir -p "$R"
cd "$R"
git -c init.defaultBranch=main init -q .
cat > ml.yaml <<'YAML'
pipeline: ml
params: {rows: 3}
steps:
  ingest:
    kind: ingest
    run: mkdir -p data && seq "$KILN_PARAM_ROWS" > data/a.csv && echo x > data/b.csv
    outputs: [data]
  train:
    kind: train
    needs: [ingest]
    run: mkdir -p models && cat data/*.csv > models/model.txt
    inputs: ["data/*.csv"]
    outputs: [models/model.txt]
  evaluate:
    kind: evaluate
    needs: [train]
    run: wc -l < models/model.txt > metrics.txt
    inputs: [models/model.txt]
    outputs: [metrics.txt]
YAML
printf 'data/\nmodels/\nmetrics.txt\n' > .gitignore
git add -A && git commit -qm one
commit=$(git rev-parse HEAD)
kiln_rc run ml.yaml
eq "first run" 0 "$rc"
kiln_rc run ml.yaml --param rows=5
eq "second run" 0 "$rc"

# Typed by what declared them (register:, metrics:), not by the kind of
# the step that wrote them: here plain outputs and inputs.
eq "artifact types" "data/a.csv|file|0 data/b.csv|file|0 data|file|1 metrics.txt|file|0 models/model.txt|file|0" \
    "$(q "select distinct replace(path, '$R/', '') || '|' || type || '|' || is_dir from artifacts order by 1" | tr '\n' ' ' | sed 's/ $//')"
eq "the model's size" "8" "$(q "select size from artifacts where path like '%model.txt' order by id limit 1")"
eq "its hash" "$(sha256sum models/model.txt | cut -c1-64)" \
    "$(q "select sha256 from artifacts where path like '%model.txt' order by id desc limit 1")"
eq "a directory's hash changes with a file in it" 2 \
    "$(q "select count(distinct sha256) from artifacts where path = '$R/data'")"
eq "unchanged inputs are one artifact" 1 \
    "$(q "select count(*) from artifacts where path like '%b.csv'")"
eq "which the two trains both used" 2 \
    "$(q "select count(*) from events e join artifacts a on a.id = e.artifact_id where a.path like '%b.csv' and e.type = 'input'")"

kiln_rc lineage models/model.txt
eq "lineage up" 0 "$rc"
contains "made by train of the latest run" "made by step train of run 2 (ml), commit ${commit:0:12}, params rows=5" "$out"
contains "from a.csv" "file $R/data/a.csv" "$out"
kiln_rc lineage data/b.csv --down
eq "lineage down" 0 "$rc"
contains "used by both trains" "used by step train of run 1" "$out"
contains "and run 2" "used by step train of run 2" "$out"
contains "down to the metrics" "file $R/metrics.txt" "$out"
kiln_rc lineage models/model.txt --format json
eq "json lineage" "train 2 $commit rows=5 2" "$(printf '%s' "$out" | /usr/bin/python3 -c '
import json, sys
t = json.load(sys.stdin)
p = t["produced_by"]
print(p["step"], p["run_id"], p["git_commit"], "rows=" + p["params"]["rows"], len(p["inputs"]))')"
sha=$(q "select sha256 from artifacts where path like '%model.txt' order by id limit 1")
kiln_rc lineage "${sha:0:10}" --format dot
contains "by hash prefix, as dot" "-> a" "$out"
contains "the first model's run" 'train\nrun 1' "$out"
kiln_rc lineage models/model.txt --depth 1
check "depth 1 stops at the producer" bash -c "! grep -q 'data/a.csv' <<< \"\$0\"" "$out"
kiln_rc lineage nowhere.txt
eq "unknown artifact" 2 "$rc"
kiln_rc lineage models/model.txt --format svg
eq "bad format" 2 "$rc"

# A declared output that is missing fails the step, however it exited.
cat > bad.yaml <<'YAML'
pipeline: bad
steps:
  make: {run: "true", outputs: [nothing.bin, "out/*.csv"]}
  after: {needs: [make], run: "true"}
YAML
kiln_rc run bad.yaml
eq "missing output fails the run" 1 "$rc"
eq "with a clear reason" "failed|declared outputs missing after the step exited 0: nothing.bin, out/*.csv" \
    "$(q "select status, reason from run_steps where step = 'make'")"
eq "downstream skipped" "skipped" "$(q "select status from run_steps where step = 'after'")"
finish
