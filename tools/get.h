/* get.h - what the parts of "nettool get" share: the options, one URL's
 * job and its outcome.  applet_get.c holds the command line, the loop of
 * tasks and the summary; get_transfer.c one URL's transfer (output file,
 * resume, split ranges, retries); the HTTP is libnetsrv's netsrv_httpc.
 */
#ifndef NT_GET_H
#define NT_GET_H

#include <stddef.h>
#include <sys/types.h>

#include <netsrv.h>

/* Exit codes of "nettool get" (besides 0, 1 and 2), one per kind of
 * failure, documented in its --help and nettool(1). */
enum {
    NT_GET_EXIT_DNS = 3,       /* the host name does not resolve */
    NT_GET_EXIT_REFUSED = 4,   /* connection refused (or unreachable) */
    NT_GET_EXIT_TIMEOUT = 5,   /* --connect-timeout, -m or the idle timeout */
    NT_GET_EXIT_TLS = 6,       /* certificate verification or handshake */
    NT_GET_EXIT_PROTO = 7,     /* not HTTP, or the body was cut short */
    NT_GET_EXIT_WRITE = 8,     /* the output could not be written */
    NT_GET_EXIT_CHECKSUM = 9,  /* --sha256 did not match */
    NT_GET_EXIT_REDIRECT = 10, /* a redirect loop, or too many */
    NT_GET_EXIT_HTTP = 22      /* -f and a status of 400 or more (as curl) */
};

struct nt_get_opts {
    const char *out;            /* -o FILE ("-": stdout) */
    int remote_name;            /* -O */
    const char *dir;            /* -d DIR */
    int follow;                 /* -L */
    unsigned max_redirs;
    int head;                   /* -I */
    int include;                /* -i */
    netsrv_http_header *headers;/* -H, parsed */
    size_t nheaders;
    const char *agent;          /* -A */
    int resume;                 /* -c */
    int fail;                   /* -f */
    double connect_timeout;     /* --connect-timeout */
    double max_time;            /* -m, 0: none */
    unsigned jobs;              /* -j */
    unsigned per_host;          /* --per-host */
    unsigned retry;             /* --retry */
    double retry_delay;         /* --retry-delay: the first backoff */
    int json;                   /* --json */
    unsigned split;             /* -s */
    int check;                  /* --sha256 given */
    unsigned char sha256[NETSRV_SHA256_LEN];
    const char *etag_save, *etag_compare;
    const char *cacert;         /* --cacert */
    int insecure;               /* -k */
    int progress;               /* draw a bar (stderr is a terminal, one URL at a time) */
    size_t bufsize;             /* each transfer's read buffer */
};

/* One URL and what became of it. */
struct nt_get_job {
    const char *url;
    char *path;                 /* the output file, NULL: out_fd */
    int out_fd;                 /* without a path: stdout, or a device or
                                   FIFO given as -o (no FILE.part for those) */
    int exit;                   /* 0 or an NT_GET_EXIT_* / NT_EXIT_FAILURE */
    int status;                 /* the last HTTP status, 0 when none */
    long long bytes;            /* body bytes written in this run */
    double secs;
    unsigned tries;
    int skipped;                /* --etag-compare: not modified */
    char *final_url;
    char err[320];
};

struct nt_get {
    struct nt_get_opts o;
    netsrv_httpc *s;
    netsrv_loop *loop;
};

/* Fetches j->url as o says (retries included), in a task of g->loop or
 * outside any; fills j.  Never prints but with -v notes and the progress
 * bar: the caller reports j->err. */
void nt_get_run_job(struct nt_get *g, struct nt_get_job *j);

/* The exit code for a netsrv_httpc error. */
int nt_get_exit_for(int rc);

#endif /* NT_GET_H */
