/* copy.c - one regular file copied to a temporary name beside its target
 * and renamed over it when whole: data by copy_file_range (the kernel
 * copies, or reflinks), else sendfile, else read/write; holes kept by
 * copying only the data extents (SEEK_DATA/SEEK_HOLE); mode, owner and
 * nanosecond times set on the copy before the rename, so a name never
 * shows a half-written file or one with the wrong metadata.
 */
#include "config.h"
#include "netsrv.h"
#include "netsrv_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A file this small and without holes is copied with one read and one
 * write: fewer system calls than copy_file_range's setup on small files,
 * and it is most files of a source tree. */
#define COPY_SMALL (64 * 1024)
/* Bytes asked of one copy_file_range/sendfile call: large, but a signal
 * or a failure still comes back between calls. */
#define COPY_STEP (64ull * 1024 * 1024)
/* The read/write fallback's buffer. */
#define COPY_BUF (256 * 1024)

int netsrv_copy_is_temp(const char *name)
{
    size_t n = sizeof NETSRV_COPY_TMP_PREFIX - 1;

    if (strncmp(name, NETSRV_COPY_TMP_PREFIX, n) != 0 || strlen(name) != n + 12)
        return 0;
    for (const char *p = name + n; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* Creates a new temporary file in dstdir (its name into tmp) with O_EXCL,
 * so it never opens anybody else's file.  The name has a fixed length,
 * whatever the target's: a target name near NAME_MAX still has one. */
static int make_temp(int dstdir, char tmp[NETSRV_COPY_TMP_LEN + 1])
{
    static unsigned long long counter;
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    for (int tries = 0; tries < 64; tries++) {
        /* splitmix64 of pid, time and a counter: distinct in workers
         * forked from one parent, and across runs. */
        unsigned long long x = ((unsigned long long)getpid() << 40) ^
                               ((unsigned long long)ts.tv_nsec << 8) ^
                               (unsigned long long)ts.tv_sec ^ (++counter * 0x9e3779b97f4a7c15ull);
        x ^= x >> 30;
        x *= 0xbf58476d1ce4e5b9ull;
        x ^= x >> 27;
        x *= 0x94d049bb133111ebull;
        x ^= x >> 31;
        snprintf(tmp, NETSRV_COPY_TMP_LEN + 1, "%s%012llx", NETSRV_COPY_TMP_PREFIX,
                 x & 0xffffffffffffull);
        int fd = openat(dstdir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd < 0 ? -errno : fd;
    }
    return -EEXIST;
}

/* write(2) until all of buf went out. */
static int write_all(int fd, const char *buf, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t w = pwrite(fd, buf, len, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        if (w == 0)
            return -EIO;
        buf += w;
        off += w;
        len -= (size_t)w;
    }
    return 0;
}

/* How a method said "not here": then the next one is tried for the rest. */
static int unsupported(int e)
{
    return e == EXDEV || e == ENOSYS || e == EOPNOTSUPP || e == EINVAL || e == EBADF ||
           e == ENOTSUP || e == EPERM;
}

/* Copies [off, end) of in to the same offsets of out.  *method is the
 * best method known to work so far and drops to a lesser one when the
 * kernel refuses; *got is where the source ended (shorter than end when
 * the file shrank meanwhile).  Returns 0 or a negative errno, what naming
 * the step. */
static int copy_range(int in, int out, off_t off, off_t end, int *method, char **buf,
                      off_t *got, long long *bytes, const char **what)
{
    while (off < end) {
        size_t step = (size_t)((unsigned long long)(end - off) < COPY_STEP
                                   ? (unsigned long long)(end - off)
                                   : COPY_STEP);
        ssize_t n;
        if (*method == NETSRV_COPY_RANGE) {
            loff_t ioff = off, ooff = off;
            n = copy_file_range(in, &ioff, out, &ooff, step, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && unsupported(errno)) {
                *method = NETSRV_COPY_SENDFILE;
                continue;
            }
            *what = "copy_file_range";
        } else if (*method == NETSRV_COPY_SENDFILE) {
            off_t ioff = off;
            if (lseek(out, off, SEEK_SET) < 0)
                return *what = "lseek", -errno;
            n = sendfile(out, in, &ioff, step);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && unsupported(errno)) {
                *method = NETSRV_COPY_RW;
                continue;
            }
            *what = "sendfile";
        } else {
            if (!*buf && !(*buf = malloc(COPY_BUF)))
                return *what = "malloc", -ENOMEM;
            n = pread(in, *buf, step < COPY_BUF ? step : COPY_BUF, off);
            if (n < 0 && errno == EINTR)
                continue;
            *what = "read";
            if (n > 0) {
                int rc = write_all(out, *buf, (size_t)n, off);
                if (rc < 0)
                    return *what = "write", rc;
            }
        }
        if (n < 0)
            return -errno;
        if (n == 0)
            break; /* the file is shorter than it was: copy what is there */
        off += n;
        *bytes += n;
    }
    *got = off;
    return 0;
}

/* A small file without holes: one read (one byte more than expected
 * tells a file that grew) and one write.  Returns 1 when the file turned
 * out larger than the buffer: the caller copies the rest. */
static int copy_small(int in, int out, netsrv_copy_info *info, const char **what)
{
    char *buf = malloc(COPY_SMALL);
    off_t have = 0;
    ssize_t n;
    int rc = 0;

    if (!buf)
        return *what = "malloc", -ENOMEM;
    while (have < COPY_SMALL && (n = pread(in, buf + have, COPY_SMALL - (size_t)have, have)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            *what = "read";
            break;
        }
        have += n;
    }
    if (rc == 0 && have > 0 && (rc = write_all(out, buf, (size_t)have, 0)) < 0)
        *what = "write";
    free(buf);
    if (rc < 0)
        return rc;
    info->bytes = have;
    info->size = have;
    return have == COPY_SMALL;
}

/* The data of in (st its fstat) into out: small files in one read, sparse
 * ones extent by extent, the rest as one range.  Sets info->size to the
 * copy's length (the caller's ftruncate makes a trailing hole). */
static int copy_data(int in, int out, const struct stat *st, netsrv_copy_info *info,
                     const char **what)
{
    char *buf = NULL;
    off_t end = st->st_size, got = 0, pos = 0;
    int rc = 0;
    int sparse = (long long)st->st_blocks * 512 < (long long)st->st_size;

    info->method = NETSRV_COPY_RANGE;
    if (!sparse && end <= COPY_SMALL) {
        info->method = NETSRV_COPY_RW;
        rc = copy_small(in, out, info, what);
        if (rc <= 0)
            return rc;
        /* It grew past the buffer: the rest as a range, to its size now. */
        struct stat now;
        pos = info->size;
        end = fstat(in, &now) == 0 ? now.st_size : pos;
        sparse = 0;
        info->method = NETSRV_COPY_RANGE;
    }
    if (!sparse) {
        rc = copy_range(in, out, pos, end, &info->method, &buf, &got, &info->bytes, what);
    } else {
        while (pos < end && rc == 0) {
            off_t data = lseek(in, pos, SEEK_DATA);
            if (data < 0 && errno == ENXIO)
                break; /* only a hole is left */
            if (data < 0 && (errno == EINVAL || errno == EOPNOTSUPP)) {
                /* No SEEK_DATA here: copy it all (holes become data). */
                rc = copy_range(in, out, pos, end, &info->method, &buf, &got, &info->bytes, what);
                pos = got;
                break;
            }
            if (data < 0) {
                rc = -errno;
                *what = "lseek";
                break;
            }
            off_t hole = lseek(in, data, SEEK_HOLE);
            if (hole < 0) {
                rc = -errno;
                *what = "lseek";
                break;
            }
            if (hole > end)
                hole = end;
            if (data >= end)
                break;
            rc = copy_range(in, out, data, hole, &info->method, &buf, &got, &info->bytes, what);
            if (rc == 0 && got < hole) {
                end = got; /* shrank */
                break;
            }
            pos = hole;
        }
        got = end;
    }
    free(buf);
    if (rc < 0)
        return rc;
    info->size = got;
    return 0;
}

int netsrv_copy_file(int srcdir, const char *src, int dstdir, const char *dst, unsigned flags,
                     netsrv_copy_info *info, char *err, size_t errlen)
{
    netsrv_copy_info scratch;
    char tmp[NETSRV_COPY_TMP_LEN + 1];
    const char *what = "open";
    struct stat st;
    int rc, in, out;

    if (!info)
        info = &scratch;
    memset(info, 0, sizeof *info);
    /* O_NONBLOCK: a source swapped for a FIFO since it was listed must
     * not hang the open; it has no effect on a regular file. */
    in = openat(srcdir, src, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (in < 0)
        return netsrv__seterr(err, errlen, -errno, "open: %s", strerror(errno));
    if (fstat(in, &st) < 0) {
        rc = -errno;
        close(in);
        return netsrv__seterr(err, errlen, rc, "fstat: %s", strerror(-rc));
    }
    if (!S_ISREG(st.st_mode)) {
        close(in);
        return netsrv__seterr(err, errlen, -EINVAL, "not a regular file (any more)");
    }
    info->st = st;
    out = make_temp(dstdir, tmp);
    if (out < 0) {
        close(in);
        return netsrv__seterr(err, errlen, out, "create a temporary file: %s", strerror(-out));
    }
    rc = copy_data(in, out, &st, info, &what);
    /* A trailing hole was not written, and a source that shrank is cut
     * where its reads ended. */
    int sparse = (long long)st.st_blocks * 512 < (long long)st.st_size;
    if (rc == 0 && (sparse || info->size != st.st_size) && ftruncate(out, info->size) < 0)
        rc = (what = "ftruncate", -errno);
    if (rc == 0 && (flags & NETSRV_COPY_OWNER) && fchown(out, st.st_uid, st.st_gid) < 0)
        rc = (what = "fchown", -errno);
    /* After fchown, which clears set-user-ID and set-group-ID bits. */
    if (rc == 0 && fchmod(out, st.st_mode & 07777) < 0)
        rc = (what = "fchmod", -errno);
    if (rc == 0 && !(flags & NETSRV_COPY_NO_TIMES)) {
        struct timespec ts[2] = { st.st_atim, st.st_mtim };
        if (futimens(out, ts) < 0)
            rc = (what = "futimens", -errno);
    }
    if (rc == 0 && (flags & NETSRV_COPY_FSYNC) && fsync(out) < 0)
        rc = (what = "fsync", -errno);
    /* close can report a write-back failure (NFS, a full quota). */
    if (close(out) < 0 && rc == 0 && errno != EINTR)
        rc = (what = "close", -errno);
    close(in);
    if (rc == 0 && renameat(dstdir, tmp, dstdir, dst) < 0)
        rc = (what = "rename", -errno);
    if (rc < 0) {
        unlinkat(dstdir, tmp, 0);
        return netsrv__seterr(err, errlen, rc, "%s: %s", what, strerror(-rc));
    }
    return 0;
}
