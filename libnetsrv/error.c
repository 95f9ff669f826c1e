/* error.c - error codes to text.  The library reports errors as negative
 * errno values and, where a caller gives a buffer, one line of text. */
#include "config.h"
#include "netsrv_int.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *netsrv_strerror(int err)
{
    /* strerrordesc_np returns a constant string: safe from any thread,
     * unlike strerror. */
    const char *s = strerrordesc_np(err < 0 ? -err : err);
    return s ? s : "Unknown error";
}

int netsrv__seterr(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}
