/* coro.c - the coroutines of the async mode on their own (libnetsrv/coro.c
 * and the assembly switch of the machine, or the ucontext fallback when
 * built with -DNETSRV_CORO_UCONTEXT): ping-pong between the thread's own
 * context and several coroutines, callee-saved integer and floating-point
 * values kept across switches, reset and reuse of an ended coroutine, deep
 * recursion, parking deep in calls, the ABI's stack alignment, the guard
 * page, and (in a ThreadSanitizer build) that a race in a coroutine is
 * reported with the coroutine's own calls.
 *
 * Only coro.c and the switch are needed (contrib/cross/check-coro-aarch64.sh
 * builds this file for AArch64 without the rest of the library), and the
 * TAP output is printed from the thread's own stack only: the coroutines
 * leave their results in memory for main() to check. */
#include "config.h"
#include "coro.h"
#include "tap.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define STACK (64 * 1024)

static netsrv__coro main_co; /* the thread's own context: no stack of its own */

/* ------------------------------------------------------------ ping-pong */
#define NPP 3
#define ROUNDS 50000 /* each round is two switches: 100000 in all */

struct pp {
    netsrv__coro co;
    long id;
    long runs;       /* rounds this coroutine saw */
    long bad;        /* rounds where the shared value was not the expected one */
    long last_seen;  /* the value it read in its last round */
    int ended;
};

static volatile long shared;

static void pp_fn(void *arg)
{
    struct pp *me = arg;
    long prev = -1;
    for (;;) {
        long v = shared;
        if (v < 0)
            break;
        /* main hands out 0, 1, 2, ... round-robin, so this one sees every
         * NPP-th value, each NPP above its previous one. */
        if (prev >= 0 && v != prev + NPP)
            me->bad++;
        prev = v;
        me->last_seen = v;
        shared = v * 4 + me->id;
        me->runs++;
        netsrv__coro_switch(&me->co, &main_co, 0);
    }
    me->ended = 1;
    netsrv__coro_switch(&me->co, &main_co, 1); /* never comes back */
}

static void test_pingpong(void)
{
    struct pp pp[NPP];
    int init_ok = 1;
    memset(pp, 0, sizeof pp);
    for (int i = 0; i < NPP; i++) {
        pp[i].id = i;
        if (netsrv__coro_init(&pp[i].co, STACK, pp_fn, &pp[i]) != 0)
            init_ok = 0;
    }
    if (!ok(init_ok, "ping-pong: %d coroutines made", NPP))
        bail_out("cannot map coroutine stacks");
    long bad_reply = 0;
    for (long r = 0; r < ROUNDS; r++) {
        int k = (int)(r % NPP);
        shared = r;
        netsrv__coro_switch(&main_co, &pp[k].co, 0);
        if (shared != r * 4 + k)
            bad_reply++;
    }
    is(bad_reply, 0, "ping-pong: %d rounds, every reply through shared memory right", ROUNDS);
    long runs = 0, bad = 0;
    for (int i = 0; i < NPP; i++) {
        runs += pp[i].runs;
        bad += pp[i].bad;
    }
    is(runs, ROUNDS, "ping-pong: the coroutines ran %d rounds between them", ROUNDS);
    is(bad, 0, "ping-pong: each coroutine saw the values in order");
    long want_last = -1; /* the last round that went to the last coroutine */
    for (long r = 0; r < ROUNDS; r++)
        if (r % NPP == NPP - 1)
            want_last = r;
    is(pp[NPP - 1].last_seen, want_last, "ping-pong: the last coroutine's last value");
    shared = -1;
    int ended = 0;
    for (int i = 0; i < NPP; i++) {
        netsrv__coro_switch(&main_co, &pp[i].co, 0);
        ended += pp[i].ended;
    }
    is(ended, NPP, "ping-pong: all coroutines ended with a final switch");
    for (int i = 0; i < NPP; i++)
        netsrv__coro_free(&pp[i].co);
}

/* ------------------------------------------------- callee-saved registers
 * work() keeps eight integers and eight doubles live across a call in every
 * iteration; at -O2 the compiler holds as many of them as it can in the
 * callee-saved registers (rbx rbp r12-r15 on x86-64, x19-x28 and d8-d15 on
 * AArch64), spilling the rest to the stack.  The call is a switch to the
 * other context, which runs work() too with other values, so a register
 * the switch failed to keep would come back holding the other context's
 * number.  The same function run with a call that does not switch gives
 * the reference: same machine code, so the same results bit for bit. */
struct regs_result {
    unsigned long i;
    double d;
};

typedef void (*yield_fn)(void *);

static __attribute__((noinline)) struct regs_result work(long seed, long n, yield_fn yield, void *ctx)
{
    unsigned long a = (unsigned long)seed, b = a * 3 + 1, c = a ^ 0x5555, d = a + 7,
                  e = a * 11, f = a ^ 0xf0f0f0f0ul, g = a + 12345, h = ~a;
    double da = (double)seed, db = da + 0.5, dc = da * 0.25, dd = da + 3.0,
           de = da * 1.5, df = da - 2.0, dg = da + 1e3, dh = da * 0.125;
    for (long k = 0; k < n; k++) {
        yield(ctx);
        a = a * 6364136223846793005ul + 1442695040888963407ul;
        b ^= a >> 7;
        c += b * 31;
        d = (d << 3) ^ c;
        e += d >> 5;
        f ^= e * 17;
        g = g * 5 + f;
        h += g ^ (h >> 11);
        da = da * 0.5 + (double)(k & 7);
        db = db * 0.75 + da;
        dc = dc * 0.5 + db * 0.25;
        dd = dd * 0.5 + dc;
        de = de * 0.25 + dd * 0.5;
        df = df * 0.5 + de;
        dg = dg * 0.75 + df * 0.125;
        dh = dh * 0.5 + dg;
    }
    struct regs_result r = {
        a ^ b ^ c ^ d ^ e ^ f ^ g ^ h,
        da + db * 2 + dc * 3 + dd * 5 + de * 7 + df * 11 + dg * 13 + dh * 17,
    };
    return r;
}

#define REGS_N 20000

/* Called through a volatile pointer, so the compiler can make no copy of
 * work() specialised for one yield function (the reference run and the
 * switching runs must share one machine code). */
static struct regs_result (*volatile work_p)(long, long, yield_fn, void *) = work;

static void no_yield(void *ctx)
{
    (void)ctx;
}

/* The two coroutines and main pass control in a ring: main -> A -> B ->
 * main, so a switch goes from coroutine to coroutine too. */
static netsrv__coro regs_a, regs_b;
static struct regs_result res_a, res_b;
static int done_a, done_b;

static void yield_a(void *ctx)
{
    (void)ctx;
    netsrv__coro_switch(&regs_a, &regs_b, 0);
}

static void yield_b(void *ctx)
{
    (void)ctx;
    netsrv__coro_switch(&regs_b, &main_co, 0);
}

static void yield_main(void *ctx)
{
    (void)ctx;
    netsrv__coro_switch(&main_co, &regs_a, 0);
}

static void regs_a_fn(void *arg)
{
    (void)arg;
    res_a = work_p(101, REGS_N, yield_a, NULL);
    done_a = 1;
    /* main has ended its loop: finish in a ring without it, A -> B -> main */
    netsrv__coro_switch(&regs_a, &regs_b, 1);
}

static void regs_b_fn(void *arg)
{
    (void)arg;
    res_b = work_p(202, REGS_N, yield_b, NULL);
    done_b = 1;
    netsrv__coro_switch(&regs_b, &main_co, 1);
}

static void test_regs(void)
{
    struct regs_result want_a = work_p(101, REGS_N, no_yield, NULL);
    struct regs_result want_b = work_p(202, REGS_N, no_yield, NULL);
    struct regs_result want_m = work_p(303, REGS_N, no_yield, NULL);
    if (netsrv__coro_init(&regs_a, STACK, regs_a_fn, NULL) != 0 ||
        netsrv__coro_init(&regs_b, STACK, regs_b_fn, NULL) != 0)
        bail_out("cannot map coroutine stacks");
    /* Each yield of main's runs A and B once; main yields REGS_N times,
     * each coroutine yields REGS_N times, then A ends and hands over to B
     * which ends and comes back here. */
    struct regs_result got_m = work_p(303, REGS_N, yield_main, NULL);
    /* A and B have yielded REGS_N times; one more round lets them end. */
    netsrv__coro_switch(&main_co, &regs_a, 0);
    ok(done_a && done_b, "registers: both coroutines ended");
    ok(got_m.i == want_m.i && memcmp(&got_m.d, &want_m.d, sizeof(double)) == 0,
       "registers: integer and floating-point values of main kept across %d switches", 2 * REGS_N);
    ok(res_a.i == want_a.i, "registers: integer values of coroutine A kept");
    ok(memcmp(&res_a.d, &want_a.d, sizeof(double)) == 0, "registers: floating-point values of coroutine A kept");
    ok(res_b.i == want_b.i, "registers: integer values of coroutine B kept");
    ok(memcmp(&res_b.d, &want_b.d, sizeof(double)) == 0, "registers: floating-point values of coroutine B kept");
    if (got_m.i != want_m.i || res_a.i != want_a.i || res_b.i != want_b.i)
        diag("  main %lx/%lx A %lx/%lx B %lx/%lx", got_m.i, want_m.i, res_a.i, want_a.i, res_b.i, want_b.i);
    netsrv__coro_free(&regs_a);
    netsrv__coro_free(&regs_b);
}

/* ---------------------------------------------------------- reset, reuse */
struct job {
    long in, out;
    uintptr_t frame; /* where the job's first frame was */
    int ended;
};

static netsrv__coro reuse_co;

static __attribute__((noinline)) void job_fn(void *arg)
{
    struct job *j = arg;
    j->frame = (uintptr_t)__builtin_frame_address(0);
    long x = j->in;
    /* one switch in the middle: a job is a coroutine that parks */
    netsrv__coro_switch(&reuse_co, &main_co, 0);
    j->out = x * x + 1;
    j->ended = 1;
    netsrv__coro_switch(&reuse_co, &main_co, 1);
}

static __attribute__((noinline)) void job2_fn(void *arg)
{
    struct job *j = arg;
    j->frame = (uintptr_t)__builtin_frame_address(0);
    j->out = -j->in;
    j->ended = 1;
    netsrv__coro_switch(&reuse_co, &main_co, 1);
}

#define REUSES 1000

static void test_reuse(void)
{
    struct job j = {.in = 0};
    if (netsrv__coro_init(&reuse_co, STACK, job_fn, &j) != 0)
        bail_out("cannot map a coroutine stack");
    long wrong = 0, moved = 0;
    uintptr_t first_frame = 0;
    for (long n = 0; n < REUSES; n++) {
        memset(&j, 0, sizeof j);
        j.in = n;
        if (n > 0)
            netsrv__coro_reset(&reuse_co, job_fn, &j);
        netsrv__coro_switch(&main_co, &reuse_co, 0); /* runs to the park */
        if (j.ended)
            wrong++;
        netsrv__coro_switch(&main_co, &reuse_co, 0); /* runs to its end */
        if (!j.ended || j.out != n * n + 1)
            wrong++;
        if (n == 0)
            first_frame = j.frame;
        else if (j.frame != first_frame)
            moved++;
    }
    is(wrong, 0, "reuse: one coroutine reset and run %d times, each run right", REUSES);
    is(moved, 0, "reuse: each run starts at the same place on the stack (reset rewinds it)");
    /* Reset to another function and argument. */
    memset(&j, 0, sizeof j);
    j.in = 42;
    netsrv__coro_reset(&reuse_co, job2_fn, &j);
    netsrv__coro_switch(&main_co, &reuse_co, 0);
    ok(j.ended && j.out == -42, "reuse: reset to another function runs that one");
    netsrv__coro_free(&reuse_co);
    ok(reuse_co.stack == NULL, "reuse: freed");
}

/* ------------------------------------------------------------ recursion */
static netsrv__coro deep_co;
static uintptr_t deep_top;
static size_t deep_target, deep_used;
static long deep_depth, deep_sum;
static int deep_ended;

/* Each level keeps a 512-byte buffer live across the call below it, so
 * neither the buffer nor the recursion can be optimised away. */
static __attribute__((noinline)) long recurse(long depth)
{
    volatile unsigned char buf[512];
    for (size_t i = 0; i < sizeof buf; i += 64)
        buf[i] = (unsigned char)depth;
    size_t used = deep_top - (uintptr_t)__builtin_frame_address(0);
    if (used > deep_used)
        deep_used = used;
    long below = 0;
    if (used < deep_target) {
        below = recurse(depth + 1);
    } else {
        deep_depth = depth;
    }
    long s = 0;
    for (size_t i = 0; i < sizeof buf; i += 64)
        s += buf[i];
    return below + s / 8;
}

static void deep_fn(void *arg)
{
    (void)arg;
    deep_sum = recurse(0);
    deep_ended = 1;
    netsrv__coro_switch(&deep_co, &main_co, 1);
}

static void test_recursion(void)
{
    if (netsrv__coro_init(&deep_co, STACK, deep_fn, NULL) != 0)
        bail_out("cannot map a coroutine stack");
    deep_top = (uintptr_t)deep_co.stack + (uintptr_t)sysconf(_SC_PAGESIZE) + deep_co.size;
    deep_target = 32 * 1024;
    netsrv__coro_switch(&main_co, &deep_co, 0);
    ok(deep_ended, "recursion: a coroutine on a 64 KiB stack recursed and ended");
    ok(deep_used >= 32 * 1024 && deep_used < STACK, "recursion: it used %zu bytes (at least 32 KiB), %ld levels",
       deep_used, deep_depth);
    /* each level adds its depth (mod 256) */
    long want = 0;
    for (long d = 0; d <= deep_depth; d++)
        want += d & 0xff;
    is(deep_sum, want, "recursion: every level's locals intact on the way back");
    netsrv__coro_free(&deep_co);
}

/* ---------------------------------------------------------- park deep */
/* A coroutine that parks at the bottom of a deep call chain while the
 * other side runs at another depth, round after round: each side's calls
 * must return into its own frames.  Under ThreadSanitizer this is what
 * the fiber switches in coro.c are for: the runtime keeps a shadow call
 * stack per thread, and without a fiber per coroutine both sides' calls
 * and returns would land on one shadow stack, which then runs below its
 * start by about PARK_DEPTH entries a round (the runtime crashes, or its
 * reports name frames that are not there). */
#define PARK_DEPTH 300
#define PARK_ROUNDS 200
static netsrv__coro park_co;
static long park_rounds_done;

static __attribute__((noinline)) long park_down(long n)
{
    if (n == 0) {
        netsrv__coro_switch(&park_co, &main_co, 0); /* parked, deep */
        return 0;
    }
    long r = park_down(n - 1);
    __asm__ volatile("" : "+r"(r) : : "memory"); /* no tail call */
    return r + 1;
}

static void park_fn(void *arg)
{
    (void)arg;
    for (long i = 0; i < PARK_ROUNDS; i++) {
        if (park_down(PARK_DEPTH) != PARK_DEPTH)
            break;
        park_rounds_done++;
        netsrv__coro_switch(&park_co, &main_co, 0); /* parked, shallow */
    }
    netsrv__coro_switch(&park_co, &main_co, 1);
}

/* The other side: its own calls, a few levels deep, between the switches. */
static __attribute__((noinline)) void park_resume(long n)
{
    if (n > 0) {
        park_resume(n - 1);
        __asm__ volatile("" : : : "memory");
        return;
    }
    netsrv__coro_switch(&main_co, &park_co, 0);
}

static void test_park_deep(void)
{
    if (netsrv__coro_init(&park_co, STACK, park_fn, NULL) != 0)
        bail_out("cannot map a coroutine stack");
    for (long i = 0; i < 2 * PARK_ROUNDS + 1 && park_rounds_done < PARK_ROUNDS; i++)
        park_resume(i % 7);
    netsrv__coro_switch(&main_co, &park_co, 0); /* lets it end */
    is(park_rounds_done, PARK_ROUNDS,
       "park deep: %d rounds of parking %d calls deep while the other side runs elsewhere",
       PARK_ROUNDS, PARK_DEPTH);
    netsrv__coro_free(&park_co);
}

/* ---------------------------------------------------- ThreadSanitizer */
/* Under ThreadSanitizer each coroutine is a fiber of its own (coro.c), so
 * that a report about code in a coroutine shows the coroutine's calls and
 * only those.  Without the fibers the runtime keeps one shadow call stack
 * for the thread, the coroutine's calls pushed on top of whatever the
 * thread was doing when it switched, and the report names frames that
 * are not on the coroutine's stack at all.  A child provokes a real race
 * (a write in a coroutine against one in another thread, ordered only by
 * a relaxed flag) and the parent reads the report. */
#if defined(__SANITIZE_THREAD__)
#define CORO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CORO_TSAN 1
#endif
#endif

#ifdef CORO_TSAN
#include <pthread.h>
#include <stdatomic.h>

static netsrv__coro race_co;
static volatile int race_var; /* volatile: a store nobody reads is not optimised away */
static atomic_int race_flag, race_done;

/* It stays until the coroutine has written too: the report is then about
 * two running threads. */
static void *race_thread_fn(void *arg)
{
    (void)arg;
    race_var = 1;
    atomic_store_explicit(&race_flag, 1, memory_order_relaxed);
    while (!atomic_load_explicit(&race_done, memory_order_relaxed))
        ;
    return NULL;
}

static __attribute__((noinline)) void coro_racy_store(void)
{
    while (!atomic_load_explicit(&race_flag, memory_order_relaxed))
        ;
    race_var = 2;
    atomic_store_explicit(&race_done, 1, memory_order_relaxed);
}

static __attribute__((noinline)) void race_co_fn(void *arg)
{
    (void)arg;
    coro_racy_store();
    netsrv__coro_switch(&race_co, &main_co, 1);
}

/* The thread's own frame the coroutine is entered from. */
static __attribute__((noinline)) void race_main_marker(void)
{
    netsrv__coro_switch(&main_co, &race_co, 0);
    __asm__ volatile("" : : : "memory");
}

static void test_tsan_fibers(void)
{
    int p[2];
    if (pipe(p) < 0)
        bail_out("pipe");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        pthread_t t;
        close(p[0]);
        dup2(p[1], 2);
        if (netsrv__coro_init(&race_co, STACK, race_co_fn, NULL) != 0 ||
            pthread_create(&t, NULL, race_thread_fn, NULL) != 0)
            _exit(3);
        race_main_marker();
        pthread_join(t, NULL);
        _exit(0);
    }
    close(p[1]);
    static char rep[65536];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof rep - 1 && (n = read(p[0], rep + len, sizeof rep - 1 - len)) > 0)
        len += (size_t)n;
    rep[len] = 0;
    close(p[0]);
    waitpid(pid, NULL, 0);
    /* The access block of the report that is the coroutine's: from its
     * "Write of size" line to the next blank line. */
    char *at = strstr(rep, "coro_racy_store"), *start = at;
    /* back to the line that opens the block, indented by two spaces */
    while (start && start > rep &&
           !(start[-1] == '\n' && start[0] == ' ' && start[1] == ' ' && start[2] != ' '))
        start--;
    char *end = at ? strstr(at, "\n\n") : NULL;
    if (end)
        *end = 0;
    int found = at && strstr(rep, "ThreadSanitizer: data race");
    ok(found && strstr(start, "race_co_fn") && !strstr(start, "race_main_marker"),
       "ThreadSanitizer: a race in a coroutine is reported with the coroutine's own calls only");
    if (end)
        *end = '\n';
    if (!found || strstr(start, "race_main_marker") || !strstr(start, "race_co_fn"))
        diag("report: %.1500s", rep);
}
#else
static void test_tsan_fibers(void)
{
    skip(1, "not a ThreadSanitizer build (make check-tsan runs it)");
}
#endif

/* The guard page: a coroutine that recurses without end faults instead of
 * writing below its stack.  In a child, with no core file. */
static void overflow_fn(void *arg)
{
    (void)arg;
    deep_target = (size_t)-1;
    recurse(0);
    _exit(0); /* not reached */
}

static void test_guard(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        skip(1, "fork failed");
        return;
    }
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        /* the fault is the expected outcome: keep it off the test's output */
        if (!freopen("/dev/null", "w", stderr))
            _exit(3);
        netsrv__coro co;
        if (netsrv__coro_init(&co, STACK, overflow_fn, NULL) != 0)
            _exit(2);
        deep_top = (uintptr_t)co.stack + (uintptr_t)sysconf(_SC_PAGESIZE) + co.size;
        deep_used = 0;
        netsrv__coro_switch(&main_co, &co, 0);
        _exit(0);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        ;
    /* killed by SIGSEGV, or under AddressSanitizer its report's exit 1,
     * under ThreadSanitizer its report's exit 66 (its default exitcode) */
    ok(WIFSIGNALED(st) || (WIFEXITED(st) && (WEXITSTATUS(st) == 1 || WEXITSTATUS(st) == 66)),
       "guard page: a coroutine overflowing its stack faults (%s %d)",
       WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

/* ------------------------------------------------------------ alignment
 * A function entered on a coroutine sees the stack aligned as its caller
 * would leave it in a normal thread: 16 bytes on x86-64 and AArch64 (the
 * frame address, after the return address and saved frame pointer, is a
 * multiple of 16 there), so 16-byte aligned locals are where the compiler
 * assumes (it does not realign for them) and SSE / long double code that
 * relies on that works. */
static netsrv__coro align_co;
static uintptr_t align_frame1, align_frame2, align_local1, align_local2;
static long double align_ld;
static int align_ended;

static __attribute__((noinline)) long double align_inner(long double x)
{
    alignas(16) volatile unsigned char buf[48];
    volatile long double ld = x;
    align_frame2 = (uintptr_t)__builtin_frame_address(0);
    align_local2 = (uintptr_t)buf | ((uintptr_t)&ld & 15);
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)i;
    return ld * 3.0L + buf[47];
}

static void align_fn(void *arg)
{
    (void)arg;
    alignas(16) volatile unsigned char buf[32];
    align_frame1 = (uintptr_t)__builtin_frame_address(0);
    align_local1 = (uintptr_t)buf;
    buf[0] = 1;
    align_ld = align_inner(1.5L) + buf[0];
    align_ended = 1;
    netsrv__coro_switch(&align_co, &main_co, 1);
}

static void test_alignment(void)
{
    if (netsrv__coro_init(&align_co, STACK, align_fn, NULL) != 0)
        bail_out("cannot map a coroutine stack");
    for (int round = 0; round < 2; round++) {
        align_ended = 0;
        align_frame1 = align_frame2 = align_local1 = align_local2 = 1;
        if (round)
            netsrv__coro_reset(&align_co, align_fn, NULL);
        netsrv__coro_switch(&main_co, &align_co, 0);
        const char *when = round ? "after a reset" : "first run";
        ok(align_ended && align_ld == 1.5L * 3.0L + 47 + 1, "alignment (%s): long double code on the coroutine ran", when);
        ok(align_frame1 % 16 == 0 && align_frame2 % 16 == 0,
           "alignment (%s): frame addresses 16-byte aligned (%#lx, %#lx)", when,
           (unsigned long)align_frame1, (unsigned long)align_frame2);
        ok(align_local1 % 16 == 0 && align_local2 % 16 == 0,
           "alignment (%s): 16-byte aligned locals where they should be", when);
    }
    netsrv__coro_free(&align_co);
}

int main(void)
{
    plan(6 + 6 + 4 + 3 + 1 + 1 + 1 + 6);
#ifdef NETSRV_CORO_ASM
    diag("switch: assembly");
#else
    diag("switch: ucontext");
#endif
    test_pingpong();
    test_regs();
    test_reuse();
    test_recursion();
    test_park_deep();
    test_tsan_fibers();
    test_guard();
    test_alignment();
    return done_testing();
}
