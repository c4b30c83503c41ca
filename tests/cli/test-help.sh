# Each command's options come from one table (orchestrator/cli/opt.h):
# --help lists every option it parses, usage errors say what is wrong and
# print the usage line, bash completion offers the same options, and the
# man page names no option that does not exist (issue 13).
. "$(dirname "$0")/lib.sh"
cmds=$("$KILN" __complete)
eq "__complete lists the commands of kiln --help" \
    "$("$KILN" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF {print $1}')" "$cmds"
kiln_rc --help
case $out in *__complete*) fail "kiln --help lists __complete" ;; *) ok ;; esac

all=
for c in $cmds validate-step; do
    opts=$("$KILN" __complete "$c")
    all="$all $opts"
    kiln_rc "$c" --help; eq "$c --help" 0 "$rc"
    eq "$c --help: nothing on stderr" "" "$err"
    contains "$c --help: usage" "usage: kiln $c" "$out"
    help=$out
    kiln_rc "$c" -h; eq "$c -h is --help" "$help" "$out"
    # Every option, with its short form and value name, as it parses.
    while read -r name value; do
        case $name in
        --*) contains "$c --help lists $name" "$name${value:+ $value}" "$help" ;;
        -?) long=$(printf '%s\n' "$opts" | grep -B1 -x -- "$name${value:+ $value}" | head -1 | cut -d' ' -f1)
            contains "$c --help: $name is $long" "$name, $long" "$help" ;;
        esac
    done <<< "$opts"
    kiln_rc "$c" --no-such-option
    eq "$c: an unknown option is a usage error" 2 "$rc"
    contains "$c: names it" "kiln $c: unknown option --no-such-option" "$err"
    contains "$c: with the usage line" "usage: kiln $c" "$err"
    contains "$c: and where to look" "(see kiln $c --help)" "$err"
    eq "$c: nothing on stdout" "" "$out"
done

# What a usage error says.
usage_error() {
    local what=$1 msg=$2; shift 2
    kiln_rc "$@"
    eq "$what: exit 2" 2 "$rc"
    contains "$what: says so" "$msg" "$err"
}
usage_error "missing value" "kiln runs: option --limit needs a value (N)" runs --limit
usage_error "out of range" 'kiln run: --jobs expects 1 to 4096, got "0"' run x.yaml -j0
usage_error "not a number" 'kiln runs: --limit expects a positive number, got "ten"' runs -n ten
usage_error "not a choice" 'kiln dag: --format expects text or dot, got "svg"' dag x.yaml --format=svg
usage_error "a switch with a value" "kiln runs: option --json takes no value" runs --json=yes
usage_error "ambiguous" "kiln trigger: option --s is ambiguous (--server, --state)" trigger p --s x
usage_error "no argument" "kiln logs: expected RUN and STEP" logs
usage_error "one argument too few" "kiln logs: expected STEP" logs 1
usage_error "one too many" 'kiln show: unexpected argument "2"' show 1 2
usage_error "a bad run id" 'kiln cancel: invalid run id "x"' cancel x
usage_error "required options" "kiln drift: expected --reference and --current" drift
usage_error "a bad --param" 'kiln run: --param expects NAME=VALUE, got "lr"' run x.yaml -p lr
usage_error "a bad --pool" 'kiln serve: --pool expects NAME=N with N from 1 to 4096' serve p.yaml --pool gpu=0
usage_error "a bad --grace" "kiln serve: --grace:" serve p.yaml --grace soon
usage_error "a bad --max-size" 'kiln gc: --max-size expects a size such as 500M or 10G, got "big"' gc --max-size big
usage_error "serve needs a path" "kiln serve: expected at least one PATH (a pipeline file or a directory)" serve
usage_error "cron next" "kiln cron: expected: next 'EXPR'" cron last '@daily'
kiln_rc __complete frobnicate; eq "__complete of no command" 2 "$rc"

# Forms getopt_long took: abbreviations, --opt=value, -xVALUE, bundles,
# options after arguments, and "--".
kiln_rc cron next '@daily' --after=2026-01-01T00:00:00Z --cou 2 --tz=UTC
eq "abbreviations and =" "2026-01-02T00:00:00Z
2026-01-03T00:00:00Z" "$out"
kiln_rc cron -n2 -a 2026-01-01T00:00:00Z next -- '@daily'
eq "short forms, options first, --" "2026-01-02T00:00:00Z
2026-01-03T00:00:00Z" "$out"
printf 'pipeline: v\nsteps:\n  a: {run: "true"}\n' > "$T/v.yaml"
kiln_rc validate -qf github "$T/v.yaml"
eq "bundled -q and -f VALUE" "0 " "$rc $out"

# The man page names only options some command has (or abbreviations).
man=$KILN_SRC/contrib/man/kiln.1
longs=" $(printf '%s\n' $all | grep -- '^--' | sort -u | tr '\n' ' ') "
for o in $(grep -oE -- '\\-\\-[a-z][a-z\\-]*' "$man" | sed 's/\\//g' | sort -u); do
    case $longs in
    *" $o"*) ok ;;
    *) fail "the man page names $o, which no command has" ;;
    esac
done
# Every command has its section in the man page.
for c in $cmds; do
    contains "man page: $c" ".B $c" "$(grep -E '^\.B' "$man" | tr '\n' ' ')"
done

# Completion offers what the tables declare.
comp() { bash -c ". '$KILN_SRC/contrib/completion/kiln.bash'; PATH='$(dirname "$KILN")':\$PATH; COMP_WORDS=($1); COMP_CWORD=$2; _kiln; echo \"\${COMPREPLY[*]}\""; }
eq "completion: the commands" "$(echo $cmds)" "$(comp "kiln ''" 1 | sed 's/ --help --version$//')"
for c in $cmds; do
    eq "completion: $c's options" \
        "$("$KILN" __complete "$c" | grep -oE -- '^--[a-z-]+' | tr '\n' ' ' | sed 's/ $//')" \
        "$(comp "kiln $c --" 2)"
done
eq "completion: a choice" "text dot" "$(comp "kiln dag x.yaml --format ''" 4)"
eq "completion: a short option's choice" "wasserstein" "$(comp "kiln drift -m w" 3)"
mkdir -p "$T/somedir"
eq "completion: a directory" "$T/somedir" "$(comp "kiln runs --state $T/some" 3)"
eq "completion: nothing for a number" "" "$(comp "kiln runs --limit ''" 3)"
finish
