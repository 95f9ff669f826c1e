/* chat_tty.c - a minimal line editor for "nettool chat" (see chat_tty.h):
 * typing, backspace (a whole UTF-8 character), Ctrl-U, Enter, Ctrl-D;
 * escape sequences such as arrow keys are skipped.  Everything is written
 * with write(2), so an incoming line and the redrawn input never mix in
 * stdio's buffer. */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "chat_tty.h"

#define PROMPT "> "

static void put(const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(1, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void puts_(const char *s)
{
    put(s, strlen(s));
}

static void redraw(struct nt_tty *t)
{
    puts_("\r\033[K" PROMPT);
    put(t->line, t->len);
}

void nt_tty_init(struct nt_tty *t, int fd, void (*on_line)(void *, const char *, size_t),
                 void *arg)
{
    memset(t, 0, sizeof *t);
    t->fd = fd;
    t->on_line = on_line;
    t->arg = arg;
    if (isatty(fd) && isatty(1) && tcgetattr(fd, &t->saved) == 0) {
        struct termios raw = t->saved;
        /* Signals stay (Ctrl-C ends the program through its handler). */
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        if (tcsetattr(fd, TCSANOW, &raw) == 0) {
            t->raw = 1;
            redraw(t);
        }
    }
}

static void line_done(struct nt_tty *t)
{
    char buf[NT_TTY_LINE_MAX + 1];
    size_t n = t->len;
    memcpy(buf, t->line, n);
    buf[n++] = '\n';
    t->len = 0;
    if (t->raw) {
        puts_("\r\n"); /* the typed line stays on screen as it was sent */
        redraw(t);
    }
    t->on_line(t->arg, buf, n);
}

int nt_tty_feed(struct nt_tty *t, const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (!t->raw) {
            if (c == '\n' || t->len == NT_TTY_LINE_MAX) {
                line_done(t);
                if (c == '\n')
                    continue;
            }
            t->line[t->len++] = (char)c;
            continue;
        }
        if (t->esc) {
            /* ESC [ ... final byte, or ESC O x, or ESC x */
            if (t->esc == 1 && (c == '[' || c == 'O'))
                t->esc = 2;
            else if (t->esc == 1 || (c >= 0x40 && c <= 0x7e))
                t->esc = 0;
            continue;
        }
        if (c == 0x1b) {
            t->esc = 1;
        } else if (c == '\r' || c == '\n') {
            line_done(t);
        } else if (c == 0x7f || c == 0x08) {
            while (t->len && ((unsigned char)t->line[t->len - 1] & 0xc0) == 0x80)
                t->len--;
            if (t->len)
                t->len--;
            redraw(t);
        } else if (c == 0x15) { /* Ctrl-U */
            t->len = 0;
            redraw(t);
        } else if (c == 0x04) { /* Ctrl-D */
            if (t->len == 0)
                return -1;
        } else if (c >= 0x20 && t->len < NT_TTY_LINE_MAX) {
            t->line[t->len++] = (char)c;
            put((const char *)&c, 1);
        }
    }
    return 0;
}

void nt_tty_eof(struct nt_tty *t)
{
    if (t->len)
        line_done(t);
}

void nt_tty_print(struct nt_tty *t, const char *line, size_t len)
{
    if (t->raw)
        puts_("\r\033[K");
    put(line, len);
    if (t->raw)
        redraw(t);
}

void nt_tty_fini(struct nt_tty *t)
{
    if (t->raw) {
        puts_("\r\033[K");
        tcsetattr(t->fd, TCSANOW, &t->saved);
        t->raw = 0;
    }
}
