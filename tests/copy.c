/* copy.c - netsrv_copy_file (libnetsrv/copy.c): bytes, permission bits
 * and nanosecond times of small, large and sparse files (holes stay
 * holes), a target replaced by a rename (a second name of the old file
 * keeps the old bytes), failures that leave the target as it was and no
 * temporary file, and netsrv_copy_is_temp. */
#include "config.h"
#include "tap.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int dir;
static char base[512];

static void put(const char *name, const void *data, size_t len, off_t at)
{
    int fd = openat(dir, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || pwrite(fd, data, len, at) != (ssize_t)len || close(fd) < 0)
        bail_out("write %s: %s", name, strerror(errno));
}

/* The file's bytes (malloc'd), its length in *len. */
static char *slurp(const char *name, size_t *len)
{
    struct stat st;
    int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0)
        return NULL;
    char *b = malloc((size_t)st.st_size + 1);
    ssize_t n = pread(fd, b, (size_t)st.st_size, 0);
    close(fd);
    *len = n < 0 ? 0 : (size_t)n;
    return b;
}

static int same_bytes(const char *a, const char *b)
{
    size_t la = 0, lb = 0;
    char *x = slurp(a, &la), *y = slurp(b, &lb);
    int same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

static int temps(void)
{
    int fd = dup(dir), n = 0;
    DIR *d = fdopendir(fd);
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += netsrv_copy_is_temp(de->d_name);
    if (d)
        closedir(d);
    return n;
}

static void test_small(void)
{
    char err[NETSRV_ERRLEN] = "";
    netsrv_copy_info info;
    struct stat s, d;
    struct timespec ts[2] = { { 1000000000, 123456789 }, { 1200000000, 987654321 } };

    put("small", "hello, world\n", 13, 0);
    fchmodat(dir, "small", 0751, 0);
    utimensat(dir, "small", ts, 0);
    is(netsrv_copy_file(dir, "small", dir, "small.copy", 0, &info, err, sizeof err), 0,
       "a small file is copied (%s)", err);
    fstatat(dir, "small", &s, 0);
    fstatat(dir, "small.copy", &d, 0); /* before a read changes its atime */
    is(d.st_mode & 07777, 0751, "its permission bits");
    ok(d.st_mtim.tv_sec == 1200000000 && d.st_mtim.tv_nsec == 987654321 &&
           d.st_atim.tv_sec == 1000000000 && d.st_atim.tv_nsec == 123456789,
       "its access and modification times, to the nanosecond");
    ok(same_bytes("small", "small.copy"), "its bytes");
    is(info.method, NETSRV_COPY_RW, "with one read and one write");
    ok(info.bytes == 13 && info.size == 13 && info.st.st_size == 13, "13 bytes, says info");
    is(netsrv_copy_file(dir, "small", dir, "small.nt", NETSRV_COPY_NO_TIMES, NULL, NULL, 0), 0,
       "NETSRV_COPY_NO_TIMES");
    fstatat(dir, "small.nt", &d, 0);
    ok(d.st_mtim.tv_sec != 1200000000, "leaves the copy's own times");
    put("empty", "", 0, 0);
    ok(netsrv_copy_file(dir, "empty", dir, "empty.copy", 0, NULL, NULL, 0) == 0 &&
           fstatat(dir, "empty.copy", &d, 0) == 0 && d.st_size == 0,
       "an empty file");
}

static void test_large_and_sparse(void)
{
    char err[NETSRV_ERRLEN] = "";
    netsrv_copy_info info;
    struct stat s, d;
    enum { BIG = 3 << 20 };
    char *buf = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        buf[i] = (char)(i * 7 + i / 4096);
    put("large", buf, BIG, 0);
    is(netsrv_copy_file(dir, "large", dir, "large.copy", 0, &info, err, sizeof err), 0,
       "a 3 MiB file (%s)", err);
    ok(same_bytes("large", "large.copy"), "its bytes");
    ok(info.method == NETSRV_COPY_RANGE || info.method == NETSRV_COPY_SENDFILE,
       "in the kernel (method %d)", info.method);

    /* A hole first, data, a hole, data, a hole to the end. */
    put("sparse", buf, 100000, 8 << 20);
    put("sparse", buf, 5000, 20 << 20);
    int fd = openat(dir, "sparse", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ftruncate(fd, 64 << 20) < 0 || close(fd) < 0)
        bail_out("ftruncate: %s", strerror(errno));
    is(netsrv_copy_file(dir, "sparse", dir, "sparse.copy", 0, &info, err, sizeof err), 0,
       "a sparse file of 64 MiB (%s)", err);
    fstatat(dir, "sparse", &s, 0);
    fstatat(dir, "sparse.copy", &d, 0);
    is(d.st_size, 64 << 20, "its size, the trailing hole included");
    ok(same_bytes("sparse", "sparse.copy"), "its bytes");
    ok(d.st_blocks <= s.st_blocks + 16, "its holes stay holes (%lld blocks, source %lld)",
       (long long)d.st_blocks, (long long)s.st_blocks);
    ok(info.bytes >= 105000 && info.bytes < 1 << 20,
       "only the data extents were copied (%lld bytes)", info.bytes);
    free(buf);
}

static void test_replace_and_fail(void)
{
    char err[NETSRV_ERRLEN] = "";
    struct stat d;

    put("new", "new bytes\n", 10, 0);
    put("target", "old bytes, longer\n", 18, 0);
    if (linkat(dir, "target", dir, "old-name", 0) < 0)
        bail_out("link: %s", strerror(errno));
    is(netsrv_copy_file(dir, "new", dir, "target", 0, NULL, err, sizeof err), 0,
       "copy over an existing target");
    ok(same_bytes("new", "target"), "the target has the new bytes");
    fstatat(dir, "old-name", &d, 0);
    ok(d.st_size == 18 && d.st_nlink == 1,
       "the old file was replaced by a rename, not rewritten (its other name keeps it)");

    if (mkfifoat(dir, "fifo", 0644) < 0)
        bail_out("mkfifo: %s", strerror(errno));
    is(netsrv_copy_file(dir, "fifo", dir, "target", 0, NULL, err, sizeof err), -EINVAL,
       "a FIFO is refused at once: -EINVAL (%s)", err);
    is(netsrv_copy_file(dir, "missing", dir, "target", 0, NULL, err, sizeof err), -ENOENT,
       "a missing source: -ENOENT");
    ok(strncmp(err, "open:", 5) == 0, "err names the step (%s)", err);
    ok(same_bytes("new", "target"), "the target is as it was");
    if (symlinkat("new", dir, "link") < 0)
        bail_out("symlink: %s", strerror(errno));
    is(netsrv_copy_file(dir, "link", dir, "target", 0, NULL, err, sizeof err), -ELOOP,
       "a symbolic link is not followed: -ELOOP");
    int gone;
    if (mkdirat(dir, "gone", 0755) < 0 ||
        (gone = openat(dir, "gone", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        unlinkat(dir, "gone", AT_REMOVEDIR) < 0)
        bail_out("mkdir: %s", strerror(errno));
    /* A target directory removed meanwhile: no file can be made in it,
     * whoever runs the test. */
    is(netsrv_copy_file(dir, "new", gone, "x", 0, NULL, err, sizeof err), -ENOENT,
       "a target directory that is gone: -ENOENT (%s)", err);
    close(gone);
    is(temps(), 0, "no temporary file is left by any of these");
}

static void test_is_temp(void)
{
    ok(netsrv_copy_is_temp(NETSRV_COPY_TMP_PREFIX "0123456789ab"), "a temporary name is one");
    ok(!netsrv_copy_is_temp(NETSRV_COPY_TMP_PREFIX "0123456789a"), "one digit short is not");
    ok(!netsrv_copy_is_temp(NETSRV_COPY_TMP_PREFIX "0123456789aX"), "nor one with a non-digit");
    ok(!netsrv_copy_is_temp("file.txt"), "nor a plain name");
    is(NETSRV_COPY_TMP_LEN, strlen(NETSRV_COPY_TMP_PREFIX) + 12, "NETSRV_COPY_TMP_LEN");
}

int main(void)
{
    tu_init(60);
    snprintf(base, sizeof base, "%s/copy", tu_tmpdir());
    if (mkdir(base, 0755) < 0 || (dir = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        bail_out("mkdir %s: %s", base, strerror(errno));
    test_small();
    test_large_and_sparse();
    test_replace_and_fail();
    test_is_temp();
    return done_testing();
}
