#!/usr/bin/env bash
# tests/bench/scheduler.sh: one kiln serve with 1,000 scheduled pipelines.
#
# Prints: load time, resident memory, CPU used over 60 idle seconds, and
# the fire delay (due time to the run's first step starting; median and
# max over many fires). Targets: < 50 MB, ~0% idle CPU, median fire delay
# < 10 ms.
#   idle    1,000 pipelines due once a year, on the real clock
#   fires   1,000 pipelines, 600 of them daily at 600 distinct minutes
#           (00:00 to 09:59); the test clock runs 600 times faster, so a
#           fire every 100 ms for a minute. Delays are real milliseconds
#           (lag_ms in each run's trigger: measured as the daemon starts
#           the run; the first step's process is spawned in the same loop
#           callback, after the run's records are written).
#   burst   the same, but ten pipelines due at each minute (hourly at
#           minutes 0..59), the clock 60 times faster: ten simultaneous
#           fires a second, so later ones wait for earlier ones to start.
# Usage: tests/bench/scheduler.sh [path/to/kiln] [idle seconds]
set -euo pipefail
kiln=$(realpath "${1:-$(dirname "$0")/../../build/kiln}")
idle=${2:-60}
dir=$(mktemp -d /tmp/kiln-sched-bench.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$dir"' EXIT
mkdir -p "$dir/idle" "$dir/fires" "$dir/burst"
for i in $(seq 0 999); do
    printf 'pipeline: p%d\nschedule: "0 3 1 1 *"\nsteps:\n  s: {run: "true"}\n' \
        $i > "$dir/idle/p$i.yaml"
    if [ $i -lt 600 ]; then cron="$((i % 60)) $((i / 60)) * * *"
    else cron="0 23 1 1 *"; fi
    printf 'pipeline: p%d\nschedule: "%s"\nsteps:\n  s: {run: "true"}\n' \
        $i "$cron" > "$dir/fires/p$i.yaml"
    if [ $i -lt 600 ]; then cron="$((i % 60)) * * * *"; else cron="0 3 1 1 *"; fi
    printf 'pipeline: p%d\nschedule: "%s"\nsteps:\n  s: {run: "true"}\n' \
        $i "$cron" > "$dir/burst/p$i.yaml"
done

ticks=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

"$kiln" serve --state "$dir/state-idle" "$dir/idle" 2> "$dir/idle.log" &
pid=$!
for _ in $(seq 100); do grep -q "loaded in" "$dir/idle.log" && break; sleep 0.1; done
load=$(sed -n 's/.*pipelines loaded in \([0-9]*\) ms.*/\1/p' "$dir/idle.log")
c0=$(cpu $pid)
sleep "$idle"
c1=$(cpu $pid)
rss=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")
kill -TERM $pid; wait $pid || true; pid=
echo "pipelines:        1000"
echo "load time:        $load ms"
echo "resident memory:  $((rss / 1024)) MB"
awk -v c=$((c1 - c0)) -v t=$ticks -v s=$idle 'BEGIN {
    printf "idle CPU:         %.2f s over %d s (%.3f%%)\n", c / t, s, 100 * c / t / s }'

# fires SHAPE SPEED: run the daemon on $dir/SHAPE for a minute and print
# the fire delays.
fires() {
    KILN_NOW=2026-01-01T00:00:00Z KILN_CLOCK_SPEED=$2 \
        "$kiln" serve --state "$dir/state-$1" --jobs 4 "$dir/$1" \
        2> "$dir/$1.log" &
    pid=$!
    sleep 61
    kill -TERM $pid; wait $pid || true; pid=
    sqlite3 "$dir/state-$1/kiln.db" \
        "select json_extract(trigger_info, '$.lag_ms') from runs order by 1" \
        > "$dir/lags"
    n=$(wc -l < "$dir/lags")
    [ "$n" -gt 0 ] || { echo "no fires recorded" >&2; exit 1; }
    awk -v n=$n -v shape=$1 '{ v[NR] = $1 } END {
        p = int(n * 0.99); if (p < 1) p = 1
        printf "%-7s fires:    %d\n", shape, n
        printf "%-7s delay:    median %d ms, p99 %d ms, max %d ms\n", shape,
               v[int((n + 1) / 2)], v[p], v[n] }' "$dir/lags"
}
fires fires 600
fires burst 60
