/* progress.c - the progress bar of "nettool download" on a terminal: one
 * line redrawn in place with '\r', at most ten times a second, so a fast
 * transfer spends its time on the bytes and not on the terminal.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <netsrv.h>

#include "download.h"

/* "5.0 MiB" and the like. */
static void nt_human(char *buf, size_t len, double bytes)
{
    static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int u = 0;

    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%.0f %s", bytes, unit[u]);
    else
        snprintf(buf, len, "%.1f %s", bytes, unit[u]);
}

static void nt_progress_draw(struct nt_progress *pr, double now)
{
    char line[256], have[32], all[32], rate[32], eta[32];
    double secs = now - pr->t0, bps = secs > 0 ? (double)(pr->done - pr->start) / secs : 0;
    int pct = pr->total > 0 ? (int)(100.0 * (double)pr->done / (double)pr->total) : 100;
    int n;

    nt_human(have, sizeof have, (double)pr->done);
    nt_human(all, sizeof all, (double)pr->total);
    nt_human(rate, sizeof rate, bps);
    if (bps > 0 && pr->done < pr->total) {
        double left = (double)(pr->total - pr->done) / bps;

        if (left < 360000)
            snprintf(eta, sizeof eta, "ETA %d:%02d:%02d", (int)left / 3600,
                     (int)left / 60 % 60, (int)left % 60);
        else
            snprintf(eta, sizeof eta, "ETA --:--:--");
    } else if (pr->done >= pr->total) {
        snprintf(eta, sizeof eta, "done in %.1f s", secs);
    } else {
        snprintf(eta, sizeof eta, "ETA --:--:--");
    }
    n = snprintf(line, sizeof line, "\r%s  %3d%%  %s of %s  %s/s  %s", pr->label, pct, have,
                 all, rate, eta);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line)
        n = (int)sizeof line - 1;
    /* Blank what a longer line before left on the terminal. */
    int pad = pr->width > n ? pr->width - n : 0;

    pr->width = n;
    if ((size_t)(n + pad) < sizeof line) {
        memset(line + n, ' ', (size_t)pad);
        n += pad;
    }
    for (const char *p = line; n > 0;) {
        ssize_t w = write(STDERR_FILENO, p, (size_t)n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        p += w;
        n -= (int)w;
    }
    pr->last = now;
}

void nt_progress_start(struct nt_progress *pr, int on, const char *label, off_t total,
                       off_t start)
{
    memset(pr, 0, sizeof *pr);
    pr->on = on;
    pr->label = label;
    pr->total = total;
    pr->start = pr->done = start;
    pr->t0 = pr->last = netsrv_now();
    if (pr->on)
        nt_progress_draw(pr, pr->t0);
}

void nt_progress_update(struct nt_progress *pr, off_t done)
{
    double now;

    pr->done = done;
    if (!pr->on)
        return;
    now = netsrv_now();
    if (now - pr->last >= 0.1)
        nt_progress_draw(pr, now);
}

void nt_progress_end(struct nt_progress *pr)
{
    if (!pr->on)
        return;
    nt_progress_draw(pr, netsrv_now());
    (void)!write(STDERR_FILENO, "\n", 1);
    pr->on = 0;
}
