# doc/local.mk - the man pages, written by hand in troff.
dist_man_MANS += doc/nettool.1 doc/libnetsrv.3
# Notes on how the library works and why, for people changing it.
EXTRA_DIST += doc/design.md
