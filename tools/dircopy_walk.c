/* dircopy_walk.c - the parent's side of "nettool dircopy": the walk of SRC
 * into one list (so hard links get one leader, whichever worker copies
 * them, and the progress knows the total), the directories made in DST as
 * the walk goes, temporary files of a killed run swept, and at the end
 * the hard links and the directories' own metadata, deepest first.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netsrv.h>

#include "applets.h"
#include "dircopy.h"

#define DC_DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

int dc_open_rel(int dirfd, const char *rel, int flags)
{
    if (!*rel)
        return openat(dirfd, ".", flags);
    if (strlen(rel) < PATH_MAX)
        return openat(dirfd, rel, flags);
    /* Too long for one call: a part at a time, never through a link. */
    char part[NAME_MAX + 1];
    int fd = dirfd;
    for (const char *p = rel;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n > NAME_MAX) {
            if (fd != dirfd)
                close(fd);
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(part, p, n);
        part[n] = 0;
        int next = openat(fd, part, slash ? DC_DIR_FLAGS : flags);
        int e = errno;
        if (fd != dirfd)
            close(fd);
        if (next < 0) {
            errno = e;
            return -1;
        }
        if (!slash)
            return next;
        fd = next;
        p = slash + 1;
    }
}

/* ---------------------------------------------------------- hard links */

/* (device, inode) -> the index of the inode's first name, open addressing. */
struct dc_links {
    struct dc_link {
        dev_t dev;
        ino_t ino;
        uint32_t idx;
        int used;
    } *slot;
    size_t cap, n;
};

static size_t dc_hash(dev_t dev, ino_t ino, size_t cap)
{
    unsigned long long x = (unsigned long long)ino * 0x9e3779b97f4a7c15ull ^ (unsigned long long)dev;
    x ^= x >> 29;
    return (size_t)x & (cap - 1);
}

/* The leader of (dev, ino), or idx itself when it is the first name. */
static int64_t dc_link_find(struct dc_links *l, dev_t dev, ino_t ino, uint32_t idx)
{
    if (2 * (l->n + 1) > l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        struct dc_link *s = calloc(cap, sizeof *s);
        if (!s)
            return -1;
        for (size_t i = 0; i < l->cap; i++)
            if (l->slot[i].used) {
                size_t h = dc_hash(l->slot[i].dev, l->slot[i].ino, cap);
                while (s[h].used)
                    h = (h + 1) & (cap - 1);
                s[h] = l->slot[i];
            }
        free(l->slot);
        l->slot = s;
        l->cap = cap;
    }
    size_t h = dc_hash(dev, ino, l->cap);
    while (l->slot[h].used) {
        if (l->slot[h].dev == dev && l->slot[h].ino == ino)
            return l->slot[h].idx;
        h = (h + 1) & (l->cap - 1);
    }
    l->slot[h] = (struct dc_link){ dev, ino, idx, 1 };
    l->n++;
    return idx;
}

/* ---------------------------------------------------------------- walk */

static int dc_add(struct dc_tree *t, uint32_t parent, const char *name, const struct stat *st)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 1024;
        struct dc_entry *e = realloc(t->e, cap * sizeof *e);
        if (!e)
            return -1;
        t->e = e;
        t->cap = cap;
    }
    const char *prel = t->n ? t->e[parent].rel : "";
    size_t pl = strlen(prel), nl = strlen(name);
    char *rel = malloc(pl + nl + 2);
    if (!rel)
        return -1;
    if (pl) {
        memcpy(rel, prel, pl);
        rel[pl++] = '/';
    }
    memcpy(rel + pl, name, nl + 1);
    struct dc_entry *e = &t->e[t->n];
    memset(e, 0, sizeof *e);
    e->rel = rel;
    e->name_off = (uint32_t)pl;
    e->parent = parent;
    e->st = *st;
    e->leader = -1;
    return (int)t->n++;
}

/* Whether name is the name of one of dir's entries in SRC. */
static int dc_in_src(const struct dc_tree *t, size_t first, size_t end, const char *name)
{
    for (size_t i = first; i < end; i++)
        if (strcmp(t->e[i].rel + t->e[i].name_off, name) == 0)
            return 1;
    return 0;
}

/* Removes the temporary files in dstfd that no SRC entry is named like:
 * what a copy killed with -9 (or a killed worker) left. */
static void dc_sweep(struct dc_tree *t, int dstfd, size_t first, size_t end)
{
    int fd = dup(dstfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *de;

    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    while ((de = readdir(d)))
        if (netsrv_copy_is_temp(de->d_name) && !dc_in_src(t, first, end, de->d_name))
            unlinkat(dstfd, de->d_name, 0);
    closedir(d);
}

/* Opens the directory name in DST's dstfd, making it (0700: ours to fill
 * until dc_finish_dirs) when it is not there.  *made says which. */
static int dc_dst_dir(struct dc_tree *t, int dstfd, const char *name, const char *rel, int *made)
{
    *made = 0;
    int fd = openat(dstfd, name, DC_DIR_FLAGS);
    if (fd < 0 && errno == ENOENT) {
        if (mkdirat(dstfd, name, 0700) < 0) {
            dc_report(t, rel, "cannot make the directory: %s", strerror(errno));
            return -1;
        }
        *made = 1;
        fd = openat(dstfd, name, DC_DIR_FLAGS);
    }
    if (fd < 0) {
        if (errno == ENOTDIR || errno == ELOOP)
            dc_report(t, rel, "exists in the destination and is not a directory");
        else
            dc_report(t, rel, "cannot open the destination directory: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    /* An existing directory we cannot write to (a read-only copy made
     * before): writable for now, its mode is set again at the end. */
    if (!*made && fstat(fd, &st) == 0 && (st.st_mode & 0700) != 0700)
        fchmod(fd, (st.st_mode & 07777) | 0700);
    return fd;
}

static int dc_walk_dir(struct dc_tree *t, const struct dc_opts *o, struct dc_links *links,
                       int srcfd, int dstfd, uint32_t idx, int dst_new)
{
    int fd = dup(srcfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *de;
    struct stat st;

    if (!d) {
        if (fd >= 0)
            close(fd);
        dc_report(t, t->e[idx].rel, "cannot read the directory: %s", strerror(errno));
        t->e[idx].state = DC_FAILED;
        return 0;
    }
    size_t first = t->n;
    for (;;) {
        errno = 0;
        if (!(de = readdir(d)))
            break;
        const char *name = de->d_name;
        if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
            continue;
        if (fstatat(srcfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            char rel[PATH_MAX];
            snprintf(rel, sizeof rel, "%s%s%s", t->e[idx].rel, *t->e[idx].rel ? "/" : "", name);
            dc_report(t, rel, "cannot stat: %s", strerror(errno));
            continue;
        }
        int i = dc_add(t, idx, name, &st);
        if (i < 0) {
            closedir(d);
            return -1;
        }
        if (S_ISDIR(st.st_mode))
            continue;
        t->files++;
        if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
            int64_t l = dc_link_find(links, st.st_dev, st.st_ino, (uint32_t)i);
            if (l < 0) {
                closedir(d);
                return -1;
            }
            if (l != i) {
                t->e[i].leader = (int32_t)l;
                continue;
            }
        }
        if (S_ISREG(st.st_mode))
            t->bytes += (unsigned long long)st.st_size;
    }
    if (errno) {
        dc_report(t, t->e[idx].rel, "cannot read the directory: %s", strerror(errno));
        t->e[idx].state = DC_FAILED;
    }
    closedir(d);
    size_t end = t->n;
    if (dstfd >= 0 && !dst_new && !o->dry_run)
        dc_sweep(t, dstfd, first, end);

    for (size_t i = first; i < end; i++) {
        if (!S_ISDIR(t->e[i].st.st_mode))
            continue;
        const char *name = t->e[i].rel + t->e[i].name_off;
        int sfd = openat(srcfd, name, DC_DIR_FLAGS), dfd = -1, made = 0;
        if (sfd < 0) {
            dc_report(t, t->e[i].rel, "cannot open the directory: %s", strerror(errno));
            t->e[i].state = DC_FAILED;
            continue;
        }
        if (dstfd >= 0 && !o->dry_run) {
            dfd = dc_dst_dir(t, dstfd, name, t->e[i].rel, &made);
            if (dfd < 0) {
                t->e[i].state = DC_FAILED; /* and its contents are not walked */
                close(sfd);
                continue;
            }
        } else if (dstfd >= 0) {
            dfd = openat(dstfd, name, DC_DIR_FLAGS); /* a dry run only looks */
        }
        t->e[i].dst_new = (uint8_t)(made || dfd < 0);
        int rc = dc_walk_dir(t, o, links, sfd, dfd, (uint32_t)i, t->e[i].dst_new);
        close(sfd);
        if (dfd >= 0)
            close(dfd);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int dc_walk(struct dc_tree *t, const struct dc_opts *o)
{
    struct dc_links links = { 0 };
    struct stat st;

    if (fstat(t->srcfd, &st) < 0 || dc_add(t, 0, "", &st) < 0)
        return -1;
    t->e[0].dst_new = t->dstfd < 0;
    int rc = dc_walk_dir(t, o, &links, t->srcfd, t->dstfd, 0, t->e[0].dst_new);
    free(links.slot);
    return rc;
}

void dc_sweep_all(struct dc_tree *t)
{
    /* Each directory's entries were added together, right after it. */
    for (size_t i = 0; i < t->n; i++) {
        if (!S_ISDIR(t->e[i].st.st_mode) || t->e[i].state == DC_FAILED)
            continue;
        int fd = dc_open_rel(t->dstfd, t->e[i].rel, DC_DIR_FLAGS);
        if (fd < 0)
            continue;
        size_t first = i + 1, end = first;
        while (first < t->n && t->e[first].parent != i)
            first++;
        for (end = first; end < t->n && t->e[end].parent == i; end++)
            ;
        dc_sweep(t, fd, first, end);
        close(fd);
    }
}

void dc_finish_dirs(struct dc_tree *t, const struct dc_opts *o)
{
    for (size_t k = t->n; k-- > 0;) {
        struct dc_entry *e = &t->e[k];
        if (!S_ISDIR(e->st.st_mode) || e->state == DC_FAILED)
            continue;
        int fd = dc_open_rel(t->dstfd, e->rel, DC_DIR_FLAGS);
        if (fd < 0) {
            dc_report(t, e->rel, "cannot open the destination directory: %s", strerror(errno));
            continue;
        }
        struct timespec ts[2] = { e->st.st_atim, e->st.st_mtim };
        const char *what = NULL;
        if (o->owner && fchown(fd, e->st.st_uid, e->st.st_gid) < 0)
            what = "fchown";
        else if (fchmod(fd, e->st.st_mode & 07777) < 0)
            what = "fchmod";
        else if (futimens(fd, ts) < 0)
            what = "futimens";
        if (what)
            dc_report(t, e->rel, "%s: %s", what, strerror(errno));
        close(fd);
    }
}

/* The directory of entry e in DST, opened. */
static int dc_dst_parent(struct dc_tree *t, const struct dc_entry *e)
{
    return dc_open_rel(t->dstfd, t->e[e->parent].rel, DC_DIR_FLAGS);
}

void dc_make_links(struct dc_tree *t, const struct dc_opts *o)
{
    for (size_t i = 0; i < t->n; i++) {
        struct dc_entry *e = &t->e[i];
        if (e->leader < 0 || e->state != DC_PENDING)
            continue;
        struct dc_entry *l = &t->e[e->leader];
        const char *name = e->rel + e->name_off, *lname = l->rel + l->name_off;
        if (l->state != DC_DONE) {
            dc_report(t, e->rel, "not linked: its first name %s was not copied", dc_shown(l->rel));
            e->state = DC_FAILED;
            continue;
        }
        int dfd = dc_dst_parent(t, e), lfd = dc_dst_parent(t, l);
        struct stat ds, ls;
        const char *what = NULL;
        char tmp[NETSRV_COPY_TMP_LEN + 1];
        if (dfd < 0 || lfd < 0)
            what = "open the directory";
        else if (fstatat(lfd, lname, &ls, AT_SYMLINK_NOFOLLOW) < 0)
            what = "stat its first name";
        else if (fstatat(dfd, name, &ds, AT_SYMLINK_NOFOLLOW) == 0 && ds.st_dev == ls.st_dev &&
                 ds.st_ino == ls.st_ino)
            what = NULL; /* linked already (a re-run) */
        else if (o->dry_run)
            what = NULL;
        else {
            int rc;
            do
                rc = linkat(lfd, lname, dfd, dc_tmpname(tmp), 0);
            while (rc < 0 && errno == EEXIST);
            if (rc < 0)
                what = "link";
            else if (renameat(dfd, tmp, dfd, name) < 0) {
                what = "rename";
                int e2 = errno;
                unlinkat(dfd, tmp, 0);
                errno = e2;
            }
        }
        if (what) {
            dc_report(t, e->rel, "%s: %s", what, strerror(errno));
            e->state = DC_FAILED;
        } else {
            e->state = DC_DONE;
        }
        if (dfd >= 0)
            close(dfd);
        if (lfd >= 0)
            close(lfd);
    }
}
