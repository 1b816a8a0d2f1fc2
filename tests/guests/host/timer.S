# A Guest that takes timer interrupts: an IDT entry for irq 0 (vector 32), the timer unblocked and
# interrupts enabled, then SET_CLOCKEVENT and HALT until three ticks have arrived.
	.code32
	.text
	.globl start
start:
	movl $stack_top, %esp
	movl $1, %eax			# LHCALL_LGUEST_INIT
	movl $lguest_data, %ebx
	int $0x1f

	movl $tick, %ecx		# an interrupt gate (type 0xE, DPL 1, present) in __KERNEL_CS (0x61)
	movl %ecx, %edx
	andl $0xffff, %ecx
	orl $0x00610000, %ecx
	andl $0xffff0000, %edx
	orl $0xae00, %edx
	movl $32, %ebx
	movl $6, %eax			# LHCALL_LOAD_IDT_ENTRY
	int $0x1f

	movl $0, blocked_interrupts	# let irq 0 through
	movl $512, irq_enabled		# "sti"
	call arm

wait_tick:
	cmpl $3, ticks
	jae done
	movl $10, %eax			# LHCALL_HALT: sleep until an interrupt
	int $0x1f
	jmp wait_tick

done:
	movl ticks, %eax
	addb $'0', %al
	movb %al, count
	movl $17, %eax			# print "ticks: 3"
	movl $msg, %ebx
	int $0x1f
	movl $2, %eax
	movl $bye, %ebx
	movl $1, %ecx
	int $0x1f
1:	jmp 1b

arm:	movl $9, %eax			# LHCALL_SET_CLOCKEVENT: one shot, 1 ms from now
	movl $1000000, %ebx
	int $0x1f
	ret

tick:	pushl %eax
	pushl %ebx
	incl ticks
	call arm
	popl %ebx
	popl %eax
	movl $512, irq_enabled		# the gate turned our interrupts off; turn them back on
	iret

	.data
ticks:	.long 0
msg:	.ascii "ticks: "
count:	.asciz "?\n"
bye:	.asciz "Power down"
	.balign 16
stack:	.space 4096
stack_top:
	.include "lguest_data.inc"
