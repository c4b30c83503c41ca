# Accounts and roles against the real daemon: kiln users and kiln tokens,
# each role on each route (401 without a credential beyond loopback, 403
# naming the role needed), expired and revoked tokens, the failed-auth
# budget, page sessions (login, the cookie's attributes, logout and
# revocation ending them server-side), CSRF attempts, the trusted-proxy
# header from a trusted and an untrusted address, and one audit row with
# the right actor for every write.
. "$(dirname "$0")/lib.sh"
cd "$T"
PY=/usr/bin/python3
json() { $PY -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
# http METHOD URL [CURL ARGS...]: $code and $body of the answer.
http() {
    local m=$1 u=$2; shift 2
    body=$(curl -sS --max-time 10 -X "$m" -o "$T/body" -w '%{http_code}' "$@" "$u")
    code=$body
    body=$(cat "$T/body")
}
audit_rows() { q "select count(*) from audit"; }
last_audit() { q "select actor || ' ' || via || ' ' || action || ' ' || target from audit order by id desc limit 1"; }

mkdir -p p
cat > p/auth.yaml <<'YAML'
pipeline: auth
params: {v: 1}
steps:
  train:
    run: sleep 0.3; mkdir -p out && echo "weights $KILN_PARAM_V" > out/model.bin
    outputs: [out/model.bin]
    register: {model: m, path: out/model.bin}
YAML
cat > p/slow.yaml <<'YAML'
pipeline: slow
steps:
  wait: {run: "sleep 30"}
YAML

# --- kiln users, kiln tokens ---
kiln_rc users add alice --role operator
eq "users add" 0 "$rc"
kiln_rc users add vic
eq "a viewer by default" viewer "$(q "select role from users where name = 'vic'")"
kiln_rc users add ada --role admin
kiln_rc users add alice
eq "a name taken: 2" 2 "$rc"
contains "saying so" "exists already" "$err"
kiln_rc users add scheduler --role admin
eq "a name kiln writes itself: 2" 2 "$rc"
kiln_rc users add bob --role boss
eq "an unknown role: 2" 2 "$rc"
kiln_rc users --json
eq "users list" "ada admin,alice operator,vic viewer" "$(printf '%s' "$out" | json '",".join(u["name"]+" "+u["role"] for u in d)')"
TA=$("$KILN" tokens create alice --name ci 2>"$T/create.err")
case "$TA" in kiln_[0-9]*_[0-9a-f]*) ok ;; *) fail "a token: [$TA]" ;; esac
eq "a token of 64 hex digits of secret" 64 "$(printf '%s' "${TA##*_}" | wc -c)"
contains "shown once" "shown this once" "$(cat "$T/create.err")"
TV=$("$KILN" tokens create vic 2>/dev/null)
TD=$("$KILN" tokens create ada 2>/dev/null)
TR=$("$KILN" tokens create alice --read-only 2>/dev/null)
TX=$("$KILN" tokens create alice --expires 1s 2>/dev/null)
TK=$("$KILN" tokens create vic --name to-revoke 2>/dev/null)
kiln_rc tokens list --json
contains "tokens list" '"name": "ci"' "$out"
case "$out" in *"${TA##*_}"*) fail "tokens list shows a secret" ;; *) ok ;; esac
for t in "$TA" "$TV" "$TD" "$TR"; do
    grep -qaF "${t##*_}" "$KILN_STATE"/kiln.db* && fail "a token's secret is in kiln.db"
done
ok
eq "only hashes are kept" 64 "$(q "select length(secret_hash) from tokens limit 1")"
kiln_rc tokens create nobody
eq "a token of an unknown user: 2" 2 "$rc"
kiln_rc tokens revoke 999
eq "revoking an unknown token: 2" 2 "$rc"
n=$(audit_rows)
kiln_rc users role vic operator
kiln_rc users role vic viewer
eq "two role changes, two rows" $((n + 2)) "$(audit_rows)"
eq "by the Unix user, through the CLI" "$(id -un) cli user.role_changed user vic" "$(last_audit)"

# --- beyond loopback: every route needs its role ---
serve serve.log --listen 0.0.0.0:0 p
wait_for "the web URL" 10 '[ -n "$(web_url)" ]'
U=$(web_url); U="http://127.0.0.1:${U##*:}"; U=${U%/}
wait_for "the daemon answers" 10 'curl -sf "$U/healthz"'
A=(-H "Authorization: Bearer $TA")
V=(-H "Authorization: Bearer $TV")
D=(-H "Authorization: Bearer $TD")
http POST "$U/api/v1/pipelines/auth/runs" "${A[@]}" -d '{}'
eq "operator starts a run: 201" 201 "$code"
run1=$(printf '%s' "$body" | json 'd["run_id"]')
wait_for "run 1 ends" 20 '[ "$(q "select status from runs where id = $run1")" = succeeded ]'
eq "started by alice through the API" "alice api run.started run $run1" "$(q "select actor || ' ' || via || ' ' || action || ' ' || target from audit where action = 'run.started' order by id desc limit 1")"
eq "runs.started_by" alice "$(q "select started_by from runs where id = $run1")"
GETS="pipelines pipelines/auth runs runs/$run1 runs/$run1/steps/train/log models models/m models/m/versions/1/file metrics/x events"
for r in $GETS; do
    http GET "$U/api/v1/$r" --max-time 2
    eq "anonymous GET $r beyond loopback: 401" 401 "$code"
done
for r in $GETS; do
    http GET "$U/api/v1/$r" --max-time 2 "${V[@]}"
    case "$code" in 401|403) fail "viewer GET $r: $code $body" ;; *) ok ;; esac
done
http GET "$U/metrics"
eq "anonymous /metrics: 401" 401 "$code"
http GET "$U/metrics" "${V[@]}"
eq "viewer /metrics: 200" 200 "$code"
http GET "$U/healthz"
eq "anonymous /healthz: 200 (it says nothing)" 200 "$code"
http GET "$U/"
eq "the page's files are anyone's: 200" 200 "$code"
for r in "pipelines/auth/runs" "runs/$run1/cancel" "runs/$run1/retry" "models/m/aliases/production" "models/m/aliases/production/rollback"; do
    http POST "$U/api/v1/$r" -d '{"version": 1}'
    eq "anonymous POST $r: 401" 401 "$code"
    http POST "$U/api/v1/$r" "${V[@]}" -d '{"version": 1}'
    eq "viewer POST $r: 403" 403 "$code"
    contains "naming the role needed" "needs the operator role; vic is a viewer" "$body"
    http POST "$U/api/v1/$r" -H "Authorization: Bearer $TR" -d '{"version": 1}'
    eq "read-only token POST $r: 403" 403 "$code"
done
contains "saying the token is read-only" "read-only" "$body"
http GET "$U/api/v1/users" "${A[@]}"
eq "operator GET users: 403" 403 "$code"
contains "naming admin" "needs the admin role" "$body"
http GET "$U/api/v1/users" "${D[@]}"
eq "admin GET users: 200" 200 "$code"
eq "the users" "ada,alice,vic" "$(printf '%s' "$body" | json '",".join(u["name"] for u in d["users"])')"
http GET "$U/api/v1/session" "${A[@]}"
eq "who am I" "alice operator api" "$(printf '%s' "$body" | json 'd["user"]+" "+d["role"]+" "+d["via"]')"

# Each write route: one audit row, the caller's.
n=$(audit_rows)
http POST "$U/api/v1/models/m/aliases/production" "${A[@]}" -d '{"version": 1}'
eq "promote: 200" 200 "$code"
eq "promote: one row" $((n + 1)) "$(audit_rows)"
eq "promote: alice's" "alice api alias.moved model m production" "$(last_audit)"
http POST "$U/api/v1/pipelines/auth/runs" "${A[@]}" -d '{"params": {"v": 2}}'
run2=$(printf '%s' "$body" | json 'd["run_id"]')
wait_for "run 2 ends" 20 '[ "$(q "select status from runs where id = $run2")" = succeeded ]'
kiln_rc models promote m 2 production
n=$(audit_rows)
http POST "$U/api/v1/models/m/aliases/production/rollback" "${A[@]}"
eq "rollback: 200" 200 "$code"
eq "rollback: one row, alice's" "$((n + 1)) alice api alias.rolled_back model m production" "$(audit_rows) $(last_audit)"
http POST "$U/api/v1/pipelines/slow/runs" "${A[@]}"
slow=$(printf '%s' "$body" | json 'd["run_id"]')
wait_for "slow runs" 10 '[ "$(q "select status from runs where id = $slow")" = running ]'
n=$(audit_rows)
http POST "$U/api/v1/runs/$slow/cancel" "${A[@]}"
eq "cancel: 202" 202 "$code"
eq "cancel: one row, alice's" "$((n + 1)) alice api run.cancelled run $slow" "$(audit_rows) $(last_audit)"
wait_for "slow ends" 20 '[ "$(q "select status from runs where id = $slow")" = cancelled ]'
n=$(audit_rows)
http POST "$U/api/v1/runs/$slow/retry" "${A[@]}"
eq "retry: 201" 201 "$code"
retry=$(printf '%s' "$body" | json 'd["run_id"]')
eq "retry: one row, alice's" "alice api run.retried" "$(q "select actor || ' ' || via || ' ' || action from audit where id = $((n + 1))")"
eq "retry: the run says who" alice "$(q "select started_by from runs where id = $retry")"
http POST "$U/api/v1/runs/$retry/cancel" "${A[@]}"

# --- expired, revoked, wrong tokens; the failed-auth budget ---
sleep 1.1
http GET "$U/api/v1/runs" -H "Authorization: Bearer $TX"
eq "an expired token: 401" 401 "$code"
contains "saying so" "expired" "$body"
kill_id=$(q "select id from tokens where name = 'to-revoke'")
http GET "$U/api/v1/runs" -H "Authorization: Bearer $TK"
eq "before revocation: 200" 200 "$code"
curl -sN -H "Authorization: Bearer $TK" "$U/api/v1/events" > "$T/ev-token" 2>/dev/null &
ev_token=$!
wait_for "the token's stream is open" 5 'grep -q connected "$T/ev-token"'
kiln_rc tokens revoke "$kill_id"
# Revoked by another process: the stream ends at its next heartbeat
# (every 15 s).
wait_for "the revoked token's stream ended" 20 '! kill -0 $ev_token 2>/dev/null'
contains "saying so" "event: signed-out" "$(cat "$T/ev-token")"
http GET "$U/api/v1/runs" -H "Authorization: Bearer $TK"
eq "a revoked token: 401 at once" 401 "$code"
contains "saying so" "revoked" "$body"
# Five wrong tokens are answered 401; then the address waits, whatever
# it sends (429 with Retry-After), and a right token after the wait
# clears its record. (A right one now clears the two above.)
http GET "$U/api/v1/runs" "${A[@]}"
for i in 1 2 3 4 5; do
    http GET "$U/api/v1/runs" -H "Authorization: Bearer kiln_1_$(printf '%064d' "$i")"
    eq "wrong token $i: 401" 401 "$code"
done
http GET "$U/api/v1/runs" -H "Authorization: Bearer kiln_1_$(printf '%064d' 6)"
eq "the sixth: 429" 429 "$code"
http GET "$U/api/v1/runs" "${A[@]}"
eq "even a right token waits: 429" 429 "$code"
retry_after=$(curl -s -D - -o /dev/null "${A[@]}" "$U/api/v1/runs" | tr -d '\r' | awk -F': ' 'tolower($1) == "retry-after" {print $2}')
check "Retry-After says how long ($retry_after)" test "${retry_after:-0}" -ge 1
sleep 1.2
http GET "$U/api/v1/runs" "${A[@]}"
eq "after the wait, the right token: 200" 200 "$code"
http POST "$U/login" -d "token=kiln_1_$(printf '%064d' 7)"
eq "a wrong token at /login: 401" 401 "$code"

# --- page sessions ---
curl -sS -D "$T/login.h" -o /dev/null -c "$T/jar" -d "token=$TA" "$U/login"
h=$(tr -d '\r' < "$T/login.h")
contains "form login: 303" "303" "$(head -1 <<<"$h")"
contains "to the page" "location: /" "$h"
cookie=$(grep -i '^set-cookie: kiln_session=' <<<"$h")
for attr in HttpOnly SameSite=Strict "Path=/"; do
    contains "the cookie: $attr" "$attr" "$cookie"
done
case "$cookie" in *Max-Age=4319[0-9]*|*Max-Age=43200*) ok ;; *) fail "the cookie lasts 12 h: $cookie" ;; esac
case "$cookie" in *Secure*) fail "Secure over plain HTTP" ;; *) ok ;; esac
J=(-b "$T/jar")
http GET "$U/api/v1/session" "${J[@]}"
eq "the cookie signs in: alice, page" "alice operator page" "$(printf '%s' "$body" | json 'd["user"]+" "+d["role"]+" "+d["via"]')"
csrf=$(printf '%s' "$body" | json 'd["csrf"]')
eq "a CSRF token of 64 hex digits" 64 "${#csrf}"
http GET "$U/api/v1/runs" "${J[@]}"
eq "page reads with the cookie: 200" 200 "$code"
eq "the event stream with the cookie" "200 text/event-stream" "$(curl -sS --max-time 1 -o /dev/null -w '%{http_code} %{content_type}' "${J[@]}" "$U/api/v1/events")"
eq "a session row, no secret kept" "1|64" "$(q "select count(*), length(secret_hash) from sessions where user = 'alice' and ended_at is null")"
cookie_val=$(awk '$6 == "kiln_session" {print $7}' "$T/jar")
grep -qaF "${cookie_val#*.}" "$KILN_STATE"/kiln.db*
check "the cookie's secret is not in kiln.db" test $? -ne 0
# CSRF: a write with the cookie must come from this server's page and
# carry the page's token.
http POST "$U/api/v1/pipelines/auth/runs" "${J[@]}"
eq "cookie write without Origin: 403" 403 "$code"
http POST "$U/api/v1/pipelines/auth/runs" "${J[@]}" -H "Origin: http://evil.example" -H "X-Kiln-CSRF: $csrf"
eq "cross-site write with the cookie: 403" 403 "$code"
contains "saying why" "cross-site" "$body"
http POST "$U/api/v1/pipelines/auth/runs" "${J[@]}" -H "Origin: $U"
eq "same origin, no CSRF token: 403" 403 "$code"
# Another last digit: a token that is wrong whatever digit it ended with.
case "$csrf" in *0) wrong="${csrf%?}1" ;; *) wrong="${csrf%?}0" ;; esac
http POST "$U/api/v1/pipelines/auth/runs" "${J[@]}" -H "Origin: $U" -H "X-Kiln-CSRF: $wrong"
eq "same origin, a wrong CSRF token: 403" 403 "$code"
n=$(audit_rows)
http POST "$U/api/v1/pipelines/auth/runs" "${J[@]}" -H "Origin: $U" -H "X-Kiln-CSRF: $csrf"
eq "same origin with the token: 201" 201 "$code"
eq "one row, alice through the page" "$((n + 1)) alice page run.started" "$(audit_rows) $(q "select actor || ' ' || via || ' ' || action from audit order by id desc limit 1")"
http POST "$U/api/v1/pipelines/auth/runs" "${J[@]}" -H "Referer: $U/#/pipelines/auth" -H "X-Kiln-CSRF: $csrf"
eq "a same-origin Referer will do: 201" 201 "$code"
http POST "$U/login" -H "Origin: http://evil.example" -d "token=$TA"
eq "a login form on another site: 403" 403 "$code"
# A role changed counts at once for the session.
kiln_rc users role alice viewer
http POST "$U/api/v1/pipelines/auth/runs" "${J[@]}" -H "Origin: $U" -H "X-Kiln-CSRF: $csrf"
eq "demoted: 403 at once" 403 "$code"
kiln_rc users role alice operator
# Logout ends the session server-side: the same cookie replayed is no
# credential.
cp "$T/jar" "$T/jar.old"
# An event stream opened with the session ends with it (at once).
curl -sN "${J[@]}" "$U/api/v1/events" > "$T/ev-page" 2>/dev/null &
ev_page=$!
wait_for "the session's stream is open" 5 'grep -q connected "$T/ev-page"'
http POST "$U/logout" "${J[@]}" -H "Origin: http://evil.example"
eq "logout from another site: 403" 403 "$code"
check "... and its stream goes on" kill -0 $ev_page
n=$(audit_rows)
http POST "$U/logout" "${J[@]}" -c "$T/jar" -H "Origin: $U"
eq "logout: 200" 200 "$code"
wait_for "the session's stream ended" 5 '! kill -0 $ev_page 2>/dev/null'
contains "saying so" "event: signed-out" "$(cat "$T/ev-page")"
eq "logout: one row" "$((n + 1)) alice page session.ended user alice" "$(audit_rows) $(last_audit)"
http GET "$U/api/v1/runs" -b "$T/jar.old"
eq "the old cookie replayed: 401" 401 "$code"
# Revoking the token, removing the user end their sessions.
curl -sS -o /dev/null -c "$T/jar2" -H 'Content-Type: application/json' -d "{\"token\": \"$TV\"}" "$U/login"
http GET "$U/api/v1/runs" -b "$T/jar2"
eq "vic's session: 200" 200 "$code"
kiln_rc users remove vic
eq "users remove" 0 "$rc"
http GET "$U/api/v1/runs" -b "$T/jar2"
eq "vic removed: the session is over" 401 "$code"
http GET "$U/api/v1/runs" "${V[@]}"
eq "vic removed: the token is revoked" 401 "$code"
# The admin token of --token-file still works, as admin-token.
stop "$daemon"
printf 'legacy-admin-token-0123456789\n' > "$T/token"; chmod 600 "$T/token"

# --- behind a trusted proxy ---
serve proxy.log --listen 0.0.0.0:0 --token-file "$T/token" --auth-header X-Forwarded-User --trusted-proxy 127.0.0.2/32 p
rm -f "$KILN_STATE/web.url"
wait_for "the web URL" 10 '[ -n "$(web_url)" ]'
U=$(web_url); U="http://127.0.0.1:${U##*:}"; U=${U%/}
wait_for "the daemon answers" 10 'curl -sf "$U/healthz"'
grep -q 'warning: listening' "$T/proxy.log"
check "no clear-text warning behind a trusted proxy" test $? -ne 0
http GET "$U/api/v1/session" -H "X-Forwarded-User: alice"
eq "the header from an untrusted address is ignored" "None" "$(printf '%s' "$body" | json 'd["user"]')"
http POST "$U/api/v1/pipelines/auth/runs" -H "X-Forwarded-User: alice" -H "Origin: $U"
eq "...a write with it: 401" 401 "$code"
P=(--interface 127.0.0.2 -H "X-Forwarded-User: alice")
http GET "$U/api/v1/session" "${P[@]}"
eq "from the trusted proxy: alice" "alice operator proxy" "$(printf '%s' "$body" | json 'd["user"]+" "+d["role"]+" "+d["via"]')"
pcsrf=$(printf '%s' "$body" | json 'd["csrf"]')
http POST "$U/api/v1/pipelines/auth/runs" "${P[@]}" -H "Origin: http://evil.example" -H "X-Kiln-CSRF: $pcsrf"
eq "a cross-site write through the proxy: 403" 403 "$code"
http POST "$U/api/v1/pipelines/auth/runs" "${P[@]}" -H "Origin: $U" -H "X-Kiln-CSRF: $pcsrf"
eq "a write through the proxy: 201" 201 "$code"
eq "alice through the proxy" "alice proxy run.started" "$(q "select actor || ' ' || via || ' ' || action from audit order by id desc limit 1")"
http GET "$U/api/v1/runs" --interface 127.0.0.2 -H "X-Forwarded-User: zed"
eq "an unknown user through the proxy: 403" 403 "$code"
contains "saying so" "zed is not a kiln user" "$body"
http POST "$U/api/v1/pipelines/auth/runs" -H "Authorization: Bearer legacy-admin-token-0123456789"
eq "the --token-file token: 201" 201 "$code"
eq "as admin-token" "admin-token api run.started" "$(q "select actor || ' ' || via || ' ' || action from audit order by id desc limit 1")"
stop "$daemon"
serve proxy2.log --listen 127.0.0.1:0 --auth-header X-Forwarded-User --trusted-proxy 127.0.0.2 --auth-header-role viewer p
rm -f "$KILN_STATE/web.url"
wait_for "the web URL" 10 '[ -n "$(web_url)" ]'
U=$(web_url); U=${U%/}
wait_for "the daemon answers" 10 'curl -sf "$U/healthz"'
http GET "$U/api/v1/session" --interface 127.0.0.2 -H "X-Forwarded-User: zed@example.com"
eq "--auth-header-role: an unknown user is a viewer" "zed@example.com viewer" "$(printf '%s' "$body" | json 'd["user"]+" "+d["role"]')"
stop "$daemon"

# --- usage ---
kiln_rc serve --auth-header X-Forwarded-User p
eq "--auth-header without --trusted-proxy: 2" 2 "$rc"
kiln_rc serve --trusted-proxy 10.0.0.1 p
eq "--trusted-proxy without --auth-header: 2" 2 "$rc"
kiln_rc serve --auth-header X-U --trusted-proxy 10.0.0.1 --auth-header-role boss p
eq "an unknown --auth-header-role: 2" 2 "$rc"
kiln_rc serve --listen 127.0.0.1:0 --auth-header X-U --trusted-proxy 10.0.0.300 p
check "a bad --trusted-proxy stops it ($rc)" test "$rc" -ne 0
contains "naming it" "10.0.0.300" "$err"

kiln_rc audit verify
eq "the trail is intact" 0 "$rc"
finish
