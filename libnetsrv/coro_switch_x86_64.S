/* coro_switch_x86_64.S - the context switch of the async mode on x86-64.
 * Only the registers the SysV ABI makes callee-saved are kept: the call
 * itself tells the compiler every other one is clobbered.  No system
 * call (swapcontext makes a sigprocmask call on every switch). */
#if defined(__x86_64__)
        .text
/* void netsrv__ctx_switch(void **save_sp, void *load_sp) */
        .globl  netsrv__ctx_switch
        .hidden netsrv__ctx_switch
        .type   netsrv__ctx_switch, @function
netsrv__ctx_switch:
        .cfi_startproc
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
#endif
        .section .note.GNU-stack,"",@progbits
