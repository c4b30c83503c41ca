#!/usr/bin/env bash
# tests/bench/web.sh: the web API under load while the daemon works.
#
# A state directory with 100,000 runs (copies of real runs, made with
# SQLite), one kiln serve with ten pipelines scheduled every minute on a
# test clock running 60 times faster (a fire per pipeline per second) and
# a 1,000-step pipeline started through the API. While it runs, wrk sends
# GET /api/v1/runs?limit=50 with 2 threads and 50 connections for 10 s.
# Prints requests/s, latency percentiles and the scheduler's fire delay
# (due time -> run start) during the load.
# Targets: >= 10,000 req/s, p99 < 20 ms, fire delay median < 10 ms.
# Usage: tests/bench/web.sh [path/to/kiln] [runs] [seconds]
set -euo pipefail
kiln=$(realpath "${1:-$(dirname "$0")/../../build/kiln}")
total=${2:-100000}
secs=${3:-10}
if ! command -v wrk >/dev/null && [ "$(id -u)" = 0 ] &&
   command -v apt-get >/dev/null; then
    apt-get install -y -qq wrk >/dev/null 2>&1 || true
fi
command -v wrk >/dev/null || { echo "web.sh needs wrk (apt-get install wrk)" >&2; exit 2; }
dir=$(mktemp -d /tmp/kiln-web-bench.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
cd "$dir"
mkdir p
for i in $(seq 0 9); do
    cat > p/cron$i.yaml <<YAML
pipeline: cron$i
schedule: "* * * * *"
steps:
  tick: {run: "true"}
YAML
done
{
    echo "pipeline: big"
    echo "steps:"
    for i in $(seq 1 1000); do echo "  s$i: {run: \"true\", cache: false}"; done
} > p/big.yaml
"$kiln" run p/cron0.yaml --state st > /dev/null
/usr/bin/python3 - st/kiln.db "$total" <<'PY'
import sqlite3, sys
db, total = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
c.execute("PRAGMA synchronous = OFF")
row = list(c.execute("SELECT * FROM runs ORDER BY id LIMIT 1").fetchone())
cols = [r[1] for r in c.execute("PRAGMA table_info(runs)")]
step = list(c.execute("SELECT * FROM run_steps LIMIT 1").fetchone())
i_id, i_p, i_s = cols.index("id"), cols.index("pipeline"), cols.index("status")
for n in range(2, total + 1):
    row[i_id] = n
    row[i_p] = "cron%d" % (n % 10)
    row[i_s] = "failed" if n % 7 == 0 else "succeeded"
    c.execute("INSERT INTO runs VALUES (%s)" % ",".join("?" * len(row)), row)
    step[0] = n
    c.execute("INSERT INTO run_steps VALUES (%s)" % ",".join("?" * len(step)), step)
c.commit()
PY
echo "database: $total runs, $(du -m st/kiln.db | cut -f1) MB"
token=bench-token-0123456789
KILN_NOW=$(date -u +%Y-%m-%dT%H:%M:30Z) KILN_CLOCK_SPEED=60 KILN_TOKEN=$token \
    "$kiln" serve --state st --listen 127.0.0.1:0 --jobs 2 p > serve.log 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s st/web.url ] && break; sleep 0.1; done
url=$(cat st/web.url)
first=$(sqlite3 st/kiln.db "select coalesce(max(id), 0) from runs")
curl -s -X POST -H "Authorization: Bearer $token" "${url}api/v1/pipelines/big/runs" > /dev/null
sleep 1
wrk -t2 -c50 -d"${secs}s" --latency "${url}api/v1/runs?limit=50" > wrk.txt
big=$(sqlite3 st/kiln.db "select count(*) from run_steps r join runs u on u.id = r.run_id where u.pipeline = 'big' and r.status = 'succeeded'")
kill -TERM $pid; wait $pid || true; pid=
grep -E "Requests/sec|Latency  |50%|90%|99%" wrk.txt | sed 's/^/wrk: /'
echo "big pipeline: $big of 1000 steps done during the load"
sqlite3 st/kiln.db "select json_extract(trigger_info, '\$.lag_ms') from runs where id > $first and trigger = 'schedule'" |
    sort -n | awk '{a[NR] = $1} END {
        if (NR == 0) { print "fire delay: no scheduled fire during the load"; exit }
        p = int(NR * 0.99 + 0.5); if (p < 1) p = 1
        printf "fire delay (%d fires): median %d ms, p99 %d ms, max %d ms\n", NR, a[int((NR + 1) / 2)], a[p], a[NR] }'
