/* download.h - what the parts of "nettool download" share: the .part file
 * and its .part.meta sidecar, kept so that nothing half written ever has
 * the final name and an interrupted download can resume (download_part.c),
 * and the progress bar on a terminal (progress.c).  applet_download.c holds
 * the command line, the protocol steps and the messages.
 */
#ifndef NT_DOWNLOAD_H
#define NT_DOWNLOAD_H

#include <stddef.h>
#include <sys/types.h>

#include <netsrv.h>

/* ----------------------------------------------------- download_part.c */

/* FILE.part, locked by this process while it is open, and its sidecar
 * FILE.part.meta: the size and SHA-256 the server announced when the part
 * was started, so that a resume never splices two versions of a file. */
struct nt_part {
    char *final;      /* FILE */
    char *part;       /* FILE.part */
    char *meta;       /* FILE.part.meta */
    char *metatmp;    /* FILE.part.meta.tmp, while the sidecar is written */
    int fd;           /* the .part, open read-write, -1 when closed */
    int created;      /* it did not exist before this run */
    off_t have;       /* its size when it was opened */
};

/* Opens (or creates) FILE.part and takes its lock.  0, or -1 with the
 * reason in why ("FILE.part is being written by another download"...). */
int nt_part_open(struct nt_part *p, const char *final, char *why, size_t len);
/* Reads the sidecar: 0 with *size and sum, -1 when there is none or it is
 * not one of ours. */
int nt_part_meta_read(const struct nt_part *p, off_t *size, unsigned char sum[NETSRV_SHA256_LEN]);
/* Writes the sidecar (to a temporary name, synced, then renamed over).
 * 0, or -1 with the reason in why. */
int nt_part_meta_write(const struct nt_part *p, off_t size,
                       const unsigned char sum[NETSRV_SHA256_LEN], char *why, size_t len);
/* Cuts the .part to at bytes and puts its offset there.  0 or -1 (why). */
int nt_part_truncate(struct nt_part *p, off_t at, char *why, size_t len);
/* Syncs the .part, renames it to FILE, syncs the directory, removes the
 * sidecar and closes.  0, or -1 with the reason in why (the .part is then
 * still there). */
int nt_part_commit(struct nt_part *p, char *why, size_t len);
/* Removes the .part and the sidecar, and closes. */
void nt_part_discard(struct nt_part *p);
/* Closes; a .part this run created and never wrote to goes again. */
void nt_part_close(struct nt_part *p);

/* ---------------------------------------------------------- progress.c */

/* A one-line progress bar on stderr: bytes, percentage, rate and time
 * left, redrawn at most ten times a second. */
struct nt_progress {
    int on;           /* draw at all (stderr is a terminal, no -q) */
    const char *label;
    off_t total, start;  /* the whole size; where this run began */
    off_t done;
    double t0, last;
    int width;        /* of the last line drawn, to blank what is left */
};

void nt_progress_start(struct nt_progress *pr, int on, const char *label, off_t total,
                       off_t start);
void nt_progress_update(struct nt_progress *pr, off_t done);
/* The last drawing, and the end of its line. */
void nt_progress_end(struct nt_progress *pr);

#endif /* NT_DOWNLOAD_H */
