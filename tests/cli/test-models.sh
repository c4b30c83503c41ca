# The model registry: register, promote, rollback, and the alias paths
# steps see.
. "$(dirname "$0")/lib.sh"
# versions_with ALIAS: the versions of churn that kiln models --json
# says ALIAS is on.
versions_with() {
    kiln_rc models churn --json
    printf '%s' "$out" | /usr/bin/python3 -c '
import json, sys
print(*[v["version"] for v in json.load(sys.stdin) if sys.argv[1] in v["aliases"]])' "$1"
}
cd "$T"
pipeline r <<'YAML'
pipeline: r
params: {q: 1}
steps:
  train:
    kind: train
    run: |
      mkdir -p models && echo "model $KILN_PARAM_Q" > models/m.txt
      printf '{"acc": 0.%s}' "$KILN_PARAM_Q" > "$KILN_METRICS"
    outputs: [models/m.txt]
    register: {model: churn, path: models/m.txt}
  deploy:
    kind: deploy
    needs: [train]
    run: echo "${KILN_MODEL_CHURN_PRODUCTION:-none}" > deployed.txt
YAML
kiln_rc run r.yaml --param q=7
eq "first run" 0 "$rc"
eq "no production yet" "none" "$(cat deployed.txt)"
kiln_rc run r.yaml --param q=8
kiln_rc run r.yaml --param q=9
eq "three versions" "1 2 3" "$(q 'select version from models order by version' | tr '\n' ' ' | sed 's/ $//')"
eq "with the run's metrics" '{"train.acc":0.8}' "$(q 'select metrics from models where version = 2')"
kiln_rc logs 2 train
contains "registration in the log" "registered $T/models/m.txt as version 2 of model churn" "$out"

kiln_rc models promote churn 1 production
eq "promote" 0 "$rc"
kiln_rc models promote churn 2 production
kiln_rc models promote churn 3 staging
kiln_rc models
eq "models" 0 "$rc"
contains "production on 2" "churn            2       production" "$out"
contains "staging on 3" "churn            3       staging" "$out"
kiln_rc run r.yaml --param q=5
eq "a step sees a copy of the alias's version" "$KILN_STATE/models/churn/2/m.txt" "$(cat deployed.txt)"
kiln_rc models rollback churn production
eq "rollback" 0 "$rc"
contains "back to 1" "back at version 1" "$out"
eq "production back on version 1" "1" "$(versions_with production)"
eq "history kept" "1|0 2|1" "$(q "select version || '|' || rolled_back from model_aliases where alias = 'production' order by id" | tr '\n' ' ' | sed 's/ $//')"
kiln_rc models rollback churn production
eq "nothing older to roll back to" 2 "$rc"
kiln_rc models promote churn 99 production
eq "unknown version" 2 "$rc"
kiln_rc models promote churn 1 "Bad Alias"
eq "bad alias" 2 "$rc"
kiln_rc models nosuch
eq "unknown model" 2 "$rc"

# retire: staging points nowhere, the history says so, a step no longer
# sees it, and a rollback brings it back.
kiln_rc models retire churn staging
eq "retire" 0 "$rc"
contains "says what it was" "staging of model churn is retired (it was version 3" "$out"
eq "no version is staging" "" "$(versions_with staging)"
kiln_rc models history churn
contains "history: -> none" "staging        3       -> none" "$out"
eq "audited" "alias.retired" "$(q "select action from audit where target = 'model churn staging' order by id desc limit 1")"
kiln_rc models pull churn@staging --to "$T/staging.txt"
eq "a retired alias cannot be pulled" 2 "$rc"
kiln_rc models retire churn staging
eq "retiring it again: no such alias" 2 "$rc"
kiln_rc models rollback churn staging
eq "rollback brings it back" "0 3" "$rc $(q "select version from model_aliases where alias = 'staging' and rolled_back = 0 order by id desc limit 1")"
# history --limit N: the newest N moves, oldest first, and a note that
# there are more (none with --limit 0, or in --json).
all_moves=$(q "select count(*) from audit where target like 'model churn %' and action like 'alias.%'")
kiln_rc models history churn --limit 0
eq "--limit 0: every move" "$all_moves" "$(($(printf '%s\n' "$out" | wc -l) - 1))"
kiln_rc models history churn --limit 2
eq "--limit 2: two moves and a note" 4 "$(printf '%s\n' "$out" | wc -l)"
contains "the newest two: the retire, then the rollback" "staging        -       -> 3" "$(printf '%s\n' "$out" | sed -n 3p)"
contains "and says there are more" "(the newest 2 moves; --limit 0 lists them all)" "$out"
kiln_rc models history churn --limit 2 --json
eq "--json --limit 2: the two newest, oldest first" "alias.retired alias.rolled_back" \
    "$(printf '%s' "$out" | python3 -c 'import json,sys; print(" ".join(m["action"] for m in json.load(sys.stdin)))')"
kiln_rc models history churn --limit "$all_moves"
eq "--limit at the count: no note" "" "$(printf '%s\n' "$out" | grep 'newest')"

# register: with alias: the new version becomes production at once
# (a deploy step that registers and promotes).
pipeline ship <<'YAML'
pipeline: ship
steps:
  deploy:
    kind: deploy
    run: mkdir -p served && echo shipped > served/s.bin
    outputs: [served/s.bin]
    register: {model: served, path: served/s.bin, alias: production}
YAML
kiln_rc run ship.yaml
eq "registered and promoted" "0 1" "$rc $(q "select version from model_aliases where name = 'served' and alias = 'production'")"
kiln_rc logs "$(q 'select max(id) from runs')" deploy
contains "and says so" "as version 1 of model served, now production" "$out"

pipeline bad <<'YAML'
pipeline: bad
steps:
  t: {run: "true", outputs: [a.bin], register: {model: m, path: b.bin}}
YAML
kiln_rc validate bad.yaml
eq "register path must be an output" 2 "$rc"
contains "says so" 'register: path "b.bin" is not one of step "t"'"'"'s outputs' "$err"
finish
