# contrib/local.mk - things shipped beside the library: an example program
# built against the installed library, systemd units, bash completion,
# Debian and RPM packaging.  Only the bash completion is installed; the rest
# is shipped in the tarball for users and packagers to copy.
EXTRA_DIST += \
	contrib/examples/upper.c \
	contrib/examples/pool.c \
	contrib/examples/Makefile \
	contrib/bench/README.md \
	contrib/bench/echo-bench.sh \
	contrib/bench/epoll_echo.c \
	contrib/bench/thread_echo.c \
	contrib/bench/fork_echo.c \
	contrib/bench/ref_common.h \
	contrib/bench/idle-conns.sh \
	contrib/bench/http-bench.sh \
	contrib/bench/instr-per-request.sh \
	contrib/bench/download-bench.sh \
	contrib/systemd/nettool-echo.socket \
	contrib/systemd/nettool-echo.service \
	contrib/completion/nettool.bash \
	contrib/debian/changelog \
	contrib/debian/control \
	contrib/debian/copyright \
	contrib/debian/rules \
	contrib/debian/source/format \
	contrib/debian/libnetsrv0.install \
	contrib/debian/libnetsrv-dev.install \
	contrib/debian/nettool.install \
	contrib/rpm/libnetsrv.spec

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
