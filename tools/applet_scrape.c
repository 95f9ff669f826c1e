/* applet_scrape.c - "nettool scrape": prints what a PCRE2 regex matches in
 * web pages (or local files), and crawls by following links.  The pieces
 * are libnetsrv's: the regex scans, charsets, links and robots.txt, the
 * crawl frontier in SQLite, the HTTP client, and -j client tasks on one
 * loop.  Here are the command line, the tasks and the messages; the
 * fetching is scrape_page.c, the output scrape_out.c.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netsrv.h>

#include "applets.h"
#include "scrape.h"

const char nt_scrape_usage[] =
    "Usage: nettool scrape [OPTIONS] URL REGEX\n"
    "   or: nettool scrape [OPTIONS] -e REGEX URL...\n"
    "   or: nettool scrape [OPTIONS] -e REGEX -f FILE\n"
    "Fetch each page and print what the PCRE2 regular expression REGEX\n"
    "matches in it: every match, the whole match unless -g picks groups.\n"
    "A URL is http://..., https://..., file:PATH, or - for standard input.\n"
    "With --follow the pages' links are crawled too.  A page declared in\n"
    "another character set (Content-Type, <meta charset>) is converted to\n"
    "UTF-8 first, so REGEX and the output are UTF-8.\n"
    "\n"
    "  -e, --regex REGEX    the regex (then every positional is a URL)\n"
    "  -f, --file FILE      read URLs from FILE, one a line (- for stdin)\n"
    "  -g, --group N|NAME   print capture group N, or the group called NAME;\n"
    "                       several -g print several columns\n"
    "      --format FMT     text (columns tab-separated; the default), tsv\n"
    "                       (url, offset, columns; escaped) or json (JSON\n"
    "                       Lines: url, offset, match and groups)\n"
    "      --header         a first TSV line naming the columns\n"
    "  -u, --unique         each distinct match once\n"
    "  -c, --count          print only the number of matches\n"
    "  -i, --ignore-case    caseless matching\n"
    "  -m, --multiline      ^ and $ match at every line\n"
    "  -s, --dotall         . matches newlines too\n"
    "  -x, --extended       blanks and #-comments in REGEX are ignored\n"
    "  -U, --utf            match as UTF-8 even pages that are not (by\n"
    "                       default: pages that are UTF-8, or were converted)\n"
    "      --charset NAME   the pages' character set, whatever they declare\n"
    "      --match-limit N  backtracking steps per match attempt before the\n"
    "                       page fails (default 10000000)\n"
    "      --db FILE        write the matches to table 'matches' of the SQLite\n"
    "                       database FILE (url, offset, match and a column per\n"
    "                       named group; created when missing, appended to,\n"
    "                       one transaction per page) instead of stdout\n"
    "  -j, --jobs N         pages fetched at once (default 4)\n"
    "      --follow REGEX   crawl: follow the links REGEX matches (its group\n"
    "                       1 when it has groups), each URL once\n"
    "      --depth N        links followed from the first pages (default 5)\n"
    "      --max-pages N    pages fetched at most (default no limit)\n"
    "      --same-host      follow only links to the first pages' hosts\n"
    "      --delay SECS     between two fetches from one host (default 0;\n"
    "                       a robots.txt Crawl-delay that is longer wins)\n"
    "      --no-robots      ignore robots.txt (obeyed by default)\n"
    "      --state FILE     keep the crawl's frontier and seen set in SQLite\n"
    "                       FILE: a crawl stopped (even by kill -9) resumes\n"
    "                       where it was, fetching no page twice\n"
    "      --max-size SIZE  skip larger pages (suffix k, M, G; default 1G)\n"
    "      --timeout SECS   give up on a page after this long (default 30)\n"
    "  -A, --user-agent UA  the User-Agent sent (default nettool/VERSION;\n"
    "                       its first word is the robots.txt token)\n"
    "      --cacert FILE    trust the CA certificates in FILE (PEM) too\n"
    "  -k, --insecure       do not verify https certificates\n"
    "  -v, --verbose        say which pages were fetched, skipped, disallowed\n"
    "  -q, --quiet          no warnings and no progress, only errors\n"
    "  -h, --help           show this help\n"
    "\n"
    "Pages that are not text or are larger than --max-size are skipped with a\n"
    "warning.  The JSON offset is the byte offset of the match in the page as\n"
    "matched (in UTF-8).  A progress line is drawn on stderr when it is a\n"
    "terminal.  Exit status: 0 when every page was scraped; 1 when none could\n"
    "be (or the database failed); 2 for a bad command line or REGEX; 3 when\n"
    "some pages failed or were skipped (each said on stderr) and the rest\n"
    "were scraped.\n";

enum {
    OPT_FORMAT = 256, OPT_HEADER, OPT_CHARSET, OPT_MATCH_LIMIT, OPT_DB, OPT_FOLLOW, OPT_DEPTH,
    OPT_MAX_PAGES, OPT_SAME_HOST, OPT_DELAY, OPT_NO_ROBOTS, OPT_STATE, OPT_MAX_SIZE,
    OPT_TIMEOUT, OPT_CACERT
};

static const struct option nt_scrape_options[] = {
    { "cacert",      required_argument, NULL, OPT_CACERT },
    { "charset",     required_argument, NULL, OPT_CHARSET },
    { "count",       no_argument,       NULL, 'c' },
    { "db",          required_argument, NULL, OPT_DB },
    { "delay",       required_argument, NULL, OPT_DELAY },
    { "depth",       required_argument, NULL, OPT_DEPTH },
    { "dotall",      no_argument,       NULL, 's' },
    { "extended",    no_argument,       NULL, 'x' },
    { "file",        required_argument, NULL, 'f' },
    { "follow",      required_argument, NULL, OPT_FOLLOW },
    { "format",      required_argument, NULL, OPT_FORMAT },
    { "group",       required_argument, NULL, 'g' },
    { "header",      no_argument,       NULL, OPT_HEADER },
    { "ignore-case", no_argument,       NULL, 'i' },
    { "insecure",    no_argument,       NULL, 'k' },
    { "jobs",        required_argument, NULL, 'j' },
    { "match-limit", required_argument, NULL, OPT_MATCH_LIMIT },
    { "max-pages",   required_argument, NULL, OPT_MAX_PAGES },
    { "max-size",    required_argument, NULL, OPT_MAX_SIZE },
    { "multiline",   no_argument,       NULL, 'm' },
    { "no-robots",   no_argument,       NULL, OPT_NO_ROBOTS },
    { "regex",       required_argument, NULL, 'e' },
    { "same-host",   no_argument,       NULL, OPT_SAME_HOST },
    { "state",       required_argument, NULL, OPT_STATE },
    { "timeout",     required_argument, NULL, OPT_TIMEOUT },
    { "unique",      no_argument,       NULL, 'u' },
    { "user-agent",  required_argument, NULL, 'A' },
    { "utf",         no_argument,       NULL, 'U' },
    NT_COMMON_LONGOPTS,
    { NULL, 0, NULL, 0 }
};

/* A regex in both modes: UTF-8 for pages that are, bytes for the rest. */
struct sc_re {
    netsrv_regex *utf, *bytes;
};

struct sc_run {
    struct sc_re re, follow;
    struct sc_out out;
    struct sc_fetch_opts fo;
    netsrv_crawl *crawl;
    char **urls;
    size_t nurls, next;
    unsigned jobs;
    netsrv_task **waiting;     /* crawl tasks waiting for work */
    unsigned ok, failed, skipped, fatal;
    int progress;
    double last_draw;
};

/* Compiles pattern for both modes; a bad one is a usage error. */
static void sc_compile(struct sc_re *r, const char *what, const char *pattern, unsigned flags,
                       unsigned limit)
{
    char err[NETSRV_ERRLEN];
    int rc;

    rc = netsrv_regex_new(&r->utf, pattern, strlen(pattern), flags | NETSRV_RE_UTF, NULL, err,
                          sizeof err);
    if (rc == 0)
        rc = netsrv_regex_new(&r->bytes, pattern, strlen(pattern), flags, NULL, err, sizeof err);
    if (rc == -ENOMEM) {
        nt_error("out of memory");
        exit(NT_EXIT_FAILURE);
    }
    if (rc < 0)
        nt_usage_error("invalid %s '%s': %s", what, pattern, err);
    netsrv_regex_set_limit(r->utf, limit);
    netsrv_regex_set_limit(r->bytes, limit);
}

static void sc_progress(struct sc_run *r, int last)
{
    double now;

    if (!r->progress)
        return;
    now = netsrv_now();
    if (!last && now - r->last_draw < 0.1)
        return;
    r->last_draw = now;
    fprintf(stderr, "\r%u pages, %u failed, %llu matches%s", r->ok, r->failed + r->skipped,
            r->out.matches, last ? "\n" : "");
}

/* Starts scanning pg with the pair's regex for it and finds the first
 * match: a page taken for UTF-8 that is not goes back to bytes.  Returns
 * as netsrv_regex_next; -ENOMEM when the scan could not start. */
static int sc_first(netsrv_regex_scan *s, const struct sc_re *pair, const struct sc_page *pg)
{
    int rc;

    if (netsrv_regex_scan_init(s, pg->utf ? pair->utf : pair->bytes, pg->data, pg->len) < 0)
        return -ENOMEM;
    rc = netsrv_regex_next(s);
    if (rc == -EILSEQ) {
        if (netsrv_regex_scan_switch(s, pair->bytes) < 0)
            return -ENOMEM;
        rc = netsrv_regex_next(s);
    }
    return rc;
}

/* One page's scan as the page arrives (the sink of sc_fetch). */
struct sc_scan {
    struct sc_run *r;
    const char *url;
    netsrv_regex_scan s;
    int started, rc;
    unsigned long long matched; /* matches of this page handed out */
};

static int sc_scan_data(void *arg, struct sc_page *pg, int more)
{
    struct sc_scan *sc = arg;
    struct sc_run *r = sc->r;
    int rc;

    if (!sc->started) {
        if (sc_out_begin(&r->out) < 0) {
            r->fatal = 1;
            return -1;
        }
        if (netsrv_regex_scan_init(&sc->s, pg->utf ? r->re.utf : r->re.bytes, pg->data,
                                   pg->len) < 0) {
            nt_error("out of memory");
            r->fatal = 1;
            return -1;
        }
        sc->started = 1;
    }
    netsrv_regex_scan_feed(&sc->s, pg->data, pg->len, more);
    for (;;) {
        rc = netsrv_regex_next(&sc->s);
        if (rc == -EILSEQ && sc->s.re == r->re.utf) {
            /* Not UTF-8 after all: the rest byte by byte. */
            if (sc->matched > 0 && nt_verbosity >= 1)
                nt_error("warning: %s: not UTF-8 at byte %zu: the rest is matched as bytes",
                         sc->url, sc->s.checked);
            if (netsrv_regex_scan_switch(&sc->s, r->re.bytes) < 0) {
                nt_error("out of memory");
                r->fatal = 1;
                return -1;
            }
            continue;
        }
        if (rc != 1)
            break;
        sc->matched++;
        if (sc_out_match(&r->out, pg->url, &sc->s) < 0) {
            r->fatal = 1;
            return -1;
        }
    }
    if (rc == NETSRV_REGEX_MORE && more)
        return 0;
    if (rc < 0) {
        nt_error("%s: %s", sc->url, sc->s.error ? sc->s.error : netsrv_strerror(rc));
        sc->rc = -1;
        return -1;
    }
    return 0;
}

/* The links of a crawled page, handed to the frontier. */
static int sc_links(struct sc_run *r, const struct sc_page *pg, netsrv_crawl_item *it)
{
    int g = netsrv_regex_groups(r->follow.utf) >= 1 ? 1 : 0, rc;
    netsrv_regex_scan s;
    size_t st, n;
    char *buf = NULL;
    size_t cap = 0;

    for (rc = sc_first(&s, &r->follow, pg); rc == 1; rc = netsrv_regex_next(&s)) {
        if (!netsrv_regex_span(&s, g, &st, &n) || n == 0 || n >= NETSRV_URL_MAX)
            continue;
        if (n > cap) {
            char *nb = realloc(buf, n);

            if (!nb) {
                rc = -ENOMEM;
                break;
            }
            buf = nb;
            cap = n;
        }
        n = netsrv_html_unescape(pg->data + st, n, buf);
        if ((rc = netsrv_crawl_link(r->crawl, it, buf, n)) < 0)
            break;
    }
    if (rc < 0 && s.error)
        nt_error("%s: --follow: %s", pg->url, s.error);
    free(buf);
    netsrv_regex_scan_fini(&s);
    return rc < 0 ? rc : 0;
}

/* Fetches and scans one page; returns 0 scraped, -1 failed or skipped. */
static int sc_page(struct sc_run *r, const char *url, netsrv_crawl_item *it)
{
    char why[NETSRV_ERRLEN + 64];
    struct sc_page pg;
    struct sc_scan sc;
    struct sc_sink sink = { sc_scan_data, &sc };
    int skipped, rc;

    memset(&sc, 0, sizeof sc);
    sc.r = r;
    sc.url = url;
    rc = sc_fetch(&r->fo, url, &pg, &sink, &skipped, why, sizeof why);
    if (sc.started) {
        netsrv_regex_scan_fini(&sc.s);
        /* The rows of a page that failed halfway are kept too: they were
         * matched in what came. */
        if (sc_out_end(&r->out) < 0)
            r->fatal = 1;
    }
    if (rc < 0 && why[0]) {
        if (skipped) {
            r->skipped++;
            if (nt_verbosity >= 1)
                nt_error("warning: %s: %s", url, why);
        } else {
            r->failed++;
            nt_error("%s: %s", url, why);
        }
        sc_page_free(&pg);
        return -1;
    }
    if (rc == 0 && nt_verbosity >= 2)
        nt_error("%s: %zu bytes%s", pg.url, pg.len, pg.utf ? " (UTF-8)" : "");
    if (rc == 0 && !r->fatal && it && sc_links(r, &pg, it) < 0)
        rc = -1;
    sc_page_free(&pg);
    if (rc < 0 || sc.rc < 0 || r->fatal) {
        r->failed++;
        return -1;
    }
    r->ok++;
    sc_progress(r, 0);
    return 0;
}

/* -e REGEX URL...: each task takes the next URL of the list. */
static void sc_list_task(void *arg)
{
    struct sc_run *r = arg;

    while (!r->fatal && r->next < r->nurls)
        sc_page(r, r->urls[r->next++], NULL);
}

static void sc_wake_all(struct sc_run *r)
{
    for (unsigned i = 0; i < r->jobs; i++)
        if (r->waiting[i])
            netsrv_task_wake(r->waiting[i]);
}

/* --follow: each task asks the frontier what to do next. */
static void sc_crawl_task(void *arg)
{
    struct sc_run *r = arg;
    netsrv_crawl_item it;
    unsigned slot;
    double when;
    int rc;

    while (!r->fatal) {
        rc = netsrv_crawl_next(r->crawl, &it, &when);
        if (rc == 0)
            break;
        if (rc == -EAGAIN) {
            /* A host's delay, or another task's page that may bring links:
             * a wake-up from any task's end of an item, or the time. */
            for (slot = 0; slot < r->jobs && r->waiting[slot]; slot++)
                ;
            if (slot == r->jobs) /* cannot happen: one slot per task */
                break;
            r->waiting[slot] = netsrv_task_self();
            netsrv_wait(-1, 0, when);
            r->waiting[slot] = NULL;
            continue;
        }
        if (rc < 0) {
            nt_error("crawl state: %s", netsrv_strerror(rc));
            r->fatal = 1;
            break;
        }
        if (it.kind == NETSRV_CRAWL_DISALLOWED) {
            if (nt_verbosity >= 2)
                nt_error("%s: disallowed by robots.txt: not fetched", it.url);
            netsrv_crawl_release(&it);
            continue;
        }
        if (it.kind == NETSRV_CRAWL_ROBOTS) {
            char *text;
            size_t len;
            int status = sc_fetch_text(&r->fo, it.url, &text, &len);

            if (nt_verbosity >= 2)
                nt_error("%s: %d", it.url, status);
            rc = netsrv_crawl_done(r->crawl, &it, status, text, len);
            free(text);
        } else {
            char url[NETSRV_URL_MAX];

            snprintf(url, sizeof url, "%s", it.url);
            rc = sc_page(r, url, &it);
            rc = netsrv_crawl_done(r->crawl, &it, rc, NULL, 0);
        }
        if (rc < 0) {
            nt_error("crawl state: %s", netsrv_strerror(rc));
            r->fatal = 1;
        }
        sc_wake_all(r);
    }
    /* The end (or a failure) for one is the end for the waiting ones. */
    sc_wake_all(r);
}

static int sc_is_url(const char *s)
{
    return strcmp(s, "-") == 0 || strncmp(s, "file:", 5) == 0 || strncmp(s, "http://", 7) == 0 ||
           strncmp(s, "https://", 8) == 0;
}

/* -f FILE: its lines, blank ones and #-comments left out. */
static void sc_read_list(struct sc_run *r, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    if (!f) {
        nt_error("%s: %s", path, strerror(errno));
        exit(NT_EXIT_FAILURE);
    }
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
            line[--n] = '\0';
        if (n == 0 || line[0] == '#')
            continue;
        if (!sc_is_url(line))
            nt_usage_error("%s: '%s' is not a URL (http://, https://, file:PATH or -)", path, line);
        if (!(r->urls = realloc(r->urls, (r->nurls + 1) * sizeof *r->urls)) ||
            !(r->urls[r->nurls++] = strdup(line))) {
            nt_error("out of memory");
            exit(NT_EXIT_FAILURE);
        }
    }
    free(line);
    if (f != stdin)
        fclose(f);
}

int nt_scrape_main(int argc, char **argv)
{
    static const char shortopts[] = ":e:f:g:ucimsxUj:A:k" NT_COMMON_SHORTOPTS;
    struct sc_run run;
    struct sc_run *r = &run;
    netsrv_crawl_opts co;
    netsrv_httpc_opts ho;
    netsrv_loop *loop = NULL;
    const char *regex = NULL, *follow = NULL, *list = NULL, *db = NULL, *agent = NULL;
    const char *groups[SC_MAX_COLS];
    char ua[128], err[NETSRV_ERRLEN];
    unsigned flags = 0, limit = NETSRV_RE_MATCH_LIMIT, ngroups = 0, depth = 5, max_pages = 0;
    int c, rc, stdin_used = 0;

    memset(r, 0, sizeof *r);
    memset(&co, 0, sizeof co);
    netsrv_httpc_opts_init(&ho);
    r->jobs = 4;
    r->fo.timeout = 30;
    r->fo.max_size = (size_t)1 << 30;
    co.robots = 1;
    r->out.format = SC_TEXT;
    while ((c = getopt_long(argc, argv, shortopts, nt_scrape_options, NULL)) != -1) {
        switch (c) {
        case 'e': regex = optarg; break;
        case 'f': list = optarg; break;
        case 'g':
            if (ngroups == SC_MAX_COLS)
                nt_usage_error("at most %d -g", SC_MAX_COLS);
            groups[ngroups++] = optarg;
            break;
        case 'u': r->out.unique = 1; break;
        case 'c': r->out.count = 1; break;
        case 'i': flags |= NETSRV_RE_CASELESS; break;
        case 'm': flags |= NETSRV_RE_MULTILINE; break;
        case 's': flags |= NETSRV_RE_DOTALL; break;
        case 'x': flags |= NETSRV_RE_EXTENDED; break;
        case 'U': r->fo.force_utf = 1; break;
        case 'j':
            r->jobs = nt_opt_unsigned("--jobs", optarg);
            if (r->jobs < 1 || r->jobs > 10000)
                nt_usage_error("invalid --jobs '%s' (1 to 10000)", optarg);
            break;
        case 'A': agent = optarg; break;
        case 'k': ho.insecure = 1; break;
        case OPT_CACERT: ho.ca_file = optarg; break;
        case OPT_FORMAT:
            if (strcmp(optarg, "text") == 0)
                r->out.format = SC_TEXT;
            else if (strcmp(optarg, "tsv") == 0)
                r->out.format = SC_TSV;
            else if (strcmp(optarg, "json") == 0)
                r->out.format = SC_JSON;
            else
                nt_usage_error("invalid --format '%s' (text, tsv or json)", optarg);
            break;
        case OPT_HEADER: r->out.header = 1; break;
        case OPT_CHARSET: r->fo.charset = optarg; break;
        case OPT_MATCH_LIMIT:
            limit = nt_opt_unsigned("--match-limit", optarg);
            if (limit == 0)
                nt_usage_error("invalid --match-limit '0'");
            break;
        case OPT_DB: db = optarg; break;
        case OPT_FOLLOW: follow = optarg; break;
        case OPT_DEPTH: depth = nt_opt_unsigned("--depth", optarg); break;
        case OPT_MAX_PAGES: max_pages = nt_opt_unsigned("--max-pages", optarg); break;
        case OPT_SAME_HOST: co.same_host = 1; break;
        case OPT_DELAY: co.delay = nt_opt_seconds("--delay", optarg); break;
        case OPT_NO_ROBOTS: co.robots = 0; break;
        case OPT_STATE: co.state = optarg; break;
        case OPT_MAX_SIZE: r->fo.max_size = nt_opt_size("--max-size", optarg); break;
        case OPT_TIMEOUT: r->fo.timeout = nt_opt_seconds("--timeout", optarg); break;
        default: nt_common_option(c, argv);
        }
    }
    argc -= optind;
    argv += optind;
    /* Two positionals and no -e: always URL REGEX. */
    if (!regex) {
        if (argc != 2)
            nt_usage_error(argc < 2 ? "missing URL or REGEX (or -e REGEX URL...)"
                                    : "too many arguments: more than one URL needs -e REGEX");
        if (list)
            nt_usage_error("-f needs -e REGEX");
        regex = argv[1];
        argc = 1;
    }
    if (argc == 0 && !list)
        nt_usage_error("missing URL");
    r->urls = calloc((size_t)argc + 1, sizeof *r->urls);
    for (int i = 0; i < argc; i++) {
        if (!sc_is_url(argv[i]))
            nt_usage_error("'%s' is not a URL (http://, https://, file:PATH or -)", argv[i]);
        r->urls[r->nurls++] = strdup(argv[i]);
    }
    if (list)
        sc_read_list(r, list);
    for (size_t i = 0; i < r->nurls; i++)
        if (strcmp(r->urls[i], "-") == 0 && (stdin_used++ || (list && strcmp(list, "-") == 0)))
            nt_usage_error("standard input can be read only once");
    if (r->out.header && r->out.format != SC_TSV)
        nt_usage_error("--header goes with --format tsv");
    if (!follow && (co.state || co.same_host || max_pages || co.delay > 0))
        nt_usage_error("--state, --same-host, --max-pages and --delay go with --follow");

    sc_compile(&r->re, "regex", regex, flags, limit);
    if (follow)
        sc_compile(&r->follow, "--follow regex", follow, flags, limit);
    /* -g N or -g NAME, checked against the regex; none: the whole match. */
    r->out.re = r->re.utf;
    for (unsigned i = 0; i < ngroups; i++) {
        unsigned n;

        if (nt_parse_unsigned(groups[i], &n) == 0) {
            if ((int)n > netsrv_regex_groups(r->re.utf))
                nt_usage_error("-g %u: the regex has %d group%s", n, netsrv_regex_groups(r->re.utf),
                               netsrv_regex_groups(r->re.utf) == 1 ? "" : "s");
            r->out.cols[i] = (int)n;
        } else {
            if ((rc = netsrv_regex_group_number(r->re.utf, groups[i])) < 0)
                nt_usage_error("-g %s: the regex has no group of that name", groups[i]);
            r->out.cols[i] = rc;
            r->out.names[i] = groups[i];
        }
    }
    r->out.ncols = ngroups ? (int)ngroups : 1;

    nt_ignore_sigpipe();
    snprintf(ua, sizeof ua, "nettool/%s", PACKAGE_VERSION);
    ho.user_agent = agent ? agent : ua;
    ho.connect_timeout = r->fo.timeout;
    ho.idle_timeout = r->fo.timeout;
    ho.max_idle = r->jobs > 32 ? r->jobs : 32;
    if ((rc = netsrv_httpc_new(&r->fo.http, &ho)) < 0 ||
        (rc = netsrv_loop_new(&loop, 0)) < 0 ||
        !(r->waiting = calloc(r->jobs, sizeof *r->waiting))) {
        nt_error("%s", netsrv_strerror(rc < 0 ? rc : -ENOMEM));
        return NT_EXIT_FAILURE;
    }
    if (db && sc_out_open_db(&r->out, db, r->re.utf) < 0)
        return NT_EXIT_FAILURE;
    if (follow) {
        /* The robots.txt token: the User-Agent's product name. */
        static char token[64];

        snprintf(token, sizeof token, "%s", ho.user_agent);
        token[strcspn(token, "/ ")] = '\0';
        co.agent = token;
        co.max_depth = (int)depth;
        co.max_pages = max_pages;
        if ((rc = netsrv_crawl_open(&r->crawl, &co, err, sizeof err)) < 0) {
            nt_error("--state %s: %s", co.state ? co.state : "(memory)", err);
            return NT_EXIT_FAILURE;
        }
        for (size_t i = 0; i < r->nurls; i++) {
            if (strncmp(r->urls[i], "http", 4) != 0) {
                /* A file or stdin is no place to crawl from: scraped once. */
                sc_page(r, r->urls[i], NULL);
                continue;
            }
            if ((rc = netsrv_crawl_add(r->crawl, r->urls[i], err, sizeof err)) < 0) {
                nt_error("%s", err);
                return NT_EXIT_FAILURE;
            }
        }
    }
    r->progress = nt_verbosity >= 1 && isatty(STDERR_FILENO);
    setvbuf(stdout, NULL, _IOFBF, 1 << 20);
    sc_out_start(&r->out);
    for (unsigned i = 0; i < r->jobs; i++)
        if ((rc = netsrv_loop_spawn(loop, follow ? sc_crawl_task : sc_list_task, r)) < 0) {
            nt_error("%s", netsrv_strerror(rc));
            return NT_EXIT_FAILURE;
        }
    netsrv_loop_run(loop);
    sc_progress(r, 1);
    if (sc_out_finish(&r->out) < 0)
        r->fatal = 1;
    if (r->crawl && nt_verbosity >= 2) {
        netsrv_crawl_counts cc;

        if (netsrv_crawl_count(r->crawl, &cc) == 0)
            nt_error("crawl: %lld done, %lld failed, %lld disallowed, %lld queued, %lld lost",
                     cc.done, cc.failed, cc.disallowed, cc.queued, cc.lost);
    }
    netsrv_crawl_close(r->crawl);
    netsrv_loop_free(loop);
    netsrv_httpc_free(r->fo.http);
    for (size_t i = 0; i < r->nurls; i++)
        free(r->urls[i]);
    free(r->urls);
    free(r->waiting);
    netsrv_regex_free(r->re.utf);
    netsrv_regex_free(r->re.bytes);
    netsrv_regex_free(r->follow.utf);
    netsrv_regex_free(r->follow.bytes);
    if (r->fatal || (r->ok == 0 && (r->failed || r->skipped)))
        return NT_EXIT_FAILURE;
    return r->failed || r->skipped ? 3 : NT_EXIT_OK;
}
