/* tap.h - a small libtap-style helper for the C tests (Debian ships no C
 * libtap).  Header-only: each test program includes it once.  Output is TAP
 * on stdout, flushed after every line, so a test that forks never hands a
 * half-full stdio buffer to a child (children must leave with _exit).
 */
#ifndef NETSRV_TAP_H
#define NETSRV_TAP_H

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_planned = -1;
static int tap_run;
static int tap_failed;
static pthread_mutex_t tap_lock = PTHREAD_MUTEX_INITIALIZER;

static void tap_vline(const char *prefix, const char *fmt, va_list ap)
{
    fputs(prefix, stdout);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    fflush(stdout);
}

/* Announces n tests up front. */
static inline void plan(int n)
{
    pthread_mutex_lock(&tap_lock);
    tap_planned = n;
    printf("1..%d\n", n);
    fflush(stdout);
    pthread_mutex_unlock(&tap_lock);
}

/* A comment line: shown by the driver, never counted. */
static inline void __attribute__((format(printf, 1, 2))) diag(const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&tap_lock);
    va_start(ap, fmt);
    tap_vline("# ", fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&tap_lock);
}

static inline int tap_vok(int cond, const char *file, int line, const char *fmt, va_list ap)
{
    pthread_mutex_lock(&tap_lock);
    tap_run++;
    if (!cond)
        tap_failed++;
    printf("%sok %d - ", cond ? "" : "not ", tap_run);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    if (!cond)
        printf("#   Failed test at %s line %d\n", file, line);
    fflush(stdout);
    pthread_mutex_unlock(&tap_lock);
    return cond;
}

static inline int __attribute__((format(printf, 4, 5)))
tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tap_vok(cond, file, line, fmt, ap);
    va_end(ap);
    return cond;
}

static inline int __attribute__((format(printf, 5, 6)))
tap_is(long long got, long long want, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tap_vok(got == want, file, line, fmt, ap);
    va_end(ap);
    if (got != want)
        diag("  got: %lld, expected: %lld", got, want);
    return got == want;
}

static inline int __attribute__((format(printf, 5, 6)))
tap_is_str(const char *got, const char *want, const char *file, int line, const char *fmt, ...)
{
    int eq = got && want ? strcmp(got, want) == 0 : got == want;
    va_list ap;
    va_start(ap, fmt);
    tap_vok(eq, file, line, fmt, ap);
    va_end(ap);
    if (!eq)
        diag("  got: \"%s\", expected: \"%s\"", got ? got : "(null)", want ? want : "(null)");
    return eq;
}

static inline int __attribute__((format(printf, 6, 7)))
tap_cmp_mem(const void *got, const void *want, size_t n, const char *file, int line,
            const char *fmt, ...)
{
    size_t i = 0;
    int eq = got && want;
    if (eq)
        for (i = 0; i < n; i++)
            if (((const unsigned char *)got)[i] != ((const unsigned char *)want)[i]) {
                eq = 0;
                break;
            }
    va_list ap;
    va_start(ap, fmt);
    tap_vok(eq, file, line, fmt, ap);
    va_end(ap);
    if (!eq && got && want)
        diag("  first difference at byte %zu: got 0x%02x, expected 0x%02x", i,
             ((const unsigned char *)got)[i], ((const unsigned char *)want)[i]);
    return eq;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is(got, want, ...) tap_is((long long)(got), (long long)(want), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, want, ...) tap_is_str((got), (want), __FILE__, __LINE__, __VA_ARGS__)
#define cmp_mem(got, want, n, ...) tap_cmp_mem((got), (want), (n), __FILE__, __LINE__, __VA_ARGS__)
#define pass(...) ok(1, __VA_ARGS__)
#define fail(...) ok(0, __VA_ARGS__)

/* Counts n tests as skipped, with a reason. */
static inline void skip(int n, const char *why)
{
    pthread_mutex_lock(&tap_lock);
    while (n-- > 0) {
        tap_run++;
        printf("ok %d # SKIP %s\n", tap_run, why);
    }
    fflush(stdout);
    pthread_mutex_unlock(&tap_lock);
}

/* Aborts the whole program with a TAP bail-out (the driver marks it ERROR). */
static inline void __attribute__((noreturn, format(printf, 1, 2))) bail_out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tap_vline("Bail out! ", fmt, ap);
    va_end(ap);
    exit(1);
}

/* Prints the plan when none was given; returns the exit status: 0 when all
 * tests passed and the count matched the plan. */
static inline int done_testing(void)
{
    pthread_mutex_lock(&tap_lock);
    if (tap_planned < 0)
        printf("1..%d\n", tap_run);
    else if (tap_planned != tap_run)
        printf("# planned %d tests but ran %d\n", tap_planned, tap_run);
    fflush(stdout);
    int bad = tap_failed || (tap_planned >= 0 && tap_planned != tap_run);
    pthread_mutex_unlock(&tap_lock);
    return bad ? 1 : 0;
}

#endif /* NETSRV_TAP_H */
