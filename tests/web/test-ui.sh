# The status page in a real browser: Debian's chromium driven by
# playwright-core (tests/web/test-ui.mjs) against a kiln serve started
# here. Needs /usr/bin/chromium, node and `npm ci` in tests/web
# (contrib/deps.sh and contrib/test.sh do both); skipped without them.
# Screenshots go to $KILN_WEB_SHOTS (build/tests/web/screenshots).
. "$(dirname "$0")/../cli/lib.sh"
W=$KILN_SRC/tests/web
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ] || ! command -v node >/dev/null; then
    echo "skipped: needs $CHROMIUM and node (contrib/deps.sh installs them)"
    [ -n "${KILN_REQUIRE_BROWSER:-}" ] && exit 1
    exit 77
fi
if [ ! -d "$W/node_modules/playwright-core" ]; then
    echo "skipped: run npm ci in tests/web first (contrib/test.sh does)"
    [ -n "${KILN_REQUIRE_BROWSER:-}" ] && exit 1
    exit 77
fi
SHOTS=${KILN_WEB_SHOTS:-$T/screenshots}
mkdir -p "$SHOTS" "$T/drift"
rm -f "$SHOTS"/failed-*.png     # left by an earlier failing run
# Drift checks that stay quiet (a high threshold) but have real values.
cp "$KILN_SRC/tests/fixtures/drift/reference.csv" "$T/drift/reference.csv"
cp "$KILN_SRC/tests/fixtures/drift/current.csv" "$T/drift/current.csv"
token=web-test-token-0123456789
printf '%s\n' "$token" > "$T/token"

# Steps that take a second each, so the page sees a run go by; deploy is
# gated on a param; the description checks that text is escaped.
pipeline webtest <<'YAML'
pipeline: webtest
description: Browser test <b>not bold</b> & friends
params: {acc: 0.9}
triggers:
  - drift:
      reference: drift/reference.csv
      current: drift/current.csv
      columns: [age, plan]
      threshold: 50
      every: 1s
steps:
  prepare:
    kind: ingest
    run: |
      sleep 1; mkdir -p data; date +%s%N > data/batch.txt
      echo "prepared the batch"
    outputs: [data/batch.txt]
  train:
    kind: train
    needs: [prepare]
    run: |
      sleep 1; mkdir -p models; cat data/batch.txt > models/model.txt
      printf '{"loss": 0.25, "acc": %s}' "$KILN_PARAM_ACC" > "$KILN_METRICS"
      echo "kiln-web-test: trained the model"
    inputs: [data/batch.txt]
    outputs: [models/model.txt]
    register: {model: webmodel, path: models/model.txt}
  evaluate:
    kind: evaluate
    needs: [train]
    run: sleep 1; echo evaluated
    inputs: [models/model.txt]
  deploy:
    kind: deploy
    needs: [evaluate]
    when: params.acc >= 0.95
    run: echo deployed
YAML
serve serve.log --token-file "$T/token" "$T/webtest.yaml"
wait_for "the daemon's URL" 10 'test -s "$KILN_STATE/web.url"'
url=$(web_url)

KILN_URL=$url KILN_TEST_TOKEN=$token KILN_WEB_SHOTS=$SHOTS CHROMIUM=$CHROMIUM \
    timeout 90 node "$W/test-ui.mjs"
rc=$?
eq "the browser test passes" 0 "$rc"
stop "$daemon"
eq "kiln serve stops cleanly" 0 "$?"
[ "$rc" -eq 0 ] || { echo "--- kiln serve's log:"; cat "$T/serve.log"; }
echo "screenshots: $SHOTS"
finish
