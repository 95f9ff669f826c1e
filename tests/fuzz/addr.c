/* addr.c - fuzz target: netsrv_addr_parse, the text form of every address
 * the library binds and dials ("PORT", "HOST:PORT", "[V6]:PORT",
 * "unix:PATH", "unix:@NAME"), and netsrv_addr_format back.  What parses
 * must format into text that parses again to the same address, so that
 * the address a server prints is one a client can be given. */
#include "config.h"
#include "fuzz.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

#include "netsrv.h"

/* No name service in a fuzzer: a host name would be a DNS query per
 * input, slow and not this code.  This definition takes the place of the C
 * library's (the program's own symbols come first), so a name fails as an
 * unknown one does and the code around the lookup still runs. */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    (void)node;
    (void)service;
    (void)hints;
    *res = NULL;
    return EAI_NONAME;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[1024], err[256], shown[2 * NETSRV_ADDRSTRLEN];
    netsrv_addr a, b;
    int rc;

    if (size >= sizeof text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0'; /* the text is a C string: it ends at the first NUL */

    err[0] = '\0';
    rc = netsrv_addr_parse(text, &a, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOENT);
    FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
    if (rc < 0) {
        FUZZ_CHECK(err[0] != '\0'); /* a failure always says why */
        return 0;
    }
    FUZZ_CHECK(a.len > 0 && a.len <= sizeof a.ss);
    FUZZ_CHECK(a.ss.ss_family == AF_INET || a.ss.ss_family == AF_INET6 ||
               a.ss.ss_family == AF_UNIX);
    /* Also into small buffers: always cut short and NUL-terminated. */
    for (size_t cap = 1; cap < 8; cap++) {
        char small[8];

        netsrv_addr_format(&a, small, cap);
        FUZZ_CHECK(memchr(small, '\0', cap) != NULL);
    }
    netsrv_addr_format(&a, shown, sizeof shown);
    FUZZ_CHECK(strlen(shown) < NETSRV_ADDRSTRLEN); /* what netsrv.h says it needs */

    rc = netsrv_addr_parse(shown, &b, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "'%s' parsed, its text '%s' did not: %s\n", text, shown, err);
        abort();
    }
    FUZZ_CHECK(b.len == a.len);
    FUZZ_CHECK(memcmp(&a.ss, &b.ss, a.len) == 0);
    return 0;
}
