/* scrape.h - what the parts of "nettool scrape" share: the run's settings,
 * a fetched page (scrape_page.c: http(s) through libnetsrv's client,
 * file:PATH and stdin, the charset turned into UTF-8), and the output
 * (scrape_out.c: text, TSV, JSON Lines, -u, -c, and the --db rows).
 * applet_scrape.c holds the command line and the tasks.
 */
#ifndef NT_SCRAPE_H
#define NT_SCRAPE_H

#include <stddef.h>
#include <stdio.h>

#include <netsrv.h>

enum { SC_TEXT, SC_TSV, SC_JSON };

#define SC_MAX_COLS 32

/* A fetched page, its bytes in UTF-8 when its charset was known. */
struct sc_page {
    char *data;          /* malloc'd or mapped */
    size_t len;
    size_t map_len;      /* > 0: data is an mmap of that many bytes */
    int utf;             /* match with the UTF-8 regex */
    int status;          /* HTTP status, 0 for files */
    char url[NETSRV_URL_MAX]; /* the URL that answered (after redirects) */
};

struct sc_fetch_opts {
    netsrv_httpc *http;
    double timeout;
    size_t max_size;
    const char *charset; /* --charset, or NULL */
    int force_utf;       /* -U */
};

/* What takes a page as it arrives: data() is called with pg->data[0..
 * pg->len) each time it grew (more set) and once at its end (more 0); a
 * page that must be converted first comes in that one call.  It returns 0,
 * or -1 to stop (the fetch then fails, quietly). */
struct sc_sink {
    int (*data)(void *arg, struct sc_page *pg, int more);
    void *arg;
};

/* Fetches url (http://, https://, file:PATH or -) into *pg, handing it to
 * sink as it comes.  Returns 0, or -1 with one line's reason in why (empty
 * when the sink stopped it); *skipped is set when the page was passed over
 * (not text, too big) rather than failed.  Warnings (an unknown charset)
 * go to stderr as they happen.  pg->data stays for the caller to free. */
int sc_fetch(const struct sc_fetch_opts *o, const char *url, struct sc_page *pg,
             const struct sc_sink *sink, int *skipped, char *why, size_t len);
/* A robots.txt: its status (or -1 when it could not be had) and text. */
int sc_fetch_text(const struct sc_fetch_opts *o, const char *url, char **text, size_t *len);
void sc_page_free(struct sc_page *pg);

/* The output side. */
struct sc_out {
    int format, header, unique, count;
    int ncols;
    int cols[SC_MAX_COLS];           /* group numbers; 0 the whole match */
    const char *names[SC_MAX_COLS];  /* their names (NULL: the number) */
    const netsrv_regex *re;          /* for JSON's names with no -g */
    unsigned long long matches;      /* printed (or counted) so far */
    void *seen;                      /* -u's set */
    void *db;                        /* --db */
    int failed;                      /* a write failed */
};

/* Opens --db path for the named groups of re: table matches, created when
 * missing, columns added for new group names.  0 or -1 (error printed). */
int sc_out_open_db(struct sc_out *o, const char *path, const netsrv_regex *re);
/* Before, for and after one page's matches (a transaction with --db). */
int sc_out_begin(struct sc_out *o);
/* One match: prints it (or counts it, or inserts it) unless -u saw it. */
int sc_out_match(struct sc_out *o, const char *url, const netsrv_regex_scan *s);
int sc_out_end(struct sc_out *o);
/* --header's line, -c's count, and what is left to close. */
void sc_out_start(struct sc_out *o);
int sc_out_finish(struct sc_out *o);

#endif /* NT_SCRAPE_H */
