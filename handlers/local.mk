# handlers/local.mk - the ready handlers, built into libnetsrv from the public API only.
libnetsrv_libnetsrv_la_SOURCES += \
	handlers/registry.c \
	handlers/echo.c \
	handlers/discard.c \
	handlers/exec.c \
	handlers/files.c \
	handlers/files_cache.c \
	handlers/http.c \
	handlers/http_reply.c \
	handlers/http_file.c \
	handlers/http_dir.c \
	handlers/http_put.c \
	handlers/http_mime.c
# chat
libnetsrv_libnetsrv_la_SOURCES += handlers/chat.c handlers/chat_proto.c
# end chat
noinst_HEADERS += handlers/files_cache.h handlers/httpd.h
