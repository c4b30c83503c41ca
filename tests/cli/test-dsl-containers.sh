# Container steps in the pipeline file: image: and container:, on a step
# or in defaults:. kiln validate takes every valid form, reports each bad
# one once at its FILE:LINE:COL, and says when a step's container engine
# is not installed (once per engine, at its first step that runs here).
. "$(dirname "$0")/lib.sh"
cd "$T"

# Engines are only looked up in PATH, never run: fake ones will do. kiln
# validate runs with a PATH of these directories only, since this machine
# may have podman and docker in /usr/bin or /usr/local/bin.
mkdir -p bin-podman bin-docker bin-both bin-none slurm
for e in podman docker; do
    printf '#!/bin/sh\nexit 1\n' >"bin-$e/$e"
    chmod +x "bin-$e/$e"
    ln -s "$T/bin-$e/$e" "bin-both/$e"
done
for c in sbatch squeue scancel; do
    printf '#!/bin/sh\nexit 1\n' >"slurm/$c"
    chmod +x "slurm/$c"
done
# A directory named podman is no engine.
mkdir -p bin-dir/podman

# validate DIR FILE...: kiln validate with PATH=$T/DIR; $rc, $out, $err.
validate() {
    local dir=$1; shift
    PATH="$T/$dir" "$KILN" validate "$@" >"$T/out" 2>"$T/err"
    rc=$?
    out=$(cat "$T/out")
    err=$(cat "$T/err")
}

# 1. Every form the keys take.
pipeline good <<'YAML'
pipeline: good
defaults:
  image: registry.example.com:5000/team/img:1.2
  container:
    engine: podman
    pull: missing
    network: default
    mounts: [data:/data:ro, /srv/cache:/cache:rw, ./out:/out]
    gpus: 1
steps:
  from_defaults:
    run: python3 train.py
  own_image:
    image: localhost/kiln-test:py
    run: "true"
  own_block:
    container:
      pull: never
      network: none
      gpus: all
      options: ["--shm-size=1g", --init, "--env=X=1"]
    run: "true"
  pinned:
    image: python@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    container: {pull: always}
    run: "true"
  tag_and_digest:
    image: "python:3.12@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    run: "true"
  builtin:
    image: docker.io/library/python:3.12-slim
    container:
    run: "true"
  on_host:
    image: ""
    run: "true"
  on_host_too:
    image: null
    run: "true"
  check:
    kind: validate
    image: ""
    data: data.csv
    schema: {id: int}
YAML
validate bin-podman good.yaml
eq "valid forms: exit 0" 0 "$rc"
eq "valid forms: ok" 'good.yaml: ok (pipeline "good", 9 steps)' "$out"
eq "valid forms: nothing on stderr" "" "$err"

# Without defaults:, and docker.
pipeline docker <<'YAML'
pipeline: docker
steps:
  host: {run: "true"}
  box:
    image: my-org/my__img.v2:_tag
    container: {engine: docker, mounts: "/a:/b", options: -q}
    run: "true"
YAML
validate bin-docker docker.yaml
eq "docker: exit 0" 0 "$rc"
eq "docker: nothing on stderr" "" "$err"

# 2. Bad forms. Each file is a pipeline whose step "a" gets the lines
# given, from line 5 on: the errors' positions are easy to count.
step() {
    {
        printf 'pipeline: p\nsteps:\n'
        printf '  a:\n    run: "true"\n'
        cat
    } >"$T/$1.yaml"
}

# bad NAME 'LINE:COL: error: MESSAGE': kiln validate NAME.yaml exits 2
# with that one error and no other (the engines are there).
bad() {
    validate bin-both "$1.yaml"
    eq "$1: exit 2" 2 "$rc"
    eq "$1: the error" "$1.yaml:$2" "$err"
}

# image:
step image-space <<'YAML'
    image: "python 3"
YAML
bad image-space '5:12: error: image: "python 3": an image reference holds no spaces or control characters'
step image-tab <<'YAML'
    image: "python\t"
YAML
bad image-tab '5:12: error: image: "python\t": an image reference holds no spaces or control characters'
step image-upper <<'YAML'
    image: Team/Python:3
YAML
bad image-upper '5:12: error: image: "Team/Python:3": repository names are lowercase'
step image-digest-short <<'YAML'
    image: python@sha256:0123abc
YAML
bad image-digest-short '5:12: error: image: "python@sha256:0123abc": a digest is "sha256:" and 64 lowercase hex digits'
step image-digest-upper <<'YAML'
    image: python@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef
YAML
bad image-digest-upper '5:12: error: image: "python@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef01...": a digest is "sha256:" and 64 lowercase hex digits'
step image-tag <<'YAML'
    image: "python:"
YAML
bad image-tag '5:12: error: image: "python:": a tag is letters, digits, "_", "." and "-" (at most 128, not starting with "." or "-")'
step image-registry <<'YAML'
    image: registry.example.com:port/img
YAML
bad image-registry '5:12: error: image: "registry.example.com:port/img": invalid registry "registry.example.com:port" (expected HOST or HOST:PORT, such as registry.example.com:5000)'
step image-slashes <<'YAML'
    image: team//img
YAML
bad image-slashes '5:12: error: image: "team//img": an empty name component ("//", or "/" at either end)'
step image-list <<'YAML'
    image: [python]
YAML
bad image-list '5:12: error: image: expected an image such as python:3.12, registry.example.com:5000/team/img:1.2 or python@sha256:<64 hex digits>, got a list'
step image-char <<'YAML'
    image: python$3
YAML
bad image-char '5:12: error: image: "python$3": unexpected character "$" (expected NAME[:TAG] or NAME@sha256:DIGEST, such as python:3.12, registry.example.com:5000/team/img:1.2 or python@sha256:<64 hex digits>)'
pipeline image-defaults <<'YAML'
pipeline: p
defaults:
  image: "Python"
steps:
  a: {run: "true"}
YAML
bad image-defaults '3:10: error: image: "Python": repository names are lowercase'

# container:
step container-no-image <<'YAML'
    container: {engine: podman}
YAML
bad container-no-image '5:5: error: step "a": container: needs an image (write image: on the step or in defaults:)'
pipeline container-image-off <<'YAML'
pipeline: p
defaults: {image: python:3}
steps:
  a:
    run: "true"
    image: ""
    container: {network: none}
YAML
bad container-image-off '7:5: error: step "a": container: needs an image (image: here turns the defaults'"'"' off)'
pipeline container-defaults-unused <<'YAML'
pipeline: p
defaults:
  container: {engine: docker}
steps:
  a: {run: "true"}
YAML
bad container-defaults-unused '3:3: error: defaults: container: applies to no step: no step has an image:'
step container-key <<'YAML'
    image: python
    container:
      engine: docker
      netwrok: none
YAML
bad container-key '8:7: error: unknown key "netwrok" in container (did you mean "network"?)'
step container-list <<'YAML'
    image: python
    container: [podman]
YAML
bad container-list '6:16: error: container: expected a mapping, got a list'
step engine-typo <<'YAML'
    image: python
    container: {engine: dokcer}
YAML
bad engine-typo '6:25: error: engine: unknown value "dokcer" (did you mean "docker"?)'
step engine-other <<'YAML'
    image: python
    container: {engine: containerd}
YAML
bad engine-other '6:25: error: engine: expected podman or docker, got "containerd"'
step pull-bad <<'YAML'
    image: python
    container: {pull: sometimes}
YAML
bad pull-bad '6:23: error: pull: expected missing, always or never, got "sometimes"'
step pull-typo <<'YAML'
    image: python
    container: {pull: allways}
YAML
bad pull-typo '6:23: error: pull: unknown value "allways" (did you mean "always"?)'
step network-host <<'YAML'
    image: python
    container: {network: host}
YAML
bad network-host '6:26: error: network: expected default or none, got "host"'
step mount-relative <<'YAML'
    image: python
    container:
      mounts: [data:/data, data:data]
YAML
bad mount-relative '7:28: error: mounts: "data:data": the container path must be absolute (HOST:CONTAINER[:ro], such as data:/data:ro)'
step mount-one-part <<'YAML'
    image: python
    container:
      mounts:
        - /data
YAML
bad mount-one-part '8:11: error: mounts: "/data": expected HOST:CONTAINER or HOST:CONTAINER:ro, such as data:/data:ro'
step mount-no-host <<'YAML'
    image: python
    container: {mounts: [":/data"]}
YAML
bad mount-no-host '6:26: error: mounts: ":/data": expected HOST:CONTAINER or HOST:CONTAINER:ro, such as data:/data:ro'
step mount-mode <<'YAML'
    image: python
    container: {mounts: ["data:/data:rx"]}
YAML
bad mount-mode '6:26: error: mounts: "data:/data:rx": expected "ro" or "rw" after the container path (paths with ":" cannot be mounted)'
step mount-twice <<'YAML'
    image: python
    container: {mounts: ["a:/data", "b:/data:ro"]}
YAML
bad mount-twice '6:37: error: mounts: "b:/data:ro": a second mount at the same container path'
step mount-empty <<'YAML'
    image: python
    container: {mounts: [""]}
YAML
bad mount-empty '6:26: error: mounts: expected a mount such as data:/data:ro, got ""'
step gpus-zero <<'YAML'
    image: python
    container: {gpus: 0}
YAML
bad gpus-zero '6:23: error: gpus: expected an integer from 1 to 4096 or "all", got "0"'
step gpus-word <<'YAML'
    image: python
    container: {gpus: some}
YAML
bad gpus-word '6:23: error: gpus: expected an integer from 1 to 4096 or "all", got "some"'
step options-word <<'YAML'
    image: python
    container:
      options: [--init, "-e", "X=1"]
YAML
bad options-word '7:31: error: options: "X=1" is not an engine option (expected something like --shm-size=1g: a flag and its value in one item, joined by "=")'
step options-map <<'YAML'
    image: python
    container: {options: {init: true}}
YAML
bad options-map '6:26: error: options: expected a list of engine options such as ["--shm-size=1g"], got a mapping'

# A validate step's checks run on the host.
pipeline validate-image <<'YAML'
pipeline: p
steps:
  check:
    kind: validate
    data: data.csv
    image: python:3
YAML
bad validate-image '6:5: error: step "check": a validate step with checks runs on the host: it cannot have an image:'
pipeline validate-defaults <<'YAML'
pipeline: p
defaults: {image: python:3}
steps:
  check:
    kind: validate
    data: data.csv
YAML
bad validate-defaults '4:3: error: step "check": a validate step with checks runs on the host, but defaults: give it an image: write image: "" in the step'

# 3. The engine must be installed, here: said once per engine, at its
# first step; a Slurm step's container runs on a node, not checked here.
pipeline engines <<'YAML'
pipeline: engines
defaults: {image: python:3}
steps:
  host: {run: "true", image: ""}
  p1: {run: "true"}
  d1: {run: "true", container: {engine: docker}}
  p2: {run: "true"}
  d2: {run: "true", container: {engine: docker}}
YAML
validate bin-none engines.yaml
eq "no engines: exit 2" 2 "$rc"
eq "no engines: one error per engine" 'engines.yaml:5:3: error: step "p1": container engine podman not found in PATH (install podman, or use "engine: docker" in the step'"'"'s container:)
engines.yaml:6:3: error: step "d1": container engine docker not found in PATH (install docker, or use "engine: podman" in the step'"'"'s container:)' "$err"
validate bin-podman engines.yaml
eq "podman only: exit 2" 2 "$rc"
eq "podman only: docker missing" 'engines.yaml:6:3: error: step "d1": container engine docker not found in PATH (install docker, or use "engine: podman" in the step'"'"'s container:)' "$err"
validate bin-dir engines.yaml
contains "a directory is no engine" 'step "p1": container engine podman not found' "$err"
validate bin-both engines.yaml
eq "both engines: exit 0" 0 "$rc"
eq "both engines: ok" 'engines.yaml: ok (pipeline "engines", 5 steps)' "$out"
pipeline nobox <<'YAML'
pipeline: nobox
defaults: {image: python:3}
steps:
  host: {run: "true", image: ""}
YAML
validate bin-none nobox.yaml
eq "no container step: no engine needed" 0 "$rc"
pipeline slurm <<'YAML'
pipeline: slurm
steps:
  train: {run: "true", executor: slurm, image: python:3}
YAML
KILN_SLURM_BIN=$T/slurm validate bin-none slurm.yaml
eq "a Slurm step's engine is on the node" 0 "$rc"
eq "a Slurm step: nothing on stderr" "" "$err"
# kiln run checks the same before running anything.
PATH="$T/bin-none" "$KILN" run engines.yaml >"$T/out" 2>"$T/err"
rc=$?
eq "kiln run: exit 2" 2 "$rc"
contains "kiln run: the engine" 'container engine podman not found in PATH' "$(cat "$T/err")"
finish
