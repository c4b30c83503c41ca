# Step caching: a step whose command, kind, input contents, params and env
# are unchanged is skipped and its outputs restored.
. "$(dirname "$0")/lib.sh"
cd "$T"
pipeline c <<'YAML'
pipeline: c
params: {p: 1}
steps:
  ingest:
    kind: ingest
    run: echo run >> ingest.count; cp src.txt raw.txt
    inputs: [src.txt]
    outputs: [raw.txt]
  train:
    kind: train
    needs: [ingest]
    run: |
      echo run >> train.count; cat raw.txt raw.txt > model.txt
      printf '{"acc": 0.9}' > "$KILN_METRICS"
    inputs: [raw.txt]
    outputs: [model.txt]
  evaluate:
    needs: [train]
    when: metrics.train.acc > 0.5
    run: echo run >> evaluate.count; cp model.txt report.txt
    inputs: [model.txt]
    outputs: [report.txt]
  side:
    run: echo run >> side.count; date +%N > side.txt
    outputs: [side.txt]
    cache: false
YAML
echo hello > src.txt
counts() { for s in ingest train evaluate side; do printf '%s ' "$(wc -l < $s.count)"; done | sed 's/ $//'; }
kiln_rc run c.yaml; eq "first run" 0 "$rc"
eq "everything ran once" "1 1 1 1" "$(counts)"
rm raw.txt model.txt report.txt
kiln_rc run c.yaml; eq "second run" 0 "$rc"
eq "cached steps did not run again; cache: false did" "1 1 1 2" "$(counts)"
check "outputs restored" test "$(cat model.txt)" = "hello
hello"
check "all three restored" test -s raw.txt -a -s report.txt
eq "recorded as cached, with where from" "cached|1 cached|1 cached|1" \
    "$(q "select e.status || '|' || c.run_id from executions e join executions c on c.id = e.cached_from where e.run_id = 2 order by e.step" | tr '\n' ' ' | sed 's/ $//')"
kiln_rc show 2
contains "show marks cached steps" "cached from run 1" "$out"
eq "the gate read the cached metrics" "succeeded" \
    "$(q "select status from run_steps where run_id = 2 and step = 'evaluate'")"

# Each ingredient of the key: one input byte re-runs that step and what
# is downstream of it only.
echo hellO > src.txt
kiln_rc run c.yaml
eq "changed input: everything downstream ran" "2 2 2 3" "$(counts)"
kiln_rc run c.yaml --param p=2
eq "changed param" "3 3 3 4" "$(counts)"
sed -i 's/cat raw.txt raw.txt > model.txt/cat raw.txt raw.txt raw.txt > model.txt/' c.yaml
kiln_rc run c.yaml --param p=2
eq "changed command: train and downstream" "3 4 4 5" "$(counts)"
kiln_rc run c.yaml --param p=2 --no-cache
eq "--no-cache runs everything" "4 5 5 6" "$(counts)"

# A corrupt or missing object falls back to running the step.
obj=$(find "$KILN_STATE/objects" -type f | head -1)
for f in $(find "$KILN_STATE/objects" -type f); do echo garbage > "$f"; done
kiln_rc run c.yaml --param p=2
eq "corrupt objects: ran again" 0 "$rc"
eq "everything ran" "5 6 6 7" "$(counts)"
check "its output is right" test "$(head -1 model.txt)" = "hellO"
rm -rf "$KILN_STATE/objects"
kiln_rc run c.yaml --param p=2
# (evaluate's output has the same content as train's: once train ran and
# stored it, that object serves evaluate too; ingest's output is a copy of
# its input, kept in the store as it is read, so ingest is served too.)
eq "missing objects: ran again" "5 7 6 8" "$(counts)"
kiln_rc run c.yaml --param p=2
eq "and cached again after" "5 7 6 9" "$(counts)"

# kiln gc: unused objects first, then the least recently used until the
# store fits; entries whose objects went are forgotten (those steps run).
echo unused > orphan.txt
mkdir -p "$KILN_STATE/objects/ff"
cp orphan.txt "$KILN_STATE/objects/ff/$(printf '%062d' 0)"
before=$(find "$KILN_STATE/objects" -type f | wc -l)
kiln_rc gc --dry-run
eq "gc --dry-run" 0 "$rc"
contains "would remove the orphan only" "would remove 1 of $before objects" "$out"
kiln_rc gc
contains "removed the orphan" "removed 1 of $before objects" "$out"
kiln_rc run c.yaml --param p=2
eq "cache intact after gc" "5 7 6 10" "$(counts)"
# Sizes strtod() would read as huge or not a number: refused, nothing
# removed (a limit past int64 once became negative and emptied it all).
objs=$(find "$KILN_STATE/objects" -type f | wc -l)
for v in inf nan 1e400 0x10 10000000T 9223372036854775807 1..2; do
    kiln_rc gc --max-size "$v"
    eq "gc --max-size $v: refused" 2 "$rc"
done
eq "...and the store untouched" "$objs" "$(find "$KILN_STATE/objects" -type f | wc -l)"
kiln_rc gc --max-size 1048576T
contains "the largest limit: nothing to remove" "removed 0 of" "$out"
kiln_rc gc --max-size 0
contains "a zero limit empties the store" "removed $((before - 1)) of $((before - 1)) objects" "$out"
eq "no entry left pointing at nothing" 0 "$(q 'select count(*) from executions where cache_key is not null')"
kiln_rc run c.yaml --param p=2
eq "so the steps ran again" "6 8 7 11" "$(counts)"
kiln_rc gc --max-size lots
eq "bad size" 2 "$rc"

# A directory output is cached as its files.
pipeline d <<'YAML'
pipeline: d
steps:
  make:
    run: echo run >> make.count; mkdir -p dir/sub && echo a > dir/a && echo b > dir/sub/b
    outputs: [dir]
YAML
kiln_rc run d.yaml
rm -rf dir
kiln_rc run d.yaml
eq "directory step cached" "1" "$(wc -l < make.count)"
eq "its files restored" "a b" "$(cat dir/a dir/sub/b | tr '\n' ' ' | sed 's/ $//')"

# Outputs out of the step's working directory ("../out/model.bin", or
# "../shared.txt" from workdir: sub) are served like any other: their
# files were recorded by real path and matched against the pattern as
# written, so never a hit, and kiln why blamed a missing store.
mkdir -p "$T/proj/sub"
cd "$T/proj"
cat > o.yaml <<'YAML'
pipeline: o
steps:
  up:
    run: echo run >> up.count; mkdir -p ../o-out; echo m > ../o-out/model.bin
    outputs: [../o-out/model.bin]
  sub:
    workdir: sub
    run: echo run >> ../sub.count; echo s > ../shared.txt
    outputs: [../shared.txt]
  link:
    run: echo run >> link.count; echo t > target.txt; ln -sfn target.txt latest.txt
    outputs: [latest.txt]
  linkdir:
    run: echo run >> linkdir.count; mkdir -p ld; echo a > ld/a; ln -sfn a ld/latest
    outputs: [ld/]
YAML
ocounts() { for s in up sub link linkdir; do printf '%s ' "$(wc -l < $s.count)"; done | sed 's/ $//'; }
kiln_rc run o.yaml; eq "outputs out of the workdir: first run" 0 "$rc"
rm -rf ../o-out shared.txt
kiln_rc run o.yaml; eq "...second run" 0 "$rc"
o2=$(q "select max(id) from runs")
eq "../ outputs served from the cache; a symlink output ran again" "1 1 2 1" "$(ocounts)"
eq "...and put back where the step writes them" "m s" \
    "$(cat ../o-out/model.bin shared.txt | tr '\n' ' ' | sed 's/ $//')"
kiln_rc why "$o2" up
contains "why: served" "served from the cache: run $((o2 - 1)) made its outputs" "$out"
# A symlink output is never kept: an entry holds bytes, and a restore
# would put a copy of the target where the step makes a link (one in an
# output directory is kept as a link). Said so, by why and a dry run.
kiln_rc why "$o2" link
contains "why: a symlink output kept no entry" \
    "it ran with the same key as run $((o2 - 1)), which kept no cache entry: output latest.txt is a symlink" "$out"
contains "why: nor does this run's" \
    "its outputs were not kept in the cache: output latest.txt is a symlink" "$out"
kiln_rc why "$o2" linkdir --json
eq "why --json: a directory with a symlink, served" "cached None" \
    "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json, sys; t = json.load(sys.stdin); print(t["outcome"], t["not_cached"])')"
out=$("$KILN" run o.yaml --dry-run 2>/dev/null)
contains "dry run: ../ output cached" "$(printf '  %-22s cached from run' up)" "$out"
contains "dry run: the symlink's true reason" "$(printf '  %-22s would run' link)
    same key as run $o2, which kept no cache entry: output latest.txt is a symlink" "$out"
rm -rf ld
kiln_rc run o.yaml
check "a directory with a symlink comes back with it" test -L ld/latest
eq "...from the cache" "1 1 3 1" "$(ocounts)"
cd "$T"
# A symlink in an input directory is part of its hash: what the step
# reads through it (its text, the file it leads to, a directory outside)
# changes the key. One to a FIFO, a device or itself never blocks it.
mkdir -p ln/in ln/ext
echo one > ln/t1; echo two > ln/t2; echo e > ln/ext/e; echo x > ln/in/x
ln -s ../t1 ln/in/link; ln -s ../ext ln/in/dir; ln -s loop ln/in/loop
ln -s /dev/zero ln/in/zero; mkfifo ln/fifo; ln -s ../fifo ln/in/fifo
pipeline l <<'YAML'
pipeline: l
steps:
  read:
    workdir: ln
    run: echo run >> read.count; cat in/link in/dir/e > out.txt
    inputs: [in]
    outputs: [out.txt]
YAML
lrun() { timeout 60 "$KILN" run l.yaml >/dev/null 2>&1; echo "$(wc -l < ln/read.count) $(cat ln/out.txt | tr '\n' ' ' | sed 's/ $//')"; }
eq "symlinks in an input directory, a FIFO's and a device's too" "1 one e" "$(lrun)"
eq "...and unchanged: cached" "1 one e" "$(lrun)"
ln -sfn ../t2 ln/in/link
eq "a symlink re-pointed: the step ran" "2 two e" "$(lrun)"
echo TWO > ln/t2
eq "the file it points to changed: the step ran" "3 TWO e" "$(lrun)"
echo E > ln/ext/e
eq "a file in a directory it points to changed: the step ran" "4 TWO E" "$(lrun)"
eq "...then cached again" "4 TWO E" "$(lrun)"

# A cached directory output comes back as it was made: its symlinks
# with their link text (dangling too), its empty directories, and the
# output directory exactly: what a later run left in it goes, and so the
# record has the hash the step made.
pipeline t <<'YAML'
pipeline: t
steps:
  make:
    run: |
      echo run >> tree.count; rm -rf tree; mkdir -p tree/empty/deeper tree/sub
      echo a > tree/a; ln -s a tree/l; ln -s ../nowhere tree/sub/dangling
    outputs: [tree]
YAML
shape() { (cd tree && find . -printf '%y %p %l\n' | sort | tr '\n' ';'); }
kiln_rc run t.yaml
made=$(shape)
rm -rf tree
kiln_rc run t.yaml
eq "directory with symlinks and empty directories: cached" 1 "$(wc -l < tree.count)"
eq "...restored with its symlinks and empty directories" "$made" "$(shape)"
# kiln gc forgets an entry whose objects are gone; a symlink or an
# empty directory has none, and the entry stays.
cp orphan.txt "$KILN_STATE/objects/ff/$(printf '%062d' 1)"
kiln_rc gc
contains "gc removed an orphan" "removed 1 of" "$out"
rm -rf tree
kiln_rc run t.yaml
eq "...and kept the entry with symlinks" 1 "$(wc -l < tree.count)"
echo stale > tree/stale; mkdir -p tree/old/older; echo z > tree/old/older/z
echo keep > beside.txt
kiln_rc run t.yaml
eq "restored into a directory holding more: cached" 1 "$(wc -l < tree.count)"
eq "...which is now exactly as it was made" "$made" "$(shape)"
check "...and nothing beside it was touched" test "$(cat beside.txt)" = keep
eq "...recorded with the hash the step made" 1 \
    "$(q "select count(distinct a.sha256) from events e join artifacts a on a.id = e.artifact_id where e.type = 'output' and a.path like '%/tree'")"
rm -rf tree/a tree/l tree/empty
mkdir tree/a; echo in > tree/a/in; echo file > tree/l; echo notadir > tree/empty
kiln_rc run t.yaml
eq "restored where a directory is a file and a file a directory: cached" 1 \
    "$(wc -l < tree.count)"
eq "...as it was made" "$made" "$(shape)"
# A glob's files share their directory: what else is there stays.
pipeline g <<'YAML'
pipeline: g
steps:
  make:
    run: echo run >> glob.count; mkdir -p gl; echo a > gl/a.csv
    outputs: [gl/*.csv]
YAML
kiln_rc run g.yaml
rm gl/a.csv; echo mine > gl/notes.txt
kiln_rc run g.yaml
eq "a glob output: cached" "1 a" "$(wc -l < glob.count) $(cat gl/a.csv)"
check "...and the file beside it stays" test -f gl/notes.txt
# An empty directory output is cached too.
pipeline e <<'YAML'
pipeline: e
steps:
  make:
    run: echo run >> empty.count; mkdir -p emptyout
    outputs: [emptyout]
YAML
kiln_rc run e.yaml
rm -rf emptyout
kiln_rc run e.yaml
eq "an empty directory output: cached" 1 "$(wc -l < empty.count)"
check "...and restored" test -d emptyout
finish
