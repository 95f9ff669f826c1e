/* dircopy_work.c - the workers' side of "nettool dircopy": a batch of
 * entries (many small files in one pool message) is decided against DST
 * and copied, each to a temporary name beside its target and renamed:
 * files by netsrv_copy_file, links and special files here.  The result
 * carries counts and one line per failed entry.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <netsrv.h>

#include "applets.h"
#include "dircopy.h"

#define DC_DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

char *dc_tmpname(char *buf)
{
    static unsigned long long n;
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned long long x = ((unsigned long long)getpid() << 32) ^ (unsigned long long)ts.tv_nsec ^
                           (++n * 0x9e3779b97f4a7c15ull);
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    snprintf(buf, 64, "%s%012llx", NETSRV_COPY_TMP_PREFIX, x & 0xffffffffffffull);
    return buf;
}

/* SHA-256 of the file name in dirfd.  0 or -errno. */
static int dc_hash(int dirfd, const char *name, unsigned char sum[NETSRV_SHA256_LEN])
{
    netsrv_sha256 *h = NULL;
    struct stat st;
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), rc;

    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0)
        rc = -errno;
    else if ((rc = netsrv_sha256_new(&h)) == 0 &&
             (rc = netsrv_sha256_update_fd(h, fd, 0, st.st_size)) == 0)
        rc = netsrv_sha256_final(h, sum);
    netsrv_sha256_free(h);
    close(fd);
    return rc;
}

static int dc_same_time(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* The metadata a re-run puts right without copying: permissions, owner
 * (as root), the modification time. */
static int dc_meta_differs(const struct stat *d, const struct stat *s, const struct dc_opts *o)
{
    return (!S_ISLNK(s->st_mode) && (d->st_mode & 07777) != (s->st_mode & 07777)) ||
           (o->owner && (d->st_uid != s->st_uid || d->st_gid != s->st_gid)) ||
           !dc_same_time(&d->st_mtim, &s->st_mtim);
}

int dc_decide(int srcdir, int dstdir, const char *name, const struct stat *s,
              const struct dc_opts *o)
{
    struct stat d;

    if (dstdir < 0)
        return 1;
    if (fstatat(dstdir, name, &d, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 1 : -errno;
    if ((d.st_mode ^ s->st_mode) & S_IFMT)
        return 1;
    if (S_ISREG(s->st_mode)) {
        if (d.st_size != s->st_size)
            return 1;
        if (o->checksum) {
            unsigned char a[NETSRV_SHA256_LEN], b[NETSRV_SHA256_LEN];
            if (dc_hash(srcdir, name, a) < 0 || dc_hash(dstdir, name, b) < 0 ||
                memcmp(a, b, sizeof a) != 0)
                return 1;
        } else if (!dc_same_time(&d.st_mtim, &s->st_mtim)) {
            return 1;
        }
    } else if (S_ISLNK(s->st_mode)) {
        char a[PATH_MAX + 1], b[PATH_MAX + 1];
        ssize_t na = readlinkat(srcdir, name, a, sizeof a - 1);
        ssize_t nb = readlinkat(dstdir, name, b, sizeof b - 1);
        if (na < 0 || nb != na || memcmp(a, b, (size_t)na) != 0)
            return 1;
    } else if ((S_ISCHR(s->st_mode) || S_ISBLK(s->st_mode)) && d.st_rdev != s->st_rdev) {
        return 1;
    }
    return dc_meta_differs(&d, s, o) ? 2 : 0;
}

/* Sets name's owner, mode and times from s; what names the failed step. */
static int dc_set_meta(int dirfd, const char *name, const struct stat *s,
                       const struct dc_opts *o, const char **what)
{
    struct timespec ts[2] = { s->st_atim, s->st_mtim };

    if (o->owner && fchownat(dirfd, name, s->st_uid, s->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
        return *what = "chown", -errno;
    /* Links have no mode of their own on Linux. */
    if (!S_ISLNK(s->st_mode) && fchmodat(dirfd, name, s->st_mode & 07777, 0) < 0)
        return *what = "chmod", -errno;
    if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return *what = "utimensat", -errno;
    return 0;
}

/* A symbolic link, FIFO, socket or device node: made under a temporary
 * name, given its metadata, renamed.  The link's target is copied as it
 * is, never followed. */
static int dc_copy_other(int sdir, int ddir, const char *name, const struct stat *s,
                         const struct dc_opts *o, const char **what)
{
    char tmp[64], target[PATH_MAX + 1];
    ssize_t n = 0;
    int rc;

    if (S_ISLNK(s->st_mode)) {
        n = readlinkat(sdir, name, target, sizeof target - 1);
        if (n < 0)
            return *what = "readlink", -errno;
        target[n] = 0;
    }
    do {
        dc_tmpname(tmp);
        if (S_ISLNK(s->st_mode)) {
            rc = symlinkat(target, ddir, tmp);
            *what = "symlink";
        } else {
            rc = mknodat(ddir, tmp, s->st_mode & (S_IFMT | 07777), s->st_rdev);
            *what = "mknod";
        }
    } while (rc < 0 && errno == EEXIST);
    if (rc < 0)
        return -errno;
    rc = dc_set_meta(ddir, tmp, s, o, what);
    if (rc == 0 && renameat(ddir, tmp, ddir, name) < 0)
        rc = (*what = "rename", -errno);
    if (rc < 0)
        unlinkat(ddir, tmp, 0);
    return rc;
}

/* Copies one regular file and, with --verify, reads both back. */
static int dc_copy_file(int sdir, int ddir, const char *name, const struct dc_opts *o,
                        unsigned long long *bytes, char *err, size_t errlen)
{
    netsrv_copy_info info;
    int rc = netsrv_copy_file(sdir, name, ddir, name, o->owner ? NETSRV_COPY_OWNER : 0, &info,
                              err, errlen);
    if (rc < 0)
        return rc;
    *bytes += (unsigned long long)info.bytes;
    if (o->verify) {
        unsigned char a[NETSRV_SHA256_LEN], b[NETSRV_SHA256_LEN];
        if ((rc = dc_hash(sdir, name, a)) < 0 || (rc = dc_hash(ddir, name, b)) < 0) {
            snprintf(err, errlen, "verify: %s", strerror(-rc));
            return rc;
        }
        if (memcmp(a, b, sizeof a) != 0) {
            /* It has the source's size and mtime: left there, a re-run
             * would take it for a good copy. */
            unlinkat(ddir, name, 0);
            snprintf(err, errlen, "verify: the copy's SHA-256 differs from the source's "
                                  "(the copy was removed)");
            return -EIO;
        }
    }
    return 0;
}

/* The worker's open directories: a batch's entries come directory by
 * directory, so each pair is opened once per run of entries. */
struct dc_dirs {
    char rel[PATH_MAX];
    size_t len;
    int valid, sfd, dfd;
};

static int dc_dirs_get(struct dc_dirs *c, const struct dc_ctx *x, const char *rel, size_t len)
{
    if (c->valid && c->len == len && memcmp(c->rel, rel, len) == 0)
        return c->sfd >= 0 && c->dfd >= 0 ? 0 : -1;
    if (c->sfd >= 0)
        close(c->sfd);
    if (c->dfd >= 0)
        close(c->dfd);
    c->valid = 0;
    c->sfd = c->dfd = -1;
    char *path = malloc(len + 1);
    if (!path)
        return -1;
    memcpy(path, rel, len);
    path[len] = 0;
    c->sfd = dc_open_rel(x->srcfd, path, DC_DIR_FLAGS);
    if (c->sfd >= 0)
        c->dfd = dc_open_rel(x->dstfd, path, DC_DIR_FLAGS);
    free(path);
    if (len < sizeof c->rel) {
        memcpy(c->rel, rel, len);
        c->len = len;
        c->valid = 1;
    }
    return c->sfd >= 0 && c->dfd >= 0 ? 0 : -1;
}

int dc_work(void *ctx, const void *task, size_t len, void *result, size_t *result_len)
{
    const struct dc_ctx *x = ctx;
    const unsigned char *p = task, *end = p + len;
    unsigned char *out = result, *oend = out + *result_len;
    struct dc_wire_result res = { 0 };
    struct dc_dirs dirs = { .sfd = -1, .dfd = -1 };
    unsigned char *op = out + sizeof res;

    while (p + sizeof(struct dc_wire) <= end) {
        struct dc_wire w;
        memcpy(&w, p, sizeof w);
        p += sizeof w;
        if (p + w.rel_len > end || w.name_off > w.rel_len)
            break;
        char name[NAME_MAX + 1];
        const char *rel = (const char *)p;
        size_t nlen = (size_t)(w.rel_len - w.name_off);
        p += w.rel_len;
        if (nlen > NAME_MAX)
            continue;
        memcpy(name, rel + w.name_off, nlen);
        name[nlen] = 0;

        struct stat s;
        memset(&s, 0, sizeof s);
        s.st_mode = w.mode;
        s.st_uid = w.uid;
        s.st_gid = w.gid;
        s.st_size = (off_t)w.size;
        s.st_rdev = (dev_t)w.rdev;
        s.st_atim.tv_sec = w.atime;
        s.st_atim.tv_nsec = w.atime_ns;
        s.st_mtim.tv_sec = w.mtime;
        s.st_mtim.tv_nsec = w.mtime_ns;

        char err[256] = "";
        const char *what = NULL;
        int rc;
        res.done++;
        if (S_ISREG(s.st_mode))
            res.bytes += w.size;
        if (dc_dirs_get(&dirs, x, rel, w.name_off ? w.name_off - 1u : 0) < 0) {
            rc = -errno;
            snprintf(err, sizeof err, "cannot open its directory: %s", strerror(errno));
        } else {
            rc = dc_decide(dirs.sfd, dirs.dfd, name, &s, &x->opts);
            if (rc < 0) {
                snprintf(err, sizeof err, "cannot look at the destination: %s", strerror(-rc));
            } else if (rc == 0) {
                res.skipped++;
            } else if (rc == 2) {
                if ((rc = dc_set_meta(dirs.dfd, name, &s, &x->opts, &what)) < 0)
                    snprintf(err, sizeof err, "%s: %s", what, strerror(-rc));
                else
                    res.skipped++;
            } else if (S_ISREG(s.st_mode)) {
                unsigned long long b = 0;
                rc = dc_copy_file(dirs.sfd, dirs.dfd, name, &x->opts, &b, err, sizeof err);
                if (rc == 0) {
                    res.copied++;
                    res.copied_bytes += b;
                }
            } else {
                rc = dc_copy_other(dirs.sfd, dirs.dfd, name, &s, &x->opts, &what);
                if (rc < 0)
                    snprintf(err, sizeof err, "%s: %s", what, strerror(-rc));
                else
                    res.copied++;
            }
        }
        if (rc < 0) {
            struct dc_wire_err we = { w.idx, (uint16_t)strlen(err) };
            if (op + sizeof we + we.len <= oend) {
                memcpy(op, &we, sizeof we);
                memcpy(op + sizeof we, err, we.len);
                op += sizeof we + we.len;
                res.nerr++;
            }
        }
    }
    if (dirs.sfd >= 0)
        close(dirs.sfd);
    if (dirs.dfd >= 0)
        close(dirs.dfd);
    memcpy(out, &res, sizeof res);
    *result_len = (size_t)(op - out);
    return 0;
}
