# fish completion for supervisorctl (supervisor-rs)
# Install: supervisorctl completions fish > ~/.config/fish/completions/supervisorctl.fish

function __supervisorctl_names
    set -l what $argv[1]
    set -l seen
    for line in (supervisorctl status 2>/dev/null)
        set -l ns (string split -m1 ' ' -- $line)[1]
        test -z "$ns"; and continue
        set -l g (string split -m1 ':' -- $ns)[1]
        if test "$what" = groups
            contains -- $g $seen; or begin; set -a seen $g; echo $g; end
        else
            echo $ns
            if string match -q '*:*' -- $ns
                contains -- "$g:*" $seen; or begin; set -a seen "$g:*"; echo "$g:*"; end
            end
        end
    end
end

set -l __supervisorctl_cmds add avail clear exit fg help maintail open pid quit reload remove reread restart shutdown signal start status stop tail update version

complete -c supervisorctl -f
complete -c supervisorctl -s c -l configuration -r -F -d 'configuration file'
complete -c supervisorctl -s h -l help -d 'print usage and exit'
complete -c supervisorctl -s i -l interactive -d 'start an interactive shell'
complete -c supervisorctl -s s -l serverurl -x -d 'server URL'
complete -c supervisorctl -s u -l username -x -d 'user name'
complete -c supervisorctl -s p -l password -x -d 'password'
complete -c supervisorctl -s r -l history_file -r -F -d 'history file'
complete -c supervisorctl -n "not __fish_seen_subcommand_from $__supervisorctl_cmds" -a "$__supervisorctl_cmds"
complete -c supervisorctl -n '__fish_seen_subcommand_from help' -a "$__supervisorctl_cmds"
complete -c supervisorctl -n '__fish_seen_subcommand_from add remove update' -a '(__supervisorctl_names groups)'
complete -c supervisorctl -n '__fish_seen_subcommand_from clear fg pid restart rotate signal start status stop tail top' -a '(__supervisorctl_names processes)'
complete -c supervisorctl -n '__fish_seen_subcommand_from clear pid restart rotate signal start status stop' -a all
complete -c supervisorctl -n '__fish_seen_subcommand_from tail' -a 'stdout stderr -f'
complete -c supervisorctl -n '__fish_seen_subcommand_from maintail' -a '-f'
complete -c supervisorctl -n '__fish_seen_subcommand_from token' -a 'create list revoke --role'
