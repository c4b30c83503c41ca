#!/usr/bin/env bash
# tests/bench/many-pipelines.sh: kiln serve with many pipelines loaded.
#
# Writes N pipeline files (default 10,000) of 3 to 5 steps in a
# directory that is a Git repository: cron schedules of several shapes
# (daily, weekdays, lists and ranges, @weekly, @monthly, some in a time
# zone, some with two expressions) and triggers of every kind on some:
# data (a directory; inotify), drift (two CSV files), metric (a JSON file,
# or another pipeline's metric), git (the repository's branch), with a
# cooldown. Each trigger is checked every hour, and the daemon's clock is
# a test clock started at 12:00 UTC (KILN_NOW) with no schedule due
# before 14:00, so nothing is due while it is measured: only the work of
# keeping N pipelines loaded is.
# Then starts kiln serve on 127.0.0.1 and prints: the load time (start to
# /healthz answering: the files are loaded before the loop serves; and the
# daemon's own figure; the slowest /healthz while the triggers' first
# looks run), GET /api/v1/pipelines's pages (all of them, the slowest,
# brief) and the overview's first page, resident
# memory (VmRSS, VmHWM) after the triggers' first checks, the CPU it uses
# while idle over SECONDS (utime + stime in /proc/PID/stat), and the time
# of a SIGHUP reload, unchanged and with a tenth of the files changed
# (until the daemon logs "N pipelines loaded in T ms").
# Targets (issue 20): resident memory < 200 MB, idle CPU 0 %.
# Every figure is measured twice (two daemons, one after the other).
# Usage: tests/bench/many-pipelines.sh [path/to/kiln] [pipelines] [seconds]
set -euo pipefail
kiln=$(realpath "${1:-$(dirname "$0")/../../build/kiln}")
total=${2:-10000}
secs=${3:-20}
dir=$(mktemp -d /tmp/kiln-many-bench.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null
      [ -n "${KEEP:-}" ] && echo "kept $dir" || rm -rf "$dir"' EXIT
cd "$dir"
mkdir -p p/data/incoming p/reports
/usr/bin/python3 - p "$total" <<'PY'
import os, sys
root, total = sys.argv[1], int(sys.argv[2])
# Hours 12 and 13 UTC are kept free (the clock starts at 12:00 UTC); with a
# zone, local hours 0-7 (UTC 4-11 in New York, 22-5 in Berlin).
hours = [h for h in range(24) if h not in (12, 13)]
zones = ["Europe/Lisbon", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]
for d in range(50):
    os.makedirs(f"{root}/data/incoming/d{d}", exist_ok=True)
with open(f"{root}/data/reference.csv", "w") as f:
    f.write("a,b\n" + "".join(f"{i % 7},{i % 5}\n" for i in range(200)))
with open(f"{root}/data/live.csv", "w") as f:
    f.write("a,b\n" + "".join(f"{i % 7},{i % 5}\n" for i in range(200)))
with open(f"{root}/reports/live.json", "w") as f:
    f.write('{"auc": 0.9}\n')
for i in range(total):
    m, h = i % 60, hours[i % len(hours)]
    shape = i % 8
    if shape == 0:
        sched = f'schedule: "{m} {h} * * *"'
    elif shape == 1:
        sched = f'schedule: "{m} {h} * * 1-5"'
    elif shape == 2:
        sched = ('schedule: {cron: "%d %d * * *", timezone: %s, '
                 'concurrency: forbid}' % (m, i % 8, zones[i % 4]))
    elif shape == 3:
        sched = f'schedule: "{m} 0-10/2 * * *"'
    elif shape == 4:
        sched = 'schedule: "@weekly"'
    elif shape == 5:
        sched = ('schedule: {cron: ["%d %d * * 1,3,5", "@monthly"], '
                 'max_active_runs: 1}' % (m, h))
    elif shape == 6:
        sched = f'schedule: "{m} {h} 1,15 * *"'
    else:
        sched = ""  # triggers only
    trig = i % 5
    if trig == 0:
        t = (f"triggers:\n  - data: {{path: data/incoming/d{i % 50}/, "
             "every: 1h}\ncooldown: 10m\n")
    elif trig == 1:
        t = ("triggers:\n  - drift: {reference: data/reference.csv, "
             "current: data/live.csv, threshold: 0.2, every: 1h}\n")
    elif trig == 2:
        t = ("triggers:\n  - metric: {file: reports/live.json, json: auc, "
             "below: 0.8, every: 1h}\n")
    elif trig == 3 and i % 50 == 3:
        t = "triggers:\n  - git: {branch: main, every: 1h}\n"
    elif trig == 3 and i >= 10:
        t = (f"triggers:\n  - metric: {{pipeline: p{i - 10:05d}, "
             "key: train.auc, below: 0.5, every: 1h}\n")
    else:
        t = ""
    if not sched and not t:
        sched = f'schedule: "{m} {h} * * 0"'
    n_steps = 3 + i % 3
    names = ["ingest", "train", "evaluate", "package", "deploy"][:n_steps]
    steps = []
    for k, s in enumerate(names):
        needs = f", needs: [{names[k - 1]}]" if k else ""
        steps.append(f'  {s}: {{run: "echo {s} {i}"{needs}}}')
    with open(f"{root}/p{i:05d}.yaml", "w") as f:
        f.write(f"pipeline: p{i:05d}\nparams: {{seed: {i}}}\n{sched}\n{t}"
                "steps:\n" + "\n".join(steps) + "\n")
PY
git -C p init -q -b main
git -C p -c user.name=bench -c user.email=bench@localhost add .
git -C p -c user.name=bench -c user.email=bench@localhost commit -qm files
"$kiln" validate p/p00000.yaml p/p00001.yaml p/p00002.yaml p/p00003.yaml \
    > /dev/null
echo "pipelines: $(ls p/*.yaml | wc -l) files in $dir/p"
hz=$(getconf CLK_TCK)
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
cpu() { awk '{print $14 + $15}' /proc/$pid/stat; }
rss() { awk -v k="$1:" '$1 == k {printf "%d MB", $2 / 1024}' \
            /proc/$pid/status; }
loaded_in() { # the daemon's last "N pipelines loaded in T ms"
    grep -o "pipelines\? loaded in [0-9]* ms" serve.log | tail -1 |
        grep -o "[0-9]* ms"
}
wait_reload() { # until the reload count in the log reaches $1
    local n=0
    while [ "$(grep -c 'SIGHUP: reloading' serve.log)" -lt "$1" ] ||
          [ "$(grep -c 'pipelines\? loaded in' serve.log)" -le "$1" ]; do
        sleep 0.01; n=$((n + 1))
        [ $n -lt 30000 ] || { echo "no reload seen" >&2; exit 1; }
    done
}
# The triggers' first checks (on the thread pool; again for the pipelines
# a reload changed) are done when the checks recorded stop growing.
# Meanwhile /healthz is asked every 0.1 s: its slowest answer (ms) in
# $slowest (the loop serves between the first looks, spread out).
settle() {
    last=-1 now=0 slowest=0
    local t
    while [ "$now" != "$last" ]; do
        last=$now
        for _ in $(seq 20); do
            t=$(curl -s -o /dev/null -w '%{time_total}' "${url}healthz")
            slowest=$(awk -v a="$slowest" -v b="$t" \
                'BEGIN { b *= 1000; print (b > a) ? int(b) : a }')
            sleep 0.1
        done
        now=$(sqlite3 st/kiln.db "select count(*) from trigger_checks")
    done
}
for round in 1 2; do
    rm -rf st serve.log
    t0=$(date +%s%N)
    KILN_NOW=2026-06-01T12:00:00Z "$kiln" serve --state st \
        --listen 127.0.0.1:0 --jobs 2 p > serve.log 2>&1 &
    pid=$!
    until [ -s st/web.url ] && curl -sf "$(cat st/web.url)healthz" \
          > /dev/null; do
        kill -0 $pid || { cat serve.log; exit 1; }
        sleep 0.01
    done
    load=$(ms $t0)
    url=$(cat st/web.url)
    settle
    # Asked once the first looks are done (they commit on the loop).
    # Every pipeline, described, a page of 1,000 at a time (the most the
    # daemon describes in one answer): the count, the time of the walk
    # and of its slowest page (how long one request holds the loop).
    n=0 next=0 api=0 slowest_page=0
    while [ -n "$next" ]; do
        t1=$(date +%s%N)
        curl -sf "${url}api/v1/pipelines?limit=1000&offset=$next" > page.json
        t=$(ms $t1)
        api=$((api + t))
        [ $t -gt $slowest_page ] && slowest_page=$t
        read -r got next < <(/usr/bin/python3 -c 'import json,sys
d = json.load(open("page.json"))
print(len(d["pipelines"]), d.get("next_offset", ""))')
        n=$((n + got))
    done
    t1=$(date +%s%N)
    brief=$(curl -sf "${url}api/v1/pipelines?brief=1&limit=100000" |
        /usr/bin/python3 -c \
        'import json,sys; print(len(json.load(sys.stdin)["pipelines"]))')
    brief_ms=$(ms $t1)
    t1=$(date +%s%N)
    curl -sf "${url}api/v1/pipelines?sort=concern&limit=100" > /dev/null
    page=$(ms $t1)
    c0=$(cpu); sleep "$secs"; c1=$(cpu)
    idle=$(awk -v t=$((c1 - c0)) -v hz="$hz" -v s="$secs" \
               'BEGIN {printf "%.2f %% (%d ticks of 1/%d s in %d s)",
                       100 * t / hz / s, t, hz, s}')
    echo "round $round:"
    echo "  load: $load ms to /healthz ($(loaded_in) by the daemon's log)"
    echo "  slowest /healthz during the triggers' first looks: $slowest ms"
    echo "  GET /api/v1/pipelines, every page of 1,000: $n pipelines in" \
         "$api ms, the slowest page $slowest_page ms"
    echo "  GET /api/v1/pipelines?brief=1 (names, files, counts): $brief" \
         "in $brief_ms ms"
    echo "  GET /api/v1/pipelines?sort=concern&limit=100 (the overview):" \
         "$page ms"
    echo "  trigger checks at start: $now"
    echo "  resident: $(rss VmRSS) now, $(rss VmHWM) peak (target < 200 MB)"
    echo "  idle CPU: $idle (target 0 %)"
    t2=$(date +%s%N); kill -HUP $pid; wait_reload 1
    echo "  SIGHUP reload, nothing changed: $(ms $t2) ms" \
         "($(loaded_in) by the daemon's log)"
    # A tenth of the files change (another command in their first step).
    for f in p/p*[0-9]0.yaml; do
        sed -i "0,/echo ingest/s//echo ingest again $round/" "$f"
    done
    t2=$(date +%s%N); kill -HUP $pid; wait_reload 2
    echo "  SIGHUP reload, $(ls p/p*[0-9]0.yaml | wc -l) files changed:" \
         "$(ms $t2) ms ($(loaded_in) by the daemon's log)"
    settle
    c0=$(cpu); sleep "$secs"; c1=$(cpu)
    echo "  after the reloads: resident $(rss VmRSS), idle CPU" \
         "$(awk -v t=$((c1 - c0)) -v hz="$hz" -v s="$secs" \
                'BEGIN {printf "%.2f %%", 100 * t / hz / s}')"
    echo "  error lines in the log: $(grep -c error serve.log || true)"
    kill -TERM $pid; wait $pid || true; pid=
done
