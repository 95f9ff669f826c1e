# tests/fuzz/local.mk - fuzz targets: one LLVMFuzzerTestOneInput per parser
# (tests/fuzz/NAME.c) with its seed corpus (tests/fuzz/corpus/NAME/).
# Every build runs each corpus once through its target as a TAP test
# (tests/fuzz/NAME.t: the target and replay_main.c); ./configure
# --enable-fuzzing (CC=clang) also links each with libFuzzer as
# tests/fuzz/fuzz-NAME, which tests/fuzz/run.sh runs for a while.
fuzz_replay = tests/fuzz/replay_main.c tests/fuzz/fuzz.h
fuzz_http = tests/fuzz/http_stream.c tests/fuzz/http_stream.h

FUZZ_REPLAY_TESTS = \
	tests/fuzz/addr.t \
	tests/fuzz/url.t \
	tests/fuzz/http_request.t \
	tests/fuzz/http_response.t \
	tests/fuzz/chat.t \
	tests/fuzz/files.t
check_PROGRAMS += $(FUZZ_REPLAY_TESTS)
TESTS += $(FUZZ_REPLAY_TESTS)

tests_fuzz_addr_t_SOURCES = tests/fuzz/addr.c $(fuzz_replay)
tests_fuzz_addr_t_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"addr"'
tests_fuzz_addr_t_LDADD = libnetsrv/libnetsrv.la
tests_fuzz_url_t_SOURCES = tests/fuzz/url.c $(fuzz_replay)
tests_fuzz_url_t_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"url"'
tests_fuzz_url_t_LDADD = libnetsrv/libnetsrv.la
tests_fuzz_http_request_t_SOURCES = tests/fuzz/http_request.c $(fuzz_http) $(fuzz_replay)
tests_fuzz_http_request_t_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"http_request"'
tests_fuzz_http_request_t_LDADD = libnetsrv/libnetsrv.la
tests_fuzz_http_response_t_SOURCES = tests/fuzz/http_response.c $(fuzz_http) $(fuzz_replay)
tests_fuzz_http_response_t_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"http_response"'
tests_fuzz_http_response_t_LDADD = libnetsrv/libnetsrv.la
tests_fuzz_chat_t_SOURCES = tests/fuzz/chat.c $(fuzz_replay)
tests_fuzz_chat_t_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"chat"'
tests_fuzz_chat_t_LDADD = libnetsrv/libnetsrv.la
tests_fuzz_files_t_SOURCES = tests/fuzz/files.c $(fuzz_replay)
tests_fuzz_files_t_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_NAME='"files"'
tests_fuzz_files_t_LDADD = libnetsrv/libnetsrv.la

# The libFuzzer programs.  -static: the uninstalled library is linked in,
# so each is one plain executable (no libtool wrapper) that run.sh and a
# person chasing a crash can start directly.
if FUZZING
FUZZ_PROGS = \
	tests/fuzz/fuzz-addr \
	tests/fuzz/fuzz-url \
	tests/fuzz/fuzz-http_request \
	tests/fuzz/fuzz-http_response \
	tests/fuzz/fuzz-chat \
	tests/fuzz/fuzz-files
noinst_PROGRAMS += $(FUZZ_PROGS)
fuzz_ldflags = -static $(FUZZ_LDFLAGS) $(AM_LDFLAGS)
tests_fuzz_fuzz_addr_SOURCES = tests/fuzz/addr.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_addr_LDADD = libnetsrv/libnetsrv.la
tests_fuzz_fuzz_addr_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_url_SOURCES = tests/fuzz/url.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_url_LDADD = libnetsrv/libnetsrv.la
tests_fuzz_fuzz_url_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_http_request_SOURCES = tests/fuzz/http_request.c $(fuzz_http) tests/fuzz/fuzz.h
tests_fuzz_fuzz_http_request_LDADD = libnetsrv/libnetsrv.la
tests_fuzz_fuzz_http_request_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_http_response_SOURCES = tests/fuzz/http_response.c $(fuzz_http) tests/fuzz/fuzz.h
tests_fuzz_fuzz_http_response_LDADD = libnetsrv/libnetsrv.la
tests_fuzz_fuzz_http_response_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_chat_SOURCES = tests/fuzz/chat.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_chat_LDADD = libnetsrv/libnetsrv.la
tests_fuzz_fuzz_chat_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_files_SOURCES = tests/fuzz/files.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_files_LDADD = libnetsrv/libnetsrv.la
tests_fuzz_fuzz_files_LDFLAGS = $(fuzz_ldflags)
else
FUZZ_PROGS =
endif
# Only the fuzzers: `make fuzz` builds them without the rest of the tree's programs.
fuzz: $(FUZZ_PROGS)
.PHONY: fuzz

# The seed corpora (whole directories) and the script that runs the fuzzers.
EXTRA_DIST += tests/fuzz/corpus tests/fuzz/run.sh
