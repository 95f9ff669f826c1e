# libnetsrv/local.mk - the library: public header, private header, sources.
lib_LTLIBRARIES += libnetsrv/libnetsrv.la
include_HEADERS += libnetsrv/netsrv.h
noinst_HEADERS += libnetsrv/netsrv_int.h libnetsrv/task.h libnetsrv/coro.h libnetsrv/iptable.h libnetsrv/hex.h \
	libnetsrv/http_int.h \
	libnetsrv/beneath.h
libnetsrv_libnetsrv_la_SOURCES = \
	libnetsrv/error.c \
	libnetsrv/addr.c \
	libnetsrv/iptable.c \
	libnetsrv/clock.c \
	libnetsrv/config.c \
	libnetsrv/loop.c \
	libnetsrv/task.c \
	libnetsrv/conn.c \
	libnetsrv/stream.c \
	libnetsrv/server.c \
	libnetsrv/listen.c \
	libnetsrv/accept.c \
	libnetsrv/request.c \
	libnetsrv/dgram.c \
	libnetsrv/group.c \
	libnetsrv/resolve.c \
	libnetsrv/client.c \
	libnetsrv/sigpipe.c \
	libnetsrv/spawn.c \
	libnetsrv/mode_sync.c \
	libnetsrv/mode_thread.c \
	libnetsrv/mode_fork.c \
	libnetsrv/mode_async.c \
	libnetsrv/coro.c \
	libnetsrv/http.c \
	libnetsrv/http_body.c \
	libnetsrv/http_write.c \
	libnetsrv/http_path.c \
	libnetsrv/http_date.c \
	libnetsrv/http_range.c \
	libnetsrv/http_client.c \
	libnetsrv/sha256.c \
	libnetsrv/tls.c \
	libnetsrv/beneath.c \
	libnetsrv/files_proto.c \
	libnetsrv/files_client.c \
	libnetsrv/pool.c
# One file copied to a temporary name and renamed (nettool dircopy's core).
libnetsrv_libnetsrv_la_SOURCES += libnetsrv/copy.c
# A journal of finished work in SQLite (dircopy's re-runs).
libnetsrv_libnetsrv_la_SOURCES += libnetsrv/journal.c

# The scraper's and crawler's pieces.
libnetsrv_libnetsrv_la_SOURCES += \
	libnetsrv/regex.c \
	libnetsrv/charset.c \
	libnetsrv/html.c \
	libnetsrv/url.c \
	libnetsrv/robots.c \
	libnetsrv/crawl.c
# Only the host's context switch is assembled (coro.h picks ucontext on
# other machines): an empty object would strip the library's
# branch-protection marking where a distribution builds with it.
if CORO_X86_64
libnetsrv_libnetsrv_la_SOURCES += libnetsrv/coro_switch_x86_64.S
endif
if CORO_AARCH64
libnetsrv_libnetsrv_la_SOURCES += libnetsrv/coro_switch_aarch64.S
endif
libnetsrv_libnetsrv_la_LDFLAGS = -version-info $(NETSRV_LT_VERSION) $(AM_LDFLAGS)
libnetsrv_libnetsrv_la_LIBADD = $(EV_LIBS) $(HTTP_PARSER_LIBS) $(PCRE2_LIBS) $(SQLITE_LIBS) $(SSL_LIBS) $(CRYPTO_LIBS)
pkgconfigdir = $(libdir)/pkgconfig
pkgconfig_DATA += libnetsrv/libnetsrv.pc
