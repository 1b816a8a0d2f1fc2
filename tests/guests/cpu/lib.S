# Shared by the CPU test programs: printing and exiting, built two ways from one source.
#   as --32 --defsym GUEST=1 : an lguest Guest. "print" is the early-console hypercall
#                              LHCALL_NOTIFY (17) with the string's guest-physical address in %ebx;
#                              "exit" is LHCALL_SHUTDOWN (2), LGUEST_SHUTDOWN_POWEROFF.
#   as --32                  : a Linux program. "print" is write(1, s, strlen(s)) via int $0x80.
# Include it at the end of a program's .text; programs start at _start and call these routines.

# print_str: print the NUL-terminated string at %ebx. Preserves all registers.
print_str:
        pusha
.ifdef GUEST
        mov $17, %eax
        int $0x1f
.else
        mov %ebx, %edi
        xor %al, %al
        mov $-1, %ecx
        cld
        repne scasb
        not %ecx
        dec %ecx
        mov %ecx, %edx
        mov %ebx, %ecx
        mov $1, %ebx
        mov $4, %eax
        int $0x80
.endif
        popa
        ret

# exit: stop the program.
exit:
.ifdef GUEST
        mov $2, %eax
        mov $power_down, %ebx
        mov $1, %ecx
        int $0x1f
.else
        mov $1, %eax
        xor %ebx, %ebx
        int $0x80
.endif
        hlt

# print_dec: print %eax as an unsigned decimal number. Preserves all registers.
print_dec:
        pusha
        mov $numbuf_end, %edi
        movb $0, (%edi)
        mov $10, %ecx
1:      xor %edx, %edx
        div %ecx
        add $'0', %dl
        dec %edi
        mov %dl, (%edi)
        test %eax, %eax
        jnz 1b
        mov %edi, %ebx
        call print_str
        popa
        ret

# print_hex: print %eax as eight hex digits. Preserves all registers.
print_hex:
        pusha
        mov $numbuf, %edi
        mov $8, %ecx
1:      rol $4, %eax
        mov %eax, %edx
        and $0xf, %edx
        movb hexdigits(%edx), %dl
        mov %dl, (%edi)
        inc %edi
        loop 1b
        movb $0, (%edi)
        mov $numbuf, %ebx
        call print_str
        popa
        ret

# newline, space: print one character.
newline:
        push %ebx
        mov $nl, %ebx
        call print_str
        pop %ebx
        ret
space:
        push %ebx
        mov $sp_, %ebx
        call print_str
        pop %ebx
        ret

        .data
hexdigits: .ascii "0123456789abcdef"
nl:     .asciz "\n"
sp_:    .asciz " "
power_down: .asciz "Power down"
numbuf: .space 16
numbuf_end: .byte 0
        .text
