/* exec.c - inetd/tcpsvd-style handler: runs a program per connection with
 * the socket as its stdin and stdout.  ctx is the program's NULL-terminated
 * argv.  The connection ends when the program exits. */
#include "config.h"
#include <errno.h>
#include <netsrv.h>

static int exec_handle(netsrv_request *req)
{
    char *const *argv = netsrv_request_ctx(req);
    if (netsrv_request_is_dgram(req))
        return -ENOTSOCK; /* a program per datagram has no stream to talk to */
    pid_t pid = netsrv_spawn(req, argv);
    if (pid < 0)
        return (int)pid;
    int status;
    return netsrv_waitpid(req, pid, &status);
}

const netsrv_handler netsrv__handler_exec = {
    .name = "exec",
    .handle = exec_handle,
};
