# The audit trail: every change leaves exactly one row with who made it and
# how (kiln run, models promote/rollback, kiln cancel, the API's trigger,
# cancel, retry, promote and rollback, a SIGHUP reload); reads leave none;
# kiln audit lists it, kiln models history lists alias moves, and kiln
# audit verify finds a row edited or deleted with sqlite3.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || exit 77
cd "$T"
ME=$(id -un)
rows() { q 'select count(*) from audit'; }
# has WHAT REGEX: a line of $out matches.
has() {
    if printf '%s\n' "$out" | grep -Eq "$2"; then ok
    else fail "$1: /$2/ not in [$out]"; fi
}
# last: the newest row as actor|via|action|target.
last() { q "select actor || '|' || via || '|' || action || '|' || target from audit order by id desc limit 1"; }

pipeline r <<'YAML'
pipeline: r
params: {q: 1}
steps:
  train:
    kind: train
    run: |
      mkdir -p models && echo "model $KILN_PARAM_Q" > models/m.txt
    outputs: [models/m.txt]
    register: {model: churn, path: models/m.txt}
YAML

# kiln run: one run.started row, the Unix user's, via cli.
kiln_rc run r.yaml --param q=1
eq "first run" 0 "$rc"
eq "kiln run: one row" 1 "$(rows)"
eq "kiln run: who and how" "$ME|cli|run.started|run 1" "$(last)"
eq "the run says who started it" "$ME" "$(q 'select started_by from runs where id = 1')"
kiln_rc run r.yaml --param q=2
eq "second run: one more row" 2 "$(rows)"

# Reads add nothing.
kiln_rc show 1
contains "kiln show says who" "by:       $ME" "$out"
kiln_rc show 1 --json
eq "kiln show --json says who" "$ME" "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["started_by"])')"
kiln_rc runs
kiln_rc models churn
kiln_rc audit
kiln_rc audit verify
eq "reads: no rows" 2 "$(rows)"

# kiln models promote and rollback: one row each, with from and to.
kiln_rc models promote churn 1 production
eq "promote" 0 "$rc"
eq "promote: one row" 3 "$(rows)"
eq "promote: who and how" "$ME|cli|alias.moved|model churn production" "$(last)"
eq "promote: from nothing to 1" '|{"version":1}' "$(q "select coalesce(before, '') || '|' || after from audit where id = 3")"
kiln_rc models promote churn 2 production
kiln_rc models rollback churn production
eq "rollback" 0 "$rc"
eq "promote, rollback: two more rows" 5 "$(rows)"
eq "rollback: who and how" "$ME|cli|alias.rolled_back|model churn production" "$(last)"
eq "rollback: from 2 to 1" '{"version":2}|{"version":1}' "$(q "select before || '|' || after from audit where id = 5")"
kiln_rc models promote churn 99 production
eq "a promote refused" 2 "$rc"
eq "a refused promote: no row" 5 "$(rows)"
kiln_rc models history churn
eq "models history" 0 "$rc"
eq "models history: every move" 3 "$(printf '%s\n' "$out" | grep -c ' production ')"
has "history: the first promote" "production +- +-> 1 +$ME +cli +alias.moved"
has "history: 1 -> 2" "production +1 +-> 2 +$ME +cli +alias.moved"
has "history: the rollback" "production +2 +-> 1 +$ME +cli +alias.rolled_back"
kiln_rc models history churn --json
eq "models history --json" "[[None, 1], [1, 2], [2, 1]]" "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print([[m["from"], m["to"]] for m in json.load(sys.stdin)])')"
kiln_rc models history nosuch
eq "history of no model" 2 "$rc"

# register: with alias: in a run: the run moved it.
pipeline ship <<'YAML'
pipeline: ship
steps:
  train:
    kind: train
    run: mkdir -p models && date +%s%N > models/m.txt
    cache: false
    outputs: [models/m.txt]
    register: {model: churn, path: models/m.txt, alias: staging}
YAML
kiln_rc run ship.yaml
eq "ship" 0 "$rc"
eq "a run's alias move: the run's" "run 3|cli|alias.moved|model churn staging" "$(last)"
eq "ship: run.started and alias.moved" 7 "$(rows)"

# kiln audit: the listing and its filters.
kiln_rc audit
eq "kiln audit" 0 "$rc"
eq "kiln audit lists every row" 8 "$(printf '%s\n' "$out" | wc -l)"
kiln_rc audit --actor "run 3" --json
eq "--actor" "['alias.moved']" "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print([r["action"] for r in json.load(sys.stdin)])')"
kiln_rc audit --since 1h --json
eq "--since 1h" 7 "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
kiln_rc audit --until 2000-01-01 --json
eq "--until long ago" "[]" "$(printf '%s' "$out" | tr -d ' \n')"
kiln_rc audit --since yesterdayish
eq "a bad time" 2 "$rc"

# Through kiln serve: the API's trigger, cancel, retry, promote and
# rollback, kiln trigger and kiln cancel through the inbox, and a reload.
TOKEN=0123456789abcdef-audit-token
printf '%s\n' "$TOKEN" > "$T/token"
mkdir -p "$T/p"
cat > "$T/p/slow.yaml" <<'YAML'
pipeline: slow
steps:
  nap: {run: "sleep 30"}
YAML
serve serve.log --token-file "$T/token" "$T/p"
wait_for "the web URL" 10 '[ -n "$(web_url)" ]'
U=$(web_url)
AUTH="Authorization: Bearer $TOKEN"
get() { body=$(curl -s -o - -w '\n%{http_code}' "$@"); code=${body##*$'\n'}; body=${body%$'\n'*}; }
js() { printf '%s' "$body" | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
n=$(rows)

# GET routes add nothing.
for path in api/v1/pipelines api/v1/pipelines/slow api/v1/runs api/v1/runs/1 api/v1/models api/v1/models/churn healthz; do
    get -H "$AUTH" "${U}$path"
    eq "GET /$path" 200 "$code"
done
eq "GET routes: no rows" "$n" "$(rows)"

get -X POST -H "$AUTH" "${U}api/v1/pipelines/slow/runs"
sid=$(js 'd["run_id"]')
eq "API trigger: one row" $((n + 1)) "$(rows)"
eq "API trigger: via api" "admin-token|api|run.started|run $sid" "$(last)"
get -H "$AUTH" "${U}api/v1/runs/$sid"
eq "the API says who started it" "admin-token" "$(js 'd["started_by"]')"
wait_for "nap runs" 10 '[ "$(q "select status from run_steps where run_id='"$sid"'")" = running ]'
get -X POST -H "$AUTH" "${U}api/v1/runs/$sid/cancel"
eq "API cancel" 202 "$code"
eq "API cancel: one row" $((n + 2)) "$(rows)"
eq "API cancel: via api" "admin-token|api|run.cancelled|run $sid" "$(last)"
wait_for "cancelled" 15 '[ "$(q "select status from runs where id='"$sid"'")" = cancelled ]'
get -X POST -H "$AUTH" "${U}api/v1/runs/$sid/cancel"
eq "cancelling a finished run" 409 "$code"
eq "a refused cancel: no row" $((n + 2)) "$(rows)"

get -X POST -H "$AUTH" "${U}api/v1/runs/$sid/retry"
rid=$(js 'd["run_id"]')
eq "API retry: one row" $((n + 3)) "$(rows)"
eq "API retry: via api" "admin-token|api|run.retried|run $rid" "$(last)"
wait_for "the retry runs" 10 '[ "$(q "select status from run_steps where run_id='"$rid"'")" = running ]'

# kiln trigger and kiln cancel through the local inbox: the Unix user,
# via cli; the cancel of a running run is one row.
kiln_rc cancel "$rid"
eq "kiln cancel" 0 "$rc"
eq "kiln cancel: one row" $((n + 4)) "$(rows)"
eq "kiln cancel: who and how" "$ME|cli|run.cancelled|run $rid" "$(last)"
wait_for "retry cancelled" 15 '[ "$(q "select status from runs where id='"$rid"'")" = cancelled ]'
kiln_rc trigger slow
tid=$(printf '%s' "$out" | sed -n 's/^run \([0-9]*\) started$/\1/p')
eq "kiln trigger: one row" $((n + 5)) "$(rows)"
eq "kiln trigger: who and how" "$ME|cli|run.started|run $tid" "$(last)"
kiln_rc cancel "$tid"
wait_for "trigger cancelled" 15 '[ "$(q "select status from runs where id='"$tid"'")" = cancelled ]'
n=$(rows)

get -X POST -H "$AUTH" -d '{"version": 3}' "${U}api/v1/models/churn/aliases/production"
eq "API promote" 200 "$code"
eq "API promote: one row" $((n + 1)) "$(rows)"
eq "API promote: via api" "admin-token|api|alias.moved|model churn production" "$(last)"
get -X POST -H "$AUTH" -d '{"version": 99}' "${U}api/v1/models/churn/aliases/production"
eq "API promote refused" 404 "$code"
eq "a refused API promote: no row" $((n + 1)) "$(rows)"
get -X POST -H "$AUTH" "${U}api/v1/models/churn/aliases/production/rollback"
eq "API rollback" 200 "$code"
eq "API rollback: one row" $((n + 2)) "$(rows)"
eq "API rollback: via api" "admin-token|api|alias.rolled_back|model churn production" "$(last)"
kiln_rc models history churn
has "history: the API's move" "production +1 +-> 3 +admin-token +api +alias.moved"

# A reload that changes a pipeline is one row; one that changes nothing is
# none.
n=$(rows)
echo "# changed" >> "$T/p/slow.yaml"
kill -HUP "$daemon"
wait_for "the reload" 10 '[ "$(rows)" = $((n + 1)) ]'
eq "reload: who and how" "kiln|daemon|pipeline.reloaded|pipeline slow" "$(last)"
kill -HUP "$daemon"
sleep 0.5
eq "a reload of nothing new: no row" $((n + 1)) "$(rows)"
stop "$daemon"

# The chain: intact, then a row edited, then a row deleted.
kiln_rc audit verify
eq "verify: intact" 0 "$rc"
contains "verify says so" "intact" "$out"
target=$(q 'select target from audit where id = 2')
q "update audit set target = 'x' where id = 2"
kiln_rc audit verify
eq "verify: an edited row" 1 "$rc"
contains "verify names row 2" "row 2 was altered" "$out"
kiln_rc audit verify --json
eq "verify --json names row 2" "False 2" "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["intact"], d["first_bad_row"])')"
q "update audit set target = '$target' where id = 2"
kiln_rc audit verify
eq "verify: restored" 0 "$rc"
q "delete from audit where id = 4"
kiln_rc audit verify
eq "verify: a deleted row" 1 "$rc"
contains "verify names the gap" "row 4 was removed" "$out"

# The scheduler and a trigger start runs as themselves, via daemon (a
# state directory of their own, on the test clock).
export KILN_STATE=$T/state2 KILN_NOW=2026-01-01T00:00:30Z KILN_CLOCK_SPEED=60
mkdir -p "$T/q/in"
cat > "$T/q/tick.yaml" <<'YAML'
pipeline: tick
schedule: "* * * * *"
steps:
  work: {run: "true"}
YAML
cat > "$T/q/fresh.yaml" <<'YAML'
pipeline: fresh
triggers:
  - data: {path: in, every: 1h}
steps:
  ingest: {run: "true"}
YAML
serve serve2.log "$T/q"
wait_for "a scheduled run" 8 '[ "$(q "select count(*) from runs where trigger = '"'schedule'"'" 2>/dev/null)" -ge 1 ]'
eq "the scheduler's run" "scheduler|daemon|run.started" "$(q "select a.actor || '|' || a.via || '|' || a.action from audit a join runs r on a.target = 'run ' || r.id where r.trigger = 'schedule' limit 1")"
wait_for "the data trigger's first look" 10 '[ "$(q "select count(*) from trigger_checks where trigger = '"'data'"'")" -ge 1 ]'
echo "a,b" > "$T/q/in/batch-1.csv"
wait_for "the data trigger fires" 10 '[ "$(q "select count(*) from runs where trigger = '"'data'"'")" = 1 ]'
eq "the trigger's run" "trigger:data|daemon|run.started" "$(q "select a.actor || '|' || a.via || '|' || a.action from audit a join runs r on a.target = 'run ' || r.id where r.trigger = 'data'")"
stop "$daemon"
eq "every run one row" 1 "$(q "select (select count(*) from runs) = (select count(*) from audit where action = 'run.started')")"
kiln_rc audit verify
eq "the daemon's trail is intact" 0 "$rc"

finish
