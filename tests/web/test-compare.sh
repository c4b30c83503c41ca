# The status page's compare view and a step's Retry from here in a real
# browser (tests/web/test-compare.mjs, Debian's chromium through
# playwright-core) against a kiln serve started here, after 30 runs of a
# pipeline whose params and metrics differ from run to run (kiln run
# --param). Needs /usr/bin/chromium, node and `npm ci` in tests/web;
# skipped without them. Screenshots go to $KILN_WEB_SHOTS (compare-*.png).
. "$(dirname "$0")/netns.sh"
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
mkdir -p "$SHOTS"
rm -f "$SHOTS"/failed-compare-*.png    # left by an earlier failing run
token=web-compare-token-0123456789
printf '%s\n' "$token" > "$T/token"

# lr, depth and opt differ between runs, seed does not; train's acc and
# loss and evaluate's score differ, evaluate's same does not. prepare is
# the same in every run (cached after the first).
pipeline sweep <<'YAML'
pipeline: sweep
description: thirty runs to compare
params: {lr: 0.1, depth: 1, opt: sgd, seed: 7, i: 0}
steps:
  prepare:
    run: mkdir -p data; echo rows > data/rows.txt
    outputs: [data/rows.txt]
  train:
    needs: [prepare]
    run: |
      awk -v i="$KILN_PARAM_I" -v lr="$KILN_PARAM_LR" 'BEGIN {
        acc = 0.5 + ((i * 7) % 30) / 100
        printf "{\"acc\": %.2f, \"loss\": %.3f}", acc, 1 - acc + lr / 10
      }' > "$KILN_METRICS"
    inputs: [data/rows.txt]
  evaluate:
    needs: [train]
    run: |
      printf '{"score": %s, "same": 1}' "$KILN_PARAM_DEPTH" > "$KILN_METRICS"
YAML
opts=(sgd adam rmsprop)
for i in $(seq 1 30); do
    lr=$(awk -v i="$i" 'BEGIN { printf "%.2f", i / 100 }')
    (cd "$T" && "$KILN" run sweep.yaml --param i="$i" --param lr="$lr" \
        --param depth=$((i % 4 + 1)) --param opt="${opts[i % 3]}") \
        >>"$T/runs.log" 2>&1 || { echo "run $i failed:"; cat "$T/runs.log"; }
done
eq "30 runs succeeded" 30 "$(q "select count(*) from runs where status = 'succeeded'")"
# A sweep of 2x3 items in one run, to compare its items.
pipeline grid <<'YAML'
pipeline: grid
params: {lr: 0.1, depth: 1}
steps:
  train:
    matrix: {lr: [0.1, 0.2], depth: [1, 2, 3]}
    run: |
      awk -v lr="$KILN_PARAM_LR" -v d="$KILN_PARAM_DEPTH" 'BEGIN {
        printf "{\"acc\": %.2f}", 0.5 + lr + d / 10 }' > "$KILN_METRICS"
YAML
(cd "$T" && "$KILN" run grid.yaml) >>"$T/runs.log" 2>&1
grid=$(q "select max(id) from runs where pipeline = 'grid'")
eq "the grid ran its 6 items" 6 "$(q "select count(*) from run_steps where run_id = $grid and status = 'succeeded'")"

serve serve.log --token-file "$T/token" "$T/sweep.yaml" "$T/grid.yaml"
wait_for "the daemon's URL" 10 'test -s "$KILN_STATE/web.url"'
url=$(web_url)

KILN_URL=$url KILN_TEST_TOKEN=$token KILN_WEB_SHOTS=$SHOTS CHROMIUM=$CHROMIUM KILN_GRID_RUN=$grid \
    timeout 120 node "$W/test-compare.mjs"
rc=$?
eq "the browser test passes" 0 "$rc"
stop "$daemon"
eq "kiln serve stops cleanly" 0 "$?"
[ "$rc" -eq 0 ] || { echo "--- kiln serve's log:"; cat "$T/serve.log"; }
echo "screenshots: $SHOTS"
finish
