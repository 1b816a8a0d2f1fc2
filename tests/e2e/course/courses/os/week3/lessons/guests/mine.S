# mine.S: week 3's own Guest (hello.S with its own greeting), for the end-to-end tests.
#
# The Launcher loads us at 0x100000 and starts us at `start`, at ring 1, with paging off, so
# every address below is also a physical address. We talk to the Host only through hypercalls:
# put the call number in %eax, the arguments in %ebx, %ecx, %edx, %esi, and trap with `int $0x1f`.

	.equ LHCALL_LGUEST_INIT, 1	# ebx = address of our struct lguest_data
	.equ LHCALL_SHUTDOWN, 2		# ebx = message, ecx = 1 (power off) or 2 (restart)
	.equ LHCALL_NOTIFY, 17		# ebx = address; a string there goes to the early console
	.equ LGUEST_TRAP_ENTRY, 0x1f
	.equ LGUEST_SHUTDOWN_POWEROFF, 1

	.text
	.globl start
start:
	# The very first hypercall must be LGUEST_INIT: it tells the Host where the page we
	# share with it (struct lguest_data) lives. Anything else first and the Host kills us.
	mov $LHCALL_LGUEST_INIT, %eax
	mov $lguest_data, %ebx
	int $LGUEST_TRAP_ENTRY

	# NOTIFY with the address of a NUL-terminated string: the Launcher prints it.
	mov $LHCALL_NOTIFY, %eax
	mov $hello, %ebx
	int $LGUEST_TRAP_ENTRY

	# Say goodbye: the Launcher reports "Power down" and exits.
	mov $LHCALL_SHUTDOWN, %eax
	mov $bye, %ebx
	mov $LGUEST_SHUTDOWN_POWEROFF, %ecx
	int $LGUEST_TRAP_ENTRY

	# SHUTDOWN does not return; should it ever, wait here forever.
1:	hlt
	jmp 1b

	.data
hello:	.asciz "Hello from week 3!\n"
bye:	.asciz "Power down"

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
