# timer.S: a Guest that takes timer interrupts.
#
# Interrupts reach a Guest through the IDT it describes to the Host, one entry at a time, with
# LOAD_IDT_ENTRY. The Guest does not use `cli`/`sti`: it says whether it wants interrupts in
# lguest_data.irq_enabled (512, the EFLAGS IF bit, or 0), and which ones it refuses in the
# lguest_data.blocked_interrupts bitmap. The Host's timer is one-shot: SET_CLOCKEVENT asks for
# irq 0 after a delay, and HALT sleeps until an interrupt comes. We count five ticks and stop.

	.equ LHCALL_LGUEST_INIT, 1
	.equ LHCALL_SHUTDOWN, 2
	.equ LHCALL_LOAD_IDT_ENTRY, 6	# ebx = vector, ecx = low word, edx = high word of the gate
	.equ LHCALL_SET_CLOCKEVENT, 9	# ebx = nanoseconds from now
	.equ LHCALL_HALT, 10
	.equ LHCALL_NOTIFY, 17
	.equ LGUEST_TRAP_ENTRY, 0x1f

	# Offsets into struct lguest_data.
	.equ LG_IRQ_ENABLED, 0
	.equ LG_BLOCKED_INTERRUPTS, 4
	.equ LG_NOIRQ_START, 1380
	.equ LG_NOIRQ_END, 1384

	.equ FIRST_EXTERNAL_VECTOR, 32	# irq 0 arrives on vector 32
	.equ KERNEL_CS, 0x60
	.equ GATE_FLAGS, 0x8e00		# present, DPL 0, 32-bit interrupt gate
	.equ X86_EFLAGS_IF, 512
	.equ TICKS_WANTED, 5
	.equ TICK_NS, 1000000		# one millisecond

	.text
	.globl start
start:
	# The Host starts us with %esp = 0 (lguest_arch_setup_regs() leaves it zero): no stack.
	# An interrupt pushes eflags, cs and eip onto the current stack (we are already at ring 1,
	# so there is no stack switch), so we need one before we let interrupts in.
	mov $stack_top, %esp

	# Our handler ends with a short window (between restoring irq_enabled and `iret`) where a
	# new interrupt must wait. We tell the Host where it is in lguest_data, and we do it before
	# LGUEST_INIT, because that is when the Host reads these two fields.
	movl $noirq_start, lguest_data + LG_NOIRQ_START
	movl $noirq_end, lguest_data + LG_NOIRQ_END

	mov $LHCALL_LGUEST_INIT, %eax
	mov $lguest_data, %ebx
	int $LGUEST_TRAP_ENTRY

	# Build the gate for vector 32: handler offset split across both words, our code segment
	# in the low word's top half, the type and present bit in the high word.
	mov $timer_interrupt, %edx
	mov %edx, %ecx
	and $0xffff, %ecx
	or $(KERNEL_CS << 16), %ecx
	and $0xffff0000, %edx
	or $GATE_FLAGS, %edx
	mov $FIRST_EXTERNAL_VECTOR, %ebx
	mov $LHCALL_LOAD_IDT_ENTRY, %eax
	int $LGUEST_TRAP_ENTRY

	# Let irq 0 through, then turn interrupts on.
	btrl $0, lguest_data + LG_BLOCKED_INTERRUPTS
	movl $X86_EFLAGS_IF, lguest_data + LG_IRQ_ENABLED

wait_for_tick:
	mov $LHCALL_SET_CLOCKEVENT, %eax
	mov $TICK_NS, %ebx
	int $LGUEST_TRAP_ENTRY
	mov $LHCALL_HALT, %eax		# sleep until the interrupt
	int $LGUEST_TRAP_ENTRY
	cmpl $TICKS_WANTED, ticks
	jb wait_for_tick

	# Print "ticks: N" (N is a single digit here) and power off.
	mov ticks, %eax
	add $'0, %al
	movb %al, count_digit
	mov $LHCALL_NOTIFY, %eax
	mov $count_msg, %ebx
	int $LGUEST_TRAP_ENTRY
	mov $LHCALL_SHUTDOWN, %eax
	mov $bye, %ebx
	mov $1, %ecx
	int $LGUEST_TRAP_ENTRY
1:	hlt
	jmp 1b

# The interrupt handler. The Host entered it with irq_enabled cleared (an interrupt gate), and
# the stack holds eip, cs and eflags. Count the tick, then restore irq_enabled from the saved
# eflags before `iret`: the Host does not read our `iret`, only lguest_data.
timer_interrupt:
	incl ticks
	push %eax
	mov 12(%esp), %eax		# the saved eflags (above our %eax, eip and cs)
	and $X86_EFLAGS_IF, %eax
noirq_start:
	mov %eax, lguest_data + LG_IRQ_ENABLED
	pop %eax
	iret
noirq_end:

	.data
ticks:	.long 0
count_msg:
	.ascii "ticks: "
count_digit:
	.asciz "?\n"
bye:	.asciz "Power down"

	.balign 16
stack:	.space 4096			# our stack grows down from stack_top
stack_top:

	.balign 4096
lguest_data:
	# struct lguest_data, shared with the Host. Before LGUEST_INIT a Guest marks every slot of the
	# async hypercall ring free (0xff) and asks for the usual system-call vector (0x80): the Host
	# checks it. Everything else starts at zero.
	.long 0, 0, 0, 0, 0, 0		# irq_enabled, blocked_interrupts, cr2, time (2 words), irq_pending
	.fill 64, 1, 0xff		# hcall_status[64]: all free
	.fill 64 * 5, 4, 0		# hcalls[64]
	.long 0, 0, 0			# reserve_mem, tsc_khz, pgdir (the Host fills these in)
	.long 0, 0, 0			# noirq_start, noirq_end, kernel_address
	.long 0x80			# syscall_vec
	.balign 4096
