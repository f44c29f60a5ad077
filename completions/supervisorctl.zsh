#compdef supervisorctl
# zsh completion for supervisorctl (supervisor-rs)
# Install: put this file in a directory of $fpath as _supervisorctl
# (generate with: supervisorctl completions zsh > "${fpath[1]}/_supervisorctl")

_supervisorctl_names() {
    local what=$1; shift
    local -a lines names
    lines=(${(f)"$(supervisorctl "$@" status 2>/dev/null)"})
    local l ns g
    for l in $lines; do
        ns=${l%% *}
        [[ -z $ns ]] && continue
        if [[ $what == groups ]]; then
            g=${ns%%:*}
            (( ${names[(Ie)$g]} )) || names+=($g)
        else
            names+=($ns)
            if [[ $ns == *:* ]]; then
                g="${ns%%:*}:*"
                (( ${names[(Ie)$g]} )) || names+=($g)
            fi
        fi
    done
    print -l -- $names
}

_supervisorctl() {
    local -a commands global
    commands=(
        'add:activate updates in config for process/group'
        'avail:display all configured processes'
        'clear:clear process log files'
        'exit:exit the supervisor shell'
        'fg:connect to a process in foreground mode'
        'help:print help'
        'maintail:tail the supervisord main log'
        'open:connect to a remote supervisord'
        'pid:get the PID of supervisord or a process'
        'quit:exit the supervisor shell'
        'reload:restart the remote supervisord'
        'remove:remove process/group from active config'
        'reread:reload config files without add/remove'
        'restart:restart processes'
        'shutdown:shut the remote supervisord down'
        'signal:signal processes'
        'start:start processes'
        'status:get process status'
        'stop:stop processes'
        'tail:tail a process log'
        'update:reload config and add/remove as necessary'
        'version:show the remote supervisord version'
    )
    local -a opts
    local i=2
    while (( i < CURRENT )); do
        case ${words[i]} in
            -c|-s|-u|-p|-r) opts+=(${words[i]} ${words[i+1]}); (( i += 2 )) ;;
            -*) opts+=(${words[i]}); (( i += 1 )) ;;
            *) break ;;
        esac
    done
    if (( i >= CURRENT )); then
        _arguments -s \
            '(-c --configuration)'{-c,--configuration}'[configuration file]:file:_files' \
            '(-h --help)'{-h,--help}'[print usage and exit]' \
            '(-i --interactive)'{-i,--interactive}'[start an interactive shell]' \
            '(-s --serverurl)'{-s,--serverurl}'[server URL]:url:' \
            '(-u --username)'{-u,--username}'[user name]:user:' \
            '(-p --password)'{-p,--password}'[password]:password:' \
            '(-r --history_file)'{-r,--history_file}'[history file]:file:_files' \
            '*::command:->cmd' && return
        _describe -t commands 'supervisorctl command' commands
        return
    fi
    local action=${words[i]}
    local -a names
    case $action in
        help) _describe -t commands 'command' commands ;;
        add|remove|update)
            names=(${(f)"$(_supervisorctl_names groups $opts)"})
            compadd -a names ;;
        clear|fg|pid|restart|rotate|signal|start|status|stop|tail|top)
            names=(${(f)"$(_supervisorctl_names processes $opts)"})
            [[ $action == (clear|pid|restart|rotate|signal|start|status|stop) ]] && names+=(all)
            [[ $action == tail ]] && names+=(-f stdout stderr)
            compadd -a names ;;
        maintail) compadd -- -f ;;
        token) compadd -- create list revoke --role ;;
    esac
}

_supervisorctl "$@"
