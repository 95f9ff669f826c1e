/* http_request.c - fuzz target: the server's HTTP request parser
 * (libnetsrv/http.c, http_body.c, http_path.c): the input is what a
 * client sends on one connection, pipelined requests with their bodies
 * (Content-Length or chunked, trailers), parsed with the default limits
 * and with small ones.  See http_stream.c for what is checked. */
#include "config.h"
#include "fuzz.h"
#include "http_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    netsrv_http_limits small;

    fuzz_http_stream(NETSRV_HTTP_REQUEST, 0, NULL, (const char *)data, size);
    fuzz_http_small_limits(&small);
    fuzz_http_stream(NETSRV_HTTP_REQUEST, 0, &small, (const char *)data, size);
    return 0;
}
