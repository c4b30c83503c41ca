#!/usr/bin/env bash
# tests/bench/metrics.sh: GET /metrics on a big record while the daemon
# works.
#
# A state directory with 100,000 runs of ten pipelines, three step
# attempts each (copies of real rows, made with SQLite; every fifth run's
# attempts cached) and 100,000 trigger checks; one kiln serve with the ten
# pipelines scheduled every minute on a test clock running 60 times
# faster (a fire per pipeline per second) and a run that stays in flight
# the whole time (the tally's cursors cannot pass it). Times the first
# count (every row read once, off the loop from the first GET /metrics,
# which says 503 until it is done; /healthz asked meanwhile) and then 300 more answers, one every
# 20 ms (with a GET /healthz after each: what the loop's other work costs
# any answer), and checks that no counter went down between answers.
# Targets: first answer < 2 s, then median < 5 ms and p99 < 20 ms.
# Usage: tests/bench/metrics.sh [path/to/kiln] [runs]
set -euo pipefail
kiln=$(realpath "${1:-$(dirname "$0")/../../build/kiln}")
total=${2:-100000}
dir=$(mktemp -d /tmp/kiln-metrics-bench.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
cd "$dir"
mkdir p
for i in $(seq 0 9); do
    cat > p/cron$i.yaml <<YAML
pipeline: cron$i
schedule: "* * * * *"
steps:
  a: {run: "true", cache: false}
  b: {run: "true", needs: [a], cache: false}
  c: {run: "true", needs: [b], cache: false}
YAML
done
printf 'pipeline: long\nsteps:\n  wait: {run: "sleep 600", cache: false}\n' > p/long.yaml
"$kiln" run p/cron0.yaml --state st > /dev/null 2>&1
/usr/bin/python3 - st/kiln.db "$total" <<'PY'
import sqlite3, sys, random
db, total = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
c.execute("PRAGMA synchronous = OFF")
rcols = [r[1] for r in c.execute("PRAGMA table_info(runs)")]
ecols = [r[1] for r in c.execute("PRAGMA table_info(executions)")]
run = list(c.execute("SELECT * FROM runs ORDER BY id LIMIT 1").fetchone())
steps = [list(r) for r in c.execute("SELECT * FROM run_steps WHERE run_id = 1")]
execs = [list(r) for r in c.execute("SELECT * FROM executions WHERE run_id = 1 ORDER BY id")]
R = {k: rcols.index(k) for k in ("id", "pipeline", "status", "finished_at")}
E = {k: ecols.index(k) for k in ("id", "run_id", "status", "started_at", "finished_at", "cached_from")}
rnd = random.Random(1)
t0 = run[R["finished_at"]] - total * 60000
eid = len(execs)
for n in range(2, total + 1):
    run[R["id"]], run[R["pipeline"]] = n, "cron%d" % (n % 10)
    run[R["status"]] = "failed" if n % 7 == 0 else "succeeded"
    run[R["finished_at"]] = t0 + n * 60000
    c.execute("INSERT INTO runs VALUES (%s)" % ",".join("?" * len(run)), run)
    for s in steps:
        s[0] = n
        c.execute("INSERT INTO run_steps VALUES (%s)" % ",".join("?" * len(s)), s)
    for e in execs:
        eid += 1
        e[E["id"]], e[E["run_id"]] = eid, n
        e[E["started_at"]] = t0 + n * 60000 - 50000
        e[E["finished_at"]] = e[E["started_at"]] + int(rnd.expovariate(1 / 20000.0))
        e[E["status"]] = "cached" if n % 5 == 0 else "succeeded"
        e[E["cached_from"]] = 1 if n % 5 == 0 else None
        c.execute("INSERT INTO executions VALUES (%s)" % ",".join("?" * len(e)), e)
    c.execute("INSERT INTO trigger_checks (pipeline, trigger, target, checked_at, status) "
              "VALUES (?, 'data', 'in/', ?, ?)", ("cron%d" % (n % 10), t0 + n * 60000,
              "quiet" if n % 3 else "fired"))
c.commit()
PY
echo "database: $total runs, $(sqlite3 st/kiln.db 'select count(*) from executions') attempts, $(du -m st/kiln.db | cut -f1) MB"
KILN_NOW=$(date -u +%Y-%m-%dT%H:%M:30Z) KILN_CLOCK_SPEED=60 \
    "$kiln" serve --state st --listen 127.0.0.1:0 --jobs 4 p > serve.log 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s st/web.url ] && break; sleep 0.1; done
url=$(cat st/web.url)
"$kiln" trigger long --state st > /dev/null
sleep 1
# The first count is made off the loop from the first GET /metrics (503
# until it is done): the time from then until /metrics answers 200,
# with the slowest /healthz asked meanwhile.
t0=$(date +%s%N) slow_hz=0
until curl -sf -o m0.txt "${url}metrics"; do
    t=$(curl -s -o /dev/null -w '%{time_total}' "${url}healthz")
    slow_hz=$(awk -v a="$slow_hz" -v b="$t" 'BEGIN { print (b > a) ? b : a }')
    sleep 0.02
done
echo "$(( ($(date +%s%N) - t0) / 1000000 ))" > first.txt
for i in $(seq 300); do
    curl -s -o m$((i % 2)).txt -w '%{time_total}\n' "${url}metrics" >> times.txt
    # Every counter of the newer answer at least as high as before.
    [ $((i % 30)) -ne 0 ] || /usr/bin/python3 - m$(((i + 1) % 2)).txt m$((i % 2)).txt <<'PY' >> down.txt
import sys
def read(f):
    return {l.rsplit(" ", 1)[0]: float(l.rsplit(" ", 1)[1]) for l in open(f)
            if any(s in l for s in ("_total{", "_bucket{", "_count{"))}
a, b = read(sys.argv[1]), read(sys.argv[2])
print(sum(1 for k in a if k in b and b[k] < a[k]))
PY
    # The same loop's answer that reads nothing, for comparison.
    curl -s -o /dev/null -w '%{time_total}\n' "${url}healthz" >> healthz.txt
    sleep 0.02
done
runs=$(grep -c '^kiln_runs_total' m0.txt)
kill -TERM $pid; wait $pid || true; pid=
echo "first count (every row read once, off the loop): /metrics answers $(cat first.txt) ms after the first GET (target < 2000 ms); the slowest /healthz meanwhile $(awk -v t="$slow_hz" 'BEGIN {printf "%.1f", t * 1000}') ms"
sort -n times.txt | awk '{a[NR] = $1 * 1000} END {
    printf "then %d answers: median %.1f ms, p99 %.1f ms, max %.1f ms (targets: median < 5 ms, p99 < 20 ms)\n",
        NR, a[int((NR + 1) / 2)], a[int(NR * 0.99 + 0.5)], a[NR] }'
sort -n healthz.txt | awk '{a[NR] = $1 * 1000} END {
    printf "GET /healthz in between (the loop'"'"'s own delays): median %.1f ms, p99 %.1f ms, max %.1f ms\n",
        a[int((NR + 1) / 2)], a[int(NR * 0.99 + 0.5)], a[NR] }'
echo "counters that went down between answers: $(awk '{s += $1} END {print s + 0}' down.txt) (target 0; $runs series of kiln_runs_total)"
