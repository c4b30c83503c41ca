# What the status page's models view reads: GET /api/v1/models(/NAME)
# gives each version the params of the run that made it and its key
# metrics (those the run's gates read, else the registering step's first
# two, else the run's first two), and the history of the aliases (who
# moved which alias from which version to which), as kiln models history
# and kiln models --json have them.
. "$(dirname "$0")/lib.sh"
TOKEN=0123456789abcdef-test-token
printf '%s\n' "$TOKEN" > "$T/token"
chmod 600 "$T/token"
mkdir -p "$T/p"
# gated: ship's gate reads train.f1 (not the first metric) and
# evaluate.auc; plain: no gate, three metrics; bare: the registering step
# has none, evaluate has one.
cat > "$T/p/gated.yaml" <<'YAML'
pipeline: gated
params: {lr: 0.1}
steps:
  train:
    run: |
      echo "m $KILN_PARAM_LR" > m.txt
      echo '{"loss": 0.2, "acc": 0.8, "f1": 0.7}' > "$KILN_METRICS"
    outputs: [m.txt]
    register: {model: gm, path: m.txt}
  evaluate:
    needs: [train]
    run: |
      echo '{"auc": 0.9}' > "$KILN_METRICS"
  ship:
    needs: [evaluate]
    when: metrics.train.f1 >= 0.5 && metrics.evaluate.auc > 0.5
    run: echo shipped
YAML
cat > "$T/p/plain.yaml" <<'YAML'
pipeline: plain
steps:
  train:
    run: |
      echo p > p.txt
      echo '{"loss": 0.3, "acc": 0.6, "f1": 0.5}' > "$KILN_METRICS"
    outputs: [p.txt]
    register: {model: pm, path: p.txt}
YAML
cat > "$T/p/bare.yaml" <<'YAML'
pipeline: bare
steps:
  make:
    run: echo b > b.txt
    outputs: [b.txt]
    register: {model: bm, path: b.txt}
  evaluate:
    needs: [make]
    run: |
      echo '{"size": 2}' > "$KILN_METRICS"
YAML
for f in gated plain bare; do
    kiln_rc run "$T/p/$f.yaml"
    eq "run $f" 0 "$rc"
done
kiln_rc run "$T/p/gated.yaml" --param lr=0.5
eq "run gated again" 0 "$rc"
kiln_rc models promote gm 1 production
eq "promote v1" 0 "$rc"
kiln_rc models promote gm 2 production
eq "promote v2" 0 "$rc"

serve serve.log --token-file "$T/token" "$T/p"
wait_for "the web URL" 10 '[ -n "$(web_url)" ]'
U=$(web_url)
get() { body=$(curl -s -H "Authorization: Bearer $TOKEN" "${U}api/v1/$1"); }
js() { printf '%s' "$body" | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

get models/gm
eq "params of each version's run" "2:0.5 1:0.1" \
    "$(js '" ".join("%d:%s" % (v["version"], v["params"]["lr"]) for v in d["versions"])')"
eq "key metrics: what the gates read, in their order" \
    "gates train.f1=0.7 evaluate.auc=0.9" \
    "$(js '" ".join([d["versions"][0]["key_metrics_from"]] + ["%s=%s" % kv for kv in d["versions"][0]["key_metrics"].items()])')"
eq "all of the registering step's metrics still there" 3 "$(js 'len(d["versions"][0]["metrics"])')"
eq "the alias history" "production None 1 cli|production 1 2 cli" \
    "$(js '"|".join("%s %s %s %s" % (h["alias"], h["from"], h["to"], h["via"]) for h in d["history"])')"
eq "by the Unix user" "$(id -un)" "$(js 'd["history"][1]["by"]')"
api_history=$(js 'd["history"]')
kiln_rc models history gm --json
eq "kiln models history says the same" "$api_history" \
    "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin))')"
get models/pm
eq "no gate: the registering step's first two" \
    "registering step train.loss train.acc" \
    "$(js 'd["versions"][0]["key_metrics_from"] + " " + " ".join(d["versions"][0]["key_metrics"])')"
eq "no alias moved, no history" "[]" "$(js 'd["history"]')"
get models/bm
eq "none at the registering step: the run's first" "run evaluate.size" \
    "$(js 'd["versions"][0]["key_metrics_from"] + " " + " ".join(d["versions"][0]["key_metrics"])')"
get models
eq "every model's history in the list" "gm gm" "$(js '" ".join(h["name"] for h in d["history"])')"
kiln_rc models --json
eq "kiln models --json has them too" "gates" "$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print([v for v in json.load(sys.stdin) if v["name"] == "gm"][0]["key_metrics_from"])')"

# A model of many versions: the list gives each model's newest 20 and
# those an alias points at (?limit=N, 0: all), and the newest 100 moves
# (?history=N), so a long registry is not sent whole (on a million runs:
# 32 MB in 21 s, on the daemon's loop).
cat > "$T/many.yaml" <<'YAML'
pipeline: many
params: {v: 1}
steps:
  make:
    run: echo "w $KILN_PARAM_V" > w.txt
    outputs: [w.txt]
    register: {model: many, path: w.txt}
YAML
for v in $(seq 25); do "$KILN" run "$T/many.yaml" --param v=$v >/dev/null 2>&1; done
kiln_rc models promote many 2 production
eq "25 versions, v2 in production" "0 25" "$rc $(q "select count(*) from models where name = 'many'")"
get models
eq "GET /api/v1/models: the newest 20 of many, and v2 (production)" \
    "21 25 6 2 20 100" \
    "$(js '" ".join(str(x) for x in (lambda v: [len(v), v[0], v[19], v[20], d["limit"], d["history_limit"]])([x["version"] for x in d["versions"] if x["name"] == "many"]))')"
get "models?limit=0"
eq "?limit=0: all of them" 25 "$(js 'len([x for x in d["versions"] if x["name"] == "many"])')"
get "models/many?limit=3"
eq "?limit=3: the newest 3, and production's" "25 24 23 2" "$(js '" ".join(str(x["version"]) for x in d["versions"])')"
get "models/gm?history=1"
eq "?history=1: the newest move" "production 1 2" "$(js '" ".join(str(d["history"][0][k]) for k in ("alias", "from", "to")) + ("" if len(d["history"]) == 1 else " and more")')"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "${U}api/v1/models?limit=-1")
eq "?limit=-1: 400" 400 "$code"
stop "$daemon"

# The models view says what it left out and lists all on demand.
browser_check "the models view: the newest versions, then all on demand" \
    models-more.mjs "$T/p"
finish
