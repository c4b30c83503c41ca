# What a step reads besides its inputs, in the pipeline file: params:,
# models:, environment:, deterministic:, register: deploy:, and the cache
# default of deploy steps. kiln validate takes every valid form and
# reports each bad one once, at its FILE:LINE:COL.
. "$(dirname "$0")/lib.sh"
cd "$T"

# 1. Every form the keys take.
pipeline good <<'YAML'
pipeline: good
params: {seed: 7, lr: 0.1, epochs: 3}
defaults:
  deterministic: false
  cache: true
  environment:
    files: [requirements.txt]
steps:
  train:
    kind: train
    params: [seed, lr]
    models: [churn@production, "features:3", base@latest?]
    environment:
      files: [uv.lock, conda-lock.yml]
      commands: [/usr/bin/python3 -m pip freeze, /usr/bin/python3 --version]
    outputs: [model.pkl]
    register: {model: churn, path: model.pkl, alias: staging, deploy: ./push.sh}
    run: touch model.pkl
  evaluate:
    needs: [train]
    params: []
    deterministic: true
    models:
      - {model: churn, alias: staging}
      - model: features
        version: 2
        optional: true
    run: "true"
  report:
    needs: [evaluate]
    params: epochs
    models: churn:12?
    environment: {commands: uname -a}
    run: "true"
YAML
kiln_rc validate good.yaml
eq "valid forms: exit 0" 0 "$rc"
eq "valid forms: ok" 'good.yaml: ok (pipeline "good", 3 steps)' "$out"
eq "valid forms: nothing on stderr" "" "$err"

# 2. Bad forms. Each file is a pipeline whose step "a" gets the lines
# given, from line 6 on: the errors' positions are easy to count.
step() {
    {
        printf 'pipeline: p\nparams: {seed: 7, lr: 0.1}\nsteps:\n'
        printf '  a:\n    run: "true"\n'
        cat
    } >"$T/$1.yaml"
}

# bad NAME 'LINE:COL: error: MESSAGE': kiln validate NAME.yaml exits 2
# with that one error and no other.
bad() {
    kiln_rc validate "$1.yaml"
    eq "$1: exit 2" 2 "$rc"
    eq "$1: the error" "$1.yaml:$2" "$err"
}

# params:
step param-unknown <<'YAML'
    params: [sed]
YAML
bad param-unknown '6:14: error: step "a" uses unknown param "sed" (did you mean "seed"?)'
step param-undeclared <<'YAML'
    params: [batch_size]
YAML
bad param-undeclared '6:14: error: step "a" uses unknown param "batch_size": declare it in the top-level "params:"'
step param-dup <<'YAML'
    params: [seed, lr, seed]
YAML
bad param-dup '6:24: error: step "a" uses param "seed" twice'
step param-empty-name <<'YAML'
    params:
      - seed
      - ""
YAML
bad param-empty-name '8:9: error: params: expected a param name, got ""'
pipeline param-none <<'YAML'
pipeline: p
steps:
  a:
    run: "true"
    params: [seed]
YAML
bad param-none '5:14: error: step "a" uses param "seed", but the pipeline declares no params (add it to the top-level "params:")'
pipeline param-defaults <<'YAML'
pipeline: p
params: {seed: 7}
defaults:
  params: [seed]
steps:
  a: {run: "true"}
YAML
bad param-defaults '4:3: error: unknown key "params" in defaults'

# models:
step model-no-alias <<'YAML'
    models: [churn@]
YAML
bad model-no-alias '6:14: error: models: "churn@" has no alias name (expected NAME@ALIAS or NAME:VERSION, such as churn@production or churn:3)'
step model-version-0 <<'YAML'
    models: ["churn:0"]
YAML
bad model-version-0 '6:14: error: models: "churn:0": expected a version number >= 1 after ":", such as churn:3'
step model-version-x <<'YAML'
    models: [churn:x]
YAML
bad model-version-x '6:14: error: models: "churn:x": expected a version number >= 1 after ":", such as churn:3'
step model-bare <<'YAML'
    models: [churn]
YAML
bad model-bare '6:14: error: models: "churn": expected NAME@ALIAS or NAME:VERSION, such as churn@production or churn:3'
step model-bad-name <<'YAML'
    models: [churn@production, Churn@production]
YAML
bad model-bad-name '6:32: error: models: "Churn@production": invalid model name "Churn": use lowercase letters, digits, "-" and "_"'
step model-both <<'YAML'
    models:
      - model: churn
        alias: production
        version: 3
YAML
bad model-both '9:9: error: models: give either "alias:" or "version:", not both'
step model-neither <<'YAML'
    models:
      - {model: churn, optional: true}
YAML
bad model-neither '7:9: error: models: an item needs "alias: NAME" or "version: N" besides "model:"'
step model-no-model <<'YAML'
    models: [{alias: production}]
YAML
bad model-no-model '6:14: error: models: an item needs "model: NAME"'
step model-version-map <<'YAML'
    models: [{model: churn, version: 0}]
YAML
bad model-version-map '6:38: error: version: expected a version number >= 1, got "0"'
step model-key <<'YAML'
    models: [{model: churn, alais: production}]
YAML
kiln_rc validate model-key.yaml
eq "model-key: exit 2" 2 "$rc"
contains "model-key: unknown key, with a guess" 'model-key.yaml:6:29: error: unknown key "alais" in models (did you mean "alias"?)' "$err"
# The same model by two references (champion and challenger) is fine; the
# same reference twice is not.
step model-two <<'YAML'
    models: [churn@production, "churn@challenger?"]
YAML
kiln_rc validate "$T/model-two.yaml"
eq "model-two: two aliases of one model" 0 "$rc"
step model-dup <<'YAML'
    models: [churn@production, "churn:3", churn@production]
YAML
bad model-dup '6:43: error: step "a" reads model "churn@production" twice'
step model-dup-map <<'YAML'
    models:
      - churn@staging?
      - {model: churn, alias: staging}
YAML
bad model-dup-map '8:9: error: step "a" reads model "churn@staging" twice'
step model-list <<'YAML'
    models: [[churn@production]]
YAML
bad model-list '6:14: error: models: expected a model such as churn@production, churn:3 or {model: churn, alias: production}, got a list'

# environment:
step env-key <<'YAML'
    environment:
      files: [uv.lock]
      file: [requirements.txt]
YAML
bad env-key '8:7: error: unknown key "file" in environment (did you mean "files"?)'
step env-empty <<'YAML'
    environment: {}
YAML
bad env-empty '6:5: error: environment: expected "files:" or "commands:" with at least one entry, such as {files: [requirements.txt]}'
step env-null <<'YAML'
    environment:
YAML
bad env-null '6:5: error: environment: expected "files:" or "commands:" with at least one entry, such as {files: [requirements.txt]}'
step env-empty-lists <<'YAML'
    environment: {files: [], commands: []}
YAML
bad env-empty-lists '6:5: error: environment: expected "files:" or "commands:" with at least one entry, such as {files: [requirements.txt]}'
step env-empty-string <<'YAML'
    environment: {commands: ["python3 --version", ""]}
YAML
bad env-empty-string '6:51: error: commands: expected a command, got ""'
step env-list <<'YAML'
    environment: [uv.lock]
YAML
bad env-list '6:18: error: environment: expected a mapping, got a list'
pipeline env-defaults <<'YAML'
pipeline: p
defaults:
  environment: {files: [""]}
steps:
  a: {run: "true"}
YAML
bad env-defaults '3:25: error: files: expected a path, got ""'

# deterministic:
step det-maybe <<'YAML'
    deterministic: "maybe"
YAML
bad det-maybe '6:20: error: deterministic: expected true or false, got "maybe"'
pipeline det-defaults <<'YAML'
pipeline: p
defaults: {deterministic: 0}
steps:
  a: {run: "true"}
YAML
bad det-defaults '2:27: error: deterministic: expected true or false, got "0"'

# register: deploy:
step deploy-list <<'YAML'
    outputs: [model.txt]
    register:
      model: churn
      path: model.txt
      deploy: [./push.sh]
YAML
bad deploy-list '10:15: error: deploy: expected a non-empty string, got a list'
step deploy-empty <<'YAML'
    outputs: [model.txt]
    register: {model: churn, path: model.txt, deploy: ""}
YAML
bad deploy-empty '7:55: error: deploy: expected a non-empty string, got ""'
step deploy-typo <<'YAML'
    outputs: [model.txt]
    register: {model: churn, path: model.txt, deplo: ./push.sh}
YAML
bad deploy-typo '7:47: error: unknown key "deplo" in register (did you mean "deploy"?)'

# 3. A deploy step is cached only when it says cache: true itself:
# defaults: cannot turn it on. kiln run twice shows which steps ran again.
pipeline c <<'YAML'
pipeline: c
defaults: {cache: true}
steps:
  train:
    run: echo run >> train.count; echo m > model.txt
    outputs: [model.txt]
  deploy:
    kind: deploy
    needs: [train]
    run: echo run >> deploy.count; cp model.txt served.txt
    outputs: [served.txt]
  deploy_cached:
    kind: deploy
    cache: true
    needs: [train]
    run: echo run >> deploy_cached.count; cp model.txt cached.txt
    outputs: [cached.txt]
YAML
counts() {
    for s in train deploy deploy_cached; do
        printf '%s ' "$(wc -l <$s.count)"
    done | sed 's/ $//'
}
kiln_rc run c.yaml
eq "first run" 0 "$rc"
eq "every step ran once" "1 1 1" "$(counts)"
kiln_rc run c.yaml
eq "second run" 0 "$rc"
eq "only the deploy step without cache: true ran again" "1 2 1" "$(counts)"
finish
