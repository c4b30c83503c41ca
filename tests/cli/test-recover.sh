# Crash recovery: kiln serve killed with SIGKILL mid-run and started again
# finishes the run without repeating finished steps, records the real exit
# status of a step that outlived it, and retries a step that died with it.
. "$(dirname "$0")/lib.sh"
P=$T/pipelines
mkdir -p "$P"
# Fires once, a second after the daemon starts (the test clock starts one
# second before midnight; catchup is off, so a restart does not fire it
# again).
cat > "$P/crash.yaml" <<'YAML'
pipeline: crash
schedule: "0 0 1 1 *"
steps:
  before: {run: "echo ran >> before.count"}
  middle:
    needs: [before]
    run: "sleep 2; echo ran >> middle.count; exit 3"
  survivor:
    needs: [before]
    run: "sleep 2; echo ran >> survivor.count"
  after: {needs: [survivor], run: "echo ran >> after.count"}
  victim:
    needs: [before]
    run: "echo ran >> victim.count; sleep 3"
    retries: 1
    retry_delay: 100ms
YAML
cd "$P"
KILN_NOW=2025-12-31T23:59:59Z serve serve.log --jobs 4 "$P/crash.yaml"
wait_for "the middle steps, their processes recorded" 8 'test "$(q "select count(*) from executions where status='\''running'\'' and length(external_id) > 0")" = 3'
kill -9 $daemon
wait $daemon 2>/dev/null
# The victim's process is killed while no kiln watches; the others
# outlive the daemon. kiln-shim, their parent, records how each ended.
victim=$(q "select external_id from executions where step='victim'")
kill -9 -- "-${victim%%:*}"
eq "records still say running" "running" "$(q 'select status from runs where id=1')"

KILN_NOW=2026-01-01T00:00:30Z serve serve.log --jobs 4 "$P/crash.yaml"
wait_for "the run to end" 15 'test "$(q "select status from runs where id=1")" != running'
kill -TERM $daemon
wait $daemon
eq "daemon exits 0" 0 "$?"
contains "it took the run over" "crash: taking over run 1" "$(cat "$T/serve.log")"
eq "the run ended failed (middle exited 3)" \
    'failed|step "middle" failed: exited with status 3' \
    "$(q 'select status, reason from runs where id=1')"
eq "before ran once" "ran" "$(cat "$P/before.count")"
eq "middle ran once" "ran" "$(cat "$P/middle.count")"
eq "middle's real exit status" "failed|3" \
    "$(q "select status, exit_code from executions where step='middle'")"
eq "survivor ran once and succeeded" "ran|succeeded" \
    "$(cat "$P/survivor.count")|$(q "select status from run_steps where step='survivor'")"
eq "after ran once, after the restart" "ran" "$(cat "$P/after.count")"
eq "victim killed, then retried" "1|failed|killed by signal 9 (Killed) 2|succeeded|" \
    "$(q "select attempt || '|' || status || '|' || coalesce(reason, '') from executions where step='victim' order by attempt" | tr '\n' ' ' | sed 's/ $//')"
eq "victim ran twice" "2" "$(wc -l < "$P/victim.count")"
eq "one execution per attempt" "" \
    "$(q "select step from executions group by step, attempt having count(*) > 1")"
eq "the schedule did not fire again" "1" "$(q 'select count(*) from runs')"
eq "nothing left running" 0 \
    "$(q "select count(*) from executions where status='running'")"

# A run whose pipeline file changed meanwhile is not resumed blindly: it
# is ended as kiln abandon ends it. The step still running is stopped
# (before, it ran on unwatched, recorded cancelled); the one that ended
# while no kiln watched is recorded as it ended (before: lost, no exit
# code).
cat > "$P/crash.yaml" <<YAML
pipeline: crash
steps:
  ended: {run: "sleep 1; exit 4"}
  only: {run: "sleep 10$$"}
YAML
"$KILN" run --jobs 2 "$P/crash.yaml" >/dev/null 2>&1 &
runner=$!
wait_for "a kiln run" 5 'test "$(q "select count(*) from executions where status='\''running'\'' and length(external_id) > 0")" = 2'
kill -9 $runner
wait $runner 2>/dev/null
wait_for "the ended step's status file" 5 \
    'grep -q "exit 4" "$KILN_STATE"/logs/2/ended.1.status'
check "the other step still runs" pgrep -f "sleep 10$$"
echo "# edited" >> "$P/crash.yaml"
serve serve2.log --jobs 4 "$P/crash.yaml"
wait_for "the abandoned run" 5 'test "$(q "select status from runs where id=2")" = failed'
wait_for "the step that still ran stopped" 5 '! pgrep -f "sleep 10$$"'
kill -TERM $daemon
wait $daemon
eq "abandoned with the reason" "its pipeline file changed since it started" \
    "$(q 'select reason from runs where id=2')"
eq "the ended step recorded as it ended" "failed|4" \
    "$(q "select status || '|' || ifnull(exit_code, '') from executions where run_id=2 and step='ended'")"
eq "the stopped one cancelled, with the reason" \
    "cancelled|its pipeline file changed since it started" \
    "$(q "select status || '|' || reason from executions where run_id=2 and step='only'")"
pkill -f "sleep 10$$" 2>/dev/null

# Stopping such a run's step does not hold kiln serve up: a step that
# ignores SIGTERM takes the 10 s grace to stop, and meanwhile the daemon
# has started and answers (before, it stopped the step first, with its
# loop blocked). SIGTERM then waits for the stop, and the run is
# recorded once, not abandoned again by the next look for orphans.
cat > "$P/crash.yaml" <<YAML
pipeline: crash
steps:
  stubborn: {run: "trap '' TERM; sleep 40$$"}
YAML
start_killed "$P/crash.yaml"
echo "# edited" >> "$P/crash.yaml"
rm -f "$KILN_STATE/web.url"
serve serve4.log "$P/crash.yaml"
wait_for "the step being stopped" 5 \
    'grep -q "cannot be taken over" "$T/serve4.log"'
wait_for "the web URL" 5 '[ -n "$(web_url)" ]'
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
    "$(web_url)api/v1/runs")
eq "the API answers meanwhile" 200 "$code"
check "while the step is still being stopped" pgrep -f "slee[p] 40$$"
contains "and the daemon has started" " loaded in " "$(cat "$T/serve4.log")"
stop $daemon
eq "SIGTERM waits for the stop; exit 0" 0 "$?"
check "the step stopped" bash -c "! pgrep -f 'slee[p] 40$$'"
eq "the run recorded failed, once" "failed|1" \
    "$(q "select status || '|' || (select count(*) from audit where action = 'run.abandoned' and target = 'run $id') from runs where id = $id")"
eq "its step stopped, with the reason" \
    "cancelled|its pipeline file changed since it started" \
    "$(q "select status || '|' || reason from executions where run_id = $id")"

# A killed kiln run whose pipeline the daemon does not serve is still
# taken over and ended. Its steps ran under kiln-shim, so the takeover
# records how the one that outlived kiln really ended (it succeeded) and
# runs the rest: nothing runs twice.
cat > "$T/orphan.yaml" <<'YAML'
pipeline: orphan
steps:
  a: {run: "sh -c 'echo ran >> a.count; sleep 1'"}
  b: {needs: [a], run: "sh -c 'echo ran >> b.count'"}
YAML
mkdir -p "$T/elsewhere"
printf 'pipeline: other\nsteps:\n  x: {run: "true"}\n' > "$T/elsewhere/o.yaml"
(cd "$T" && exec "$KILN" run "$T/orphan.yaml" >/dev/null 2>&1) &
runner=$!
wait_for "the orphan run" 5 'test "$(q "select count(*) from executions e join runs r on r.id = e.run_id where r.pipeline = '\''orphan'\'' and e.status = '\''running'\''")" = 1'
kill -9 $runner
wait $runner 2>/dev/null
serve serve3.log "$T/elsewhere"
wait_for "the orphan run to end" 8 'test "$(q "select status from runs where pipeline = '\''orphan'\''")" = succeeded'
stop $daemon
eq "daemon still exits 0" 0 "$?"
eq "its step found to have succeeded, the next run" "a=succeeded b=succeeded" \
    "$(q "select step || '=' || s.status from run_steps s join runs r on r.id = s.run_id where r.pipeline = 'orphan' order by step" | tr '\n' ' ' | sed 's/ $//')"
eq "each ran once" "1 1" "$(wc -l < "$T/a.count") $(wc -l < "$T/b.count")"

# A run whose end kiln serve could not record (a full disk) is recorded
# once the disk has room again: kiln serve takes over its own run that
# it no longer runs (before, it stayed "running" until a restart). A
# small tmpfs of our own (needs root; said when skipped).
M=$T/disk
mkdir -p "$M" "$T/full"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=4m tmpfs "$M" 2>/dev/null; then
    trap 'umount "$M" 2>/dev/null; cleanup' EXIT
    cat > "$T/full/f.yaml" <<'YAML'
pipeline: f
steps:
  big: {run: "head -c 8000000 /dev/zero | tr '\\0' x"}
  after: {run: "echo after", needs: [big]}
YAML
    KILN_STATE=$M/state serve full.log "$T/full"
    wait_for "the daemon on the small disk" 10 'grep -q " loaded in " "$T/full.log"'
    KILN_STATE=$M/state kiln_rc trigger f
    eq "a run that fills the disk" 0 "$rc"
    wait_for "its end not recorded: the disk is full" 15 'grep -q "disk is full" "$T/full.log"'
    : > "$M/state/logs/1/big.1.log"
    wait_for "recorded once there is room" 25 \
        'test "$(sqlite3 "$M/state/kiln.db" "select status from runs where id = 1")" = failed'
    eq "...as its step really ended" "failed" \
        "$(sqlite3 "$M/state/kiln.db" "select status from executions where run_id = 1 and step = 'big'")"
    stop $daemon
    umount "$M"
else
    echo "note: not root or no tmpfs: the full-disk case is not checked" >&2
fi
finish
