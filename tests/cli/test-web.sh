# The JSON API of a real kiln serve on 127.0.0.1: every route, auth,
# limits, malformed input, traversal attempts, and an SSE client seeing a
# run change.
. "$(dirname "$0")/lib.sh"
TOKEN=0123456789abcdef-test-token
printf '%s\n' "$TOKEN" > "$T/token"
mkdir -p "$T/p"
cat > "$T/p/web.yaml" <<'YAML'
pipeline: web
params: {n: "1"}
schedule: "0 3 * * *"
steps:
  first: {run: "echo first $KILN_PARAM_N"}
  second: {run: "test -f go && echo go || exit 3", needs: [first]}
YAML
serve serve.log --token-file "$T/token" "$T/p"
wait_for "the web URL" 10 '[ -n "$(web_url)" ]'
U=$(web_url)
AUTH="Authorization: Bearer $TOKEN"
# get PATH: body in $body, status in $code.
get() { body=$(curl -s -o - -w '\n%{http_code}' "$@"); code=${body##*$'\n'}; body=${body%$'\n'*}; }
js() { printf '%s' "$body" | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

get "${U}healthz"
eq "healthz" '200 {"status":"ok"}' "$code $body"
get "${U}api/v1/pipelines"
eq "pipelines" "200 web 2 0 3 * * *" "$code $(js 'd["pipelines"][0]["name"], d["pipelines"][0]["steps"], d["pipelines"][0]["schedule"]["crons"][0]')"
check "next fire time" test "$(js 'd["pipelines"][0]["next_due"] > 0')" = True
# Paging: ?offset=M&limit=N, the total beside.
get "${U}api/v1/pipelines?limit=1"
eq "a page of one" "200 1 1 web" "$code $(js 'd["total"], len(d["pipelines"]), d["pipelines"][0]["name"]')"
get "${U}api/v1/pipelines?sort=concern&limit=1"
eq "?sort=concern (the overview's), with the totals" "200 1 1 0 0 web" \
    "$code $(js 'd["total"], d["loaded"], d["active"], d["queued"], d["pipelines"][0]["name"]')"
get "${U}api/v1/pipelines?sort=name"
eq "an unknown sort" 400 "$code"
get "${U}api/v1/pipelines?offset=1&limit=5"
eq "a page past the end" "200 1 0" "$code $(js 'd["total"], len(d["pipelines"])')"
get "${U}api/v1/pipelines?limit=0"
eq "limit 0" 400 "$code"
get "${U}api/v1/pipelines?offset=-1"
eq "negative offset" 400 "$code"
get "${U}api/v1/pipelines/web"
eq "the DAG" "200 [['first', 'second']] ['first', 'second']" "$code $(js 'd["dag"]["edges"], [n["name"] for n in d["dag"]["nodes"]]')"
get "${U}api/v1/pipelines/nope"
eq "unknown pipeline" 404 "$code"

# Starting runs: POSTs need the token.
get -X POST -d '{}' "${U}api/v1/pipelines/web/runs"
eq "no token: 401" 401 "$code"
contains "saying how" "Authorization: Bearer" "$body"
get -X POST -H "Authorization: Bearer wrong-token-wrong" -d '{}' "${U}api/v1/pipelines/web/runs"
eq "wrong token: 401" 401 "$code"
get -X POST -H "$AUTH" -d '{"params": {"n": "5"}}' "${U}api/v1/pipelines/web/runs"
eq "started: 201" "201 started" "$code $(js 'd["status"]')"
id=$(js 'd["run_id"]')
wait_for "the run ends" 10 '[ "$(q "select status from runs where id='"$id"'")" = failed ]'
get "${U}api/v1/runs/$id"
eq "run detail" "200 failed 5 ['succeeded', 'failed'] True" "$code $(js 'd["status"], d["params"]["n"], [s["status"] for s in d["steps"]], d["steps"][1]["attempts_detail"][0]["exit_code"] == 3')"
get "${U}api/v1/runs/$id/steps/first/log"
eq "the log" "200 first 5" "$code $(printf '%s' "$body" | tr -d '\n')"
get -D "$T/h" "${U}api/v1/runs/$id/steps/first/log?offset=6"
eq "from an offset" "5" "$(printf '%s' "$body" | tr -d '\n')"
contains "with the next offset" "x-kiln-offset: 8" "$(tr -d '\r' < "$T/h")"
get "${U}api/v1/runs/$id/steps/nosuch/log"
eq "no such step: 404" 404 "$code"

# Retry: the failed step runs again, the succeeded one is reused.
touch "$T/p/go"
get -X POST -H "$AUTH" "${U}api/v1/runs/$id/retry"
eq "retry: 201" 201 "$code"
rid=$(js 'd["run_id"]')
wait_for "the retry ends" 10 '[ "$(q "select status from runs where id='"$rid"'")" = succeeded ]'
eq "first reused, second ran" "first|succeeded|reused from run $id second|succeeded|" \
    "$(q "select step, status, coalesce(reason, '') from run_steps where run_id=$rid order by position" | tr '\n' ' ' | sed 's/ $//')"
get -X POST -H "$AUTH" "${U}api/v1/runs/$rid/retry"
eq "a succeeded run cannot be retried: 409" 409 "$code"

# Paging.
for i in 1 2 3; do
    get -X POST -H "$AUTH" "${U}api/v1/pipelines/web/runs"
    wait_for "run ends" 10 '[ "$(q "select count(*) from runs where status in ('"'running','queued'"')")" = 0 ]'
done
get "${U}api/v1/runs?limit=2"
eq "a page of 2" "2 True" "$(js 'len(d["runs"]), d["runs"][0]["id"] > d["runs"][1]["id"]')"
before=$(js 'd["next_before"]')
get "${U}api/v1/runs?limit=2&before=$before"
eq "the next page starts below" True "$(js 'd["runs"][0]["id"] < '"$before")"
get "${U}api/v1/runs?status=failed&pipeline=web"
eq "filtered by status" "['failed']" "$(js 'sorted(set(r["status"] for r in d["runs"]))')"
get "${U}api/v1/runs?limit=zero"
eq "bad limit: 400" 400 "$code"
get "${U}api/v1/runs?status=weird"
eq "bad status: 400" 400 "$code"

# Cancel: a long run.
cat > "$T/p/slow.yaml" <<'YAML'
pipeline: slow
steps:
  nap: {run: "sleep 30"}
YAML
kill -HUP "$daemon"
wait_for "slow is loaded" 10 'curl -sf "${U}api/v1/pipelines/slow" >/dev/null'
get -X POST -H "$AUTH" "${U}api/v1/pipelines/slow/runs"
sid=$(js 'd["run_id"]')
wait_for "nap runs" 10 '[ "$(q "select status from run_steps where run_id='"$sid"'")" = running ]'
get -X POST -H "$AUTH" "${U}api/v1/runs/$sid/cancel"
eq "cancel: 202" 202 "$code"
wait_for "cancelled" 15 '[ "$(q "select status from runs where id='"$sid"'")" = cancelled ]'
get -X POST -H "$AUTH" "${U}api/v1/runs/$sid/cancel"
eq "cancelling a finished run: 409" 409 "$code"
get -X POST -H "$AUTH" "${U}api/v1/runs/999999/cancel"
eq "cancelling no run: 404" 404 "$code"

# Models, lineage, metrics.
get "${U}api/v1/models"
eq "models (none yet)" "200 []" "$code $(js 'd["versions"]')"
get "${U}api/v1/models/nosuch"
eq "unknown model: 404" 404 "$code"
get -X POST -H "$AUTH" -d '{"version": 1}' "${U}api/v1/models/nosuch/aliases/production"
eq "alias of an unknown model: 404" 404 "$code"
get -X POST -H "$AUTH" -d '{"version": "one"}' "${U}api/v1/models/m/aliases/production"
eq "bad version: 400" 400 "$code"
# Promote and roll back an alias (the daemon's hooks write the store).
cat > "$T/p/reg.yaml" <<'YAML'
pipeline: reg
steps:
  train:
    kind: train
    run: mkdir -p models && date +%s%N > models/m.txt
    cache: false
    outputs: [models/m.txt]
    register: {model: m, path: models/m.txt}
YAML
kill -HUP "$daemon"
wait_for "reg is loaded" 10 'curl -sf "${U}api/v1/pipelines/reg" >/dev/null'
for i in 1 2; do
    get -X POST -H "$AUTH" "${U}api/v1/pipelines/reg/runs"
    mid=$(js 'd["run_id"]')
    wait_for "model version $i" 10 '[ "$(q "select status from runs where id='"$mid"'")" = succeeded ]'
done
get -X POST -H "$AUTH" -d '{"version": 1}' "${U}api/v1/models/m/aliases/production"
eq "promote: 200" '200 {"name":"m","alias":"production","version":1}' "$code $body"
get -X POST -H "$AUTH" -d '{"version": 2}' "${U}api/v1/models/m/aliases/production"
get "${U}api/v1/models/m"
eq "the registry sees it" "[['production', 2]]" "$(js '[[a["alias"], a["version"]] for a in d["aliases"]]')"
get -X POST -H "$AUTH" -d '{"version": 3}' "${U}api/v1/models/m/aliases/production"
eq "promote an unknown version: 404" 404 "$code"
get -X POST "${U}api/v1/models/m/aliases/production/rollback"
eq "rollback needs the token: 401" 401 "$code"
get -X POST -H "$AUTH" "${U}api/v1/models/m/aliases/production/rollback"
eq "rollback: 200" '200 {"name":"m","alias":"production","version":1}' "$code $body"
get "${U}api/v1/models/m"
eq "the registry sees it" "[['production', 1]]" "$(js '[[a["alias"], a["version"]] for a in d["aliases"]]')"
get -X POST -H "$AUTH" "${U}api/v1/models/m/aliases/production/rollback"
eq "nothing older to roll back to: 404" 404 "$code"
contains "saying so" "no earlier version" "$body"
get "${U}api/v1/artifacts/424242/lineage"
eq "unknown artifact: 404" 404 "$code"
get "${U}api/v1/artifacts/1/lineage?direction=sideways"
eq "bad direction: 400" 400 "$code"
# ?run=N: as run N made it (each version of m is an artifact one run made).
aid=$(q "select artifact_id from models where name = 'm' and version = 2")
arun=$(q "select run_id from models where name = 'm' and version = 2")
get "${U}api/v1/artifacts/$aid/lineage?run=$arun"
eq "lineage of run N" "200 $arun train [$arun]" "$code $(js 'd["produced_by"]["run_id"], d["produced_by"]["step"], [p["run_id"] for p in d["producers"]]')"
get "${U}api/v1/artifacts/$aid/lineage?run=$id"
eq "a run that neither made nor used it: 404" 404 "$code"
contains "saying so" "neither made nor used" "$body"
get "${U}api/v1/artifacts/$aid/lineage?run=zero"
eq "bad run: 400" 400 "$code"
contains "saying what it expects" "run: expected an integer" "$body"
get "${U}api/v1/metrics/web?key=accuracy"
eq "a metric series" "200 []" "$code $(js 'd["series"]')"
get "${U}metrics"
contains "prometheus: runs" 'kiln_runs_total{pipeline="web",status="failed"} 1' "$body"
contains "prometheus: step durations" 'kiln_step_duration_seconds_count{pipeline="web"}' "$body"
contains "prometheus: scheduler lag" "kiln_scheduler_lag_seconds" "$body"

# Bad requests.
get -X POST -H "$AUTH" -d '{"params": ' "${U}api/v1/pipelines/web/runs"
eq "malformed JSON: 400" 400 "$code"
contains "with the parse error" "malformed JSON at line 1" "$body"
get -X POST -H "$AUTH" -d '[1]' "${U}api/v1/pipelines/web/runs"
eq "not an object: 400" 400 "$code"
get -X POST -H "$AUTH" -d '{"params": {"nope": "1"}}' "${U}api/v1/pipelines/web/runs"
eq "unknown param: 400" 400 "$code"
get -X POST -H "$AUTH" -d '{"params": {"n": {}}}' "${U}api/v1/pipelines/web/runs"
eq "a param neither a string nor a number: 400" \
    '400 {"error":"params.n: expected a string or a number"}' "$code $body"
head -c 1100000 /dev/zero | tr '\0' 'x' > "$T/big"
get -X POST -H "$AUTH" --data-binary @"$T/big" "${U}api/v1/pipelines/web/runs"
eq "over 1 MB: 413" 413 "$code"
contains "as JSON" '"error"' "$body"
get "${U}api/v1/nope"
eq "unknown route: 404" 404 "$code"
get -X DELETE "${U}api/v1/runs"
eq "wrong method: 405" 405 "$code"
get -X GET "${U}api/v1/runs/$id/cancel"
eq "GET on a POST route: 405" 405 "$code"
get "${U}api/v1/runs/abc"
eq "a bad id: 400" 400 "$code"
for p in "runs/$id/steps/..%2f..%2f..%2fetc%2fpasswd/log" "runs/$id/steps/%2e%2e/log" \
         "runs/$id/steps/first/..%2f..%2f..%2f..%2fetc%2fpasswd" "../../etc/passwd"; do
    get --path-as-is "${U}api/v1/$p"
    check "traversal $p refused ($code)" test "$code" -ge 400 -a "$code" -lt 500
    case "$body" in *root:*) fail "traversal $p leaked a file" ;; esac
done
# A log path that points outside the state directory is refused.
q "update executions set log_path='/etc/passwd' where run_id=$id and step='first'"
get "${U}api/v1/runs/$id/steps/first/log"
eq "a log outside the state directory: 403" 403 "$code"

# Server-Sent Events: a client sees a run start and end.
curl -sN "${U}api/v1/events" > "$T/events" &
sse=$!
daemons+=("$sse")
wait_for "the stream opens" 5 'grep -q connected "$T/events"'
get -X POST -H "$AUTH" "${U}api/v1/pipelines/web/runs"
eid=$(js 'd["run_id"]')
wait_for "the client sees the run start" 10 'grep -q "\"run_id\":$eid,\"pipeline\":\"web\",\"status\":\"running\"" "$T/events"'
wait_for "and its steps" 10 'grep -q "\"run_id\":$eid,\"pipeline\":\"web\",\"step\":\"second\",\"status\":\"succeeded\"" "$T/events"'
wait_for "and its end" 10 'grep -q "\"run_id\":$eid,\"pipeline\":\"web\",\"status\":\"succeeded\"" "$T/events"'
# HEAD of the stream: its headers, no stream; the connection goes on.
uport=${U#http://127.0.0.1:}; uport=${uport%%/*}
contains "HEAD /api/v1/events: headers only, then the next answer" \
    "200 content-length=" "$(/usr/bin/python3 "$KILN_SRC/tests/cli/web-bad.py" head "$uport" /api/v1/events)"
contains "...which is the next request's" " then 200" \
    "$(/usr/bin/python3 "$KILN_SRC/tests/cli/web-bad.py" head "$uport" /api/v1/events)"
code=$(curl -s --max-time 5 --http2-prior-knowledge -I -o /dev/null -w '%{http_code}' "${U}api/v1/events"); rc=$?
eq "HEAD /api/v1/events over HTTP/2: a clean answer" "0 200" "$rc $code"
# A client gone while events are written to it costs the daemon nothing:
# the write fails with EPIPE, no signal.
curl -sN "${U}api/v1/events" > /dev/null &
gone=$!
sleep 0.3
kill -9 "$gone"
get -X POST -H "$AUTH" -d '{"params": {"n": 0.42}}' "${U}api/v1/pipelines/web/runs"
gid=$(js 'd["run_id"]')
wait_for "a run with events for the gone client" 10 '[ "$(q "select status from runs where id='"$gid"'")" = succeeded ]'
check "the daemon outlives the client" kill -0 "$daemon"
eq "a number param keeps its shortest text" 0.42 \
    "$(q "select json_extract(params, '$.n') from runs where id=$gid")"
before=$(q "select count(*) from runs")
get -X POST -H "$AUTH" -d "{\"params\": {\"n\": \"$(head -c 40000 /dev/zero | tr '\0' x)\"}}" "${U}api/v1/pipelines/web/runs"
eq "a param too long for a step's environment: 400" 400 "$code"
contains "saying the limit" 'at most 32 KiB' "$body"
eq "no run made" "$before" "$(q "select count(*) from runs")"

# kiln trigger / kiln cancel over HTTP, as a CI job on another machine
# would (--server, token from KILN_TOKEN or --token-file).
KILN_TOKEN=$TOKEN kiln_rc trigger web --server "$U" --param n=9 --wait
eq "trigger --wait: exit 0 on success" 0 "$rc"
contains "follows the steps" "second               succeeded" "$out"
contains "and says how it ended" "succeeded" "$(printf '%s' "$out" | tail -1)"
rm "$T/p/go"
kiln_rc trigger web --server "$U" --token-file "$T/token" --wait
eq "trigger --wait: exit 1 on failure" 1 "$rc"
contains "the failed step and why" "exited with status 3" "$out"
kiln_rc trigger web --server "$U" --token-file "$T/token" --param bad=1
eq "unknown param over HTTP: exit 2" 2 "$rc"
kiln_rc trigger web --server "$U"
eq "no token: exit 3" 3 "$rc"
contains "saying why" "401" "$err"
kiln_rc trigger web --server "http://127.0.0.1:1/" --token-file "$T/token"
eq "no server: exit 3" 3 "$rc"
KILN_TOKEN=$TOKEN kiln_rc trigger slow --server "$U"
sid=$(printf '%s' "$out" | sed -n 's/^run \([0-9]*\) started$/\1/p')
wait_for "slow runs" 10 '[ "$(q "select status from run_steps where run_id='"$sid"'")" = running ]'
KILN_TOKEN=$TOKEN kiln_rc cancel "$sid" --server "$U"
eq "kiln cancel over HTTP" "0 run $sid is being cancelled" "$rc $out"
wait_for "cancelled" 15 '[ "$(q "select status from runs where id='"$sid"'")" = cancelled ]'
KILN_TOKEN=$TOKEN kiln_rc cancel "$sid" --server "$U"
eq "cancelling it again: exit 1" 1 "$rc"
# ...and through the local state directory, with no token.
kiln_rc trigger slow
sid=$(printf '%s' "$out" | sed -n 's/^run \([0-9]*\) started$/\1/p')
wait_for "slow runs again" 10 '[ "$(q "select status from run_steps where run_id='"$sid"'")" = running ]'
kiln_rc cancel "$sid"
eq "local kiln cancel" 0 "$rc"
wait_for "cancelled locally" 15 '[ "$(q "select status from runs where id='"$sid"'")" = cancelled ]'
touch "$T/p/go"
kiln_rc trigger web --wait
eq "local trigger --wait" 0 "$rc"

# The status page is served.
get "${U}"
eq "the page" 200 "$code"
contains "is HTML" "<html" "$body"
contains "its script is a module" '<script type="module" src="/app.js">' "$body"
# Module scripts need a JavaScript MIME type, or the browser refuses them.
for js in "$KILN_SRC"/web/ui/*.js; do
    js=${js##*/}
    eq "/$js: JavaScript" "200 text/javascript; charset=utf-8" \
        "$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$U$js")"
done
get -X POST "${U}"
eq "read-only page: 405" 405 "$code"

# No admin token configured: the old token is just a wrong one (401,
# saying why); a user's token works.
stop "$daemon"
serve serve2.log "$T/p"
wait_for "restarted" 10 '[ -n "$(web_url)" ] && curl -sf "$(web_url)healthz"'
U=$(web_url)
get -X POST -H "$AUTH" "${U}api/v1/pipelines/web/runs"
eq "no admin token configured: 401" 401 "$code"
contains "saying why" "not a kiln token" "$body"
stop "$daemon"
eq "stops cleanly with the SSE client connected" 0 "$?"
# Beyond loopback, GETs need the token too (0.0.0.0; probed on 127.0.0.1).
serve serve3.log --listen 0.0.0.0:0 --token-file "$T/token" "$T/p"
wait_for "listening on all" 10 '[ -n "$(web_url)" ]'
port=$(web_url | sed 's/.*:\([0-9]*\)\/$/\1/')
get "http://127.0.0.1:$port/api/v1/runs"
eq "GET without a token beyond loopback: 401" 401 "$code"
get -H "$AUTH" "http://127.0.0.1:$port/api/v1/runs"
eq "GET with the token: 200" 200 "$code"
stop "$daemon"
# A daemon with many pipelines answers the list a page at a time: 100 by
# default, at most 1,000 described (each with its recent runs), brief
# entries (no store reads) up to 100,000; next_offset while there is
# more. One broken file and one pipeline with a failed run, to see paging
# keep ?sort=concern's order.
mkdir -p "$T/m"
for i in $(seq -w 1 150); do
    printf 'pipeline: m%s\nsteps:\n  a: {run: "true"}\n' "$i" > "$T/m/m$i.yaml"
done
printf 'pipeline: m150\nsteps:\n  a: {run: "exit 1"}\n' > "$T/m/m150.yaml"
printf 'pipeline: [\n' > "$T/m/zz-broken.yaml"
serve serve6.log "$T/m"
wait_for "150 pipelines are loaded" 10 '[ -n "$(web_url)" ] && curl -sf "$(web_url)api/v1/pipelines?limit=1" | grep -q "\"loaded\": *150"'
M=$(web_url)
"$KILN" trigger m150 > /dev/null
wait_for "m150 failed" 20 '[ "$(q "select status from runs where pipeline='"'m150'"'")" = failed ]'
get "${M}api/v1/pipelines"
eq "the first page: 100 of 151, next_offset 100" "200 151 150 100 100 True" \
    "$code $(js 'd["total"], d["loaded"], len(d["pipelines"]), d["next_offset"], "recent_runs" in d["pipelines"][0]')"
first=$(js '" ".join(p["file"] for p in d["pipelines"])')
get "${M}api/v1/pipelines?offset=100"
eq "the last page: 51, the broken file last, no next_offset" "200 51 None zz-broken.yaml False" \
    "$code $(js 'len(d["pipelines"]), d["pipelines"][-1]["name"], d["pipelines"][-1]["file"].split("/")[-1], "next_offset" in d')"
eq "the two pages: every file once" 151 \
    "$(echo $first $(js '" ".join(p["file"] for p in d["pipelines"])') | tr ' ' '\n' | sort -u | wc -l)"
get "${M}api/v1/pipelines?offset=100&limit=1000"
eq "a page of the described maximum" "200 51" "$code $(js 'len(d["pipelines"])')"
get "${M}api/v1/pipelines?limit=1001"
eq "more than 1,000 described: 400" 400 "$code"
get "${M}api/v1/pipelines?brief=1&limit=100000"
eq "brief: all 151, no recent runs or schedule" "200 151 False False 1" \
    "$code $(js 'len(d["pipelines"]), "recent_runs" in d["pipelines"][0], "schedule" in d["pipelines"][0], len(d["pipelines"][-1]["load_errors"])')"
get "${M}api/v1/pipelines?brief=2"
eq "brief=2: 400" 400 "$code"
get "${M}api/v1/pipelines?sort=concern&limit=2"
eq "by concern: the broken file, then the failed pipeline, runs and all" \
    "200 None m150 failed 2" \
    "$code $(js 'd["pipelines"][0]["name"], d["pipelines"][1]["name"], d["pipelines"][1]["recent_runs"][0]["status"], d["next_offset"]')"
get "${M}api/v1/pipelines?sort=concern&offset=2&limit=1"
eq "by concern, the next page: the rest by name" "200 m001" "$code $(js 'd["pipelines"][0]["name"]')"
stop "$daemon"
# Stopping while runs wait for a slot: draining ends them at once, one
# after the other (this once freed a run's record while it was in use).
mkdir -p "$T/q"
cat > "$T/q/many.yaml" <<'YAML'
pipeline: many
schedule: {cron: "0 0 1 1 *", max_active_runs: 3}
steps:
  nap: {run: "sleep 30"}
YAML
serve serve5.log --jobs 1 --grace 1s "$T/q"
wait_for "many is loaded" 10 '[ -n "$(web_url)" ] && grep -q "pipeline loaded" "$T/serve5.log"'
for i in 1 2 3; do "$KILN" trigger many > /dev/null; done
wait_for "one runs, two wait" 10 '[ "$(q "select count(*) from runs where pipeline='"'many'"' and status='"'running'"'")" = 3 ]'
stop "$daemon"
eq "a clean stop with runs waiting for a slot" 0 "$?"
eq "all three ended" "cancelled cancelled cancelled" \
    "$(q "select status from runs where pipeline='many'" | tr '\n' ' ' | sed 's/ $//')"

# A port in use is a clear error, and nothing is left running.
/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(20)' "$port" &
holder=$!
daemons+=("$holder")
wait_for "the port is taken" 5 '! (echo > /dev/tcp/127.0.0.1/'"$port"') 2>/dev/null || true; ss -ltn 2>/dev/null | grep -q ":'"$port"' " || sleep 0.5'
kiln_rc serve --listen "127.0.0.1:$port" "$T/p"
eq "port in use: exit 3" 3 "$rc"
contains "naming the address" "cannot listen on 127.0.0.1:$port" "$err"
kill "$holder"
finish
