# Retention (issue 20): kiln gc --runs on a pipeline of 50 runs: keep_last
# from the pipeline's retention:, older_than from the command line, the
# protected runs (model versions, an alias, their lineage; the runs whose
# outputs a run that stays read or reused) kept, --dry-run
# changing nothing, --archive writing one JSON line per run deleted, logs
# removed or gzip'd and still read by kiln logs and the API, trigger
# checks by age, the database file shrinking (the one VACUUM of an older
# file, then in place); then kiln serve's periodic pass.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || exit 77
cd "$T"
pipeline p <<'YAML'
pipeline: p
params: {i: 0, reg: 0}
retention:
  runs: {keep_last: 30}
  logs: {keep_last: 20}
steps:
  s:
    run: mkdir -p data && echo "hello $KILN_PARAM_I" && echo "data $KILN_PARAM_I" > data/out.txt
    outputs: [data/out.txt]
    cache: false
  reg:
    needs: [s]
    when: params.reg == 1
    run: mkdir -p models && cp data/out.txt models/m.txt
    outputs: [models/m.txt]
    register: {model: churn, path: models/m.txt}
    cache: false
YAML
# m reads what p's run 20 made: run 20 is the lineage of model fit.
pipeline m <<'YAML'
pipeline: m
steps:
  fit:
    run: mkdir -p models && cp data/out.txt models/fit.txt
    inputs: [data/out.txt]
    outputs: [models/fit.txt]
    register: {model: fit, path: models/fit.txt}
    cache: false
YAML
for i in $(seq 1 20); do
    r=0; case $i in 5|12) r=1 ;; esac
    "$KILN" run p.yaml -p "i=$i" -p "reg=$r" >/dev/null 2>&1 || fail "run $i"
done
"$KILN" run m.yaml >/dev/null 2>&1 || fail "run of m"
for i in $(seq 22 51); do
    "$KILN" run p.yaml -p "i=$i" >/dev/null 2>&1 || fail "run $i"
done
# k (no limits: its runs stay) reads what p's run 10 made (the same
# bytes): run 10 is the lineage of a run that stays.
pipeline k <<'YAML'
pipeline: k
steps:
  use:
    run: cp data/out.txt k.txt
    inputs: [data/out.txt]
    outputs: [k.txt]
    cache: false
YAML
echo "data 10" > data/out.txt
"$KILN" run k.yaml >/dev/null 2>&1 || fail "run of k"
eq "k's run read what run 10 made" 10 \
    "$(q "select px.run_id from events ei join executions x on x.id = ei.execution_id join runs r on r.id = x.run_id join events eo on eo.artifact_id = ei.artifact_id and eo.type = 'output' join executions px on px.id = eo.execution_id where r.pipeline = 'k' and ei.type = 'input'")"
eq "50 runs of p, 1 of m" "50 1" \
    "$(q "select count(*) from runs where pipeline = 'p'") $(q "select count(*) from runs where pipeline = 'm'")"
eq "versions from runs 5, 12 and 21" "5 12 21" \
    "$(q 'select run_id from models order by run_id' | tr '\n' ' ' | sed 's/ $//')"
kiln_rc models promote churn 1 production
eq "an alias on run 5's version" 0 "$rc"
eq "a new database shrinks in place" 2 "$(q 'PRAGMA auto_vacuum')"

# Runs 22 to 25 finished 100 days ago; 20,000 trigger checks from 2001;
# the file made as an older kiln made it (no auto_vacuum).
q "UPDATE runs SET finished_at = finished_at - 100 * 86400000 WHERE id BETWEEN 22 AND 25" >/dev/null
q "PRAGMA auto_vacuum = NONE; VACUUM;
   WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
   INSERT INTO trigger_checks (pipeline, trigger, target, checked_at, status, reason, detail)
   SELECT 'p', 'file', 'data/x', 1000000000000 + i, 'quiet', 'nothing changed',
          '{\"pad\":\"' || hex(randomblob(100)) || '\"}' FROM n;
   INSERT INTO trigger_checks (pipeline, trigger, target, checked_at, status, reason, detail)
   VALUES ('p', 'manual', 'kiln trigger', 1000000000000, 'queued', 'queued', '{}');
   PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
eq "an older file" 0 "$(q 'PRAGMA auto_vacuum')"

# Page sessions: one expired in 2001, one logged out in 2001, one that
# is still good.
q "INSERT INTO sessions (secret_hash, user, role, csrf, created_at, expires_at, ended_at) VALUES
     ('a', 'u', 'viewer', 'c', 1000000000000, 1000000001000, NULL),
     ('b', 'u', 'viewer', 'c', 1000000000000, 9000000000000, 1000000002000),
     ('c', 'u', 'viewer', 'c', 1000000000000, 9000000000000, NULL)" >/dev/null

# --dry-run: what would go, and nothing changes.
q .dump > "$T/before.sql"
before_logs=$(cd "$KILN_STATE/logs" && find . | sort)
kiln_rc gc --runs --dry-run --keep-runs-for 60d --compress-logs-after 0s
eq "dry run" 0 "$rc"
contains "would delete over keep_last" "would delete run 1 (p)" "$out"
contains "would delete older_than" "would delete run 22 (p)" "$out"
contains "would remove logs" "would remove the logs of run 26 (p)" "$out"
contains "would compress logs" "would compress the logs of run 51 (p)" "$out"
contains "the count" "would delete 20 runs (4 over a limit kept" "$out"
contains "checks" "would delete 19999 trigger checks" "$out"
contains "sessions" "2 ended page sessions" "$out"
q .dump > "$T/after.sql"
check "--dry-run changes nothing in kiln.db" cmp -s "$T/before.sql" "$T/after.sql"
eq "--dry-run changes no log" "$before_logs" "$(cd "$KILN_STATE/logs" && find . | sort)"
eq "no audit row for a dry run" 0 "$(q "select count(*) from audit where action = 'gc'")"

size_before=$(stat -c %s "$KILN_STATE/kiln.db")
kiln_rc gc --runs --archive "$T/archive.jsonl" --keep-runs-for 60d --compress-logs-after 0s
eq "gc --runs" 0 "$rc"
contains "deleted" "deleted 20 runs (4 over a limit kept" "$out"
contains "vacuumed" "(vacuumed once; it now shrinks in place)" "$out"
eq "p: keep_last 30, minus 4 older than 60d, plus 4 protected" \
    "5 10 12 20 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51" \
    "$(q "select id from runs where pipeline = 'p' order by id" | tr '\n' ' ' | sed 's/ $//')"
eq "m's run stays (a model version)" 1 "$(q "select count(*) from runs where pipeline = 'm'")"
eq "model versions and the alias intact" "3 1" \
    "$(q 'select count(*) from models') $(q "select version from model_aliases where alias = 'production'")"
for t in run_steps executions metrics; do
    eq "no $t row of a deleted run" 0 "$(q "select count(*) from $t where run_id not in (select id from runs)")"
done
eq "no event of a deleted execution" 0 \
    "$(q 'select count(*) from events where execution_id not in (select id from executions)')"
eq "foreign keys hold" "" "$(q 'PRAGMA foreign_key_check')"
eq "artifacts nothing refers to are gone (but the newest)" 0 \
    "$(q 'select count(*) from artifacts a where not exists (select 1 from events e where e.artifact_id = a.id) and not exists (select 1 from models m where m.artifact_id = a.id) and a.id < (select max(id) from artifacts)')"
eq "two checks rows kept: the newest and a queued one" "1 queued" \
    "$(q "select count(*) from trigger_checks where status <> 'queued'") $(q "select status from trigger_checks where status = 'queued'")"
eq "the ended and expired sessions went, the good one stayed" c \
    "$(q 'select secret_hash from sessions')"
kiln_rc lineage fit:1
contains "the lineage of a kept model reaches run 20" "made by step s of run 20 (p)" "$out"
kiln_rc lineage k.txt
contains "the lineage of a kept run's output reaches run 10" "made by step s of run 10 (p)" "$out"

# The archive: one JSON line per run deleted, each parsing.
eq "archive: the runs deleted" "1 2 3 4 6 7 8 9 11 13 14 15 16 17 18 19 22 23 24 25" \
    "$(/usr/bin/python3 -c '
import json, sys
print(*sorted(json.loads(l)["id"] for l in open(sys.argv[1])))' "$T/archive.jsonl")"
eq "archive: with steps, artifacts, metrics" "True True True" \
    "$(head -1 "$T/archive.jsonl" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["steps"][0]["name"] == "s", "artifacts" in d, "metrics" in d)')"

# Logs: gzip'd and read as written; removed ones said to be.
check "run 51's log gzip'd" test -f "$KILN_STATE/logs/51/s.1.log.gz"
check "...the plain one gone" test ! -e "$KILN_STATE/logs/51/s.1.log"
eq "zcat reads it" "hello 51" "$(zcat "$KILN_STATE/logs/51/s.1.log.gz")"
kiln_rc logs 51 s
eq "kiln logs reads a gzip'd log" "0 hello 51" "$rc $out"
kiln_rc logs -f 51 s
eq "kiln logs -f too" "0 hello 51" "$rc $out"
kiln_rc logs 5 s
eq "a protected run's log, gzip'd" "0 hello 5" "$rc $out"
check "logs of run 30 removed" test ! -e "$KILN_STATE/logs/30"
eq "their state" removed "$(q 'select logs_state from runs where id = 30')"
kiln_rc logs 30 s
eq "kiln logs of removed logs" 2 "$rc"
contains "says retention removed them" "the logs of run 30 were removed by retention" "$err"
check "a deleted run's logs gone" test ! -e "$KILN_STATE/logs/3"

# The file shrank; the audit trail has the pass.
size_after=$(stat -c %s "$KILN_STATE/kiln.db")
check "kiln.db smaller ($size_before -> $size_after)" test "$size_after" -lt "$((size_before / 4))"
eq "incremental from now on" 2 "$(q 'PRAGMA auto_vacuum')"
eq "a gc audit row" "gc runs 20" \
    "$(q "select action, target, json_extract(after, '\$.runs_deleted') from audit where action = 'gc'" | tr '|' ' ')"
kiln_rc audit verify
eq "audit intact" 0 "$rc"

# Again, in place: 20,000 notifications from 2001 go, the file shrinks
# with no VACUUM; the 5 still pending (not yet posted) stay.
q "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
   INSERT INTO notifications (pipeline, run_id, event, url, status, attempts, error, created_at)
   SELECT 'p', 51, 'failure', 'http://127.0.0.1:9/x',
          CASE WHEN i <= 5 THEN 'pending' ELSE 'failed' END, 3,
          hex(randomblob(100)), 1000000000000 + i FROM n;
   PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
size_before=$(stat -c %s "$KILN_STATE/kiln.db")
kiln_rc gc --runs
eq "second pass" 0 "$rc"
contains "notifications" "deleted 0 trigger checks, 0 fires, 19994 notifications, 0 ended page sessions" "$out"
eq "pending notifications kept" 5 "$(q "select count(*) from notifications where status = 'pending'")"
case $out in *vacuumed*) fail "no second VACUUM" ;; *) ok ;; esac
size_after=$(stat -c %s "$KILN_STATE/kiln.db")
check "kiln.db smaller in place ($size_before -> $size_after)" test "$size_after" -lt "$((size_before / 4))"
kiln_rc gc --archive x
eq "--archive without --runs" 2 "$rc"

# c's fourth run took s from the first run's cache: it stays (the
# newest), so the first (what it reused) stays too; the second and third
# go (the second's directory files with it; the third's artifacts are
# the newest, which stay).
pipeline c <<'YAML'
pipeline: c
params: {i: 1}
steps:
  s:
    run: mkdir -p cdir && echo $KILN_PARAM_I > cdir/f && echo made $KILN_PARAM_I > c.txt && echo making $KILN_PARAM_I
    outputs: [c.txt, cdir/]
YAML
for i in 1 2 3 1; do "$KILN" run c.yaml -p "i=$i" >/dev/null 2>&1 || fail "run of c"; done
last=$(q "select max(id) from runs where pipeline = 'c'")
eq "the fourth run reused the first's output" "cached $((last - 3))" \
    "$(q "select x.status, c.run_id from executions x join executions c on c.id = x.cached_from where x.run_id = $last" | tr '|' ' ')"
trees=$(q "select count(distinct tree) from tree_files")
kiln_rc gc --runs --pipeline c --keep-runs 1
contains "--pipeline: only c's runs" "deleted 2 runs (1 over a limit kept" "$out"
eq "c: the run its kept run reused from, and that run" "$((last - 3)) $last" \
    "$(q "select id from runs where pipeline = 'c' order by id" | tr '\n' ' ' | sed 's/ $//')"
eq "the deleted run's directory files went, the kept one's stayed" \
    "$((trees - 1)) 0" \
    "$(q "select count(distinct tree) from tree_files") $(q "select count(*) from tree_files where tree not in (select sha256 from artifacts)")"
eq "p untouched by --pipeline c" 30 "$(q "select count(*) from runs where pipeline = 'p'")"
kiln_rc logs "$last" s
eq "the log of the cached step (its run's)" "0 making 1" "$rc $out"

# Environment captures (stored once by hash) go with the last run whose
# key names them: runs with env.txt v1, v2, v3, v3, the last kept.
pipeline e <<'YAML'
pipeline: e
steps:
  s:
    run: "true"
    environment: {files: [env.txt]}
    cache: false
YAML
caps=$(q "select count(*) from captures")
for v in v1 v2 v3 v3; do
    echo "$v" > env.txt
    "$KILN" run e.yaml >/dev/null 2>&1 || fail "run of e ($v)"
done
last=$(q "select max(id) from runs where pipeline = 'e'")
eq "three captures more" $((caps + 3)) "$(q "select count(*) from captures")"
kiln_rc gc --runs --pipeline e --keep-runs 1
eq "e: its last run kept" "$last" "$(q "select group_concat(id) from runs where pipeline = 'e'")"
eq "v1's and v2's captures went, v3's (the kept run's) stayed" \
    $((caps + 1)) "$(q "select count(*) from captures")"
kiln_rc show "$last" --env s
eq "the kept run's environment still reads" "0 v3" "$rc $(echo "$out" | tail -1)"
eq "no reference to a deleted execution" 0 \
    "$(q "select count(*) from capture_refs where execution_id not in (select id from executions)")"

# kiln serve applies retention: on its own, every --retention-every.
pipeline d <<'YAML'
pipeline: d
retention:
  runs: {keep_last: 2}
steps:
  s: {run: echo d, cache: false}
YAML
for i in 1 2 3 4 5; do "$KILN" run d.yaml >/dev/null 2>&1 || fail "run of d"; done
mkdir -p "$T/served" && cp d.yaml "$T/served/"
serve serve.log --retention-every 1s "$T/served"
wait_for "the web URL" 10 '[ -n "$(web_url)" ]'
U=$(web_url)
wait_for "the daemon's pass" 10 \
    '[ "$(q "select count(*) from runs where pipeline = '"'d'"'")" = 2 ]'
eq "its audit row" "kiln daemon" \
    "$(q "select actor, via from audit where action = 'gc' order by id desc limit 1" | tr '|' ' ')"
eq "p untouched (not served, no defaults)" 30 "$(q "select count(*) from runs where pipeline = 'p'")"
body=$(curl -s "${U}api/v1/runs/51/steps/s/log")
eq "the API reads a gzip'd log" "hello 51" "$body"
code=$(curl -s -o /dev/null -w '%{http_code}' "${U}api/v1/runs/30/steps/s/log")
eq "the API: removed logs are gone" 410 "$code"
stop "$daemon"
eq "the daemon stops cleanly" 0 "$?"
contains "the pass is in the daemon's log" "retention: 3 runs deleted" "$(cat "$T/serve.log")"

# The pass runs beside the loop, never on it: with 20,000 runs of d to
# delete (copies of one of its runs, older, made directly in SQLite), the
# daemon answers /healthz all through the pass, each time within a
# second (a pass on the loop would hold every request for all of it).
/usr/bin/python3 - "$KILN_STATE/kiln.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
def cols(t):
    return [r[1] for r in db.execute(f"pragma table_info({t})")]
def rows(t, c, where, arg):
    return db.execute(f"select {','.join(c)} from {t} where {where}",
                      (arg,)).fetchall()
src = db.execute("select min(id) from runs where pipeline = 'd'").fetchone()[0]
rc, ec, sc = cols("runs"), cols("executions"), cols("run_steps")
run = rows("runs", rc, "id = ?", src)[0]
exe = rows("executions", ec, "run_id = ?", src)
stp = rows("run_steps", sc, "run_id = ?", src)
top = db.execute("select max(id) from runs").fetchone()[0]
def put(t, c, vals):
    db.executemany(f"insert into {t} ({','.join(c)}) values "
                   f"({','.join('?' * len(c))})", vals)
new_runs, new_exe, new_stp = [], [], []
for i in range(1, 20001):
    rid = top + i
    r = dict(zip(rc, run))
    r["id"] = rid
    for k in ("created_at", "started_at", "finished_at"):
        if r.get(k) is not None:
            r[k] -= 86400000 + i
    new_runs.append([r[k] for k in rc])
    for e in exe:
        e = dict(zip(ec, e))
        e["id"] = None
        e["run_id"] = rid
        new_exe.append([e[k] for k in ec])
    for s in stp:
        s = dict(zip(sc, s))
        s["run_id"] = rid
        new_stp.append([s[k] for k in sc])
put("runs", rc, new_runs)
put("executions", ec, new_exe)
put("run_steps", sc, new_stp)
db.commit()
PY
eq "20,002 runs of d" 20002 "$(q "select count(*) from runs where pipeline = 'd'")"
rm -f "$KILN_STATE/web.url"
serve serve2.log --retention-every 1s "$T/served"
wait_for "the web URL" 10 '[ -n "$(web_url)" ]'
U=$(web_url)
t0=$(now_ms) during=0 worst=0 left=20002
while [ "$left" != 2 ] && [ $(($(now_ms) - t0)) -lt 180000 ]; do
    took=$(curl -s -o /dev/null -w '%{time_total}' --max-time 10 "${U}healthz")
    left=$(q "select count(*) from runs where pipeline = 'd'")
    # Between its first batch and its last: the pass is on.
    if [ "$left" -lt 20002 ] && [ "$left" -gt 2 ]; then
        during=$((during + 1))
        worst=$(awk -v a="$worst" -v b="$took" 'BEGIN { print (b > a) ? b : a }')
    fi
done
echo "/healthz during the pass: $during answers, the slowest in $worst s"
eq "the pass deleted them" 2 "$left"
check "/healthz answered during the pass ($during times)" [ "$during" -ge 3 ]
check "each within a second (the slowest: $worst s)" \
    awk -v w="$worst" 'BEGIN { exit !(w < 1.0) }'
stop "$daemon"
finish
