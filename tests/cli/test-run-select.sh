# kiln run FILE --only STEP... | --from STEP | --until STEP: the steps
# picked run; what they need is reused from the cache or from the last run
# that made it (never run), a clear error when it exists nowhere; the rest
# is skipped as not selected, in kiln show, --json and the API's record.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/p"
cd "$T/p" || exit 1
cat > s.yaml <<'YAML'
pipeline: s
params: {n: "1"}
steps:
  ingest:
    run: echo ingest >> ran.txt; echo $KILN_PARAM_N > data.txt
    outputs: [data.txt]
  train:
    needs: [ingest]
    run: echo train >> ran.txt; cat data.txt > model.txt
    inputs: [data.txt]
    outputs: [model.txt]
  evaluate:
    needs: [train]
    run: echo evaluate >> ran.txt; cat model.txt > score.txt
    inputs: [model.txt]
    outputs: [score.txt]
  report:
    needs: [evaluate]
    run: echo report >> ran.txt
YAML
step() { q "select status || ':' || coalesce(reason, '') from run_steps where run_id=$1 and step='$2'"; }
last() { q "select max(id) from runs"; }

# Nothing ran yet: --from train needs ingest's output, which nobody made.
kiln_rc run s.yaml --from train
eq "a needed step never made: exit 2" 2 "$rc"
contains "naming the step and why" 'step "ingest" is needed by the selected steps but not selected (--from train): no earlier run made its outputs' "$err"
check "nothing ran" test ! -e ran.txt
eq "no run recorded" "" "$(q "select id from runs")"

kiln_rc run s.yaml --until train
eq "--until train: exit 0" 0 "$rc"
r1=$(last)
eq "ingest and train ran" "ingest train" "$(tr '\n' ' ' < ran.txt | sed 's/ $//')"
eq "evaluate not selected" "skipped:not selected (--until train)" "$(step "$r1" evaluate)"
eq "report not selected" "skipped:not selected (--until train)" "$(step "$r1" report)"
eq "the run succeeded" succeeded "$(q "select status from runs where id=$r1")"
eq "trigger_info says what was picked" '{"until":"train"}' "$(q "select trigger_info from runs where id=$r1")"
kiln_rc show "$r1"
contains "kiln show says not selected" "not selected (--until train)" "$out"
contains "kiln show says what was picked" "selected: --until train" "$out"

# --from evaluate: train's output is reused from the cache (same key).
: > ran.txt
kiln_rc run s.yaml --from evaluate
eq "--from evaluate: exit 0" 0 "$rc"
r2=$(last)
eq "only evaluate and report ran" "evaluate report" "$(tr '\n' ' ' < ran.txt | sed 's/ $//')"
eq "train from the cache" "succeeded:cached from run $r1" "$(step "$r2" train)"
eq "ingest not selected" "skipped:not selected (--from evaluate)" "$(step "$r2" ingest)"

# Without the cache: reused from the last run that made model.txt.
: > ran.txt
kiln_rc run s.yaml --from evaluate --no-cache
eq "--no-cache --from evaluate: exit 0" 0 "$rc"
r3=$(last)
eq "train reused from its last run" "succeeded:reused from run $r2" "$(step "$r3" train)"
eq "evaluate ran" "evaluate report" "$(tr '\n' ' ' < ran.txt | sed 's/ $//')"

# --only: one step; what it needs reused, the rest not selected.
: > ran.txt
kiln_rc run s.yaml --only evaluate --no-cache
eq "--only evaluate: exit 0" 0 "$rc"
r4=$(last)
eq "--only: only evaluate ran" "evaluate" "$(cat ran.txt)"
eq "--only: report not selected" "skipped:not selected (--only evaluate)" "$(step "$r4" report)"
kiln_rc show "$r4" --json
contains "--json: the reason" '"reason": "not selected (--only evaluate)"' "$out"
kiln_rc show "$r4"
contains "kiln show: --only" "selected: --only evaluate" "$out"

# A needed output changed by hand: not reused; with the cache off, an
# error before anything runs; with it on, the step fails unrun.
echo tampered > model.txt
: > ran.txt
kiln_rc run s.yaml --from evaluate --no-cache
eq "a changed output: exit 2" 2 "$rc"
contains "saying which" "its output $T/p/model.txt changed since run" "$err"
check "nothing ran" test ! -s ran.txt
rm model.txt
kiln_rc run s.yaml --from evaluate --param n=2
eq "missing and not in the cache: exit 1" 1 "$rc"
r5=$(last)
contains "train failed unrun, saying why" "failed:not selected (--from evaluate), and neither the cache nor an earlier run has its outputs (its output model.txt is missing): select it too" "$(step "$r5" train)"
eq "evaluate never ran on missing inputs" "skipped:upstream step \"train\" failed" "$(step "$r5" evaluate)"
check "nothing ran" test ! -s ran.txt

# Usage errors.
kiln_rc run s.yaml --from nope
eq "an unknown step: exit 2" 2 "$rc"
contains "naming it" 'no step "nope"' "$err"
kiln_rc run s.yaml --from evaluate --until train
eq "an empty selection: exit 2" 2 "$rc"
kiln_rc run s.yaml --from train --dry-run
eq "--dry-run with --from: exit 2" 2 "$rc"

# A run of --until taken over (kiln resume) after its kiln died: the
# steps not picked still do not run.
cat > k.yaml <<'YAML'
pipeline: k
steps:
  a: {run: "echo a"}
  b: {run: "while [ ! -e go ]; do sleep 0.05; done", needs: [a]}
  c: {run: "echo c > c.txt", needs: [b]}
YAML
"$KILN" run k.yaml --until b >/dev/null 2>&1 &
runner=$!
wait_for "b runs" 10 '[ "$(q "select status from run_steps where step = '"'b'"' and run_id = (select max(id) from runs)")" = running ]'
kid=$(last)
kill -9 "$runner"
wait "$runner" 2>/dev/null
touch go
kiln_rc resume "$kid"
eq "resumed: exit 0" 0 "$rc"
eq "c still not selected" "skipped:not selected" "$(step "$kid" c)"
check "c never ran" test ! -e c.txt

# The API's record of a run says the same.
TOKEN=0123456789abcdef-select-token
printf '%s\n' "$TOKEN" > "$T/token"
serve serve.log --token-file "$T/token" "$T/p/s.yaml"
wait_for "the web URL" 10 '[ -n "$(web_url)" ]'
api=$(curl -s "$(web_url)api/v1/runs/$r4")
eq "the API: statuses and reasons" "skipped not selected (--only evaluate) succeeded reused from run $r3" \
    "$(printf '%s' "$api" | python3 -c 'import json,sys; d={s["name"]: s for s in json.load(sys.stdin)["steps"]}; print(d["report"]["status"], d["report"]["reason"], d["train"]["status"], d["train"]["reason"])')"
stop "$daemon"
finish
