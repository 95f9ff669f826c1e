/* http_date.c - HTTP dates (RFC 9110 5.6.7): IMF-fixdate out, all three
 * forms in.  No strftime or strptime: their day and month names follow the
 * locale, and an HTTP date's never do.  Calendar arithmetic is done here
 * rather than by timegm, which would need the process's time zone. */
#include "config.h"
#include "http_int.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const wday_short[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const wday_long[7] = { "Sunday", "Monday", "Tuesday", "Wednesday",
                                          "Thursday", "Friday", "Saturday" };
static const char *const month_name[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

int netsrv_http_date_format(time_t t, char *buf, size_t len)
{
    struct tm tm;
    if (len < NETSRV_HTTP_DATELEN)
        return -ENOSPC;
    if (!gmtime_r(&t, &tm))
        return -EOVERFLOW;
    long year = tm.tm_year + 1900L;
    if (year < 0 || year > 9999)
        return -EOVERFLOW;
    return snprintf(buf, len, "%s, %02d %s %04ld %02d:%02d:%02d GMT", wday_short[tm.tm_wday],
                    tm.tm_mday, month_name[tm.tm_mon], year, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Index of s[0..n) in names (case matters: RFC 9110 says so), or -1. */
static int lookup(const char *s, size_t n, const char *const *names, int count)
{
    for (int i = 0; i < count; i++)
        if (strlen(names[i]) == n && memcmp(s, names[i], n) == 0)
            return i;
    return -1;
}

/* Exactly n decimal digits at s, or -1. */
static int number(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* "HH:MM:SS" at s. */
static int clock_time(const char *s, int *h, int *m, int *sec)
{
    if (s[2] != ':' || s[5] != ':')
        return -1;
    *h = number(s, 2);
    *m = number(s + 3, 2);
    *sec = number(s + 6, 2);
    return (*h < 0 || *m < 0 || *sec < 0) ? -1 : 0;
}

static int leap(long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1-12). */
static long long days_from_civil(long y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (long long)era * 146097 + doe - 719468;
}

/* RFC 9110: a two-digit year more than 50 years in the future is the
 * most recent year in the past with the same last two digits. */
static long full_year(int yy)
{
    time_t now = time(NULL);
    struct tm tm;
    long cur = gmtime_r(&now, &tm) ? tm.tm_year + 1900L : 2000;
    long y = cur - cur % 100 + yy;
    if (y > cur + 50)
        y -= 100;
    else if (y <= cur - 50)
        y += 100;
    return y;
}

int netsrv_http_date_parse(const char *s, size_t len, time_t *out)
{
    int day, mon, h, m, sec;
    long year;
    const char *comma = memchr(s, ',', len);
    if (comma && comma - s == 3) {
        /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
        if (len != 29 || lookup(s, 3, wday_short, 7) < 0 || memcmp(s + 3, ", ", 2) != 0 ||
            s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[25] != ' ' ||
            memcmp(s + 26, "GMT", 3) != 0)
            return -EINVAL;
        day = number(s + 5, 2);
        mon = lookup(s + 8, 3, month_name, 12);
        year = number(s + 12, 4);
        if (clock_time(s + 17, &h, &m, &sec) < 0)
            return -EINVAL;
    } else if (comma) {
        /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
        const char *p = comma + 1;
        if (lookup(s, (size_t)(comma - s), wday_long, 7) < 0 || len - (size_t)(p - s) != 23 ||
            p[0] != ' ' || p[3] != '-' || p[7] != '-' || p[10] != ' ' || p[19] != ' ' ||
            memcmp(p + 20, "GMT", 3) != 0)
            return -EINVAL;
        day = number(p + 1, 2);
        mon = lookup(p + 4, 3, month_name, 12);
        int yy = number(p + 8, 2);
        if (yy < 0 || clock_time(p + 11, &h, &m, &sec) < 0)
            return -EINVAL;
        year = full_year(yy);
    } else {
        /* asctime: "Sun Nov  6 08:49:37 1994" (the day may be " 6" or "06") */
        if (len != 24 || lookup(s, 3, wday_short, 7) < 0 || s[3] != ' ' || s[7] != ' ' ||
            s[10] != ' ' || s[19] != ' ')
            return -EINVAL;
        mon = lookup(s + 4, 3, month_name, 12);
        day = s[8] == ' ' ? number(s + 9, 1) : number(s + 8, 2);
        year = number(s + 20, 4);
        if (clock_time(s + 11, &h, &m, &sec) < 0)
            return -EINVAL;
    }
    static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (mon < 0 || year < 0 || day < 1 || h > 23 || m > 59 || sec > 60 ||
        day > mdays[mon] + (mon == 1 && leap(year)))
        return -EINVAL;
    /* (a leap second, :60, is the next minute's first) */
    long long t = days_from_civil(year, mon + 1, day) * 86400 + h * 3600 + m * 60 + sec;
    if ((long long)(time_t)t != t)
        return -EINVAL;
    *out = (time_t)t;
    return 0;
}
