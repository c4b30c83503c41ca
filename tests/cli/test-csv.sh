# One CSV reader: kiln drift (either file), validation steps (the data or
# the drift reference) and drift triggers reject a bad file with the same
# message, naming the file and the line, and kiln drift and kiln
# validate-step exit 2 on it. A header without rows is data of 0 rows to
# a validation step and an error to drift.
. "$(dirname "$0")/lib.sh"
cd "$T"
printf 'a,b\n1,x\n2,y\n3,x\n' > ok.csv

# validate_pipeline NAME DATA [REFERENCE]: $T/NAME.yaml, one step "check"
# validating DATA (drift against REFERENCE when given).
validate_pipeline() {
    {
        printf 'pipeline: %s\nsteps:\n  check:\n    kind: validate\n' "$1"
        printf '    data: %s\n' "$2"
        [ -z "${3:-}" ] || printf '    drift: {reference: %s}\n' "$3"
    } > "$T/$1.yaml"
}

# same_error NAME MESSAGE [table]: NAME.csv, as either file of kiln drift
# and as the data or the reference of a validation step: exit 2 and
# exactly "kiln: error: NAME.csv: MESSAGE" on stderr, nothing on stdout.
# With "table", an error only where the file must be a table with rows
# (drift's files and the reference), not as a validation step's data.
same_error() {
    local f=$1.csv want="kiln: error: $1.csv: $2"
    kiln_rc drift --reference "$f" --current ok.csv
    eq "$1: kiln drift, reference: exit 2" 2 "$rc"
    eq "$1: kiln drift, reference: the message" "$want" "$err"
    eq "$1: kiln drift prints no table" "" "$out"
    kiln_rc drift --reference ok.csv --current "$f"
    eq "$1: kiln drift, current: exit 2" 2 "$rc"
    eq "$1: kiln drift, current: the message" "$want" "$err"
    if [ "${3:-}" != table ]; then
        validate_pipeline "v-$1" "$f"
        kiln_rc validate-step "v-$1.yaml" check
        eq "$1: validate-step, data: exit 2" 2 "$rc"
        eq "$1: validate-step, data: the message" "$want" "$err"
    fi
    validate_pipeline "r-$1" ok.csv "$f"
    kiln_rc validate-step "r-$1.yaml" check
    eq "$1: validate-step, reference: exit 2" 2 "$rc"
    eq "$1: validate-step, reference: the message" "$want" "$err"
}

# The quote opens on line 2: libcsv notices only at the end of the file.
printf 'a,b\n1,"2\n3,4\n5,6\n' > open.csv
same_error open "line 2: a quoted field is not closed before the end of the file"
# Lines count CRLF and the newlines inside quoted fields.
printf 'a,b\r\n"x\r\ny",1\r\n2\r\n' > crlf.csv
same_error crlf "line 4: expected 2 fields as in the header, got 1"
printf 'a,b\n"p\nq",1\n2,3"\n' > stray.csv
same_error stray "line 4: malformed CSV (a quote inside an unquoted field, or text after a closing quote)"
# No header.
: > empty.csv
same_error empty "line 1: expected a header row naming the columns"
printf '\xef\xbb\xbf' > bom.csv
same_error bom "line 1: expected a header row naming the columns, found only a byte order mark"
# Headers that would hide a column.
printf '\xef\xbb\xbf\xef\xbb\xbfa,b\n1,x\n' > bom2.csv
same_error bom2 "line 1: more than one byte order mark before the first column name"
printf 'a,b,a\n1,x,2\n' > dup.csv
same_error dup 'line 1: column "a" appears twice in the header (columns 1 and 3)'

# A header alone: drift has nothing to compare, an error on either side
# (never "drift: yes").
printf 'a,b\n' > header.csv
same_error header "line 2: no data rows after the header" table
kiln_rc drift --reference header.csv --current header.csv --json
eq "header only on both sides: exit 2" 2 "$rc"
eq "the reference is named first" "kiln: error: header.csv: line 2: no data rows after the header" "$err"
# ...while a validation step reads it as data of 0 rows: min_rows fails
# it, a drift check fails (exit 1, the checks ran), no check passes.
validate_pipeline h header.csv
kiln_rc validate-step h.yaml check
eq "header only, no checks: exit 0" 0 "$rc"
eq "0 rows" "validate header.csv: 0 rows, all checks passed" "$out"
printf '    min_rows: 1\n' >> h.yaml
kiln_rc validate-step h.yaml check
eq "header only, min_rows: exit 1" 1 "$rc"
eq "min_rows says so" "FAIL rows: min_rows 1: the data has 0
validate header.csv: 0 rows, 1 violation" "$out"
validate_pipeline hd header.csv ok.csv
kiln_rc validate-step hd.yaml check
eq "header only, drift: exit 1" 1 "$rc"
eq "the drift check fails, no drift claimed" "FAIL drift: the data has no rows to compare with ok.csv
validate header.csv: 0 rows, 1 violation" "$out"
# The reference is still read: a bad one is an error whatever the data.
validate_pipeline hb header.csv open.csv
kiln_rc validate-step hb.yaml check
eq "header only, bad reference: exit 2" 2 "$rc"
eq "the reference's message" "kiln: error: open.csv: line 2: a quoted field is not closed before the end of the file" "$err"

# A byte order mark before a quoted first name, or before a blank line,
# is no part of the header.
printf '\xef\xbb\xbf"a",b\n1,x\n2,y\n3,x\n' > bomq.csv
kiln_rc drift --reference bomq.csv --current ok.csv --json
eq "BOM and a quoted name: exit 0" 0 "$rc"
eq "the columns" "a 0.0 b 0.0" "$(printf '%s' "$out" | /usr/bin/python3 -c '
import json, sys
print(*["%s %s" % (c["name"], c["psi"]) for c in json.load(sys.stdin)["columns"]])')"

# Drift triggers: the check's error is the same message.
mkdir p
cp ok.csv p/reference.csv
cp open.csv p/live.csv
cat > p/t.yaml <<'YAML'
pipeline: t
triggers:
  - drift: {reference: reference.csv, current: live.csv, every: 1s}
steps:
  retrain: {run: "echo retraining"}
YAML
serve serve.log "$T/p"
errors() { q "select count(*) from trigger_checks where status = 'error' and reason like '%$1%'"; }
wait_for "the trigger's check fails" 10 '[ "$(errors "line 2: a quoted")" -ge 1 ]'
kiln_rc drift --reference "$T/p/reference.csv" --current "$T/p/live.csv"
eq "kiln drift and the trigger say the same" "$err" \
    "kiln: error: $(q "select reason from trigger_checks where status = 'error' order by id limit 1")"
printf 'a,b\n' > p/live.tmp && mv p/live.tmp p/live.csv
wait_for "a header alone fails it too" 10 '[ "$(errors "no data rows")" -ge 1 ]'
kiln_rc drift --reference "$T/p/reference.csv" --current "$T/p/live.csv"
eq "the same again" "$err" \
    "kiln: error: $(q "select reason from trigger_checks where status = 'error' and reason like '%no data rows%' limit 1")"
eq "no run fired" 0 "$(q "select count(*) from runs")"
stop "$daemon"
finish
