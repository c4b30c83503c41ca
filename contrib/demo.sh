#!/usr/bin/env bash
# contrib/demo.sh: install what is missing, build kiln, run the example ML
# pipeline (examples/churn) end to end, then serve it with kiln serve and
# its status page: a drifted batch makes the daemon retrain, and the new
# model becomes the challenger; then scores batches with production and the
# challenger in shadow (score.yaml), shows the monitoring, lets the
# challenger be promoted or retired on live labelled batches, and rolls
# production back.
#   KILN_DEMO_LISTEN=127.0.0.1:8080   where the status page listens
set -euo pipefail
cd "$(dirname "$0")/.."
. contrib/deps.sh
kiln_deps

cmake -S . -B build >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)"
kiln=$PWD/build/kiln
work=$(mktemp -d /tmp/kiln-demo.XXXXXX)
cp -r examples/churn "$work/churn"
cd "$work/churn"
rm -rf data models reports serving incoming/live.csv incoming/batches/*.csv \
    predictions scores labels __pycache__
# A project in Git, as a user's is: each run is pinned to its commit, and
# kiln reproduce can check it out again.
export GIT_AUTHOR_NAME=kiln-demo GIT_AUTHOR_EMAIL=demo@localhost
export GIT_COMMITTER_NAME=kiln-demo GIT_COMMITTER_EMAIL=demo@localhost
git -c init.defaultBranch=main init -q .
printf 'data/\nmodels/\nreports/\nserving/\nincoming/\npredictions/\nscores/\nlabels/\n__pycache__/\n' > .gitignore
git add -A && git commit -qm "the churn example"
export KILN_STATE=$work/state
daemon=
trap '[ -n "$daemon" ] && kill "$daemon" 2>/dev/null; true' EXIT
say() { printf '\n== %s\n' "$*"; }

say "kiln validate pipeline.yaml"
"$kiln" validate pipeline.yaml
say "kiln dag pipeline.yaml"
"$kiln" dag pipeline.yaml
say "kiln run pipeline.yaml   (ingest, validate, a sweep of four train items, pick the best, evaluate, deploy)"
"$kiln" run pipeline.yaml
say "kiln compare 1:train --sort train.val_auc   (the sweep's items side by side; pick took the first)"
"$kiln" compare 1:train --sort train.val_auc
say "kiln run pipeline.yaml   (again: cached, but evaluate (production moved) and deploy)"
"$kiln" run pipeline.yaml
say "kiln why 2 evaluate   (why it ran again)"
"$kiln" why 2 evaluate | tail -3
say "kiln run pipeline.yaml --param n_estimators=2   (a worse model: deploy is gated)"
"$kiln" run pipeline.yaml --param n_estimators=2
say "kiln metrics --key auc"
"$kiln" metrics --key auc
say "kiln models"
"$kiln" models
say "kiln reproduce 1   (run 1 again as recorded, in a scratch tree; same bytes?)"
"$kiln" reproduce 1 2>/dev/null

listen=${KILN_DEMO_LISTEN:-127.0.0.1:8080}
/usr/bin/python3 simulate.py 0 > /dev/null
say "kiln serve pipeline.yaml --listen $listen"
"$kiln" serve pipeline.yaml --listen "$listen" > "$work/serve.log" 2>&1 &
daemon=$!
for _ in $(seq 50); do [ -s "$KILN_STATE/web.url" ] && break; sleep 0.1; done
if [ ! -s "$KILN_STATE/web.url" ]; then
    cat "$work/serve.log"
    echo "kiln serve did not start (is $listen in use? set KILN_DEMO_LISTEN)" >&2
    exit 1
fi
url=$(cat "$KILN_STATE/web.url")
echo "status page: $url"
say "python3 simulate.py 0.5   (a new batch arrives, and it drifted)"
/usr/bin/python3 simulate.py 0.5
echo "waiting for the drift trigger (checked every 10 s) and the retrain..."
for _ in $(seq 120); do
    [ "$(sqlite3 "$KILN_STATE/kiln.db" "select count(*) from runs where trigger = 'drift' and status = 'succeeded'")" = 1 ] && break
    sleep 0.5
done
say "kiln triggers"
"$kiln" triggers --limit 5
say "kiln runs"
"$kiln" runs
say "kiln models   (the retrained model is the challenger; production stays)"
"$kiln" models
say "python3 batch.py b001 0.5; kiln run score.yaml   (score a batch with production, the challenger in shadow)"
/usr/bin/python3 batch.py b001 0.5
"$kiln" run score.yaml
say "kiln metrics --pipeline score --last 1   (probabilities, low-confidence share, PSI)"
"$kiln" metrics --pipeline score --last 1 | grep -v -e '\.hist\.' -e '\.validate\.'
say "kiln lineage predictions/b001.csv --depth 2   (the batch and the model version)"
"$kiln" lineage predictions/b001.csv --depth 2
for b in b001 b002; do
    [ "$b" = b002 ] && { /usr/bin/python3 batch.py b002 0.5; "$kiln" run score.yaml > /dev/null; }
    say "python3 batch.py $b 0.5 --labels-only; kiln run score.yaml   (its outcomes come back: live metrics)"
    /usr/bin/python3 batch.py "$b" 0.5 --labels-only
    "$kiln" run score.yaml
done
say "kiln models history churn   (two labelled live batches: the challenger was promoted or retired)"
"$kiln" models history churn
say "kiln models rollback churn production   (the old version, its bytes in serving/ again)"
"$kiln" models rollback churn production || true
"$kiln" models
echo
echo "Records: $KILN_STATE/kiln.db; the example's files: $work/churn"
if [ -t 0 ]; then
    echo "kiln serve is running: open $url (Ctrl-C stops it)"
    wait "$daemon" || true
else
    echo "kiln serve was running at $url; stopping it (run this script in a terminal to keep it)"
    kill -TERM "$daemon"
    wait "$daemon" || true
fi
daemon=
