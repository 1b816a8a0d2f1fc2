# What emulate_insn() (x86/core.c, H:130) does with the #GP(0) a ring-1 Guest gets from cli, in and out:
# cli is skipped; an 8-bit in ORs 0xffff into %eax (so %ah changes too); a 16- or 32-bit in sets all of
# %eax, 0x66 prefix or not; out goes nowhere. Each check prints a line; a wrong value prints "wrong".
	.code32
	.text
	.globl start
start:
	movl $stack_top, %esp
	movl $1, %eax			# LHCALL_LGUEST_INIT
	movl $lguest_data, %ebx
	int $0x1f

	cli				# skipped by the Host: the Guest's interrupts are as they were
	movl $m_cli, %ebx
	call say

	movl $0x12345678, %eax
	inb $0x60, %al			# 8 bits: eax |= 0xffff
	cmpl $0x1234ffff, %eax
	movl $m_inb, %ebx
	call check

	movl $0x12345678, %eax
	inw $0x60, %ax			# 16 bits (0x66 prefix): all of eax
	cmpl $0xffffffff, %eax
	movl $m_inw, %ebx
	call check

	movl $0x12345678, %eax
	movw $0x60, %dx
	inl (%dx), %eax			# 32 bits through %dx: all of eax
	cmpl $0xffffffff, %eax
	movl $m_inl, %ebx
	call check

	outb %al, $0x80			# goes nowhere
	movl $m_out, %ebx
	call say

	movl $2, %eax			# LHCALL_SHUTDOWN
	movl $bye, %ebx
	movl $1, %ecx
	int $0x1f
1:	jmp 1b

# Print %ebx if the last compare was equal, else "wrong".
check:
	je say
	movl $m_wrong, %ebx
say:
	movl $17, %eax			# LHCALL_NOTIFY
	int $0x1f
	ret

	.data
m_cli:	.asciz "cli skipped\n"
m_inb:	.asciz "inb: eax = 0x1234ffff\n"
m_inw:	.asciz "inw: eax = 0xffffffff\n"
m_inl:	.asciz "inl: eax = 0xffffffff\n"
m_out:	.asciz "out went nowhere\n"
m_wrong: .asciz "wrong\n"
bye:	.asciz "Power down"
	.balign 16
stack:	.space 1024
stack_top:
	.include "lguest_data.inc"
