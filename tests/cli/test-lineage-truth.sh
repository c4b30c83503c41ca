# Lineage tells runs apart when they made the same bytes: an artifact is
# a path and a content hash, so out.txt made at two commits is one
# artifact with two producers. Each is listed; --run N answers for run N;
# walking up from an execution follows what it actually read (its own
# run's producer, else the newest that finished before it started, never
# a later run's); MODEL:VERSION and MODEL@ALIAS start from the run that
# registered the version.
. "$(dirname "$0")/lib.sh"
git_identity
R=$T/repo
mkdir -p "$R"
cd "$R"
git -c init.defaultBranch=main init -q .
cat > same.yaml <<'YAML'
pipeline: same
params: {bytes: same}
steps:
  seed:
    run: echo "$KILN_RUN_ID" > seed.txt
    outputs: [seed.txt]
    cache: false
  make:
    needs: [seed]
    run: printf %s "$KILN_PARAM_BYTES" > out.txt
    inputs: [seed.txt]
    outputs: [out.txt]
    cache: false
    register: {model: m, path: out.txt, alias: production}
  use:
    needs: [make]
    run: cat out.txt seed.txt > used.txt
    inputs: [out.txt]
    outputs: [used.txt]
    cache: false
YAML
cat > consume.yaml <<'YAML'
pipeline: consume
steps:
  read:
    run: cat out.txt > read.txt
    inputs: [out.txt]
    cache: false
YAML
printf 'seed.txt\nout.txt\nused.txt\nread.txt\n' > .gitignore
echo one > notes.txt
git add -A && git commit -qm one
c1=$(git rev-parse HEAD)
kiln_rc run same.yaml
eq "run 1" 0 "$rc"
# Only an unrelated file changes: a new commit, the same out.txt.
echo two > notes.txt
git commit -qam two
c2=$(git rev-parse HEAD)
kiln_rc run same.yaml
eq "run 2" 0 "$rc"
kiln_rc run consume.yaml
eq "run 3 reads out.txt and makes nothing of it" 0 "$rc"
kiln_rc run consume.yaml
eq "so does run 4" 0 "$rc"
eq "one out.txt artifact" 1 "$(q "select count(*) from artifacts where path = '$R/out.txt'")"
eq "made twice" 2 "$(q "select count(*) from events e join artifacts a on a.id = e.artifact_id where a.path = '$R/out.txt' and e.type = 'output'")"

# js EXPR: evaluate EXPR on the JSON in $out (t).
js() { printf '%s' "$out" | /usr/bin/python3 -c "import json, sys; t = json.load(sys.stdin); print($1)"; }
# The artifact id of PATH as run RUN made it.
made_in() { q "select a.id from artifacts a join events e on e.artifact_id = a.id join executions x on x.id = e.execution_id where a.path = '$R/$1' and e.type = 'output' and x.run_id = $2"; }

kiln_rc lineage out.txt --format json
eq "default: the newest producer" "0 2 $c2" "$rc $(js 't["produced_by"]["run_id"], t["produced_by"]["git_commit"]')"
eq "every producer, newest first" "[(2, '$c2'), (1, '$c1')]" \
    "$(js '[(p["run_id"], p["git_commit"]) for p in t["producers"]]')"
eq "its input is run 2's seed" "$(made_in seed.txt 2)" "$(js 't["produced_by"]["inputs"][0]["id"]')"
kiln_rc lineage out.txt --run 2 --format json
eq "--run 2: run 2's commit" "0 2 make $c2" "$rc $(js 't["produced_by"]["run_id"], t["produced_by"]["step"], t["produced_by"]["git_commit"]')"
kiln_rc lineage out.txt --run 1 --format json
eq "--run 1: run 1's commit" "0 1 make $c1" "$rc $(js 't["produced_by"]["run_id"], t["produced_by"]["step"], t["produced_by"]["git_commit"]')"
eq "and run 1's seed above it" "$(made_in seed.txt 1)" "$(js 't["produced_by"]["inputs"][0]["id"]')"
eq "both producers still listed" "[2, 1]" "$(js '[p["run_id"] for p in t["producers"]]')"
kiln_rc lineage out.txt --run 3 --format json
eq "--run 3 only read it: the producer it read, run 2's" "0 2 $c2" \
    "$rc $(js 't["produced_by"]["run_id"], t["produced_by"]["git_commit"]')"
kiln_rc lineage out.txt --run 99
eq "a run that neither made nor used it" 2 "$rc"
contains "says so" "run 99 neither made nor used" "$err"
kiln_rc lineage out.txt --run zero
eq "--run expects a run id" 2 "$rc"

kiln_rc lineage out.txt
eq "text" 0 "$rc"
contains "made by the newest" "  made by step make of run 2 (same), commit ${c2:0:12}" "$out"
contains "also made by the older" "  also made by step make of run 1 (same), commit ${c1:0:12}" "$out"
kiln_rc lineage out.txt --run 1
contains "text, --run 1" "  made by step make of run 1 (same), commit ${c1:0:12}, params bytes=same
  also made by step make of run 2 (same), commit ${c2:0:12}, params bytes=same" "$out"

# Up from what a step made: each input's producer is the one it read.
kiln_rc lineage "$(made_in used.txt 1)" --format json
eq "run 1's use read run 1's out.txt" "0 1 $c1 $(made_in seed.txt 1)" \
    "$rc $(js 't["produced_by"]["inputs"][0]["produced_by"]["run_id"], t["produced_by"]["inputs"][0]["produced_by"]["git_commit"], t["produced_by"]["inputs"][0]["produced_by"]["inputs"][0]["id"]')"
kiln_rc lineage "$(made_in used.txt 2)" --format json
eq "run 2's use read run 2's" "2 $c2" \
    "$(js 't["produced_by"]["inputs"][0]["produced_by"]["run_id"], t["produced_by"]["inputs"][0]["produced_by"]["git_commit"]')"
kiln_rc lineage "$(made_in used.txt 1)"
contains "text, nested" "      made by step make of run 1 (same), commit ${c1:0:12}" "$out"
check "run 1 read nothing of run 2" bash -c "! grep -qE '^ *made by step make of run 2' <<< \"\$0\"" "$out"
contains "the later producer is named apart" "      also made by step make of run 2" "$out"
kiln_rc lineage "$(made_in used.txt 1)" --format dot
eq "dot" 0 "$rc"
contains "the producer it read" 'make\nrun 1' "$out"
contains "the other, dashed" "[style=dashed]" "$out"

# Down: what read run 1's out.txt, not the same bytes made again later.
kiln_rc lineage "$(made_in seed.txt 1)" --down --format json
eq "run 1's seed, down" "0 [(1, 'make', [[(1, 'use')]])]" "$rc $(js '[(x["run_id"], x["step"], [[(u["run_id"], u["step"]) for u in o["used_by"]] for o in x["outputs"]]) for x in t["used_by"]]')"
kiln_rc lineage out.txt --down --format json
eq "out.txt, down: every reader" "[(1, 'use'), (2, 'use'), (3, 'read'), (4, 'read')]" \
    "$(js '[(x["run_id"], x["step"]) for x in t["used_by"]]')"
kiln_rc lineage out.txt --down --run 3 --format json
eq "--down --run 3: run 3's readers" "[(3, 'read')]" \
    "$(js '[(x["run_id"], x["step"]) for x in t["used_by"]]')"

# Model versions: the run that registered them. Run 5 makes other bytes,
# run 6 at a third commit the first bytes again: a version of its own
# (versions 1 and 3 are one artifact, which runs 1, 2 and 6 made).
kiln_rc run same.yaml --param bytes=other
eq "run 5" 0 "$rc"
echo three > notes.txt
git commit -qam three
c3=$(git rev-parse HEAD)
kiln_rc run same.yaml
eq "run 6" 0 "$rc"
# The version run N registered.
v() { q "select version from models where name = 'm' and run_id = $1"; }
v1=$(v 1) v6=$(v 6)
eq "one artifact, two versions" "1 $(q "select artifact_id from models where name = 'm' and version = $v6")" \
    "$(q "select count(distinct version) > 1 from models where name = 'm' and version in ($v1, $v6)") $(q "select artifact_id from models where name = 'm' and version = $v1")"
kiln_rc lineage "m:$v1" --format json
eq "m:$v1 is run 1's" "0 1 $c1 {'name': 'm', 'version': $v1, 'alias': None, 'run_id': 1}" \
    "$rc $(js 't["produced_by"]["run_id"], t["produced_by"]["git_commit"], t["model"]')"
kiln_rc lineage "m:$v6" --format json
eq "m:$v6 is run 6's" "0 6 $c3" "$rc $(js 't["produced_by"]["run_id"], t["produced_by"]["git_commit"]')"
kiln_rc lineage m@production --format json
eq "m@production is run 6's" "0 6 $c3 $v6 production" \
    "$rc $(js 't["produced_by"]["run_id"], t["produced_by"]["git_commit"], t["model"]["version"], t["model"]["alias"]')"
kiln_rc models rollback m production
v5=$(v 5)
kiln_rc lineage m@production
eq "rolled back: text" 0 "$rc"
contains "a header naming the version" "model m version $v5 (production), registered by run 5" "$out"
contains "then run 5's producer" "  made by step make of run 5 (same), commit ${c2:0:12}, params bytes=other" "$out"
kiln_rc lineage "m:$v1" --format dot
contains "dot names the version" "label=\"model m version $v1, registered by run 1\"" "$out"
kiln_rc lineage "m:$v1" --run 6
eq "--run against the registering run" 2 "$rc"
kiln_rc lineage m:99
eq "an unknown version" 2 "$rc"
contains "says so" "model m has no version 99" "$err"
kiln_rc lineage m@staging
eq "an unknown alias" 2 "$rc"
contains "says so" "model m has no alias staging" "$err"
kiln_rc lineage nosuch:1
eq "an unknown model" 2 "$rc"
contains "says so" "no model nosuch in the registry" "$err"
kiln_rc lineage nosuch@production
eq "an unknown model by alias" 2 "$rc"
# A file that exists is a path, whatever its name.
touch "m:$v1"
kiln_rc lineage "m:$v1"
eq "an existing file named m:$v1" 2 "$rc"
contains "is a path" "no artifact m:$v1 recorded" "$err"
rm "m:$v1"
# A path is the bytes there now: run 5 wrote other bytes at out.txt, run
# 6 the first ones again; out.txt holds run 6's, and --run 5 finds run 5's.
kiln_rc lineage out.txt --format json
eq "a path: the bytes there now" "0 $(sha256sum out.txt | cut -c1-64) 6" \
    "$rc $(js 't["sha256"], t["produced_by"]["run_id"]')"
kiln_rc lineage out.txt --run 5 --format json
eq "--run 5: what run 5 made there" "0 5" "$rc $(js 't["produced_by"]["run_id"]')"
kiln_rc lineage out.txt
contains "the model versions these bytes are" "= model m version $v1, registered by run 1" "$out"
# Down from a version: every step that read those bytes, in any run.
kiln_rc lineage "m:$v1" --down --format json
eq "down from a version: its readers" "0 True" "$rc $(js 'len(t["used_by"]) > 0')"
finish
