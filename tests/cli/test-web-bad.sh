# kiln serve's HTTP server against bad requests: invalid UTF-8, overlong
# forms, surrogates, control characters and malformed escapes in the path
# and query of every route (a JSON 400, and the daemon lives on), the
# Host rule on loopback (DNS rebinding), the warning for a token file
# others can read, the throttling of wrong tokens, and a fuzzer.
# KILN_WEB_FUZZ_COUNT raises the fuzzer's request count for longer runs.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
WB="$KILN_SRC/tests/cli/web-bad.py"
TOKEN=0123456789abcdef-bad-token
AUTH="Authorization: Bearer $TOKEN"
mkdir -p "$T/p"
cat > "$T/p/web.yaml" <<'YAML'
pipeline: web
schedule: {cron: "0 3 * * *", concurrency: forbid}
steps:
  first: {run: "true"}
YAML

# A token file its group or others may read: a warning at start.
printf '%s\n' "$TOKEN" > "$T/token"
chmod 644 "$T/token"
serve serve.log --token-file "$T/token" "$T/p"
wait_for "the web URL" 10 '[ -n "$(web_url)" ]'
U=$(web_url)
port=$(printf '%s' "$U" | sed 's/.*:\([0-9]*\)\/$/\1/')
pid=$daemon
contains "a token file others can read: a warning" \
    "warning: --token-file $T/token is open to its group or others (mode 0644)" \
    "$(cat "$T/serve.log")"
# send ARGS...: web-bad.py send on the daemon's port.
send() { "$PY" "$WB" send "$port" "$@"; }
up() {
    check "$1: the daemon is still up" kill -0 "$pid"
    eq "$1: healthz" 200 "$(send)"
}

# The crash of issue #12: one GET with a byte that is not UTF-8.
get() { body=$(curl -s -o - -w '\n%{http_code}' "$@"); code=${body##*$'\n'}; body=${body%$'\n'*}; }
get "${U}%ff"
eq "GET /%ff: 400" 400 "$code"
contains "a JSON error saying why" '"error":"bad request target: the path decodes to bytes that are not UTF-8"' "$body"
get "${U}%c0%af"
eq "GET /%c0%af (an overlong /): 400" 400 "$code"
up "after /%ff"
get "${U}api/v1/runs?pipeline=%ff"
eq "a query value that is not UTF-8: 400" 400 "$code"
contains "saying which" "query parameter 1 decodes to bytes that are not UTF-8" "$body"
get "${U}healthz%00"
eq "%00: 400, not /healthz" 400 "$code"
get --path-as-is "${U}api/v1/runs/1/../../pipelines"
eq "dot segments: 400" 400 "$code"
# Valid UTF-8 is fine, and a long path quoted in a message is cut at a
# character boundary (the message buffer once cut an é in half: the same
# crash).
get "${U}api/v1/runs?pipeline=caf%C3%A9"
eq "valid UTF-8 in a query: checked as usual" "400 pipeline: not a pipeline name" \
    "$code $(printf '%s' "$body" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["error"])')"
for pre in x xy; do
    get "${U}api/v1/$pre$("$PY" -c 'print("%C3%A9" * 400)')"
    eq "a long UTF-8 path ($pre): a JSON 404" "404 True" \
        "$code $(printf '%s' "$body" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["error"].startswith("no such route"))')"
done
if curl -V | grep -q HTTP2; then
    get --http2-prior-knowledge "${U}%ff"
    eq "HTTP/2: /%ff 400" 400 "$code"
fi
up "after the first bad targets"

# Every route of the table, each bad sequence in the path and the query.
res=$("$PY" "$WB" targets "$port" "$KILN_SRC/web/routes.c" "$KILN_SRC/web/ui" "$TOKEN")
contains "every route, every bad target: a JSON 400" ", 0 wrong" "$res"
printf '%s\n' "$res" | tail -21 | grep -v ', 0 wrong$' >&2
up "after every route"
eq "no run was started by a bad target" 0 "$(q 'select count(*) from runs')"
eq "raw bytes >= 0x80 in the path: 400" 400 "$(send --target "$(printf '/api/v1/runs/\xff')")"
eq "raw UTF-8 in the query: 400" 400 "$(send --target "$(printf '/api/v1/runs?pipeline=\xc3\xa9')")"
eq "a method that is not a token: 400" 400 "$(send --method "$(printf 'G\xffT')")"
up "after raw bytes"

# Host on a loopback listener: loopback names only, with or without the
# port; no Host at all is refused too.
for h in 127.0.0.1 "127.0.0.1:$port" localhost "localhost:$port" LOCALHOST \
         127.1.2.3 "[::1]" "[::1]:$port" "[0:0::1]:$port"; do
    eq "Host $h: accepted" 200 "$(send --host "$h" --target /api/v1/runs)"
done
for h in evil.example "evil.example:$port" 127.0.0.1.evil.example \
         "127.0.0.1.evil.example:$port" localhost.evil.example "::1" \
         "[::2]" "[::1" 127.1 "127.0.0.1:8x" "localhost:80:80" "[::1]x" ""; do
    eq "Host [$h]: refused" 4 "$(send --host "$h" --target /api/v1/runs | cut -c1)"
done
eq "Host evil.example: 403" 403 "$(send --host evil.example --target /api/v1/runs)"
get -H "Host: evil.example" "${U}api/v1/runs"
contains "saying why" "answers only localhost, 127.x.x.x and [::1]" "$body"
eq "no Host (HTTP/1.1): 400" 400 "$(send --no-host)"
eq "no Host (HTTP/1.0): 400" 400 "$("$PY" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
print(s.recv(100).split()[1].decode())' "$port")"
eq "an empty Host: 400" 400 "$(send --host '')"
eq "the status page for evil.example: 403" 403 "$(send --host evil.example --target /)"
eq "a POST with the token for evil.example: 403" 403 \
    "$(send --host evil.example --method POST --header "$AUTH" --body '{}' --target /api/v1/runs/999999/cancel)"
if curl -V | grep -q HTTP2; then
    get --http2-prior-knowledge -H "Host: evil.example" "${U}healthz"
    eq "HTTP/2 :authority evil.example: 403" 403 "$code"
    get --http2-prior-knowledge "${U}healthz"
    eq "HTTP/2 :authority 127.0.0.1: 200" 200 "$code"
fi
up "after the Host checks"

# Wrong tokens are throttled by client address: a few get 401, then 429
# with Retry-After; the right token works from another address meanwhile
# (127.0.0.2 is loopback too), and from this one once the wait is over.
cancel=(--method POST --target /api/v1/runs/999999/cancel --body '')
res=$(send -n 40 "${cancel[@]}" --header "Authorization: Bearer wrong-token-number-1" --show Retry-After)
eq "40 wrong tokens: 5 get 401, then 429" \
    "$(printf '401 %.0s' 1 2 3 4 5)$(printf '429 %.0s' $(seq 35))Retry-After=1" "$res"
eq "meanwhile the right token from the same address: 429" 429 \
    "$(send "${cancel[@]}" --header "$AUTH")"
eq "the right token from another address: through (404: no run)" 404 \
    "$(send "${cancel[@]}" --header "$AUTH" --src 127.0.0.2)"
eq "a GET needs no token on loopback: still 200" 200 "$(send --target /api/v1/runs)"
sleep 1.1
eq "after Retry-After, a wrong token again: 401, then a longer wait" "401 429 Retry-After=2" \
    "$(send -n 2 "${cancel[@]}" --header "Authorization: Bearer wrong-token-number-2" --show Retry-After)"
sleep 2.1
eq "after the wait, the right token: through" 404 "$(send "${cancel[@]}" --header "$AUTH")"
eq "which forgives: a wrong token is a plain 401 again" 401 \
    "$(send "${cancel[@]}" --header "Authorization: Bearer wrong-token-number-3")"
get -X POST -H "$AUTH" "${U}api/v1/runs/999999/cancel"
eq "kiln's own client with the right token" 404 "$code"
# The burst of issue #12 (3,000 wrong tokens in 0.4 s) from a third
# address: at most 5 are even checked.
res=$(send -n 500 "${cancel[@]}" --header "Authorization: Bearer wrong-token-burst-0000" --src 127.0.0.3 | tr ' ' '\n' | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')
eq "500 wrong tokens: 5 checked, 495 refused" "401:5 429:495 " "$res"
up "after the throttling"

# Fuzzing: generated requests (fixed seed) from 127.0.0.4; never a 5xx,
# never a dead daemon.
res=$("$PY" "$WB" fuzz "$port" "$KILN_SRC/web/routes.c" "$KILN_SRC/web/ui" \
    --seed "${KILN_WEB_FUZZ_SEED:-12}" --count "${KILN_WEB_FUZZ_COUNT:-20000}" \
    --token "$TOKEN" --src 127.0.0.4)
fuzz_rc=$?
printf '%s\n' "$res" | tail -22 >&2
eq "the fuzzer: no 5xx, the daemon answers throughout" 0 "$fuzz_rc"
contains "and it did send requests" "requests in" "$res"
up "after fuzzing"
check "same pid in the log" grep -q "pid $pid," "$T/serve.log"
stop "$daemon"
eq "a clean stop after all that" 0 "$?"

# A token file only its owner can read: no warning.
chmod 600 "$T/token"
rm -f "$KILN_STATE/web.url"
serve serve2.log --token-file "$T/token" "$T/p"
wait_for "restarted" 10 '[ -n "$(web_url)" ]'
check "a private token file: no warning" test -z "$(grep warning "$T/serve2.log")"
stop "$daemon"
# Beyond loopback the Host rule does not apply (GETs need the token).
serve serve3.log --listen 0.0.0.0:0 --token-file "$T/token" "$T/p"
wait_for "listening on all" 10 '[ -n "$(web_url)" ]'
port=$(web_url | sed 's/.*:\([0-9]*\)\/$/\1/')
eq "0.0.0.0: any Host, with the token" 200 \
    "$(send --host evil.example --header "$AUTH" --target /api/v1/runs)"
eq "0.0.0.0: bad targets still 400" 400 "$(send --header "$AUTH" --target '/api/v1/runs?x=%ff')"
stop "$daemon"
finish
