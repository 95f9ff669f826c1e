/* applet_dircopy.c - "nettool dircopy SRC DST": the command line, the
 * checks made before anything is written, and the run: the walk
 * (dircopy_walk.c) lists SRC in the parent, batches of entries go to a
 * libnetsrv process pool whose workers copy them (dircopy_work.c), then
 * the parent makes the hard links and sets the directories' metadata.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netsrv.h>

#include "applets.h"
#include "dircopy.h"

const char nt_dircopy_usage[] =
    "Usage: nettool dircopy SRC DST [OPTIONS]\n"
    "Copy the directory tree SRC to DST (made when missing; an existing DST is\n"
    "brought up to date): directories, regular files (holes kept), symbolic\n"
    "links as links (never followed), FIFOs, sockets and device nodes, with\n"
    "their permissions and times, and their owners when run as root; hard\n"
    "links stay hard links.  Each file is written to a temporary name in its\n"
    "directory and renamed when complete, and a file whose size and\n"
    "modification time already match is skipped: running again after an\n"
    "interruption (even kill -9) finishes the job.\n"
    "\n"
    "  -j, --jobs N       copy in N worker processes (default: the number of CPUs)\n"
    "  -c, --checksum     skip a file only when its contents match (SHA-256),\n"
    "                     not when its size and modification time do\n"
    "      --verify       read every copied file back and compare SHA-256 sums\n"
    "  -n, --dry-run      list what would be copied and change nothing\n"
    "  -v, --verbose      a summary at the end\n"
    "  -q, --quiet        no progress line\n"
    "  -h, --help         show this help\n"
    "\n"
    "A progress line (files, bytes, rate, percent) is drawn on stderr when it is\n"
    "a terminal.  An entry that cannot be copied is reported on stderr and the\n"
    "copy goes on.  Exit status: 0 when everything was copied; 1 when some\n"
    "entries were not (their count is the last line); 2 for a bad command line,\n"
    "SRC missing or not a directory, DST an existing non-directory, or DST\n"
    "inside SRC (nothing is written then).\n";

enum { OPT_VERIFY = 256 };

static const struct option nt_dircopy_options[] = {
    { "checksum", no_argument,       NULL, 'c' },
    { "dry-run",  no_argument,       NULL, 'n' },
    { "jobs",     required_argument, NULL, 'j' },
    { "verify",   no_argument,       NULL, OPT_VERIFY },
    NT_COMMON_LONGOPTS,
    { NULL, 0, NULL, 0 }
};

/* Entries per batch, and data bytes: large enough that a pool message
 * carries many small files, small enough that the workers share the end
 * of the run; every failed entry's line fits in the batch's result. */
#define DC_BATCH_MAX 200
#define DC_BATCH_BYTES (8ull << 20)

static volatile sig_atomic_t dc_signal;

static void dc_on_signal(int sig)
{
    dc_signal = sig;
}

struct dc_batch {
    unsigned char *buf;
    size_t len;
    int tries;
};

struct dc_run {
    struct dc_tree t;
    struct dc_opts o;
    struct dc_progress pr;
    netsrv_pool *pool;
    struct dc_batch *b; /* every batch sent, kept until its result */
    size_t nb, capb;
    unsigned long long copied, skipped, linked, copied_bytes;
    unsigned long long journaled;
    int crashed;
    struct dc_journal jn;
    unsigned char cur[NETSRV_POOL_MSG_MAX];
    size_t curlen, curn;
    unsigned long long curbytes;
};

/* ------------------------------------------------------------ the checks */

/* Whether the directory fd is dir or lies below it, going up by "..". */
static int dc_is_below(int fd, const struct stat *dir)
{
    struct stat st, up;
    int cur = dup(fd), below = 0;

    while (cur >= 0 && fstat(cur, &st) == 0) {
        if (st.st_dev == dir->st_dev && st.st_ino == dir->st_ino) {
            below = 1;
            break;
        }
        int parent = openat(cur, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (parent < 0 || fstat(parent, &up) < 0 ||
            (up.st_dev == st.st_dev && up.st_ino == st.st_ino)) {
            if (parent >= 0)
                close(parent);
            break; /* the root */
        }
        close(cur);
        cur = parent;
    }
    if (cur >= 0)
        close(cur);
    return below;
}

/* SRC opened, DST checked (and its nearest existing directory found), all
 * before anything is written: a usage error exits 2 here. */
static int dc_check(const char *src, const char *dst, struct stat *sst, int *dst_exists)
{
    struct stat dstat;
    int sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (sfd < 0) {
        if (errno == ENOTDIR)
            nt_usage_error("%s: not a directory", src);
        nt_usage_error("%s: %s", src, strerror(errno));
    }
    fstat(sfd, sst);
    *dst_exists = stat(dst, &dstat) == 0;
    char *near = NULL;
    if (*dst_exists) {
        if (!S_ISDIR(dstat.st_mode))
            nt_usage_error("%s exists and is not a directory", dst);
        near = strdup(dst);
    } else if (errno != ENOENT) {
        nt_usage_error("%s: %s", dst, strerror(errno));
    } else {
        /* DST is made: its parent must be there. */
        size_t n = strlen(dst);
        near = malloc(n + 4);
        if (!near)
            nt_usage_error("out of memory");
        memcpy(near, dst, n + 1);
        while (n > 1 && near[n - 1] == '/')
            near[--n] = 0;
        char *slash = strrchr(near, '/');
        if (!slash)
            strcpy(near, ".");
        else if (slash == near)
            near[1] = 0;
        else
            *slash = 0;
    }
    int nfd = near ? open(near, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (nfd < 0)
        nt_usage_error("%s: cannot make it: %s: %s", dst, near ? near : "", strerror(errno));
    if (dc_is_below(nfd, sst))
        nt_usage_error("%s is inside %s: the copy would copy itself", dst, src);
    close(nfd);
    free(near);
    return sfd;
}

/* ------------------------------------------------------------ batches */

static void dc_collect(struct dc_run *r, double timeout);

/* Sends a batch (kept for a second try if its worker dies). */
static void dc_submit(struct dc_run *r, const unsigned char *buf, size_t len, size_t id)
{
    int rc;

    while ((rc = netsrv_pool_submit(r->pool, buf, len, id, NETSRV_POOL_NONBLOCK)) == -EAGAIN &&
           !dc_signal)
        dc_collect(r, 0.1);
    if (rc < 0 && !dc_signal) {
        dc_report(&r->t, "", "cannot hand a batch to the workers: %s", netsrv_strerror(rc));
    }
}

static void dc_flush(struct dc_run *r)
{
    if (!r->curn)
        return;
    if (r->nb == r->capb) {
        size_t cap = r->capb ? 2 * r->capb : 256;
        struct dc_batch *b = realloc(r->b, cap * sizeof *b);
        if (!b) {
            nt_error("out of memory");
            exit(NT_EXIT_FAILURE);
        }
        r->b = b;
        r->capb = cap;
    }
    struct dc_batch *b = &r->b[r->nb];
    b->buf = malloc(r->curlen);
    if (!b->buf) {
        nt_error("out of memory");
        exit(NT_EXIT_FAILURE);
    }
    memcpy(b->buf, r->cur, r->curlen);
    b->len = r->curlen;
    b->tries = 1;
    size_t id = r->nb++;
    r->curlen = r->curn = 0;
    r->curbytes = 0;
    dc_submit(r, b->buf, b->len, id);
}

static void dc_add_entry(struct dc_run *r, uint32_t idx)
{
    struct dc_entry *e = &r->t.e[idx];
    size_t rl = strlen(e->rel);

    if (rl > UINT16_MAX || sizeof(struct dc_wire) + rl > sizeof r->cur) {
        dc_report(&r->t, e->rel, "path too long");
        e->state = DC_FAILED;
        return;
    }
    if (r->curlen + sizeof(struct dc_wire) + rl > sizeof r->cur)
        dc_flush(r);
    struct dc_wire w = {
        .idx = idx,
        .rel_len = (uint16_t)rl,
        .name_off = (uint16_t)e->name_off,
        .mode = e->st.st_mode,
        .uid = e->st.st_uid,
        .gid = e->st.st_gid,
        .size = (uint64_t)e->st.st_size,
        .rdev = (uint64_t)e->st.st_rdev,
        .atime = e->st.st_atim.tv_sec,
        .mtime = e->st.st_mtim.tv_sec,
        .atime_ns = (uint32_t)e->st.st_atim.tv_nsec,
        .mtime_ns = (uint32_t)e->st.st_mtim.tv_nsec,
    };
    memcpy(r->cur + r->curlen, &w, sizeof w);
    memcpy(r->cur + r->curlen + sizeof w, e->rel, rl);
    r->curlen += sizeof w + rl;
    r->curn++;
    if (S_ISREG(e->st.st_mode))
        r->curbytes += (unsigned long long)e->st.st_size;
    if (r->curn >= DC_BATCH_MAX || r->curbytes >= DC_BATCH_BYTES)
        dc_flush(r);
}

/* Calls fn for each entry index of a batch. */
static void dc_batch_entries(const struct dc_batch *b, void (*fn)(struct dc_run *, uint32_t, const char *),
                             struct dc_run *r, const char *why)
{
    const unsigned char *p = b->buf, *end = p + b->len;

    while (p + sizeof(struct dc_wire) <= end) {
        struct dc_wire w;
        memcpy(&w, p, sizeof w);
        p += sizeof w + w.rel_len;
        fn(r, w.idx, why);
    }
}

static void dc_mark_done(struct dc_run *r, uint32_t idx, const char *why)
{
    (void)why;
    if (r->t.e[idx].state == DC_PENDING) {
        r->t.e[idx].state = DC_DONE;
        dc_journal_record(&r->jn, &r->t.e[idx], &r->o);
    }
}

static void dc_mark_failed(struct dc_run *r, uint32_t idx, const char *why)
{
    r->t.e[idx].state = DC_FAILED;
    dc_report(&r->t, r->t.e[idx].rel, "not copied: %s", why);
    dc_progress_add(&r->pr, 1, 0);
}

static void dc_result(struct dc_run *r, const netsrv_pool_result *res)
{
    struct dc_batch *b = &r->b[res->id];

    if (res->status == NETSRV_POOL_OK && res->len >= sizeof(struct dc_wire_result)) {
        struct dc_wire_result wr;
        const unsigned char *p = res->data, *end = p + res->len;
        memcpy(&wr, p, sizeof wr);
        p += sizeof wr;
        for (uint32_t i = 0; i < wr.nerr && p + sizeof(struct dc_wire_err) <= end; i++) {
            struct dc_wire_err we;
            memcpy(&we, p, sizeof we);
            p += sizeof we;
            if (p + we.len > end || we.idx >= r->t.n)
                break;
            r->t.e[we.idx].state = DC_FAILED;
            dc_report(&r->t, r->t.e[we.idx].rel, "%.*s", (int)we.len, (const char *)p);
            p += we.len;
        }
        dc_batch_entries(b, dc_mark_done, r, NULL);
        dc_journal_commit(&r->jn); /* one transaction per batch */
        r->copied += wr.copied;
        r->skipped += wr.skipped;
        r->copied_bytes += wr.copied_bytes;
        dc_progress_add(&r->pr, wr.done, wr.bytes);
    } else if (res->status == NETSRV_POOL_CRASHED && b->tries < 2 && !dc_signal) {
        /* A worker killed from outside (the OOM killer, a kill by hand):
         * its batch goes once more; its temporary files are swept at the
         * end. */
        r->crashed = 1;
        if (nt_verbosity >= 1) {
            dc_progress_clear(&r->pr);
            nt_error("%s: copying its batch again", res->why);
        }
        b->tries++;
        int rc = netsrv_pool_submit(r->pool, b->buf, b->len, res->id, 0);
        if (rc == 0)
            return;
        dc_batch_entries(b, dc_mark_failed, r, netsrv_strerror(rc));
    } else {
        char why[160];
        r->crashed |= res->status == NETSRV_POOL_CRASHED;
        snprintf(why, sizeof why, "%s",
                 res->status == NETSRV_POOL_CRASHED ? res->why
                 : res->status == NETSRV_POOL_CANCELLED ? "interrupted"
                                                         : netsrv_strerror(res->rc));
        dc_batch_entries(b, dc_mark_failed, r, why);
    }
    free(b->buf);
    b->buf = NULL;
}

static void dc_collect(struct dc_run *r, double timeout)
{
    netsrv_pool_result res;

    while (!dc_signal && netsrv_pool_next_result(r->pool, &res, timeout) == 1) {
        dc_result(r, &res);
        timeout = 0;
    }
}

/* ------------------------------------------------------------ the run */

/* --dry-run: one line on stdout per entry that would be made or changed. */
static int dc_dry_run(struct dc_run *r)
{
    struct dc_tree *t = &r->t;
    int sdir = -1, ddir = -1;
    uint32_t cached = UINT32_MAX;

    for (size_t i = 1; i < t->n; i++) {
        struct dc_entry *e = &t->e[i];
        if (S_ISDIR(e->st.st_mode)) {
            if (e->dst_new)
                printf("%s/\n", dc_shown(e->rel));
            continue;
        }
        if (e->parent != cached) {
            if (sdir >= 0)
                close(sdir);
            if (ddir >= 0)
                close(ddir);
            sdir = dc_open_rel(t->srcfd, t->e[e->parent].rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            ddir = t->dstfd < 0 || t->e[e->parent].dst_new
                       ? -1
                       : dc_open_rel(t->dstfd, t->e[e->parent].rel,
                                     O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            cached = e->parent;
        }
        const char *name = e->rel + e->name_off;
        if (e->leader >= 0) {
            struct stat a, b;
            struct dc_entry *l = &t->e[e->leader];
            if (ddir < 0 || fstatat(ddir, name, &a, AT_SYMLINK_NOFOLLOW) < 0 ||
                fstatat(t->dstfd, l->rel, &b, AT_SYMLINK_NOFOLLOW) < 0 || a.st_ino != b.st_ino ||
                a.st_dev != b.st_dev) {
                printf("%s", dc_shown(e->rel));
                printf(" => %s\n", dc_shown(l->rel));
            }
            continue;
        }
        int d = sdir < 0 ? 1 : dc_decide(sdir, ddir, name, &e->st, &r->o);
        if (d == 1 || d < 0)
            printf("%s\n", dc_shown(e->rel));
        else if (d == 2)
            printf("%s (metadata)\n", dc_shown(e->rel));
    }
    if (sdir >= 0)
        close(sdir);
    if (ddir >= 0)
        close(ddir);
    fflush(stdout);
    return t->errors ? NT_EXIT_FAILURE : NT_EXIT_OK;
}

static void dc_interrupted(struct dc_run *r)
{
    int sig = dc_signal;

    netsrv_pool_terminate(r->pool, 1);
    dc_journal_end(&r->jn, 0); /* kept: the next run goes on from it */
    dc_sweep_all(&r->t);
    dc_progress_clear(&r->pr);
    nt_error("interrupted: run it again to finish the copy");
    netsrv_pool_free(r->pool);
    signal(sig, SIG_DFL);
    raise(sig);
    exit(NT_EXIT_FAILURE);
}

int nt_dircopy_main(int argc, char **argv)
{
    static struct dc_run run;
    struct dc_run *r = &run;
    char err[NETSRV_ERRLEN] = "";
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int c;

    r->o.jobs = ncpu > 0 ? (unsigned)ncpu : 1;
    while ((c = getopt_long(argc, argv, "+:cnj:" NT_COMMON_SHORTOPTS, nt_dircopy_options,
                            NULL)) != -1) {
        switch (c) {
        case 'c':
            r->o.checksum = 1;
            break;
        case 'n':
            r->o.dry_run = 1;
            break;
        case 'j':
            r->o.jobs = nt_opt_unsigned("-j", optarg);
            if (r->o.jobs < 1 || r->o.jobs > 1024)
                nt_usage_error("-j wants 1 to 1024 workers, not '%s'", optarg);
            break;
        case OPT_VERIFY:
            r->o.verify = 1;
            break;
        default:
            nt_common_option(c, argv);
        }
    }
    if (argc - optind != 2)
        nt_usage_error(argc - optind < 2 ? "SRC and DST are needed" : "too many arguments");
    const char *src = argv[optind], *dst = argv[optind + 1];
    struct stat sst;
    int dst_exists;
    r->t.srcfd = dc_check(src, dst, &sst, &dst_exists);
    r->o.owner = geteuid() == 0;
    r->t.dstfd = -1;

    /* From here on things are written. */
    if (!dst_exists && !r->o.dry_run && mkdir(dst, 0700) < 0) {
        nt_error("%s: cannot make it: %s", dst, strerror(errno));
        return NT_EXIT_FAILURE;
    }
    if (dst_exists || !r->o.dry_run) {
        r->t.dstfd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r->t.dstfd < 0) {
            nt_error("%s: %s", dst, strerror(errno));
            return NT_EXIT_FAILURE;
        }
    }
    nt_raise_nofile();
    if (dc_walk(&r->t, &r->o) < 0) {
        nt_error("out of memory");
        return NT_EXIT_FAILURE;
    }
    if (r->o.dry_run)
        return dc_dry_run(r);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = dc_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    static struct dc_ctx ctx;
    ctx.srcfd = r->t.srcfd;
    ctx.dstfd = r->t.dstfd;
    ctx.opts = r->o;
    int rc = netsrv_pool_new(&r->pool, r->o.jobs, 2 * r->o.jobs, dc_work, &ctx, err, sizeof err);
    if (rc < 0) {
        nt_error("cannot start the workers: %s", err[0] ? err : netsrv_strerror(rc));
        return NT_EXIT_FAILURE;
    }
    /* Opened in the parent only, after the workers forked: SQLite handles
     * must not cross a fork. */
    if (dc_journal_open(&r->jn, dst, r->t.srcfd, r->t.dstfd, &r->o) < 0) {
        nt_error("out of memory");
        return NT_EXIT_FAILURE;
    }
    dc_progress_start(&r->pr, nt_verbosity >= 1 && isatty(STDERR_FILENO), r->t.files,
                      r->t.bytes);
    double t0 = netsrv_now();
    for (size_t i = 1; i < r->t.n && !dc_signal; i++) {
        struct dc_entry *e = &r->t.e[i];
        if (S_ISDIR(e->st.st_mode) || e->leader >= 0 || e->state != DC_PENDING)
            continue;
        if (dc_journal_done(&r->jn, &r->t, e, &r->o)) {
            /* Finished by the run that was interrupted. */
            e->state = DC_DONE;
            r->journaled++;
            r->skipped++;
            dc_progress_add(&r->pr, 1, (unsigned long long)e->st.st_size);
            continue;
        }
        dc_add_entry(r, (uint32_t)i);
    }
    if (!dc_signal)
        dc_flush(r);
    netsrv_pool_result res;
    while (!dc_signal && (rc = netsrv_pool_next_result(r->pool, &res, 0.2)) >= 0)
        if (rc == 1)
            dc_result(r, &res);
    if (dc_signal)
        dc_interrupted(r);
    netsrv_pool_close(r->pool);
    netsrv_pool_join(r->pool, -1);
    netsrv_pool_free(r->pool);
    r->pool = NULL;
    if (r->crashed)
        dc_sweep_all(&r->t);

    unsigned long long before = r->t.errors;
    dc_make_links(&r->t, &r->o);
    for (size_t i = 1; i < r->t.n; i++)
        if (r->t.e[i].leader >= 0 && r->t.e[i].state == DC_DONE)
            r->linked++;
    dc_progress_add(&r->pr, r->linked + (r->t.errors - before), 0);
    /* Before the directories' times are set: removing it changes DST's. */
    dc_journal_end(&r->jn, r->t.errors == 0);
    dc_finish_dirs(&r->t, &r->o);
    dc_progress_clear(&r->pr);
    if (nt_verbosity >= 2)
        nt_error("%llu files copied (%llu bytes), %llu up to date (%llu by the journal), "
                 "%llu hard links, %u errors, in %.2f s",
                 r->copied, r->copied_bytes, r->skipped, r->journaled, r->linked, r->t.errors,
                 netsrv_now() - t0);
    if (r->t.errors) {
        nt_error("%u %s", r->t.errors, r->t.errors == 1 ? "error" : "errors");
        return NT_EXIT_FAILURE;
    }
    return NT_EXIT_OK;
}
