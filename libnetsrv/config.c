/* config.c - defaults and mode names.  Defaults fix socketserver's weak
 * spots: SOMAXCONN backlog, bounded concurrency, a 64 KiB datagram cap. */
#include "config.h"
#include "netsrv_int.h"
#include <errno.h>
#include <string.h>

void netsrv_config_init(netsrv_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->address = "127.0.0.1:7000";
    cfg->mode = NETSRV_SYNC;
    cfg->max_conns = 0; /* 0: the mode's default, see server.c */
    cfg->backlog = SOMAXCONN;
    cfg->reuse_address = 1;
    cfg->nodelay = 1;
    cfg->drain = -1;
    cfg->linger = 5;
    cfg->block_on_close = 1;
    cfg->max_packet = 65535;
    cfg->rbufsize = 65536;
    cfg->wbufsize = 16384;
    cfg->bind_and_activate = 1;
    cfg->workers = 1;
    cfg->stack_size = 64 * 1024;
}

static const char *const mode_names[] = { "sync", "thread", "fork", "async" };

int netsrv_mode_parse(const char *name)
{
    for (int i = 0; i < (int)(sizeof mode_names / sizeof *mode_names); i++)
        if (name && strcmp(name, mode_names[i]) == 0)
            return i;
    return -EINVAL;
}

const char *netsrv_mode_name(netsrv_mode m)
{
    if ((unsigned)m < sizeof mode_names / sizeof *mode_names)
        return mode_names[m];
    return "unknown";
}
