/* coro.h - coroutines for the async mode: a context is a saved stack
 * pointer; switching saves the callee-saved registers on the old stack
 * and restores them from the new one.  Stacks are mmap'd with a guard
 * page below them, so an overflow faults instead of corrupting memory. */
#ifndef NETSRV_CORO_H
#define NETSRV_CORO_H

#include <stddef.h>

/* The assembly switch exists for x86-64 (coro_switch_x86_64.S) and
 * AArch64 (coro_switch_aarch64.S); both files are always built and each
 * assembles to nothing on the other architecture.  NETSRV_CORO_UCONTEXT
 * forces the portable fallback (the tests use it to check that path). */
#if (defined(__x86_64__) || defined(__aarch64__)) && !defined(NETSRV_CORO_UCONTEXT)
#define NETSRV_CORO_ASM 1
#else
#include <ucontext.h>
#endif

typedef struct netsrv__coro {
    void *sp;              /* saved stack pointer (asm switch) */
#ifndef NETSRV_CORO_ASM
    ucontext_t uc;
#endif
    void *stack;           /* mmap'd region, guard page first; NULL for the
                              thread's own stack */
    size_t size;           /* usable bytes above the guard page */
    void (*fn)(void *);
    void *arg;
    struct netsrv__coro *prev; /* the context that switched to this one */
    /* AddressSanitizer fiber bookkeeping (unused otherwise) */
    void *asan_fake;
    const void *asan_bottom;
    size_t asan_size;
    unsigned valgrind_id;  /* the stack as registered with valgrind */
    /* ThreadSanitizer's fiber: made with the stack, freed with it, and
     * learnt from the thread for a context with no stack of its own */
    void *tsan_fiber;
} netsrv__coro;

/* Maps a stack of size bytes (rounded up to pages) plus a guard page and
 * prepares co to run fn(arg) on its first switch.  Returns 0 or -errno. */
int netsrv__coro_init(netsrv__coro *co, size_t size, void (*fn)(void *), void *arg);
/* Prepares co again with a stack it already has (stacks are reused). */
void netsrv__coro_reset(netsrv__coro *co, void (*fn)(void *), void *arg);
void netsrv__coro_free(netsrv__coro *co);
/* Saves the running context in from and runs to.  A coroutine whose
 * function has ended must not be switched to again; last says this is
 * from's final switch (its stack may be reused). */
void netsrv__coro_switch(netsrv__coro *from, netsrv__coro *to, int last);

#endif
