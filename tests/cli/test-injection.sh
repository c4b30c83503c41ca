# Parameters reach steps only through the environment: no value can inject
# shell code.
. "$(dirname "$0")/lib.sh"
pipeline inj <<'YAML'
pipeline: inj
params: {x: default, n: 1}
steps:
  show:
    run: printf '%s\n' "$KILN_PARAM_X" > x.out; env | grep '^KILN_' | sort > env.out
YAML
cd "$T"
kiln_rc run "$T/inj.yaml" --param 'x=$(touch pwned)`touch pwned2`;touch pwned3'
eq "exit status" 0 "$rc"
check "nothing injected" test ! -e "$T/pwned" -a ! -e "$T/pwned2" -a ! -e "$T/pwned3"
eq "value passed verbatim" '$(touch pwned)`touch pwned2`;touch pwned3' "$(cat "$T/x.out")"
env_out=$(cat "$T/env.out")
contains "KILN_PARAM_N" "KILN_PARAM_N=1" "$env_out"
contains "KILN_RUN_ID" "KILN_RUN_ID=1" "$env_out"
contains "KILN_STEP" "KILN_STEP=show" "$env_out"
contains "KILN_PIPELINE" "KILN_PIPELINE=inj" "$env_out"
contains "KILN_STATE" "KILN_STATE=$KILN_STATE" "$env_out"
contains "KILN_GIT_COMMIT" "KILN_GIT_COMMIT=" "$env_out"
eq "params recorded" '{"x":"$(touch pwned)`touch pwned2`;touch pwned3","n":"1"}' \
    "$(q 'select params from runs')"
finish
