/* applet_chat.c - "nettool chat": the chat handler's interactive client,
 * and a UDP peer chat.  One libev loop watches the terminal (or piped
 * stdin) and the socket at once; on a terminal the line being typed is
 * kept by chat_tty.c and redrawn below every line that arrives.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>
#include <netsrv.h>

#include "applets.h"
#include "chat_tty.h"

const char nt_chat_usage[] =
    "Usage: nettool chat ADDR [--nick NAME]\n"
    "   or: nettool chat -u --bind [HOST:]PORT PEER\n"
    "Chat with a 'nettool serve chat' server at ADDR (HOST:PORT, [V6]:PORT\n"
    "or unix:PATH): lines typed (or piped in) are sent, lines that arrive\n"
    "are printed as they come, above the line being typed.  Commands such\n"
    "as /nick, /who, /join and /quit are the server's (see nettool(1)).\n"
    "Ends at the end of input (Ctrl-D), after /quit or logout, or when the\n"
    "server closes: exit 0; 1 when the connection was lost.\n"
    "With -u, a peer chat over UDP: each line is one datagram to PEER, and\n"
    "what arrives on the bound port is printed with its sender.\n"
    "\n"
    "  -n, --nick NAME      ask for this nick once connected\n"
    "  -u, --udp            UDP peer chat (needs --bind and PEER)\n"
    "  -b, --bind ADDR      the local [HOST:]PORT to receive on (-u)\n"
    "      --timeout SECS   give up connecting after SECS (default 10)\n"
    "  -v, --verbose        say when connected\n"
    "  -q, --quiet          (accepted for symmetry)\n"
    "  -h, --help           show this help\n";

enum { OPT_TIMEOUT = 256 };

static const struct option nt_chat_options[] = {
    { "bind",    required_argument, NULL, 'b' },
    { "nick",    required_argument, NULL, 'n' },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "udp",     no_argument,       NULL, 'u' },
    NT_COMMON_LONGOPTS,
    { NULL, 0, NULL, 0 }
};

/* Input from the socket is printed a line at a time; a longer "line" is
 * printed in pieces of this size. */
#define NT_CHAT_IN_MAX 4096

struct nt_chat {
    struct ev_loop *loop;
    ev_io in_w, sock_w;
    ev_signal int_w, term_w;
    int fd;
    int udp;
    netsrv_addr peer;
    struct nt_tty tty;
    /* socket input not yet printed (no '\n' yet) */
    char in[NT_CHAT_IN_MAX];
    size_t in_len;
    /* socket output not yet sent (streams) */
    char *out;
    size_t out_len, out_cap;
    int stdin_done;         /* input ended: the write side is shut */
    int quitting;           /* /quit or logout was sent: a close is normal */
    int status;
};

/* Bytes from the server are shown with their control characters as '?',
 * so a hostile server cannot drive the terminal either. */
static void nt_chat_show(struct nt_chat *ch, const char *line, size_t len)
{
    char buf[NT_CHAT_IN_MAX + 1];
    size_t n = 0;

    for (size_t i = 0; i < len && n < NT_CHAT_IN_MAX; i++) {
        unsigned char c = (unsigned char)line[i];
        buf[n++] = (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f ? '?' : (char)c;
    }
    nt_tty_print(&ch->tty, buf, n);
}

static void nt_chat_end(struct nt_chat *ch, int status)
{
    ch->status = status;
    ev_break(ch->loop, EVBREAK_ALL);
}

static void nt_chat_flush(struct nt_chat *ch)
{
    while (ch->out_len) {
        ssize_t n = send(ch->fd, ch->out, ch->out_len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (!ch->quitting)
                nt_error("connection lost: %s", strerror(errno));
            nt_chat_end(ch, ch->quitting ? NT_EXIT_OK : NT_EXIT_FAILURE);
            return;
        }
        memmove(ch->out, ch->out + n, ch->out_len - (size_t)n);
        ch->out_len -= (size_t)n;
    }
    /* Piped input waits while output does, so memory stays bounded. */
    ev_io_stop(ch->loop, &ch->sock_w);
    ev_io_set(&ch->sock_w, ch->fd, EV_READ | (ch->out_len ? EV_WRITE : 0));
    ev_io_start(ch->loop, &ch->sock_w);
    if (ch->out_len)
        ev_io_stop(ch->loop, &ch->in_w);
    else if (!ch->stdin_done)
        ev_io_start(ch->loop, &ch->in_w);
    if (!ch->out_len && ch->stdin_done)
        shutdown(ch->fd, SHUT_WR);
}

/* One line the user typed (or a piece of piped input), '\n' included. */
static void nt_chat_send(struct nt_chat *ch, const char *data, size_t len)
{
    if (ch->udp) {
        if (len && data[len - 1] == '\n')
            len--;
        if (sendto(ch->fd, data, len, 0, (const struct sockaddr *)&ch->peer.ss,
                   ch->peer.len) < 0)
            nt_error("send: %s", strerror(errno));
        return;
    }
    if (ch->out_len + len > ch->out_cap) {
        size_t cap = (ch->out_len + len) * 2;
        char *p = realloc(ch->out, cap);
        if (!p) {
            nt_error("out of memory");
            nt_chat_end(ch, NT_EXIT_FAILURE);
            return;
        }
        ch->out = p;
        ch->out_cap = cap;
    }
    memcpy(ch->out + ch->out_len, data, len);
    ch->out_len += len;
    nt_chat_flush(ch);
}

/* Whether the line ends the session, so the server's close is expected. */
static int nt_chat_is_quit(const char *line, size_t len)
{
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    return (len == 6 && memcmp(line, "logout", 6) == 0) ||
           (len == 5 && memcmp(line, "/quit", 5) == 0) ||
           (len > 5 && memcmp(line, "/quit ", 6) == 0);
}

static void nt_chat_on_line(void *arg, const char *line, size_t len)
{
    struct nt_chat *ch = arg;

    if (nt_chat_is_quit(line, len))
        ch->quitting = 1;
    nt_chat_send(ch, line, len);
}

static void nt_chat_input_ended(struct nt_chat *ch)
{
    ch->stdin_done = 1;
    nt_tty_eof(&ch->tty);
    ev_io_stop(ch->loop, &ch->in_w);
    if (ch->udp) {
        nt_chat_end(ch, NT_EXIT_OK);
        return;
    }
    /* The server sees the end of our side, answers what is left and
     * closes: that close is then the normal end. */
    ch->quitting = 1;
    nt_chat_flush(ch);
}

static void nt_chat_on_stdin(struct ev_loop *loop, ev_io *w, int revents)
{
    struct nt_chat *ch = w->data;
    char buf[4096];
    ssize_t n;

    (void)loop;
    (void)revents;
    n = read(0, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        nt_chat_input_ended(ch);
        return;
    }
    if (nt_tty_feed(&ch->tty, buf, (size_t)n) < 0)
        nt_chat_input_ended(ch); /* Ctrl-D on an empty line */
}

static void nt_chat_take(struct nt_chat *ch, const char *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ch->in[ch->in_len++] = data[i];
        if (data[i] == '\n' || ch->in_len == sizeof ch->in) {
            nt_chat_show(ch, ch->in, ch->in_len);
            ch->in_len = 0;
        }
    }
}

static void nt_chat_on_sock(struct ev_loop *loop, ev_io *w, int revents)
{
    struct nt_chat *ch = w->data;
    char buf[16384];

    (void)loop;
    if (revents & EV_WRITE)
        nt_chat_flush(ch);
    if (!(revents & EV_READ))
        return;
    if (ch->udp) {
        netsrv_addr from;
        char who[NETSRV_ADDRSTRLEN], line[NT_CHAT_IN_MAX + NETSRV_ADDRSTRLEN + 4];
        from.len = sizeof from.ss;
        ssize_t n = recvfrom(ch->fd, buf, sizeof buf, 0, (struct sockaddr *)&from.ss, &from.len);
        if (n < 0)
            return; /* ICMP port unreachable and the like: the peer is not up yet */
        if (n > 0 && buf[n - 1] == '\n')
            n--;
        int len = snprintf(line, sizeof line, "%s: %.*s\n", netsrv_addr_format(&from, who, sizeof who),
                           (int)(n > NT_CHAT_IN_MAX ? NT_CHAT_IN_MAX : n), buf);
        if (len >= (int)sizeof line)
            len = (int)sizeof line - 1;
        nt_chat_show(ch, line, (size_t)len);
        return;
    }
    ssize_t n = recv(ch->fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n > 0) {
        nt_chat_take(ch, buf, (size_t)n);
        return;
    }
    if (ch->in_len) {
        nt_chat_take(ch, "\n", 1);
    }
    if (n == 0 && ch->quitting) {
        nt_chat_end(ch, NT_EXIT_OK);
        return;
    }
    nt_error("connection lost: %s", n == 0 ? "the server closed it" : strerror(errno));
    nt_chat_end(ch, NT_EXIT_FAILURE);
}

static void nt_chat_on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct nt_chat *ch = w->data;

    (void)loop;
    (void)revents;
    nt_chat_end(ch, NT_EXIT_OK);
}

static int nt_chat_udp_socket(struct nt_chat *ch, const char *bind_text, const char *peer_text)
{
    char err[NETSRV_ERRLEN], text[NETSRV_ADDRSTRLEN + 16];
    netsrv_addr local;
    int rc;

    /* A bare PORT binds every IPv4 address, as serve's -l does. */
    if (strchr(bind_text, ':') == NULL)
        snprintf(text, sizeof text, "0.0.0.0:%s", bind_text);
    else
        snprintf(text, sizeof text, "%s", bind_text);
    if ((rc = netsrv_addr_parse(text, &local, err, sizeof err)) < 0) {
        nt_error("invalid --bind '%s': %s", bind_text, nt_reason(err, rc, text));
        return -1;
    }
    if ((rc = netsrv_addr_parse(peer_text, &ch->peer, err, sizeof err)) < 0) {
        nt_error("invalid peer '%s': %s", peer_text, nt_reason(err, rc, peer_text));
        return -1;
    }
    ch->fd = socket(local.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (ch->fd < 0 || bind(ch->fd, (struct sockaddr *)&local.ss, local.len) < 0) {
        nt_error("cannot bind %s: %s", text, strerror(errno));
        return -1;
    }
    if (nt_verbosity >= 2) {
        netsrv_addr got;
        char where[NETSRV_ADDRSTRLEN];
        got.len = sizeof got.ss;
        getsockname(ch->fd, (struct sockaddr *)&got.ss, &got.len);
        nt_error("listening on %s", netsrv_addr_format(&got, where, sizeof where));
    }
    return 0;
}

int nt_chat_main(int argc, char **argv)
{
    struct nt_chat ch;
    const char *nick = NULL, *bind_text = NULL, *addr;
    double timeout = 10;
    char err[NETSRV_ERRLEN] = "";
    int c;

    memset(&ch, 0, sizeof ch);
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":b:n:u" NT_COMMON_SHORTOPTS, nt_chat_options, NULL)) != -1) {
        switch (c) {
        case 'b':
            bind_text = optarg;
            break;
        case 'n':
            nick = optarg;
            if (!netsrv_chat_name_ok(nick, strlen(nick)))
                nt_usage_error("invalid --nick '%s' (1 to %d of A-Z a-z 0-9 _ -)", nick,
                               NETSRV_CHAT_NAME_MAX);
            break;
        case 'u':
            ch.udp = 1;
            break;
        case OPT_TIMEOUT:
            timeout = nt_opt_seconds("--timeout", optarg);
            break;
        default:
            nt_common_option(c, argv);
        }
    }
    if (optind >= argc)
        nt_usage_error(ch.udp ? "missing PEER" : "missing ADDR");
    if (optind + 1 < argc)
        nt_usage_error("unexpected argument '%s'", argv[optind + 1]);
    addr = argv[optind];
    if (ch.udp && !bind_text)
        nt_usage_error("-u needs --bind PORT (where the peer's lines arrive)");
    if (!ch.udp && bind_text)
        nt_usage_error("--bind is for -u (UDP peer chat)");
    if (ch.udp && nick)
        nt_usage_error("--nick is for a chat server, not -u");
    nt_check_address(addr);
    nt_ignore_sigpipe();

    if (ch.udp) {
        if (nt_chat_udp_socket(&ch, bind_text, addr) < 0)
            return NT_EXIT_FAILURE;
    } else {
        ch.fd = netsrv_connect(addr, 0, timeout, err, sizeof err);
        if (ch.fd < 0) {
            nt_error("cannot connect to %s: %s", addr, nt_reason(err, ch.fd, addr));
            return NT_EXIT_FAILURE;
        }
        fcntl(ch.fd, F_SETFL, fcntl(ch.fd, F_GETFL) | O_NONBLOCK);
        if (nt_verbosity >= 2)
            nt_error("connected to %s", addr);
    }

    ch.loop = ev_default_loop(EVFLAG_AUTO);
    if (!ch.loop) {
        nt_error("cannot start the event loop");
        return NT_EXIT_FAILURE;
    }
    nt_tty_init(&ch.tty, 0, nt_chat_on_line, &ch);
    ev_io_init(&ch.in_w, nt_chat_on_stdin, 0, EV_READ);
    ch.in_w.data = &ch;
    ev_io_start(ch.loop, &ch.in_w);
    ev_io_init(&ch.sock_w, nt_chat_on_sock, ch.fd, EV_READ);
    ch.sock_w.data = &ch;
    ev_io_start(ch.loop, &ch.sock_w);
    ev_signal_init(&ch.int_w, nt_chat_on_signal, SIGINT);
    ch.int_w.data = &ch;
    ev_signal_start(ch.loop, &ch.int_w);
    ev_signal_init(&ch.term_w, nt_chat_on_signal, SIGTERM);
    ch.term_w.data = &ch;
    ev_signal_start(ch.loop, &ch.term_w);
    if (nick) {
        char line[NETSRV_CHAT_NAME_MAX + 8];
        int len = snprintf(line, sizeof line, "/nick %s\n", nick);
        nt_chat_send(&ch, line, (size_t)len);
    }
    ch.status = NT_EXIT_OK;
    ev_run(ch.loop, 0);
    nt_tty_fini(&ch.tty);
    close(ch.fd);
    free(ch.out);
    return ch.status;
}
