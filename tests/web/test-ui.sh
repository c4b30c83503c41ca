# The status page in a real browser: Debian's chromium driven by
# playwright-core (tests/web/test-ui.mjs) against a kiln serve started
# here, with runs of a pipeline in a Git repo made first (model versions
# by hash, bytes made by two runs, a reproduction). Needs /usr/bin/chromium, node and `npm ci` in tests/web
# (contrib/deps.sh and contrib/test.sh do both); skipped without them.
# Screenshots go to $KILN_WEB_SHOTS (build/tests/web/screenshots).
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
mkdir -p "$SHOTS" "$T/drift"
# Left by an earlier failing run (test-login's, failed-login-*, are its own).
find "$SHOTS" -maxdepth 1 -name 'failed-*.png' ! -name 'failed-login-*' -delete
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

# What issue 14 recorded, made before the daemon starts: in a Git repo,
# "repro" makes model.txt with the same bytes at two commits (runs 1 and
# 2: one artifact, two producers, one model version) and other bytes in
# run 3 (version 2); run 4 is `kiln reproduce 1` (its deploy step skipped:
# side effects are off). evaluate's score.json is a metrics artifact.
repro=()
if command -v git >/dev/null; then
    export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com
    export GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
    export HOME=$T GIT_CONFIG_NOSYSTEM=1
    R=$T/repo
    mkdir -p "$R"
    (cd "$R" && git -c init.defaultBranch=main init -q .)
    cat > "$R/repro.yaml" <<'YAML'
pipeline: repro
description: the same model bytes at two commits, then a reproduction
params: {n: 1}
steps:
  make:
    kind: train
    run: printf 'model %s\n' "$KILN_PARAM_N" > model.txt
    outputs: [model.txt]
    cache: false
    register: {model: repromodel, path: model.txt, alias: production}
  evaluate:
    kind: evaluate
    needs: [make]
    run: |
      printf '{"size": %s}' "$(wc -c < model.txt)" > score.json
    inputs: [model.txt]
    outputs: [score.json]
    metrics: score.json
    cache: false
  ship:
    kind: deploy
    needs: [evaluate]
    run: echo shipped
YAML
    printf 'model.txt\nscore.json\n' > "$R/.gitignore"
    echo one > "$R/notes.txt"
    (cd "$R" && git add -A && git commit -qm one)
    c1=$(git -C "$R" rev-parse HEAD)
    (cd "$R" && "$KILN" run repro.yaml) >"$T/repro.log" 2>&1
    eq "repro run 1" 0 "$?"
    echo two > "$R/notes.txt"
    (cd "$R" && git commit -qam two)
    c2=$(git -C "$R" rev-parse HEAD)
    (cd "$R" && "$KILN" run repro.yaml) >>"$T/repro.log" 2>&1
    eq "repro run 2: the same bytes at another commit" 0 "$?"
    (cd "$R" && "$KILN" run repro.yaml --param n=2) >>"$T/repro.log" 2>&1
    eq "repro run 3: other bytes" 0 "$?"
    (cd "$R" && "$KILN" reproduce 1) >>"$T/repro.log" 2>&1
    eq "run 4 reproduces run 1, identical" 0 "$?"
    eq "two versions" "1:1 2:3" "$(q "select group_concat(version || ':' || run_id, ' ') from (select * from models where name = 'repromodel' order by version)")"
    eq "run 4 is the reproduction" "reproduce 1" "$(q "select trigger || ' ' || reproduces from runs where id = 4")"
    repro=("$R/repro.yaml")
    export KILN_REPRO_COMMITS="$c1 $c2"
else
    echo "no git: the checks of a reproduction are left out"
fi

# A directory of pipelines: zfail always fails (the overview lists it
# first once it has), slow runs until cancelled; the browser test breaks
# zfail.yaml and adds a file that never loads, then SIGHUPs the daemon
# (the reload banner) and puts them right.
mkdir -p "$T/more"
cat > "$T/more/zfail.yaml" <<'YAML'
pipeline: zfail
description: fails every time
steps:
  boom: {run: "echo boom; exit 3"}
YAML
cat > "$T/more/slow.yaml" <<'YAML'
pipeline: slow
description: runs until cancelled
steps:
  wait: {run: "sleep 60"}
YAML

serve serve.log --token-file "$T/token" "$T/webtest.yaml" "${repro[@]}" \
    "$T/more"
wait_for "the daemon's URL" 10 'test -s "$KILN_STATE/web.url"'
url=$(web_url)

KILN_URL=$url KILN_TEST_TOKEN=$token KILN_WEB_SHOTS=$SHOTS CHROMIUM=$CHROMIUM \
    KILN_DAEMON_PID=$daemon KILN_MORE=$T/more \
    timeout 150 node "$W/test-ui.mjs"
rc=$?
eq "the browser test passes" 0 "$rc"
stop "$daemon"
eq "kiln serve stops cleanly" 0 "$?"
[ "$rc" -eq 0 ] || { echo "--- kiln serve's log:"; cat "$T/serve.log"; }
echo "screenshots: $SHOTS"
finish
