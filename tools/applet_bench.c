/* applet_bench.c - "nettool bench": a load generator for echo servers.
 * This file holds the command line, the per-second and final reports and
 * the threads' life; the connections run in bench_loop.c and the latency
 * histogram is bench_stats.c.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <netsrv.h>

#include "applets.h"
#include "bench.h"

const char nt_bench_usage[] =
    "Usage: nettool bench ADDR [OPTIONS]\n"
    "Load an echo server at ADDR (HOST:PORT, [V6]:PORT or unix:PATH) with\n"
    "CONNS connections, each sending a message and checking every byte that\n"
    "comes back against what was sent (each message is a different pattern,\n"
    "so a wrong, stale or reordered echo is caught).  By default each\n"
    "connection sends its next message as soon as the echo of the last one\n"
    "is complete (closed loop); --rate sends on a fixed schedule instead.\n"
    "\n"
    "  -c, --conns N        connections, all opened at the start (default 1)\n"
    "  -s, --size BYTES     message size, suffix k or M (default 1024;\n"
    "                       datagrams at most 65507)\n"
    "  -d, --duration SECS  measured time (default 5)\n"
    "  -u, --udp            datagrams (UDP or Unix datagram): one message per\n"
    "                       datagram; one not echoed within --timeout is\n"
    "                       counted lost (a timeout error) and the next goes\n"
    "  -w, --workers N      event loops, each in a thread; the connections\n"
    "                       are spread over them (default 1)\n"
    "      --rate R         R requests/s in all, spread over the connections,\n"
    "                       each at its scheduled time; latency is reported\n"
    "                       from the actual send and from the scheduled one\n"
    "                       (corrected for coordinated omission)\n"
    "      --warmup SECS    run this long first and leave it out of the\n"
    "                       figures (default 0; errors still count)\n"
    "      --timeout SECS   an echo not complete within SECS is an error\n"
    "                       (default: datagrams 1, streams none); a stream\n"
    "                       connection is closed after one\n"
    "      --json           one JSON line a second, then a summary line\n"
    "  -v, --verbose        say every error, not just the first of each kind\n"
    "  -q, --quiet          say no error lines (the figures still count them)\n"
    "  -h, --help           show this help\n"
    "\n"
    "Reports requests, requests/s, MB/s (payload sent plus payload echoed,\n"
    "10^6 bytes a second), latency p50/p90/p99/p99.9/max in microseconds\n"
    "and errors (connect failures, resets or closes, mismatches, timeouts).\n"
    "Exits 0 when there was no error, 1 when there was one (or when not a\n"
    "single echo came back complete), 2 on bad usage.  When no connection\n"
    "reaches ADDR at all (refused, no such socket) there are no figures, only\n"
    "'nettool bench: cannot connect to ADDR: REASON', and the exit is 1.\n";

enum {
    OPT_RATE = 256,
    OPT_WARMUP,
    OPT_TIMEOUT,
    OPT_JSON
};

static const struct option nt_bench_options[] = {
    { "conns",    required_argument, NULL, 'c' },
    { "dgram",    no_argument,       NULL, 'u' },
    { "duration", required_argument, NULL, 'd' },
    { "json",     no_argument,       NULL, OPT_JSON },
    { "rate",     required_argument, NULL, OPT_RATE },
    { "size",     required_argument, NULL, 's' },
    { "timeout",  required_argument, NULL, OPT_TIMEOUT },
    { "udp",      no_argument,       NULL, 'u' },
    { "warmup",   required_argument, NULL, OPT_WARMUP },
    { "workers",  required_argument, NULL, 'w' },
    NT_COMMON_LONGOPTS,
    { NULL, 0, NULL, 0 }
};

#define NT_BENCH_MAX_CONNS 1000000u
#define NT_BENCH_MAX_LOOPS 256u
#define NT_BENCH_MAX_DGRAM 65507u
#define NT_BENCH_MAX_SIZE ((size_t)64 << 20)

static volatile sig_atomic_t nt_bench_interrupted;

static void nt_bench_on_signal(int sig)
{
    (void)sig;
    nt_bench_interrupted = 1;
}

/* Totals over all loops, as the main thread sees them now. */
struct nt_bench_totals {
    uint64_t requests;
    uint64_t errors[NT_BERR_KINDS];
    uint64_t all_errors;
    unsigned live;
    int opened;
};

static void nt_bench_sum(struct nt_bench_loop *loops, unsigned n, struct nt_bench_totals *t)
{
    unsigned i, k;

    memset(t, 0, sizeof *t);
    t->opened = 1;
    for (i = 0; i < n; i++) {
        t->requests += atomic_load_explicit(&loops[i].requests, memory_order_relaxed);
        for (k = 0; k < NT_BERR_KINDS; k++)
            t->errors[k] += atomic_load_explicit(&loops[i].errors[k], memory_order_relaxed);
        t->live += atomic_load_explicit(&loops[i].live, memory_order_relaxed);
        if (!atomic_load(&loops[i].opened))
            t->opened = 0;
    }
    for (k = 0; k < NT_BERR_KINDS; k++)
        t->all_errors += t->errors[k];
}

static double nt_opt_rate(const char *text)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(v) || v <= 0 || v > 1e9)
        nt_usage_error("invalid --rate '%s' (want requests a second, more than 0)", text);
    return v;
}

static const char *nt_bench_transport(const struct nt_bench_cfg *cfg)
{
    if (cfg->addr.ss.ss_family == AF_UNIX)
        return cfg->dgram ? "unix-dgram" : "unix";
    return cfg->dgram ? "udp" : "tcp";
}

static void nt_json_latency(FILE *f, const char *name, const struct nt_hist *h)
{
    fprintf(f, ",\"%s\":{\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"p99.9\":%llu,"
               "\"max\":%llu,\"mean\":%.1f}", name,
            (unsigned long long)nt_hist_percentile(h, 50),
            (unsigned long long)nt_hist_percentile(h, 90),
            (unsigned long long)nt_hist_percentile(h, 99),
            (unsigned long long)nt_hist_percentile(h, 99.9),
            (unsigned long long)h->max, nt_hist_mean(h));
}

static void nt_text_latency(FILE *f, const char *name, const struct nt_hist *h)
{
    if (!h->count) {
        fprintf(f, "%-15s -\n", name);
        return;
    }
    fprintf(f, "%-15s %8llu %8llu %8llu %8llu %8llu %10.1f\n", name,
            (unsigned long long)nt_hist_percentile(h, 50),
            (unsigned long long)nt_hist_percentile(h, 90),
            (unsigned long long)nt_hist_percentile(h, 99),
            (unsigned long long)nt_hist_percentile(h, 99.9),
            (unsigned long long)h->max, nt_hist_mean(h));
}

static void nt_bench_report(FILE *f, int json, const struct nt_bench_cfg *cfg,
                            unsigned nloops, double secs,
                            const struct nt_bench_totals *t,
                            const struct nt_hist *raw, const struct nt_hist *corr)
{
    double rps = secs > 0 ? (double)t->requests / secs : 0;
    double mbps = secs > 0 ? (double)t->requests * 2.0 * (double)cfg->size / 1e6 / secs : 0;

    if (json) {
        fputs("{\"summary\":true,\"addr\":", f);
        nt_json_string(f, cfg->addr_text, strlen(cfg->addr_text));
        fprintf(f, ",\"transport\":\"%s\",\"conns\":%u,\"loops\":%u,\"size\":%zu,"
                   "\"mode\":\"%s\",\"rate\":%.1f,\"duration\":%.3f,\"requests\":%llu,"
                   "\"rps\":%.1f,\"mbps\":%.3f,\"errors\":%llu,\"connect_errors\":%llu,"
                   "\"resets\":%llu,\"mismatches\":%llu,\"timeouts\":%llu",
                nt_bench_transport(cfg), cfg->conns, nloops, cfg->size,
                cfg->rate > 0 ? "rate" : "closed", cfg->rate, secs,
                (unsigned long long)t->requests, rps, mbps,
                (unsigned long long)t->all_errors,
                (unsigned long long)t->errors[NT_BERR_CONNECT],
                (unsigned long long)t->errors[NT_BERR_RESET],
                (unsigned long long)t->errors[NT_BERR_MISMATCH],
                (unsigned long long)t->errors[NT_BERR_TIMEOUT]);
        nt_json_latency(f, "latency_us", raw);
        if (cfg->rate > 0)
            nt_json_latency(f, "corrected_latency_us", corr);
        fputs("}\n", f);
        return;
    }
    fprintf(f, "%s (%s), %u connection%s in %u loop%s, %zu-byte messages, ",
            cfg->addr_text, nt_bench_transport(cfg), cfg->conns,
            cfg->conns == 1 ? "" : "s", nloops, nloops == 1 ? "" : "s", cfg->size);
    if (cfg->rate > 0)
        fprintf(f, "fixed rate %.0f/s, ", cfg->rate);
    else
        fputs("closed loop, ", f);
    fprintf(f, "%.2f s measured\n", secs);
    fprintf(f, "%-15s %llu\n", "requests", (unsigned long long)t->requests);
    fprintf(f, "%-15s %.1f\n", "requests/s", rps);
    fprintf(f, "%-15s %.3f  (payload sent + echoed, 10^6 bytes/s)\n", "MB/s", mbps);
    fprintf(f, "%-15s %8s %8s %8s %8s %8s %10s\n", "latency (us)",
            "p50", "p90", "p99", "p99.9", "max", "mean");
    nt_text_latency(f, cfg->rate > 0 ? "  from send" : "  all", raw);
    if (cfg->rate > 0)
        nt_text_latency(f, "  from schedule", corr);
    fprintf(f, "%-15s %llu  (connect %llu, reset %llu, mismatch %llu, timeout %llu)\n",
            "errors", (unsigned long long)t->all_errors,
            (unsigned long long)t->errors[NT_BERR_CONNECT],
            (unsigned long long)t->errors[NT_BERR_RESET],
            (unsigned long long)t->errors[NT_BERR_MISMATCH],
            (unsigned long long)t->errors[NT_BERR_TIMEOUT]);
}

static void nt_sleep_ns(uint64_t ns)
{
    struct timespec ts;

    ts.tv_sec = (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    nanosleep(&ts, NULL); /* a signal cuts it short: fine */
}

int nt_bench_main(int argc, char **argv)
{
    struct nt_bench_cfg cfg;
    struct nt_bench_loop *loops;
    struct nt_bench_totals now_t, last_t;
    struct nt_hist *raw, *corr;
    struct sigaction sa;
    char err[NETSRV_ERRLEN] = "";
    const char *operand = NULL;
    unsigned char *pattern;
    unsigned nloops = 1, i, first, tick = 0;
    double duration = 5, warmup = 0, timeout = -1, secs;
    uint64_t start, now, next_tick, last_tick, stop_at, seed = 0x6e6574746f6f6cULL;
    unsigned long nofile;
    int c, rc, json = 0;
    size_t k;

    memset(&cfg, 0, sizeof cfg);
    cfg.conns = 1;
    cfg.size = 1024;

    /* "+" stops at each operand; taking it and going on lets options
     * come before or after ADDR. */
    opterr = 0;
    for (;;) {
        int before = optind;

        c = getopt_long(argc, argv, "+:c:s:d:uw:" NT_COMMON_SHORTOPTS,
                        nt_bench_options, NULL);
        if (c == -1) {
            /* After "--" every word is an operand. */
            int dashdash = optind == before + 1 && strcmp(argv[before], "--") == 0;

            for (; optind < argc; optind++) {
                if (operand)
                    nt_usage_error("unexpected argument '%s'", argv[optind]);
                operand = argv[optind];
                if (!dashdash) {
                    optind++;
                    break;
                }
            }
            if (optind >= argc)
                break;
            continue;
        }
        switch (c) {
        case 'c':
            cfg.conns = nt_opt_unsigned("-c", optarg);
            if (cfg.conns == 0 || cfg.conns > NT_BENCH_MAX_CONNS)
                nt_usage_error("invalid -c '%s' (want 1 to %u)", optarg, NT_BENCH_MAX_CONNS);
            break;
        case 's':
            cfg.size = nt_opt_size("-s", optarg);
            if (cfg.size == 0 || cfg.size > NT_BENCH_MAX_SIZE)
                nt_usage_error("invalid -s '%s' (want 1 to 64M)", optarg);
            break;
        case 'd':
            duration = nt_opt_seconds("-d", optarg);
            if (duration <= 0)
                nt_usage_error("invalid -d '%s' (want more than 0 seconds)", optarg);
            break;
        case 'u':
            cfg.dgram = 1;
            break;
        case 'w':
            nloops = nt_opt_unsigned("-w", optarg);
            if (nloops == 0 || nloops > NT_BENCH_MAX_LOOPS)
                nt_usage_error("invalid -w '%s' (want 1 to %u)", optarg, NT_BENCH_MAX_LOOPS);
            break;
        case OPT_RATE:
            cfg.rate = nt_opt_rate(optarg);
            break;
        case OPT_WARMUP:
            warmup = nt_opt_seconds("--warmup", optarg);
            break;
        case OPT_TIMEOUT:
            timeout = nt_opt_seconds("--timeout", optarg);
            break;
        case OPT_JSON:
            json = 1;
            break;
        default:
            nt_common_option(c, argv);
        }
    }
    if (!operand)
        nt_usage_error("missing ADDR");
    cfg.addr_text = operand;
    if (cfg.dgram && cfg.size > NT_BENCH_MAX_DGRAM)
        nt_usage_error("a datagram holds at most %u bytes (-s %zu)", NT_BENCH_MAX_DGRAM, cfg.size);
    if (timeout < 0)
        timeout = cfg.dgram ? 1 : 0;
    cfg.timeout_ns = (uint64_t)(timeout * 1e9);
    if (nloops > cfg.conns)
        nloops = cfg.conns;

    rc = netsrv_addr_parse(cfg.addr_text, &cfg.addr, err, sizeof err);
    if (rc == -EINVAL)
        nt_usage_error("invalid address '%s': %s", cfg.addr_text,
                       nt_reason(err, rc, NULL));
    if (rc < 0) {
        nt_error("%s: %s", cfg.addr_text, nt_reason(err, rc, cfg.addr_text));
        return NT_EXIT_FAILURE;
    }

    nt_ignore_sigpipe();
    nofile = nt_raise_nofile();
    if (nofile && nofile < (unsigned long)cfg.conns + 16 && nt_verbosity >= 1)
        nt_error("only %lu open files allowed (ulimit -n): %u connections will not all open",
                 nofile, cfg.conns);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = nt_bench_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* The random bytes every message is a window of. */
    pattern = malloc(cfg.size + NT_BENCH_WINDOW);
    loops = calloc(nloops, sizeof *loops);
    raw = malloc(sizeof *raw);
    corr = malloc(sizeof *corr);
    if (!pattern || !loops || !raw || !corr) {
        nt_error("out of memory");
        return NT_EXIT_FAILURE;
    }
    for (k = 0; k < cfg.size + NT_BENCH_WINDOW; k += 8) {
        uint64_t z = (seed += UINT64_C(0x9e3779b97f4a7c15));
        size_t j;

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        z ^= z >> 31;
        for (j = 0; j < 8 && k + j < cfg.size + NT_BENCH_WINDOW; j++)
            pattern[k + j] = (unsigned char)(z >> (8 * j));
    }
    cfg.pattern = pattern;

    start = nt_bench_now();
    cfg.measure_ns = start + (uint64_t)(warmup * 1e9);
    cfg.end_ns = cfg.measure_ns + (uint64_t)(duration * 1e9);

    for (i = 0, first = 0; i < nloops; i++) {
        unsigned n = cfg.conns / nloops + (i < cfg.conns % nloops);

        if ((rc = nt_bench_loop_init(&loops[i], &cfg, i, first, n)) < 0 ||
            (rc = nt_bench_loop_start(&loops[i])) < 0) {
            nt_error("cannot start loop %u: %s", i + 1, netsrv_strerror(rc));
            nloops = i + 1;
            nt_bench_interrupted = 1;
            break;
        }
        first += n;
    }

    /* The main thread only watches: a line a second with --json, and an
     * early end when every connection is gone or on SIGINT. */
    memset(&last_t, 0, sizeof last_t);
    last_tick = cfg.measure_ns;
    next_tick = cfg.measure_ns + 1000000000u;
    stop_at = cfg.end_ns;
    for (;;) {
        now = nt_bench_now();
        if (nt_bench_interrupted) {
            stop_at = now;
            break;
        }
        nt_bench_sum(loops, nloops, &now_t);
        if (now >= next_tick && next_tick <= cfg.end_ns) {
            if (now >= cfg.measure_ns && json) {
                double dt = (double)(now - last_tick) / 1e9;
                uint64_t dreq = now_t.requests - last_t.requests;

                printf("{\"t\":%u,\"requests\":%llu,\"rps\":%.1f,\"mbps\":%.3f,\"errors\":%llu}\n",
                       tick + 1, (unsigned long long)dreq, (double)dreq / dt,
                       (double)dreq * 2.0 * (double)cfg.size / 1e6 / dt,
                       (unsigned long long)(now_t.all_errors - last_t.all_errors));
                fflush(stdout);
            }
            if (now >= cfg.measure_ns) {
                tick++;
                last_t = now_t;
                last_tick = now;
            } else {
                last_t.all_errors = now_t.all_errors;
            }
            next_tick = cfg.measure_ns + (uint64_t)(tick + 1) * 1000000000u;
            continue;
        }
        if (now >= cfg.end_ns)
            break;
        if (now_t.opened && now_t.live == 0) {
            stop_at = now;
            break;
        }
        {
            uint64_t until = next_tick < cfg.end_ns ? next_tick : cfg.end_ns;
            uint64_t slice = until - now;

            nt_sleep_ns(slice < 100000000u ? slice : 100000000u);
        }
    }
    for (i = 0; i < nloops; i++)
        nt_bench_loop_stop(&loops[i]);
    nt_hist_init(raw);
    nt_hist_init(corr);
    for (i = 0; i < nloops; i++) {
        nt_bench_loop_join(&loops[i]);
        if (loops[i].raw) {
            nt_hist_merge(raw, loops[i].raw);
            nt_hist_merge(corr, loops[i].corrected);
        }
    }
    nt_bench_sum(loops, nloops, &now_t);
    for (i = 0; i < nloops; i++)
        nt_bench_loop_free(&loops[i]);

    /* Every connection failed to reach the server and none got through:
     * nothing was measured, so no figures, just why (as "nettool echo"
     * says it). */
    if (!nt_bench_reached() && now_t.errors[NT_BERR_CONNECT] == cfg.conns &&
        now_t.all_errors == now_t.errors[NT_BERR_CONNECT]) {
        if (nt_verbosity >= 1)
            nt_error("cannot connect to %s: %s", cfg.addr_text,
                     strerror(nt_bench_unreached_error()));
        free(pattern);
        free(loops);
        free(raw);
        free(corr);
        return NT_EXIT_FAILURE;
    }
    nt_bench_say_held();

    secs = stop_at > cfg.measure_ns ? (double)(stop_at - cfg.measure_ns) / 1e9 : 0;
    nt_bench_report(stdout, json, &cfg, nloops, secs, &now_t, raw, corr);
    rc = fflush(stdout) == 0 ? 0 : -1;
    free(pattern);
    free(loops);
    free(raw);
    free(corr);
    if (rc < 0) {
        nt_error("stdout: %s", strerror(errno));
        return NT_EXIT_FAILURE;
    }
    if (now_t.all_errors)
        return NT_EXIT_FAILURE;
    /* A server that takes the bytes but never echoes them (or buffers
     * them, as a filter writing to a pipe does) shows no error otherwise. */
    if (now_t.requests == 0 && !nt_bench_interrupted) {
        if (nt_verbosity >= 1)
            nt_error("no echo came back complete in %.2f s", secs);
        return NT_EXIT_FAILURE;
    }
    return NT_EXIT_OK;
}
