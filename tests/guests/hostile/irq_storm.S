# Takes timer interrupts for ever: the handler asks for the next one a nanosecond later and returns. The
# `iret` is the Guest's no-interrupt range (as the Guest kernel's lguest_iret is), so an interrupt that
# arrives between turning interrupts back on and the `iret` waits for the `iret` instead of nesting.
	.code32
	.include "prelude.inc"
	.text
	.globl start
start:
	movl $irq_off, noirq_start
	movl $irq_on, noirq_end
	lguest_init
	gate 32, tick
	btrl $0, blocked_interrupts
	movl $X86_EFLAGS_IF, irq_enabled
	mov $9, %eax		# LHCALL_SET_CLOCKEVENT, 1 ns from now
	mov $1, %ebx
	int $LGUEST_TRAP_ENTRY
1:	jmp 1b
tick:	incl ticks
	mov $9, %eax
	mov $1, %ebx
	int $LGUEST_TRAP_ENTRY
	movl $X86_EFLAGS_IF, irq_enabled
irq_off: iret
irq_on:
	.data
ticks:	.long 0
	.balign 16
	.space 1024
stack_top:
	.include "../host/lguest_data.inc"
