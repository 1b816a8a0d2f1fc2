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
	.space 4096
