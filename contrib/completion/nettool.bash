# nettool.bash - bash completion for nettool: applets, handlers, modes,
# each applet's options, the program after "serve exec ... --", the DIR of
# "serve files" and "serve http", the ADDR NAME [-o FILE] of "download",
# the SRC DST directories of "dircopy", and the files and directories of "get".
# Installed as $(datadir)/bash-completion/completions/nettool.
#
# The option lists follow the usage texts ("nettool APPLET --help");
# tests/completion.sh checks that every option there is offered here.

# _nettool_has WORD LIST: WORD is one of the words of LIST.
_nettool_has()
{
    local x
    for x in $2; do
        [[ $x == "$1" ]] && return 0
    done
    return 1
}

# _nettool_serve_files FIRST: the handler operand of the command line being
# completed (words from FIRST on) is one that takes a DIR: "files" or "http".
_nettool_serve_files()
{
    local j
    for ((j = $1; j < cword; j++)); do
        if _nettool_has "${words[j]}" "$argopts"; then
            ((j++))
            continue
        fi
        [[ ${words[j]} == -* ]] && continue
        [[ ${words[j]} == files || ${words[j]} == http ]]
        return
    done
    return 1
}

_nettool()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        # -n : keeps "unix:PATH" and "HOST:PORT" one word.
        _init_completion -n : || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi

    local prog=${words[0]/#\~/$HOME}
    local base=${prog##*/}
    local modes="sync thread fork async"
    local i applet="" first=1 applets handlers

    # The applet: from the command's name (nettool-serve, serve) or the
    # first argument.
    case $base in
        nettool-*) applet=${base#nettool-} ;;
        serve|echo|bench|download|dircopy|get|chat|scrape) applet=$base ;;
        *)
            # The applets this nettool has, or the ones it had when this
            # was written.
            applets=$("$prog" --list 2>/dev/null)
            [[ -n $applets ]] || applets="bench chat dircopy download echo get scrape serve"
            if [[ $cword -eq 1 ]]; then
                if [[ $cur == -* ]]; then
                    COMPREPLY=($(compgen -W "--help --list --version" -- "$cur"))
                else
                    COMPREPLY=($(compgen -W "$applets help" -- "$cur"))
                fi
                return
            fi
            applet=${words[1]}
            first=2
            if [[ $applet == help ]]; then
                [[ $cword -eq 2 ]] && COMPREPLY=($(compgen -W "$applets" -- "$cur"))
                return
            fi ;;
    esac

    # Each applet's options ("opts"), and those of them that take a value
    # ("argopts"), as its usage text lists them (--dgram is -u's other name).
    local opts argopts
    case $applet in
        serve)
            argopts="-l --listen -m --mode -w --workers --stack-size --max-conns
                     --per-ip --timeout --request-timeout --drain --backlog
                     --max-upload --history"
            opts="$argopts -u --udp --dgram --nodelay --no-nodelay --reuse-port
                  --no-log --upload -v --verbose -q --quiet -h --help --" ;;
        echo)
            argopts="--timeout"
            opts="$argopts -u --udp --dgram -v --verbose -q --quiet -h --help" ;;
        # chat
        chat)
            argopts="-n --nick -b --bind --timeout"
            opts="$argopts -u --udp -v --verbose -q --quiet -h --help" ;;
        # end chat
        download)
            argopts="-o --output --sha256 --timeout"
            opts="$argopts -c --continue -v --verbose -q --quiet -h --help" ;;
        dircopy)
            argopts="-j --jobs"
            opts="$argopts -c --checksum --verify -n --dry-run -v --verbose -q --quiet
                  -h --help" ;;
        get)
            argopts="-o --output -d --dir --max-redirs -H --header -A --user-agent
                     --connect-timeout -m --max-time --timeout -j --jobs --per-host
                     --retry --retry-delay -s --split --sha256 --etag-save
                     --etag-compare --cacert"
            opts="$argopts -O --remote-name -L --location -I --head -i --include
                  -c --continue -f --fail --json -k --insecure -v --verbose
                  -q --quiet -h --help" ;;
        # ---- scrape
        scrape)
            argopts="-e --regex -f --file -g --group --format --charset
                     --match-limit --db -j --jobs --follow --depth --max-pages
                     --delay --state --max-size --timeout -A --user-agent
                     --cacert"
            opts="$argopts --header -u --unique -c --count -i --ignore-case
                  -m --multiline -s --dotall -x --extended -U --utf
                  --same-host --no-robots -k --insecure -v --verbose
                  -q --quiet -h --help" ;;
        # ---- end scrape
        bench)
            argopts="-c --conns -s --size -d --duration -w --workers --rate
                     --warmup --timeout"
            opts="$argopts -u --udp --dgram --json -v --verbose -q --quiet
                  -h --help" ;;
        *)
            return ;;
    esac

    # The words before the cursor: the operands (not options nor their
    # values), and whether "--" came (serve: PROG ARGS follow it).
    local operands=0 dashdash=0 w
    for ((i = first; i < cword; i++)); do
        w=${words[i]}
        if [[ $w == -- ]]; then
            dashdash=$i
            break
        fi
        if _nettool_has "$w" "$argopts"; then
            ((i++))
            continue
        fi
        [[ $w == -* ]] || ((operands++))
    done

    if [[ $dashdash -gt 0 ]]; then
        [[ $applet == serve ]] || return
        # serve exec ... -- PROG ARGS: a command, then files.
        if [[ $dashdash -eq $((cword - 1)) ]]; then
            COMPREPLY=($(compgen -c -- "$cur"))
        else
            COMPREPLY=($(compgen -f -- "$cur"))
        fi
        return
    fi

    # The value of an option.
    if _nettool_has "$prev" "$argopts"; then
        case $prev in
            -m|--mode)
                COMPREPLY=($(compgen -W "$modes" -- "$cur")) ;;
            -l|--listen)
                if [[ $cur == unix:* ]]; then
                    COMPREPLY=($(compgen -P unix: -f -- "${cur#unix:}"))
                else
                    COMPREPLY=($(compgen -W "127.0.0.1:7000 [::1]:7000 0.0.0.0:7000 [::]:7000 unix: fd:3 systemd" -- "$cur"))
                fi
                compopt -o nospace 2>/dev/null
                declare -F __ltrim_colon_completions >/dev/null &&
                    __ltrim_colon_completions "$cur" ;;
        esac
        # -o FILE is a file; numbers, sizes, durations, a hash: nothing.
        case $prev in
            -o|--output)
                COMPREPLY=($(compgen -f -- "$cur")) ;;
        esac
        # get: files and a directory.
        if [[ $applet == get ]]; then
            case $prev in
                --etag-save|--etag-compare|--cacert)
                    COMPREPLY=($(compgen -f -- "$cur")) ;;
                -d|--dir)
                    COMPREPLY=($(compgen -d -- "$cur")) ;;
            esac
        fi
        # scrape: files for -f, --db, --state, --cacert; the formats.
        if [[ $applet == scrape ]]; then
            case $prev in
                -f|--file|--db|--state|--cacert)
                    COMPREPLY=($(compgen -f -- "$cur")) ;;
                --format)
                    COMPREPLY=($(compgen -W "text tsv json" -- "$cur")) ;;
            esac
        fi
        return
    fi

    if [[ $cur != -* ]]; then
        case $applet in
            serve)
                # The first operand is the handler.
                if [[ $operands -eq 0 ]]; then
                    # As "serve --help" lists them, or as they were.
                    if [[ $first -eq 2 ]]; then
                        handlers=$("$prog" serve --help 2>/dev/null)
                    else
                        handlers=$("$prog" --help 2>/dev/null)
                    fi
                    handlers=$(sed -n 's/^Handlers: *//p' <<<"$handlers")
                    [[ -n $handlers ]] || handlers="echo discard exec files http chat"
                    COMPREPLY=($(compgen -W "$handlers" -- "$cur"))
                    return
                fi
                # serve files DIR, serve http DIR: a directory.
                if [[ $operands -eq 1 ]] && _nettool_serve_files "$first"; then
                    COMPREPLY=($(compgen -d -- "$cur"))
                    return
                fi ;;
            dircopy)
                # SRC and DST: directories.
                if [[ $operands -lt 2 ]]; then
                    COMPREPLY=($(compgen -d -- "$cur"))
                    return
                fi ;;
            echo|bench|download|chat)
                # ADDR: a Unix socket's path after "unix:".  download's
                # NAME is a name on the server: nothing to offer here.
                if [[ $operands -eq 0 && $cur == unix:* ]]; then
                    COMPREPLY=($(compgen -P unix: -f -- "${cur#unix:}"))
                    declare -F __ltrim_colon_completions >/dev/null &&
                        __ltrim_colon_completions "$cur"
                    return
                fi ;;
        esac
        [[ -z $cur ]] || return
    fi
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _nettool nettool nettool-serve nettool-echo nettool-bench nettool-download \
    nettool-dircopy nettool-get nettool-chat nettool-scrape
