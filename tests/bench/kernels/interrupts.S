# Code that takes interrupts: a system-call-like `int $0x80` each pass, dispatched on %eax through a
# table by a handler that ends in iret, and every eighth pass a division by zero whose #DE handler steps
# the saved EIP past the 2-byte `divl %ecx` and returns a stand-in quotient. The lguest Guest loads its
# gates with LHCALL_LOAD_IDT_ENTRY (the Host delivers them); the multiboot kernel loads its own IDT. The
# Linux build cannot own an IDT, so it builds the same frames itself (pushf, push %cs, call) to run the
# same handlers and give the checksum to compare.
	.include "bench.inc"
	.ifndef ITERS
	.set ITERS, 800000
	.endif
.ifdef GUEST
	.set HAVE_IDT, 1
	.set CODE_SEL, 0x61		# __KERNEL_CS | GUEST_PL
.endif
.ifdef MULTIBOOT
	.set HAVE_IDT, 1
	.set CODE_SEL, 0x08
.endif
# gate VECTOR, HANDLER: a 32-bit trap gate, present, DPL 1 (so ring 1 may raise it with int).
.macro gate vector, handler
	movl $\handler, %ecx
	movl %ecx, %edx
	andl $0xffff, %ecx
	orl $(CODE_SEL << 16), %ecx
	andl $0xffff0000, %edx
	orl $0xaf00, %edx
.ifdef GUEST
	movl $\vector, %ebx
	movl $6, %eax			# LHCALL_LOAD_IDT_ENTRY
	int $0x1f
.else
	movl %ecx, idt + 8 * \vector
	movl %edx, idt + 8 * \vector + 4
.endif
.endm
bench_main:
.ifdef HAVE_IDT
	gate 0x80, syscall_entry
	gate 0, divide_error
.ifdef MULTIBOOT
	lidt idtr
.endif
.endif
	movl $0x165667b1, %esi
	movl $ITERS, iter
1:	movl %esi, %eax			# xorshift
	shll $13, %eax
	xorl %eax, %esi
	movl %esi, %eax
	shrl $17, %eax
	xorl %eax, %esi
	movl %esi, %eax
	shll $5, %eax
	xorl %eax, %esi
	movl %esi, %eax
	andl $3, %eax			# the "system call" number
	movl %esi, %ebx			# its argument
.ifdef HAVE_IDT
	int $0x80
.else
	pushfl
	pushl %cs
	call syscall_entry
.endif
	addl %eax, %ebp
	testl $7, iter
	jnz 2f
	xorl %ecx, %ecx
	movl %ebp, %eax
	xorl %edx, %edx
.ifdef HAVE_IDT
divide:	divl %ecx			# f7 f1: #DE
.else
	pushfl
	pushl %cs
	pushl $divide
	jmp divide_error
divide:	.byte 0xf7, 0xf1		# never run: the handler returns past it
.endif
	addl %eax, %ebp
2:	roll $1, %ebp
	decl iter
	jnz 1b
	movl %ebp, %eax
	addl calls, %eax
	jmp bench_done

syscall_entry:
	pushl %ecx
	pushl %edx
	incl calls
	call *sys_table(,%eax,4)
	popl %edx
	popl %ecx
	iret
sys0:	leal 7(%ebx,%ebx,2), %eax
	ret
sys1:	movl %ebx, %eax
	roll $11, %eax
	xorl calls, %eax
	ret
sys2:	movl %ebx, %eax
	notl %eax
	addl iter, %eax
	ret
sys3:	movl %ebx, %eax
	shrl $3, %eax
	ret

divide_error:
	addl $2, (%esp)			# past the divl
	movl $0xdead, %eax
	addl $3, calls
	iret

	.data
bench_name:	.asciz "interrupts"
	.balign 4
iter:	.long 0
calls:	.long 0
sys_table: .long sys0, sys1, sys2, sys3
.ifdef MULTIBOOT
	.balign 8
idtr:	.word 256 * 8 - 1
	.long idt
	.bss
	.balign 8
idt:	.space 256 * 8
.endif
