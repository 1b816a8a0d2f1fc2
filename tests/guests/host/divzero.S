# A Guest that divides by zero with no handler in its IDT: the Host kills it ("unhandled trap 0").
	.code32
	.text
	.globl start
start:
	movl $1, %eax
	movl $lguest_data, %ebx
	int $0x1f
	xorl %ecx, %ecx
	movl $7, %eax
	divl %ecx
1:	jmp 1b

	.data
	.include "lguest_data.inc"
