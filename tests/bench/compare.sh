#!/usr/bin/env bash
# tests/bench/compare.sh: kiln compare and GET /api/v1/compare on 1,000
# runs of a pipeline with 4 params and 6 metrics each (copies of one real
# run made with SQLite, each with its own values).
# Targets: kiln compare --pipeline P --last 1000 < 200 ms; the API, the
# first page of 100 rows sorted by a metric < 200 ms.
# Usage: tests/bench/compare.sh [path/to/kiln] [runs]
set -euo pipefail
kiln=$(realpath "${1:-$(dirname "$0")/../../build/kiln}")
total=${2:-1000}
dir=$(mktemp -d /tmp/kiln-compare-bench.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
cd "$dir"
mkdir p
cat > p/exp.yaml <<'YAML'
pipeline: exp
params: {lr: 0.1, depth: 3, seed: 1, features: all}
steps:
  train:
    run: |
      echo '{"auc": 0.8, "loss": 0.3, "acc": 0.7, "f1": 0.6, "rows": 100, "secs": 1}' > "$KILN_METRICS"
YAML
"$kiln" run p/exp.yaml --state st > /dev/null 2>&1
/usr/bin/python3 - st/kiln.db "$total" <<'PY'
import json, random, sqlite3, sys
db, total = sys.argv[1], int(sys.argv[2])
random.seed(7)
c = sqlite3.connect(db)
c.execute("PRAGMA synchronous = OFF")
cols = [r[1] for r in c.execute("PRAGMA table_info(runs)")]
row = list(c.execute("SELECT * FROM runs WHERE id = 1").fetchone())
ecols = [r[1] for r in c.execute("PRAGMA table_info(executions)")]
ex = list(c.execute("SELECT * FROM executions WHERE run_id = 1").fetchone())
i_id, i_params = cols.index("id"), cols.index("params")
e_id, e_run = ecols.index("id"), ecols.index("run_id")
eid = c.execute("SELECT max(id) FROM executions").fetchone()[0]
for n in range(2, total + 1):
    row[i_id] = n
    row[i_params] = json.dumps({"lr": str(random.choice([0.01, 0.05, 0.1, 0.2])),
                                "depth": str(random.randint(2, 9)),
                                "seed": "1", "features": random.choice(["all", "top20"])})
    c.execute("INSERT INTO runs VALUES (%s)" % ",".join("?" * len(row)), row)
    eid += 1
    ex[e_id], ex[e_run] = eid, n
    c.execute("INSERT INTO executions VALUES (%s)" % ",".join("?" * len(ex)), ex)
    for k in ("auc", "loss", "acc", "f1", "rows", "secs"):
        c.execute("INSERT INTO metrics VALUES (?, ?, 'train', ?, ?)",
                  (eid, n, k, round(random.random(), 4)))
c.commit()
PY
ms() { date +%s%3N; }
best() { sort -n | head -1; }
for _ in 1 2 3 4 5; do
    t0=$(ms); "$kiln" compare --state st --pipeline exp --last "$total" --sort train.auc > out.txt; t1=$(ms)
    echo $((t1 - t0))
done | best > cli.ms
rows=$(($(wc -l < out.txt) - 1))
"$kiln" serve --state st --listen 127.0.0.1:0 p > serve.log 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s st/web.url ] && break; sleep 0.1; done
url=$(cat st/web.url)
for _ in 1 2 3 4 5; do
    # Another sort each time: not the response cache's answer.
    curl -s -o api.json -w '%{time_total}\n' "${url}api/v1/compare?pipeline=exp&last=$total&sort=train.f1&limit=100&offset=$((RANDOM % 500))"
done | awk '{print int($1 * 1000)}' | best > api.ms
kill -TERM $pid; wait $pid || true; pid=
printf 'kiln compare, %d runs (%d rows): %d ms   (target < 200 ms)\n' "$total" "$rows" "$(cat cli.ms)"
printf 'GET /api/v1/compare, %d runs, a page of 100 sorted: %d ms   (target < 200 ms)\n' "$total" "$(cat api.ms)"
