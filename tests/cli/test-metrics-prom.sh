# GET /metrics of a real kiln serve on 127.0.0.1, checked by the real
# promtool (Debian's prometheus package; skipped without it): no warning,
# counters that match what ran and never go down across a restart, a
# cumulative step duration histogram, each pipeline's last success; the
# example alert rules of contrib/prometheus checked and unit-tested.
. "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || { echo "promtool not found (apt-get install prometheus): skipped"; exit 77; }
mkdir -p "$T/p"
cd "$T"
cat > p/ml.yaml <<'YAML'
pipeline: ml
params: {acc: "0.95"}
steps:
  prep:
    run: cp src.txt prepared.txt
    inputs: [src.txt]
    outputs: [prepared.txt]
    params: []
  train:
    needs: [prep]
    run: |
      sleep 0.6
      printf '{"acc": %s}' "$KILN_PARAM_ACC" > "$KILN_METRICS"
    cache: false
  deploy:
    needs: [train]
    when: metrics.train.acc >= 0.9
    run: "true"
    cache: false
  announce:
    needs: [deploy]
    run: "true"
    cache: false
YAML
cat > p/bad.yaml <<'YAML'
pipeline: bad
steps:
  fail: {run: "exit 3"}
YAML
echo data > p/src.txt

get() { body=$(curl -s -D "$T/h" -o - -w '\n%{http_code}' "$@"); code=${body##*$'\n'}; body=${body%$'\n'*}; }
# value NAME{LABELS}: the sample's value in $body ("" when absent).
value() { printf '%s\n' "$body" | awk -v k="$1" '$1 == k {print $2}'; }
# promcheck WHAT: promtool check metrics on $body: exit 0, and silent.
promcheck() {
    local said
    said=$(printf '%s\n' "$body" | promtool check metrics 2>&1)
    eq "$1: promtool check metrics" "0 " "$? $said"
}

serve serve.log p
wait_for "the web URL" 10 '[ -n "$(web_url)" ]'
U=$(web_url)
kiln_rc trigger ml --wait; eq "ml: succeeds, deploys" 0 "$rc"
kiln_rc trigger ml --wait --param acc=0.5; eq "ml gated: still a success" 0 "$rc"
kiln_rc trigger bad --wait; eq "bad: fails" 1 "$rc"
eq "the runs as meant" "1 ml succeeded 2 ml succeeded 3 bad failed" \
    "$(q "select id, pipeline, status from runs order by id" | tr '|\n' '  ' | sed 's/ $//')"
eq "run 2: prep cached, deploy gated, announce skipped" "announce|skipped deploy|gated prep|succeeded train|succeeded" \
    "$(q "select step || '|' || status from run_steps where run_id = 2 order by step" | tr '\n' ' ' | sed 's/ $//')"
eq "run 2: prep's attempt cached" "cached" "$(q "select status from executions where run_id = 2 and step = 'prep'")"

get "${U}metrics"
eq "/metrics: 200" 200 "$code"
contains "the text format's type" "content-type: text/plain; version=0.0.4; charset=utf-8" "$(tr -d '\r' < "$T/h")"
promcheck "first answer"
printf '%s\n' "$body" > metrics-1.txt
check "no metric in milliseconds" test -z "$(printf '%s\n' "$body" | grep -E '^[a-z_]*_ms[{ ]')"
# Every metric has HELP and TYPE (promtool says so too).
for m in $(printf '%s\n' "$body" | grep -v '^#' | sed -E 's/[{ ].*//; s/_(bucket|sum|count)$//' | sort -u); do
    check "HELP for $m" grep -q "^# HELP $m " metrics-1.txt
    check "TYPE for $m" grep -q "^# TYPE $m " metrics-1.txt
done

# Counters, against what ran.
eq "runs: ml succeeded 2, failed 0, cancelled 0; bad failed 1" "2 0 0 1 0" \
    "$(value 'kiln_runs_total{pipeline="ml",status="succeeded"}') $(value 'kiln_runs_total{pipeline="ml",status="failed"}') $(value 'kiln_runs_total{pipeline="ml",status="cancelled"}') $(value 'kiln_runs_total{pipeline="bad",status="failed"}') $(value 'kiln_runs_total{pipeline="bad",status="succeeded"}')"
# ml: prep, train, deploy, announce then train (prep cached; deploy gated
# and announce skipped: no attempt); bad: one failed attempt.
eq "attempts: ml 5 succeeded and 1 cached, bad 1 failed" "5 1 0 1" \
    "$(value 'kiln_step_attempts_total{pipeline="ml",status="succeeded"}') $(value 'kiln_step_attempts_total{pipeline="ml",status="cached"}') $(value 'kiln_step_attempts_total{pipeline="ml",status="failed"}') $(value 'kiln_step_attempts_total{pipeline="bad",status="failed"}')"
eq "attempts as the record has them" "$(q "select count(*) from executions e join runs r on r.id = e.run_id where r.pipeline = 'ml' and e.status = 'succeeded'")" \
    "$(value 'kiln_step_attempts_total{pipeline="ml",status="succeeded"}')"
eq "trigger checks: the manual requests, fired" "2 1 0" \
    "$(value 'kiln_trigger_checks_total{pipeline="ml",trigger="manual",status="fired"}') $(value 'kiln_trigger_checks_total{pipeline="bad",trigger="manual",status="fired"}') $(value 'kiln_trigger_checks_total{pipeline="ml",trigger="manual",status="error"}')"

# The histogram: cumulative buckets in order, +Inf equal to _count; the
# cached attempt is not in it; the two trainings (0.6 s) are above 0.5 s.
hist() {
    printf '%s\n' "$body" | awk -v p="$1" '
        index($1, "kiln_step_duration_seconds_bucket{pipeline=\"" p "\",le=\"") == 1 {
            le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le)
            if (n && (le != "+Inf" && le + 0 <= prev_le || $2 + 0 < prev)) bad = bad " " le
            prev = $2; prev_le = le + 0; n++; last = le; inf = $2 }
        $1 == "kiln_step_duration_seconds_count{pipeline=\"" p "\"}" { count = $2 }
        $1 == "kiln_step_duration_seconds_sum{pipeline=\"" p "\"}" { sum = $2 }
        END { printf "%d buckets, last %s = %s, count %s, sum>=1.2 %s, not cumulative:%s\n", n, last, inf, count, (sum >= 1.2 ? "yes" : "no"), bad }'
}
eq "ml's histogram" "14 buckets, last +Inf = 5, count 5, sum>=1.2 yes, not cumulative:" "$(hist ml)"
eq "bad's histogram" "14 buckets, last +Inf = 1, count 1, sum>=1.2 no, not cumulative:" "$(hist bad)"
eq "ml: 3 attempts within 0.5 s, 5 within 5 s" "3 5" \
    "$(value 'kiln_step_duration_seconds_bucket{pipeline="ml",le="0.5"}') $(value 'kiln_step_duration_seconds_bucket{pipeline="ml",le="5"}')"

# Last success: run 2's end, in seconds; none for bad.
eq "ml's last success" "$(q "select printf('%.3f', finished_at / 1000.0) from runs where id = 2")" \
    "$(value 'kiln_pipeline_last_success_timestamp_seconds{pipeline="ml"}')"
eq "bad has never succeeded" "" "$(value 'kiln_pipeline_last_success_timestamp_seconds{pipeline="bad"}')"
eq "gauges, in seconds" "0 0 0 0" \
    "$(value kiln_queue_depth) $(value kiln_active_runs) $(value kiln_running_steps) $(value kiln_scheduler_lag_seconds)"

# A step running now is a gauge.
cat > p/slow.yaml <<'YAML'
pipeline: slow
steps:
  wait: {run: "while [ ! -e go ]; do sleep 0.05; done", cache: false}
YAML
kill -HUP "$daemon"
wait_for "slow loaded" 10 'curl -sf "${U}api/v1/pipelines/slow"'
kiln_rc trigger slow; eq "slow started" 0 "$rc"
wait_for "slow running" 10 '[ "$(q "select count(*) from executions e join runs r on r.id = e.run_id where r.pipeline = '"'slow'"' and e.status = '"'running'"'")" = 1 ]'
get "${U}metrics"
eq "a run in flight: active runs 1, running steps 1" "1 1" "$(value kiln_active_runs) $(value kiln_running_steps)"
eq "and not counted as finished" "" "$(value 'kiln_runs_total{pipeline="slow",status="succeeded"}')"
promcheck "with a run in flight"
# A run of another process (kiln run) finishing meanwhile is counted.
kiln_rc run p/bad.yaml; eq "kiln run bad: fails" 1 "$rc"
get "${U}metrics"
eq "kiln run's run counted" 2 "$(value 'kiln_runs_total{pipeline="bad",status="failed"}')"
touch p/go
wait_for "slow done" 10 '[ "$(q "select status from runs where pipeline = '"'slow'"'")" = succeeded ]'
get "${U}metrics"
eq "slow counted once it ends" "1 1 0" \
    "$(value 'kiln_runs_total{pipeline="slow",status="succeeded"}') $(value 'kiln_step_duration_seconds_count{pipeline="slow"}') $(value kiln_running_steps)"
printf '%s\n' "$body" > metrics-2.txt

# A restart: the same counts, read again from the record.
stop "$daemon"
serve serve.log p
wait_for "the web URL again" 10 '[ -n "$(web_url)" ] && curl -sf "$(web_url)healthz"'
U=$(web_url)
get "${U}metrics"
promcheck "after a restart"
printf '%s\n' "$body" > metrics-3.txt
# not_lower OLD NEW: every counter and histogram series of OLD is in NEW
# with a value at least as high; prints those that are not.
not_lower() {
    awk 'NR == FNR { if ($1 ~ /(_total|_bucket|_count|_sum)[{]/) old[$1] = $2; next }
         { new[$1] = $2 }
         END { for (k in old) if (!(k in new) || new[k] + 0 < old[k] + 0) print k, old[k], "->", new[k] }' "$1" "$2"
}
eq "no counter went down across the restart" "" "$(not_lower metrics-2.txt metrics-3.txt)"
eq "the same counters after the restart" "$(grep -E '_total|_bucket|_count|_sum' metrics-2.txt)" "$(grep -E '_total|_bucket|_count|_sum' metrics-3.txt)"
kiln_rc trigger ml --wait; eq "ml again after the restart" 0 "$rc"
get "${U}metrics"
printf '%s\n' "$body" > metrics-4.txt
eq "counted on from the record: ml succeeded 3" 3 "$(value 'kiln_runs_total{pipeline="ml",status="succeeded"}')"
eq "no counter went down since" "" "$(not_lower metrics-3.txt metrics-4.txt)"
eq "ml's last success moved to run $(q "select max(id) from runs")" \
    "$(q "select printf('%.3f', finished_at / 1000.0) from runs where id = (select max(id) from runs)")" \
    "$(value 'kiln_pipeline_last_success_timestamp_seconds{pipeline="ml"}')"
promcheck "after more runs"

# The first count reads every row of the record once; a small record
# (above: at once) on the loop, a big one off it, from the first GET
# /metrics: with 2,000,000 trigger checks added it takes a while, and
# meanwhile /metrics answers 503 with Retry-After and /healthz at once;
# then the counts are whole. (On the loop it held every request: 9 s on
# a million runs.)
stop "$daemon"
sqlite3 "$KILN_STATE/kiln.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL
    SELECT i + 1 FROM n WHERE i < 2000000) INSERT INTO trigger_checks
    (pipeline, trigger, target, checked_at, status) SELECT 'ml', 'data',
    'p', 1000 + i, 'quiet' FROM n"
quiet=$(q "select count(*) from trigger_checks where pipeline = 'ml' and trigger = 'data' and status = 'quiet'")
rm -f "$KILN_STATE/web.url"
serve serve.log p
wait_for "the web URL, a third time" 10 '[ -n "$(web_url)" ] && curl -s -o /dev/null "$(web_url)healthz"'
U=$(web_url)
get "${U}metrics"
eq "/metrics while the first count runs: 503" 503 "$code"
contains "with Retry-After" "retry-after: 2" "$(tr -d '\r' < "$T/h" | tr A-Z a-z)"
contains "saying why" "counting the record" "$body"
hz=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "${U}healthz")
eq "/healthz meanwhile: 200 within 0.5 s" "200 1" \
    "$(echo "$hz" | awk '{print $1, ($2 < 0.5)}')"
check "the count still runs (the checks above came during it)" \
    test "$(curl -s -o /dev/null -w '%{http_code}' "${U}metrics")" = 503
wait_for "/metrics counted" 60 'curl -sf -o /dev/null "${U}metrics"'
get "${U}metrics"
eq "every trigger check counted" "$quiet" \
    "$(value 'kiln_trigger_checks_total{pipeline="ml",trigger="data",status="quiet"}')"
promcheck "after the first count off the loop"

# The example alert rules (the README's).
said=$(promtool check rules "$KILN_SRC/contrib/prometheus/alerts.yml" 2>&1)
eq "promtool check rules contrib/prometheus/alerts.yml" 0 "$?"
contains "three rules" "SUCCESS: 3 rules found" "$said"
said=$(cd "$KILN_SRC/contrib/prometheus" && promtool test rules alerts.test.yml 2>&1)
eq "promtool test rules: the alerts fire as meant" "0" "$?"
contains "and says so" "SUCCESS" "$said"
stop "$daemon"
finish
