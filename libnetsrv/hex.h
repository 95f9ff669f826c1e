/* hex.h - private: the value of a hex digit, for the parsers that read
 * percent-escapes (paths, the files protocol) and SHA-256 sums. */
#ifndef NETSRV_HEX_H
#define NETSRV_HEX_H

/* The value of the hex digit c, or -1. */
static inline int netsrv__hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
