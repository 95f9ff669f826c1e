/* common.c - what every nettool applet shares: the options -v/-q/--help,
 * error lines on stderr, and parsing of numbers and durations, so each
 * applet's file holds only its own options and output.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <netsrv.h>

#include "applets.h"

const struct nt_applet *nt_current;
int nt_verbosity = 1;

/* "nettool serve" while an applet runs, plain "nettool" before one is
 * chosen: the name error lines start with and the help to point to. */
static void nt_command(char *buf, size_t len)
{
    if (!nt_current || strcmp(nt_current->name, "nettool") == 0)
        snprintf(buf, len, "nettool");
    else
        snprintf(buf, len, "nettool %s", nt_current->name);
}

/* Writes all of line[0..n) to stderr, retrying when a signal cut in. */
static void nt_write_stderr(const char *line, size_t n)
{
    ssize_t w;

    while (n > 0) {
        w = write(STDERR_FILENO, line, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        line += w;
        n -= (size_t)w;
    }
}

/* Lines go out in a single write() so that lines from threads and forked
 * children of a server never interleave. */
static void nt_verror(const char *fmt, va_list ap)
{
    char line[1024], cmd[64];
    size_t n;
    int len;

    nt_command(cmd, sizeof cmd);
    len = snprintf(line, sizeof line, "%s: ", cmd);
    if (len < 0)
        return;
    n = (size_t)len;
    if (n < sizeof line) {
        len = vsnprintf(line + n, sizeof line - n, fmt, ap);
        if (len > 0)
            n += (size_t)len;
    }
    if (n > sizeof line - 2)
        n = sizeof line - 2; /* truncated: still end the line */
    line[n++] = '\n';
    nt_write_stderr(line, n);
}

void nt_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    nt_verror(fmt, ap);
    va_end(ap);
}

void nt_print_usage(FILE *f)
{
    if (nt_current)
        fputs(nt_current->usage, f);
}

void nt_try_help(void)
{
    char line[128], cmd[64];
    int len;

    nt_command(cmd, sizeof cmd);
    len = snprintf(line, sizeof line, "Try '%s --help' for more information.\n", cmd);
    if (len > 0)
        nt_write_stderr(line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
}

/* GNU style: the problem in one line and where to read more in another.
 * The whole usage text would bury the one line that matters. */
void nt_usage_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    nt_verror(fmt, ap);
    va_end(ap);
    nt_try_help();
    exit(NT_EXIT_USAGE);
}

void nt_common_option(int c, char **argv)
{
    switch (c) {
    case 'v':
        nt_verbosity = nt_verbosity < 1 ? 2 : nt_verbosity + 1;
        return;
    case 'q':
        nt_verbosity = 0;
        return;
    case 'h':
        nt_print_usage(stdout);
        exit(fflush(stdout) == 0 ? NT_EXIT_OK : NT_EXIT_FAILURE);
    case ':':
        nt_usage_error("option '%s' needs an argument", argv[optind - 1]);
    case '?':
        /* optopt is the letter of an unknown short option, 0 for an
         * unknown long one (then argv names it). */
        if (optopt && optopt != '?')
            nt_usage_error("unknown option '-%c'", optopt);
        nt_usage_error("unknown option '%s'", argv[optind - 1]);
    default:
        nt_usage_error("option '%s' is not handled", argv[optind - 1]);
    }
}

int nt_parse_seconds(const char *text, double *out)
{
    char *end;
    double v, scale = 1;

    if (!text || !*text || *text == '-' || *text == '+')
        return -1;
    errno = 0;
    v = strtod(text, &end);
    if (end == text || errno == ERANGE)
        return -1;
    if (strcmp(end, "ms") == 0)
        scale = 0.001;
    else if (strcmp(end, "m") == 0)
        scale = 60;
    else if (strcmp(end, "h") == 0)
        scale = 3600;
    else if (*end && strcmp(end, "s") != 0)
        return -1;
    v *= scale;
    if (!isfinite(v) || v < 0 || v > 1e9)
        return -1;
    *out = v;
    return 0;
}

int nt_parse_unsigned(const char *text, unsigned *out)
{
    char *end;
    unsigned long v;

    if (!text || *text < '0' || *text > '9')
        return -1;
    errno = 0;
    v = strtoul(text, &end, 10);
    if (*end || errno == ERANGE || v > UINT_MAX)
        return -1;
    *out = (unsigned)v;
    return 0;
}

double nt_opt_seconds(const char *option, const char *text)
{
    double v;

    if (nt_parse_seconds(text, &v) < 0)
        nt_usage_error("invalid %s '%s' (want seconds, like 5 or 0.5)", option, text);
    return v;
}

unsigned nt_opt_unsigned(const char *option, const char *text)
{
    unsigned v;

    if (nt_parse_unsigned(text, &v) < 0)
        nt_usage_error("invalid %s '%s' (want a whole number)", option, text);
    return v;
}

int nt_parse_size(const char *text, size_t *out)
{
    char *end;
    unsigned long long v, scale = 1;

    if (!text || *text < '0' || *text > '9')
        return -1;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno == ERANGE)
        return -1;
    if ((end[0] == 'k' || end[0] == 'K') && !end[1])
        scale = 1024;
    else if ((end[0] == 'm' || end[0] == 'M') && !end[1])
        scale = 1024 * 1024;
    else if ((end[0] == 'g' || end[0] == 'G') && !end[1])
        scale = 1024ull * 1024 * 1024;
    else if (*end)
        return -1;
    if (v > SIZE_MAX / scale)
        return -1;
    *out = (size_t)(v * scale);
    return 0;
}

size_t nt_opt_size(const char *option, const char *text)
{
    size_t v;

    if (nt_parse_size(text, &v) < 0)
        nt_usage_error("invalid %s '%s' (want bytes, like 4096, 64k, 1M or 2G)", option, text);
    return v;
}

unsigned long nt_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max;

        rl.rlim_cur = want;
        /* Some kernels refuse RLIM_INFINITY or more than nr_open for the
         * soft limit; the old limit then simply stays. */
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) < 0)
            return 0;
    }
    return rl.rlim_cur == RLIM_INFINITY ? (unsigned long)-1 : (unsigned long)rl.rlim_cur;
}

void nt_check_address(const char *text)
{
    netsrv_addr a;
    char err[NETSRV_ERRLEN] = "";

    if (netsrv_addr_parse(text, &a, err, sizeof err) == -EINVAL)
        nt_usage_error("invalid address '%s': %s", text,
                       nt_reason(err, -EINVAL, NULL));
}

/* The library's error texts name the address they are about ("HOST:PORT:
 * Connection refused"); our lines name it already, so that prefix goes. */
static const char *nt_strip_prefix(const char *err, const char *prefix)
{
    size_t n = strlen(prefix);

    if (n && strncmp(err, prefix, n) == 0 && err[n] == ':' && err[n + 1] == ' ')
        return err + n + 2;
    return NULL;
}

const char *nt_reason(const char *err, int rc, const char *addr)
{
    netsrv_addr a;
    char shown[NETSRV_ADDRSTRLEN];
    const char *rest;

    if (!err || !*err)
        return netsrv_strerror(rc);
    if (addr && (rest = nt_strip_prefix(err, addr)) != NULL)
        return rest;
    if (addr && netsrv_addr_parse(addr, &a, NULL, 0) == 0 &&
        (rest = nt_strip_prefix(err, netsrv_addr_format(&a, shown, sizeof shown))) != NULL)
        return rest;
    return err;
}

void nt_ignore_sigpipe(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
}

void nt_json_string(FILE *f, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;

    putc_unlocked('"', f);
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t k;

        if (c >= 0x80) {
            k = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
            if (k > 1 && i + k <= n && netsrv_utf8_valid(s + i, k)) {
                fwrite_unlocked(s + i, 1, k, f);
                i += k;
            } else {
                fprintf(f, "\\u%04x", c);
                i++;
            }
            continue;
        }
        if (c == '"' || c == '\\') {
            putc_unlocked('\\', f);
            putc_unlocked((int)c, f);
        } else if (c == '\n') {
            fputs("\\n", f);
        } else if (c == '\t') {
            fputs("\\t", f);
        } else if (c == '\r') {
            fputs("\\r", f);
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\u%04x", c);
        } else {
            putc_unlocked((int)c, f);
        }
        i++;
    }
    putc_unlocked('"', f);
}
