# kiln retry RUN [--from STEP]: in the foreground (reusing the steps that
# succeeded, audited as the Unix user via cli) and through a kiln serve's
# API with --server.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/p"
cat > "$T/p/r.yaml" <<'YAML'
pipeline: r
params: {n: "1"}
steps:
  first:
    run: echo first >> count.txt; echo made $KILN_PARAM_N > a.txt
    outputs: [a.txt]
  second:
    needs: [first]
    run: test -f go && cat a.txt > b.txt || exit 3
    outputs: [b.txt]
  third:
    needs: [second]
    run: echo third >> count.txt; cat b.txt
YAML
cd "$T/p" || exit 1
step() { q "select status || ':' || coalesce(reason, '') from run_steps where run_id=$1 and step='$2'"; }
steps() { q "select step || ':' || status || ':' || coalesce(reason, '') from run_steps where run_id=$1 order by position" | tr '\n' ' ' | sed 's/ $//'; }

kiln_rc run r.yaml --param n=7 --no-cache
eq "the first run fails" 1 "$rc"
id=$(q "select max(id) from runs")

kiln_rc retry "$id"
eq "still failing: exit 1" 1 "$rc"
r1=$(q "select max(id) from runs")
contains "it says what it reuses" "retrying run $id (1 step reused)" "$out"
eq "first reused" "succeeded:reused from run $id" "$(step "$r1" first)"

touch go
kiln_rc retry "$r1"
eq "the retry succeeds: exit 0" 0 "$rc"
r2=$(q "select max(id) from runs")
eq "reused, ran, ran" "first:succeeded:reused from run $r1 second:succeeded: third:succeeded:" "$(steps "$r2")"
eq "same params, trigger retry" "7 retry" "$(q "select json_extract(params, '$.n') || ' ' || trigger from runs where id=$r2")"
eq "first ran once" 1 "$(grep -c first count.txt)"
kiln_rc show "$r2"
contains "kiln show says what it retries" "retries run $r1" "$out"
eq "audited as the Unix user via cli" "$(id -un) cli run.retried {\"pipeline\":\"r\",\"trigger\":\"retry\",\"retry_of\":$r1}" \
    "$(q "select actor || ' ' || via || ' ' || action || ' ' || after from audit where target = 'run $r2'")"

kiln_rc retry "$r2"
eq "a succeeded run: exit 2" 2 "$rc"
contains "saying why" "succeeded: nothing to retry" "$err"
kiln_rc retry "$r2" --from second --no-cache
eq "--from second: exit 0" 0 "$rc"
r3=$(q "select max(id) from runs")
eq "--from: first reused, second and third ran" "first:succeeded:reused from run $r2 second:succeeded: third:succeeded:" "$(steps "$r3")"
eq "third ran again" 2 "$(grep -c third count.txt)"
kiln_rc retry "$r2" --from nope
eq "--from an unknown step: exit 2" 2 "$rc"
contains "naming it" 'no step "nope"' "$err"
kiln_rc retry 999
eq "no such run: exit 2" 2 "$rc"

# The definition changed: refused.
echo "# changed" >> r.yaml
kiln_rc retry "$r2" --from third
eq "a changed file: exit 2" 2 "$rc"
contains "saying so" "changed or is gone" "$err"
sed -i '$d' r.yaml

# Through the API.
TOKEN=0123456789abcdef-retry-token
printf '%s\n' "$TOKEN" > "$T/token"
rm -f go
kiln_rc run r.yaml --no-cache
fid=$(q "select max(id) from runs")
serve serve.log --token-file "$T/token" "$T/p/r.yaml"
wait_for "the web URL" 10 '[ -n "$(web_url)" ]'
touch go
kiln_rc retry "$fid" --server "$(web_url)" --token-file "$T/token" --wait
eq "--server --wait: exit 0" 0 "$rc"
sr=$(q "select max(id) from runs")
contains "started" "run $sr started (retries run $fid)" "$out"
contains "followed to its end" "run $sr succeeded" "$out"
eq "over the API: reused" "succeeded:reused from run $fid" "$(step "$sr" first)"
eq "audited via api" "run.retried api" "$(q "select action || ' ' || via from audit where target = 'run $sr'")"
kiln_rc retry "$sr" --server "$(web_url)" --token-file "$T/token" --from third --wait
eq "--server --from: exit 0" 0 "$rc"
sr2=$(q "select max(id) from runs")
eq "over the API --from third" "first:succeeded:reused from run $sr second:succeeded:reused from run $sr third:succeeded:" "$(steps "$sr2")"
kiln_rc retry "$sr2" --server "$(web_url)" --token-file "$T/token"
eq "--server, a succeeded run: exit 2" 2 "$rc"
contains "HTTP 409" "HTTP 409" "$err"
kiln_rc retry "$sr2" --server "$(web_url)" --token-file "$T/token" --from nope
eq "--server, an unknown step: exit 2" 2 "$rc"
contains "HTTP 400" "HTTP 400" "$err"
stop "$daemon"

# A retry runs the work tree as it is now: it records the commit checked
# out now, not the retried run's (before, a retry after a new commit
# recorded the old commit, clean, for what the new one ran), and says
# so; a run pinned with --commit ran a checkout, and its retry keeps it.
git_identity
mkdir -p "$T/g" && cd "$T/g" || exit 1
git init -q .
printf 'pipeline: g\nsteps:\n  s:\n    run: sh script.sh > out.txt\n    outputs: [out.txt]\n' > g.yaml
echo 'echo version-one' > script.sh
printf 'out.txt\n' > .gitignore
git add -A && git commit -qm c1 && c1=$(git rev-parse HEAD)
kiln_rc run g.yaml; eq "git: the first run" 0 "$rc"
g1=$(q "select max(id) from runs")
echo 'echo version-two' > script.sh && git commit -qam c2 && c2=$(git rev-parse HEAD)
kiln_rc retry "$g1" --from s --no-cache
eq "git: the retry runs" 0 "$rc"
eq "...what is checked out now" version-two "$(cat out.txt)"
eq "...and records that commit, clean" "$c2|0" \
    "$(q "select git_commit || '|' || git_dirty from runs where id = (select max(id) from runs)")"
contains "...saying the commit moved" "ran at commit ${c1:0:12}; the work tree is at ${c2:0:12} now" "$err"
kiln_rc run g.yaml --commit "$c1"; eq "git: a run pinned to c1" 0 "$rc"
pinned=$(q "select max(id) from runs")
kiln_rc retry "$pinned" --from s --no-cache
eq "...its retry keeps c1" "$c1" \
    "$(q "select git_commit from runs where id = (select max(id) from runs)")"
echo 'echo version-three' > script.sh && git commit -qam c3 && c3=$(git rev-parse HEAD)
serve serve-g.log --token-file "$T/token" "$T/g/g.yaml"
wait_for "the daemon" 10 'grep -q " loaded in " "$T/serve-g.log"'
kiln_rc retry "$g1" --server "$(web_url)" --token-file "$T/token" --from s --wait
eq "git: a retry through the API" 0 "$rc"
eq "...records the commit now" "$c3" \
    "$(q "select git_commit from runs where id = (select max(id) from runs)")"
stop "$daemon"
finish
