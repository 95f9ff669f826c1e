# tools/local.mk - nettool, the multi-call binary: a dispatch table, shared
# option helpers and one file per applet; all real work is in libnetsrv.
# The bench applet drives its connections with libev directly.
bin_PROGRAMS += tools/nettool
noinst_HEADERS += tools/applets.h tools/bench.h tools/download.h
tools_nettool_SOURCES = \
	tools/nettool.c \
	tools/common.c \
	tools/applet_bench.c \
	tools/bench_loop.c \
	tools/bench_stats.c \
	tools/applet_download.c \
	tools/download_part.c \
	tools/progress.c \
	tools/applet_echo.c \
	tools/applet_serve.c \
	tools/serve_http.c
# chat
noinst_HEADERS += tools/chat_tty.h
tools_nettool_SOURCES += tools/applet_chat.c tools/chat_tty.c
# end chat
tools_nettool_LDADD = libnetsrv/libnetsrv.la $(EV_LIBS)
# Linked statically against the in-tree libnetsrv: tools/nettool is then
# the real binary (no libtool wrapper script), so a link named after an
# applet dispatches from the build tree too, and the installed tool stands
# alone.
tools_nettool_LDFLAGS = -static $(AM_LDFLAGS)

# nettool dircopy: the command line and the run, the parent's walk, the
# workers' batches, the progress line.
noinst_HEADERS += tools/dircopy.h
tools_nettool_SOURCES += \
	tools/applet_dircopy.c \
	tools/dircopy_walk.c \
	tools/dircopy_work.c \
	tools/dircopy_journal.c \
	tools/dircopy_progress.c
# nettool get: the command line (applet_get.c) and one URL's transfer
# (get_transfer.c) on libnetsrv's HTTP client.
noinst_HEADERS += tools/get.h
tools_nettool_SOURCES += tools/applet_get.c tools/get_transfer.c
# nettool scrape: options and output; the matching, charsets, links,
# robots.txt and the crawl frontier are libnetsrv's.
noinst_HEADERS += tools/scrape.h
tools_nettool_SOURCES += tools/applet_scrape.c tools/scrape_page.c tools/scrape_out.c
tools_nettool_LDADD += $(SQLITE_LIBS)
