# handlers/local.mk - the ready handlers, built into libnetsrv from the public API only.
libnetsrv_libnetsrv_la_SOURCES += \
	handlers/registry.c \
	handlers/echo.c \
	handlers/discard.c \
	handlers/exec.c \
	handlers/files.c \
	handlers/files_cache.c
noinst_HEADERS += handlers/files_cache.h
