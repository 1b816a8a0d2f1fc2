# String instructions: strlen with repne scasb, copy with rep movsb forwards and an overlapping
# copy backwards (std), reverse in place with lodsb/stosb, compare with repe cmpsb, fill with stosw,
# xlat to upper case.
        .code32
        .text
        .globl _start
_start:
        cld
        mov $text, %edi                # strlen(text)
        xor %al, %al
        mov $-1, %ecx
        repne scasb
        not %ecx
        dec %ecx
        mov %ecx, %ebp
        mov $msg_len, %ebx
        call print_str
        mov %ebp, %eax
        call print_dec
        call newline

        mov $text, %esi                # copy = text
        mov $copy, %edi
        lea 1(%ebp), %ecx
        rep movsb
        mov $copy, %ebx
        call print_str
        call newline

        mov $copy, %esi                # overlapping move right by 4, backwards
        lea (%esi,%ebp), %esi          # the last byte: the NUL at len (move len+1 bytes)
        lea 4(%esi), %edi
        lea 1(%ebp), %ecx
        std
        rep movsb
        cld
        movl $0x2a2a2a2a, copy         # "****" in front
        mov $copy, %ebx
        call print_str
        call newline

        mov $text, %esi                # reverse text into rev: walk back with lodsb
        lea -1(%esi,%ebp), %esi
        mov $rev, %edi
        mov %ebp, %ecx
1:      std
        lodsb
        cld
        stosb
        loop 1b
        movb $0, (%edi)
        mov $rev, %ebx
        call print_str
        call newline

        mov $text, %esi                # compare text with copy+4: equal?
        mov $copy+4, %edi
        mov %ebp, %ecx
        repe cmpsb
        sete %al
        movzbl %al, %eax
        mov $msg_eq, %ebx
        call print_str
        call print_dec
        call newline

        mov $text, %esi                # compare with "The quick brown cat": where do they differ?
        mov $other, %edi
        mov %ebp, %ecx
        repe cmpsb
        mov %ebp, %eax
        sub %ecx, %eax
        dec %eax
        mov $msg_diff, %ebx
        call print_str
        call print_dec
        call newline

        mov $fill, %edi                # fill: "-=" x 10 with stosw
        mov $0x3d2d, %ax
        mov $10, %ecx
        rep stosw
        movb $0, (%edi)
        mov $fill, %ebx
        call print_str
        call newline

        mov $text, %esi                # upper case through a translation table with xlat
        mov $upper, %edi
        mov $table, %ebx
2:      lodsb
        xlat
        stosb
        test %al, %al
        jnz 2b
        mov $upper, %ebx
        call print_str
        call newline
        call exit

        .include "lib.S"
        .data
text:     .asciz "The quick brown fox jumps over the lazy dog"
other:    .asciz "The quick brown cat jumps over the lazy dog"
msg_len:  .asciz "length: "
msg_eq:   .asciz "equal: "
msg_diff: .asciz "first difference at: "
table:
        .set c, 0
        .rept 256
        .if (c >= 'a') && (c <= 'z')
        .byte c - 32
        .else
        .byte c
        .endif
        .set c, c + 1
        .endr
        .bss
copy:   .space 128
rev:    .space 128
fill:   .space 64
upper:  .space 128
