/* testutil.c - helpers shared by the C tests (see testutil.h): watchdog,
 * background server thread, client I/O with poll timeouts, the event pipe
 * and a temporary directory.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

static char tmpdir[128];
static pid_t tmpdir_owner;

const netsrv_mode tu_modes[TU_NMODES] = { NETSRV_SYNC, NETSRV_THREAD, NETSRV_FORK, NETSRV_ASYNC };

/* Kills every child of every thread of this process (fork-mode children
 * would otherwise outlive a test that bailed out), with system calls only:
 * it runs in a signal handler. */
static void kill_children(void)
{
    char buf[4096], path[96], pids[4096];
    int dir = open("/proc/self/task", O_RDONLY | O_DIRECTORY);
    if (dir < 0)
        return;
    long n;
    while ((n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            struct linux_dirent64 {
                unsigned long long d_ino;
                long long d_off;
                unsigned short d_reclen;
                unsigned char d_type;
                char d_name[];
            } *d = (void *)(buf + off);
            off += d->d_reclen;
            if (d->d_name[0] < '0' || d->d_name[0] > '9')
                continue;
            /* path = /proc/self/task/TID/children, built by hand */
            size_t k = 0;
            for (const char *q = "/proc/self/task/"; *q; q++)
                path[k++] = *q;
            for (const char *q = d->d_name; *q && k < 60; q++)
                path[k++] = *q;
            for (const char *q = "/children"; *q; q++)
                path[k++] = *q;
            path[k] = '\0';
            int fd = open(path, O_RDONLY);
            if (fd < 0)
                continue;
            ssize_t m = read(fd, pids, sizeof pids - 1);
            close(fd);
            long pid = 0;
            for (ssize_t i = 0; i < m; i++) {
                if (pids[i] >= '0' && pids[i] <= '9') {
                    pid = pid * 10 + (pids[i] - '0');
                } else {
                    if (pid > 0)
                        kill((pid_t)pid, SIGKILL);
                    pid = 0;
                }
            }
            if (pid > 0)
                kill((pid_t)pid, SIGKILL);
        }
    }
    close(dir);
}

static void watchdog(int sig)
{
    static const char msg[] = "Bail out! watchdog: test program ran too long\n";
    (void)sig;
    (void)!write(1, msg, sizeof msg - 1);
    kill_children();
    if (tmpdir[0])
        rmdir(tmpdir); /* best effort: sockets in it are the library's to unlink */
    _exit(99);
}

void tu_init(unsigned secs)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = watchdog;
    sigaction(SIGALRM, &sa, NULL);
    /* memcheck runs a program 10-50 times slower; still bounded. */
    if (TU_UNDER_VALGRIND)
        secs *= 10;
    alarm(secs);
    signal(SIGPIPE, SIG_DFL);
    setvbuf(stdout, NULL, _IOLBF, 0);
}

void tu_child_exit(int status)
{
    if (TU_UNDER_VALGRIND) {
        char code[16];
        snprintf(code, sizeof code, "exit %d", status & 255);
        execl("/bin/sh", "sh", "-c", code, (char *)NULL);
    }
    _exit(status);
}

double tu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- server */

netsrv_server *tu_create(const netsrv_config *cfg, const netsrv_handler *h, char *addrbuf)
{
    netsrv_server *srv = NULL;
    char err[NETSRV_ERRLEN] = "";
    int rc = netsrv_server_create(&srv, cfg, h, err, sizeof err);
    if (rc < 0 || !srv) {
        diag("netsrv_server_create(%s): %d %s: %s", cfg->address ? cfg->address : "(null)", rc,
             netsrv_strerror(rc), err);
        return NULL;
    }
    if (addrbuf)
        netsrv_server_address(srv, addrbuf, NETSRV_ADDRSTRLEN);
    return srv;
}

static void *serve_main(void *arg)
{
    tu_srv *t = arg;
    t->rv = netsrv_serve_forever(t->srv, t->poll);
    atomic_store(&t->done, 1);
    return NULL;
}

int tu_start(tu_srv *t, netsrv_server *srv, double poll)
{
    memset(t, 0, sizeof *t);
    t->srv = srv;
    t->poll = poll;
    atomic_init(&t->done, 0);
    fflush(stdout);
    int rc = pthread_create(&t->th, NULL, serve_main, t);
    if (rc != 0)
        return -rc;
    t->started = 1;
    return 0;
}

static netsrv_server *proc_srv;
static void proc_term(int sig)
{
    (void)sig;
    netsrv_shutdown(proc_srv);
}

int tu_start_proc(tu_srv *t, netsrv_server *srv, double poll)
{
    memset(t, 0, sizeof *t);
    t->srv = srv;
    t->poll = poll;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        proc_srv = srv;
        signal(SIGALRM, SIG_DFL); /* the parent's watchdog speaks for both */
        signal(SIGTERM, proc_term);
        _exit(netsrv_serve_forever(srv, poll) == 0 ? 0 : 1);
    }
    t->pid = pid;
    t->started = 1;
    return 0;
}

int tu_wait_done(tu_srv *t, double timeout)
{
    if (t->started && t->pid) {
        double until = tu_now() + timeout;
        int st;
        for (;;) {
            pid_t r = waitpid(t->pid, &st, WNOHANG);
            if (r == t->pid || (r < 0 && errno != EINTR))
                break;
            if (tu_now() > until)
                return 0;
            usleep(2000);
        }
        t->rv = WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -ECHILD;
        t->started = 0;
        return 1;
    }
    if (!t->started)
        return 1;
    double end = tu_now() + timeout;
    while (!atomic_load(&t->done)) {
        if (tu_now() > end)
            return 0;
        usleep(2000);
    }
    pthread_join(t->th, NULL);
    t->started = 0;
    return 1;
}

int tu_stop(tu_srv *t)
{
    if (!t->started)
        return t->rv;
    if (t->pid) {
        kill(t->pid, SIGTERM);
        if (!tu_wait_done(t, 10.0)) {
            diag("the serving process did not end within 10 s of SIGTERM");
            kill(t->pid, SIGKILL);
            tu_wait_done(t, 10.0);
            return -ETIMEDOUT;
        }
        return t->rv;
    }
    netsrv_shutdown(t->srv);
    if (!tu_wait_done(t, 10.0)) {
        diag("serve_forever did not return within 10 s of netsrv_shutdown");
        return -ETIMEDOUT;
    }
    return t->rv;
}

/* ---------------------------------------------------------------- client */

int tu_connect(const char *addr, int dgram)
{
    char err[NETSRV_ERRLEN] = "";
    int fd = netsrv_connect(addr, dgram, 5.0, err, sizeof err);
    if (fd < 0)
        diag("netsrv_connect(%s): %d %s: %s", addr, fd, netsrv_strerror(fd), err);
    return fd;
}

int tu_send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                struct pollfd pfd = { fd, POLLOUT, 0 };
                if (poll(&pfd, 1, 10000) <= 0)
                    return -ETIMEDOUT;
                continue;
            }
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Waits until fd is readable or the deadline passes: 1 readable, 0 timeout. */
static int wait_readable(int fd, double deadline)
{
    for (;;) {
        double left = deadline - tu_now();
        if (left <= 0)
            return 0;
        struct pollfd pfd = { fd, POLLIN, 0 };
        int r = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return 1; /* let the read report the error */
    }
}

ssize_t tu_read_line(int fd, char *buf, size_t cap, int timeout_ms)
{
    double deadline = tu_now() + timeout_ms / 1000.0;
    size_t n = 0;
    while (n + 1 < cap) {
        if (!wait_readable(fd, deadline)) {
            buf[n] = '\0';
            return n ? (ssize_t)n : -ETIMEDOUT;
        }
        ssize_t r = recv(fd, buf + n, 1, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            buf[n] = '\0';
            return n ? (ssize_t)n : -errno;
        }
        if (r == 0)
            break;
        n++;
        if (buf[n - 1] == '\n')
            break;
    }
    buf[n] = '\0';
    return (ssize_t)n;
}

ssize_t tu_read_all(int fd, void *buf, size_t cap, int timeout_ms)
{
    double deadline = tu_now() + timeout_ms / 1000.0;
    size_t n = 0;
    while (n < cap) {
        if (!wait_readable(fd, deadline))
            return n ? (ssize_t)n : -ETIMEDOUT;
        ssize_t r = recv(fd, (char *)buf + n, cap - n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return n ? (ssize_t)n : -errno;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    return (ssize_t)n;
}

ssize_t tu_recv(int fd, void *buf, size_t cap, int timeout_ms)
{
    double deadline = tu_now() + timeout_ms / 1000.0;
    for (;;) {
        if (!wait_readable(fd, deadline))
            return -ETIMEDOUT;
        ssize_t r = recv(fd, buf, cap, 0);
        if (r < 0 && errno == EINTR)
            continue;
        return r < 0 ? -errno : r;
    }
}

int tu_wait_eof(int fd, int timeout_ms)
{
    double deadline = tu_now() + timeout_ms / 1000.0;
    char c;
    for (;;) {
        if (!wait_readable(fd, deadline))
            return -ETIMEDOUT;
        ssize_t r = recv(fd, &c, 1, 0);
        if (r == 0)
            return 1;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return 1; /* ECONNRESET and friends: the peer is gone */
        }
        return 0;
    }
}

void tu_close(int fd)
{
    if (fd < 0)
        return;
    shutdown(fd, SHUT_RDWR);
    close(fd);
}

int tu_echo_once(const char *addr, int dgram, const char *msg)
{
    char buf[4096];
    int fd = tu_connect(addr, dgram);
    if (fd < 0)
        return 0;
    size_t len = strlen(msg);
    int good = 0;
    if (tu_send_all(fd, msg, len) == 0) {
        /* Half-close: a fork-mode child holds a copy of this very socket
         * (it was open in our process when the server forked), so only
         * shutdown() can show it the end of our input. */
        if (!dgram)
            shutdown(fd, SHUT_WR);
        ssize_t n = dgram ? tu_recv(fd, buf, sizeof buf - 1, 5000)
                          : tu_read_line(fd, buf, sizeof buf, 5000);
        if (n >= 0)
            buf[n] = '\0';
        good = n == (ssize_t)len && memcmp(buf, msg, len) == 0;
        if (!good)
            diag("echo from %s: got %zd bytes \"%s\"", addr, n, n >= 0 ? buf : strerror((int)-n));
    }
    tu_close(fd);
    return good;
}

/* ----------------------------------------------------------------- misc */

int tu_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory stream itself */
}


static void tmpdir_cleanup(void)
{
    if (!tmpdir[0] || getpid() != tmpdir_owner)
        return;
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *e;
        char path[512];
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
                continue;
            snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(tmpdir);
}

const char *tu_tmpdir(void)
{
    if (!tmpdir[0]) {
        /* /tmp rather than TMPDIR: Unix socket paths must stay short. */
        snprintf(tmpdir, sizeof tmpdir, "/tmp/netsrv-test.XXXXXX");
        if (!mkdtemp(tmpdir))
            bail_out("mkdtemp: %s", strerror(errno));
        tmpdir_owner = getpid();
        atexit(tmpdir_cleanup);
    }
    return tmpdir;
}

char *tu_unix_addr(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "unix:%s/%s", tu_tmpdir(), name);
    return buf;
}

/* ------------------------------------------------------------ event pipe */

static int ev_pipe[2] = { -1, -1 };

void tu_ev_init(void)
{
    if (ev_pipe[0] >= 0)
        return;
    if (pipe(ev_pipe) < 0)
        bail_out("pipe: %s", strerror(errno));
    fcntl(ev_pipe[0], F_SETFL, O_NONBLOCK);
}

void tu_ev_emit(char code, int val)
{
    tu_ev e;
    memset(&e, 0, sizeof e);
    e.code = code;
    e.val = val;
    while (write(ev_pipe[1], &e, sizeof e) < 0 && errno == EINTR)
        ;
}

int tu_ev_wait(tu_ev *evs, int n, int timeout_ms)
{
    double deadline = tu_now() + timeout_ms / 1000.0;
    int got = 0;
    while (got < n) {
        ssize_t r = read(ev_pipe[0], &evs[got], sizeof *evs);
        if (r == (ssize_t)sizeof *evs) {
            got++;
            continue;
        }
        if (r < 0 && errno != EAGAIN && errno != EINTR)
            break;
        if (!wait_readable(ev_pipe[0], deadline))
            break;
    }
    return got;
}

int tu_ev_drain(tu_ev *evs, int n)
{
    int got = 0;
    while (got < n && read(ev_pipe[0], &evs[got], sizeof *evs) == (ssize_t)sizeof *evs)
        got++;
    return got;
}

const char *tu_ev_codes(const tu_ev *evs, int n)
{
    static char buf[256];
    int i;
    for (i = 0; i < n && i < (int)sizeof buf - 1; i++)
        buf[i] = evs[i].code;
    buf[i] = '\0';
    return buf;
}

int tu_wait_zombie(pid_t pid, int timeout_ms)
{
    char path[64], line[512];
    double deadline = tu_now() + timeout_ms / 1000.0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    while (tu_now() < deadline) {
        FILE *f = fopen(path, "r");
        if (!f)
            return 0;
        char *p = fgets(line, sizeof line, f) ? strrchr(line, ')') : NULL;
        fclose(f);
        if (p && p[1] == ' ' && p[2] == 'Z')
            return 1;
        usleep(2000);
    }
    return 0;
}

/* ---------------------------------------------------------- signal storm */

atomic_int tu_bomb_count;

static void bomb_handler(int sig)
{
    (void)sig;
    atomic_fetch_add(&tu_bomb_count, 1);
}

void tu_bomb_install(int signo)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = bomb_handler; /* no SA_RESTART: every wait sees EINTR */
    sigaction(signo, &sa, NULL);
}

static void *bomb_main(void *arg)
{
    tu_bomb *b = arg;
    while (!atomic_load(&b->stop)) {
        pthread_kill(b->target, b->signo);
        usleep(500);
    }
    return NULL;
}

void tu_bomb_start(tu_bomb *b, pthread_t target, int signo)
{
    b->target = target;
    b->signo = signo;
    atomic_init(&b->stop, 0);
    atomic_store(&tu_bomb_count, 0);
    pthread_create(&b->th, NULL, bomb_main, b);
}

void tu_bomb_end(tu_bomb *b)
{
    atomic_store(&b->stop, 1);
    pthread_join(b->th, NULL);
}

/* Threads of this process, not counting the one whose TID is skip. */
static int count_tasks_but(long skip)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *e;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && strtol(e->d_name, NULL, 10) != skip)
            n++;
    closedir(d);
    return n;
}

int tu_count_tasks(void)
{
    return count_tasks_but(-1);
}

static void *note_tid(void *arg)
{
    *(long *)arg = (long)syscall(SYS_gettid);
    return NULL;
}

int tu_base_tasks(void)
{
    /* A sanitizer may start a thread of its own with the first
     * pthread_create, so make and join one first. pthread_join returns
     * once the kernel has cleared the thread's TID, which is before the
     * thread leaves /proc/self/task; so that one is left out by TID
     * rather than waited for. */
    pthread_t th;
    long tid = -1;
    if (pthread_create(&th, NULL, note_tid, &tid) == 0)
        pthread_join(th, NULL);
    return count_tasks_but(tid);
}

int tu_wait_tasks(int want, double timeout)
{
    /* A thread that was joined can still be listed for a moment (see
     * tu_base_tasks); under valgrind, which runs one thread at a time,
     * for a good while. Wait for the count to come down, bounded. */
    double end = tu_now() + (TU_UNDER_VALGRIND ? 10 * timeout : timeout);
    int n;
    while ((n = tu_count_tasks()) > want && tu_now() < end)
        usleep(1000);
    return n;
}

void tu_config(netsrv_config *cfg, netsrv_mode mode)
{
    netsrv_config_init(cfg);
    cfg->address = "127.0.0.1:0";
    cfg->mode = mode;
}

int tu_listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) < 0)
        bail_out("loopback listener: %s", strerror(errno));
    *port = ntohs(a.sin_port);
    return fd;
}

/* ------------------------------------------------- bulk clients, children */

int tu_connect_rcvbuf(const char *addr, int rcvbuf)
{
    netsrv_addr a;
    char err[NETSRV_ERRLEN] = "";
    int rc = netsrv_addr_parse(addr, &a, err, sizeof err);
    if (rc < 0) {
        diag("netsrv_addr_parse(%s): %s", addr, err);
        return rc;
    }
    int fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0 ||
        connect(fd, (struct sockaddr *)&a.ss, a.len) < 0) {
        rc = -errno;
        diag("connect(%s) with SO_RCVBUF %d: %s", addr, rcvbuf, strerror(errno));
        close(fd);
        return rc;
    }
    return fd;
}

int tu_wait_acked(int fd, int timeout_ms)
{
    double deadline = tu_now() + timeout_ms / 1000.0;
    for (;;) {
        int queued = -1;
        if (ioctl(fd, SIOCOUTQ, &queued) == 0 && queued == 0)
            return 1;
        if (tu_now() > deadline)
            return 0;
        usleep(1000);
    }
}

long long tu_read_count(int fd, size_t chunk, int timeout_ms, int *err)
{
    double deadline = tu_now() + timeout_ms / 1000.0;
    char buf[65536];
    long long total = 0;
    if (chunk == 0 || chunk > sizeof buf)
        chunk = sizeof buf;
    for (;;) {
        if (!wait_readable(fd, deadline)) {
            *err = ETIMEDOUT;
            return total;
        }
        ssize_t r = recv(fd, buf, chunk, 0);
        if (r > 0) {
            total += r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        *err = r == 0 ? 0 : errno;
        return total;
    }
}

double tu_thread_cpu(pthread_t th)
{
    clockid_t cid;
    struct timespec ts;
    if (pthread_getcpuclockid(th, &cid) != 0 || clock_gettime(cid, &ts) != 0)
        return -1;
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int tu_fork_run(void (*fn)(void *), void *arg, int timeout_ms)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* The parent's watchdog would print a bail-out into the TAP
         * stream: the child just dies of SIGALRM instead. */
        signal(SIGALRM, SIG_DFL);
        alarm((unsigned)(timeout_ms + 999) / 1000);
        fn(arg);
        _exit(0);
    }
    int st = -1;
    double end = tu_now() + timeout_ms / 1000.0 + 2.0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return st;
        if (r < 0 && errno != EINTR)
            return -1;
        if (tu_now() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        usleep(2000);
    }
}

const char *tu_status_text(int st)
{
    static char buf[96];
    if (st == -1)
        snprintf(buf, sizeof buf, "not reaped in time");
    else if (WIFSIGNALED(st))
        snprintf(buf, sizeof buf, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(st));
    return buf;
}

long tu_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

long tu_raise_nofile(long n)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    if ((long)rl.rlim_cur < n && rl.rlim_max > rl.rlim_cur) {
        rl.rlim_cur = (long)rl.rlim_max < n ? rl.rlim_max : (rlim_t)n;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (long)rl.rlim_cur;
}
