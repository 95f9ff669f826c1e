/* coro_switch_x86_64.S - the context switch of the async mode on x86-64.
 * Only the registers the SysV ABI makes callee-saved are kept: the call
 * itself tells the compiler every other one is clobbered.  No system
 * call (swapcontext makes a sigprocmask call on every switch). */
#if defined(__x86_64__)
/* Built with -fcf-protection=branch|full (the default of some
 * distributions), every object must carry the IBT property or the linker
 * drops it from the whole library.  netsrv__ctx_switch starts with a
 * landing pad: it is called directly, but a call through a pointer or a
 * PLT slot would need one.  netsrv__ctx_start gets none on purpose: it is
 * only reached by ret, which IBT does not check, and a landing pad would
 * make its "call r12 with r13" a legal target for any indirect jump.
 * coro_boot, which it reaches with call *%r12, gets one from the compiler.
 * SHSTK is never claimed, even under -fcf-protection=full: the switch
 * returns on another stack than it was called on, which a shadow stack
 * would stop as a corrupted return. */
#if defined(__CET__) && (__CET__ & 1)
#define NETSRV_ENDBR endbr64
#define NETSRV_GNU_PROPERTY_IBT 1
#else
#define NETSRV_ENDBR
#define NETSRV_GNU_PROPERTY_IBT 0
#endif
        .text
/* void netsrv__ctx_switch(void **save_sp, void *load_sp) */
        .globl  netsrv__ctx_switch
        .hidden netsrv__ctx_switch
        .type   netsrv__ctx_switch, @function
netsrv__ctx_switch:
        .cfi_startproc
        NETSRV_ENDBR
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        movq    %rsp, (%rdi)
        movq    %rsi, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .cfi_endproc
        .size   netsrv__ctx_switch, .-netsrv__ctx_switch

/* First code of a new coroutine: the prepared stack holds fn in r12 and
 * arg in r13.  fn never returns (it switches away for the last time). */
        .globl  netsrv__ctx_start
        .hidden netsrv__ctx_start
        .type   netsrv__ctx_start, @function
netsrv__ctx_start:
        .cfi_startproc
        .cfi_undefined rip
        movq    %r13, %rdi
        callq   *%r12
        ud2
        .cfi_endproc
        .size   netsrv__ctx_start, .-netsrv__ctx_start

#if NETSRV_GNU_PROPERTY_IBT
        .pushsection .note.gnu.property, "a"
        .p2align 3
        .long   4               /* name size */
        .long   16              /* descriptor size */
        .long   5               /* NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .long   0xc0000002      /* GNU_PROPERTY_X86_FEATURE_1_AND */
        .long   4               /* its size */
        .long   NETSRV_GNU_PROPERTY_IBT /* GNU_PROPERTY_X86_FEATURE_1_IBT; no SHSTK (2) */
        .long   0               /* padding to 8 bytes */
        .popsection
#endif
#endif
        .section .note.GNU-stack,"",@progbits
