# The CLI around runs: help, version, validate, dag, runs, show, logs.
. "$(dirname "$0")/lib.sh"
ex=$KILN_SRC/examples/hello/pipeline.yaml
kiln_rc --help; eq "--help" 0 "$rc"
for cmd in run validate dag runs show logs; do
    contains "--help lists $cmd" "  $cmd" "$out"
done
contains "--help documents exit codes" "3  kiln itself could not work" "$out"
kiln_rc --version; eq "--version" 0 "$rc"
contains "version text" "kiln 0." "$out"
kiln_rc run --help; eq "run --help" 0 "$rc"
contains "run --help lists --param" "--param NAME=VALUE" "$out"

kiln_rc validate "$ex"; eq "validate ok" 0 "$rc"
contains "validate says ok" "ok (pipeline \"hello\", 3 steps)" "$out"
pipeline two <<'YAML'
pipeline: two
steps:
  a: {run: "true", retries: lots}
YAML
pipeline mars <<'YAML'
pipeline: mars
steps:
  b: {run: "true", executor: mars}
YAML
kiln_rc validate "$ex" "$T/two.yaml" "$T/mars.yaml"; eq "validate errors" 2 "$rc"
contains "wrong type" "two.yaml:3:29: error: retries: expected an integer >= 0, got \"lots\"" "$err"
contains "unknown executor" 'mars.yaml:3:3: error: step "b": unknown executor "mars"' "$err"
contains "valid file still ok" "pipeline.yaml: ok" "$out"

kiln_rc dag "$ex"; eq "dag" 0 "$rc"
eq "dag text" "pipeline hello (3 steps, in the order they can run)
  ingest               ingest   
  train                train     <- ingest
  evaluate             evaluate  <- train" "$out"
kiln_rc dag --format dot "$ex"
contains "dot edge" '"ingest" -> "train";' "$out"
kiln_rc dag --format svg "$ex"; eq "bad format" 2 "$rc"

cp -r "$KILN_SRC/examples/hello" "$T/hello"
kiln_rc run "$T/hello/pipeline.yaml" --param count=50 --json
eq "run" 0 "$rc"
eq "json summary" "succeeded 3 50" "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["status"], len(r["steps"]), r["params"]["count"])')"
kiln_rc runs; eq "runs" 0 "$rc"
contains "runs table" "hello" "$out"
kiln_rc runs --json --pipeline hello --limit 1
eq "runs json" "1 1" "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); print(len(r), r[0]["id"])')"
kiln_rc show 1; eq "show" 0 "$rc"
contains "show steps" "evaluate" "$out"
contains "show params" "count=50" "$out"
kiln_rc logs 1 ingest; eq "logs" 0 "$rc"
eq "log text" "wrote 50 numbers" "$out"
kiln_rc logs 1 nostep; eq "logs unknown step" 2 "$rc"

# kiln cron next: the daemon's own code, for operators.
kiln_rc cron next '30 1 * * *' --tz Europe/Lisbon --after 2026-03-28T12:00:00Z --count 2
eq "cron next over a DST jump" "2026-03-29T02:00:00+01:00
2026-03-30T01:30:00+01:00" "$out"
kiln_rc cron next '*/20 * * * *' --after 2026-01-01T00:00:00+01:00 --count 3
eq "cron next in UTC" "2025-12-31T23:20:00Z
2025-12-31T23:40:00Z
2026-01-01T00:00:00Z" "$out"
kiln_rc cron next '0 24 * * *'
eq "invalid cron" 2 "$rc"
contains "names the field" "hour: 24 is out of range 0-23" "$err"
kiln_rc cron next '@daily' --tz Mars/Olympus
eq "unknown zone" 2 "$rc"
kiln_rc cron next '@daily' --after yesterday
eq "bad --after" 2 "$rc"
finish
