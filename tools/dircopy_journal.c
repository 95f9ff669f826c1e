/* dircopy_journal.c - the journal "nettool dircopy" keeps in DST while it
 * works (libnetsrv's netsrv_journal): the files each finished batch
 * copied or found up to date, with the source's size, mtime and mode and
 * the checks the run made.  A run that completes removes it; one that
 * was killed (kill -9 included) or had errors leaves it, and the next run
 * takes a file it lists as done without handing it to a worker, when the
 * source and the copy still have that size and mtime.  That matters with
 * --checksum and --verify, where "done" otherwise means reading both
 * files again: after an interruption only the unfinished work is redone.
 * (Without them there is no journal: see dc_journal_open.)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netsrv.h>

#include "applets.h"
#include "dircopy.h"

/* What a journal entry says of a file (its stamp). */
struct dc_stamp {
    uint64_t size;
    int64_t mtime;
    uint32_t mtime_ns, mode;
    uint32_t checks; /* DC_CHECKED_*: what the run that wrote it verified */
};
#define DC_CHECKED_SUM 1u    /* --checksum: contents compared when skipped */
#define DC_CHECKED_VERIFY 2u /* --verify: the copy read back */
/* The key of the boot the journal was written in (files' keys are paths
 * below DST, which never start with a slash). */
#define DC_BOOT_KEY "/boot"

static uint32_t dc_checks(const struct dc_opts *o)
{
    return (o->checksum ? DC_CHECKED_SUM : 0) | (o->verify ? DC_CHECKED_VERIFY : 0);
}

static void dc_stamp_of(struct dc_stamp *s, const struct stat *st, const struct dc_opts *o)
{
    memset(s, 0, sizeof *s);
    s->size = (uint64_t)st->st_size;
    s->mtime = st->st_mtim.tv_sec;
    s->mtime_ns = (uint32_t)st->st_mtim.tv_nsec;
    s->mode = st->st_mode;
    s->checks = dc_checks(o);
}

int dc_journal_open(struct dc_journal *j, const char *dst, int srcfd, int dstfd,
                    const struct dc_opts *o)
{
    char err[NETSRV_ERRLEN];
    struct stat st;

    memset(j, 0, sizeof *j);
    /* Without --checksum or --verify a file is done when its size and
     * mtime match, which a worker finds with one fstatat, as fast as a
     * journal lookup: a journal would cost its writes and save nothing. */
    if (!o->checksum && !o->verify)
        return 0;
    /* A SRC with an entry of that name (a copy of a tree mid-copy) would
     * have it copied over the journal: no journal then. */
    if (fstatat(srcfd, DC_JOURNAL_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return 0;
    j->found = fstatat(dstfd, DC_JOURNAL_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (asprintf(&j->path, "%s/%s", dst, DC_JOURNAL_NAME) < 0) {
        j->path = NULL;
        return -ENOMEM;
    }
    /* The journal is not synced (nor are the copies: cp and rsync do not
     * sync either); after a reboot it may tell of data that never reached
     * the disk, so a journal from another boot is dropped and the files
     * are compared again. */
    char boot[64] = "", had[64];
    int bfd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (bfd >= 0) {
        ssize_t n = read(bfd, boot, sizeof boot - 1);
        boot[n > 0 ? n : 0] = 0;
        close(bfd);
    }
    /* A journal's first page is written as it is made (the WAL mode is
     * in its header), so an empty file there never was one. */
    int rc;
    if (j->found && S_ISREG(st.st_mode) && st.st_size == 0) {
        snprintf(err, sizeof err, "%s: an empty file", j->path);
        rc = -EINVAL;
    } else {
        rc = netsrv_journal_open(&j->jn, j->path, err, sizeof err);
    }
    if ((rc == -EINVAL || rc == -ELOOP) && j->found) {
        /* Garbage, cut short, emptied, a symbolic link (which the
         * library does not follow): nothing in it can be trusted, so
         * every file is compared again.  It is replaced, not kept: this
         * run then has a journal of its own, and one that completes
         * leaves nothing in DST that is not in SRC.  (Not for other
         * errors: a journal another run holds (-EBUSY) is its own.) */
        nt_error("warning: %s; not a journal: ignored and replaced", err);
        netsrv_journal_unlink(j->path);
        j->found = 0;
        rc = netsrv_journal_open(&j->jn, j->path, err, sizeof err);
    }
    if (rc == 0 && j->found) {
        ssize_t n = netsrv_journal_get(j->jn, DC_BOOT_KEY, sizeof DC_BOOT_KEY - 1, had, sizeof had);
        if (n != (ssize_t)strlen(boot) || memcmp(had, boot, (size_t)n) != 0) {
            netsrv_journal_close(j->jn);
            j->jn = NULL;
            netsrv_journal_unlink(j->path);
            j->found = 0;
            rc = netsrv_journal_open(&j->jn, j->path, err, sizeof err);
        }
    }
    if (rc == 0 && !j->found)
        netsrv_journal_put(j->jn, DC_BOOT_KEY, sizeof DC_BOOT_KEY - 1, boot, strlen(boot));
    if (rc < 0) {
        /* The copy does not need it: it goes on, re-runs compare files. */
        nt_error("warning: no journal: %s", err);
        free(j->path);
        j->path = NULL;
        return 0;
    }
    if (j->found && netsrv_journal_count(j->jn) > 1)
        j->use = 1;
    return 0;
}

int dc_journal_done(struct dc_journal *j, const struct dc_tree *t, const struct dc_entry *e,
                    const struct dc_opts *o)
{
    struct dc_stamp want, had;
    struct stat d;

    if (!j->use || !S_ISREG(e->st.st_mode) || e->leader >= 0)
        return 0;
    if (netsrv_journal_get(j->jn, e->rel, strlen(e->rel), &had, sizeof had) != sizeof had)
        return 0;
    dc_stamp_of(&want, &e->st, o);
    /* Done for this very source, with at least the checks asked now. */
    if (had.size != want.size || had.mtime != want.mtime || had.mtime_ns != want.mtime_ns ||
        had.mode != want.mode || (had.checks & want.checks) != want.checks)
        return 0;
    /* And the copy is still the one made: nobody changed it since.  (A
     * path past PATH_MAX is looked at from its directory.) */
    int dir = t->dstfd, rc;
    const char *name = e->rel;
    if (strlen(e->rel) >= PATH_MAX) {
        dir = dc_open_rel(t->dstfd, t->e[e->parent].rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        name = e->rel + e->name_off;
    }
    rc = dir < 0 ? -1 : fstatat(dir, name, &d, AT_SYMLINK_NOFOLLOW);
    if (dir >= 0 && dir != t->dstfd)
        close(dir);
    if (rc < 0 || !S_ISREG(d.st_mode) ||
        d.st_size != e->st.st_size || d.st_mtim.tv_sec != e->st.st_mtim.tv_sec ||
        d.st_mtim.tv_nsec != e->st.st_mtim.tv_nsec)
        return 0;
    return 1;
}

void dc_journal_record(struct dc_journal *j, const struct dc_entry *e, const struct dc_opts *o)
{
    struct dc_stamp s;

    if (!j->jn || !S_ISREG(e->st.st_mode) || e->leader >= 0)
        return;
    dc_stamp_of(&s, &e->st, o);
    if (netsrv_journal_put(j->jn, e->rel, strlen(e->rel), &s, sizeof s) < 0)
        j->failed = 1;
}

void dc_journal_commit(struct dc_journal *j)
{
    if (!j->jn)
        return;
    int rc = j->failed ? -EIO : netsrv_journal_commit(j->jn);
    if (rc < 0) {
        /* A full disk, say: the copy goes on without it; the journal
         * holds what was committed before, which is still true. */
        nt_error("warning: journal %s: %s: no more entries", j->path, netsrv_strerror(rc));
        netsrv_journal_close(j->jn);
        j->jn = NULL;
    }
}

void dc_journal_end(struct dc_journal *j, int complete)
{
    if (complete && j->path) {
        /* Also when a failed commit (a full disk) closed it midway: what
         * it holds is true but no longer needed, and left there it would
         * be the one thing in DST that SRC does not have. */
        int rc = j->jn ? netsrv_journal_discard(j->jn) : netsrv_journal_unlink(j->path);
        if (rc < 0)
            nt_error("warning: %s: %s", j->path, netsrv_strerror(rc));
    } else {
        netsrv_journal_close(j->jn); /* kept, as one file */
    }
    j->jn = NULL;
    free(j->path);
    j->path = NULL;
}
