/* chat_tty.h - the line being typed in "nettool chat": on a terminal the
 * input is read a key at a time and kept here, so that a line arriving
 * meanwhile is printed above it (clear the line, print, redraw); from a
 * pipe it is only cut into lines. */
#ifndef NT_CHAT_TTY_H
#define NT_CHAT_TTY_H

#include <stddef.h>
#include <termios.h>

#define NT_TTY_LINE_MAX 1000 /* the chat server's line cap */

struct nt_tty {
    int fd;
    int raw;                 /* a terminal, in non-canonical mode */
    struct termios saved;
    char line[NT_TTY_LINE_MAX + 1];
    size_t len;
    int esc;                 /* inside an escape sequence (arrow keys...) */
    void (*on_line)(void *arg, const char *line, size_t len); /* '\n' included */
    void *arg;
};

/* Reads fd (stdin): raw mode when it and stdout are terminals. */
void nt_tty_init(struct nt_tty *t, int fd, void (*on_line)(void *, const char *, size_t),
                 void *arg);
/* Feeds bytes read from fd; calls on_line for each complete line.
 * Returns -1 when the user ended the input (Ctrl-D on an empty line). */
int nt_tty_feed(struct nt_tty *t, const char *buf, size_t n);
/* The input ended: a last line without '\n' is passed on with one. */
void nt_tty_eof(struct nt_tty *t);
/* Prints one incoming line (its '\n' included) on stdout, without
 * garbling the line being typed. */
void nt_tty_print(struct nt_tty *t, const char *line, size_t len);
/* Gives the terminal its settings back. */
void nt_tty_fini(struct nt_tty *t);

#endif /* NT_CHAT_TTY_H */
