# divzero.S: a Guest that divides by zero.
#
# The CPU raises trap 0 (divide error). The Host looks in the Guest's IDT for a handler; we
# never loaded one, so the Host cannot deliver the trap and kills the Guest with
# "unhandled trap 0 at <address>". Compare that address with the `div` below.

	.equ LHCALL_LGUEST_INIT, 1
	.equ LHCALL_NOTIFY, 17
	.equ LGUEST_TRAP_ENTRY, 0x1f

	.text
	.globl start
start:
	mov $LHCALL_LGUEST_INIT, %eax
	mov $lguest_data, %ebx
	int $LGUEST_TRAP_ENTRY

	mov $LHCALL_NOTIFY, %eax
	mov $warning, %ebx
	int $LGUEST_TRAP_ENTRY

	mov $42, %eax
	xor %edx, %edx			# div divides edx:eax, so clear the high half
	xor %ecx, %ecx
divide:
	div %ecx			# 42 / 0: trap 0, and the Host kills us here

	# Never reached.
1:	hlt
	jmp 1b

	.data
warning: .asciz "About to divide by zero...\n"

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
