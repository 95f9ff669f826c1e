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
tools_nettool_LDADD = libnetsrv/libnetsrv.la $(EV_LIBS)
# Linked statically against the in-tree libnetsrv: tools/nettool is then
# the real binary (no libtool wrapper script), so a link named after an
# applet dispatches from the build tree too, and the installed tool stands
# alone.
tools_nettool_LDFLAGS = -static $(AM_LDFLAGS)
