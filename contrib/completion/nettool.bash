# nettool.bash - bash completion for nettool: applets, handlers, modes,
# options, and the program after "serve exec ... --".
# Installed as $(datadir)/bash-completion/completions/nettool.

_nettool()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi

    # The applets this nettool has, or the ones it had when this was written.
    local applets
    applets=$("${words[0]}" --list 2>/dev/null) || applets="bench echo serve"
    local handlers="echo discard exec"
    local modes="sync thread fork async"
    local i applet="" first=1

    # The applet: from the command's name (nettool-serve, serve) or the
    # first argument.
    case ${words[0]##*/} in
        nettool-*) applet=${words[0]##*/nettool-}; applet=${applet#nettool-} ;;
        serve|echo|bench) applet=${words[0]##*/} ;;
        *)
            if [[ $cword -eq 1 ]]; then
                if [[ $cur == -* ]]; then
                    COMPREPLY=($(compgen -W "--help --list --version" -- "$cur"))
                else
                    COMPREPLY=($(compgen -W "$applets help" -- "$cur"))
                fi
                return
            fi
            applet=${words[1]}
            first=2 ;;
    esac

    if [[ $applet == help ]]; then
        [[ $cword -eq 2 ]] && COMPREPLY=($(compgen -W "$applets" -- "$cur"))
        return
    fi

    # After "--", serve exec runs a program: complete commands, then files.
    for ((i = first; i < cword; i++)); do
        if [[ ${words[i]} == -- ]]; then
            if [[ $i -eq $((cword - 1)) ]]; then
                COMPREPLY=($(compgen -c -- "$cur"))
            else
                COMPREPLY=($(compgen -f -- "$cur"))
            fi
            return
        fi
    done

    case $prev in
        -m|--mode)
            COMPREPLY=($(compgen -W "$modes" -- "$cur"))
            return ;;
        -l|--listen)
            if [[ $cur == unix:* ]]; then
                COMPREPLY=($(compgen -P unix: -f -- "${cur#unix:}"))
            else
                COMPREPLY=($(compgen -W "127.0.0.1:7000 [::1]:7000 0.0.0.0:7000 unix: fd:3 systemd" -- "$cur"))
            fi
            compopt -o nospace 2>/dev/null
            return ;;
        -w|--workers|--stack-size|--max-conns|--per-ip|--timeout|--request-timeout|--drain|--backlog|\
        -c|--conns|-s|--size|-d|--duration|--rate|--warmup)
            return ;;
    esac

    local opts
    case $applet in
        serve)
            opts="-l --listen -m --mode -u --udp --dgram -w --workers --stack-size
                  --max-conns --per-ip --timeout --request-timeout --drain
                  --backlog --nodelay --reuse-port -v --verbose -q --quiet
                  -h --help --"
            # The first word that is not an option is the handler.
            local have_handler=""
            for ((i = first; i < cword; i++)); do
                case ${words[i]} in
                    -l|--listen|-m|--mode|-w|--workers|--stack-size|--max-conns|--per-ip|--timeout|--request-timeout|--drain|--backlog)
                        ((i++)) ;;
                    -*) ;;
                    *) have_handler=1 ;;
                esac
            done
            if [[ -z $have_handler && $cur != -* ]]; then
                COMPREPLY=($(compgen -W "$handlers" -- "$cur"))
                return
            fi ;;
        echo)
            opts="-u --udp --dgram --timeout -v --verbose -q --quiet -h --help" ;;
        bench)
            opts="-c --conns -s --size -d --duration -u --udp -w --workers --rate
                  --warmup --timeout --json -v --verbose -q --quiet -h --help" ;;
        *)
            return ;;
    esac
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _nettool nettool nettool-serve nettool-echo nettool-bench
