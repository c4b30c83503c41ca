# Runs are pinned to a commit; --commit REV runs a past version in its own
# checkout; --require-clean refuses a dirty tree.
. "$(dirname "$0")/lib.sh"
command -v git >/dev/null || exit 77
unset KILN_STATE
git_identity
R=$T/repo
mkdir -p "$R/ml"
cd "$R"
git -c init.defaultBranch=main init -q .
cat > ml/pipeline.yaml <<'YAML'
pipeline: pinned
steps:
  version:
    run: cat version.txt > "$KILN_STATE/seen-$KILN_RUN_ID"; echo "$KILN_GIT_COMMIT" >> "$KILN_STATE/seen-$KILN_RUN_ID"
YAML
echo one > ml/version.txt
git add -A && git commit -qm one
first=$(git rev-parse HEAD)
echo two > ml/version.txt
cat >> ml/pipeline.yaml <<'YAML'
  extra:
    run: "true"
YAML
git add -A && git commit -qm two
second=$(git rev-parse HEAD)
Q() { sqlite3 "$R/.kiln/kiln.db" "$1"; }

# A clean run records HEAD, the branch and a clean tree, in .kiln/ at the
# top of the repository.
kiln_rc run ml/pipeline.yaml
eq "exit status" 0 "$rc"
check "state at the repository's top" test -f "$R/.kiln/kiln.db"
eq "commit recorded" "$second|main|0" "$(Q 'select git_commit, git_branch, git_dirty from runs where id=1')"
eq "step saw the commit" "two $second" "$(tr '\n' ' ' < "$R/.kiln/seen-1" | sed 's/ $//')"
eq ".kiln does not dirty the tree" "" "$(git status --porcelain)"

# A dirty tree is recorded as dirty, and refused with --require-clean.
echo three > ml/version.txt
kiln_rc run ml/pipeline.yaml
eq "dirty run allowed" 0 "$rc"
eq "dirty recorded" "1" "$(Q 'select git_dirty from runs where id=2')"
kiln_rc run ml/pipeline.yaml --require-clean
eq "--require-clean refuses" 2 "$rc"
contains "lists the changed file" "M ml/version.txt" "$err"
eq "no run recorded" 2 "$(Q 'select count(*) from runs')"
cp ml/pipeline.yaml "$T/p.yaml"
sed -i '1a git: {require_clean: true}' ml/pipeline.yaml
kiln_rc run ml/pipeline.yaml
eq "require_clean in the file refuses" 2 "$rc"
contains "lists the pipeline file too" "M ml/pipeline.yaml" "$err"
cp "$T/p.yaml" ml/pipeline.yaml

# --commit runs the pipeline as it was, untouched work tree.
before=$(git status --porcelain; cat ml/version.txt; git rev-parse HEAD; md5sum .git/index)
kiln_rc run ml/pipeline.yaml --commit HEAD~1
eq "--commit exit status" 0 "$rc"
eq "old commit recorded" "$first" "$(Q 'select git_commit from runs where id=3')"
eq "old version ran" "one $first" "$(tr '\n' ' ' < "$R/.kiln/seen-3" | sed 's/ $//')"
eq "old pipeline (one step)" "1" "$(Q 'select count(*) from run_steps where run_id=3')"
check "checkout under the state dir" test -f "$R/.kiln/checkouts/$first/ml/version.txt"
contains "ran in the checkout" "$R/.kiln/checkouts/$first/ml" "$(Q 'select workdir from runs where id=3')"
after=$(git status --porcelain; cat ml/version.txt; git rev-parse HEAD; md5sum .git/index)
eq "work tree untouched" "$before" "$after"
kiln_rc run ml/pipeline.yaml --commit "${second:0:8}"
eq "short id" 0 "$rc"
eq "full id recorded" "$second" "$(Q 'select git_commit from runs where id=4')"
kiln_rc run ml/pipeline.yaml --commit nosuchref
eq "unknown rev" 2 "$rc"
contains "names the rev" "nosuchref" "$err"

# --param is checked against the definition at --commit REV: a param that
# exists there but not in the work tree is accepted, and the reverse is
# refused.
cp ml/pipeline.yaml "$T/p2.yaml"
sed -i '1a params: {lr: 1}' ml/pipeline.yaml
echo '    run: echo "lr=$KILN_PARAM_LR" > "$KILN_STATE/lr-$KILN_RUN_ID"' > "$T/lrstep"
printf '  lr:\n' >> ml/pipeline.yaml
cat "$T/lrstep" >> ml/pipeline.yaml
git add -A && git commit -qm three
cp "$T/p2.yaml" ml/pipeline.yaml
kiln_rc run ml/pipeline.yaml --commit HEAD --param lr=5
eq "param defined at REV only" 0 "$rc"
n=$(Q 'select max(id) from runs')
eq "it reached the step" "lr=5" "$(cat "$R/.kiln/lr-$n")"
kiln_rc run ml/pipeline.yaml --param lr=5
eq "not in the work tree's definition" 2 "$rc"
contains "names the param" "lr" "$err"
git checkout -q ml/pipeline.yaml
sed -i 's/^params: {lr: 1}$/params: {rate: 1}/' ml/pipeline.yaml
kiln_rc run ml/pipeline.yaml --commit HEAD~1 --param lr=5
eq "unknown at REV" 2 "$rc"
git checkout -q ml/pipeline.yaml

# Outside a repository: a warning, no commit.
mkdir -p "$T/norepo"
cp "$T/p.yaml" "$T/norepo/p.yaml"
echo x > "$T/norepo/version.txt"
cd "$T/norepo"
kiln_rc run p.yaml --state "$T/norepo-state"
eq "outside a repo runs" 0 "$rc"
contains "warns" "not in a Git repository" "$err"
eq "no commit" "" "$(sqlite3 "$T/norepo-state/kiln.db" 'select git_commit from runs')"
finish
