/* http_stream.h - the HTTP fuzz targets' shared half (http_stream.c): a
 * byte stream parsed as the server or the client parses it, message after
 * message, with the properties every head and body must keep. */
#ifndef NETSRV_FUZZ_HTTP_STREAM_H
#define NETSRV_FUZZ_HTTP_STREAM_H

#include <stddef.h>

#include "netsrv.h"

/* Small limits, so that the fuzzer reaches each of them with small inputs. */
void fuzz_http_small_limits(netsrv_http_limits *lim);

/* Parses buf[0..len) as a stream of messages of kind with flags and lim
 * (NULL: the defaults), each head parsed in one call and again a few
 * bytes at a time, each body decoded with a large, a tiny and no output
 * buffer: the results must agree.  Goes on past a message while it is
 * complete and keeps the connection alive.  Returns the messages parsed. */
unsigned fuzz_http_stream(int kind, unsigned flags, const netsrv_http_limits *lim,
                          const char *buf, size_t len);

/* Checks a complete head m parsed from buf[0..len) (len >= its head). */
void fuzz_http_check_head(const netsrv_http_msg *m, const char *buf, size_t len);

#endif
