# bash completion for kiln. Installed as
# share/bash-completion/completions/kiln.
_kiln()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local commands="run validate dag runs show logs lineage metrics models gc
        drift serve status trigger triggers cancel resume abandon cron"
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
        return
    fi
    case $prev in
    --state|-s|--token-file|--junit|--reference|--current|--commit)
        COMPREPLY=($(compgen -f -- "$cur"))
        return ;;
    --method)
        COMPREPLY=($(compgen -W "psi js ks wasserstein" -- "$cur"))
        return ;;
    --format)
        COMPREPLY=($(compgen -W "text json dot github" -- "$cur"))
        return ;;
    esac
    if [[ $cur == -* ]]; then
        # Each command lists its own options in --help.
        local opts
        opts=$(kiln "${COMP_WORDS[1]}" --help 2>/dev/null |
               grep -oE -- '--[a-z][a-z-]*' | sort -u)
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    case ${COMP_WORDS[1]} in
    run|validate|dag|serve)
        COMPREPLY=($(compgen -f -X '!*.@(yaml|yml)' -- "$cur") $(compgen -d -- "$cur"))
        ;;
    models)
        [ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W "promote rollback" -- "$cur"))
        ;;
    metrics)
        [ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W "diff" -- "$cur"))
        ;;
    cron)
        [ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W "next" -- "$cur"))
        ;;
    *)
        COMPREPLY=($(compgen -f -- "$cur"))
        ;;
    esac
}
complete -F _kiln kiln
