/* registry.c - the ready handlers by name, for nettool and for programs
 * that want "echo" without writing it. */
#include "config.h"
#include <netsrv.h>
#include <string.h>

extern const netsrv_handler netsrv__handler_echo;
extern const netsrv_handler netsrv__handler_discard;
extern const netsrv_handler netsrv__handler_exec;
extern const netsrv_handler netsrv__handler_files;
extern const netsrv_handler netsrv__handler_http;
/* chat */
extern const netsrv_handler netsrv__handler_chat;
/* end chat */

static const netsrv_handler *const all[] = {
    &netsrv__handler_echo,
    &netsrv__handler_discard,
    &netsrv__handler_exec,
    &netsrv__handler_files,
    &netsrv__handler_http,
    /* chat */
    &netsrv__handler_chat,
    /* end chat */
    NULL,
};

const netsrv_handler *const *netsrv_handler_list(void)
{
    return all;
}

const netsrv_handler *netsrv_handler_find(const char *name)
{
    for (int i = 0; name && all[i]; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}
