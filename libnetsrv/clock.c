/* clock.c - monotonic time for deadlines: wall-clock jumps must never make
 * a timeout fire early or late. */
#include "config.h"
#include "netsrv_int.h"
#include <time.h>

double netsrv__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Milliseconds from now until deadline, for poll(): -1 for no deadline,
 * rounded up so a wait never ends just before its deadline. */
int netsrv__ms_until(double deadline)
{
    if (deadline >= NETSRV__INF)
        return -1;
    double ms = (deadline - netsrv__now()) * 1000.0;
    if (ms <= 0)
        return 0;
    if (ms > 2e9)
        return 2000000000;
    return (int)ms + 1;
}
