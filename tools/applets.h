/* applets.h - the list of nettool's applets and the helpers they share.
 * Adding an applet takes one NT_APPLET line below (kept in name order) and
 * a tools/applet_NAME.c defining nt_NAME_main() and nt_NAME_usage[].
 */
#ifndef NT_APPLETS_H
#define NT_APPLETS_H

#include <stdio.h>
#include <getopt.h>

/* NT_APPLET(NAME, one-line summary): expanded once to declare each
 * applet's entry function and usage text, once to build the table. */
#define NT_APPLET_LIST(NT_APPLET) \
    NT_APPLET(bench,    "load an echo server and measure throughput and latency") \
    NT_APPLET(chat,     "chat with a chat server, or with a peer over UDP") \
    NT_APPLET(dircopy,  "copy a directory tree with worker processes, resumable") \
    NT_APPLET(download, "fetch a file from a files server, checked and resumable") \
    NT_APPLET(echo,     "connect to a server, send stdin, print the replies") \
    NT_APPLET(get,      "fetch http and https URLs, many at once, resumable") \
    NT_APPLET(scrape,   "print what a regex matches in web pages; crawl their links") \
    NT_APPLET(serve,    "run a server with one of libnetsrv's ready handlers")

struct nt_applet {
    const char *name;
    int (*main)(int argc, char **argv); /* argv[0] is the applet's name */
    const char *summary;
    const char *usage;                  /* full text, ends with '\n' */
};

#define NT_DECLARE_APPLET(name, summary) \
    int nt_##name##_main(int argc, char **argv); \
    extern const char nt_##name##_usage[];
NT_APPLET_LIST(NT_DECLARE_APPLET)
#undef NT_DECLARE_APPLET

/* Exit codes every applet uses. */
enum {
    NT_EXIT_OK = 0,
    NT_EXIT_FAILURE = 1,  /* runtime failure */
    NT_EXIT_USAGE = 2,    /* bad command line */
    NT_EXIT_UNKNOWN = 127 /* no such applet */
};

/* ------------------------------------------------------------ common.c */

/* Writes s[0..n) as a JSON string (RFC 8259 escapes).  Bytes that are no
 * UTF-8 (a page matched raw, a name from the wire) are written as the
 * code points of the same value (\u00XX), so that every line stays valid
 * JSON. */
void nt_json_string(FILE *f, const char *s, size_t n);

/* The applet running now (set by the dispatcher; names error lines). */
extern const struct nt_applet *nt_current;
/* 0 with -q, 1 by default, 2 and more with -v (each -v adds one). */
extern int nt_verbosity;

/* Short and long options every applet takes; an applet's optstring is
 * "+:" its own letters NT_COMMON_SHORTOPTS, its long table ends with
 * NT_COMMON_LONGOPTS then a zero entry. */
#define NT_COMMON_SHORTOPTS "vqh"
#define NT_COMMON_LONGOPTS \
    { "verbose", no_argument, NULL, 'v' }, \
    { "quiet",   no_argument, NULL, 'q' }, \
    { "help",    no_argument, NULL, 'h' }

/* Handles an option getopt_long returned that the applet does not know
 * itself: -v, -q, --help (usage to stdout, exit 0), and getopt's '?' and
 * ':' (a usage error as nt_usage_error, exit 2). */
void nt_common_option(int c, char **argv);

/* Prints "nettool APPLET: MESSAGE" on stderr in one write ("nettool:
 * MESSAGE" before an applet is chosen). */
void nt_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "Try 'nettool APPLET --help' for more information." on stderr. */
void nt_try_help(void);
/* A usage error: prints "nettool APPLET: MESSAGE" and the nt_try_help()
 * line on stderr (not the whole usage), then exits 2. */
void nt_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
/* Prints the current applet's usage text on f. */
void nt_print_usage(FILE *f);

/* Parse SECONDS ("1", "0.25", "500ms", "2s", "1m"; never negative) and a
 * decimal unsigned integer.  Each returns 0 or -1 for text it refuses;
 * the _opt forms exit 2 with "invalid OPTION 'TEXT'" instead. */
int nt_parse_seconds(const char *text, double *out);
int nt_parse_unsigned(const char *text, unsigned *out);
double nt_opt_seconds(const char *option, const char *text);
unsigned nt_opt_unsigned(const char *option, const char *text);

/* Parse a byte count: a decimal number with an optional binary suffix
 * k/K (KiB), m/M (MiB) or g/G (GiB).  0 or -1 for text it refuses (or past SIZE_MAX);
 * the _opt form exits 2 instead. */
int nt_parse_size(const char *text, size_t *out);
size_t nt_opt_size(const char *option, const char *text);

/* Raises RLIMIT_NOFILE's soft limit to its hard limit (as nginx's
 * worker_rlimit_nofile), so that thousands of sockets work without a
 * ulimit first.  Returns the soft limit now in force (0 if unknown). */
unsigned long nt_raise_nofile(void);

/* The reason to print for a library failure rc that filled err, less a
 * leading "ADDR: " when ADDR is addr (as given or as the library shows it). */
const char *nt_reason(const char *err, int rc, const char *addr);

/* Exits 2 ("invalid address") when text is not an address at all; a
 * host name that does not resolve is left for the real call to report. */
void nt_check_address(const char *text);

/* Ignores SIGPIPE: a closed peer then shows up as EPIPE, not a death. */
void nt_ignore_sigpipe(void);

/* -------------------------------------------------------- serve_http.c */

struct netsrv_httpd_entry;
/* The http handler's log callback: one Common Log Format line on stderr
 * per request. */
void nt_serve_http_log(const struct netsrv_httpd_entry *e, void *arg);

#endif /* NT_APPLETS_H */
