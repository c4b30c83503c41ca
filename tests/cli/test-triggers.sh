# Triggers in a real kiln serve: drift, new data, cooldown, errors and
# their retry, and kiln trigger / kiln triggers.
. "$(dirname "$0")/lib.sh"
F=$KILN_SRC/tests/fixtures/drift
mkdir -p "$T/data/in"
cp "$F/reference.csv" "$T/data/reference.csv"
cp "$F/reference.csv" "$T/data/live.csv"      # no drift yet
checks_of() { q "select count(*) from trigger_checks where trigger='$1' ${2:-}"; }
runs_of() { q "select count(*) from runs where trigger='$1'"; }

pipeline drift <<'YAML'
pipeline: drifty
triggers:
  - drift:
      reference: data/reference.csv
      current: data/live.csv
      columns: [age, plan]
      threshold: 0.2
      every: 1s
steps:
  retrain: {run: "echo retraining"}
YAML
pipeline data <<'YAML'
pipeline: fresh
cooldown: 4s
params: {batch: none}
triggers:
  - data: {path: data/in, every: 1h}    # only inotify can notice in time
steps:
  ingest: {run: "echo ingest $KILN_PARAM_BATCH"}
YAML
mkdir -p "$T/p"; mv "$T/drift.yaml" "$T/data.yaml" "$T/p/"
# The pipelines' paths are relative to their files: point them at $T.
ln -s ../data "$T/p/data"
serve serve.log "$T/p"

# Drift: identical files first.
wait_for "a quiet drift check" 10 '[ "$(checks_of drift "and status='"'quiet'"'")" -ge 1 ]'
eq "no drift, no run" 0 "$(runs_of drift)"
contains "the reason says why" "no drift (psi below 0.2)" \
    "$(q "select reason from trigger_checks where trigger='drift' limit 1")"
# A drifted file swapped in (written aside, then renamed, as a batch job
# would).
cp "$F/current.csv" "$T/data/live.tmp" && mv "$T/data/live.tmp" "$T/data/live.csv"
wait_for "the drift trigger fires" 10 '[ "$(runs_of drift)" = 1 ]'
eq "the firing check names the columns" \
    "fired|drift in age, plan (psi, threshold 0.2)" \
    "$(q "select status, reason from trigger_checks where trigger='drift' and run_id is not null")"
# Every statistic is kept with the check, per column.
eq "per-column statistics" "age 0.42130823 plan 2.41725784" \
    "$(q "select detail from trigger_checks where trigger='drift' and status='fired'" |
       /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join("%s %.8f" % (c["name"], c["psi"]) for c in d["columns"]))')"
eq "the run records the trigger and its values" "drift|2" \
    "$(q "select trigger, json_array_length(json_extract(trigger_info, '$.detail.columns')) from runs where trigger='drift'")"
# Still drifted, same files: no second run.
n=$(checks_of drift)
wait_for "two more checks" 10 '[ "$(checks_of drift)" -ge $((n + 2)) ]'
eq "same files fire once" 1 "$(runs_of drift)"
contains "and say so" "a run was already fired on these files" \
    "$(q "select reason from trigger_checks where trigger='drift' order by id desc limit 1")"

# Errors: a missing file is recorded, the daemon goes on, the next check
# works again.
rm "$T/data/live.csv"
wait_for "an error recorded" 10 '[ "$(checks_of drift "and status='"'error'"'")" -ge 1 ]'
contains "naming the file" "data/live.csv" \
    "$(q "select reason from trigger_checks where status='error' limit 1")"
printf 'age,plan\n1,"unterminated\n' > "$T/data/live.csv"
wait_for "a malformed CSV is an error too" 10 \
    '[ "$(q "select count(*) from trigger_checks where status='"'error'"' and reason like '"'%line%'"'")" -ge 1 ]'
check "the daemon is still running" kill -0 "$daemon"
cp "$F/reference.csv" "$T/data/live.csv"
wait_for "checks work again" 10 '[ "$(q "select status from trigger_checks where trigger='"'drift'"' order by id desc limit 1")" = quiet ]'

# Data: the first look only takes stock; a new file fires at once
# (inotify: the interval is an hour).
wait_for "the first look" 10 '[ "$(checks_of data)" -ge 1 ]'
eq "first look fires nothing" "quiet|first look: 0 files taken as they are" \
    "$(q "select status, reason from trigger_checks where trigger='data'")"
echo "a,b" > "$T/data/in/batch-1.csv"
wait_for "a dropped file fires" 5 '[ "$(runs_of data)" = 1 ]'
eq "which file" '["batch-1.csv"]' \
    "$(q "select json_extract(detail, '$.new') from trigger_checks where trigger='data' and status='fired'")"
# Cooldown 4s: the next new file within it is held, then fires.
echo "c,d" > "$T/data/in/batch-2.csv"
wait_for "held by the cooldown" 5 '[ "$(checks_of data "and status='"'held'"'")" -ge 1 ]'
contains "the reason names the cooldown" "cooldown 4.0s: run" \
    "$(q "select reason from trigger_checks where status='held' and trigger='data'")"
eq "no second run yet" 1 "$(runs_of data)"
# The held change fires once the cooldown is over (a later event or
# check): touch a file to make an event after it.
sleep 4
echo "e,f" > "$T/data/in/batch-3.csv"
wait_for "fires after the cooldown" 5 '[ "$(runs_of data)" = 2 ]'
eq "with both files" '["batch-2.csv","batch-3.csv"]' \
    "$(q "select json_extract(detail, '$.new') from trigger_checks where trigger='data' and status='fired' order by id desc limit 1")"
# Same content rewritten: not a change.
sleep 4
cp "$T/data/in/batch-1.csv" "$T/data/in/x.tmp"; mv "$T/data/in/x.tmp" "$T/data/in/batch-1.csv"
wait_for "a check after the rewrite" 5 '[ "$(q "select reason from trigger_checks where trigger='"'data'"' order by id desc limit 1")" = "no new or changed files" ]'
eq "rewriting the same bytes fires nothing" 2 "$(runs_of data)"

# kiln trigger: a manual run, through the daemon, with a parameter; the
# run exists when the command returns.
kiln_rc trigger fresh --param batch=42
eq "kiln trigger exits 0" 0 "$rc"
id=$(printf '%s' "$out" | sed -n 's/^run \([0-9]*\) started$/\1/p')
check "it names the run ($out)" test -n "$id"
eq "recorded as manual with the param" "manual|42" \
    "$(q "select trigger, json_extract(params, '$.batch') from runs where id=$id")"
wait_for "the manual run succeeds" 10 '[ "$(q "select status from runs where id='"$id"'")" = succeeded ]'
contains "the step saw the param" "ingest 42" "$("$KILN" logs "$id" ingest)"
kiln_rc trigger nosuch
eq "unknown pipeline: exit 2" 2 "$rc"
contains "and says so" 'no pipeline "nosuch" is loaded' "$err"
kiln_rc trigger fresh --param nope=1
eq "unknown param: exit 2" 2 "$rc"
kiln_rc trigger fresh --json
eq "--json" "started" "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')"

# kiln triggers shows the checks.
kiln_rc triggers fresh
contains "kiln triggers lists checks" "fired" "$out"
contains "with their reasons" "new and 0 changed" "$out"
kiln_rc triggers --json --limit 3
eq "--json --limit" 3 "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["checks"]))')"

# A file dropped while the daemon is down fires when it starts again.
stop "$daemon"
eq "clean stop" 0 "$?"
echo "g,h" > "$T/data/in/batch-4.csv"
before=$(runs_of data)
serve serve.log "$T/p"
wait_for "noticed after a restart" 10 '[ "$(runs_of data)" = $((before + 1)) ]'
stop "$daemon"
kiln_rc trigger fresh
eq "no daemon: exit 3" 3 "$rc"
contains "and says so" "no kiln serve is running" "$err"
# Drift triggers on a FIFO nobody writes to: each check is an error
# saying what the file is. open() held a worker of the thread pool for
# ever; four such triggers held all four, and with them every other
# pipeline's kiln trigger and the daemon's SIGTERM.
export KILN_STATE=$T/fifo-state
mkdir -p "$T/fifo"
mkfifo "$T/fifo/live.csv"
cp "$F/reference.csv" "$T/fifo/ref.csv"
cat > "$T/fifo/m.yaml" <<'YAML'
pipeline: m
triggers:
  - drift: {reference: ref.csv, current: live.csv, columns: [age], every: 1s}
  - drift: {reference: ref.csv, current: live.csv, every: 1s}
  - drift: {reference: ref.csv, current: live.csv, method: js, every: 1s}
  - drift: {reference: live.csv, current: ref.csv, method: ks, every: 1s}
steps:
  a: {run: "true"}
YAML
printf 'pipeline: other\nsteps:\n  a: {run: "echo hi"}\n' > "$T/fifo/other.yaml"
serve fifo.log "$T/fifo"
wait_for "the FIFO's checks are recorded" 10 \
    '[ "$(q "select count(*) from trigger_checks where status='"'error'"'")" -ge 4 ]'
eq "as errors saying what it is" "$T/fifo/live.csv is a FIFO, not a file" \
    "$(q "select distinct reason from trigger_checks")"
timeout 20 "$KILN" trigger other > /dev/null 2>&1
eq "another pipeline's kiln trigger still works" 0 "$?"
kill -TERM "$daemon"
wait_for "and SIGTERM stops the daemon" 10 '! kill -0 "$daemon" 2>/dev/null'
# A data trigger's directory that cannot be read (EACCES) is an error
# check, and what the trigger remembers stays: it was taken for empty
# ("quiet", 0 files), and once readable again its files fired as new.
# Root reads everything: its daemon runs as nobody (setpriv).
as_daemon=()
if [ "$(id -u)" = 0 ]; then
    command -v setpriv > /dev/null && id nobody > /dev/null 2>&1 &&
        as_daemon=(setpriv --reuid=nobody --regid="$(id -gn nobody)"
                   --clear-groups)
fi
if [ "$(id -u)" = 0 ] && [ ${#as_daemon[@]} = 0 ]; then
    echo "not checked, running as root without setpriv or nobody:" \
         "an unreadable data directory"
else
    export KILN_STATE=$T/perm-state
    mkdir -p "$T/perm/p" "$T/perm/in" "$KILN_STATE"
    chmod 755 "$T" "$T/perm" "$T/perm/p"
    chmod 777 "$KILN_STATE"
    echo 1 > "$T/perm/in/a.csv"
    echo 2 > "$T/perm/in/b.csv"
    cat > "$T/perm/p/d.yaml" <<'YAML'
pipeline: d
triggers:
  - data: {path: ../in, every: 1s}
steps:
  a: {run: "true"}
YAML
    # The database is the daemon's user's: read it as that user too.
    qd() { "${as_daemon[@]}" sqlite3 "$KILN_STATE/kiln.db" "$1"; }
    "${as_daemon[@]}" "$KILN" serve --state "$KILN_STATE" \
        --listen 127.0.0.1:0 "$T/perm/p" >> "$T/perm.log" 2>&1 &
    daemon=$!
    daemons+=("$daemon")
    wait_for "the first look" 10 \
        '[ "$(qd "select count(*) from trigger_checks")" -ge 1 ]'
    chmod 700 "$T/perm/in"
    n=$(qd "select max(id) from trigger_checks")
    wait_for "two checks of the unreadable directory" 10 \
        '[ "$(qd "select count(*) from trigger_checks where id > $n")" -ge 3 ]'
    chmod 755 "$T/perm/in"
    m=$(qd "select max(id) from trigger_checks")
    wait_for "two checks once readable" 10 \
        '[ "$(qd "select count(*) from trigger_checks where id > $m")" -ge 2 ]'
    eq "unreadable: errors, never a look at 0 files" "0" \
        "$(qd "select count(*) from trigger_checks where status <> 'error'
               and json_extract(detail, '$.files') = 0")"
    check "two errors at least" [ "$(qd "select count(*) from
        trigger_checks where status = 'error'")" -ge 2 ]
    contains "saying why" "in: Permission denied" \
        "$(qd "select reason from trigger_checks where status = 'error'")"
    eq "readable again: nothing new, no run" "0|no new or changed files" \
        "$(qd "select (select count(*) from runs), reason from
               trigger_checks order by id desc limit 1")"
    stop "$daemon"
fi
# Fires queued behind a run (max_active_runs 1) are kept with their
# checks: a kiln serve killed with SIGKILL, or stopped, before they
# started leaves them queued, and the next one starts them. They were
# lost (the data trigger had counted the file as seen, so it never fired
# again), their checks queued for ever or "kiln serve stopped before it
# could start".
export KILN_STATE=$T/queue-state
mkdir -p "$T/queue/p" "$T/queue/in"
cat > "$T/queue/p/d.yaml" <<'YAML'
pipeline: d
params: {n: none}
triggers:
  - data: {path: ../in, every: 1s}
steps:
  a: {run: "sleep 3; echo n=$KILN_PARAM_N"}
YAML
serve queue.log "$T/queue/p"
wait_for "the first look" 10 '[ "$(q "select count(*) from trigger_checks")" -ge 1 ]'
echo 1 > "$T/queue/in/f1"
wait_for "f1 fires a run" 10 '[ "$(q "select count(*) from runs")" = 1 ]'
echo 2 > "$T/queue/in/f2"
wait_for "f2's fire queued" 10 \
    '[ "$(q "select count(*) from trigger_checks where status = '"'queued'"'")" = 1 ]'
kill -9 "$daemon"
wait "$daemon" 2> /dev/null
queued=$(q "select id from trigger_checks where status = 'queued'")
serve queue.log "$T/queue/p"
wait_for "after SIGKILL, f2's fire runs" 20 \
    '[ "$(q "select status from trigger_checks where id = $queued")" = fired ]'
run=$(q "select run_id from trigger_checks where id = $queued")
eq "its check names the run, a run of f2" "data|f2" \
    "$(q "select trigger, json_extract(trigger_info, '$.detail.new[0]') from
          runs where id = ${run:-0}")"
wait_for "the runs end" 20 \
    '[ "$(q "select count(*) from runs where status = '"'succeeded'"'")" = 2 ]'
# kiln trigger twice: the second waits, then SIGTERM (the run in
# flight finishes, the queued one does not start).
timeout 20 "$KILN" trigger d > /dev/null
eq "the first kiln trigger starts a run" 0 "$?"
kiln_rc trigger d --param n=2
eq "the second is queued (exit 0)" "0 queued" "$rc $(printf '%s' "$out" | grep -o queued | head -1)"
queued=$(q "select id from trigger_checks where status = 'queued' and
            trigger = 'manual'")
stop "$daemon"
eq "clean stop" 0 "$?"
eq "still queued" queued "$(q "select status from trigger_checks where id = ${queued:-0}")"
serve queue.log "$T/queue/p"
wait_for "after SIGTERM, the queued request runs" 20 \
    '[ "$(q "select status from trigger_checks where id = ${queued:-0}")" = fired ]'
run=$(q "select run_id from trigger_checks where id = ${queued:-0}")
by=$(q "select started_by from runs where trigger = 'manual' order by id
         limit 1")
eq "with its param, started by who asked" "manual|2|$by" \
    "$(q "select trigger, json_extract(params, '$.n'), started_by from runs
          where id = ${run:-0}")"
wait_for "and succeeds" 20 '[ "$(q "select status from runs where id = ${run:-0}")" = succeeded ]'
stop "$daemon"
finish
