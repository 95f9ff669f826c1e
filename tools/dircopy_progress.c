/* dircopy_progress.c - the output of "nettool dircopy": on a terminal one
 * progress line (files, bytes, rate, percent) redrawn with '\r' at most
 * ten times a second and taken off again before an error line and at the
 * end; and the error lines, one per entry, names escaped.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <netsrv.h>

#include "applets.h"
#include "dircopy.h"

struct dc_progress *dc_progress_now;

static void dc_write(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void dc_human(char *buf, size_t len, double v)
{
    static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int u = 0;

    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

static void dc_draw(struct dc_progress *p, double now)
{
    char line[200], b[32], tb[32], r[32];
    double secs = now - p->t0;
    unsigned long long all = p->total_bytes + p->total_files, have = p->bytes + p->files;
    /* Percent of bytes and files together: a tree of empty files moves too. */
    int pct = all ? (int)(100.0 * (double)have / (double)all) : 100;

    dc_human(b, sizeof b, (double)p->bytes);
    dc_human(tb, sizeof tb, (double)p->total_bytes);
    dc_human(r, sizeof r, secs > 0 ? (double)p->bytes / secs : 0);
    int n = snprintf(line, sizeof line, "\r%3d%%  %llu/%llu files  %s of %s  %s/s", pct,
                     p->files, p->total_files, b, tb, r);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line)
        n = (int)sizeof line - 1;
    /* Blank what a longer line before left. */
    int pad = p->width > n ? p->width - n : 0;
    if ((size_t)(n + pad) < sizeof line) {
        memset(line + n, ' ', (size_t)pad);
        n += pad;
    }
    p->width = n - pad;
    dc_write(line, (size_t)n);
    p->last = now;
}

void dc_progress_start(struct dc_progress *p, int on, unsigned long long files,
                       unsigned long long bytes)
{
    memset(p, 0, sizeof *p);
    p->on = on;
    p->total_files = files;
    p->total_bytes = bytes;
    p->t0 = p->last = netsrv_now();
    dc_progress_now = p;
    if (on)
        dc_draw(p, p->t0);
}

void dc_progress_add(struct dc_progress *p, unsigned long long files, unsigned long long bytes)
{
    p->files += files;
    p->bytes += bytes;
    if (!p->on)
        return;
    double now = netsrv_now();
    if (now - p->last >= 0.1)
        dc_draw(p, now);
}

void dc_progress_clear(struct dc_progress *p)
{
    char line[256];

    if (!p || !p->on || !p->width)
        return;
    size_t n = (size_t)p->width < sizeof line - 2 ? (size_t)p->width : sizeof line - 2;
    line[0] = '\r';
    memset(line + 1, ' ', n - 1);
    line[n] = '\r';
    dc_write(line, n + 1);
    p->width = 0;
    p->last = 0; /* drawn again at the next step */
}

const char *dc_shown(const char *rel)
{
    static char buf[4 * 300 + 8];
    size_t o = 0, n = strlen(rel);

    if (!*rel)
        return ".";
    for (size_t i = 0; i < n && o < sizeof buf - 8; i++) {
        unsigned char c = (unsigned char)rel[i];
        if (n > 300 && i == 140) {
            /* A path of thousands of bytes would bury the reason. */
            memcpy(buf + o, "...", 3);
            o += 3;
            i = n - 140;
            c = (unsigned char)rel[i];
        }
        if (c < 0x20 || c == 0x7f || c == '\\')
            o += (size_t)snprintf(buf + o, sizeof buf - o, "\\%03o", c);
        else
            buf[o++] = (char)c;
    }
    buf[o] = 0;
    return buf;
}

void dc_report(struct dc_tree *t, const char *rel, const char *fmt, ...)
{
    char reason[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    dc_progress_clear(dc_progress_now);
    nt_error("%s: %s", dc_shown(rel), reason);
    t->errors++;
}
