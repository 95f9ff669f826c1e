/* coro.c - coroutine stacks and switching for the async mode.  On x86-64
 * a six-register switch in assembly, on AArch64 a twenty-register one
 * (x19-x30, d8-d15); elsewhere ucontext, which is slower (a system call
 * per switch) but portable. */
#include "config.h"
#include "coro.h"
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define NETSRV_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NETSRV_ASAN 1
#endif
#endif
#ifdef NETSRV_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

/* ThreadSanitizer keeps a shadow stack and a clock per thread; a switch
 * of stacks it is not told about mixes one coroutine's frames and
 * accesses with another's, and its reports make no sense.  Each stack is
 * a fiber to it, switched to right before the stacks change. */
#if defined(NETSRV_TSAN) || defined(__SANITIZE_THREAD__)
#define NETSRV_TSAN_FIBERS 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NETSRV_TSAN_FIBERS 1
#endif
#endif
#ifdef NETSRV_TSAN_FIBERS
#include <sanitizer/tsan_interface.h>
#endif

#ifdef HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
#else
#define VALGRIND_STACK_REGISTER(start, end) 0u
#define VALGRIND_STACK_DEREGISTER(id) ((void)(id))
#endif

#ifdef NETSRV_CORO_ASM
void netsrv__ctx_switch(void **save_sp, void *load_sp);
void netsrv__ctx_start(void);
#endif

/* Atomic: loops in several threads make stacks at once (workers=N), and
 * two of them may fill the cache together.  Relaxed is enough, all write
 * the same value; the load is a plain move. */
static size_t page_size(void)
{
    static _Atomic size_t cached;
    size_t ps = atomic_load_explicit(&cached, memory_order_relaxed);
    if (!ps) {
        ps = (size_t)sysconf(_SC_PAGESIZE);
        atomic_store_explicit(&cached, ps, memory_order_relaxed);
    }
    return ps;
}

/* Under ASan, the bounds of the thread's own stack are learnt from the
 * switches away from it, to be handed back when switching to it. */
static void asan_learn(netsrv__coro *c, const void *bottom, size_t size)
{
    if (c && !c->stack) {
        c->asan_bottom = bottom;
        c->asan_size = size;
    }
}

/* First code run on a new coroutine's stack. */
static void coro_boot(void *p)
{
    netsrv__coro *co = p;
#ifdef NETSRV_ASAN
    const void *bottom;
    size_t size;
    __sanitizer_finish_switch_fiber(NULL, &bottom, &size);
    asan_learn(co->prev, bottom, size);
#else
    (void)asan_learn;
#endif
    co->fn(co->arg);
}

#ifndef NETSRV_CORO_ASM
static void uc_entry(unsigned hi, unsigned lo)
{
    coro_boot((void *)(((uintptr_t)hi << 32) | (uintptr_t)lo));
}
#endif

/* A coroutine ends by switching away for good, so ASan still holds its
 * last frames' redzones as poisoned: clear them before the stack is used
 * again or unmapped (a new mapping may land on the same addresses). */
static void asan_clear(netsrv__coro *co)
{
#ifdef NETSRV_ASAN
    if (co->stack)
        __asan_unpoison_memory_region((char *)co->stack + page_size(), co->size);
#else
    (void)co;
#endif
}

void netsrv__coro_reset(netsrv__coro *co, void (*fn)(void *), void *arg)
{
    asan_clear(co);
    co->fn = fn;
    co->arg = arg;
    co->asan_fake = NULL;
    char *top = (char *)co->stack + page_size() + co->size;
#if defined(NETSRV_CORO_ASM) && defined(__aarch64__)
    /* The frame netsrv__ctx_switch loads (coro_switch_aarch64.S): 160
     * bytes, x19..x28, x29, x30, d8..d15 from the bottom up.  x30 is where
     * its ret goes, netsrv__ctx_start, which calls x19 (coro_boot) with
     * x20 (co) as argument; x29 0 ends the frame-pointer chain.  The frame
     * sits right under the page-aligned top, so after the switch pops it
     * sp is the top itself: 16-byte aligned, as AAPCS64 wants at all
     * times.  The other slots are zeroed only to start from a known
     * state. */
    void **sp = (void **)top - 20;
    memset(sp, 0, 20 * sizeof *sp);
    sp[0] = (void *)coro_boot;          /* x19 */
    sp[1] = co;                         /* x20 */
    sp[10] = 0;                         /* x29 */
    sp[11] = (void *)netsrv__ctx_start; /* x30 */
    co->sp = sp;
#elif defined(NETSRV_CORO_ASM)
    /* The frame netsrv__ctx_switch pops: r15 r14 r13 r12 rbx rbp, then the
     * return address netsrv__ctx_start, which is entered with rsp 16-byte
     * aligned so its call gives fn the ABI's alignment. */
    void **sp = (void **)top;
    *--sp = (void *)netsrv__ctx_start;
    *--sp = 0;          /* rbp */
    *--sp = 0;          /* rbx */
    *--sp = (void *)coro_boot; /* r12 */
    *--sp = co;                /* r13 */
    *--sp = 0;          /* r14 */
    *--sp = 0;          /* r15 */
    co->sp = sp;
#else
    getcontext(&co->uc);
    co->uc.uc_stack.ss_sp = (char *)co->stack + page_size();
    co->uc.uc_stack.ss_size = co->size;
    co->uc.uc_link = NULL;
    uintptr_t p = (uintptr_t)co;
    makecontext(&co->uc, (void (*)(void))uc_entry, 2, (unsigned)(p >> 32), (unsigned)p);
    (void)top;
#endif
}

int netsrv__coro_init(netsrv__coro *co, size_t size, void (*fn)(void *), void *arg)
{
    size_t ps = page_size();
    memset(co, 0, sizeof *co);
    size = (size + ps - 1) / ps * ps;
    if (size < 4 * ps)
        size = 4 * ps;
    /* MAP_NORESERVE: pages cost memory only once touched, so an idle
     * request costs the one or two pages its frames really use. */
    void *mem = mmap(NULL, size + ps, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (mem == MAP_FAILED)
        return -errno;
    if (mprotect(mem, ps, PROT_NONE) < 0) { /* the guard page */
        int e = errno;
        munmap(mem, size + ps);
        return -e;
    }
    co->stack = mem;
    co->size = size;
    /* without this, memcheck takes every switch for a wild stack pointer */
    co->valgrind_id = VALGRIND_STACK_REGISTER((char *)mem + ps, (char *)mem + ps + size);
#ifdef NETSRV_TSAN_FIBERS
    /* Kept while the stack is reused by other tasks of the same loop:
     * they run one after the other on its thread, and every switch
     * orders them (a synchronising switch), so one fiber per stack does. */
    co->tsan_fiber = __tsan_create_fiber(0);
#endif
    netsrv__coro_reset(co, fn, arg);
    return 0;
}

void netsrv__coro_free(netsrv__coro *co)
{
    asan_clear(co);
    if (co->stack)
        VALGRIND_STACK_DEREGISTER(co->valgrind_id);
    if (co->stack)
        munmap(co->stack, co->size + page_size());
#ifdef NETSRV_TSAN_FIBERS
    /* Never the running fiber: stacks are freed from the loop's context. */
    if (co->stack && co->tsan_fiber)
        __tsan_destroy_fiber(co->tsan_fiber);
    co->tsan_fiber = NULL;
#endif
    co->stack = NULL;
}

void netsrv__coro_switch(netsrv__coro *from, netsrv__coro *to, int last)
{
    to->prev = from;
#ifdef NETSRV_ASAN
    /* Tell ASan which stack we go to; a coroutine's own bounds are its
     * mmap'd region, the thread's stack bounds are learnt on the first
     * switch away from it. */
    const void *bottom = to->stack ? (char *)to->stack + page_size() : to->asan_bottom;
    size_t size = to->stack ? to->size : to->asan_size;
    __sanitizer_start_switch_fiber(last ? NULL : &from->asan_fake, bottom, size);
#else
    (void)last;
#endif
#ifdef NETSRV_TSAN_FIBERS
    /* A context with no stack of its own (a loop's) is whatever fiber
     * runs it, the thread's as a rule: learnt on each switch away, since
     * a loop may run in another thread than the last time. */
    if (!from->stack)
        from->tsan_fiber = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
#ifdef NETSRV_CORO_ASM
    netsrv__ctx_switch(&from->sp, to->sp);
#else
    swapcontext(&from->uc, &to->uc);
#endif
#ifdef NETSRV_ASAN
    const void *prev_bottom;
    size_t prev_size;
    __sanitizer_finish_switch_fiber(from->asan_fake, &prev_bottom, &prev_size);
    asan_learn(from->prev, prev_bottom, prev_size);
#endif
}
