/* download_part.c - the files "nettool download" writes before the final
 * one exists: FILE.part takes the bytes, FILE.part.meta says which version
 * of the file they belong to (size and SHA-256, as the server announced
 * them).  The final name only ever appears by a rename of a complete,
 * synced, checked .part; a kill at any moment leaves the .part and its
 * sidecar for "download -c".
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netsrv.h>

#include "download.h"

#define NT_META_MAGIC "nettool download part 1"

static char *nt_concat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);

    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
    }
    return s;
}

static void nt_part_free_names(struct nt_part *p)
{
    free(p->final);
    free(p->part);
    free(p->meta);
    free(p->metatmp);
    p->final = p->part = p->meta = p->metatmp = NULL;
}

/* Syncs the directory holding path, so that a rename or a new name in it
 * survives a crash as well as the data does. */
static int nt_sync_dir_of(const char *path)
{
    char *copy = strdup(path);
    int fd, rc = 0;

    if (!copy)
        return -1;
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -1;
    if (fsync(fd) < 0 && errno != EINVAL) /* some file systems cannot */
        rc = -1;
    close(fd);
    return rc;
}

int nt_part_open(struct nt_part *p, const char *final, char *why, size_t len)
{
    struct stat st;
    int existed;

    memset(p, 0, sizeof *p);
    p->fd = -1;
    p->final = strdup(final);
    p->part = nt_concat(final, ".part");
    p->meta = nt_concat(final, ".part.meta");
    p->metatmp = nt_concat(final, ".part.meta.tmp");
    if (!p->final || !p->part || !p->meta || !p->metatmp) {
        snprintf(why, len, "out of memory");
        nt_part_free_names(p);
        return -1;
    }
    existed = lstat(p->part, &st) == 0;
    p->fd = open(p->part, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (p->fd < 0) {
        snprintf(why, len, "%s: %s", p->part, strerror(errno));
        nt_part_free_names(p);
        return -1;
    }
    /* Two downloads into one .part would interleave their bytes.  The
     * lock goes with the process, so a killed download leaves none. */
    if (flock(p->fd, LOCK_EX | LOCK_NB) < 0) {
        snprintf(why, len, "%s: %s", p->part,
                 errno == EWOULDBLOCK ? "another download is writing it" : strerror(errno));
        close(p->fd);
        p->fd = -1;
        nt_part_free_names(p);
        return -1;
    }
    const char *bad = fstat(p->fd, &st) < 0 ? strerror(errno)
                      : !S_ISREG(st.st_mode) ? "not a regular file" : NULL;

    if (bad) {
        snprintf(why, len, "%s: %s", p->part, bad);
        close(p->fd);
        p->fd = -1;
        nt_part_free_names(p);
        return -1;
    }
    p->created = !existed;
    p->have = st.st_size;
    return 0;
}

int nt_part_meta_read(const struct nt_part *p, off_t *size, unsigned char sum[NETSRV_SHA256_LEN])
{
    char line[3][128];
    char *end;
    long long v;
    FILE *f = fopen(p->meta, "re");
    int ok = 0;

    if (!f)
        return -1;
    for (int i = 0; i < 3; i++)
        if (!fgets(line[i], sizeof line[i], f))
            goto out;
    if (fgetc(f) != EOF)
        goto out;
    if (strcmp(line[0], NT_META_MAGIC "\n") != 0 || strncmp(line[1], "size ", 5) != 0 ||
        strncmp(line[2], "sha256 ", 7) != 0)
        goto out;
    errno = 0;
    v = strtoll(line[1] + 5, &end, 10);
    if (errno || v < 0 || line[1][5] < '0' || line[1][5] > '9' || strcmp(end, "\n") != 0)
        goto out;
    if (strlen(line[2]) != 7 + NETSRV_SHA256_HEXLEN + 1 ||
        netsrv_sha256_parse(line[2] + 7, NETSRV_SHA256_HEXLEN, sum) < 0)
        goto out;
    *size = (off_t)v;
    ok = 1;
out:
    fclose(f);
    return ok ? 0 : -1;
}

int nt_part_meta_write(const struct nt_part *p, off_t size,
                       const unsigned char sum[NETSRV_SHA256_LEN], char *why, size_t len)
{
    char hex[NETSRV_SHA256_HEXLEN + 1], text[160];
    int n, fd;

    n = snprintf(text, sizeof text, NT_META_MAGIC "\nsize %lld\nsha256 %s\n", (long long)size,
                 netsrv_sha256_hex(sum, hex));
    fd = open(p->metatmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) {
        snprintf(why, len, "%s: %s", p->metatmp, strerror(errno));
        return -1;
    }
    for (const char *s = text; n > 0;) {
        ssize_t w = write(fd, s, (size_t)n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(why, len, "%s: %s", p->metatmp, w < 0 ? strerror(errno) : "short write");
            close(fd);
            unlink(p->metatmp);
            return -1;
        }
        s += w;
        n -= (int)w;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        snprintf(why, len, "%s: %s", p->metatmp, strerror(errno));
        unlink(p->metatmp);
        return -1;
    }
    if (rename(p->metatmp, p->meta) < 0) {
        snprintf(why, len, "%s: %s", p->meta, strerror(errno));
        unlink(p->metatmp);
        return -1;
    }
    nt_sync_dir_of(p->meta);
    return 0;
}

int nt_part_truncate(struct nt_part *p, off_t at, char *why, size_t len)
{
    if (ftruncate(p->fd, at) < 0 || lseek(p->fd, at, SEEK_SET) < 0) {
        snprintf(why, len, "%s: %s", p->part, strerror(errno));
        return -1;
    }
    return 0;
}

int nt_part_commit(struct nt_part *p, char *why, size_t len)
{
    /* The data first, then the name: after a crash FILE is either absent
     * or complete. */
    if (fsync(p->fd) < 0) {
        snprintf(why, len, "%s: %s", p->part, strerror(errno));
        return -1;
    }
    if (rename(p->part, p->final) < 0) {
        snprintf(why, len, "%s: %s", p->final, strerror(errno));
        return -1;
    }
    nt_sync_dir_of(p->final);
    unlink(p->meta);
    close(p->fd);
    p->fd = -1;
    nt_part_free_names(p);
    return 0;
}

void nt_part_discard(struct nt_part *p)
{
    if (p->part) {
        unlink(p->part);
        unlink(p->meta);
    }
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    nt_part_free_names(p);
}

void nt_part_close(struct nt_part *p)
{
    struct stat st;

    if (p->fd >= 0 && p->created && fstat(p->fd, &st) == 0 && st.st_size == 0) {
        /* Nothing came: leave the directory as it was found. */
        unlink(p->part);
        unlink(p->meta);
    }
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    nt_part_free_names(p);
}
