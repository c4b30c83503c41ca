# kiln serve: schedules fire on the test clock, policies, reload, drain,
# one daemon per state directory, catchup after downtime.
. "$(dirname "$0")/lib.sh"
P=$T/pipelines
mkdir -p "$P"
export KILN_NOW=2026-01-01T00:00:30Z KILN_CLOCK_SPEED=60 # a minute a second
# Fires every minute; a run takes 1.5 s, that is 1.5 minutes of test clock.
cat > "$P/forbid.yaml" <<'YAML'
pipeline: forbid
schedule: {cron: "* * * * *", concurrency: forbid}
steps:
  work: {run: "sleep 1.5"}
YAML
serve forbid.log "$P/forbid.yaml"
wait_for "a second run" 8 'test "$(q "select count(*) from runs where status='\''succeeded'\''" 2>/dev/null)" -ge 2'
wait_for "a skipped fire" 5 'test "$(q "select count(*) from fires where status='\''skipped'\''")" -ge 1'
stop $daemon
eq "daemon exits 0 on SIGTERM" 0 "$?"
eq "runs record their trigger" "schedule" "$(q 'select trigger from runs where id=1')"
eq "and their due time" '2026-01-01T00:01:00Z' \
    "$(q "select json_extract(trigger_info, '$.due') from runs where id=1")"
contains "skip names the running run" "is still running (concurrency: forbid)" \
    "$(q "select reason from fires where status='skipped' limit 1")"
eq "every fire accounted for, in order" "" \
    "$(q "select a.due_at from fires a join fires b on b.id = a.id + 1 where b.due_at - a.due_at != 60000")"

# A second daemon on the same state directory is refused.
serve first.log "$P/forbid.yaml"
wait_for "the first daemon" 5 'grep -q "pid $daemon" "$T/first.log"'
kiln_rc serve --state "$KILN_STATE" "$P/forbid.yaml"
eq "second daemon refused" 3 "$rc"
contains "names the holder" "another kiln serve (pid $daemon)" "$err"
kiln_rc status --json
contains "status sees the daemon" "\"daemon_pid\": $daemon" "$out"
contains "status shows the next fire" '"schedule": "* * * * *"' "$out"
# A second daemon is refused even when its kiln.lock was deleted (before, the second daemon
# locked a new file and both ran, each firing the schedules).
rm "$KILN_STATE/kiln.lock"
kiln_rc serve --state "$KILN_STATE" "$P/forbid.yaml"
eq "kiln.lock deleted: still refused" 3 "$rc"
contains "and says so" "another kiln serve holds the state directory" "$err"
kiln_rc status --json
contains "status still sees a daemon" '"daemon_running": true' "$out"
stop $daemon

# replace: a fire cancels the run still going.
rm "$P/forbid.yaml"
cat > "$P/replace.yaml" <<'YAML'
pipeline: replace
schedule: {cron: "* * * * *", concurrency: replace}
steps:
  long: {run: "sleep 100"}
YAML
serve replace.log "$P/replace.yaml"
wait_for "a replaced run" 10 'test "$(q "select count(*) from runs where pipeline='\''replace'\'' and status='\''cancelled'\''")" -ge 1'
stop $daemon
eq "replaced runs were cancelled, newest last" "cancelled" \
    "$(q "select status from runs where pipeline='replace' order by id limit 1")"
contains "log says why" "cancelling run" "$(cat "$T/replace.log")"

# allow with max_active_runs 1 queues; start_deadline turns a long wait
# into a miss.
rm "$P/replace.yaml"
cat > "$P/queue.yaml" <<'YAML'
pipeline: queue
schedule: {cron: "* * * * *", max_active_runs: 1, start_deadline: 90s}
steps:
  slow: {run: "sleep 2.5"}
YAML
serve queue.log "$P/queue.yaml"
wait_for "a missed fire" 12 'test "$(q "select count(*) from fires where pipeline='\''queue'\'' and status='\''missed'\''")" -ge 1'
wait_for "a queued fire that started" 8 'test "$(q "select count(*) from runs where pipeline='\''queue'\'' and status='\''succeeded'\''")" -ge 2'
stop $daemon
contains "queued in the log" "fire queued behind 1 active run" "$(cat "$T/queue.log")"
contains "miss names the deadline" "could not start within start_deadline 1m30s" \
    "$(q "select reason from fires where pipeline='queue' and status='missed' limit 1")"
eq "never two queue runs at once" "" "$(q "select a.id from runs a join runs b on b.pipeline = a.pipeline and b.id > a.id where a.pipeline='queue' and b.started_at < a.finished_at")"

# Two pipelines fired at once share --jobs 2 round-robin: each gets a slot
# at once, rather than the first taking both.
rm "$P/queue.yaml"
for f in fair1 fair2; do
    cat > "$P/$f.yaml" <<YAML
pipeline: $f
schedule: {cron: "* * * * *", concurrency: forbid}
steps:
  a: {run: "sleep 0.4"}
  b: {run: "sleep 0.4"}
  c: {run: "sleep 0.4"}
YAML
done
serve fair.log --jobs 2 "$P"
wait_for "both fair runs" 8 'test "$(q "select count(distinct pipeline) from runs where pipeline like '\''fair%'\'' and status='\''succeeded'\''")" = 2'
stop $daemon
first=$(q "select min(id) from runs where pipeline='fair1'")
second=$(q "select min(id) from runs where pipeline='fair2'")
eq "both runs got a slot at once" 1 \
    "$(q "select abs((select min(started_at) from executions where run_id=$second) - (select min(started_at) from executions where run_id=$first)) < 250")"
check "at most 2 steps at once" test "$(q "select max(n) from (select (select count(*) from executions b where b.run_id in ($first, $second) and b.started_at <= a.started_at and b.finished_at > a.started_at) as n from executions a where a.run_id in ($first, $second))")" -le 2
rm "$P/fair1.yaml" "$P/fair2.yaml"

# SIGHUP: an invalid edit keeps the last good definition; a new file is
# added; a removed one stops.
cat > "$P/hup.yaml" <<'YAML'
pipeline: hup
schedule: "* * * * *"
steps:
  quick: {run: "true"}
YAML
serve hup.log "$P"
wait_for "hup runs" 5 'test "$(q "select count(*) from runs where pipeline='\''hup'\''")" -ge 1'
printf 'pipeline: hup\nsteps: [broken\n' > "$P/hup.yaml"
cat > "$P/added.yaml" <<'YAML'
pipeline: added
schedule: "*/2 * * * *"
steps:
  quick: {run: "true"}
YAML
kill -HUP $daemon
wait_for "the reload" 5 'grep -q "added: added from" "$T/hup.log"'
contains "invalid edit reported with position" "hup.yaml:3:1: error:" "$(cat "$T/hup.log")"
contains "last good definition kept" "keeping the last good definition of hup" "$(cat "$T/hup.log")"
before=$(q "select count(*) from runs where pipeline='hup'")
wait_for "hup still fires" 5 'test "$(q "select count(*) from runs where pipeline='\''hup'\''")" -gt "$before"'
wait_for "added fires" 5 'test "$(q "select count(*) from runs where pipeline='\''added'\''")" -ge 1'
rm "$P/added.yaml"
kill -HUP $daemon
wait_for "removal" 5 'grep -q "added: removed" "$T/hup.log"'
after=$(q "select count(*) from runs where pipeline='added'")
sleep 2.5
eq "a removed pipeline no longer fires" "$after" "$(q "select count(*) from runs where pipeline='added'")"
stop $daemon

# SIGTERM drains: the running step finishes within --grace...
rm "$P/hup.yaml"
cat > "$P/drain.yaml" <<'YAML'
pipeline: drain
schedule: "* * * * *"
steps:
  first: {run: "sleep 1; echo done"}
  second: {needs: [first], run: "true"}
YAML
serve drain.log --grace 5s "$P/drain.yaml"
wait_for "a drain run" 5 'test -n "$(q "select id from runs where pipeline='\''drain'\'' and status='\''running'\''")"'
id=$(q "select max(id) from runs where pipeline='drain'")
sleep 0.2
stop $daemon
eq "exit 0 after draining" 0 "$?"
eq "the running step finished" "succeeded" "$(q "select status from run_steps where run_id=$id and step='first'")"
eq "the pending step was cancelled" "cancelled|kiln serve is stopping" \
    "$(q "select status, reason from run_steps where run_id=$id and step='second'")"
eq "nothing left running" 0 "$(q "select count(*) from runs where status in ('running','queued')")"
eq "the run was cancelled (its second step was)" cancelled "$(q "select status from runs where id=$id")"
# A run whose every step ends within --grace succeeded: a drain that
# stopped nothing does not make it cancelled (before, it did).
cat > "$P/drain.yaml" <<'YAML'
pipeline: drain
steps:
  only: {run: "sleep 1"}
YAML
serve drain1.log --grace 5s "$P/drain.yaml"
wait_for "the daemon" 10 'grep -q " loaded in " "$T/drain1.log"'
kiln_rc trigger drain; eq "a one-step run" 0 "$rc"
wait_for "it runs" 5 'test -n "$(q "select run_id from run_steps where step='\''only'\'' and status='\''running'\''")"'
id=$(q "select max(id) from runs where pipeline='drain'")
stop $daemon
eq "...it succeeded" "succeeded|" "$(q "select status || '|' || ifnull(reason, '') from runs where id=$id")"
# Killed (SIGKILL) while it drains: the next kiln serve ends the run as
# the drain would have, cancelled with its reason (before: failed, with
# no reason).
cat > "$P/drain.yaml" <<'YAML'
pipeline: drain
steps:
  a: {run: "sleep 2"}
  b: {needs: [a], run: "true"}
YAML
serve drain3.log --grace 5s "$P/drain.yaml"
wait_for "the daemon" 10 'grep -q " loaded in " "$T/drain3.log"'
kiln_rc trigger drain; eq "a two-step run" 0 "$rc"
wait_for "a runs" 5 'test -n "$(q "select run_id from run_steps where step='\''a'\'' and status='\''running'\'' and run_id > '"$id"'")"'
id=$(q "select max(id) from runs where pipeline='drain'")
kill -TERM $daemon
wait_for "b cancelled by the drain" 5 'test "$(q "select status from run_steps where run_id='"$id"' and step='\''b'\''")" = cancelled'
kill -9 $daemon; wait $daemon 2>/dev/null
serve drain4.log "$P/drain.yaml"
wait_for "the run taken over and ended" 15 'test "$(q "select finished_at is not null from runs where id=$id")" = 1'
stop $daemon
eq "...cancelled, with its reason" "cancelled|cancelled" "$(q "select status || '|' || ifnull(reason, '') from runs where id=$id")"
# ...and one past --grace is cancelled.
cat > "$P/drain.yaml" <<YAML
pipeline: drain
schedule: "* * * * *"
steps:
  forever: {run: "sleep 30${$}1"}
YAML
serve drain2.log --grace 1s "$P/drain.yaml"
wait_for "a forever run" 5 'test -n "$(q "select run_id from run_steps where step='\''forever'\'' and status='\''running'\''")"'
stop $daemon
eq "exit 0 after the grace period" 0 "$?"
eq "the long step was cancelled" "cancelled" "$(q "select status from run_steps where step='forever' order by run_id desc limit 1")"
check "its process is gone" bash -c "! pgrep -f 'sleep 30${$}[1]' >/dev/null"

# Downtime: without catchup the missed fires are recorded as missed; with
# catchup the latest max_catchup of them run, oldest first.
cat > "$P/drain.yaml" <<'YAML'
pipeline: drain
schedule: {cron: "*/10 * * * *", catchup: true, max_catchup: 2}
steps:
  quick: {run: "true"}
YAML
last=$(q "select max(due_at) from fires where pipeline='drain'")
KILN_NOW=2026-01-01T03:00:30Z serve catchup.log "$P/drain.yaml"
wait_for "catch-up runs" 8 'test "$(q "select count(*) from fires where pipeline='\''drain'\'' and due_at > $last and status='\''started'\''")" -ge 2'
stop $daemon
eq "the latest two slots ran, oldest first" "2026-01-01T02:50:00Z 2026-01-01T03:00:00Z" \
    "$(q "select json_extract(trigger_info, '$.due') from runs where pipeline='drain' and json_extract(trigger_info, '$.schedule') = '*/10 * * * *' order by id" | tr '\n' ' ' | sed 's/ $//')"
check "older slots recorded as missed" test "$(q "select count(*) from fires where pipeline='drain' and status='missed' and reason like '%max_catchup%'")" -ge 10

# Down for eleven months with a schedule of every minute: more slots than
# are looked at one by one; the latest two still run (before, the two
# where the scan stopped, in March), and the first missed are recorded.
cat > "$P/gap.yaml" <<'YAML'
pipeline: gap
schedule: {cron: "* * * * *", catchup: true, max_catchup: 2}
steps:
  quick: {run: "true"}
YAML
KILN_NOW=2026-01-01T00:00:50Z serve gap1.log "$P/gap.yaml"
wait_for "a first fire" 10 'test "$(q "select count(*) from fires where pipeline='\''gap'\''")" -ge 1'
stop $daemon
KILN_NOW=2026-12-01T00:00:30Z KILN_CLOCK_SPEED=1 serve gap2.log "$P/gap.yaml"
wait_for "catch-up runs after the gap" 15 'test "$(q "select count(*) from runs where pipeline='\''gap'\'' and json_extract(trigger_info, '\''$.due'\'') >= '\''2026-11'\''")" -ge 2'
stop $daemon
eq "after a long gap the latest two slots ran" "2026-11-30T23:59:00Z 2026-12-01T00:00:00Z" \
    "$(q "select json_extract(trigger_info, '$.due') from runs where pipeline='gap' and json_extract(trigger_info, '$.due') >= '2026-02' order by id" | tr '\n' ' ' | sed 's/ $//')"
check "...and the first missed are recorded" test "$(q "select count(*) from fires where pipeline='gap' and status='missed'")" -ge 100

kiln_rc status
contains "status lists missed fires" "missed" "$out"
contains "status says no daemon" "daemon: not running" "$out"

# A schedule's runs record the commit of the repository holding the
# pipeline file and that the work tree differs from it (read on the
# thread pool before the fire); every fire in order, each once.
git_identity
G=$T/repo
mkdir -p "$G"
git -C "$G" init -q -b main
cat > "$G/p.yaml" <<'YAML'
pipeline: insched
schedule: "* * * * *"
steps:
  s: {run: "cat v.txt"}
YAML
echo one > "$G/v.txt"
git -C "$G" add -A && git -C "$G" commit -qm one
echo edited > "$G/v.txt"
head=$(git -C "$G" rev-parse HEAD)
KILN_NOW=2026-01-01T04:00:30Z serve insched.log "$G/p.yaml"
wait_for "three scheduled runs in the repository" 10 \
    '[ "$(q "select count(*) from runs where pipeline='"'insched'"' and status='"'succeeded'"'")" -ge 3 ]'
# kiln trigger is answered once its run started, the repository read on
# the thread pool first, as for the API's runs.
kiln_rc trigger insched
eq "kiln trigger: started" 0 "$rc"
trig=$(q "select max(id) from runs where pipeline='insched' and trigger='manual'")
contains "...says which run" "run $trig" "$out"
eq "its run records HEAD, its branch and a dirty tree" "$head|main|1" \
    "$(q "select git_commit, git_branch, git_dirty from runs where id=$trig")"
kiln_rc trigger nosuch
eq "kiln trigger of no such pipeline: refused at once" 2 "$rc"
# Bad requests in the inbox get an error, never a crash: not JSON, not an
# object, cut short, an unknown op, a trigger without its pipeline.
i=0
for req in 'nonsense' '[1, 2]' '{"op":' '{"op": "zzz"}' '{"op": "trigger"}' \
           '{"op": "trigger", "pipeline": "insched", "params": [1]}' \
           '{"op": "cancel", "run_id": "x"}' '"text"' ''; do
    i=$((i + 1))
    printf '%s' "$req" > "$KILN_STATE/inbox/bad$i.tmp"
    mv "$KILN_STATE/inbox/bad$i.tmp" "$KILN_STATE/inbox/bad$i.req"
done
wait_for "every bad request answered" 10 \
    '[ "$(ls "$KILN_STATE"/inbox/bad*.reply | wc -l)" = $i ]'
eq "each with an error" "$i" \
    "$(grep -l '"error":' "$KILN_STATE"/inbox/bad*.reply | wc -l)"
check "kiln serve still runs" kill -0 $daemon
rm -f "$KILN_STATE"/inbox/bad*
stop $daemon
# A fire that waited for max_active_runs reads the repository as it
# leaves the queue (on the thread pool, holding its slot meanwhile).
cat > "$G/q.yaml" <<'YAML'
pipeline: inqueue
schedule: {cron: "0 0 1 1 *", max_active_runs: 1}
steps:
  s: {run: "sleep 1; cat v.txt"}
YAML
rm -f "$KILN_STATE/web.url"
serve inqueue.log "$G/q.yaml"
wait_for "kiln serve up" 20 '[ -n "$(web_url)" ]'
kiln_rc trigger inqueue
eq "the first: started" 0 "$rc"
kiln_rc trigger inqueue
contains "the second: queued" "queued" "$out"
kiln_rc trigger inqueue
contains "the third: queued" "queued" "$out"
wait_for "the queued ones ran" 20 \
    '[ "$(q "select count(*) from runs where pipeline='"'inqueue'"' and status='"'succeeded'"'")" = 3 ]'
stop $daemon
eq "each, queued or not, records HEAD, its branch and a dirty tree" "$head|main|1" \
    "$(q "select distinct git_commit, git_branch, git_dirty from runs where pipeline='inqueue'")"
eq "never two at once" "" "$(q "select a.id from runs a join runs b on b.pipeline = a.pipeline and b.id > a.id where a.pipeline='inqueue' and b.started_at < a.finished_at")"
eq "each records HEAD, its branch and a dirty tree" "$head|main|1" \
    "$(q "select distinct git_commit, git_branch, git_dirty from runs where pipeline='insched'")"
eq "fired in order, each slot once" "" \
    "$(q "select a.id from runs a join runs b on b.pipeline = a.pipeline and b.id > a.id where a.pipeline='insched' and json_extract(b.trigger_info, '$.due') <= json_extract(a.trigger_info, '$.due')")"
# As PID 1 (a container without an init) it warns that it reaps only
# its own; not otherwise.
check "no PID 1 warning otherwise" sh -c "! grep -q 'is PID 1' '$T/insched.log'"
if unshare --pid --fork --kill-child true 2>/dev/null; then
    unshare --pid --fork --kill-child "$KILN" serve --state "$T/pid1" \
        --listen 127.0.0.1:0 "$G/p.yaml" > "$T/pid1.log" 2>&1 &
    pid1=$!
    daemons+=("$pid1")
    wait_for "kiln serve as PID 1" 10 'grep -q "pid 1," "$T/pid1.log"'
    contains "warns to run it under an init" "run it under an init" \
        "$(cat "$T/pid1.log")"
    pkill -TERM -P "$pid1"; wait "$pid1" 2>/dev/null  # kiln, not unshare
fi
finish
