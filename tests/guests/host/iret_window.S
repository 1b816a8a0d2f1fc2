# lguest_iret (arch/x86/lguest/i386_head.S, G:045) and the no-interrupt range it lives in. A handler entered
# through an interrupt gate runs with the Guest's interrupts off (irq_enabled 0); to return it must turn them
# back on (irq_enabled from the eflags in its frame) and then iret: two instructions, and an interrupt the
# Host delivered between them would push a new frame on top of the one being unwound. The Guest tells the
# Host, in lguest_data before LGUEST_INIT, where that window is, and try_deliver_interrupt() leaves it alone.
# Built with `--defsym NOIRQ=1` (the default) the window is registered; with NOIRQ=0 it is not.
# A tick re-arms the timer to expire inside the window: one unit of Guest work is a nanosecond, and with
# DELAY=6 the sixth instruction after the hypercall's return is the store that turns interrupts back on, so
# the timer's interrupt comes in with eip at the popl after it. With the window registered the Host holds
# the interrupt back until the Guest's next HALT; without it the Host delivers it there, on top of the
# frame being unwound, and the handler sees itself entered with a lower esp.
.ifndef NOIRQ
	.set NOIRQ, 1
.endif
.ifndef DELAY
	.set DELAY, 6
.endif
	.code32
	.text
	.globl start
start:
	movl $stack_top, %esp
.if NOIRQ
	movl $lguest_noirq_start, noirq_start
	movl $lguest_noirq_end, noirq_end
.endif
	movl $1, %eax			# LHCALL_LGUEST_INIT: the Host reads the range now
	movl $lguest_data, %ebx
	int $0x1f

	movl $tick, %ecx		# an interrupt gate for irq 0 (vector 32)
	movl %ecx, %edx
	andl $0xffff, %ecx
	orl $0x00610000, %ecx
	andl $0xffff0000, %edx
	orl $0xae00, %edx
	movl $32, %ebx
	movl $6, %eax			# LHCALL_LOAD_IDT_ENTRY
	int $0x1f

	movl $0, blocked_interrupts
	movl $512, irq_enabled
	movl $9, %eax			# LHCALL_SET_CLOCKEVENT, far enough to reach the wait loop
	movl $100, %ebx
	int $0x1f
wait:	cmpl $3, ticks
	jae 3f
	movl $10, %eax			# LHCALL_HALT until the next interrupt (one held back from the window too)
	int $0x1f
	jmp wait
3:

	movl $m_flat, %ebx
	cmpl $0, nested
	je 1f
	movl $m_nested, %ebx
1:	movl $17, %eax			# LHCALL_NOTIFY: the verdict
	int $0x1f
	movl $2, %eax
	movl $bye, %ebx
	movl $1, %ecx
	int $0x1f
2:	jmp 2b

# irq 0. Every tick taken from the wait loop enters with the same esp; one that enters lower has been
# delivered on top of a frame not yet unwound: a nesting. The first two ticks re-arm the timer.
tick:	cmpl $0, first_esp
	jne 1f
	movl %esp, first_esp
1:	cmpl first_esp, %esp
	jae 2f
	movl $1, nested
2:	incl ticks
	pushl %eax
	pushl %ebx
	cmpl $3, ticks
	jae 3f
	movl $9, %eax			# re-arm: DELAY units of Guest work after the hypercall returns
	movl $DELAY, %ebx
	int $0x1f
3:	popl %ebx			# 1
	popl %eax			# 2
	jmp lguest_iret			# 3

# What the Guest kernel's lguest_iret does, in our words: the interrupt flag of the frame's eflags becomes
# the virtual one, then the real iret.
lguest_iret:
	pushl %eax			# 4
	movl 12(%esp), %eax		# 5: the frame's eflags (above eax, eip and cs)
lguest_noirq_start:
	movl %eax, irq_enabled		# 6: interrupts back on...
	popl %eax			# 7
	iret				# 8: ...and out
lguest_noirq_end:

	.data
ticks:	.long 0
first_esp: .long 0
nested:	.long 0
m_flat:	.asciz "three ticks, none inside lguest_iret\n"
m_nested: .asciz "a tick arrived inside lguest_iret: nested\n"
bye:	.asciz "Power down"
	.balign 16
stack:	.space 4096
stack_top:
	.include "lguest_data.inc"
