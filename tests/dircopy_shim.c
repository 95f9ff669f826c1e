/* dircopy_shim.c - failures tests/dircopy.sh cannot make otherwise as
 * root, put into nettool with LD_PRELOAD, each chosen by an environment
 * variable naming the file it hits:
 *   DCSHIM_EIO=NAME     reads of NAME fail with EIO (a bad disk)
 *   DCSHIM_ENOSPC=NAME  copy_file_range from NAME fails with ENOSPC (a full
 *                       disk, where a tmpfs cannot be mounted)
 *   DCSHIM_HANG=NAME    the first rename onto NAME stops its process: the
 *                       pid is written to $DCSHIM_FLAG first (made with
 *                       O_EXCL, so only once), then it waits to be killed
 *   DCSHIM_FLIP=NAME    the first read of NAME (only one, by the flag file
 *                       $DCSHIM_FLIP_FLAG) returns its first byte changed:
 *                       a copy that differs from its source
 *   DCSHIM_SLOW=USEC    every rename waits USEC microseconds first, so a
 *                       copy lasts long enough to be interrupted
 *   DCSHIM_LONGNAME=NAME  renames onto NAME fail with ENAMETOOLONG, as on a
 *                       destination file system with a shorter NAME_MAX
 *                       (vfat, eCryptfs) than the source's
 *   DCSHIM_WFULL=NAME   a pwrite to NAME that would take it past
 *                       $DCSHIM_WFULL_AT bytes (default 0) fails with
 *                       ENOSPC: a disk that fills up while SQLite grows a
 *                       journal's -wal, the files copied meanwhile being
 *                       left to succeed
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

ssize_t pread(int fd, void *buf, size_t n, off_t off);
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off);
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off);
ssize_t pread64(int fd, void *buf, size_t n, off_t off);
int renameat(int olddir, const char *old, int newdir, const char *new);
ssize_t copy_file_range(int in, off_t *inoff, int out, off_t *outoff, size_t n, unsigned flags);

static const char *base(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Whether fd is the file whose last name part is the value of var. */
static int fd_is(int fd, const char *var)
{
    const char *want = getenv(var);
    char link[64], path[PATH_MAX + 1];
    ssize_t n;

    if (!want || !*want)
        return 0;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = 0;
    return strcmp(base(path), want) == 0;
}

static ssize_t (*real_pread(void))(int, void *, size_t, off_t)
{
    static ssize_t (*f)(int, void *, size_t, off_t);
    if (!f)
        f = (ssize_t(*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread");
    return f;
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    if (fd_is(fd, "DCSHIM_EIO")) {
        errno = EIO;
        return -1;
    }
    ssize_t got = real_pread()(fd, buf, n, off);
    const char *flag = getenv("DCSHIM_FLIP_FLAG");
    if (got > 0 && off == 0 && flag && fd_is(fd, "DCSHIM_FLIP")) {
        int f = open(flag, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (f >= 0) {
            close(f);
            ((unsigned char *)buf)[0] ^= 0xff;
        }
    }
    return got;
}

ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
    return pread(fd, buf, n, off);
}

/* Whether a write of n bytes at off to fd is one DCSHIM_WFULL refuses. */
static int wfull(int fd, size_t n, off_t off)
{
    const char *at = getenv("DCSHIM_WFULL_AT");
    return fd_is(fd, "DCSHIM_WFULL") &&
           (unsigned long long)off + n > strtoull(at ? at : "0", NULL, 10);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (wfull(fd, n, off)) {
        errno = ENOSPC;
        return -1;
    }
    if (!real)
        real = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
    return real(fd, buf, n, off);
}

/* SQLite's own writes go through this one. */
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    return pwrite(fd, buf, n, off);
}

ssize_t copy_file_range(int in, off_t *inoff, int out, off_t *outoff, size_t n, unsigned flags)
{
    static ssize_t (*real)(int, off_t *, int, off_t *, size_t, unsigned);
    if (fd_is(in, "DCSHIM_EIO") || fd_is(in, "DCSHIM_ENOSPC")) {
        errno = fd_is(in, "DCSHIM_EIO") ? EIO : ENOSPC;
        return -1;
    }
    if (!real)
        real = (ssize_t(*)(int, off_t *, int, off_t *, size_t, unsigned))dlsym(RTLD_NEXT,
                                                                             "copy_file_range");
    return real(in, inoff, out, outoff, n, flags);
}

int renameat(int olddir, const char *old, int newdir, const char *new)
{
    static int (*real)(int, const char *, int, const char *);
    const char *hang = getenv("DCSHIM_HANG"), *flag = getenv("DCSHIM_FLAG");
    const char *slow = getenv("DCSHIM_SLOW");

    if (!real)
        real = (int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT, "renameat");
    const char *longname = getenv("DCSHIM_LONGNAME");
    if (longname && *longname && strcmp(base(new), longname) == 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (slow && *slow) {
        long us = atol(slow);
        struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
        nanosleep(&ts, NULL);
    }
    if (hang && flag && strcmp(base(new), hang) == 0) {
        int fd = open(flag, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd >= 0) {
            char pid[32];
            int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
            if (write(fd, pid, (size_t)len) != len)
                abort();
            close(fd);
            for (;;)
                pause();
        }
    }
    return real(olddir, old, newdir, new);
}
