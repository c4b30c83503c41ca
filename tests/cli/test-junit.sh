# kiln run --junit and $GITHUB_STEP_SUMMARY: the reports CI systems read,
# parsed back and checked for the structure they need.
. "$(dirname "$0")/lib.sh"
pipeline ci <<'YAML'
pipeline: ci
steps:
  build: {run: "echo built > out.txt", outputs: [out.txt]}
  unit: {run: "echo 'metrics' && echo '{\"acc\": 0.93}' > $KILN_METRICS", needs: [build], cache: false}
  lint: {run: "for i in $(seq 1000); do echo line $i; done; printf 'bad <tag> & \"quote\" \\001\\n'; exit 4", cache: false}
  deploy: {run: "true", needs: [unit, lint]}
  gate: {run: "true", needs: [unit], when: "metrics.unit.acc > 0.99"}
YAML
cd "$T"
GITHUB_STEP_SUMMARY=$T/summary.md kiln_rc run ci.yaml --junit "$T/report.xml"
eq "the run fails" 1 "$rc"
check "the report is written" test -s "$T/report.xml"
eq "JUnit structure" "ok" "$(/usr/bin/python3 - "$T/report.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
bad = []
def want(cond, what):
    if not cond: bad.append(what)
want(root.tag == "testsuites", "root is testsuites")
suites = root.findall("testsuite")
want(len(suites) == 1, "one testsuite")
s = suites[0]
want(s.get("name") == "ci", "suite named after the pipeline")
want((s.get("tests"), s.get("failures"), s.get("skipped"), s.get("errors")) == ("5", "1", "2", "0"),
     "counts %s" % dict(s.attrib))
props = {p.get("name"): p.get("value") for p in s.find("properties")}
want(props.get("kiln.status") == "failed", "run status property")
want(props.get("metric.unit.acc") == "0.93000000000000005", "metric property %r" % props.get("metric.unit.acc"))
cases = {c.get("name"): c for c in s.findall("testcase")}
want(sorted(cases) == ["build", "deploy", "gate", "lint", "unit"], "a testcase per step")
want(all(c.get("classname") == "ci" and float(c.get("time")) >= 0 for c in cases.values()), "classname and time")
f = cases["lint"].find("failure")
want(f is not None and "exited with status 4" in f.get("message"), "lint fails with the reason")
want(f is not None and "line 1000" in f.text and "bad <tag>" in f.text and "line 1\n" not in f.text, "the failure carries the log's tail")
want(cases["unit"].find("failure") is None and cases["unit"].find("skipped") is None, "unit passes")
# Each skip message says what happened once, then why.
def skip(name):
    sk = cases[name].find("skipped")
    return sk.get("message") if sk is not None else None
want(skip("deploy") == 'skipped: upstream step "lint" failed', "deploy skipped because of lint: %r" % skip("deploy"))
want(skip("gate") == "gated: metrics.unit.acc > 0.99 was false (metrics.unit.acc = 0.93)", "gate gated: %r" % skip("gate"))
print("; ".join(bad) if bad else "ok")
PY
)"
contains "control characters are replaced, markup escaped" "bad &lt;tag&gt; &amp; &quot;quote&quot; ?" "$(cat "$T/report.xml")"
contains "the step summary" "### kiln: ci run 1 failed" "$(cat "$T/summary.md")"
contains "with a row per step" "| lint | ❌ failed |" "$(cat "$T/summary.md")"
contains "and the metrics" "| unit.acc | 0.93 |" "$(cat "$T/summary.md")"

# A second run: build is cached, and says so.
sed -i 's/exit 4/exit 0/' ci.yaml
kiln_rc run ci.yaml --junit "$T/report2.xml"
eq "the second run succeeds" 0 "$rc"
eq "the cached and gated steps are skipped with their reasons, said once" \
    'build: cached from run 1
gate: gated: metrics.unit.acc > 0.99 was false (metrics.unit.acc = 0.93)' \
    "$(/usr/bin/python3 - "$T/report2.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
s = ET.parse(sys.argv[1]).getroot().find("testsuite")
for c in s.findall("testcase"):
    if c.find("skipped") is not None:
        print("%s: %s" % (c.get("name"), c.find("skipped").get("message")))
PY
)"
kiln_rc run ci.yaml --junit /nonexistent/dir/r.xml
eq "an unwritable report does not change the exit status" 0 "$rc"
contains "but is said" "warning: --junit" "$err"
finish
