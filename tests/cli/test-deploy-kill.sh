# A model's deploy command and a kill -9 (issue 9's rule: a killed process
# leaves records that recovery completes without running anything twice).
# The command runs under a kiln-shim of its own and is recorded before it
# starts: a kiln killed while it runs leaves it running, and whoever
# settles the record next (the next move of that model, kiln serve as it
# starts, the kiln that takes a run over) waits for it and moves the
# alias as it ended, without running it again. Killed at each of the
# move's fault points (KILN_CRASH), before the command started, or with
# the shim itself killed, the alias stays and the record says why.
. "$(dirname "$0")/lib.sh"
cd "$T"

alias_of() { q "select version from model_aliases where name = '$1' and alias = '$2' and rolled_back = 0 order by id desc limit 1"; }
# deploys FILE: how many times the command started and ended, per log.
starts() { grep -c "^start $2$" "$1" 2>/dev/null; }
ends() { grep -c "^end $2$" "$1" 2>/dev/null; }
deploy_row() { q "select outcome, detail from deploys where model = '$1' and alias = '$2' order by id desc limit 1"; }

# Each start and end of the command is a line of its log ($2: version,
# $3: alias); DEPLOY_SLEEP and DEPLOY_EXIT come from kiln's environment.
cmd='echo "start $2 $3" >> deploys.log; sleep "${DEPLOY_SLEEP:-0}"; echo "end $2 $3" >> deploys.log; exit "${DEPLOY_EXIT:-0}"'
pipeline ship <<YAML
pipeline: ship
params: {v: 1}
steps:
  make:
    kind: train
    run: mkdir -p mo && printf 'weights %s\n' "\$KILN_PARAM_V" > mo/model.bin
    outputs: [mo/model.bin]
    register: {model: m, path: mo/model.bin, alias: staging, deploy: '$cmd'}
YAML
kiln_rc run ship.yaml --param v=1
eq "version 1 registered" 0 "$rc"
kiln_rc run ship.yaml --param v=2
eq "version 2 registered" 0 "$rc"

# 1. kiln models promote killed while its command runs: the command goes
# on; the next move of the model waits for it, then moves the alias it
# was for, and runs its own command only after it (never beside it).
DEPLOY_SLEEP=2 "$KILN" models promote m 1 production >/dev/null 2>&1 &
cli=$!
wait_for "the command started" 10 '[ "$(starts deploys.log "1 production")" = 1 ]'
kill -9 $cli
wait $cli 2>/dev/null
eq "killed: the alias has not moved" "" "$(alias_of m production)"
eq "its record is open, with its shim's pid" "1|1" \
    "$(q "select outcome is null, pid > 0 from deploys where alias = 'production'")"
check "the command still runs (its shim outlived kiln)" \
    kill -0 "$(q "select pid from deploys where alias = 'production'")"
kiln_rc models promote m 2 production
eq "the next promote: exit 0" 0 "$rc"
contains "it moved production" "production of model m is now version 2" "$out"
eq "the killed one's command ended before the next started, each once" \
    "start 1 production
end 1 production
start 2 production
end 2 production" "$(cat deploys.log)"
eq "both recorded as moved" "1|moved|exit status 0
2|moved|exit status 0" \
    "$(q "select version, outcome, detail from deploys where alias = 'production' order by id")"
eq "production's history: 1 (the killed move, completed), then 2" \
    '{"version":1}
{"version":2}' \
    "$(q "select after from audit where target = 'model m production' and action = 'alias.moved' order by id")"
eq "the completed move audited as the user who asked" "$(id -un)|cli" \
    "$(q "select actor, via from audit where target = 'model m production' order by id limit 1")"
eq "no status file left" "" "$(ls "$KILN_STATE/deploys")"

# 2. A command that fails, killed while it runs: settled as failed, the
# alias stays where it was.
DEPLOY_SLEEP=1 DEPLOY_EXIT=3 "$KILN" models promote m 1 shadow \
    >/dev/null 2>&1 &
cli=$!
wait_for "the failing command started" 10 '[ "$(starts deploys.log "1 shadow")" = 1 ]'
kill -9 $cli
wait $cli 2>/dev/null
kiln_rc models promote m 2 other
eq "the next promote of m" 0 "$rc"
eq "the failed one settled as failed" "failed|exit status 3" \
    "$(deploy_row m shadow)"
eq "shadow did not move" "" "$(alias_of m shadow)"
eq "its command ran once" "1 1" "$(starts deploys.log "1 shadow") $(ends deploys.log "1 shadow")"

# 3. The shim killed too (kill -9 of everything): the command's end is
# unknown; the alias stays, the record says so.
DEPLOY_SLEEP=30 "$KILN" models promote m 1 gone >/dev/null 2>&1 &
cli=$!
wait_for "the command started" 10 '[ "$(starts deploys.log "1 gone")" = 1 ]'
shim=$(q "select pid from deploys where alias = 'gone'")
cmdpids=$(pgrep -P "$shim")
{ kill -9 $cli "$shim"; wait $cli; } 2>/dev/null
for p in $cmdpids; do pkill -9 -P "$p"; kill -9 "$p"; done 2>/dev/null
kiln_rc models promote m 2 other
eq "the next promote of m" 0 "$rc"
eq "settled as lost" "lost" "$(q "select outcome from deploys where alias = 'gone'")"
contains "saying its end is unknown" "its end is unknown" \
    "$(q "select detail from deploys where alias = 'gone'")"
eq "gone did not move" "" "$(alias_of m gone)"

# 4. Killed at each fault point of the move: before the shim's pid is
# recorded and before the gate opens nothing runs (never started); once
# the command has ended, the next settle moves the alias without running
# it again.
for point in deploy-recorded deploy-forked deploy-gated deploy-ended; do
    a=at-$point
    # (its own shell says "Killed", to /dev/null)
    crc=$( (KILN_CRASH=$point:1 "$KILN" models promote m 1 "$a" >/dev/null
            echo $?) 2>/dev/null)
    eq "$point: kiln killed itself" 137 "$crc"
    eq "$point: the alias has not moved" "" "$(alias_of m "$a")"
    kiln_rc models promote m 2 other
    eq "$point: the next promote of m" 0 "$rc"
    case $point in
    deploy-ended)
        eq "$point: settled as moved" "moved|exit status 0" "$(deploy_row m "$a")"
        eq "$point: the alias moved" 1 "$(alias_of m "$a")"
        eq "$point: its command ran once" "1 1" \
            "$(starts deploys.log "1 $a") $(ends deploys.log "1 $a")" ;;
    *)
        eq "$point: settled as never started" \
            "failed|never started: kiln stopped first" "$(deploy_row m "$a")"
        eq "$point: the alias did not move" "" "$(alias_of m "$a")"
        eq "$point: its command never ran" 0 "$(starts deploys.log "1 $a")" ;;
    esac
done
eq "no status file left" "" "$(ls "$KILN_STATE/deploys")"

# deploy_timeout: a command that hangs is stopped then (its shim kills
# it and all it started), recorded as timed out; the alias stays. One a
# killed kiln left is stopped by whoever settles it, at its deadline.
hang='echo "start $2 $3" >> t.log; case $3 in hang*) sleep 31.5;; bg) (sleep 32.5 &);; esac; echo "end $2 $3" >> t.log'
pipeline hung <<YAML
pipeline: hung
steps:
  make:
    kind: train
    run: mkdir -p tm && echo t > tm/model.bin
    outputs: [tm/model.bin]
    register: {model: t, path: tm/model.bin, deploy: '$hang', deploy_timeout: 1s}
YAML
kiln_rc run hung.yaml
eq "t registered" 0 "$rc"
t0=$(now_ms)
kiln_rc models promote t 1 hang1
eq "a command past its deploy_timeout: exit 1" 1 "$rc"
contains "says so" "the deploy command of model t failed (timed out after 1.0s); hang1 still points where it did" "$err"
check "at its deadline, not the command's end ($(( $(now_ms) - t0 )) ms)" \
    test $(( $(now_ms) - t0 )) -lt 10000
eq "recorded as timed out" "failed|timed out after 1.0s" "$(deploy_row t hang1)"
eq "hang1 did not move" "" "$(alias_of t hang1)"
eq "the command and what it started are gone" "" "$(pgrep -f 'sleep 31.5')"
"$KILN" models promote t 1 hang2 >/dev/null 2>&1 &
cli=$!
wait_for "the hanging command started" 10 '[ "$(starts t.log "1 hang2")" = 1 ]'
kill -9 $cli
wait $cli 2>/dev/null
t0=$(now_ms)
kiln_rc models promote t 1 fine
eq "the next promote of t: it stops the one left at its deadline first" \
    "0 failed|timed out after 1.0s" "$rc $(deploy_row t hang2)"
check "...within its deadline, not the command's ($(( $(now_ms) - t0 )) ms)" \
    test $(( $(now_ms) - t0 )) -lt 10000
eq "...and it is gone" "" "$(pgrep -f 'sleep 31.5')"
eq "fine moved" 1 "$(alias_of t fine)"
# A row without a deadline (kiln 22's schema) is stopped an hour (the
# default deploy_timeout) after it started.
"$KILN" models promote t 1 hang3 >/dev/null 2>&1 &
cli=$!
wait_for "the third hanging command started" 10 '[ "$(starts t.log "1 hang3")" = 1 ]'
kill -9 $cli
wait $cli 2>/dev/null
q "update deploys set deadline = null, started_at = started_at - 3600000 where alias = 'hang3'"
kiln_rc models promote t 1 fine2
eq "a row without a deadline: stopped at the default's" \
    "0 failed|timed out after 1h00m" "$rc $(deploy_row t hang3)"
eq "...and it is gone" "" "$(pgrep -f 'sleep 31.5')"
# What a deploy command starts in the background does not outlive it.
kiln_rc models promote t 1 bg
eq "a command that leaves a process behind" "0 1" "$rc $(alias_of t bg)"
eq "...which is gone once it ended" "" "$(pgrep -f 'sleep 32.5')"

# The governance report of version 1 lists every deploy command run
# with its bytes, and how each ended, in order.
kiln_rc audit model m 1 --format json
eq "kiln audit model --format json" 0 "$rc"
eq "its deploys, each as it ended" \
    "production:moved shadow:failed gone:lost at-deploy-recorded:failed at-deploy-forked:failed at-deploy-gated:failed at-deploy-ended:moved" \
    "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print(" ".join(d["alias"] + ":" + d["outcome"] for d in json.load(sys.stdin)["deploys"]))')"
kiln_rc audit model m 1
contains "the model card: a deploy that moved" \
    "| production | promote | $(id -un) | cli | moved: exit status 0 |" "$out"
contains "...one that failed" "| shadow | promote | $(id -un) | cli | failed: exit status 3 |" "$out"
contains "...one never started" "| at-deploy-gated | promote | $(id -un) | cli | failed: never started: kiln stopped first |" "$out"

# 5. kiln serve killed during an API promote: kiln serve started again
# settles it as it starts, and the move is audited as the API's.
TOKEN=0123456789abcdef-test-token
printf '%s\n' "$TOKEN" > token
mkdir -p served
cat > served/promo.yaml <<YAML
pipeline: promo
params: {v: 1}
steps:
  make:
    kind: train
    run: mkdir -p pp && printf 'p %s\n' "\$KILN_PARAM_V" > pp/model.bin
    outputs: [pp/model.bin]
    register: {model: p, path: pp/model.bin, alias: challenger, deploy: '$cmd'}
  promote:
    kind: deploy
    needs: [make]
    promote: {model: p, from: challenger, to: production}
YAML
DEPLOY_SLEEP=2 serve serve1.log --token-file "$T/token" "$T/served"
wait_for "the web URL" 10 '[ -n "$(web_url)" ]'
U=$(web_url)
curl -s -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" \
    -d '{"version": 1}' "${U}api/v1/models/m/aliases/canary" &
wait_for "the API's command started" 10 '[ "$(starts deploys.log "1 canary")" = 1 ]'
kill -9 "$daemon"
wait "$daemon" 2>/dev/null
wait_for "the command ended after kiln serve died" 10 \
    '[ "$(ends deploys.log "1 canary")" = 1 ]'
eq "canary not moved yet" "" "$(alias_of m canary)"
rm -f "$KILN_STATE/web.url"
serve serve2.log --token-file "$T/token" "$T/served"
wait_for "kiln serve settled it as it started" 10 \
    'grep -q "model m: canary to version 1 .*outlived a killed kiln): moved (exit status 0)" "$T/serve2.log"'
eq "canary moved to version 1" 1 "$(alias_of m canary)"
eq "audited as the API's" "api" \
    "$(q "select via from audit where target = 'model m canary'")"
eq "its command ran once" "1 1" "$(starts deploys.log "1 canary") $(ends deploys.log "1 canary")"
eq "GET /api/v1/models/m: its deploys, the last the API's" \
    "8 canary 1 promote api moved exit status 0" \
    "$(curl -s -H "Authorization: Bearer $TOKEN" "$(web_url)api/v1/models/m" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin)["deploys"]; x=d[-1]; print(sum(1 for y in d if y["version"] == 1), x["alias"], x["version"], x["action"], x["via"], x["outcome"], x["detail"])')"
stop "$daemon"

# The model's page lists them all, each as it ended, in a real browser.
mkdir -p none
browser_check "the model's page: its deploy commands and how each ended" \
    deploys-view.mjs none

# 6. kiln serve killed during a run's promote: (its deploy command runs on
# the mover): the run taken over completes the promote without running
# the command again, and retires challenger.
DEPLOY_SLEEP=2 serve serve3.log --token-file "$T/token" "$T/served"
wait_for "the web URL" 10 '[ -n "$(web_url)" ]'
U=$(web_url)
curl -s -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" \
    -d '{}' "${U}api/v1/pipelines/promo/runs"
# (its command runs in the directory of the file that registered p)
wait_for "the run's promote started its command" 20 \
    '[ "$(starts served/deploys.log "1 production")" = 1 ]'
run=$(q "select max(id) from runs where pipeline = 'promo'")
kill -9 "$daemon"
wait "$daemon" 2>/dev/null
rm -f "$KILN_STATE/web.url"
serve serve4.log --token-file "$T/token" "$T/served"
wait_for "the run taken over succeeded" 30 \
    '[ "$(q "select status from runs where id = $run")" = succeeded ]'
eq "p production: version 1" 1 "$(alias_of p production)"
eq "challenger retired" 0 "$(alias_of p challenger)"
eq "the run's command ran once, to its end" "1 1" \
    "$(starts served/deploys.log "1 production") $(ends served/deploys.log "1 production")"
eq "the run's deploy: its command outlived kiln serve" "moved|exit status 0" \
    "$(deploy_row p production)"
check "...which kiln serve said as it started" \
    grep -q "model p: production to version 1 (run $run via api; its deploy command outlived a killed kiln): moved" "$T/serve4.log"
eq "one attempt of promote, succeeded" "1|succeeded" \
    "$(q "select count(*), max(status) from executions where run_id = $run and step = 'promote'")"
eq "audited as the run, started through the API" "run $run|api" \
    "$(q "select actor, via from audit where target = 'model p production' and action = 'alias.moved'")"
eq "...and challenger's retire, by the kiln that took it over, too" \
    "run $run|api" \
    "$(q "select actor, via from audit where target = 'model p challenger' and action = 'alias.retired'")"
stop "$daemon"
finish
