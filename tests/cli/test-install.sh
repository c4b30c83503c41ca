# cmake --install: the binary and kiln-shim, the man page, bash completion
# and the systemd unit, under a temporary prefix.
. "$(dirname "$0")/lib.sh"
build=$(dirname "$KILN")
# DESTDIR, as packagers do: paths inside the files stay the configured
# prefix's.
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
P=$T/root$prefix
check "cmake --install" env DESTDIR="$T/root" cmake --install "$build" > /dev/null
for f in bin/kiln bin/kiln-shim share/man/man1/kiln.1 \
         share/bash-completion/completions/kiln lib/systemd/system/kiln.service; do
    check "$f installed" test -s "$P/$f"
done
kiln_rc() { "$P/bin/kiln" "$@" >"$T/out" 2>"$T/err"; rc=$?; out=$(cat "$T/out"); err=$(cat "$T/err"); }
kiln_rc --version
eq "the installed kiln runs" 0 "$rc"
# It finds its kiln-shim next to itself: a daemon run works.
printf 'pipeline: i\nsteps:\n  a: {run: "echo hi"}\n' > "$T/i.yaml"
"$P/bin/kiln" serve --state "$T/st" --listen none "$T/i.yaml" > "$T/serve.log" 2>&1 &
daemon=$!; daemons+=("$daemon")
wait_for "the installed daemon" 10 'grep -q "pipeline loaded" "$T/serve.log"'
KILN_STATE=$T/st "$P/bin/kiln" trigger i --wait > /dev/null
eq "a run under the installed daemon" succeeded "$(sqlite3 "$T/st/kiln.db" "select status from runs")"
stop "$daemon"

# The unit: hardened, and pointing at the installed binary.
u=$(cat "$P/lib/systemd/system/kiln.service")
contains "ExecStart" "ExecStart=$prefix/bin/kiln serve --state \${STATE_DIRECTORY}" "$u"
for k in DynamicUser=yes StateDirectory=kiln ProtectSystem=strict NoNewPrivileges=yes KillMode=mixed; do
    contains "$k" "$k" "$u"
done
if command -v systemd-analyze > /dev/null; then
    # Verified with ExecStart pointing where the binary is now.
    sed "s|$prefix/bin/kiln|$P/bin/kiln|" "$P/lib/systemd/system/kiln.service" > "$T/kiln.service"
    check "systemd-analyze verify" systemd-analyze verify --man=no "$T/kiln.service"
fi
# The man page is well-formed troff, and names every command.
if command -v groff > /dev/null; then
    check "the man page renders" sh -c "groff -man -Tutf8 -ww '$P/share/man/man1/kiln.1' > /dev/null 2> '$T/groff.err' && ! test -s '$T/groff.err'"
fi
cmds=$("$P/bin/kiln" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF {print $1}')
for c in $cmds; do
    case $c in validate-step) continue ;; esac
    contains "man page: $c" ".B $c" "$(grep -E '^\.B|^\.B ' "$P/share/man/man1/kiln.1" | tr '\n' ' ')"
done
# Completion: every command, and a command's own options.
comp() { bash -c ". '$P/share/bash-completion/completions/kiln'; PATH='$P/bin':\$PATH; COMP_WORDS=($1); COMP_CWORD=$2; _kiln; echo \"\${COMPREPLY[*]}\""; }
for c in $cmds; do
    case $c in validate-step) continue ;; esac
    contains "completion: $c" "$c" "$(comp "kiln ${c:0:3}" 1)"
done
contains "completion: options from --help" "--junit" "$(comp "kiln run --ju" 2)"
finish
