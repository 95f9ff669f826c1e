/* chat_proto.c - the chat handler's line protocol as a pure function: one
 * client line in, the command it is and its cleaned text out.  It reads
 * nothing past the line and allocates nothing, so a fuzzer can call it
 * on any bytes; the handler (chat.c) only acts on what it returns. */
#include "config.h"
#include <netsrv.h>
#include <errno.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence at p (at most n bytes), or 0:
 * overlong forms, surrogates and code points past U+10FFFF are refused,
 * as RFC 3629 says.  *cp gets the code point. */
static size_t utf8_seq(const unsigned char *p, size_t n, unsigned *cp)
{
    unsigned c = p[0];
    size_t len;
    unsigned min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, min = 0x80, c &= 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, min = 0x800, c &= 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, min = 0x10000, c &= 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/* Copies in[0..len) to out (cap >= len + 1, NUL added) with every control
 * character (C0 but tab, DEL, C1) shown as '?' and tabs as spaces, so no
 * escape sequence of a sender ever reaches another's terminal.  Returns
 * the length, or -EILSEQ when in is not UTF-8. */
static ssize_t clean_text(const char *in, size_t len, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t i = 0, o = 0;
    if (cap < len + 1)
        return -ENOSPC;
    while (i < len) {
        unsigned cp;
        size_t n = utf8_seq(p + i, len - i, &cp);
        if (n == 0)
            return -EILSEQ;
        if (cp == '\t') {
            out[o++] = ' ';
        } else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
            out[o++] = '?';
        } else {
            memcpy(out + o, p + i, n);
            o += n;
        }
        i += n;
    }
    out[o] = '\0';
    return (ssize_t)o;
}

int netsrv_chat_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > NETSRV_CHAT_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && c != '_' && c != '-')
            return 0;
    }
    return 1;
}

/* The commands, with whether they take an argument (1), must not (0), or
 * may (2). */
static const struct {
    const char *name;
    int kind, arg;
} commands[] = {
    { "nick", NETSRV_CHAT_NICK, 1 },
    { "who", NETSRV_CHAT_WHO, 0 },
    { "me", NETSRV_CHAT_ME, 1 },
    { "join", NETSRV_CHAT_JOIN, 1 },
    { "rooms", NETSRV_CHAT_ROOMS, 0 },
    { "quit", NETSRV_CHAT_QUIT, 2 },
    { "help", NETSRV_CHAT_HELP, 2 },
};

static int refuse(netsrv_chat_cmd *cmd, int err, const char *why)
{
    cmd->kind = err;
    cmd->error = why;
    return err;
}

int netsrv_chat_parse(const char *line, size_t len, char *text, size_t cap,
                      netsrv_chat_cmd *cmd)
{
    memset(cmd, 0, sizeof *cmd);
    cmd->text = text;
    if (cap)
        text[0] = '\0';
    if (len && line[len - 1] == '\n')
        len--;
    if (len && line[len - 1] == '\r')
        len--;
    if (len > NETSRV_CHAT_LINE_MAX)
        return refuse(cmd, -EMSGSIZE, "line too long");
    ssize_t n = clean_text(line, len, text, cap);
    if (n == -EILSEQ)
        return refuse(cmd, -EILSEQ, "not UTF-8 text");
    if (n < 0)
        return refuse(cmd, (int)n, "no room for the text");
    cmd->text_len = (size_t)n;
    if (n == 0)
        return cmd->kind = NETSRV_CHAT_EMPTY;
    /* "logout" alone ends the session too, as on a BBS. */
    if (strcmp(text, "logout") == 0)
        return cmd->kind = NETSRV_CHAT_QUIT;
    if (text[0] != '/')
        return cmd->kind = NETSRV_CHAT_SAY;
    if (text[1] == '/') {
        /* "//text" says "/text" */
        memmove(text, text + 1, (size_t)n);
        cmd->text_len--;
        return cmd->kind = NETSRV_CHAT_SAY;
    }
    size_t w = 1;
    while (w < (size_t)n && text[w] != ' ')
        w++;
    const char *arg = text + w;
    while (*arg == ' ')
        arg++;
    size_t alen = (size_t)n - (size_t)(arg - text);
    while (alen && arg[alen - 1] == ' ')
        alen--;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strlen(commands[i].name) != w - 1 || memcmp(commands[i].name, text + 1, w - 1) != 0)
            continue;
        if (commands[i].arg == 1 && alen == 0)
            return refuse(cmd, -EINVAL, "missing argument");
        if (commands[i].arg == 0 && alen != 0)
            return refuse(cmd, -EINVAL, "takes no argument");
        cmd->kind = commands[i].kind;
        if ((cmd->kind == NETSRV_CHAT_NICK || cmd->kind == NETSRV_CHAT_JOIN) &&
            !netsrv_chat_name_ok(arg, alen))
            return refuse(cmd, -EINVAL, cmd->kind == NETSRV_CHAT_NICK
                                            ? "invalid nick (1-24 of A-Z a-z 0-9 _ -)"
                                            : "invalid room name (1-24 of A-Z a-z 0-9 _ -)");
        memmove(text, arg, alen);
        text[alen] = '\0';
        cmd->text_len = alen;
        return cmd->kind;
    }
    return refuse(cmd, -ENOSYS, "unknown command (try /help)");
}
