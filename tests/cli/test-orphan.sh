# A kiln run killed with SIGKILL leaves a run whose owner is gone: kiln
# runs and kiln show say it is orphaned, kiln resume takes it over
# (recording how its steps really ended, running nothing twice), kiln
# abandon ends it, and a kiln serve running beside takes such runs over
# by itself (issue 12, point 3).
. "$(dirname "$0")/lib.sh"
cd "$T"
pipeline o <<EOF2
pipeline: o
steps:
  a: {run: "sh -c 'echo ran >> a.count; sleep 2'"}
  b: {needs: [a], run: "sh -c 'echo ran >> b.count'"}
EOF2
start_killed o.yaml
kiln_rc runs
contains "kiln runs says orphaned" "orphaned" "$out"
kiln_rc show "$id"
contains "kiln show says how to go on" "kiln resume $id" "$out"
kiln_rc runs --json
eq "JSON says orphaned" "True" \
    "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["orphaned"])')"
kiln_rc resume "$id"
eq "resume: the run ends well" 0 "$rc"
eq "a ran once (it outlived kiln), b once" "1 1" \
    "$(wc -l < a.count) $(wc -l < b.count)"
eq "a recorded as it really ended" "succeeded|0" \
    "$(q "select status || '|' || exit_code from executions where run_id = $id and step = 'a'")"
eq "one attempt each" "1 1" \
    "$(q "select count(*) from executions where run_id = $id and step = 'a'") $(q "select count(*) from executions where run_id = $id and step = 'b'")"
eq "the run succeeded" succeeded "$(q "select status from runs where id = $id")"
kiln_rc resume "$id"
eq "resuming a run that ended is refused" 2 "$rc"

# Two kiln resume of one run at once: one takes it over and runs it, the
# other is refused; the record stays true (before, both took it over and
# the loser, stopped, rewrote the run as failed).
for round in 1 2 3 4; do
    rm -f a.count b.count
    start_killed o.yaml
    "$KILN" resume "$id" >"$T/r1.out" 2>&1 & r1=$!
    "$KILN" resume "$id" >"$T/r2.out" 2>&1 & r2=$!
    ( sleep 30; kill -TERM $r1 $r2 2>/dev/null ) & watchdog=$!
    wait $r1; rc1=$?; wait $r2; rc2=$?
    kill $watchdog 2>/dev/null; wait $watchdog 2>/dev/null
    eq "round $round: one resume runs it, one is refused" "0 2" \
        "$(printf '%s\n' $rc1 $rc2 | sort -n | tr '\n' ' ' | sed 's/ $//')"
    contains "...saying who has it" "kiln process" "$(cat "$T/r1.out" "$T/r2.out")"
    eq "round $round: the run succeeded" "succeeded|" \
        "$(q "select status || '|' || ifnull(reason, '') from runs where id = $id")"
    eq "round $round: b once, succeeded" "1 succeeded" \
        "$(wc -l < b.count) $(q "select group_concat(status) from executions where run_id = $id and step = 'b'")"
done

# A kiln run --no-cache taken over serves nothing from the cache either
# (before, kiln resume served b from run nc1's cache entry).
pipeline nc <<'EOF2'
pipeline: nc
steps:
  a:
    run: sleep 2; echo A > a.out
    outputs: [a.out]
  b:
    needs: [a]
    run: echo "ran in $KILN_RUN_ID" >> b.count; cp a.out b.out
    inputs: [a.out]
    outputs: [b.out]
EOF2
rm -f b.count
kiln_rc run nc.yaml; eq "nc: a first run fills the cache" 0 "$rc"
"$KILN" run nc.yaml --no-cache >/dev/null 2>&1 &
runner=$!
wait_for "nc: a running" 10 \
    '[ "$(q "select count(*) from executions where status = '\''running'\''")" = 1 ]'
id=$(q "select max(id) from runs")
kill -9 $runner; wait $runner 2>/dev/null
kiln_rc resume "$id"
eq "nc: resumed" 0 "$rc"
eq "nc: b ran again, in the resumed run, not from the cache" 2 "$(wc -l < b.count)"
eq "nc: recorded with the run" "true" \
    "$(q "select json_extract(trigger_info, '$.no_cache') = 1 from runs where id = $id" | sed 's/1/true/')"

# A step that ended while no kiln watched, whose status file is gone
# while its kiln-shim lives on (another step of the run still runs): it
# is lost after KILN_STATUS_WAIT seconds, not waited for until the shim
# ends (for ever when the shim is a kiln serve's own).
pipeline sw <<EOF2
pipeline: sw
steps:
  a: {run: "sleep 1"}
  b: {run: "sleep 8"}
EOF2
"$KILN" run sw.yaml >/dev/null 2>&1 &
runner=$!
wait_for "sw: both steps running" 10 \
    '[ "$(q "select count(*) from executions x join runs r on r.id = x.run_id where r.pipeline = '\''sw'\'' and x.status = '\''running'\'' and x.external_id is not null")" = 2 ]'
id=$(q "select max(id) from runs")
kill -9 $runner; wait $runner 2>/dev/null
rm -f "$KILN_STATE/logs/$id/a.1.status"
sleep 2
KILN_STATUS_WAIT=2 kiln_rc resume "$id"
eq "sw: a's first attempt lost, saying why" "lost|1" \
    "$(q "select status || '|' || (reason like '%wrote no exit status in 2 s%') from executions where run_id = $id and step = 'a' and attempt = 1")"

# kiln abandon: what still runs is stopped, the run recorded failed.
rm -f a.count b.count
pipeline long <<EOF2
pipeline: long
steps:
  a: {run: "sh -c 'echo ran >> a.count; sleep 30$$'"}
  b: {needs: [a], run: "true"}
EOF2
start_killed long.yaml
check "its step still runs" pgrep -f "sleep 30$$"
kiln_rc abandon "$id" --reason "no longer wanted"
eq "abandon" 0 "$rc"
wait_for "the step's process stopped" 15 '! pgrep -f "sleep 30$$"'
eq "the run failed with the reason" "failed|abandoned: no longer wanted" \
    "$(q "select status || '|' || reason from runs where id = $id")"
eq "its attempt cancelled, b cancelled" "cancelled cancelled" \
    "$(q "select status from executions where run_id = $id") $(q "select status from run_steps where run_id = $id and step = 'b'")"

# kiln abandon owns the run while its steps stop: a kiln resume
# meanwhile refuses (before, it took the run over and ran it while kiln
# abandon was ending it). The step ignores SIGTERM, so the stop takes
# the 10 s grace.
pipeline stubborn <<EOF2
pipeline: stubborn
steps:
  a: {run: "trap '' TERM; sleep 31$$"}
  b: {needs: [a], run: "echo ran >> b.count"}
EOF2
rm -f b.count
start_killed stubborn.yaml
"$KILN" abandon "$id" >/dev/null 2>"$T/abandon.err" &
abandoner=$!
wait_for "kiln abandon ending the step" 5 'grep -q "ending 1 step" "$T/abandon.err"'
kiln_rc resume "$id"
eq "resume meanwhile refuses" 2 "$rc"
contains "naming kiln abandon's process" "kiln process $abandoner" "$err"
wait $abandoner
eq "abandon, once the step stopped" 0 "$?"
eq "the run failed, b never ran" "failed|no" \
    "$(q "select status from runs where id = $id")|$([ -e b.count ] && echo ran || echo no)"

# kiln abandon of a run whose step ended while no kiln watched: the
# attempt is recorded as it ended (its status file says so), not
# cancelled.
pipeline ends <<EOF2
pipeline: ends
steps:
  a: {run: "sh -c 'sleep 1; exit 5'"}
EOF2
start_killed ends.yaml
wait_for "a's status file says it ended" 5 \
    'grep -q "exit 5" "$KILN_STATE/logs/$id/a.1.status"'
kiln_rc abandon "$id"
eq "abandon an ended step" 0 "$rc"
eq "its attempt recorded as it ended" "failed|5" \
    "$(q "select status || '|' || ifnull(exit_code, '') from executions where run_id = $id")"

# A step that ended while no kiln watched ended when it ended, not when
# it was taken over: before, its duration counted the seconds until the
# resume.
pipeline quick <<EOF2
pipeline: quick
steps:
  a: {run: "sleep 1"}
EOF2
start_killed quick.yaml
sleep 4
kiln_rc resume "$id"
eq "resume quick" 0 "$rc"
took=$(q "select finished_at - started_at from executions where run_id = $id")
check "its duration is its own ($took ms), not until the resume" \
    test "$took" -lt 2000

# A changed pipeline file: resume refuses and says what to do.
start_killed o.yaml
echo "# changed" >> o.yaml
kiln_rc resume "$id"
eq "resume refuses a changed pipeline" 2 "$rc"
contains "and says why" "changed since it started" "$err"
kiln_rc abandon "$id"; eq "abandoned instead" 0 "$rc"

# kiln serve beside takes over a run orphaned while it runs.
rm -f a.count b.count
mkdir -p none
printf 'pipeline: other\nsteps:\n  x: {run: "true"}\n' > none/other.yaml
serve serve.log none
wait_for "the daemon" 5 'grep -q "loaded" "$T/serve.log"'
start_killed o.yaml
wait_for "the daemon took it over and ended it" 20 \
    '[ "$(q "select status from runs where id = '"$id"'")" = succeeded ]'
contains "it said so" "taking over run $id" "$(cat "$T/serve.log")"
eq "nothing ran twice" "1 1" "$(wc -l < a.count) $(wc -l < b.count)"
stop $daemon
finish
