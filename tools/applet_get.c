/* applet_get.c - "nettool get URL...": a small curl/wget on libnetsrv's
 * HTTP client.  Here are the command line, the output names, the tasks
 * (-j N of them on one event loop, taking URLs in turn) and the summary;
 * one URL's transfer is get_transfer.c, the HTTP is netsrv_httpc.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netsrv.h>

#include "applets.h"
#include "get.h"

const char nt_get_usage[] =
    "Usage: nettool get [OPTIONS] URL...\n"
    "Fetch http:// and https:// URLs over HTTP/1.1 (Content-Length, chunked\n"
    "and close-delimited bodies; kept-alive connections reused per host).\n"
    "The body goes to stdout, or with -o/-O/-d to a file: written as\n"
    "FILE.part and renamed to FILE once complete, so a failed download never\n"
    "leaves a truncated FILE.\n"
    "\n"
    "  -o, --output FILE      write the body to FILE ('-': stdout); one URL\n"
    "  -O, --remote-name      name the file after the URL's last path segment\n"
    "  -d, --dir DIR          save each URL under DIR, named as -O does\n"
    "  -L, --location         follow redirects (301/302/303/307/308)\n"
    "      --max-redirs N     at most N of them (default 10)\n"
    "  -I, --head             HEAD: print the response headers only\n"
    "  -i, --include          put the response headers before the body\n"
    "  -H, --header 'N: V'    send this header too (repeatable)\n"
    "  -A, --user-agent UA    the User-Agent to send\n"
    "  -c, --continue         resume FILE.part (or a short FILE) with a Range\n"
    "                         request\n"
    "  -f, --fail             an HTTP status >= 400 fails (exit 22), nothing\n"
    "                         is written\n"
    "      --connect-timeout SECS  give up connecting (and the TLS handshake)\n"
    "                         after SECS (default 30)\n"
    "  -m, --max-time SECS    give up a URL after SECS in all, retries included\n"
    "      --timeout SECS     give up when the server is silent this long\n"
    "                         (default 60)\n"
    "  -j, --jobs N           N transfers at once, on one event loop (default 1)\n"
    "      --per-host N       at most N connections to one host at once\n"
    "      --retry N          retry a timeout, refused or cut connection, or a\n"
    "                         408/429/5xx answer, N times, waiting 1 s, 2 s,\n"
    "                         4 s... or what Retry-After says\n"
    "      --retry-delay SECS the first of those waits (default 1)\n"
    "      --json             print a JSON array on stdout at the end, one\n"
    "                         record per URL (needs the bodies in files)\n"
    "  -s, --split N          fetch one large file over N connections with\n"
    "                         Range requests, written in place (FILE.part.journal\n"
    "                         keeps each part's progress for -c)\n"
    "      --sha256 HEX       the body must have this SHA-256 (one URL)\n"
    "      --etag-save FILE   keep the response's ETag in FILE (one URL)\n"
    "      --etag-compare FILE  send the ETag in FILE as If-None-Match: an\n"
    "                         unchanged file (304) is not fetched again\n"
    "      --cacert FILE      trust the CA certificates in FILE too\n"
    "  -k, --insecure         skip certificate verification for https\n"
    "  -v, --verbose          notes on each URL\n"
    "  -q, --quiet            no progress bar and no notes: only errors\n"
    "  -h, --help             show this help\n"
    "\n"
    "A progress bar (bytes, rate, time left) is drawn on stderr when it is a\n"
    "terminal and one URL is fetched at a time; with several URLs a summary\n"
    "line ends the run.\n"
    "\n"
    "Exit status (of the first URL that failed):\n"
    "   0  every URL fetched (or unchanged, with --etag-compare)\n"
    "   1  another failure          2  a bad command line\n"
    "   3  the host name does not resolve\n"
    "   4  connection refused       5  a timeout\n"
    "   6  TLS: certificate verification or handshake failed\n"
    "   7  not HTTP, or the body was cut short\n"
    "   8  the output could not be written\n"
    "   9  --sha256 mismatch       10  a redirect loop, or too many\n"
    "  22  -f and an HTTP status of 400 or more\n";

enum {
    OPT_MAX_REDIRS = 256, OPT_CONNECT_TIMEOUT, OPT_TIMEOUT, OPT_PER_HOST, OPT_RETRY,
    OPT_RETRY_DELAY, OPT_JSON, OPT_SHA256, OPT_ETAG_SAVE, OPT_ETAG_COMPARE, OPT_CACERT
};

static const struct option nt_get_options[] = {
    { "output",          required_argument, NULL, 'o' },
    { "remote-name",     no_argument,       NULL, 'O' },
    { "dir",             required_argument, NULL, 'd' },
    { "location",        no_argument,       NULL, 'L' },
    { "max-redirs",      required_argument, NULL, OPT_MAX_REDIRS },
    { "head",            no_argument,       NULL, 'I' },
    { "include",         no_argument,       NULL, 'i' },
    { "header",          required_argument, NULL, 'H' },
    { "user-agent",      required_argument, NULL, 'A' },
    { "continue",        no_argument,       NULL, 'c' },
    { "fail",            no_argument,       NULL, 'f' },
    { "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
    { "max-time",        required_argument, NULL, 'm' },
    { "timeout",         required_argument, NULL, OPT_TIMEOUT },
    { "jobs",            required_argument, NULL, 'j' },
    { "per-host",        required_argument, NULL, OPT_PER_HOST },
    { "retry",           required_argument, NULL, OPT_RETRY },
    { "retry-delay",     required_argument, NULL, OPT_RETRY_DELAY },
    { "json",            no_argument,       NULL, OPT_JSON },
    { "split",           required_argument, NULL, 's' },
    { "sha256",          required_argument, NULL, OPT_SHA256 },
    { "etag-save",       required_argument, NULL, OPT_ETAG_SAVE },
    { "etag-compare",    required_argument, NULL, OPT_ETAG_COMPARE },
    { "cacert",          required_argument, NULL, OPT_CACERT },
    { "insecure",        no_argument,       NULL, 'k' },
    NT_COMMON_LONGOPTS,
    { NULL, 0, NULL, 0 }
};

/* The file name -O gives url: its path's last segment, percent-decoded,
 * "index.html" when that is empty; NULL when it cannot be a file name. */
static char *nt_get_remote_name(const char *url)
{
    netsrv_http_url u;
    if (netsrv_http_parse_url(url, strlen(url), &u) < 0)
        return NULL;
    size_t tl = u.target_len;
    const char *q = memchr(u.target, '?', tl);
    if (q)
        tl = (size_t)(q - u.target);
    size_t b = tl;
    while (b > 0 && u.target[b - 1] != '/')
        b--;
    char name[1024];
    ssize_t n = tl - b > 0 ? netsrv_http_decode_path(u.target + b, tl - b, name, sizeof name)
                           : 0;
    if (n < 0)
        return NULL;
    if (n == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return strdup("index.html");
    return strdup(name);
}

static int nt_get_cmp_path(const void *a, const void *b)
{
    const struct nt_get_job *x = *(const struct nt_get_job *const *)a;
    const struct nt_get_job *y = *(const struct nt_get_job *const *)b;
    return strcmp(x->path, y->path);
}

/* Two URLs saved under one name would write one FILE.part at once. */
static void nt_get_check_names(struct nt_get_job *jobs, size_t n)
{
    struct nt_get_job **v = calloc(n, sizeof *v);
    size_t k = 0;
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        if (jobs[i].path)
            v[k++] = &jobs[i];
    qsort(v, k, sizeof *v, nt_get_cmp_path);
    for (size_t i = 1; i < k; i++)
        if (strcmp(v[i - 1]->path, v[i]->path) == 0)
            nt_usage_error("'%s' and '%s' would both be saved as %s", v[i - 1]->url, v[i]->url,
                           v[i]->path);
    free(v);
}

/* ---- the tasks ---- */

struct nt_get_run {
    struct nt_get *g;
    struct nt_get_job *jobs;
    size_t njobs, next;
};

static void nt_get_worker(void *arg)
{
    struct nt_get_run *run = arg;
    while (run->next < run->njobs) {
        struct nt_get_job *j = &run->jobs[run->next++];
        nt_get_run_job(run->g, j);
        if (j->exit)
            nt_error("%s: %s", j->url, j->err[0] ? j->err : "failed");
        else if (nt_verbosity >= 2)
            nt_error("%s: HTTP %d, %lld bytes in %.3f s%s%s", j->url, j->status, j->bytes,
                     j->secs, j->path ? " -> " : "", j->path ? j->path : "");
        else if (j->skipped && nt_verbosity >= 1)
            nt_error("%s: not modified (ETag), nothing fetched", j->url);
    }
}

static void nt_get_close_session(void *arg)
{
    netsrv_httpc_free(arg);
}

/* A JSON string, or null. */
static void nt_json_str(FILE *f, const char *s)
{
    if (s)
        nt_json_string(f, s, strlen(s));
    else
        fputs("null", f);
}

static void nt_get_json(const struct nt_get_job *jobs, size_t n)
{
    fputs("[\n", stdout);
    for (size_t i = 0; i < n; i++) {
        const struct nt_get_job *j = &jobs[i];
        fputs("  {\"url\": ", stdout);
        nt_json_str(stdout, j->url);
        fputs(", \"final_url\": ", stdout);
        nt_json_str(stdout, j->final_url);
        fputs(", \"file\": ", stdout);
        nt_json_str(stdout, j->path);
        printf(", \"status\": %d, \"bytes\": %lld, \"time\": %.3f, \"tries\": %u, "
               "\"not_modified\": %s, \"exit\": %d, \"error\": ", j->status, j->bytes, j->secs,
               j->tries, j->skipped ? "true" : "false", j->exit);
        nt_json_str(stdout, j->exit ? j->err : NULL);
        printf("}%s\n", i + 1 < n ? "," : "");
    }
    fputs("]\n", stdout);
}

int nt_get_main(int argc, char **argv)
{
    struct nt_get g;
    struct nt_get_opts *o = &g.o;
    const char **urls = NULL;
    size_t nurls = 0, hcap = 0;
    double idle = 60;
    int c;

    memset(&g, 0, sizeof g);
    o->max_redirs = 10;
    o->connect_timeout = 30;
    o->jobs = 1;
    o->retry_delay = 1;
    o->split = 1;
    opterr = 0;
    urls = calloc((size_t)argc, sizeof *urls);
    if (!urls) {
        nt_error("out of memory");
        return NT_EXIT_FAILURE;
    }
    while ((c = getopt_long(argc, argv, "+:o:Od:LIiH:A:cfm:j:s:k" NT_COMMON_SHORTOPTS,
                            nt_get_options, NULL)) != -1 || optind < argc) {
        if (c == -1) { /* a URL; options may follow */
            urls[nurls++] = argv[optind++];
            continue;
        }
        switch (c) {
        case 'o':
            if (!*optarg)
                nt_usage_error("-o needs a file name");
            o->out = optarg;
            break;
        case 'O':
            o->remote_name = 1;
            break;
        case 'd':
            if (!*optarg)
                nt_usage_error("-d needs a directory");
            o->dir = optarg;
            break;
        case 'L':
            o->follow = 1;
            break;
        case OPT_MAX_REDIRS:
            o->max_redirs = nt_opt_unsigned("--max-redirs", optarg);
            break;
        case 'I':
            o->head = 1;
            break;
        case 'i':
            o->include = 1;
            break;
        case 'H': {
            const char *colon = strchr(optarg, ':');
            if (!colon || colon == optarg)
                nt_usage_error("invalid header '%s' (want 'Name: value')", optarg);
            if (o->nheaders == hcap) {
                hcap = hcap ? hcap * 2 : 8;
                o->headers = realloc(o->headers, hcap * sizeof *o->headers);
                if (!o->headers) {
                    nt_error("out of memory");
                    return NT_EXIT_FAILURE;
                }
            }
            const char *v = colon + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            o->headers[o->nheaders++] = (netsrv_http_header){ optarg, (size_t)(colon - optarg),
                                                              v, strlen(v) };
            break;
        }
        case 'A':
            o->agent = optarg;
            break;
        case 'c':
            o->resume = 1;
            break;
        case 'f':
            o->fail = 1;
            break;
        case OPT_CONNECT_TIMEOUT:
            o->connect_timeout = nt_opt_seconds("--connect-timeout", optarg);
            break;
        case 'm':
            o->max_time = nt_opt_seconds("-m", optarg);
            break;
        case OPT_TIMEOUT:
            idle = nt_opt_seconds("--timeout", optarg);
            break;
        case 'j':
            o->jobs = nt_opt_unsigned("-j", optarg);
            if (o->jobs == 0 || o->jobs > 10000)
                nt_usage_error("invalid -j '%s' (1 to 10000)", optarg);
            break;
        case OPT_PER_HOST:
            o->per_host = nt_opt_unsigned("--per-host", optarg);
            break;
        case OPT_RETRY:
            o->retry = nt_opt_unsigned("--retry", optarg);
            break;
        case OPT_RETRY_DELAY:
            o->retry_delay = nt_opt_seconds("--retry-delay", optarg);
            break;
        case OPT_JSON:
            o->json = 1;
            break;
        case 's':
            o->split = nt_opt_unsigned("-s", optarg);
            if (o->split == 0 || o->split > 64)
                nt_usage_error("invalid -s '%s' (1 to 64)", optarg);
            break;
        case OPT_SHA256:
            if (netsrv_sha256_parse(optarg, strlen(optarg), o->sha256) < 0)
                nt_usage_error("invalid --sha256 '%s' (want 64 hex digits)", optarg);
            o->check = 1;
            break;
        case OPT_ETAG_SAVE:
            o->etag_save = optarg;
            break;
        case OPT_ETAG_COMPARE:
            o->etag_compare = optarg;
            break;
        case OPT_CACERT:
            o->cacert = optarg;
            break;
        case 'k':
            o->insecure = 1;
            break;
        default:
            nt_common_option(c, argv);
        }
    }
    if (nurls == 0)
        nt_usage_error("missing URL");
    for (size_t i = 0; i < nurls; i++) {
        netsrv_http_url u;
        int rc = netsrv_http_parse_url(urls[i], strlen(urls[i]), &u);
        if (rc == -EPROTONOSUPPORT)
            nt_usage_error("'%s': only http:// and https:// URLs", urls[i]);
        if (rc < 0)
            nt_usage_error("'%s' is not a URL", urls[i]);
    }
    int to_stdout = (!o->out || strcmp(o->out, "-") == 0) && !o->remote_name && !o->dir;
    if (o->out && (o->remote_name || o->dir))
        nt_usage_error("-o and -O/-d do not go together");
    if (o->out && nurls > 1 && strcmp(o->out, "-") != 0)
        nt_usage_error("-o FILE takes one URL (use -O or -d for several)");
    if (to_stdout && o->jobs > 1 && nurls > 1)
        nt_usage_error("-j with several URLs needs -O or -d (their bodies would mix on stdout)");
    if (o->json && to_stdout && !o->head)
        nt_usage_error("--json needs the bodies in files (-o, -O or -d)");
    if ((o->check || o->etag_save || o->etag_compare) && nurls > 1)
        nt_usage_error("--sha256 and --etag-* take one URL");
    if (o->resume && to_stdout)
        nt_usage_error("-c needs a file (-o, -O or -d)");
    if (o->head && o->split > 1)
        nt_usage_error("-I and -s do not go together");
    if (o->dir) {
        struct stat st;
        if (stat(o->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
            nt_error("%s: not a directory", o->dir);
            return NT_EXIT_FAILURE;
        }
    }

    struct nt_get_job *jobs = calloc(nurls, sizeof *jobs);
    if (!jobs) {
        nt_error("out of memory");
        return NT_EXIT_FAILURE;
    }
    int special_fd = -1;
    for (size_t i = 0; i < nurls; i++) {
        struct stat st;
        jobs[i].url = urls[i];
        jobs[i].out_fd = STDOUT_FILENO;
        if (o->out && strcmp(o->out, "-") != 0 && stat(o->out, &st) == 0 &&
            !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
            /* /dev/null, a FIFO: written as it is, never renamed over */
            if (special_fd < 0 && (special_fd = open(o->out, O_WRONLY | O_CLOEXEC)) < 0) {
                nt_error("%s: %s", o->out, strerror(errno));
                return NT_GET_EXIT_WRITE;
            }
            jobs[i].out_fd = special_fd;
        } else if (o->head && !o->out) {
            continue; /* headers to stdout */
        } else if (o->out && strcmp(o->out, "-") != 0) {
            jobs[i].path = strdup(o->out);
        } else if (o->remote_name || o->dir) {
            char *name = nt_get_remote_name(urls[i]);
            if (!name)
                nt_usage_error("'%s' has no usable file name (give -o FILE)", urls[i]);
            if (o->dir) {
                size_t len = strlen(o->dir) + strlen(name) + 2;
                jobs[i].path = malloc(len);
                if (jobs[i].path)
                    snprintf(jobs[i].path, len, "%s/%s", o->dir, name);
                free(name);
            } else {
                jobs[i].path = name;
            }
        }
    }
    nt_get_check_names(jobs, nurls);
    if (o->split > 1 && nurls == 1 && !jobs[0].path)
        nt_usage_error("-s needs a file (-o, -O or -d): the parts are written in place");

    o->progress = nt_verbosity >= 1 && isatty(STDERR_FILENO) && (o->jobs == 1 || nurls == 1);
    /* One large buffer per transfer, which the library fills straight from
     * the socket; several transfers at once get smaller ones. */
    o->bufsize = o->jobs == 1 && o->split <= 1 ? 256 * 1024 : 64 * 1024;

    netsrv_httpc_opts ho;
    netsrv_httpc_opts_init(&ho);
    ho.user_agent = o->agent ? o->agent : "nettool/" NETSRV_VERSION;
    ho.ca_file = o->cacert;
    ho.insecure = o->insecure;
    ho.connect_timeout = o->connect_timeout;
    ho.idle_timeout = idle;
    ho.max_redirects = o->max_redirs;
    ho.per_host = o->per_host;
    ho.max_idle = o->jobs * (o->split > 1 ? o->split : 1) + 16;
    int rc = netsrv_httpc_new(&g.s, &ho);
    if (rc == 0)
        rc = netsrv_loop_new(&g.loop, 0);
    if (rc < 0) {
        nt_error("%s", netsrv_strerror(rc));
        return NT_EXIT_FAILURE;
    }
    nt_ignore_sigpipe();
    nt_raise_nofile();

    struct nt_get_run run = { &g, jobs, nurls, 0 };
    unsigned workers = o->jobs < nurls ? o->jobs : (unsigned)nurls;
    double t0 = netsrv_now();
    for (unsigned i = 0; i < workers; i++)
        if (netsrv_loop_spawn(g.loop, nt_get_worker, &run) < 0) {
            nt_error("out of memory");
            return NT_EXIT_FAILURE;
        }
    netsrv_loop_run(g.loop);
    /* The kept connections are closed as a task of the loop, the way
     * they were used. */
    netsrv_loop_spawn(g.loop, nt_get_close_session, g.s);
    netsrv_loop_run(g.loop);
    netsrv_loop_free(g.loop);
    double took = netsrv_now() - t0;

    int ex = 0;
    size_t failed = 0;
    long long bytes = 0;
    for (size_t i = 0; i < nurls; i++) {
        bytes += jobs[i].bytes;
        if (jobs[i].exit) {
            failed++;
            if (!ex)
                ex = jobs[i].exit;
        }
    }
    if (o->json)
        nt_get_json(jobs, nurls);
    if (nurls > 1 && nt_verbosity >= 1)
        nt_error("%zu URLs: %zu fetched, %zu failed; %lld bytes in %.2f s", nurls,
                 nurls - failed, failed, bytes, took);
    if (fflush(stdout) != 0 && !ex)
        ex = NT_GET_EXIT_WRITE;
    for (size_t i = 0; i < nurls; i++) {
        free(jobs[i].path);
        free(jobs[i].final_url);
    }
    free(jobs);
    free(urls);
    free(o->headers);
    return ex;
}
