# Steps really run in parallel, up to --jobs at once.
. "$(dirname "$0")/lib.sh"
pipeline par <<'YAML'
pipeline: par
steps:
  a: {run: sleep 1}
  b: {run: sleep 1}
  join: {needs: [a, b], run: "true"}
YAML
t0=$(now_ms)
kiln_rc run "$T/par.yaml" --jobs 2
t1=$(now_ms)
eq "exit status" 0 "$rc"
elapsed=$((t1 - t0))
check "two 1 s sleeps with --jobs 2 take well under 2 s ($elapsed ms)" \
    test "$elapsed" -lt 1800
eq "run succeeded" succeeded "$(q 'select status from runs where id=1')"
eq "all steps succeeded" "3" \
    "$(q "select count(*) from run_steps where run_id=1 and status='succeeded'")"
# a and b overlapped in time.
overlap=$(q "select (select max(started_at) from executions where step in ('a','b')) < (select min(finished_at) from executions where step in ('a','b'))")
eq "a and b overlapped" 1 "$overlap"
# join started after both ended.
eq "join after its needs" 1 "$(q "select (select started_at from executions where step='join') >= (select max(finished_at) from executions where step in ('a','b'))")"

t0=$(now_ms)
kiln_rc run "$T/par.yaml" --jobs 1
t1=$(now_ms)
eq "exit status (jobs 1)" 0 "$rc"
check "--jobs 1 serialises ($((t1 - t0)) ms)" test $((t1 - t0)) -ge 2000

# A pool limits its class of steps within --jobs.
pipeline pools <<'YAML'
pipeline: pools
steps:
  g1: {run: sleep 0.5, pool: gpu}
  g2: {run: sleep 0.5, pool: gpu}
  c1: {run: sleep 0.5}
YAML
t0=$(now_ms)
kiln_rc run "$T/pools.yaml" --jobs 3 --pool gpu=1
t1=$(now_ms)
eq "pool run" 0 "$rc"
check "gpu steps one at a time ($((t1 - t0)) ms)" test $((t1 - t0)) -ge 1000
eq "g1 and g2 never overlapped" 1 "$(q "select (select e.finished_at from executions e join runs r on r.id=e.run_id where r.pipeline='pools' and step='g1') <= (select e.started_at from executions e join runs r on r.id=e.run_id where r.pipeline='pools' and step='g2') or (select e.finished_at from executions e join runs r on r.id=e.run_id where r.pipeline='pools' and step='g2') <= (select e.started_at from executions e join runs r on r.id=e.run_id where r.pipeline='pools' and step='g1')")"
eq "c1 ran beside them" 1 "$(q "select (select e.started_at from executions e join runs r on r.id=e.run_id where r.pipeline='pools' and step='c1') < (select min(e.finished_at) from executions e join runs r on r.id=e.run_id where r.pipeline='pools')")"
kiln_rc run "$T/pools.yaml" --pool gpu=zero
eq "bad --pool" 2 "$rc"
finish
