/* dircopy.h - what the parts of "nettool dircopy" share: the list of
 * entries the parent's walk makes, the options, the batches of entries
 * sent to the pool's workers and the results they send back.
 */
#ifndef NT_DIRCOPY_H
#define NT_DIRCOPY_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <netsrv.h>

/* What became of an entry (dc_entry.state). */
enum { DC_PENDING, DC_DONE, DC_FAILED };

/* One name of the source tree, as the walk found it. */
struct dc_entry {
    char *rel;         /* path below SRC ("" for SRC itself), malloc'd */
    uint32_t name_off; /* where its last component starts in rel */
    uint32_t parent;   /* its directory's index (SRC's own: 0) */
    struct stat st;    /* lstat */
    int32_t leader;    /* a hard link: the index of its inode's first name; else -1 */
    uint8_t state;
    uint8_t dst_new;   /* a directory the walk created in DST */
};

struct dc_opts {
    unsigned jobs;
    int dry_run, checksum, verify, owner;
};

/* The tree, built by the walk. */
struct dc_tree {
    struct dc_entry *e;
    size_t n, cap;
    int srcfd, dstfd;       /* SRC and DST, opened (dstfd -1 in a dry run without DST) */
    unsigned long long files, bytes; /* what there is to do: entries and their sizes */
    unsigned errors;
};

/* ------------------------------------------------------------ dircopy_walk.c */

/* Walks SRC (t->srcfd) into t->e, depth first, a directory's entries
 * together; hard links get their leader; unless o->dry_run the
 * directories are made in DST (mode 0700 until the end) and temporary
 * files a killed run left there are removed.  Errors are reported (and
 * counted in t->errors) as they come.  Returns 0, or -1 when out of memory. */
int dc_walk(struct dc_tree *t, const struct dc_opts *o);
/* Removes temporary files left in every directory of DST that the walk
 * entered (after workers died). */
void dc_sweep_all(struct dc_tree *t);
/* Gives the directories of DST their mode, owner and times, deepest
 * first, so no entry made inside one touches its times afterwards. */
void dc_finish_dirs(struct dc_tree *t, const struct dc_opts *o);
/* Makes the hard links (each name after its inode's first), after the
 * first names were copied. */
void dc_make_links(struct dc_tree *t, const struct dc_opts *o);
/* Opens rel below dirfd even when rel is longer than PATH_MAX, one part at
 * a time.  -1 with errno on failure. */
int dc_open_rel(int dirfd, const char *rel, int flags);

/* ------------------------------------------------------------ dircopy_work.c */

/* What a worker needs: the roots (inherited over fork) and the options. */
struct dc_ctx {
    int srcfd, dstfd;
    struct dc_opts opts;
};

/* A fresh temporary name (NETSRV_COPY_TMP_PREFIX and 12 hex digits) in
 * buf, which holds 64 bytes; returns buf. */
char *dc_tmpname(char *buf);

/* The pool's work function (netsrv_pool_work) for a batch. */
int dc_work(void *ctx, const void *task, size_t len, void *result, size_t *result_len);

/* Entries of a batch: a fixed head, then the path's bytes. */
struct dc_wire {
    uint32_t idx;
    uint16_t rel_len, name_off;
    uint32_t mode, uid, gid;
    uint64_t size, rdev;
    int64_t atime, mtime;
    uint32_t atime_ns, mtime_ns;
};

/* A batch's result: counts, then nerr errors (a dc_wire_err and its text). */
struct dc_wire_result {
    uint32_t done, copied, skipped, nerr;
    uint64_t bytes, copied_bytes;
};
struct dc_wire_err {
    uint32_t idx;
    uint16_t len;
};

/* What would be done with one non-directory entry, decided against DST
 * (dstdir: its directory there): 0 nothing, 1 a copy, 2 only its
 * metadata; -errno when DST could not be looked at. */
int dc_decide(int srcdir, int dstdir, const char *name, const struct stat *src,
              const struct dc_opts *o);

/* ------------------------------------------------------------ dircopy_progress.c */

/* The progress line on a terminal (off: nothing is drawn). */
struct dc_progress {
    int on, width;
    double t0, last;
    unsigned long long files, total_files, bytes, total_bytes;
};
void dc_progress_start(struct dc_progress *p, int on, unsigned long long files,
                       unsigned long long bytes);
void dc_progress_add(struct dc_progress *p, unsigned long long files, unsigned long long bytes);
/* Takes the line off the terminal (before an error line, and at the end). */
void dc_progress_clear(struct dc_progress *p);

/* An error about one entry: clears the progress line, prints
 * "nettool dircopy: PATH: REASON", counts it. */
extern struct dc_progress *dc_progress_now;
void dc_report(struct dc_tree *t, const char *rel, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* rel as error lines show it: control characters (a newline in a name)
 * escaped, so one error stays one line.  A static buffer. */
const char *dc_shown(const char *rel);

/* ------------------------------------------------------------ dircopy_journal.c */

/* The journal's name in DST (while a copy runs, and after one that did
 * not complete). */
#define DC_JOURNAL_NAME ".netsrv-dircopy.journal"

struct dc_journal {
    netsrv_journal *jn; /* NULL: no journal (none could be made, or SRC has that name) */
    char *path;
    int found;          /* there was one: an earlier run did not complete */
    int use;            /* and it lists files */
    int failed;         /* a put failed: the batch's commit is not made */
};

/* Opens (or makes) the journal in dst for a run with --checksum or
 * --verify (a warning and no journal when it cannot be).  Returns 0, or
 * -ENOMEM. */
int dc_journal_open(struct dc_journal *j, const char *dst, int srcfd, int dstfd,
                    const struct dc_opts *o);
/* 1 when an earlier run's journal lists e as done for its present source
 * with the checks o asks for, and the copy in DST is still as made. */
int dc_journal_done(struct dc_journal *j, const struct dc_tree *t, const struct dc_entry *e,
                    const struct dc_opts *o);
/* Records e (copied or found up to date) in the open transaction. */
void dc_journal_record(struct dc_journal *j, const struct dc_entry *e, const struct dc_opts *o);
/* Commits a batch's records (a warning, and no more journal, on failure). */
void dc_journal_commit(struct dc_journal *j);
/* Closes it; complete: the copy has no errors, the journal is removed. */
void dc_journal_end(struct dc_journal *j, int complete);

#endif /* NT_DIRCOPY_H */
