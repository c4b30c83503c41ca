#!/usr/bin/env bash
# tests/bench/bigdb.sh: kiln's read commands and the runs API on a big
# database.
#
# Makes the schema by running a 10-step pipeline once with kiln (so the
# migrations make it), then fills it directly in SQLite (recursive CTEs in
# the sqlite3 CLI, as tests/bench/lineage.sh copies runs in Python) with
# RUNS runs of 20 pipelines, 10 steps and 10 step executions each (1 in
# 50 runs failed at its last step), as a year of runs would leave them:
# run_steps, executions (with their cache keys and key documents), the
# params of each run, 4 metrics a run, 6 artifacts a run with the input
# and output events linking them to executions (lineage), what the cache
# keeps of them, a model version every 20th run (a model a pipeline), its
# aliases (staging on each version, production on every 10th), the audit
# rows of starts and alias moves, and the fires of scheduled runs.
# Then times `kiln runs`, `kiln show`, `kiln lineage`, `kiln metrics`,
# `kiln models` (the newest 20 versions of each model, or of its history;
# --json: with each version's metrics) (median of 5 of the whole command,
# process start
# included) and GET /api/v1/runs?limit=50 under wrk (2 threads, 50
# connections, as tests/bench/web.sh), and prints the database bytes per
# run. Targets (issue 20): each command < 50 ms; the API >= 10,000 req/s
# with p99 < 20 ms.
# Usage: tests/bench/bigdb.sh [path/to/kiln] [runs] [seconds]
#   runs: 1000000 (the issue's size: 10,000,000 executions), or fewer for
#   a quick check (100000 takes about a minute).
# KEEP=1 keeps the directory made (its path is printed); REUSE=DIR times
# the database of such a directory again instead of making one.
set -euo pipefail
kiln=$(realpath "${1:-$(dirname "$0")/../../build/kiln}")
total=${2:-1000000}
secs=${3:-10}
command -v sqlite3 >/dev/null ||
    { echo "bigdb.sh needs the sqlite3 CLI (apt-get install sqlite3)" >&2
      exit 2; }
pid=
if [ -n "${REUSE:-}" ]; then
    dir=$REUSE KEEP=1
else
    dir=$(mktemp -d /tmp/kiln-bigdb-bench.XXXXXX)
fi
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null
      [ -n "${KEEP:-}" ] && echo "kept $dir" || rm -rf "$dir"' EXIT
cd "$dir"
if [ -z "${REUSE:-}" ]; then
cat > p.yaml <<'YAML'
pipeline: pipe00
params: {seed: 1, lr: 0.1}
steps:
  ingest: {kind: ingest, run: "echo $KILN_RUN_ID > raw.csv", outputs: [raw.csv]}
  validate:
    {kind: validate, needs: [ingest], run: "cp raw.csv clean.csv",
     inputs: [raw.csv], outputs: [clean.csv]}
  features:
    {needs: [validate], run: "cp clean.csv feat.csv", inputs: [clean.csv],
     outputs: [feat.csv]}
  split:
    {needs: [features], run: "cp feat.csv train.csv", inputs: [feat.csv],
     outputs: [train.csv]}
  train:
    kind: train
    needs: [split]
    run: "cp train.csv model.bin; echo '{\"loss\": 0.3}' > $KILN_METRICS"
    inputs: [train.csv]
    outputs: [model.bin]
    register: {model: model00, path: model.bin, alias: staging}
  evaluate:
    kind: evaluate
    needs: [train]
    run: "echo '{\"accuracy\": 0.93, \"auc\": 0.91, \"f1\": 0.9}' > report.json"
    inputs: [model.bin]
    metrics: report.json
  check: {needs: [evaluate], run: "true"}
  package:
    {needs: [check], run: "cp model.bin pkg.bin", inputs: [model.bin],
     outputs: [pkg.bin]}
  publish:
    {kind: deploy, needs: [package], when: "metrics.evaluate.auc >= 0.8",
     run: "true"}
  notify: {needs: [publish], run: "true"}
YAML
"$kiln" run p.yaml --state st > /dev/null 2>&1
t0=$(date +%s)
# The one real run is replaced by generated ones: its rows show what a run
# leaves, the schema is the migrations'.
sqlite3 -bail st/kiln.db > /dev/null <<SQL
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -1000000;
PRAGMA temp_store = MEMORY;
BEGIN;
DELETE FROM events; DELETE FROM metrics; DELETE FROM cache_outputs;
DELETE FROM model_aliases; DELETE FROM models; DELETE FROM artifacts;
DELETE FROM executions; DELETE FROM run_steps; DELETE FROM runs;
DELETE FROM audit; DELETE FROM pipelines; DELETE FROM fires;
COMMIT;
SQL
# Indexes other than the tables' own keys are made again after the rows
# (a sort instead of 10,000,000 random inserts), by the same statements.
sqlite3 -batch st/kiln.db "SELECT 'DROP INDEX ' || name || ';' FROM
    sqlite_master WHERE type = 'index' AND sql IS NOT NULL" > drop.sql
sqlite3 -batch st/kiln.db "SELECT sql || ';' FROM sqlite_master
    WHERE type = 'index' AND sql IS NOT NULL" > create.sql
sqlite3 -bail st/kiln.db > /dev/null <<SQL
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -1000000;
PRAGMA temp_store = MEMORY;
.read drop.sql
BEGIN;
CREATE TEMP TABLE steps (pos INTEGER PRIMARY KEY, name, kind, out INTEGER,
                         input INTEGER, file);
-- out: the artifact (0-5) the step makes; input: the one it reads.
INSERT INTO steps VALUES
    (0, 'ingest', 'ingest', 0, NULL, 'raw.csv'),
    (1, 'validate', 'validate', 1, 0, 'clean.csv'),
    (2, 'features', 'task', 2, 1, 'feat.csv'),
    (3, 'split', 'task', 3, 2, 'train.csv'),
    (4, 'train', 'train', 4, 3, 'model.bin'),
    (5, 'evaluate', 'evaluate', NULL, 4, NULL),
    (6, 'check', 'task', NULL, NULL, NULL),
    (7, 'package', 'task', 5, 4, 'pkg.bin'),
    (8, 'publish', 'deploy', NULL, NULL, NULL),
    (9, 'notify', 'task', NULL, NULL, NULL);
CREATE TEMP TABLE arts (k INTEGER PRIMARY KEY, file, type);
INSERT INTO arts VALUES (0, 'raw.csv', 'file'), (1, 'clean.csv', 'file'),
    (2, 'feat.csv', 'file'), (3, 'train.csv', 'file'),
    (4, 'model.bin', 'model'), (5, 'pkg.bin', 'file');
-- A run every 30 s, the newest a minute ago.
CREATE TEMP TABLE k AS SELECT $total AS n,
    (CAST(strftime('%s', 'now') AS INTEGER) - 60) * 1000 - $total * 30000
    AS t0;
INSERT INTO pipelines (name, file, hash, updated_at)
    WITH RECURSIVE p(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM p
                            WHERE i < 19)
    SELECT printf('pipe%02d', i), printf('/srv/ml/pipelines/pipe%02d.yaml', i),
           printf('%064x', 1000003 * (i + 1)), (SELECT t0 FROM k) FROM p;
INSERT INTO runs (id, pipeline, file, pipeline_hash, trigger, trigger_info,
                  status, reason, params, git_commit, git_branch, git_dirty,
                  workdir, owner_pid, created_at, started_at, finished_at,
                  owner_start, reproduces, started_by)
    WITH RECURSIVE r(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM r
                             WHERE id < (SELECT n FROM k))
    SELECT id, printf('pipe%02d', id % 20),
           printf('/srv/ml/pipelines/pipe%02d.yaml', id % 20),
           printf('%064x', 1000003 * (id % 20 + 1)),
           CASE WHEN id % 3 = 0 THEN 'schedule' ELSE 'manual' END,
           CASE WHEN id % 3 = 0 THEN printf('{"schedule":"*/10 * * * *",'
               || '"due":"%s","timezone":"UTC","lag_ms":%d}',
               strftime('%Y-%m-%dT%H:%M:%SZ', (t0 + id * 30000) / 1000,
                        'unixepoch'), id % 7) END,
           CASE WHEN id % 50 = 0 THEN 'failed' ELSE 'succeeded' END,
           CASE WHEN id % 50 = 0 THEN 'step notify failed (exit 1)' END,
           printf('{"seed":"%d","lr":"0.%02d","max_depth":"%d"}', id % 100,
                  1 + id % 20, 2 + id % 4),
           printf('%040x', id / 40 * 2654435761), 'main', 0, '/srv/ml',
           1000 + id % 30000, t0 + id * 30000, t0 + id * 30000 + 5,
           t0 + id * 30000 + 10100, 500000 + id,
           NULL, CASE WHEN id % 3 = 0 THEN 'scheduler' ELSE 'alice' END
    FROM r, k;
INSERT INTO run_steps (run_id, step, position, kind, status, attempts,
                       reason, started_at, finished_at, by_gate, gate)
    SELECT r.id, s.name, s.pos, s.kind,
           CASE WHEN r.status = 'failed' AND s.pos = 9 THEN 'failed'
                ELSE 'succeeded' END, 1,
           CASE WHEN r.status = 'failed' AND s.pos = 9 THEN 'exit 1' END,
           r.created_at + 10 + s.pos * 1000, r.created_at + 910 + s.pos * 1000,
           0,
           CASE WHEN s.pos = 8 THEN printf('{"when":"metrics.evaluate.auc >= '
               || '0.8","passed":true,"values":{"metrics.evaluate.auc":%.4f},'
               || '"trace":"metrics.evaluate.auc = %.4f","error":null}',
               0.85 + (r.id % 1000) / 10000.0, 0.85 + (r.id % 1000) / 10000.0)
           END
    FROM runs r, steps s ORDER BY r.id, s.name;
INSERT INTO executions (id, run_id, step, kind, attempt, status, exit_code,
                        signal, reason, started_at, finished_at, log_path,
                        executor, external_id, cache_key, cached_from,
                        key_doc, image, image_ref)
    SELECT (r.id - 1) * 10 + s.pos + 1, r.id, s.name, s.kind, 1,
           CASE WHEN r.status = 'failed' AND s.pos = 9 THEN 'failed'
                ELSE 'succeeded' END,
           CASE WHEN r.status = 'failed' AND s.pos = 9 THEN 1 ELSE 0 END,
           NULL, NULL,
           r.created_at + 12 + s.pos * 1000, r.created_at + 910 + s.pos * 1000,
           printf('/srv/ml/.kiln/logs/%d/%s.1.log', r.id, s.name), 'local',
           printf('%d:%d', 20000 + (r.id * 10 + s.pos) % 40000,
                  500000 + r.id),
           CASE WHEN s.out IS NOT NULL THEN lower(hex(randomblob(32))) END,
           NULL,
           printf('{"command":"run %s","env":{},"environment":{},'
                  || '"inputs":{%s},"kiln":3,"kind":"%s","metrics_file":%s,'
                  || '"models":{},"outputs":[%s],"params":{"lr":"0.%02d",'
                  || '"max_depth":"%d","seed":"%d"},"pipeline":"%s",'
                  || '"step":"%s","step_env":{},"validation":null,'
                  || '"workdir":"."}', s.name,
                  CASE WHEN s.input IS NOT NULL THEN printf('"%s":"%s"',
                      (SELECT file FROM arts WHERE k = s.input),
                      lower(hex(randomblob(32)))) ELSE '' END,
                  s.kind,
                  CASE WHEN s.pos = 5 THEN '"report.json"' ELSE 'null' END,
                  CASE WHEN s.file IS NOT NULL THEN '"' || s.file || '"'
                       ELSE '' END,
                  1 + r.id % 20, 2 + r.id % 4, r.id % 100, r.pipeline, s.name),
           NULL, NULL
    FROM runs r, steps s ORDER BY 1;
INSERT INTO artifacts (id, path, sha256, size, type, is_dir, created_at)
    SELECT (r.id - 1) * 6 + a.k + 1, '/srv/ml/data/' || a.file,
           lower(hex(randomblob(32))), 1000 + r.id % 100000, a.type, 0,
           r.created_at + 912 + (SELECT pos FROM steps WHERE out = a.k) * 1000
    FROM runs r, arts a ORDER BY 1;
INSERT INTO events (execution_id, artifact_id, type)
    SELECT (r.id - 1) * 10 + s.pos + 1, (r.id - 1) * 6 + s.out + 1, 'output'
    FROM runs r, steps s WHERE s.out IS NOT NULL
    UNION ALL
    SELECT (r.id - 1) * 10 + s.pos + 1, (r.id - 1) * 6 + s.input + 1, 'input'
    FROM runs r, steps s WHERE s.input IS NOT NULL
    ORDER BY 1, 2, 3;
INSERT INTO cache_outputs (execution_id, rel_path, sha256)
    SELECT e.execution_id, s.file, a.sha256
    FROM events e JOIN artifacts a ON a.id = e.artifact_id
    JOIN steps s ON s.pos = (e.execution_id - 1) % 10
    WHERE e.type = 'output';
INSERT INTO metrics (execution_id, run_id, step, key, value)
    SELECT (r.id - 1) * 10 + 5, r.id, 'train', 'loss',
           0.2 + (r.id % 977) / 10000.0 FROM runs r
    UNION ALL
    SELECT (r.id - 1) * 10 + 6, r.id, 'evaluate', m.key,
           m.base + (r.id % 1000) / 10000.0
    FROM runs r, (SELECT 'accuracy' AS key, 0.88 AS base UNION ALL
                  SELECT 'auc', 0.85 UNION ALL SELECT 'f1', 0.8) m
    ORDER BY 1, 4;
INSERT INTO models (name, version, artifact_id, run_id, execution_id,
                    git_commit, metrics, created_at)
    SELECT 'model' || substr(r.pipeline, 5),
           r.id / 400 + (r.id % 20 <> 0),
           (r.id - 1) * 6 + 5, r.id, (r.id - 1) * 10 + 5, r.git_commit,
           printf('{"train.loss":%.4f}', 0.2 + (r.id % 977) / 10000.0),
           r.created_at + 4912
    FROM runs r WHERE (r.id / 20) % 20 = 0
    ORDER BY 1, 2;
INSERT INTO model_aliases (name, alias, version, set_at, rolled_back)
    SELECT name, a.alias, version, created_at + 1, 0
    FROM models, (SELECT 'staging' AS alias UNION ALL SELECT 'production')
        a
    WHERE a.alias = 'staging' OR version % 10 = 1
    ORDER BY created_at, a.alias DESC;
INSERT INTO audit (at, actor, via, action, target, before, after, prev_hash,
                   hash)
    SELECT at, actor, via, action, target, before, after,
           printf('%064x', row_number() OVER (ORDER BY at) - 1),
           printf('%064x', row_number() OVER (ORDER BY at))
    FROM (SELECT created_at AS at, started_by AS actor, 'cli' AS via,
                 'run.started' AS action, 'run ' || id AS target,
                 NULL AS before,
                 printf('{"pipeline":"%s","trigger":"%s"}', pipeline,
                        trigger) AS after
          FROM runs
          UNION ALL
          SELECT set_at, 'run ' || (SELECT run_id FROM models m WHERE
                 m.name = x.name AND m.version = x.version), 'cli',
                 'alias.moved', 'model ' || name || ' ' || alias, NULL,
                 printf('{"version":%d}', version)
          FROM model_aliases x)
    ORDER BY at;
INSERT INTO fires (pipeline, schedule, due_at, status, reason, run_id,
                   recorded_at)
    SELECT pipeline, '*/10 * * * *', created_at, 'started', NULL, id,
           created_at + 2 FROM runs WHERE trigger = 'schedule';
COMMIT;
.read create.sql
ANALYZE;
PRAGMA journal_mode = WAL;
SQL
fi
runs=$(sqlite3 st/kiln.db "select count(*) from runs")
execs=$(sqlite3 st/kiln.db "select max(id) from executions")
# Settle the file as kiln leaves it (its checkpoint, -wal and -shm).
"$kiln" runs --state st --limit 1 > /dev/null
bytes=$(($(stat -c %s st/kiln.db) + $(stat -c %s st/kiln.db-wal 2>/dev/null ||
                                       echo 0)))
echo "database: $runs runs, $execs step executions" \
     "${t0:+made in $(($(date +%s) - t0)) s}"
echo "database: $bytes bytes, $((bytes / runs)) bytes per run"
# The indexes of schema 18 (kiln makes them), dropped with PROPOSED=0 to
# measure without them: the model versions of an artifact (each node of
# kiln lineage), a model's alias moves in the audit trail (kiln models
# history; GET /api/v1/models).
if [ "${PROPOSED:-1}" = 0 ]; then
    sqlite3 st/kiln.db "DROP INDEX IF EXISTS models_by_artifact;
                        DROP INDEX IF EXISTS audit_by_target"
    echo "indexes models_by_artifact and audit_by_target dropped (PROPOSED=0)"
fi

last=$runs
failed=$(sqlite3 st/kiln.db "select max(id) from runs where status =
    'failed'")
model=$(sqlite3 st/kiln.db "select max(id) from artifacts where type =
    'model'")
raw=$(sqlite3 st/kiln.db "select max(id) from artifacts where path like
    '%raw.csv'")
# Median of 5 runs of the whole command, in ms.
timeit() {
    local t0 t1 ts=()
    for _ in 1 2 3 4 5; do
        t0=$(date +%s%N)
        "$@" > /dev/null || { echo "failed: $*" >&2; echo 99999; return; }
        t1=$(date +%s%N)
        ts+=($(((t1 - t0) / 1000000)))
    done
    printf '%s\n' "${ts[@]}" | sort -n | sed -n 3p
}
row() {
    local name=$1; shift
    local ms; ms=$(timeit "$@")
    printf '%-36s %5d ms  (target < 50 ms)%s\n' "$name" "$ms" \
        "$([ "$ms" -lt 50 ] || echo '  MISSED')"
}
s="--state st"
row "kiln runs" "$kiln" runs $s
row "kiln runs --limit 50" "$kiln" runs --limit 50 $s
row "kiln runs --pipeline pipe07" "$kiln" runs --pipeline pipe07 $s
row "kiln runs --status failed" "$kiln" runs --status failed $s
row "kiln show $last" "$kiln" show "$last" $s
row "kiln show $failed (failed)" "$kiln" show "$failed" $s
row "kiln show 1 (oldest)" "$kiln" show 1 $s
row "kiln show $last --json" "$kiln" show "$last" --json $s
row "kiln lineage $model (model, up)" "$kiln" lineage "$model" $s
row "kiln lineage $raw --down (raw)" "$kiln" lineage "$raw" --down $s
row "kiln lineage model07@production" "$kiln" lineage model07@production $s
row "kiln metrics" "$kiln" metrics $s
row "kiln metrics --pipeline pipe07" "$kiln" metrics --pipeline pipe07 $s
row "kiln metrics --key evaluate.auc" "$kiln" metrics --key evaluate.auc $s
row "kiln models" "$kiln" models $s
row "kiln models model07" "$kiln" models model07 $s
row "kiln models --json" "$kiln" models --json $s
row "kiln models history model07" "$kiln" models history model07 $s
echo "(each the median of 5 runs of the whole kiln command, process start" \
     "included)"
# Retention's decisions for a pass that would delete the oldest 1 % of
# each pipeline's runs: which are over the limit, then, for each, whether
# a run that stays read or reused its outputs (kiln gc --runs --dry-run:
# nothing changes). No target; kiln serve makes them on a thread.
per=$((runs / 20))
t0=$(date +%s%N)
gc=$("$kiln" gc --runs --dry-run --keep-runs $((per - per / 100)) $s 2>/dev/null |
     grep '^would delete [0-9]* run')
echo "kiln gc --runs --dry-run: $(( ($(date +%s%N) - t0) / 1000000 )) ms: $gc"

# wrk comes from Debian's wrk: installed when missing and run as root.
if ! command -v wrk >/dev/null && [ "$(id -u)" = 0 ] &&
   command -v apt-get >/dev/null; then
    apt-get install -y -qq wrk >/dev/null 2>&1 || true
fi
command -v wrk >/dev/null ||
    { echo "API: not measured, wrk is missing (apt-get install wrk)"; exit 0; }
"$kiln" serve --state st --listen 127.0.0.1:0 --jobs 2 p.yaml \
    > serve.log 2>&1 &
pid=$!
for _ in $(seq 300); do [ -s st/web.url ] && break; sleep 0.1; done
url=$(cat st/web.url)
curl -sf "${url}api/v1/runs?limit=50" > /dev/null
wrk -t2 -c50 -d"${secs}s" --latency "${url}api/v1/runs?limit=50" > wrk.txt
kill -TERM $pid; wait $pid || true; pid=
rps=$(awk '/Requests\/sec/ {print $2}' wrk.txt)
p99=$(awk '$1 == "99%" {print $2}' wrk.txt)
printf 'GET /api/v1/runs?limit=50: %s req/s (target >= 10,000), p99 %s' \
    "$rps" "$p99"
echo " (target < 20 ms)"
grep -E "^ +(Latency|50%|90%) " wrk.txt | sed 's/^/wrk: /'
