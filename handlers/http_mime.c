/* http_mime.c - the Content-Type of a served file, from its extension.
 * A fixed table rather than /etc/mime.types: the answer must not depend
 * on the machine, and text types carry charset=utf-8 so that browsers do
 * not guess an encoding for them. */
#include "config.h"
#include <netsrv.h>
#include <stdlib.h>
#include <string.h>

struct mime {
    const char *ext; /* lower case, without the dot; the table is sorted on it */
    const char *type;
};

#define UTF8 "; charset=utf-8"

static const struct mime types[] = {
    { "7z", "application/x-7z-compressed" },
    { "aac", "audio/aac" },
    { "apng", "image/apng" },
    { "avif", "image/avif" },
    { "bmp", "image/bmp" },
    { "bz2", "application/x-bzip2" },
    { "c", "text/plain" UTF8 },
    { "cjs", "text/javascript" UTF8 },
    { "conf", "text/plain" UTF8 },
    { "css", "text/css" UTF8 },
    { "csv", "text/csv" UTF8 },
    { "deb", "application/vnd.debian.binary-package" },
    { "epub", "application/epub+zip" },
    { "flac", "audio/flac" },
    { "gif", "image/gif" },
    { "gz", "application/gzip" },
    { "h", "text/plain" UTF8 },
    { "htm", "text/html" UTF8 },
    { "html", "text/html" UTF8 },
    { "ico", "image/vnd.microsoft.icon" },
    { "ics", "text/calendar" UTF8 },
    { "iso", "application/x-iso9660-image" },
    { "jpeg", "image/jpeg" },
    { "jpg", "image/jpeg" },
    { "js", "text/javascript" UTF8 },
    { "json", "application/json" },
    { "jsonld", "application/ld+json" },
    { "log", "text/plain" UTF8 },
    { "m4a", "audio/mp4" },
    { "map", "application/json" },
    { "md", "text/markdown" UTF8 },
    { "mjs", "text/javascript" UTF8 },
    { "mkv", "video/x-matroska" },
    { "mp3", "audio/mpeg" },
    { "mp4", "video/mp4" },
    { "mpeg", "video/mpeg" },
    { "oga", "audio/ogg" },
    { "ogg", "audio/ogg" },
    { "ogv", "video/ogg" },
    { "opus", "audio/ogg" },
    { "otf", "font/otf" },
    { "pdf", "application/pdf" },
    { "png", "image/png" },
    { "py", "text/plain" UTF8 },
    { "rss", "application/rss+xml" },
    { "rtf", "application/rtf" },
    { "sh", "text/plain" UTF8 },
    { "svg", "image/svg+xml" },
    { "tar", "application/x-tar" },
    { "tgz", "application/gzip" },
    { "tif", "image/tiff" },
    { "tiff", "image/tiff" },
    { "toml", "text/plain" UTF8 },
    { "ts", "video/mp2t" },
    { "ttf", "font/ttf" },
    { "txt", "text/plain" UTF8 },
    { "wasm", "application/wasm" },
    { "wav", "audio/wav" },
    { "weba", "audio/webm" },
    { "webm", "video/webm" },
    { "webmanifest", "application/manifest+json" },
    { "webp", "image/webp" },
    { "woff", "font/woff" },
    { "woff2", "font/woff2" },
    { "xhtml", "application/xhtml+xml" },
    { "xml", "application/xml" },
    { "xz", "application/x-xz" },
    { "yaml", "text/plain" UTF8 },
    { "yml", "text/plain" UTF8 },
    { "zip", "application/zip" },
    { "zst", "application/zstd" },
};

static int cmp_ext(const void *key, const void *elem)
{
    return strcmp(key, ((const struct mime *)elem)->ext);
}

const char *netsrv_httpd_mime_type(const char *name, size_t len)
{
    char ext[16];
    size_t i = len, n;
    while (i > 0 && name[i - 1] != '.' && name[i - 1] != '/')
        i--;
    /* No dot, a dot that starts the name (".bashrc"), or a long tail:
     * nothing to look up. */
    if (i == 0 || name[i - 1] != '.' || i == 1 || name[i - 2] == '/')
        return "application/octet-stream";
    n = len - i;
    if (n == 0 || n >= sizeof ext)
        return "application/octet-stream";
    for (size_t k = 0; k < n; k++) {
        char c = name[i + k];
        ext[k] = c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
    }
    ext[n] = '\0';
    const struct mime *m = bsearch(ext, types, sizeof types / sizeof types[0], sizeof types[0], cmp_ext);
    return m ? m->type : "application/octet-stream";
}
