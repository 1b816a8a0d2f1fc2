# Self-modifying code: a loop patches the immediate of an instruction it is about to run again, and
# a routine is copied to another page, patched and called. The decoded-block cache must notice.
        .code32
        # Code that rewrites itself must live in a writable section ("awx"): .text is read-only.
        .section .smc, "awx", @progbits
        .globl _start
_start:
        xor %esi, %esi
        xor %edi, %edi
1:
patch:  mov $1, %eax                   # b8 imm32: the loop rewrites imm32
        add %eax, %edi
        inc %esi
        mov %esi, %ecx
        imul %ecx, %ecx
        mov %ecx, patch + 1            # next time round: mov $(i*i), %eax
        cmp $10, %esi
        jb 1b
        mov $msg_sum, %ebx
        call print_str
        mov %edi, %eax
        call print_dec
        call newline

        mov $routine, %esi             # copy the routine into a buffer on another page, run it,
        mov $buffer, %edi              # patch its constant, run it again
        mov $(routine_end - routine), %ecx
        rep movsb
        call buffer
        mov %eax, %ebp
        movl $1000, buffer + 1
        call buffer
        add %ebp, %eax
        mov $msg_copy, %ebx
        call print_str
        call print_dec
        call newline

        movb $0x40, next               # turn the nop below into inc %eax, just before running it
        xor %eax, %eax
next:   nop
        mov $msg_next, %ebx
        call print_str
        call print_dec
        call newline
        call exit

routine:
        mov $7, %eax
        add $35, %eax
        ret
routine_end:

        .text
        .include "lib.S"
        .data
msg_sum:  .asciz "sum of patched immediates: "
msg_copy: .asciz "copied routine: "
msg_next: .asciz "patched next instruction: "
        .bss
        .align 4096
buffer: .space 64
