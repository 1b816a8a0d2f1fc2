# Arithmetic a kernel does: 64-bit Fibonacci with add/adc, factorials with mul, gcd with div,
# signed division, a recursive function with enter/leave, calls through a table, BCD addition with
# daa, bit scans, shld/shrd, cmov/setcc, xadd/cmpxchg, bswap and rdtsc/cpuid.
        .code32
        .text
        .globl _start
_start:
        xor %eax, %eax                 # fib(90) in edx:eax with add/adc; fib(89) stays in ecx:ebx
        xor %edx, %edx
        mov $1, %ebx
        xor %ecx, %ecx
        mov $90, %esi
1:      mov %eax, %edi
        mov %edx, %ebp
        add %ebx, %eax
        adc %ecx, %edx
        mov %edi, %ebx
        mov %ebp, %ecx
        dec %esi
        jnz 1b
        mov %ebx, %edi
        mov $msg_fib, %ebx
        call print_str
        mov %ecx, %eax
        call print_hex
        mov %edi, %eax
        call print_hex
        call newline

        mov $1, %eax                   # 12! with mul
        mov $1, %ecx
2:      mul %ecx
        inc %ecx
        cmp $13, %ecx
        jb 2b
        mov $msg_fact, %ebx
        call print_str
        call print_dec
        call newline

        mov $1071, %eax                # gcd(1071, 462) = 21 with div
        mov $462, %ecx
3:      xor %edx, %edx
        div %ecx
        mov %ecx, %eax
        mov %edx, %ecx
        test %ecx, %ecx
        jnz 3b
        mov $msg_gcd, %ebx
        call print_str
        call print_dec
        call newline

        mov $-1000003, %eax            # -1000003 / 7 with idiv: quotient, remainder
        cltd
        mov $7, %ecx
        idiv %ecx
        neg %eax
        mov $msg_idiv, %ebx
        call print_str
        call print_dec
        call space
        mov %edx, %eax
        neg %eax
        call print_dec
        call newline

        push $10                       # sum(1..10) by a recursive function
        call sum
        add $4, %esp
        mov $msg_sum, %ebx
        call print_str
        call print_dec
        call newline

        xor %esi, %esi                 # calls through a table: ops[i](6, 3) summed
        xor %edi, %edi
4:      push $3
        push $6
        call *ops(,%esi,4)
        add $8, %esp
        add %eax, %edi
        inc %esi
        cmp $4, %esi
        jb 4b
        mov $msg_table, %ebx
        call print_str
        mov %edi, %eax
        call print_dec
        call newline

        mov $0x1999, %ebx              # BCD: 1999 + 2026 a byte at a time with daa
        mov $0x2026, %ecx
        mov %bl, %al
        add %cl, %al
        daa
        mov %al, %dl
        mov %bh, %al
        adc %ch, %al
        daa
        mov %al, %dh
        setc %al
        movzbl %al, %eax
        mov $msg_bcd, %ebx
        call print_str
        call print_dec
        movzwl %dx, %eax
        shl $16, %eax
        call print_hex
        call newline

        mov $0x00f00800, %eax          # bit scans
        bsf %eax, %ecx
        bsr %eax, %edx
        mov $msg_scan, %ebx
        call print_str
        mov %ecx, %eax
        call print_dec
        call space
        mov %edx, %eax
        call print_dec
        call newline

        mov $0x12345678, %eax          # 64-bit shift left by 12 with shld, and bswap
        mov $0x9abcdef0, %edx
        shld $12, %eax, %edx
        shl $12, %eax
        bswap %eax
        mov $msg_shld, %ebx
        call print_str
        xchg %eax, %edx
        call print_hex
        call space
        mov %edx, %eax
        call print_hex
        call newline

        mov $5, %eax                   # max(5, 9) with cmov; xadd; cmpxchg
        mov $9, %ecx
        cmp %ecx, %eax
        cmovl %ecx, %eax
        mov $100, %ebx
        xadd %ebx, counter             # counter = 100 + 1, ebx = 1
        add %ebx, %eax
        mov counter, %ebx
        add %ebx, %eax
        mov $101, %ecx
        xchg %eax, %ecx                # eax = 101 (expected), ecx = result
        mov $7, %edx
        cmpxchg %edx, counter          # counter 101 == 101: becomes 7
        add counter, %ecx
        mov %ecx, %eax
        mov $msg_misc, %ebx
        call print_str
        call print_dec
        call newline

        mov $0x41, %al                 # aam / aad / aaa
        aam
        mov %eax, %ecx
        aad
        movzwl %ax, %eax
        movzwl %cx, %ecx
        shl $16, %ecx
        or %ecx, %eax
        mov $msg_ascii, %ebx
        call print_str
        call print_hex
        call newline
        call exit

# sum(n) = n + sum(n - 1), with a stack frame made by enter/leave.
sum:
        enter $4, $0
        mov 8(%ebp), %eax
        test %eax, %eax
        jz 1f
        mov %eax, -4(%ebp)
        dec %eax
        push %eax
        call sum
        add $4, %esp
        add -4(%ebp), %eax
1:      leave
        ret

op_add: mov 4(%esp), %eax
        add 8(%esp), %eax
        ret
op_sub: mov 4(%esp), %eax
        sub 8(%esp), %eax
        ret
op_mul: mov 4(%esp), %eax
        imull 8(%esp), %eax
        ret
op_div: mov 4(%esp), %eax
        cltd
        idivl 8(%esp)
        ret $0

        .include "lib.S"
        .data
ops:       .long op_add, op_sub, op_mul, op_div
counter:   .long 1
msg_fib:   .asciz "fib(89) = 0x"
msg_fact:  .asciz "12! = "
msg_gcd:   .asciz "gcd(1071, 462) = "
msg_idiv:  .asciz "-1000003 / 7 = -"
msg_sum:   .asciz "sum(1..10) = "
msg_table: .asciz "6+3 + 6-3 + 6*3 + 6/3 = "
msg_bcd:   .asciz "1999 + 2026 in BCD: carry "
msg_scan:  .asciz "bsf, bsr of 0x00f00800: "
msg_shld:  .asciz "shld/bswap: "
msg_misc:  .asciz "cmov/xadd/cmpxchg: "
msg_ascii: .asciz "aam/aad of 0x41: "
