#!/usr/bin/env bash
# tests/bench/lineage.sh: lineage and run listing on a big state directory.
#
# Runs a 5-step pipeline (ingest -> validate -> train -> evaluate ->
# deploy, each making an artifact from the one before) a few times for
# real, then copies those records in SQLite until there are 10,000 runs,
# each with its own artifacts (distinct hashes), as if the pipeline had
# run 10,000 times. Prints the time of `kiln lineage` of the newest model
# (up and down) and of `kiln runs --limit 50`, and the database bytes per
# run. Target: each answers in < 50 ms.
# Usage: tests/bench/lineage.sh [path/to/kiln] [runs]
set -euo pipefail
kiln=$(realpath "${1:-$(dirname "$0")/../../build/kiln}")
total=${2:-10000}
dir=$(mktemp -d /tmp/kiln-lineage-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
cat > p.yaml <<'YAML'
pipeline: five
params: {seed: 1}
steps:
  ingest: {kind: ingest, run: "echo $KILN_RUN_ID > raw.csv", outputs: [raw.csv]}
  validate: {kind: validate, needs: [ingest], run: "cp raw.csv clean.csv", inputs: [raw.csv], outputs: [clean.csv]}
  train: {kind: train, needs: [validate], run: "cp clean.csv model.bin", inputs: [clean.csv], outputs: [model.bin]}
  evaluate: {kind: evaluate, needs: [train], run: "cp model.bin report.json", inputs: [model.bin], outputs: [report.json]}
  deploy: {kind: deploy, needs: [evaluate], run: "cp model.bin served.bin", inputs: [model.bin, report.json], outputs: [served.bin]}
YAML
for i in 1 2 3 4 5; do
    "$kiln" run p.yaml --state st > /dev/null 2>&1
done
/usr/bin/python3 - st/kiln.db "$total" <<'PY'
import sqlite3, sys
db, total = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
c.execute("PRAGMA synchronous = OFF")
cols = lambda t: [r[1] for r in c.execute(f"PRAGMA table_info({t})")]
base_runs = [r[0] for r in c.execute("SELECT id FROM runs ORDER BY id")]
have = len(base_runs)
rcols, xcols, acols = cols("runs"), cols("executions"), cols("artifacts")
run_max = c.execute("SELECT max(id) FROM runs").fetchone()[0]
x_max = c.execute("SELECT max(id) FROM executions").fetchone()[0]
a_max = c.execute("SELECT max(id) FROM artifacts").fetchone()[0]
template = base_runs[-1]
xs = c.execute("SELECT * FROM executions WHERE run_id = ?", (template,)).fetchall()
steps = c.execute("SELECT * FROM run_steps WHERE run_id = ?", (template,)).fetchall()
xids = [x[0] for x in xs]
evs = c.execute("SELECT e.execution_id, e.artifact_id, e.type FROM events e "
                "WHERE e.execution_id IN (%s)" % ",".join("?" * len(xids)), xids).fetchall()
aids = sorted({e[1] for e in evs})
arts = {a[0]: a for a in c.execute("SELECT * FROM artifacts WHERE id IN (%s)"
                                   % ",".join("?" * len(aids)), aids)}
run_row = c.execute("SELECT * FROM runs WHERE id = ?", (template,)).fetchone()
for n in range(total - have):
    rid = run_max + 1 + n
    r = list(run_row); r[rcols.index("id")] = rid
    c.execute("INSERT INTO runs VALUES (%s)" % ",".join("?" * len(r)), r)
    for s in steps:
        s = list(s); s[0] = rid
        c.execute("INSERT INTO run_steps VALUES (%s)" % ",".join("?" * len(s)), s)
    xmap, amap = {}, {}
    for x in xs:
        x = list(x); old = x[0]
        x_max += 1; x[0] = x_max; x[xcols.index("run_id")] = rid
        xmap[old] = x_max
        c.execute("INSERT INTO executions VALUES (%s)" % ",".join("?" * len(x)), x)
    for aid, a in arts.items():
        a = list(a); a_max += 1
        a[0] = a_max; a[acols.index("sha256")] = "%064x" % (a_max * 7919)
        amap[aid] = a_max
        c.execute("INSERT INTO artifacts VALUES (%s)" % ",".join("?" * len(a)), a)
    for e in evs:
        c.execute("INSERT INTO events VALUES (?, ?, ?)", (xmap[e[0]], amap[e[1]], e[2]))
c.commit()
c.execute("VACUUM")
PY
"$kiln" runs --state st --limit 1 > /dev/null
runs=$(sqlite3 st/kiln.db "select count(*) from runs")
bytes=$(stat -c %s st/kiln.db)
model=$(sqlite3 st/kiln.db "select max(id) from artifacts where type = 'model'")
raw=$(sqlite3 st/kiln.db "select max(id) from artifacts where type = 'dataset' and path like '%raw.csv'")
# best of 5, in ms
timeit() {
    local best=999999 t0 t1
    for _ in 1 2 3 4 5; do
        t0=$(date +%s%N); "$@" > /dev/null; t1=$(date +%s%N)
        [ $(((t1 - t0) / 1000000)) -lt $best ] && best=$(((t1 - t0) / 1000000))
    done
    echo $best
}
echo "runs:                       $runs"
echo "database:                   $bytes bytes ($((bytes / runs)) bytes per run)"
echo "kiln lineage model --up:    $(timeit "$kiln" lineage "$model" --state st) ms"
echo "kiln lineage raw --down:    $(timeit "$kiln" lineage "$raw" --down --state st) ms"
echo "kiln runs --limit 50:       $(timeit "$kiln" runs --limit 50 --state st) ms"
echo "(each is the best of 5 runs of the whole kiln command, process start included)"
