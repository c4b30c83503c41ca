# resources: without a cluster. cpus weighs a local step against --jobs;
# a pipeline with Slurm steps fails validation where Slurm's commands are
# not found (KILN_SLURM_BIN, else PATH).
. "$(dirname "$0")/lib.sh"
W=$T/work
mkdir -p "$W"

# With --jobs 2, two steps of 2 cpus cannot overlap; two of 1 cpu do.
pipeline heavy <<YAML
pipeline: heavy
defaults: {workdir: $W}
steps:
  a: {run: "date +%s%3N > a.start; sleep 1; date +%s%3N > a.end", resources: {cpus: 2}}
  b: {run: "date +%s%3N > b.start; sleep 1; date +%s%3N > b.end", resources: {cpus: 2}}
  c: {run: "date +%s%3N > c.start; sleep 1; date +%s%3N > c.end", resources: {cpus: 9}}
YAML
kiln_rc run --jobs 2 "$T/heavy.yaml"
eq "heavy run succeeds (cpus above --jobs still run)" 0 "$rc"
first=$(ls -1 "$W"/*.start | while read -r f; do echo "$(cat "$f") ${f##*/}"; done | sort -n)
overlaps=0
for x in a b c; do
    for y in a b c; do
        [ $x = $y ] && continue
        if [ "$(cat "$W/$x.start")" -lt "$(cat "$W/$y.start")" ] &&
           [ "$(cat "$W/$x.end")" -gt "$(cat "$W/$y.start")" ]; then
            overlaps=$((overlaps + 1))
        fi
    done
done
eq "2-cpu steps ran one at a time under --jobs 2 ($first)" 0 "$overlaps"

rm -f "$W"/*.start "$W"/*.end
pipeline light <<YAML
pipeline: light
defaults: {workdir: $W}
steps:
  a: {run: "date +%s%3N > a.start; sleep 1; date +%s%3N > a.end"}
  b: {run: "date +%s%3N > b.start; sleep 1; date +%s%3N > b.end"}
YAML
kiln_rc run --jobs 2 "$T/light.yaml"
eq "light run succeeds" 0 "$rc"
check "1-cpu steps overlap under --jobs 2" \
    test "$(cat "$W/b.start")" -lt "$(cat "$W/a.end")" -a "$(cat "$W/a.start")" -lt "$(cat "$W/b.end")"

pipeline cluster <<'YAML'
pipeline: cluster
steps:
  prep: {run: "true"}
  train: {run: "true", executor: slurm}
  eval: {run: "true", executor: slurm}
YAML
KILN_SLURM_BIN=$T/nowhere kiln_rc validate "$T/cluster.yaml"
eq "no Slurm: validate fails" 2 "$rc"
eq "said once, at the first Slurm step" \
    "$T/cluster.yaml:4:3: error: step \"train\": the slurm executor needs sbatch, which is not in $T/nowhere (set KILN_SLURM_BIN to the directory holding Slurm's commands)" \
    "$err"
KILN_SLURM_BIN=$T/nowhere kiln_rc run "$T/cluster.yaml"
eq "kiln run refuses it too" 2 "$rc"
eq "and starts no run" 0 "$(q "select count(*) from runs where pipeline = 'cluster'")"
# KILN_SLURM_BIN names where the commands are; validate only needs them
# to be there.
mkdir -p "$T/bin"
for c in sbatch squeue scancel; do printf '#!/bin/sh\nexit 1\n' > "$T/bin/$c"; chmod +x "$T/bin/$c"; done
KILN_SLURM_BIN=$T/bin kiln_rc validate "$T/cluster.yaml"
eq "commands found in KILN_SLURM_BIN" "0|$T/cluster.yaml: ok (pipeline \"cluster\", 3 steps)" "$rc|$out"
rm "$T/bin/scancel"
KILN_SLURM_BIN=$T/bin kiln_rc validate "$T/cluster.yaml"
contains "each command is needed" "needs scancel, which is not in $T/bin" "$err"
err=$(PATH=$T/bin KILN_SLURM_BIN='' "$KILN" validate "$T/cluster.yaml" 2>&1)
contains "from PATH when KILN_SLURM_BIN is unset" "needs scancel, which is not in PATH" "$err"
finish
