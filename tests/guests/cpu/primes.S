# Sieve of Eratosthenes below 20000 on a bitmap (bts/bt), then: how many primes, the last one,
# the sum of the first 100, and the primes below 100.
        .code32
        .text
        .globl _start
        .set N, 20000
_start:
        mov $bitmap, %edi              # clear the bitmap: "composite" bits
        mov $(N / 32 + 1), %ecx
        xor %eax, %eax
        cld
        rep stosl
        mov $2, %esi                   # for p = 2; p * p < N; p++
1:      mov %esi, %eax
        mul %esi
        cmp $N, %eax
        jae 3f
        bt %esi, bitmap
        jc 2f
        mov %eax, %ebx                 # for m = p*p; m < N; m += p: mark
4:      bts %ebx, bitmap
        add %esi, %ebx
        cmp $N, %ebx
        jb 4b
2:      inc %esi
        jmp 1b
3:      xor %ecx, %ecx                 # count, last, sum of first 100
        xor %ebp, %ebp
        xor %edx, %edx
        mov $2, %esi
5:      bt %esi, bitmap
        jc 6f
        inc %ecx
        mov %esi, %edx
        cmp $100, %ecx
        ja 6f
        add %esi, %ebp
6:      inc %esi
        cmp $N, %esi
        jb 5b
        mov $msg_count, %ebx
        call print_str
        mov %ecx, %eax
        call print_dec
        call newline
        mov $msg_last, %ebx
        call print_str
        mov %edx, %eax
        call print_dec
        call newline
        mov $msg_sum, %ebx
        call print_str
        mov %ebp, %eax
        call print_dec
        call newline
        mov $2, %esi                   # the primes below 100
7:      btl %esi, bitmap
        jc 8f
        mov %esi, %eax
        call print_dec
        call space
8:      inc %esi
        cmp $100, %esi
        jb 7b
        call newline
        call exit

        .include "lib.S"
        .data
msg_count: .asciz "primes below 20000: "
msg_last:  .asciz "largest: "
msg_sum:   .asciz "sum of the first 100: "
        .bss
        .align 4
bitmap: .space N / 8 + 8
