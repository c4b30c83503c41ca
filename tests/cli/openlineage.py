"""tests/cli/openlineage.py SCHEMAS EVENTS: check OpenLineage events.

EVENTS holds one JSON event a line. Each is validated against the
OpenLineage schema in SCHEMAS (tests/fixtures/openlineage), offline: the
event's schemaURL and each facet's _schemaURL must name a schema saved
there, and every $ref between them resolves to the saved files, never to
the network. Then, across the events: each run id has one job, one START
before one end (COMPLETE, FAIL or ABORT); a step's parent is a pipeline run
seen here. Problems go to stderr (exit 1); stdout gets one line an event,
run ids replaced by r1, r2... in order of appearance:

    TYPE JOB run=rN parent=rN in=A,B out=C up=JOB,JOB
"""
import datetime
import json
import os
import sys
import urllib.parse

import jsonschema

schemas, events_file = sys.argv[1], sys.argv[2]


def load(path):
    with open(path) as f:
        return json.load(f)


core = load(os.path.join(schemas, "OpenLineage.json"))
facets = {}
for name in sorted(os.listdir(os.path.join(schemas, "facets"))):
    doc = load(os.path.join(schemas, "facets", name))
    facets[doc["$id"]] = doc
# The facets $ref the core by the URL of the version they were written
# against (2-0-2, 1-0-2): those resolve to the saved core (README.md).
store = {core["$id"]: core,
         "https://openlineage.io/spec/2-0-2/OpenLineage.json": core,
         "https://openlineage.io/spec/1-0-2/OpenLineage.json": core}
store.update(facets)

# Formats checked here, without the optional packages jsonschema would use.
checker = jsonschema.FormatChecker()


@checker.checks("date-time", raises=ValueError)
def is_datetime(value):
    if not isinstance(value, str):
        return True
    if "T" not in value or not (value.endswith("Z") or "+" in value[10:]):
        raise ValueError("no time zone")
    datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@checker.checks("uri", raises=ValueError)
def is_uri(value):
    if not isinstance(value, str):
        return True
    u = urllib.parse.urlparse(value)
    if not u.scheme or not (u.netloc or u.path):
        raise ValueError("not a URI")
    return True


@checker.checks("uuid", raises=ValueError)
def is_uuid(value):
    import uuid
    if isinstance(value, str) and str(uuid.UUID(value)) != value.lower():
        raise ValueError("not a UUID")
    return True


def validator(schema, base):
    resolver = jsonschema.RefResolver(base_uri=base, referrer=schema,
                                      store=store)
    # No fetching: a $ref to a URL the store lacks is an error.
    resolver.resolve_remote = lambda url: (_ for _ in ()).throw(
        jsonschema.RefResolutionError("not saved offline: " + url))
    return jsonschema.Draft202012Validator(schema, resolver=resolver,
                                           format_checker=checker)


problems = []


def problem(n, what):
    problems.append("event %d: %s" % (n, what))


def check_schema(n, ev):
    url = ev.get("schemaURL", "")
    doc, _, frag = url.partition("#")
    if doc != core["$id"]:
        problem(n, "schemaURL %s is not the saved spec %s" % (url, core["$id"]))
        return
    for v in (validator(core, core["$id"]),
              validator({"$ref": url}, "")):
        for e in v.iter_errors(ev):
            problem(n, "%s at %s" % (e.message[:300], list(e.absolute_path)))
    places = [("run", ev.get("run", {}).get("facets", {})),
              ("job", ev.get("job", {}).get("facets", {}))]
    for d in ev.get("inputs", []) + ev.get("outputs", []):
        places.append(("dataset", d.get("facets", {})))
    for where, fs in places:
        for key, f in fs.items():
            furl = f.get("_schemaURL", "")
            fdoc = furl.partition("#")[0]
            if fdoc not in facets:
                problem(n, "%s facet %s: schema %s not saved" %
                        (where, key, furl))
                continue
            schema = facets[fdoc]
            if key not in schema.get("properties", {}):
                problem(n, "%s facet %s is not what %s defines" %
                        (where, key, fdoc))
            for e in validator(schema, fdoc).iter_errors({key: f}):
                problem(n, "%s facet %s: %s at %s" %
                        (where, key, e.message, list(e.absolute_path)))
            for e in validator({"$ref": furl}, "").iter_errors(f):
                problem(n, "%s facet %s: %s (by its _schemaURL)" %
                        (where, key, e.message))


events = []
with open(events_file) as f:
    for n, line in enumerate(f, 1):
        try:
            events.append(json.loads(line))
        except ValueError as e:
            problem(n, "not JSON: %s" % e)
            events.append({})
for n, ev in enumerate(events, 1):
    if ev:
        before = len(problems)
        check_schema(n, ev)
        if len(problems) > before:
            events[n - 1] = {}  # not looked at further

labels = {}


def label(run_id):
    if run_id not in labels:
        labels[run_id] = "r%d" % (len(labels) + 1)
    return labels[run_id]


jobs, said = {}, {}
pipeline_runs = set()
for n, ev in enumerate(events, 1):
    if not ev:
        continue
    rid = ev["run"]["runId"]
    job = ev["job"]["name"]
    kind = ev.get("eventType")
    if jobs.setdefault(rid, job) != job:
        problem(n, "run %s is of job %s and %s" % (rid, jobs[rid], job))
    seq = said.setdefault(rid, [])
    if kind == "START" and seq:
        problem(n, "%s: START after %s" % (job, seq))
    if kind in ("COMPLETE", "FAIL", "ABORT") and seq != ["START"]:
        problem(n, "%s: %s after %s" % (job, kind, seq))
    seq.append(kind)
    facets_of = ev["run"].get("facets", {})
    parent = facets_of.get("parent")
    if parent is None:
        pipeline_runs.add(rid)
    elif parent["run"]["runId"] not in pipeline_runs:
        problem(n, "%s: parent run %s not started before" %
                (job, parent["run"]["runId"]))
    ups = [u["job"]["name"]
           for u in facets_of.get("jobDependencies", {}).get("upstream", [])]
    print("%s %s run=%s parent=%s in=%s out=%s up=%s" % (
        kind, job, label(rid),
        label(parent["run"]["runId"]) if parent else "-",
        ",".join(d["name"] for d in ev.get("inputs", [])) or "-",
        ",".join(d["name"] for d in ev.get("outputs", [])) or "-",
        ",".join(ups) or "-"))
for rid, seq in said.items():
    if len(seq) != 2:
        problems.append("run %s of %s: %s" % (rid, jobs[rid], seq))

for p in problems:
    print("openlineage.py: " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
