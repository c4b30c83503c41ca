# A database locked by another program mid-run (a write transaction held
# longer than the busy timeout): kiln waits, says why, and records what
# happened with its real times; it never invents a state (issue 12,
# point 4).
. "$(dirname "$0")/lib.sh"
cd "$T"
pipeline locked <<'YAML'
pipeline: locked
steps:
  a: {run: "sleep 1; echo ran >> a.count"}
  b: {needs: [a], run: "echo ran >> b.count"}
YAML
kiln_rc run locked.yaml; eq "a first run makes the database" 0 "$rc"
rm -f a.count b.count

"$KILN" run locked.yaml >"$T/run.out" 2>"$T/run.err" &
runner=$!
wait_for "step a running" 5 \
    '[ "$(q "select status from run_steps where run_id = 2 and step = '\''a'\''")" = running ]'
# Another program holds a write transaction for 14 s (the busy timeout is
# 10 s): step a ends meanwhile.
/usr/bin/python3 - "$KILN_STATE/kiln.db" <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
time.sleep(14)
db.execute("ROLLBACK")
PY
locker=$!
wait $locker
wait $runner
rc=$?
eq "the run succeeded once the lock was gone" 0 "$rc"
contains "it said what it waited for" "locked by another process" \
    "$(cat "$T/run.err")"
eq "a and b each ran once" "ran ran" "$(cat a.count) $(cat b.count)"
eq "recorded: run, a, b" "succeeded succeeded succeeded" \
    "$(q "select status from runs where id = 2") $(q "select group_concat(status, ' ') from (select status from run_steps where run_id = 2 order by position)")"
dur=$(q "select finished_at - started_at from run_steps where run_id = 2 and step = 'a'")
check "step a's recorded duration is its real one ($dur ms), not the wait" \
    test "$dur" -lt 4000
edur=$(q "select finished_at - started_at from executions where run_id = 2 and step = 'a'")
check "so is its attempt's ($edur ms)" test "$edur" -lt 4000
eq "no run was cancelled" 0 "$(q "select count(*) from runs where status = 'cancelled'")"
finish
