# Two things the Host handles for a Guest kernel: `vmcall` (rewritten to `int $0x1f; nop`) and `in`/`out`
# at ring 1 (emulated: `in` reads all ones).
	.code32
	.text
	.globl start
start:
	movl $1, %eax
	movl $lguest_data, %ebx
	vmcall				# the first hypercall, made the KVM way
	inb $0x60, %al			# emulated: reads 0xff
	cmpb $0xff, %al
	jne 1f
	outb %al, $0x80			# emulated: goes nowhere
	movl $17, %eax
	movl $ok, %ebx
	vmcall
1:	movl $2, %eax
	movl $bye, %ebx
	movl $1, %ecx
	int $0x1f
2:	jmp 2b

	.data
ok:	.asciz "vmcall and in/out work\n"
bye:	.asciz "Power down"
	.include "lguest_data.inc"
