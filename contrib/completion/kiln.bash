# bash completion for kiln. Installed as
# share/bash-completion/completions/kiln.
#
# The commands and their options come from kiln itself (`kiln __complete`
# and `kiln __complete COMMAND`, read from the tables that parse them), so
# this file never falls behind: each option is "--name" or "--name VALUE",
# and VALUE says what to offer after it.
_kiln()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local kiln=${COMP_WORDS[0]} opts name value=
    command -v "$kiln" > /dev/null 2>&1 || kiln=kiln
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "$("$kiln" __complete 2>/dev/null) --help --version" -- "$cur"))
        return
    fi
    opts=$("$kiln" __complete "${COMP_WORDS[1]}" 2>/dev/null) || return
    while read -r name v; do
        [ "$name" = "$prev" ] && value=${v:--}
    done <<< "$opts"
    case $value in
    '') ;;
    -) ;;
    *'|'*)
        COMPREPLY=($(compgen -W "${value//|/ }" -- "$cur"))
        return ;;
    DIR)
        COMPREPLY=($(compgen -d -- "$cur"))
        return ;;
    FILE|PATH|*.csv)
        COMPREPLY=($(compgen -f -- "$cur"))
        return ;;
    REV)
        COMPREPLY=($(compgen -W "$(git for-each-ref --format='%(refname:short)' 2>/dev/null) HEAD" -- "$cur"))
        return ;;
    *)
        # A number, a name, a URL: nothing to offer.
        COMPREPLY=()
        return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(grep -oE -- '^--[a-z-]+' <<< "$opts")" -- "$cur"))
        return
    fi
    case ${COMP_WORDS[1]} in
    run|validate|dag|serve)
        COMPREPLY=($(compgen -f -X '!*.@(yaml|yml)' -- "$cur") $(compgen -d -- "$cur"))
        ;;
    models)
        [ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W "promote rollback pull" -- "$cur"))
        ;;
    artifacts)
        [ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W "get" -- "$cur"))
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
