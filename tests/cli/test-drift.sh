# kiln drift against statistics computed independently with numpy and
# scipy (tests/fixtures/drift/gen.py), to 1e-9 relative (p-values 1e-6).
. "$(dirname "$0")/lib.sh"
F=$KILN_SRC/tests/fixtures/drift
kiln_rc drift --reference "$F/reference.csv" --current "$F/current.csv" --json
eq "exit 0 with drift" 0 "$rc"
printf '%s' "$out" > "$T/got.json"
eq "every statistic matches" "ok" "$(/usr/bin/python3 - "$F/expected.json" "$T/got.json" <<'PY'
import json, sys
want = json.load(open(sys.argv[1]))["columns"]
got = {c["name"]: c for c in json.load(open(sys.argv[2]))["columns"]}
bad = []
for w in want:
    g = got.get(w["name"])
    if g is None:
        bad.append(w["name"] + " missing"); continue
    for k, v in w.items():
        gv = g.get(k)
        if isinstance(v, float):
            tol = 1e-6 if k == "ks_pvalue" else 1e-9
            if gv is None or abs(gv - v) > tol * max(abs(v), 1e-300) and abs(gv - v) > 1e-300:
                bad.append("%s.%s: %r != %r" % (w["name"], k, gv, v))
        elif gv != v:
            bad.append("%s.%s: %r != %r" % (w["name"], k, gv, v))
print("; ".join(bad) if bad else "ok")
PY
)"
kiln_rc drift --reference "$F/reference.csv" --current "$F/current.csv" --column income --method ks --json
eq "one column, ks decides" "income False" "$(printf '%s' "$out" | /usr/bin/python3 -c '
import json, sys
c = json.load(sys.stdin)["columns"]
print(*[(x["name"], x["drift"]) for x in c][0])')"
kiln_rc drift --reference "$F/reference.csv" --current "$F/reference.csv"
eq "no drift against itself" 0 "$rc"
contains "psi 0 on itself" "age              numeric          798      798            0            0            0            1            0  no" "$out"

# RFC 4180: quotes, commas and newlines in fields, CRLF, a BOM.
printf '\xef\xbb\xbfname,"note, with comma"\r\n"a ""quoted"" one","line\none"\r\nb,c\r\n' > "$T/q.csv"
kiln_rc drift --reference "$T/q.csv" --current "$T/q.csv" --json
eq "quoted CSV reads" 0 "$rc"
contains "BOM stripped from the first name" '"name": "name"' "$out"
contains "quoted header" '"name": "note, with comma"' "$out"

# Unusable input: exit 2 naming the line.
printf 'a,b\n1,2\n3\n' > "$T/short.csv"
kiln_rc drift --reference "$T/short.csv" --current "$T/q.csv"
eq "short row" 2 "$rc"
contains "names the line" "short.csv: line 3: expected 2 fields as in the header, got 1" "$err"
printf 'a,b\n1,"2\n' > "$T/open.csv"
kiln_rc drift --reference "$T/open.csv" --current "$T/q.csv"
eq "unterminated quote" 2 "$rc"
kiln_rc drift --reference "$T/none.csv" --current "$T/q.csv"
eq "missing file" 2 "$rc"
# A FIFO nobody writes to is refused, not waited on for ever in open().
mkfifo "$T/live.fifo"
timeout 10 "$KILN" drift --reference "$F/reference.csv" \
    --current "$T/live.fifo" 2>"$T/err"
eq "a FIFO: exit 2, not a hang" 2 "$?"
contains "saying what it is" "live.fifo is a FIFO, not a file" "$(cat "$T/err")"
timeout 10 "$KILN" drift --reference "$T/live.fifo" \
    --current "$F/current.csv" 2>/dev/null
eq "a FIFO as the reference too" 2 "$?"
kiln_rc drift --reference "$F/reference.csv" --current "$F/current.csv" --column nope
eq "unknown column" 2 "$rc"
kiln_rc drift --reference "$F/reference.csv" --current "$F/current.csv" --method median
eq "unknown method" 2 "$rc"

# A column of numbers in one file and not in the other is compared as
# categories, numbers by value ("1" and "1.0" are one category). PSI by
# hand: r = {1: 1/4, 2: 2/4, 3: 1/4, abc: 0}, c = {1: 1/3, 2: 1/3, 3: 0,
# abc: 1/3}, floored at 0.0001.
printf 'x\n1\n2\n2\n3\n' > "$T/a.csv"
printf 'x\n1.0\n2\nabc\n' > "$T/b.csv"
kiln_rc drift --reference "$T/a.csv" --current "$T/b.csv" --json
eq "mixed column" "categorical 4.749878310463" "$(printf '%s' "$out" | /usr/bin/python3 -c '
import json, sys
c = json.load(sys.stdin)["columns"][0]
print(c["type"], "%.12f" % c["psi"])')"
finish
