# bash completion for supervisorctl (supervisor-rs)
# Install: source this file, or copy it to /etc/bash_completion.d/supervisorctl
# (generate with: supervisorctl completions bash)

_supervisorctl_names() {
    # $1: "processes" or "groups"; remaining args: global options to pass through
    local what=$1; shift
    "${COMP_WORDS[0]}" "$@" status 2>/dev/null | awk -v what="$what" '
        NF >= 2 {
            ns = $1
            n = index(ns, ":")
            if (what == "groups") {
                g = (n > 0) ? substr(ns, 1, n - 1) : ns
                if (!(g in seen)) { seen[g] = 1; print g }
            } else {
                print ns
                if (n > 0) {
                    g = substr(ns, 1, n - 1) ":*"
                    if (!(g in seen)) { seen[g] = 1; print g }
                }
            }
        }'
}

_supervisorctl() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    local prev=${COMP_WORDS[COMP_CWORD-1]}
    local commands="add avail clear exit fg help maintail open pid quit reload remove reread restart shutdown signal start status stop tail update version"
    local i=1 action="" opts=()
    while [ "$i" -lt "$COMP_CWORD" ]; do
        case ${COMP_WORDS[i]} in
            -c|-s|-u|-p|-r) opts+=("${COMP_WORDS[i]}" "${COMP_WORDS[i+1]}"); i=$((i + 2)) ;;
            -*) opts+=("${COMP_WORDS[i]}"); i=$((i + 1)) ;;
            *) action=${COMP_WORDS[i]}; break ;;
        esac
    done
    case $prev in
        -c|--configuration|-r|--history_file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        -s|--serverurl|-u|--username|-p|--password) return ;;
    esac
    if [ -z "$action" ]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "-c -h -i -s -u -p -r --configuration --help --interactive --serverurl --username --password --history_file" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return
    fi
    local words
    case $action in
        help) words=$commands ;;
        add|remove|update) words=$(_supervisorctl_names groups "${opts[@]}") ;;
        clear|fg|pid|restart|rotate|signal|start|status|stop|tail|top)
            words="$(_supervisorctl_names processes "${opts[@]}")"
            case $action in
                clear|pid|restart|rotate|signal|start|status|stop) words="$words all" ;;
                tail) words="$words -f stdout stderr" ;;
            esac ;;
        maintail) words="-f" ;;
        token) words="create list revoke --role" ;;
        *) return ;;
    esac
    # group:name contains a colon, which bash treats as a word break
    local cur_full=$cur
    if [[ ${COMP_WORDBREAKS} == *:* && ${COMP_LINE:0:COMP_POINT} =~ ([^[:space:]]*)$ ]]; then
        cur_full=${BASH_REMATCH[1]}
    fi
    COMPREPLY=($(compgen -W "$words" -- "$cur_full"))
    if [[ $cur_full == *:* && ${COMP_WORDBREAKS} == *:* ]]; then
        local prefix=${cur_full%"${cur_full##*:}"}
        local k
        for k in "${!COMPREPLY[@]}"; do
            COMPREPLY[$k]=${COMPREPLY[$k]#"$prefix"}
        done
    fi
}

complete -F _supervisorctl supervisorctl
