# contrib/local.mk - things shipped beside the library: an example program
# built against the installed library, systemd units, bash completion,
# Debian and RPM packaging.  Only the bash completion is installed; the rest
# is shipped in the tarball for users and packagers to copy.
EXTRA_DIST += \
	contrib/examples/upper.c \
	contrib/examples/dgram.c \
	contrib/examples/greet.c \
	contrib/examples/pool.c \
	contrib/examples/fetch.c \
	contrib/examples/Makefile \
	contrib/bench/README.md \
	contrib/bench/echo-bench.sh \
	contrib/bench/lib.sh \
	contrib/bench/epoll_echo.c \
	contrib/bench/thread_echo.c \
	contrib/bench/fork_echo.c \
	contrib/bench/ref_common.h \
	contrib/bench/idle-conns.sh \
	contrib/bench/http-bench.sh \
	contrib/bench/instr-per-request.sh \
	contrib/bench/download-bench.sh \
	contrib/bench/get-bench.sh \
	contrib/bench/chat-bench.sh \
	contrib/bench/chat_load.py \
	contrib/bench/scrape-bench.sh \
	contrib/systemd/nettool-echo.socket \
	contrib/systemd/nettool-echo.service \
	contrib/systemd/nettool-discard.socket \
	contrib/systemd/nettool-discard.service \
	contrib/systemd/nettool-chat.socket \
	contrib/systemd/nettool-chat.service \
	contrib/systemd/nettool-files.socket \
	contrib/systemd/nettool-files.service \
	contrib/systemd/nettool-http.socket \
	contrib/systemd/nettool-http.service \
	contrib/completion/nettool.bash \
	contrib/debian/changelog \
	contrib/debian/control \
	contrib/debian/copyright \
	contrib/debian/rules \
	contrib/debian/source/format \
	contrib/debian/libnetsrv0.install \
	contrib/debian/libnetsrv-dev.install \
	contrib/debian/nettool.install \
	contrib/debian/libnetsrv-dev.examples \
	contrib/debian/build-debs.sh \
	contrib/debian/check-installed.sh \
	contrib/rpm/libnetsrv.spec \
	contrib/rpm/build-rpms.sh

# Bash-completion looks a command's completion up by the command's name,
# so the file is installed as "nettool".
if INSTALL_BASH_COMPLETION
install-data-local: install-bash-completion
uninstall-local: uninstall-bash-completion
endif
install-bash-completion:
	$(MKDIR_P) '$(DESTDIR)$(bashcompletiondir)'
	$(INSTALL_DATA) '$(srcdir)/contrib/completion/nettool.bash' '$(DESTDIR)$(bashcompletiondir)/nettool'
uninstall-bash-completion:
	rm -f '$(DESTDIR)$(bashcompletiondir)/nettool'
.PHONY: install-bash-completion uninstall-bash-completion

# Cross-check of the AArch64 coroutine switch under qemu-user (.ci/run's last stage).
EXTRA_DIST += contrib/cross/check-coro-aarch64.sh

# nettool dircopy against cp -a and rsync -a.
EXTRA_DIST += contrib/bench/dircopy-bench.sh
