/* sha256.c - SHA-256 behind an opaque netsrv_sha256, computed by OpenSSL's
 * libcrypto (EVP_Digest*): the files protocol names every file by its hash,
 * and a hash is not something to write by hand.  Hex form and parsing too.
 */
#include "config.h"
#include "hex.h"
#include "netsrv.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>

struct netsrv_sha256 {
    EVP_MD_CTX *ctx;
};

/* Reads of a file being hashed: large enough that the system calls do not
 * count, small enough to live on the heap of a coroutine's request. */
#define SHA256_FD_CHUNK (256 * 1024)

int netsrv_sha256_new(netsrv_sha256 **out)
{
    netsrv_sha256 *h = calloc(1, sizeof *h);

    *out = NULL;
    if (!h)
        return -ENOMEM;
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx) {
        free(h);
        return -ENOMEM;
    }
    if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        netsrv_sha256_free(h);
        return -EIO;
    }
    *out = h;
    return 0;
}

int netsrv_sha256_update(netsrv_sha256 *h, const void *data, size_t len)
{
    return EVP_DigestUpdate(h->ctx, data, len) == 1 ? 0 : -EIO;
}

int netsrv_sha256_update_fd(netsrv_sha256 *h, int fd, off_t offset, off_t count)
{
    char *buf;
    int rc = 0;

    if (count <= 0)
        return 0;
    buf = malloc(SHA256_FD_CHUNK);
    if (!buf)
        return -ENOMEM;
    while (count > 0) {
        size_t want = count < SHA256_FD_CHUNK ? (size_t)count : SHA256_FD_CHUNK;
        ssize_t n = pread(fd, buf, want, offset);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0) {
            rc = -ENODATA;
            break;
        }
        if ((rc = netsrv_sha256_update(h, buf, (size_t)n)) < 0)
            break;
        offset += n;
        count -= n;
    }
    free(buf);
    return rc;
}

int netsrv_sha256_final(netsrv_sha256 *h, unsigned char sum[NETSRV_SHA256_LEN])
{
    unsigned int len = 0;

    if (EVP_DigestFinal_ex(h->ctx, sum, &len) != 1 || len != NETSRV_SHA256_LEN)
        return -EIO;
    /* Ready for the next file: a client hashing several bodies on one
     * connection keeps one object. */
    return EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

void netsrv_sha256_free(netsrv_sha256 *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

char *netsrv_sha256_hex(const unsigned char sum[NETSRV_SHA256_LEN],
                        char hex[NETSRV_SHA256_HEXLEN + 1])
{
    static const char digits[] = "0123456789abcdef";

    for (int i = 0; i < NETSRV_SHA256_LEN; i++) {
        hex[2 * i] = digits[sum[i] >> 4];
        hex[2 * i + 1] = digits[sum[i] & 15];
    }
    hex[NETSRV_SHA256_HEXLEN] = '\0';
    return hex;
}


int netsrv_sha256_parse(const char *text, size_t len, unsigned char sum[NETSRV_SHA256_LEN])
{
    unsigned char out[NETSRV_SHA256_LEN];

    if (len != NETSRV_SHA256_HEXLEN)
        return -EINVAL;
    for (int i = 0; i < NETSRV_SHA256_LEN; i++) {
        int hi = netsrv__hexval(text[2 * i]), lo = netsrv__hexval(text[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -EINVAL;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    /* sum is written only for good text: a caller's old value survives. */
    for (int i = 0; i < NETSRV_SHA256_LEN; i++)
        sum[i] = out[i];
    return 0;
}
