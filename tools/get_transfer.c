/* get_transfer.c - one URL of "nettool get": the request (libnetsrv's
 * netsrv_httpc), the output (FILE.part, renamed to FILE once complete, so
 * no failure leaves a truncated FILE), resume with a Range request (-c),
 * a download split over several connections (-s) written in place with
 * pwrite, --sha256 while the bytes come, ETags, and retries with backoff.
 * Bodies are read into one large buffer and written from it: the library
 * fills it straight from the socket, so nothing is copied in between.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <netsrv.h>

#include "applets.h"
#include "download.h"
#include "get.h"

#define SPLIT_MIN (1 << 20) /* smaller files are not worth splitting */

int nt_get_exit_for(int rc)
{
    switch (rc) {
    case -ENXIO:
        return NT_GET_EXIT_DNS;
    case -ECONNREFUSED:
    case -ENETUNREACH:
    case -EHOSTUNREACH:
        return NT_GET_EXIT_REFUSED;
    case -ETIMEDOUT:
        return NT_GET_EXIT_TIMEOUT;
    case -EKEYREJECTED:
    case -EPROTO:
        return NT_GET_EXIT_TLS;
    case -EBADMSG:
    case -EPIPE:
    case -ECONNRESET:
        return NT_GET_EXIT_PROTO;
    case -ELOOP:
        return NT_GET_EXIT_REDIRECT;
    default:
        return NT_EXIT_FAILURE;
    }
}

/* Failures worth another try: the server or the network may do better. */
static int transient(int rc)
{
    return rc == -ETIMEDOUT || rc == -ECONNREFUSED || rc == -ECONNRESET || rc == -EPIPE;
}

static int transient_status(int status)
{
    return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
           status == 504;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int pwrite_all(int fd, const char *p, size_t n, off_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        off += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The status line and headers as received (for -i and -I). */
static int write_head(int fd, const netsrv_httpc_resp *p)
{
    const netsrv_http_msg *m = netsrv_httpc_head(p);
    size_t cap = m->head_len + 64, n = 0;
    char *b = malloc(cap);
    if (!b)
        return -ENOMEM;
    n += (size_t)snprintf(b, cap, "HTTP/%d.%d %d %.*s\r\n", m->major, m->minor, m->status,
                          (int)m->reason_len, m->reason ? m->reason : "");
    for (size_t i = 0; i < m->nheaders && n < cap; i++)
        n += (size_t)snprintf(b + n, cap - n, "%.*s: %.*s\r\n", (int)m->headers[i].name_len,
                              m->headers[i].name, (int)m->headers[i].value_len,
                              m->headers[i].value);
    if (n < cap)
        n += (size_t)snprintf(b + n, cap - n, "\r\n");
    if (n > cap)
        n = cap;
    int rc = write_all(fd, b, n);
    free(b);
    return rc;
}

static void set_err(struct nt_get_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(struct nt_get_job *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->err, sizeof j->err, fmt, ap);
    va_end(ap);
}

/* Retry-After: seconds, or an HTTP date; -1 when absent or unreadable. */
static double retry_after(const netsrv_httpc_resp *p)
{
    size_t len;
    const char *v = netsrv_httpc_header(p, "Retry-After", &len);
    if (!v || len == 0 || len > 64)
        return -1;
    char buf[65];
    memcpy(buf, v, len);
    buf[len] = '\0';
    char *end;
    double s = strtod(buf, &end);
    if (end != buf && *end == '\0' && s >= 0)
        return s;
    time_t t;
    if (netsrv_http_date_parse(buf, len, &t) == 0)
        return t > time(NULL) ? (double)(t - time(NULL)) : 0;
    return -1;
}

/* The first byte of "Content-Range: bytes FIRST-LAST/SIZE", or of
 * "bytes * /SIZE" the SIZE in *size (first -1 then). */
static int content_range(const netsrv_httpc_resp *p, long long *first, long long *size)
{
    size_t len;
    const char *v = netsrv_httpc_header(p, "Content-Range", &len);
    char buf[128];
    *first = -1;
    *size = -1;
    if (!v || len >= sizeof buf)
        return -1;
    memcpy(buf, v, len);
    buf[len] = '\0';
    long long a, b, n;
    if (sscanf(buf, "bytes %lld-%lld/%lld", &a, &b, &n) == 3) {
        *first = a;
        *size = n;
        return 0;
    }
    if (sscanf(buf, "bytes */%lld", &n) == 1) {
        *size = n;
        return 0;
    }
    return -1;
}

static int save_etag(const struct nt_get_opts *o, const netsrv_httpc_resp *p,
                     struct nt_get_job *j)
{
    size_t len;
    const char *v = netsrv_httpc_header(p, "ETag", &len);
    if (!o->etag_save || !v)
        return 0;
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", o->etag_save);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write_all(fd, v, len) < 0 || write_all(fd, "\n", 1) < 0 || close(fd) < 0 ||
        rename(tmp, o->etag_save) < 0) {
        set_err(j, "%s: %s", o->etag_save, strerror(errno));
        if (fd >= 0)
            unlink(tmp);
        return NT_GET_EXIT_WRITE;
    }
    return 0;
}

/* The ETag kept in FILE ("" when there is none). */
static void read_etag(const char *file, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *f = fopen(file, "re");
    if (!f)
        return;
    if (fgets(buf, (int)cap, f)) {
        size_t n = strcspn(buf, "\r\n");
        buf[n] = '\0';
    }
    fclose(f);
}

static void sleep_for(double secs)
{
    double until = netsrv_now() + secs;
    while (netsrv_now() < until)
        netsrv_wait(-1, 0, until);
}

/* ---- split downloads (-s N) ---- */

/* A split download keeps FILE.part.journal beside FILE.part while it runs
 * (libnetsrv's netsrv_journal): the file's size and validator (its ETag,
 * else Last-Modified), the number of parts, and how far each part has
 * written, committed every SPLIT_SAVE bytes and when a part ends.  A part
 * records only bytes its pwrite has returned for, so after a failure or a
 * kill -9 the next `get -c` fetches each part from where it stopped: the
 * holes between parts are never taken for data. */
#define SPLIT_SAVE (1 << 20)

struct split {
    struct nt_get *g;
    const char *url;
    int fd;
    netsrv_task *parent;
    unsigned left;              /* parts still running */
    long long done;             /* bytes in place (earlier runs' included) */
    struct nt_progress *pr;
    netsrv_journal *jn;         /* NULL: none could be kept */
};

/* A part's record in the journal. */
struct split_stamp {
    long long first, at, last;
};

struct split_part {
    struct split *sp;
    unsigned i;
    long long first, last;
    long long at;               /* where this run starts it */
    long long saved;            /* what the journal says of it */
    int exit;
    char err[256];
};

static void part_save(struct split_part *pt, long long at)
{
    struct split *sp = pt->sp;
    char key[32];
    if (!sp->jn || at == pt->saved)
        return;
    struct split_stamp st = { pt->first, at, pt->last };
    int n = snprintf(key, sizeof key, "part/%u", pt->i);
    if (netsrv_journal_put(sp->jn, key, (size_t)n, &st, sizeof st) == 0 &&
        netsrv_journal_commit(sp->jn) == 0)
        pt->saved = at;
}

static void part_main(void *arg)
{
    struct split_part *pt = arg;
    struct split *sp = pt->sp;
    const struct nt_get_opts *o = &sp->g->o;
    char err[NETSRV_ERRLEN] = "";
    netsrv_httpc_resp *p = NULL;
    char *buf = NULL;
    off_t at = (off_t)pt->at;
    if (pt->at > pt->last)
        goto out; /* done in an earlier run */
    netsrv_httpc_req r;
    netsrv_httpc_req_init(&r, sp->url);
    r.headers = o->headers;
    r.nheaders = o->nheaders;
    r.range_first = pt->at;
    r.range_last = pt->last;
    r.deadline = o->max_time > 0 ? netsrv_now() + o->max_time : 0;
    int rc = netsrv_httpc_request(sp->g->s, &r, &p, err, sizeof err);
    long long first = -1, size = -1;
    if (rc < 0) {
        pt->exit = nt_get_exit_for(rc);
        snprintf(pt->err, sizeof pt->err, "%s", err);
        goto out;
    }
    if (netsrv_httpc_status(p) != 206 || content_range(p, &first, &size) < 0 ||
        first != pt->at) {
        pt->exit = NT_GET_EXIT_PROTO;
        snprintf(pt->err, sizeof pt->err, "range %lld-%lld: HTTP %d without the range asked for",
                 pt->at, pt->last, netsrv_httpc_status(p));
        goto out;
    }
    buf = malloc(o->bufsize);
    ssize_t n;
    while (buf && (n = netsrv_httpc_read(p, buf, o->bufsize)) > 0) {
        if ((rc = pwrite_all(sp->fd, buf, (size_t)n, at)) < 0) {
            pt->exit = NT_GET_EXIT_WRITE;
            snprintf(pt->err, sizeof pt->err, "writing: %s", strerror(-rc));
            goto out;
        }
        at += n;
        sp->done += n;
        nt_progress_update(sp->pr, (off_t)sp->done);
        if (at - pt->saved >= SPLIT_SAVE)
            part_save(pt, at);
    }
    if (!buf || n < 0) {
        pt->exit = buf ? nt_get_exit_for((int)n) : NT_EXIT_FAILURE;
        snprintf(pt->err, sizeof pt->err, "range %lld-%lld: %s", pt->at, pt->last,
                 buf ? netsrv_strerror((int)n) : "out of memory");
    } else if (at != (off_t)pt->last + 1) {
        pt->exit = NT_GET_EXIT_PROTO;
        snprintf(pt->err, sizeof pt->err, "range %lld-%lld: short", pt->at, pt->last);
    }
out:
    part_save(pt, at);
    free(buf);
    netsrv_httpc_close(p);
    if (--sp->left == 0)
        netsrv_task_wake(sp->parent);
}

/* The file's stamp in the journal: what must not have changed on the
 * server for the parts already there to be kept. */
static int split_file_stamp(char *out, size_t cap, long long size, unsigned n,
                            const char *validator)
{
    return snprintf(out, cap, "%lld %u %s", size, n, validator);
}

/* The parts of a split recorded in jn for this size and validator, fd
 * being the FILE.part they were written to: their number, the parts in
 * pts (malloc'd), or 0 when the journal does not fit (*why says how). */
static unsigned split_resume(netsrv_journal *jn, int fd, long long size, const char *validator,
                             struct split_part **pts, const char **why)
{
    char had[512], want[512];
    long long hsize;
    unsigned n;
    struct stat pst;
    *why = "it records no parts of this download";
    ssize_t len = netsrv_journal_get(jn, "/file", 5, had, sizeof had - 1);
    if (len <= 0 || len >= (ssize_t)sizeof had)
        return 0;
    had[len] = 0;
    if (sscanf(had, "%lld %u", &hsize, &n) != 2 || n < 1 || n > 1024)
        return 0;
    split_file_stamp(want, sizeof want, size, n, validator);
    *why = "it is of another version of the file (size, ETag or Last-Modified)";
    if (strcmp(had, want) != 0)
        return 0;
    /* A fresh split sets FILE.part's size before any part is recorded:
     * one of another size (cut short, replaced) does not hold what the
     * journal says, and its holes would pass for data. */
    *why = "the .part beside it is not the size it was made with";
    if (fstat(fd, &pst) < 0 || (long long)pst.st_size != size)
        return 0;
    *why = "out of memory";
    if (!(*pts = calloc(n, sizeof **pts)))
        return 0;
    *why = "its parts do not fit together";
    for (unsigned i = 0; i < n; i++) {
        char key[32];
        struct split_stamp st;
        int kl = snprintf(key, sizeof key, "part/%u", i);
        if (netsrv_journal_get(jn, key, (size_t)kl, &st, sizeof st) != sizeof st ||
            st.first < 0 || st.at < st.first || st.last >= size || st.at > st.last + 1 ||
            (i > 0 && st.first != (*pts)[i - 1].last + 1) || (i == 0 && st.first != 0)) {
            free(*pts);
            *pts = NULL;
            return 0;
        }
        (*pts)[i].first = st.first;
        (*pts)[i].last = st.last;
        (*pts)[i].at = (*pts)[i].saved = st.at;
    }
    if ((*pts)[n - 1].last != size - 1) {
        free(*pts);
        *pts = NULL;
        return 0;
    }
    return n;
}

/* Fetches url (whose size is size, ranges accepted) with o->split
 * connections into fd (FILE.part), keeping the journal jpath; with
 * resume, the parts an earlier run recorded there for this validator go
 * on from where they stopped.  Returns an exit code; *kept is set when
 * FILE.part and its journal stay for a later -c. */
static int split_fetch(struct nt_get *g, struct nt_get_job *j, const char *url, int fd,
                       long long size, const char *validator, const char *jpath, int resume,
                       int *kept)
{
    char jerr[NETSRV_ERRLEN], stamp[512];
    struct split sp = { g, url, fd, netsrv_task_self(), 0, 0, NULL, NULL };
    struct split_part *pts = NULL;
    unsigned n = 0;
    *kept = 0;
    if (!resume)
        netsrv_journal_unlink(jpath); /* an older layout's parts */
    int jrc = netsrv_journal_open(&sp.jn, jpath, jerr, sizeof jerr);
    if (jrc == -EINVAL || jrc == -ELOOP) {
        /* Not a journal (garbage, cut short, a symbolic link, which the
         * library does not follow): nothing in it is trusted.
         * It is replaced so this run keeps a journal of its own, and none
         * is left beside FILE once it is complete. */
        nt_error("warning: %s; not a journal; %s is fetched from the start", jerr, j->path);
        netsrv_journal_unlink(jpath);
        resume = 0;
        jrc = netsrv_journal_open(&sp.jn, jpath, jerr, sizeof jerr);
    }
    if (jrc < 0) {
        sp.jn = NULL; /* the download goes on; only resuming it is lost */
        if (resume)
            nt_error("warning: %s; %s is fetched from the start", jerr, j->path);
    } else if (resume) {
        const char *why;
        if ((n = split_resume(sp.jn, fd, size, validator, &pts, &why)) == 0)
            nt_error("warning: %s: %s; %s is fetched from the start", jpath, why, j->path);
    }
    if (n == 0) {
        /* A fresh start: the parts laid out, recorded before any byte. */
        n = g->o.split > 1 ? g->o.split : 1;
        if (!(pts = calloc(n, sizeof *pts))) {
            netsrv_journal_close(sp.jn);
            set_err(j, "out of memory");
            return NT_EXIT_FAILURE;
        }
        long long each = size / n;
        for (unsigned i = 0; i < n; i++) {
            pts[i].first = pts[i].at = each * i;
            pts[i].last = i == n - 1 ? size - 1 : each * (i + 1) - 1;
            pts[i].saved = -1;
        }
        if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)size) < 0) {
            set_err(j, "%s.part: %s", j->path, strerror(errno));
            netsrv_journal_close(sp.jn);
            free(pts);
            return NT_GET_EXIT_WRITE;
        }
        if (sp.jn) {
            int sl = split_file_stamp(stamp, sizeof stamp, size, n, validator);
            if (netsrv_journal_put(sp.jn, "/file", 5, stamp, (size_t)sl) < 0 ||
                netsrv_journal_commit(sp.jn) < 0) {
                netsrv_journal_discard(sp.jn);
                sp.jn = NULL;
            }
        }
    }
    for (unsigned i = 0; i < n; i++) {
        pts[i].sp = &sp;
        pts[i].i = i;
        if (pts[i].saved < 0) {
            pts[i].saved = pts[i].at - 1; /* so the first save writes */
            part_save(&pts[i], pts[i].at);
        }
        sp.done += pts[i].at - pts[i].first;
    }
    struct nt_progress pr;
    nt_progress_start(&pr, g->o.progress, j->path, (off_t)size, (off_t)sp.done);
    sp.pr = &pr;
    long long had = sp.done;
    sp.left = n;
    /* Part 0 runs in this task, the others in tasks of their own. */
    for (unsigned i = 1; i < n; i++)
        if (netsrv_loop_spawn(g->loop, part_main, &pts[i]) < 0) {
            pts[i].exit = NT_EXIT_FAILURE;
            snprintf(pts[i].err, sizeof pts[i].err, "out of memory");
            sp.left--;
        }
    part_main(&pts[0]);
    while (sp.left > 0)
        netsrv_wait(-1, 0, 0);
    nt_progress_end(&pr);
    int ex = 0;
    for (unsigned i = 0; i < n && !ex; i++)
        if (pts[i].exit) {
            ex = pts[i].exit;
            set_err(j, "%s", pts[i].err);
        }
    j->bytes = sp.done - had;
    if (ex && sp.jn) {
        netsrv_journal_close(sp.jn); /* kept: -c goes on from it */
        *kept = 1;
    } else {
        netsrv_journal_discard(sp.jn);
    }
    free(pts);
    return ex;
}

/* ---- one try ---- */

/* Commits FILE.part as FILE.  0 or NT_GET_EXIT_WRITE. */
static int commit(struct nt_get_job *j, const char *part, int fd)
{
    if (fd >= 0 && close(fd) < 0) {
        set_err(j, "%s: %s", part, strerror(errno));
        return NT_GET_EXIT_WRITE;
    }
    if (rename(part, j->path) < 0) {
        set_err(j, "%s: renaming to %s: %s", part, j->path, strerror(errno));
        return NT_GET_EXIT_WRITE;
    }
    return 0;
}

static int check_sum(const struct nt_get_opts *o, struct nt_get_job *j, netsrv_sha256 *h)
{
    unsigned char sum[NETSRV_SHA256_LEN];
    char got[NETSRV_SHA256_HEXLEN + 1], want[NETSRV_SHA256_HEXLEN + 1];
    if (netsrv_sha256_final(h, sum) < 0) {
        set_err(j, "SHA-256 failed");
        return NT_EXIT_FAILURE;
    }
    if (memcmp(sum, o->sha256, sizeof sum) != 0) {
        set_err(j, "SHA-256 mismatch: the body hashes to %s, --sha256 wants %s",
                netsrv_sha256_hex(sum, got), netsrv_sha256_hex(o->sha256, want));
        return NT_GET_EXIT_CHECKSUM;
    }
    return 0;
}

/* Whether file has a hole before its end.  Bytes written in order (a
 * download's FILE.part) leave none; a split's FILE.part has them until
 * every part is in, and one whose journal is gone is no prefix to resume.
 * (A file system that keeps written zeros as holes, as ZFS with
 * compression does, only costs such a file a fetch from the start.) */
static int has_hole(const char *file, off_t size)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    off_t h = lseek(fd, 0, SEEK_HOLE);
    close(fd);
    return h >= 0 && h < size;
}

static int attempt(struct nt_get *g, struct nt_get_job *j, double deadline, double *ra,
                   int *again)
{
    const struct nt_get_opts *o = &g->o;
    char part[PATH_MAX + 8], err[NETSRV_ERRLEN] = "", etag[256] = "";
    off_t offset = 0;
    struct stat st;
    int fd = -1, ex = 0, rc;
    netsrv_sha256 *h = NULL;
    char *buf = NULL;
    netsrv_httpc_resp *p = NULL;

    char jpath[PATH_MAX + 16] = "";
    int resume_split = 0;
    if (j->path) {
        snprintf(part, sizeof part, "%s.part", j->path);
        snprintf(jpath, sizeof jpath, "%s.journal", part);
        /* FILE.part of a split download has holes: only its journal says
         * what is there, so -c goes on as a split, part by part.  (lstat:
         * a journal that is a dangling link is still one not to trust,
         * not a sign that FILE.part is a plain prefix.) */
        resume_split = o->resume && !o->head && !o->include && lstat(jpath, &st) == 0 &&
                       stat(part, &st) == 0 && S_ISREG(st.st_mode);
        if (o->resume && !o->head && !resume_split) {
            /* Our own FILE.part first, else a FILE another tool left short. */
            if (stat(part, &st) == 0 && S_ISREG(st.st_mode))
                offset = st.st_size;
            else if (stat(j->path, &st) == 0 && S_ISREG(st.st_mode) && rename(j->path, part) == 0)
                offset = st.st_size;
            if (offset > 0 && has_hole(part, offset)) {
                nt_error("warning: %s has holes (a split download's, without its journal); "
                         "%s is fetched from the start", part, j->path);
                offset = 0;
            }
        }
    }
    netsrv_http_header *hs = calloc(o->nheaders + 1, sizeof *hs);
    if (!hs) {
        set_err(j, "out of memory");
        return NT_EXIT_FAILURE;
    }
    if (o->nheaders) /* memcpy from a NULL array is undefined even for 0 bytes */
        memcpy(hs, o->headers, o->nheaders * sizeof *hs);
    size_t nh = o->nheaders;
    if (o->etag_compare) {
        read_etag(o->etag_compare, etag, sizeof etag);
        if (etag[0])
            hs[nh++] = (netsrv_http_header)NETSRV_HTTP_HEADER("If-None-Match", etag);
    }
    int split = resume_split ||
                (o->split > 1 && j->path && !o->head && !o->include && offset == 0);
    netsrv_httpc_req r;
    netsrv_httpc_req_init(&r, j->url);
    r.method = o->head || split ? "HEAD" : NULL;
    r.follow = o->follow;
    r.deadline = deadline;
    r.headers = hs;
    r.nheaders = nh;
    if (offset > 0)
        r.range_first = offset;
    rc = netsrv_httpc_request(g->s, &r, &p, err, sizeof err);
    free(hs);
    if (rc < 0) {
        set_err(j, "%s", err);
        *again = transient(rc);
        return nt_get_exit_for(rc);
    }
    int status = netsrv_httpc_status(p);
    j->status = status;
    free(j->final_url);
    j->final_url = strdup(netsrv_httpc_url(p));
    if (status == 304 && etag[0]) {
        j->skipped = 1;
        goto done;
    }
    if (transient_status(status) && j->tries <= o->retry) {
        set_err(j, "HTTP %d %s", status, netsrv_http_status_text(status));
        *ra = retry_after(p);
        *again = 1;
        ex = o->fail ? NT_GET_EXIT_HTTP : NT_EXIT_FAILURE;
        goto done;
    }
    if (o->fail && status >= 400) {
        set_err(j, "HTTP %d %s", status, netsrv_http_status_text(status));
        ex = NT_GET_EXIT_HTTP;
        goto done;
    }
    long long first, size;
    if (offset > 0) {
        if (status == 416 && content_range(p, &first, &size) == 0 && size == (long long)offset) {
            ex = commit(j, part, -1); /* it was whole already */
            goto done;
        }
        if (status == 200) {
            offset = 0; /* the server sends all of it: start again */
        } else if (status != 206 || content_range(p, &first, &size) < 0 ||
                   first != (long long)offset) {
            set_err(j, "resuming at %lld: HTTP %d without the range asked for (%s kept)",
                    (long long)offset, status, part);
            ex = status == 206 ? NT_GET_EXIT_PROTO : NT_GET_EXIT_HTTP;
            goto done;
        }
    }
    if (split) {
        size_t al;
        const char *ar = netsrv_httpc_header(p, "Accept-Ranges", &al);
        long long len = netsrv_httpc_length(p);
        char url[4096];
        snprintf(url, sizeof url, "%s", netsrv_httpc_url(p));
        int ranges = ar && al == 5 && strncasecmp(ar, "bytes", 5) == 0;
        if (status == 200 && ranges && len >= SPLIT_MIN) {
            if ((ex = save_etag(o, p, j)))
                goto done;
            /* What says the file is the same one: its ETag, else its time. */
            char validator[300] = "";
            size_t vl;
            const char *v = netsrv_httpc_header(p, "ETag", &vl);
            if (!v)
                v = netsrv_httpc_header(p, "Last-Modified", &vl);
            if (v)
                snprintf(validator, sizeof validator, "%.*s", (int)(vl < 290 ? vl : 290), v);
            netsrv_httpc_close(p);
            p = NULL;
            fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
            if (fd < 0) {
                set_err(j, "%s: %s", part, strerror(errno));
                return NT_GET_EXIT_WRITE;
            }
            int kept;
            ex = split_fetch(g, j, url, fd, len, validator, jpath, resume_split, &kept);
            if (!ex && o->check) {
                if (netsrv_sha256_new(&h) < 0 || netsrv_sha256_update_fd(h, fd, 0, len) < 0) {
                    set_err(j, "%s: hashing it: failed", part);
                    ex = NT_EXIT_FAILURE;
                } else {
                    ex = check_sum(o, j, h);
                }
            }
            if (!ex) {
                ex = commit(j, part, fd);
            } else if (kept) {
                close(fd); /* with its journal: -c fetches only what is missing */
                size_t el = strlen(j->err);
                snprintf(j->err + el, sizeof j->err - el, "; %s kept with its journal: -c resumes it",
                         part);
            } else {
                close(fd);
                unlink(part); /* holes in it, and no journal: no resuming that */
            }
            netsrv_sha256_free(h);
            return ex;
        }
        /* No ranges (or too small to be worth it): one plain GET, from
         * the start (a split's FILE.part is of no use to it). */
        if (resume_split) {
            netsrv_journal_unlink(jpath);
            unlink(part);
        }
        netsrv_httpc_close(p);
        r.method = NULL;
        rc = netsrv_httpc_request(g->s, &r, &p, err, sizeof err);
        if (rc < 0) {
            set_err(j, "%s", err);
            *again = transient(rc);
            return nt_get_exit_for(rc);
        }
        j->status = status = netsrv_httpc_status(p);
        if (o->fail && status >= 400) {
            set_err(j, "HTTP %d %s", status, netsrv_http_status_text(status));
            ex = NT_GET_EXIT_HTTP;
            goto done;
        }
    }

    /* The response is the one to keep: from here on bytes are written. */
    if (j->path) {
        fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC | (offset ? 0 : O_TRUNC), 0644);
        if (fd < 0 || (offset && (ftruncate(fd, offset) < 0 || lseek(fd, offset, SEEK_SET) < 0))) {
            set_err(j, "%s: %s", part, strerror(errno));
            ex = NT_GET_EXIT_WRITE;
            goto done;
        }
    }
    int out = j->path ? fd : j->out_fd;
    if ((o->head || o->include) && (rc = write_head(out, p)) < 0) {
        set_err(j, "%s: %s", j->path ? part : "stdout", strerror(-rc));
        ex = NT_GET_EXIT_WRITE;
        goto done;
    }
    if (o->check && !o->head) {
        if (netsrv_sha256_new(&h) < 0 || (offset && netsrv_sha256_update_fd(h, fd, 0, offset) < 0)) {
            set_err(j, "%s: hashing it: failed", part);
            ex = NT_EXIT_FAILURE;
            goto done;
        }
    }
    struct nt_progress pr;
    long long len = netsrv_httpc_length(p);
    nt_progress_start(&pr, o->progress && !o->head, j->path ? j->path : j->url,
                      len >= 0 ? offset + len : 0, offset);
    buf = malloc(o->bufsize);
    if (!buf) {
        set_err(j, "out of memory");
        ex = NT_EXIT_FAILURE;
        goto done;
    }
    ssize_t n;
    long long got = 0;
    while ((n = netsrv_httpc_read(p, buf, o->bufsize)) > 0) {
        if ((rc = write_all(out, buf, (size_t)n)) < 0) {
            set_err(j, "%s: %s", j->path ? part : "stdout", strerror(-rc));
            ex = NT_GET_EXIT_WRITE;
            break;
        }
        if (h)
            netsrv_sha256_update(h, buf, (size_t)n);
        got += n;
        nt_progress_update(&pr, offset + got);
    }
    nt_progress_end(&pr);
    j->bytes += got;
    if (ex)
        goto done;
    if (n < 0) {
        const char *why = netsrv_httpc_error(p);
        set_err(j, "%s after %lld bytes%s%s%s", netsrv_strerror((int)n), (long long)offset + got,
                why[0] ? " (" : "", why, why[0] ? ")" : "");
        if (j->path)
            snprintf(j->err + strlen(j->err), sizeof j->err - strlen(j->err),
                     "; %s kept: -c resumes it", part);
        *again = transient((int)n);
        ex = nt_get_exit_for((int)n);
        goto done;
    }
    if (h && (ex = check_sum(o, j, h))) {
        if (j->path)
            unlink(part);
        goto done;
    }
    if ((ex = save_etag(o, p, j)))
        goto done;
    if (j->path) {
        ex = commit(j, part, fd);
        fd = -1;
    }
done:
    free(buf);
    netsrv_sha256_free(h);
    netsrv_httpc_close(p);
    if (fd >= 0) {
        close(fd);
        if (ex && !j->bytes && offset == 0)
            unlink(part); /* nothing came: no litter */
    }
    return ex;
}

void nt_get_run_job(struct nt_get *g, struct nt_get_job *j)
{
    const struct nt_get_opts *o = &g->o;
    double t0 = netsrv_now();
    double deadline = o->max_time > 0 ? t0 + o->max_time : 0;
    double delay = o->retry_delay;

    for (j->tries = 1;; j->tries++) {
        double ra = -1;
        int again = 0;
        j->err[0] = '\0';
        j->exit = attempt(g, j, deadline, &ra, &again);
        if (j->exit == 0 || !again || j->tries > o->retry)
            break;
        double wait = ra >= 0 ? ra : delay;
        delay *= 2;
        if (deadline > 0 && netsrv_now() + wait >= deadline)
            break;
        if (nt_verbosity >= 1)
            nt_error("%s: %s; trying again in %.1f s (%u of %u)", j->url, j->err, wait,
                     j->tries, o->retry);
        sleep_for(wait);
    }
    j->secs = netsrv_now() - t0;
}
