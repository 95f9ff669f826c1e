# tests/local.mk - the test suite: C TAP programs (tests/NAME.t) linked
# against libnetsrv, and shell end-to-end tests (tests/NAME.sh) driving
# nettool.  All speak TAP through automake's tap-driver.
TEST_EXTENSIONS = .t .sh
T_LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
SH_LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
SH_LOG_COMPILER = $(SHELL)
AM_TESTS_ENVIRONMENT = \
	NETTOOL='$(abs_top_builddir)/tools/nettool'; export NETTOOL; \
	top_srcdir='$(abs_top_srcdir)'; export top_srcdir; \
	top_builddir='$(abs_top_builddir)'; export top_builddir; \
	abs_top_srcdir='$(abs_top_srcdir)'; export abs_top_srcdir;

tests_common = tests/tap.h tests/testutil.c tests/testutil.h

C_TESTS = \
	tests/addr.t \
	tests/conformance.t \
	tests/hooks.t \
	tests/stream.t \
	tests/limits.t \
	tests/task.t \
	tests/sendfile.t \
	tests/again.t \
	tests/client.t \
	tests/group.t \
	tests/http.t \
	tests/files.t \
	tests/loop.t
check_PROGRAMS += $(C_TESTS)
TESTS += $(C_TESTS)

tests_addr_t_SOURCES = tests/addr.c $(tests_common)
tests_addr_t_LDADD = libnetsrv/libnetsrv.la
tests_conformance_t_SOURCES = tests/conformance.c $(tests_common)
tests_conformance_t_LDADD = libnetsrv/libnetsrv.la
tests_hooks_t_SOURCES = tests/hooks.c $(tests_common)
tests_hooks_t_LDADD = libnetsrv/libnetsrv.la
tests_stream_t_SOURCES = tests/stream.c $(tests_common)
tests_stream_t_LDADD = libnetsrv/libnetsrv.la
tests_limits_t_SOURCES = tests/limits.c $(tests_common)
tests_limits_t_LDADD = libnetsrv/libnetsrv.la
tests_task_t_SOURCES = tests/task.c $(tests_common)
tests_task_t_LDADD = libnetsrv/libnetsrv.la
tests_sendfile_t_SOURCES = tests/sendfile.c $(tests_common)
tests_sendfile_t_LDADD = libnetsrv/libnetsrv.la
tests_again_t_SOURCES = tests/again.c $(tests_common)
tests_again_t_LDADD = libnetsrv/libnetsrv.la
tests_client_t_SOURCES = tests/client.c $(tests_common)
tests_client_t_LDADD = libnetsrv/libnetsrv.la
tests_group_t_SOURCES = tests/group.c $(tests_common)
tests_group_t_LDADD = libnetsrv/libnetsrv.la
tests_http_t_SOURCES = tests/http.c $(tests_common)
tests_http_t_LDADD = libnetsrv/libnetsrv.la
tests_files_t_SOURCES = tests/files.c $(tests_common)
tests_files_t_LDADD = libnetsrv/libnetsrv.la
tests_loop_t_SOURCES = tests/loop.c $(tests_common)
tests_loop_t_LDADD = libnetsrv/libnetsrv.la

SH_TESTS = \
	tests/cli.sh \
	tests/serve_echo.sh \
	tests/serve_exec.sh \
	tests/emfile.sh \
	tests/completion.sh \
	tests/install-example.sh \
	tests/configure.sh \
	tests/cet.sh
TESTS += $(SH_TESTS)
EXTRA_DIST += $(SH_TESTS) tests/lib.sh tests/netclient.py
# The examples' runs, shared with contrib/debian/check-installed.sh.
EXTRA_DIST += tests/examples_lib.sh tests/example_client.py

# The async mode on its own terms (tests/async.c, tests/serve_async.sh; not tests/async.sh:
# its log would be tests/async.log, the same as tests/async.t's).
check_PROGRAMS += tests/async.t
TESTS += tests/async.t
tests_async_t_SOURCES = tests/async.c $(tests_common)
tests_async_t_LDADD = libnetsrv/libnetsrv.la
TESTS += tests/serve_async.sh
EXTRA_DIST += tests/serve_async.sh
TESTS += tests/bench.sh
EXTRA_DIST += tests/bench.sh

# The coroutines of the async mode on their own (contrib/cross/check-coro-aarch64.sh
# also builds this one for AArch64 under qemu, and for the ucontext fallback).
check_PROGRAMS += tests/coro.t
TESTS += tests/coro.t
tests_coro_t_SOURCES = tests/coro.c tests/tap.h
tests_coro_t_LDADD = libnetsrv/libnetsrv.la

# The per-client connection table on its own (libnetsrv/iptable.c).
check_PROGRAMS += tests/iptable.t
TESTS += tests/iptable.t
tests_iptable_t_SOURCES = tests/iptable.c tests/tap.h
tests_iptable_t_LDADD = libnetsrv/libnetsrv.la

# The bugs the core runtime fixed, each shown through the public API and
# the CLI (each line failed before the fix).  The C program interposes pthread_create
# and ev_loop_new (see tests/core_bugs.c), so it exports its symbols and
# reaches the real ones with dlsym.  The shell half is serve_core_bugs.sh,
# not core_bugs.sh: its log would be tests/core_bugs.log, core_bugs.t's.
check_PROGRAMS += tests/core_bugs.t
TESTS += tests/core_bugs.t
tests_core_bugs_t_SOURCES = tests/core_bugs.c $(tests_common)
tests_core_bugs_t_LDADD = libnetsrv/libnetsrv.la -ldl
tests_core_bugs_t_LDFLAGS = -export-dynamic $(AM_LDFLAGS)
TESTS += tests/serve_core_bugs.sh
EXTRA_DIST += tests/serve_core_bugs.sh

# The files protocol: tests/files.c is the library and the handler in
# process, tests/serve_files.sh is "serve files" and "download" end to end
# (not tests/files.sh: its log would be tests/files.log, files.t's).
TESTS += tests/serve_files.sh
EXTRA_DIST += tests/serve_files.sh

# TLS on client connections against a real nginx (tests/tls.sh) with
# tests/tls_client as the client; not tests/tls.t, whose log would be
# tests/tls.log, the same as tls.sh's.
check_PROGRAMS += tests/tls_client
tests_tls_client_SOURCES = tests/tls_client.c
tests_tls_client_LDADD = libnetsrv/libnetsrv.la
TESTS += tests/tls.sh
EXTRA_DIST += tests/tls.sh tests/nginx_lib.sh

# The process pool (libnetsrv/pool.c).
check_PROGRAMS += tests/pool.t
TESTS += tests/pool.t
tests_pool_t_SOURCES = tests/pool.c $(tests_common)
tests_pool_t_LDADD = libnetsrv/libnetsrv.la

# The http handler: tests/httpd.t checks its types, its setup and its log
# callback through the library's API; tests/serve_http.sh drives "nettool serve http" with raw
# requests (tests/httpclient.py) and curl in every mode; tests/http_idle.sh
# holds 10,000 idle keep-alive connections; tests/browser_http.sh loads
# pages in headless Chromium.
check_PROGRAMS += tests/httpd.t
TESTS += tests/httpd.t tests/serve_http.sh tests/http_idle.sh tests/browser_http.sh
tests_httpd_t_SOURCES = tests/httpd.c $(tests_common)
tests_httpd_t_LDADD = libnetsrv/libnetsrv.la
EXTRA_DIST += tests/serve_http.sh tests/http_idle.sh tests/browser_http.sh tests/httpclient.py

# One file copied to a temporary name and renamed (libnetsrv/copy.c).
check_PROGRAMS += tests/copy.t
TESTS += tests/copy.t
tests_copy_t_SOURCES = tests/copy.c $(tests_common)
tests_copy_t_LDADD = libnetsrv/libnetsrv.la

# The journal of finished work (libnetsrv/journal.c).
check_PROGRAMS += tests/journal.t
TESTS += tests/journal.t
tests_journal_t_SOURCES = tests/journal.c $(tests_common)
# SQLite itself too: the test makes another program's database.
tests_journal_t_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
tests_journal_t_LDADD = libnetsrv/libnetsrv.la $(SQLITE_LIBS)

# nettool dircopy on generated trees (tests/dircopy.sh), entries compared
# by tests/dircopy_cmp.py, failures injected by tests/dircopy_shim.so
# (LD_PRELOAD: a shared object built as a check program).
check_PROGRAMS += tests/dircopy_shim.so
tests_dircopy_shim_so_SOURCES = tests/dircopy_shim.c
tests_dircopy_shim_so_CFLAGS = -fPIC $(WARN_CFLAGS)
tests_dircopy_shim_so_LDFLAGS = -Xcompiler -shared
tests_dircopy_shim_so_LDADD = -ldl
TESTS += tests/dircopy.sh
EXTRA_DIST += tests/dircopy.sh tests/dircopy_cmp.py
# Its journal as bad input (garbage, empty, cut short) and on a full disk.
TESTS += tests/dircopy_journal.sh
EXTRA_DIST += tests/dircopy_journal.sh
# The HTTP client session (libnetsrv/http_client.c) against a scripted
# server of its own, 1,000 tasks on one loop among them.
check_PROGRAMS += tests/httpc.t
TESTS += tests/httpc.t
tests_httpc_t_SOURCES = tests/httpc.c $(tests_common)
tests_httpc_t_LDADD = libnetsrv/libnetsrv.la

# nettool get end to end (tests/get.sh): tests/getserver.py scripts the
# odd answers, serve http and nginx (HTTPS, a CA made by the test) the rest.
TESTS += tests/get.sh
EXTRA_DIST += tests/get.sh tests/getserver.py
# chat
TESTS += tests/chat.sh
EXTRA_DIST += tests/chat.sh tests/chatclient.py
# end chat
# The scraper's library pieces (regex, charsets, HTML references, links,
# robots.txt, the crawl frontier); tests/scrape.sh drives "nettool scrape".
check_PROGRAMS += tests/scrape.t
TESTS += tests/scrape.t
tests_scrape_t_SOURCES = tests/scrape.c $(tests_common)
tests_scrape_t_LDADD = libnetsrv/libnetsrv.la
TESTS += tests/scrape.sh
EXTRA_DIST += tests/scrape.sh

# The systemd unit pairs of contrib/systemd: systemd-analyze verify, and
# each service's ExecStart under systemd-socket-activate (tests/systemd.sh,
# tests/units_lib.sh, shared with contrib/debian/check-installed.sh).
TESTS += tests/systemd.sh
EXTRA_DIST += tests/systemd.sh tests/units_lib.sh tests/unit_client.py
# ---- the suite under ThreadSanitizer and under valgrind
# make check-tsan, in a build directory configured with
# --enable-thread-sanitizer: the tests where threads and loops meet (several
# loops, wake-ups from other threads, the chat group, client tasks, the
# process pool, and serve in thread and async mode; and tests/coro.t, whose
# report check fails if the coroutines are not ThreadSanitizer fibers; not tests/chat.sh,
# whose 1,000-member rounds take minutes under TSan and then miss its
# time limits: tests/group.t covers the chat group).  A report makes the
# process exit 66 at once, so the test fails.  tests/tsan.supp holds the
# suppressions (third-party code only).  TSAN_OPTIONS from the environment
# come last and win.
TSAN_TESTS = \
	tests/coro.t tests/loop.t tests/task.t tests/async.t tests/group.t tests/client.t \
	tests/httpc.t tests/pool.t tests/conformance.t tests/hooks.t \
	tests/serve_echo.sh tests/serve_async.sh tests/serve_exec.sh \
	tests/serve_http.sh
EXTRA_DIST += tests/tsan.supp
check-tsan:
if TSAN
	TSAN_OPTIONS="halt_on_error=1 exitcode=66 suppressions=$(abs_top_srcdir)/tests/tsan.supp $${TSAN_OPTIONS:-}" \
	    $(MAKE) $(AM_MAKEFLAGS) check TESTS="$(TSAN_TESTS)"
else
	@echo "make check-tsan: configure with --enable-thread-sanitizer first (in a build directory of its own)" >&2; exit 1
endif

# make check-valgrind: every C TAP program (tests/*.t) under memcheck, in a
# plain build.  Any error, or a definite leak, exits 99, which fails the
# test.  libtool --mode=execute looks through the programs' wrapper scripts.
# The coroutine stacks are registered with valgrind (coro.c), so the async
# mode's switches are not taken for wild stack pointers.
VALGRIND_TESTS = $(C_TESTS) tests/async.t tests/coro.t tests/iptable.t \
	tests/core_bugs.t tests/pool.t tests/httpd.t tests/copy.t tests/httpc.t \
	tests/scrape.t tests/journal.t
VALGRIND = valgrind
VALGRIND_FLAGS = --tool=memcheck --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite --suppressions=$(abs_top_srcdir)/tests/valgrind.supp \
	--quiet
EXTRA_DIST += tests/valgrind.supp
check-valgrind:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS="$(VALGRIND_TESTS)" \
	    T_LOG_COMPILER="$(LIBTOOL) --mode=execute $(VALGRIND) $(VALGRIND_FLAGS)"
.PHONY: check-tsan check-valgrind
