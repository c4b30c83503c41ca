# CI integration: kiln validate --format github, the pre-commit hook in a
# real repository, and the CI files being valid YAML that run what they
# say.
. "$(dirname "$0")/lib.sh"
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t \
    GIT_COMMITTER_EMAIL=t@t GIT_CONFIG_NOSYSTEM=1 HOME=$T
R=$T/repo
mkdir -p "$R/pipelines"
git -C "$R" init -q -b main
cp "$KILN_SRC/contrib/ci/pre-commit" "$R/.git/hooks/pre-commit"
export KILN
cat > "$R/pipelines/bad.yaml" <<'YAML'
pipeline: bad
steps:
  a: {run: "true", needs: [nope]}
  b: {run: "true", timeout: soon}
YAML
cat > "$R/notes.yaml" <<'YAML'
just: some yaml, not a pipeline
YAML
git -C "$R" add -A
(cd "$R" && git commit -qm bad) 2> "$T/hook.err"
eq "the hook refuses a broken pipeline" 1 "$?"
contains "naming FILE:LINE:COL" "pipelines/bad.yaml:3:28: error: step \"a\" needs unknown step \"nope\"" "$(cat "$T/hook.err")"
contains "every error" "pipelines/bad.yaml:4:29" "$(cat "$T/hook.err")"
# The staged content is checked, not the work tree's.
sed -i 's/nope/b/; s/soon/10s/' "$R/pipelines/bad.yaml"
(cd "$R" && git commit -qm bad) 2> /dev/null
eq "fixed in the work tree only: still refused" 1 "$?"
git -C "$R" add -A
(cd "$R" && git commit -qm good) 2> "$T/hook.err"
eq "fixed and staged: committed" 0 "$?"

# --format github: annotations at the error's line, escaped.
printf 'pipeline: x\nsteps:\n  a: {run: "true", retries: "1%%,2"}\n' > "$T/gh.yaml"
kiln_rc validate --format github "$T/gh.yaml"
eq "exit status as usual" 2 "$rc"
eq "a GitHub annotation" "::error file=$T/gh.yaml,line=3,col=29,title=kiln validate::retries: expected an integer >= 0, got \"1%25,2\"" "$out"
kiln_rc validate --format sarcastic "$T/gh.yaml"
eq "unknown format" 2 "$rc"

# The CI files parse, and run kiln as documented.
for f in github-actions.yml gitlab-ci.yml; do
    check "$f is YAML" /usr/bin/python3 -c "import yaml, sys; yaml.safe_load(open(sys.argv[1]))" "$KILN_SRC/contrib/ci/$f"
    contains "$f validates" "kiln validate" "$(cat "$KILN_SRC/contrib/ci/$f")"
    contains "$f reports JUnit" "--junit kiln-report.xml" "$(cat "$KILN_SRC/contrib/ci/$f")"
done
finish
