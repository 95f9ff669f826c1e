/* coro_switch_aarch64.S - the context switch of the async mode on AArch64.
 * Only the registers AAPCS64 makes callee-saved are kept: x19-x28, the
 * frame pointer x29, the link register x30 (the switch returns through
 * it) and the low 64 bits of v8-v15 (d8-d15; the upper halves and every
 * other register are caller-saved, and the call itself tells the compiler
 * they are clobbered).  No system call (swapcontext makes a sigprocmask
 * call on every switch).  The frame is 160 bytes, a multiple of 16, so sp
 * stays 16-byte aligned as AAPCS64 requires at every point it is used.
 *
 * Frame layout, from the saved sp upwards (coro.c builds the first one):
 *     0: x19 x20   16: x21 x22   32: x23 x24   48: x25 x26   64: x27 x28
 *    80: x29 x30   96: d8 d9    112: d10 d11  128: d12 d13  144: d14 d15 */
#if defined(__aarch64__)
/* Built with -mbranch-protection=bti|standard (the default of some
 * distributions), every object must carry the BTI property or the linker
 * drops it from the whole library: netsrv__ctx_switch starts with a
 * landing pad (it is called with bl, so it needs none, but costs nothing),
 * netsrv__ctx_start needs none (reached by ret), and coro_boot, which it
 * reaches with blr, gets one from the compiler.  The saved x30 is not
 * signed (the first frame is built in C), so no PAC property is claimed. */
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define NETSRV_BTI_C bti c
#define NETSRV_GNU_PROPERTY_BTI 1
#else
#define NETSRV_BTI_C
#define NETSRV_GNU_PROPERTY_BTI 0
#endif
        .text
/* void netsrv__ctx_switch(void **save_sp, void *load_sp) */
        .globl  netsrv__ctx_switch
        .hidden netsrv__ctx_switch
        .type   netsrv__ctx_switch, %function
        .p2align 2
netsrv__ctx_switch:
        .cfi_startproc
        NETSRV_BTI_C
        sub     sp, sp, #160
        .cfi_def_cfa_offset 160
        stp     x19, x20, [sp, #0]
        stp     x21, x22, [sp, #16]
        stp     x23, x24, [sp, #32]
        stp     x25, x26, [sp, #48]
        stp     x27, x28, [sp, #64]
        stp     x29, x30, [sp, #80]
        stp     d8, d9, [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        mov     x9, sp          /* sp cannot be stored directly */
        str     x9, [x0]
        mov     sp, x1
        ldp     x19, x20, [sp, #0]
        ldp     x21, x22, [sp, #16]
        ldp     x23, x24, [sp, #32]
        ldp     x25, x26, [sp, #48]
        ldp     x27, x28, [sp, #64]
        ldp     x29, x30, [sp, #80]
        ldp     d8, d9, [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        add     sp, sp, #160
        .cfi_def_cfa_offset 0
        ret                     /* to x30: the new context's caller, or
                                   netsrv__ctx_start on a first switch */
        .cfi_endproc
        .size   netsrv__ctx_switch, .-netsrv__ctx_switch

/* First code of a new coroutine: the prepared frame holds fn in x19 and
 * arg in x20, and left sp at the 16-byte aligned top of the stack, x29 0
 * (the end of the frame-pointer chain).  fn never returns (it switches
 * away for the last time); if it did, brk traps at once. */
        .globl  netsrv__ctx_start
        .hidden netsrv__ctx_start
        .type   netsrv__ctx_start, %function
        .p2align 2
netsrv__ctx_start:
        .cfi_startproc
        .cfi_undefined x30
        mov     x0, x20
        blr     x19
        brk     #0x3e8
        .cfi_endproc
        .size   netsrv__ctx_start, .-netsrv__ctx_start

#if NETSRV_GNU_PROPERTY_BTI
        .pushsection .note.gnu.property, "a"
        .p2align 3
        .word   4               /* name size */
        .word   16              /* descriptor size */
        .word   5               /* NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .word   0xc0000000      /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
        .word   4               /* its size */
        .word   NETSRV_GNU_PROPERTY_BTI /* GNU_PROPERTY_AARCH64_FEATURE_1_BTI */
        .word   0               /* padding to 8 bytes */
        .popsection
#endif
#endif
        .section .note.GNU-stack,"",%progbits
