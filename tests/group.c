/* group.c - messages between requests: every line a member sends reaches
 * every other member and not itself, in thread and async mode and with a
 * sender and a receiver on two different loops; in sync mode (one request
 * at a time) an application thread's messages reach a member blocked in
 * its read; an application thread can send too; idle members of an async
 * server (NETSRV_AGAIN) get messages without their handler (and so a
 * stack) being started; a member
 * that never reads is dropped (DISCONNECT) or loses messages, counted
 * (DROP), while the others go on; fork mode refuses to join; a member
 * that returns NETSRV_AGAIN between lines still gets its messages.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

static netsrv_group *room;

/* Which thread (loop) each member joined on, in join order. */
static pthread_mutex_t joined_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t joined_on[64];
static int njoined;

static void note_join(void)
{
    pthread_mutex_lock(&joined_lock);
    if (njoined < 64)
        joined_on[njoined++] = pthread_self();
    pthread_mutex_unlock(&joined_lock);
}

/* Joins the room, then relays each line to the others until "quit". */
static int room_handle(netsrv_request *req)
{
    int rc = netsrv_group_join(room, req);
    if (rc == 0)
        note_join();
    tu_ev_emit('J', rc);
    if (rc < 0)
        return 0;
    char line[4096];
    for (;;) {
        ssize_t n = netsrv_readline(req, line, sizeof line);
        if (n <= 0 || (n == 5 && memcmp(line, "quit\n", 5) == 0)) {
            rc = (int)n;
            break;
        }
        netsrv_group_send(room, req, line, (size_t)n);
    }
    unsigned long long dropped = 0;
    int kicked = netsrv_group_member_stats(req, &dropped, NULL);
    /* Leave first: a test that saw the event then reads the group's size. */
    netsrv_group_leave(room, req);
    tu_ev_emit(kicked == 1 ? 'K' : 'L', (int)dropped);
    if (kicked == 1)
        tu_ev_emit('D', (int)dropped);
    return 0;
}

static const netsrv_handler room_handler = { "room", NULL, room_handle, NULL, 0, NULL, 0 };

/* The same, one line per call (NETSRV_AGAIN), joined once. */
static int kept_handle(netsrv_request *req)
{
    int *joined = netsrv_request_state(req);
    if (!*joined) {
        int rc = netsrv_group_join(room, req);
        tu_ev_emit('J', rc);
        if (rc < 0)
            return 0;
        *joined = 1;
        return NETSRV_AGAIN; /* idle at once: no stack until input comes */
    } else {
        tu_ev_emit('H', 0); /* started again: input, or a wake-up */
    }
    char line[512];
    ssize_t n = netsrv_readline(req, line, sizeof line);
    if (n <= 0)
        return (int)n;
    netsrv_group_send(room, req, line, (size_t)n);
    return NETSRV_AGAIN;
}

static const netsrv_handler kept_handler = { "kept", NULL, kept_handle, NULL, sizeof(int), NULL, 0 };

static int join_n(const char *addr, int *fds, int n)
{
    int ok_all = 1;
    for (int i = 0; i < n; i++)
        fds[i] = tu_connect(addr, 0);
    /* (events of an earlier test's leaving members are passed over) */
    for (int i = 0, tries = 0; i < n && tries < 4 * n; tries++) {
        tu_ev e;
        if (tu_ev_wait(&e, 1, 5000) != 1)
            break;
        if (e.code != 'J')
            continue;
        if (e.val != 0)
            ok_all = 0;
        i++;
    }
    return ok_all;
}

static void test_broadcast(netsrv_mode mode, unsigned workers, const netsrv_handler *h,
                           const char *label)
{
    char addr[NETSRV_ADDRSTRLEN], buf[512];
    netsrv_config cfg;
    tu_config(&cfg, mode);
    cfg.workers = workers;
    netsrv_group_new(&room, 0, NETSRV_GROUP_DROP);
    netsrv_server *srv = tu_create(&cfg, h, addr);
    tu_srv ts;
    if (!srv || tu_start(&ts, srv, 0.05) < 0) {
        fail("%s: server starts", label);
        return;
    }
    int fd[4];
    ok(join_n(addr, fd, 4) && netsrv_group_size(room) == 4, "%s: four members joined", label);
    tu_send_all(fd[0], "hi from a\n", 10);
    int got = 0;
    for (int i = 1; i < 4; i++)
        got += tu_read_line(fd[i], buf, sizeof buf, 5000) > 0 && strcmp(buf, "hi from a\n") == 0;
    is(got, 3, "%s: a line reaches the three others", label);
    tu_send_all(fd[1], "then b\n", 7);
    ssize_t n = tu_read_line(fd[0], buf, sizeof buf, 5000);
    is_str(n > 0 ? buf : "", "then b\n", "%s: the sender got no copy of its own line", label);
    for (int i = 2; i < 4; i++)
        tu_read_line(fd[i], buf, sizeof buf, 5000);
    netsrv_group_send(room, NULL, "from the app\n", 13);
    got = 0;
    for (int i = 0; i < 4; i++)
        got += tu_read_line(fd[i], buf, sizeof buf, 5000) > 0 && strcmp(buf, "from the app\n") == 0;
    is(got, 4, "%s: a line sent by an application thread reaches all four", label);
    for (int i = 0; i < 4; i++)
        tu_close(fd[i]);
    tu_stop(&ts);
    netsrv_server_free(srv);
    netsrv_group_free(room);
    room = NULL;
}

/* One member never reads; two others exchange 2,000 lines meanwhile. */
static void test_slow(int policy)
{
    const char *label = policy == NETSRV_GROUP_DROP ? "slow member, DROP" : "slow member, DISCONNECT";
    char addr[NETSRV_ADDRSTRLEN], buf[4096], line[2000];
    netsrv_config cfg;
    tu_config(&cfg, NETSRV_ASYNC);
    netsrv_group_new(&room, 64 * 1024, policy);
    netsrv_server *srv = tu_create(&cfg, &room_handler, addr);
    tu_srv ts;
    if (!srv || tu_start(&ts, srv, 0.05) < 0) {
        fail("%s: server starts", label);
        return;
    }
    int slow = tu_connect_rcvbuf(addr, 4096);
    tu_ev e;
    while (tu_ev_wait(&e, 1, 5000) == 1 && e.code != 'J')
        ;
    int fd[2];
    ok(join_n(addr, fd, 2) && netsrv_group_size(room) == 3, "%s: three members", label);
    memset(line, 'x', sizeof line);
    line[1999] = '\n';
    int got = 0;
    for (int i = 0; i < 5000; i++) {
        tu_send_all(fd[0], line, 2000);
        if (tu_read_line(fd[1], buf, sizeof buf, 5000) == 2000)
            got++;
    }
    is(got, 5000, "%s: 5,000 lines of 2,000 bytes pass between the others, none lost", label);
    unsigned long long dropped = 0;
    size_t queued = 0;
    (void)dropped;
    (void)queued;
    tu_close(fd[0]);
    tu_close(fd[1]);
    if (policy == NETSRV_GROUP_DISCONNECT) {
        /* the slow one was cut off: its handler ended with 'K' */
        int k = 0, d = 0, waited = 0;
        while (waited++ < 4 && tu_ev_wait(&e, 1, 5000) == 1) {
            if (e.code == 'K')
                k = 1;
            if (e.code == 'D')
                d = e.val;
        }
        ok(k, "%s: the member that never read was cut off", label);
        ok(d > 1, "%s: the messages still queued count as dropped (%d)", label, d);
    } else {
        tu_close(slow);
        slow = -1;
        int ld = -1, waited = 0;
        while (waited++ < 3 && tu_ev_wait(&e, 1, 5000) == 1)
            if (e.code == 'L' && e.val > 0)
                ld = e.val;
        ok(ld > 0, "%s: the one that never read lost messages, counted (%d)", label, ld);
    }
    if (slow >= 0)
        tu_close(slow);
    tu_stop(&ts);
    netsrv_server_free(srv);
    netsrv_group_free(room);
    room = NULL;
}

static void test_fork_refused(void)
{
    char addr[NETSRV_ADDRSTRLEN];
    netsrv_config cfg;
    tu_config(&cfg, NETSRV_FORK);
    netsrv_group_new(&room, 0, NETSRV_GROUP_DROP);
    netsrv_server *srv = tu_create(&cfg, &room_handler, addr);
    tu_srv ts;
    if (!srv || tu_start(&ts, srv, 0.05) < 0) {
        fail("fork: server starts");
        return;
    }
    int fd = tu_connect(addr, 0);
    tu_ev e;
    ok(tu_ev_wait(&e, 1, 5000) == 1 && e.code == 'J' && e.val == -ENOTSUP,
       "fork mode: joining a group fails with -ENOTSUP");
    tu_close(fd);
    tu_stop(&ts);
    netsrv_server_free(srv);
    netsrv_group_free(room);
    room = NULL;
}

/* A sender on one loop, a receiver on the other: members are taken until
 * both loops have one (SO_REUSEPORT spreads them by the kernel's hash). */
static void test_two_loops(void)
{
    const char *label = "async -w 2, two loops";
    char addr[NETSRV_ADDRSTRLEN], buf[512];
    netsrv_config cfg;
    tu_config(&cfg, NETSRV_ASYNC);
    cfg.workers = 2;
    netsrv_group_new(&room, 0, NETSRV_GROUP_DROP);
    netsrv_server *srv = tu_create(&cfg, &room_handler, addr);
    tu_srv ts;
    if (!srv || tu_start(&ts, srv, 0.05) < 0) {
        fail("%s: server starts", label);
        return;
    }
    /* Earlier tests' leavers' events would be taken for joins below, and
     * the next member connect before this one joined, out of order. */
    tu_ev stale[64];
    while (tu_ev_drain(stale, 64) > 0)
        ;
    njoined = 0;
    int fd[32], n = 0, other = -1;
    while (n < 32 && other < 0) {
        if (!join_n(addr, &fd[n], 1))
            break;
        n++;
        pthread_mutex_lock(&joined_lock);
        for (int i = 1; i < njoined && other < 0; i++)
            if (!pthread_equal(joined_on[i], joined_on[0]))
                other = i;
        pthread_mutex_unlock(&joined_lock);
    }
    ok(other > 0, "%s: members joined on both loops (%d connections)", label, n);
    if (other > 0) {
        /* join order is connect order: one connection joins at a time */
        tu_send_all(fd[0], "across\n", 7);
        ssize_t r = tu_read_line(fd[other], buf, sizeof buf, 5000);
        is_str(r > 0 ? buf : "", "across\n", "%s: a line crosses from one loop to the other", label);
        tu_send_all(fd[other], "back\n", 5);
        r = tu_read_line(fd[0], buf, sizeof buf, 5000);
        is_str(r > 0 ? buf : "", "back\n", "%s: and back", label);
    } else {
        fail("%s: a line crosses from one loop to the other", label);
        fail("%s: and back", label);
    }
    for (int i = 0; i < n; i++)
        tu_close(fd[i]);
    tu_stop(&ts);
    netsrv_server_free(srv);
    netsrv_group_free(room);
    room = NULL;
}

/* Sync mode serves one request at a time: that member, blocked reading
 * its client, still gets what an application thread sends. */
static void test_sync(void)
{
    char addr[NETSRV_ADDRSTRLEN], buf[512];
    netsrv_config cfg;
    tu_config(&cfg, NETSRV_SYNC);
    netsrv_group_new(&room, 0, NETSRV_GROUP_DROP);
    netsrv_server *srv = tu_create(&cfg, &room_handler, addr);
    tu_srv ts;
    if (!srv || tu_start(&ts, srv, 0.05) < 0) {
        fail("sync: server starts");
        return;
    }
    tu_ev stale[64];
    while (tu_ev_drain(stale, 64) > 0)
        ; /* earlier tests' leavers */
    int fd;
    ok(join_n(addr, &fd, 1) && netsrv_group_size(room) == 1, "sync: a member joined");
    is(netsrv_group_send(room, NULL, "to you\n", 7), 1, "sync: an application thread's send is queued for it");
    ssize_t n = tu_read_line(fd, buf, sizeof buf, 5000);
    is_str(n > 0 ? buf : "", "to you\n", "sync: it reaches the member blocked in its read");
    tu_send_all(fd, "alone\n", 6);
    tu_send_all(fd, "quit\n", 5);
    tu_ev e;
    ok(tu_ev_wait(&e, 1, 5000) == 1 && e.code == 'L', "sync: the member leaves on quit");
    is((int)netsrv_group_size(room), 0, "sync: the group is empty again");
    tu_close(fd);
    tu_stop(&ts);
    netsrv_server_free(srv);
    netsrv_group_free(room);
    room = NULL;
}

/* Idle async members (waiting after NETSRV_AGAIN, with no stack) get a
 * broadcast without their handler being started for it. */
static void test_stackless(unsigned workers)
{
    char addr[NETSRV_ADDRSTRLEN], buf[512], label[64];
    snprintf(label, sizeof label, "async -w %u, idle members", workers);
    netsrv_config cfg;
    tu_config(&cfg, NETSRV_ASYNC);
    cfg.workers = workers;
    netsrv_group_new(&room, 0, NETSRV_GROUP_DROP);
    netsrv_server *srv = tu_create(&cfg, &kept_handler, addr);
    tu_srv ts;
    if (!srv || tu_start(&ts, srv, 0.05) < 0) {
        fail("%s: server starts", label);
        return;
    }
    int fd[8];
    ok(join_n(addr, fd, 8), "%s: eight members joined", label);
    /* each handler returned NETSRV_AGAIN at once: its first line reads
     * nothing yet, so a line from each makes them all idle after one */
    int got = 0;
    for (int round = 0; round < 50; round++) {
        char msg[32];
        int len = snprintf(msg, sizeof msg, "round %d\n", round);
        netsrv_group_send(room, NULL, msg, (size_t)len);
        for (int i = 0; i < 8; i++)
            got += tu_read_line(fd[i], buf, sizeof buf, 5000) == len && memcmp(buf, msg, (size_t)len) == 0;
    }
    is(got, 400, "%s: 50 broadcasts reach all eight", label);
    tu_ev evs[64];
    int starts = 0, nev = tu_ev_drain(evs, 64);
    for (int i = 0; i < nev; i++)
        starts += evs[i].code == 'H';
    is(starts, 0, "%s: no handler was started to deliver them", label);
    for (int i = 0; i < 8; i++)
        tu_close(fd[i]);
    tu_stop(&ts);
    netsrv_server_free(srv);
    netsrv_group_free(room);
    room = NULL;
}

int main(void)
{
    tu_init(120);
    tu_ev_init();
    test_broadcast(NETSRV_THREAD, 1, &room_handler, "thread");
    test_broadcast(NETSRV_ASYNC, 1, &room_handler, "async");
    test_broadcast(NETSRV_ASYNC, 2, &room_handler, "async -w 2");
    test_broadcast(NETSRV_ASYNC, 1, &kept_handler, "async, NETSRV_AGAIN between lines");
    test_broadcast(NETSRV_THREAD, 1, &kept_handler, "thread, NETSRV_AGAIN between lines");
    test_two_loops();
    test_sync();
    test_stackless(1);
    test_stackless(2);
    test_slow(NETSRV_GROUP_DISCONNECT);
    test_slow(NETSRV_GROUP_DROP);
    test_fork_refused();
    return done_testing();
}
