# The DAG the files imply: a step reading another's output without a
# path of needs: between them is an error at the input naming both (and
# nothing runs); an input no step writes and the disk lacks is a warning.
. "$(dirname "$0")/lib.sh"
cd "$T"
pipeline racy <<'YAML'
pipeline: racy
steps:
  prepare:
    run: sleep 0.5; mkdir -p data && echo x > data/clean.csv
    outputs: [data/]
  train:
    run: cat data/clean.csv > model.bin
    inputs: [data/clean.csv]
    outputs: [model.bin]
YAML
kiln_rc validate racy.yaml
eq "validate: a usage error" 2 "$rc"
eq "at the input, naming both steps" "racy.yaml:8:14: error: step \"train\" reads \"data/clean.csv\", which step \"prepare\" (line 3) writes, but does not need \"prepare\": both would start at once (add it to needs:)" "$err"
kiln_rc run racy.yaml
eq "kiln run refuses it" 2 "$rc"
check "nothing ran" test ! -e data/clean.csv -a ! -e model.bin
sed -i 's/^  train:$/  train:\n    needs: [prepare]/' racy.yaml
kiln_rc validate racy.yaml
eq "with needs: valid" 0 "$rc"
eq "no warning: prepare writes it" "" "$err"
kiln_rc run racy.yaml
eq "and it runs in order" "0 x" "$rc $(cat model.bin)"

pipeline sources <<'YAML'
pipeline: sources
steps:
  load:
    run: cat raw/input.csv
    inputs: [raw/input.csv, "raw/*.parquet"]
YAML
kiln_rc validate sources.yaml
eq "missing inputs: still valid" 0 "$rc"
contains "a warning at the input" "sources.yaml:5:14: warning: step \"load\": input \"raw/input.csv\" exists neither on disk" "$err"
contains "a glob matching nothing" "sources.yaml:5:29: warning: step \"load\": input \"raw/*.parquet\" exists neither on disk" "$err"
mkdir -p raw && echo a > raw/input.csv && : > raw/b.parquet
kiln_rc validate sources.yaml
eq "once they exist: no warning" "" "$err"
finish
