/* beneath.c - netsrv_open_beneath(): open a path below a directory and never
 * outside it, whatever "..", symbolic links and concurrent renames say.  The
 * kernel does it in one call (openat2 RESOLVE_BENEATH); where it cannot, a
 * walk one component at a time from held descriptors does the same. */
#include "config.h"
#include "netsrv.h"
#include "beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef HAVE_LINUX_OPENAT2_H
#include <linux/openat2.h>
#endif

/* As the kernel's own limit on links followed in one lookup. */
#define BENEATH_MAX_LINKS 40

/* Set once openat2 turned out to be missing, so that later calls go
 * straight to the walk. */
static atomic_int no_openat2;

int netsrv__open_beneath_openat2(int dirfd, const char *path, int flags)
{
#if defined(HAVE_LINUX_OPENAT2_H) && defined(SYS_openat2)
    struct open_how how;

    memset(&how, 0, sizeof how);
    how.flags = (unsigned long long)(flags | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    for (int tries = 0;; tries++) {
        long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);

        if (fd >= 0)
            return (int)fd;
        /* EAGAIN: a rename raced a ".." lookup; the kernel asks us to
         * try again rather than risk a wrong answer. */
        if (errno == EINTR || (errno == EAGAIN && tries < 16))
            continue;
        return -errno;
    }
#else
    (void)dirfd;
    (void)path;
    (void)flags;
    return -ENOSYS;
#endif
}

/* The walk keeps the descriptors of the directories it went through, so a
 * ".." goes back to the one it came from instead of asking the kernel,
 * which would follow a directory that was renamed meanwhile out of reach. */
struct walk {
    int base;          /* the caller's dirfd, not ours to close */
    int *dirs;         /* the directories entered below base */
    size_t depth, cap;
};

static int walk_cur(const struct walk *w)
{
    return w->depth ? w->dirs[w->depth - 1] : w->base;
}

static int walk_push(struct walk *w, int fd)
{
    if (w->depth == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        int *d = realloc(w->dirs, cap * sizeof *d);

        if (!d)
            return -ENOMEM;
        w->dirs = d;
        w->cap = cap;
    }
    w->dirs[w->depth++] = fd;
    return 0;
}

static void walk_free(struct walk *w)
{
    while (w->depth)
        close(w->dirs[--w->depth]);
    free(w->dirs);
}

/* Replaces the walked component by the link's target: buf then holds the
 * target followed by *rest (which is empty or starts with its '/').  A
 * target that is absolute leaves the directory by definition
 * (RESOLVE_BENEATH refuses those too). */
static int splice_link(char *buf, char **rest, const char *target, size_t tlen)
{
    size_t rlen = strlen(*rest);

    if (tlen == 0)
        return -ENOENT;
    if (target[0] == '/')
        return -EXDEV;
    if (tlen + rlen + 1 > PATH_MAX)
        return -ENAMETOOLONG;
    memmove(buf + tlen, *rest, rlen + 1);
    memcpy(buf, target, tlen);
    *rest = buf;
    return 0;
}

int netsrv__open_beneath_walk(int dirfd, const char *path, int flags)
{
    struct walk w = { .base = dirfd };
    char *buf = NULL, *target = NULL, *rest;
    char name[NAME_MAX + 1];
    int links = 0, rc;

    if (!path)
        return -EINVAL;
    if (!*path)
        return -ENOENT;
    if (path[0] == '/')
        return -EXDEV;
    if (strlen(path) >= PATH_MAX)
        return -ENAMETOOLONG;
    buf = malloc(PATH_MAX);
    target = malloc(PATH_MAX);
    if (!buf || !target) {
        rc = -ENOMEM;
        goto out;
    }
    strcpy(buf, path);
    rest = buf;

    for (;;) {
        while (*rest == '/')
            rest++;
        if (!*rest) {
            /* Only "." parts or a trailing '/' were left: the answer is
             * the directory reached. */
            rc = openat(walk_cur(&w), ".", flags | O_CLOEXEC);
            rc = rc < 0 ? -errno : rc;
            goto out;
        }
        size_t len = strcspn(rest, "/");

        if (len > NAME_MAX) {
            rc = -ENAMETOOLONG;
            goto out;
        }
        memcpy(name, rest, len);
        name[len] = '\0';
        rest += len;
        /* The last part, unless slashes follow it (then it must be a
         * directory, as "file/" is ENOTDIR to open(2)). */
        int last = *rest == '\0';

        if (strcmp(name, ".") == 0)
            continue;
        if (strcmp(name, "..") == 0) {
            if (w.depth == 0) {
                rc = -EXDEV;
                goto out;
            }
            close(w.dirs[--w.depth]);
            continue;
        }

        ssize_t tlen;

        if (last) {
            /* O_NOFOLLOW: if a link was swapped in after we looked, the
             * open fails instead of following it. */
            rc = openat(walk_cur(&w), name, flags | O_NOFOLLOW | O_CLOEXEC);
            if (rc >= 0)
                goto out;
            rc = -errno;
            if (rc != -ELOOP || (flags & O_NOFOLLOW))
                goto out;
            tlen = readlinkat(walk_cur(&w), name, target, PATH_MAX);
        } else {
            int fd = openat(walk_cur(&w), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            struct stat st;

            if (fd < 0) {
                rc = -errno;
                goto out;
            }
            if (fstat(fd, &st) < 0) {
                rc = -errno;
                close(fd);
                goto out;
            }
            if (S_ISDIR(st.st_mode)) {
                if ((rc = walk_push(&w, fd)) < 0) {
                    close(fd);
                    goto out;
                }
                continue;
            }
            if (!S_ISLNK(st.st_mode)) {
                close(fd);
                rc = -ENOTDIR;
                goto out;
            }
            /* The link we hold, not whatever has the name by now. */
            tlen = readlinkat(fd, "", target, PATH_MAX);
            close(fd);
        }
        if (tlen < 0) {
            rc = -errno;
            goto out;
        }
        if (tlen >= PATH_MAX) {
            rc = -ENAMETOOLONG;
            goto out;
        }
        if (++links > BENEATH_MAX_LINKS) {
            rc = -ELOOP;
            goto out;
        }
        if ((rc = splice_link(buf, &rest, target, (size_t)tlen)) < 0)
            goto out;
    }
out:
    walk_free(&w);
    free(buf);
    free(target);
    return rc;
}

int netsrv_open_beneath(int dirfd, const char *path, int flags)
{
    if (!path)
        return -EINVAL;
    if (!atomic_load(&no_openat2)) {
        int fd = netsrv__open_beneath_openat2(dirfd, path, flags);

        if (fd != -ENOSYS && fd != -EPERM)
            return fd;
        /* ENOSYS: no openat2 in this kernel (or build), for good.  EPERM
         * may be a sandbox's filter refusing an unknown system call; the
         * walk then tells a real EPERM from that. */
        if (fd == -ENOSYS)
            atomic_store(&no_openat2, 1);
    }
    return netsrv__open_beneath_walk(dirfd, path, flags);
}
