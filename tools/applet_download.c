/* applet_download.c - "nettool download": fetches one file from a "nettool
 * serve files" server, checked against the size and SHA-256 the server
 * announces (and --sha256), resumable with -c.  The protocol is libnetsrv's
 * (netsrv_files_get, netsrv_files_recv); the .part bookkeeping is in
 * download_part.c; here are the command line, the steps and the messages.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netsrv.h>

#include "applets.h"
#include "download.h"

const char nt_download_usage[] =
    "Usage: nettool download ADDR NAME [OPTIONS]\n"
    "Fetch the file NAME from a 'nettool serve files' server at ADDR into\n"
    "FILE (by default the last part of NAME), checked against the size and\n"
    "SHA-256 the server announces.  The bytes go to FILE.part, with the size\n"
    "and SHA-256 they belong to in FILE.part.meta; FILE appears only once they\n"
    "are all there, synced and checked, so a failure never leaves half a file\n"
    "under its name.\n"
    "\n"
    "  -o, --output FILE    write FILE instead of the last part of NAME\n"
    "  -c, --continue       resume FILE.part where it stopped, if the server's\n"
    "                       file is still the one it was started from; if not,\n"
    "                       start again from the beginning\n"
    "      --sha256 HEX     the SHA-256 the file must have (64 hex digits)\n"
    "      --timeout SECS   give up when connecting, or when the server stays\n"
    "                       silent, this long (default 60)\n"
    "  -v, --verbose        say how many bytes came, from which offset\n"
    "  -q, --quiet          no progress bar and no notes: only errors\n"
    "  -h, --help           show this help\n"
    "\n"
    "A progress bar (bytes, rate, time left) is drawn on stderr when it is a\n"
    "terminal.  Exit status: 0 when FILE is complete and checked; 1 when it is\n"
    "not, with one line saying why (FILE.part is kept when the transfer broke\n"
    "off, for -c); 2 for a bad command line.\n";

enum { OPT_SHA256 = 256, OPT_TIMEOUT };

static const struct option nt_download_options[] = {
    { "continue", no_argument,       NULL, 'c' },
    { "output",   required_argument, NULL, 'o' },
    { "sha256",   required_argument, NULL, OPT_SHA256 },
    { "timeout",  required_argument, NULL, OPT_TIMEOUT },
    NT_COMMON_LONGOPTS,
    { NULL, 0, NULL, 0 }
};

struct nt_dl {
    const char *addr, *name, *out;
    double timeout;
    int resume;
    int check;                                /* --sha256 was given */
    unsigned char expected[NETSRV_SHA256_LEN];
    struct nt_part part;
    netsrv_conn *c;
    struct nt_progress pr;
};

/* The last part of NAME, the default FILE; NULL when it has none. */
static const char *nt_download_basename(const char *name)
{
    size_t n = strlen(name);
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;

    if (n == 0 || name[n - 1] == '/' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return NULL;
    return base;
}

/* NAME as error lines show it: a name of thousands of bytes would bury
 * the reason, so a long one is cut in the middle. */
static const char *nt_download_shown(const char *name)
{
    static char buf[128];
    size_t n = strlen(name);

    if (n < sizeof buf)
        return name;
    snprintf(buf, sizeof buf, "%.60s...%s", name, name + n - 60);
    return buf;
}

static void nt_download_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A note about what the download does (not an error): shown unless -q. */
static void nt_download_note(const char *fmt, ...)
{
    char line[512];
    va_list ap;

    if (nt_verbosity < 1)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    nt_error("%s", line);
}

static int nt_download_dial(struct nt_dl *d)
{
    char err[NETSRV_ERRLEN] = "";
    int rc = netsrv_conn_dial(&d->c, d->addr, d->timeout, err, sizeof err);

    if (rc < 0) {
        nt_error("cannot connect to %s: %s", d->addr, nt_reason(err, rc, d->addr));
        return -1;
    }
    return 0;
}

/* Drops a connection whose body is not wanted: shutting the socket first
 * ends the close's lingering drain at once. */
static void nt_download_hang_up(struct nt_dl *d)
{
    if (d->c)
        shutdown(netsrv_conn_fileno(d->c), SHUT_RDWR);
    netsrv_conn_close(d->c);
    d->c = NULL;
}

static void nt_download_progress(void *arg, off_t done)
{
    struct nt_progress *pr = arg;

    nt_progress_update(pr, pr->start + done);
}

/* Asks for the file from the offset FILE.part allows and settles what the
 * body will be: returns the offset it starts at (r filled), or -1 after
 * an error line. */
static off_t nt_download_ask(struct nt_dl *d, netsrv_files_reply *r)
{
    char err[NETSRV_ERRLEN] = "", hex[NETSRV_SHA256_HEXLEN + 1], want[NETSRV_SHA256_HEXLEN + 1];
    unsigned char msum[NETSRV_SHA256_LEN];
    off_t offset = 0, msize = 0;
    int rc;

    if (d->resume && d->part.have > 0) {
        if (nt_part_meta_read(&d->part, &msize, msum) == 0 && d->part.have <= msize)
            offset = d->part.have;
        else
            nt_download_note("%s: no record of which version of %s it holds: starting again",
                             d->part.part, nt_download_shown(d->name));
    }
    for (;;) {
        rc = netsrv_files_get(d->c, d->name, offset, r, err, sizeof err);
        if (rc == -EREMOTEIO && r->code == NETSRV_FILES_BAD_OFFSET && offset > 0) {
            nt_download_note("%s: %s is shorter than it now: starting again", d->part.part,
                             nt_download_shown(d->name));
            offset = 0;
            continue;
        }
        if (rc == -EREMOTEIO) {
            nt_error("%s: %s", nt_download_shown(d->name), err);
            return -1;
        }
        if (rc < 0) {
            nt_error("%s: %s", d->addr, err[0] ? err : netsrv_strerror(rc));
            return -1;
        }
        if (d->check && memcmp(r->sha256, d->expected, NETSRV_SHA256_LEN) != 0) {
            nt_error("%s: SHA-256 mismatch: the server's file has %s, --sha256 wants %s",
                     nt_download_shown(d->name), netsrv_sha256_hex(r->sha256, hex),
                     netsrv_sha256_hex(d->expected, want));
            return -1;
        }
        if (offset > 0 &&
            (r->size != msize || memcmp(r->sha256, msum, NETSRV_SHA256_LEN) != 0)) {
            /* The body on its way continues another version of the file:
             * splicing it onto the .part would make neither.  A new
             * connection is cheaper than reading it all to drop it. */
            nt_download_note("%s: %s changed on the server since this part was started: "
                             "starting again", d->part.part, nt_download_shown(d->name));
            nt_download_hang_up(d);
            if (nt_download_dial(d) < 0)
                return -1;
            offset = 0;
            continue;
        }
        return offset;
    }
}

static int nt_download_run(struct nt_dl *d)
{
    char err[NETSRV_ERRLEN] = "", hex[NETSRV_SHA256_HEXLEN + 1], want[NETSRV_SHA256_HEXLEN + 1];
    unsigned char sum[NETSRV_SHA256_LEN];
    netsrv_files_reply r;
    netsrv_files_body body;
    netsrv_sha256 *h = NULL;
    off_t offset;
    int rc;

    if (nt_part_open(&d->part, d->out, err, sizeof err) < 0) {
        nt_error("%s", err);
        return NT_EXIT_FAILURE;
    }
    if (nt_download_dial(d) < 0 || (offset = nt_download_ask(d, &r)) < 0)
        goto fail;
    if (offset == 0) {
        if (nt_part_truncate(&d->part, 0, err, sizeof err) < 0 ||
            nt_part_meta_write(&d->part, r.size, r.sha256, err, sizeof err) < 0) {
            nt_error("%s", err);
            goto fail;
        }
    } else if (nt_part_truncate(&d->part, offset, err, sizeof err) < 0) {
        nt_error("%s", err);
        goto fail;
    }
    if ((rc = netsrv_sha256_new(&h)) < 0) {
        nt_error("SHA-256: %s", netsrv_strerror(rc));
        goto fail;
    }
    /* The bytes already there count in the sum as much as those to come:
     * they are hashed from the disk, not trusted. */
    if (offset > 0 && (rc = netsrv_sha256_update_fd(h, d->part.fd, 0, offset)) < 0) {
        nt_error("%s: reading it back: %s", d->part.part, netsrv_strerror(rc));
        goto fail;
    }

    nt_progress_start(&d->pr, nt_verbosity >= 1 && isatty(STDERR_FILENO), d->out, r.size,
                      offset);
    memset(&body, 0, sizeof body);
    body.fd = d->part.fd;
    body.hash = h;
    body.progress = nt_download_progress;
    body.arg = &d->pr;
    rc = netsrv_files_recv(d->c, &body, r.size - offset, err, sizeof err);
    nt_progress_end(&d->pr);
    if (rc < 0) {
        if (body.write_failed)
            nt_error("%s: %s (%lld of %lld bytes there; it is kept: make room and run "
                     "again with -c)", d->part.part, err, (long long)(offset + body.done),
                     (long long)r.size);
        else
            nt_error("%s: %s; %s is kept: run again with -c to resume", d->addr, err,
                     d->part.part);
        goto fail;
    }
    if ((rc = netsrv_sha256_final(h, sum)) < 0) {
        nt_error("SHA-256: %s", netsrv_strerror(rc));
        goto fail;
    }
    if (memcmp(sum, r.sha256, NETSRV_SHA256_LEN) != 0) {
        nt_error("%s: SHA-256 mismatch: the bytes received hash to %s, the server "
                 "announced %s; %s removed", nt_download_shown(d->name),
                 netsrv_sha256_hex(sum, hex), netsrv_sha256_hex(r.sha256, want), d->part.part);
        nt_part_discard(&d->part);
        goto fail;
    }
    if (nt_part_commit(&d->part, err, sizeof err) < 0) {
        nt_error("%s", err);
        goto fail;
    }
    if (nt_verbosity >= 2)
        nt_error("%s -> %s: received %lld bytes from offset %lld, %lld in all, sha256 %s",
                 nt_download_shown(d->name), d->out, (long long)body.done, (long long)offset,
                 (long long)r.size, netsrv_sha256_hex(sum, hex));
    netsrv_sha256_free(h);
    netsrv_conn_close(d->c);
    return NT_EXIT_OK;
fail:
    netsrv_sha256_free(h);
    nt_download_hang_up(d);
    if (d->part.part)
        nt_part_close(&d->part);
    return NT_EXIT_FAILURE;
}

int nt_download_main(int argc, char **argv)
{
    struct nt_dl d;
    struct stat st;
    int c;

    memset(&d, 0, sizeof d);
    d.timeout = 60;
    d.part.fd = -1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:co:" NT_COMMON_SHORTOPTS, nt_download_options,
                            NULL)) != -1 || optind < argc) {
        if (c == -1) {
            /* An operand: ADDR, then NAME; options may follow them. */
            if (!d.addr)
                d.addr = argv[optind++];
            else if (!d.name)
                d.name = argv[optind++];
            else
                nt_usage_error("unexpected argument '%s'", argv[optind]);
            continue;
        }
        switch (c) {
        case 'c':
            d.resume = 1;
            break;
        case 'o':
            if (!*optarg)
                nt_usage_error("-o needs a file name");
            d.out = optarg;
            break;
        case OPT_SHA256:
            if (netsrv_sha256_parse(optarg, strlen(optarg), d.expected) < 0)
                nt_usage_error("invalid --sha256 '%s' (want 64 hex digits)", optarg);
            d.check = 1;
            break;
        case OPT_TIMEOUT:
            d.timeout = nt_opt_seconds("--timeout", optarg);
            break;
        default:
            nt_common_option(c, argv);
        }
    }
    if (!d.addr)
        nt_usage_error("missing ADDR");
    if (!d.name)
        nt_usage_error("missing NAME");
    if (!*d.name)
        nt_usage_error("NAME is empty");
    nt_check_address(d.addr);
    if (!d.out && !(d.out = nt_download_basename(d.name)))
        nt_usage_error("'%s' has no file name at its end: give -o FILE", d.name);
    if (stat(d.out, &st) == 0 && S_ISDIR(st.st_mode)) {
        nt_error("%s: is a directory (give -o FILE)", d.out);
        return NT_EXIT_FAILURE;
    }
    nt_ignore_sigpipe();
    return nt_download_run(&d);
}
