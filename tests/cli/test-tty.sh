# In a terminal kiln run draws live progress; in a pipe, plain lines.
. "$(dirname "$0")/lib.sh"
command -v script >/dev/null || exit 77
pipeline tty <<'YAML'
pipeline: tty
steps:
  one: {run: sleep 0.6}
  two: {run: "true", needs: [one]}
YAML
script -qec "$KILN run $T/tty.yaml" "$T/typescript" >/dev/null 2>&1
eq "exit status in a terminal" 0 "$?"
screen=$(cat "$T/typescript")
contains "redraws in place" $'\033[2K' "$screen"
contains "moves the cursor up" $'\033[2A' "$screen"
contains "shows running" "running" "$screen"
kiln_rc run "$T/tty.yaml"
eq "exit status in a pipe" 0 "$rc"
case "$out" in *$'\033'*) fail "no escape codes in a pipe" ;; *) ok ;; esac
contains "plain line per change" "one                      running" "$out"
contains "plain succeeded line" "two                      succeeded" "$out"
finish
