# kiln cron next and kiln serve's schedules across changes of offset, in
# zones at both ends of the clock (cronie's rules: the README's schedules
# section; tests/dsl/test-cron.c has the whole table).
. "$(dirname "$0")/lib.sh"

# next TZ EXPR AFTER COUNT: kiln cron next's fire times on one line.
next() {
    kiln_rc cron next "$2" --tz "$1" --after "$3" --count "$4"
    out=$(echo "$out" | tr '\n' ' ' | sed 's/ $//')
}

# UTC+12/+13: 02:00 became 03:00 on 2024-09-29.
next Pacific/Auckland '30 2 * * *' 2024-09-28T00:00:00Z 2
eq "a fixed time skipped fires at the jump (UTC+12)" \
    "2024-09-29T03:00:00+13:00 2024-09-30T02:30:00+13:00" "$out"
next Antarctica/McMurdo '30 2 * * *' 2024-09-28T00:00:00Z 1
eq "McMurdo keeps New Zealand's time" "2024-09-29T03:00:00+13:00" "$out"
# 03:00 became 02:00 on 2024-04-07: a fixed time once, at the first copy.
next Pacific/Auckland '30 2 * * *' 2024-04-06T00:00:00Z 2
eq "a repeated fixed time fires at its first copy" \
    "2024-04-07T02:30:00+13:00 2024-04-08T02:30:00+12:00" "$out"
next Pacific/Auckland '0 * * * *' 2024-04-07T00:30:00+13:00 5
eq "an hourly schedule fires in both copies of the repeated hour" \
    "2024-04-07T01:00:00+13:00 2024-04-07T02:00:00+13:00 2024-04-07T02:00:00+12:00 2024-04-07T03:00:00+12:00 2024-04-07T04:00:00+12:00" "$out"
# +12:45/+13:45: 02:45 became 03:45.
next Pacific/Chatham '15,45 1-3 * * *' 2024-09-29T00:00:00+12:45 5
eq "Chatham: skipped times fire once, at the jump" \
    "2024-09-29T01:15:00+12:45 2024-09-29T01:45:00+12:45 2024-09-29T02:15:00+12:45 2024-09-29T03:45:00+13:45 2024-09-30T01:15:00+13:45" "$out"
# A minute field starting with * makes a wildcard (cronie): nothing in the
# skipped hour, every quarter of both copies of the repeated one.
next America/New_York '*/15 2 * * *' 2024-03-10T00:00:00-05:00 1
eq "a wildcard minute skips the skipped hour" "2024-03-11T02:00:00-04:00" "$out"
next Australia/Adelaide '*/15 2 * * *' 2024-04-07T00:00:00+10:30 9
eq "and fires 8 times in the repeated one" \
    "2024-04-07T02:00:00+10:30 2024-04-07T02:15:00+10:30 2024-04-07T02:30:00+10:30 2024-04-07T02:45:00+10:30 2024-04-07T02:00:00+09:30 2024-04-07T02:15:00+09:30 2024-04-07T02:30:00+09:30 2024-04-07T02:45:00+09:30 2024-04-08T02:00:00+09:30" "$out"
# A half-hour shift (Lord Howe, 02:00 became 02:30) and UTC-10/-9.
next Australia/Lord_Howe '0 2 * * *' 2024-10-05T12:00:00Z 2
eq "Lord Howe's half-hour jump" \
    "2024-10-06T02:30:00+11:00 2024-10-07T02:00:00+11:00" "$out"
next America/Adak '15,45 1-3 * * *' 2024-11-03T00:00:00-09:00 4
eq "Adak's repeated hour" \
    "2024-11-03T01:15:00-09:00 2024-11-03T01:45:00-09:00 2024-11-03T02:15:00-10:00 2024-11-03T02:45:00-10:00" "$out"
next Pacific/Kiritimati '0 9 * * mon' 2024-09-29T00:00:00Z 1
eq "UTC+14: the local day decides" "2024-09-30T09:00:00+14:00" "$out"

# Day-of-week ranges may end on Sunday.
next UTC '0 0 * * Mon-Sun' 2026-11-21T00:00:00Z 2
eq "Mon-Sun" "2026-11-22T00:00:00Z 2026-11-23T00:00:00Z" "$out"
next UTC '0 0 * * 6-7' 2026-11-20T00:00:00Z 3
eq "6-7" "2026-11-21T00:00:00Z 2026-11-22T00:00:00Z 2026-11-28T00:00:00Z" "$out"
# An error quotes the number as written.
kiln_rc cron next '0-60000 * * * *'
eq "out of range" 2 "$rc"
eq "quoted as written, with a caret" "kiln cron: error: minute: 60000 is out of range 0-59
  0-60000 * * * *
    ^" "$err"
# ...and in a pipeline file, at its line and column.
cat > "$T/bad.yaml" <<'YAML'
pipeline: bad
schedule:
  cron: "0 9 * * 1-99"
steps:
  a: {run: "true"}
YAML
kiln_rc validate "$T/bad.yaml"
contains "file:line:col" "bad.yaml:3:20: error: cron: day-of-week: 99 is out of range 0-7" "$err"

# The daemon arms its timers with the same code. The test clock runs ten
# minutes a second from 01:40:30 on the day Auckland springs forward.
P=$T/pipelines
mkdir -p "$P"
for x in "fixed:15,45 1-3 * * *" "wild:*/15 2 * * *" "daily:30 2 * * *"; do
    cat > "$P/${x%%:*}.yaml" <<YAML
pipeline: ${x%%:*}
schedule: {cron: "${x#*:}", timezone: Pacific/Auckland}
steps:
  a: {run: "true"}
YAML
done
dues() {
    q "select pipeline || ' ' || json_extract(trigger_info, '$.due') from runs order by pipeline, id" | tr '\n' ',' | sed 's/,$//'
}
KILN_NOW=2024-09-29T01:40:30+12:00 KILN_CLOCK_SPEED=600 serve spring.log "$P"
wait_for "the fixed schedule at 03:45" 12 'dues | grep -q "fixed 2024-09-29T03:45"'
stop $daemon
eq "the daemon: one fire at the jump, none for the wildcard" \
    "daily 2024-09-29T03:00:00+13:00,fixed 2024-09-29T01:45:00+12:00,fixed 2024-09-29T03:00:00+13:00,fixed 2024-09-29T03:15:00+13:00,fixed 2024-09-29T03:45:00+13:00" \
    "$(dues)"
kiln_rc status --json
contains "the wildcard's next fire is the next day, 2024-09-30T02:00:00+13:00" \
    "\"next_due\": $(date -d 2024-09-30T02:00:00+13:00 +%s)000" "$out"

# The day clocks go back: from 02:40:30, 03:00 becomes 02:00 again.
rm -rf "$KILN_STATE"
KILN_NOW=2024-04-07T02:40:30+13:00 KILN_CLOCK_SPEED=600 serve autumn.log "$P"
wait_for "the fixed schedule at 03:15" 12 'dues | grep -q "fixed 2024-04-07T03:15"'
stop $daemon
eq "the daemon: the wildcard in both copies, the fixed time once" \
    "fixed 2024-04-07T02:45:00+13:00,fixed 2024-04-07T03:15:00+12:00,wild 2024-04-07T02:45:00+13:00,wild 2024-04-07T02:00:00+12:00,wild 2024-04-07T02:15:00+12:00,wild 2024-04-07T02:30:00+12:00,wild 2024-04-07T02:45:00+12:00" \
    "$(dues)"
finish
