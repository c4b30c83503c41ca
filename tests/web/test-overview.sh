# The overview with more pipelines than it shows at once (1,001, in a
# real browser: tests/web/overview.mjs): the daemon ranks them
# (?sort=concern), the page shows the first 100 with the one whose last
# run failed on top, and "Show all 1001" brings the rest, in two pages
# (the daemon describes at most 1,000 an answer). Needs
# /usr/bin/chromium, node and `npm ci` in tests/web; skipped without
# them. Screenshots go to $KILN_WEB_SHOTS (overview-page-*.png).
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/../cli/lib.sh"
W=$KILN_SRC/tests/web
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ] || ! command -v node >/dev/null ||
   [ ! -d "$W/node_modules/playwright-core" ]; then
    echo "skipped: needs $CHROMIUM, node and npm ci in tests/web"
    [ -n "${KILN_REQUIRE_BROWSER:-}" ] && exit 1
    exit 77
fi
SHOTS=${KILN_WEB_SHOTS:-$T/screenshots}
mkdir -p "$SHOTS" "$T/many"
for i in $(seq -w 0 1000); do
    run=true
    [ "$i" = 0050 ] && run=false
    printf 'pipeline: p%s\nsteps:\n  s: {run: "%s", cache: false}\n' \
        "$i" "$run" > "$T/many/p$i.yaml"
done
(cd "$T/many" && "$KILN" run p0050.yaml) > "$T/run.log" 2>&1
eq "p0050's last run failed" failed "$(q "select status from runs where pipeline = 'p0050'")"
serve serve.log "$T/many"
wait_for "the daemon's URL" 10 'test -s "$KILN_STATE/web.url"'
url=$(web_url)
KILN_URL=$url KILN_WEB_SHOTS=$SHOTS CHROMIUM=$CHROMIUM \
    timeout 90 node "$W/overview.mjs"
eq "the browser test passes" 0 "$?"
stop "$daemon"
eq "kiln serve stops cleanly" 0 "$?"
finish
