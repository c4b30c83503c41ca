# Signing in to the status page over HTTPS in a real browser: Debian's
# chromium driven by playwright-core (tests/web/test-login.mjs) against a
# kiln serve with a self-signed certificate made here (openssl), users vic
# (viewer) and olga (operator) with their tokens (kiln users, kiln
# tokens create). Needs /usr/bin/chromium, node, openssl and `npm ci` in
# tests/web (contrib/deps.sh and contrib/test.sh do those); skipped
# without them. Screenshots go to $KILN_WEB_SHOTS (login-*.png).
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/../cli/lib.sh"
W=$KILN_SRC/tests/web
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ] || ! command -v node >/dev/null ||
   ! command -v openssl >/dev/null; then
    echo "skipped: needs $CHROMIUM, node and openssl (contrib/deps.sh installs them)"
    [ -n "${KILN_REQUIRE_BROWSER:-}" ] && exit 1
    exit 77
fi
if [ ! -d "$W/node_modules/playwright-core" ]; then
    echo "skipped: run npm ci in tests/web first (contrib/test.sh does)"
    [ -n "${KILN_REQUIRE_BROWSER:-}" ] && exit 1
    exit 77
fi
SHOTS=${KILN_WEB_SHOTS:-$T/screenshots}
mkdir -p "$SHOTS" "$T/p"
rm -f "$SHOTS"/failed-login-*.png     # left by an earlier failing run

( cd "$T" && openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost \
    -addext subjectAltName=IP:127.0.0.1,DNS:localhost -days 1 \
    -keyout key.pem -out cert.pem ) >/dev/null 2>&1 ||
    { echo "openssl req failed" >&2; exit 1; }
chmod 600 "$T/key.pem"

# A step of about 2 s, so the page sees a run go from running to
# succeeded; a param, so operators get Run with params; a pipeline that
# fails, so a run page could offer Retry.
cat > "$T/p/login.yaml" <<'YAML'
pipeline: login
description: signing in over HTTPS
params: {n: 1}
steps:
  work:
    run: sleep 2; echo "worked $KILN_PARAM_N"
YAML
cat > "$T/p/broken.yaml" <<'YAML'
pipeline: broken
steps:
  fail: {run: "echo broken; exit 1"}
YAML

# A model version with an alias (made by kiln run, outside the served
# directory): a viewer gets no Promote or Roll back, an operator does.
cat > "$T/reg.yaml" <<'YAML'
pipeline: reg
steps:
  make:
    run: echo weights > model.txt
    outputs: [model.txt]
    register: {model: loginmodel, path: model.txt, alias: production}
YAML
kiln_rc run "$T/reg.yaml"
eq "a model registered" 0 "$rc"

kiln_rc users add vic --role viewer
eq "users add vic" 0 "$rc"
kiln_rc users add olga --role operator
eq "users add olga" 0 "$rc"
TV=$("$KILN" tokens create vic 2>/dev/null)
TO=$("$KILN" tokens create olga 2>/dev/null)
case "$TV $TO" in kiln_*" "kiln_*) ok ;; *) fail "two tokens: [$TV] [$TO]" ;; esac

serve serve.log --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" "$T/p"
wait_for "the daemon's URL" 10 '[ -n "$(web_url)" ]'
url=$(web_url)
case "$url" in https://127.0.0.1:*/) ok ;; *) fail "web.url is https: [$url]" ;; esac

# A failed run, started through the API as olga (curl checks the
# certificate against the one made here).
CURL=(curl -sS --max-time 10 --cacert "$T/cert.pem")
reply=$("${CURL[@]}" -X POST -H "Authorization: Bearer $TO" -d '{}' \
        "${url}api/v1/pipelines/broken/runs")
contains "olga starts a run of broken" '"status":"started"' "$reply"
wait_for "it fails" 10 '[ "$(q "select status from runs where pipeline = '"'broken'"'")" = failed ]'

KILN_URL=$url KILN_CA=$T/cert.pem KILN_VIEWER_TOKEN=$TV \
    KILN_OPERATOR_TOKEN=$TO KILN_WEB_SHOTS=$SHOTS CHROMIUM=$CHROMIUM \
    timeout 90 node "$W/test-login.mjs"
rc=$?
eq "the browser test passes" 0 "$rc"
eq "olga's run from the page, as her, through the page" "olga page" \
   "$(q "select actor || ' ' || via from audit where action = 'run.started' order by id desc limit 1")"
stop "$daemon"
eq "kiln serve stops cleanly" 0 "$?"
[ "$rc" -eq 0 ] || { echo "--- kiln serve's log:"; cat "$T/serve.log"; }
echo "screenshots: $SHOTS"
finish
