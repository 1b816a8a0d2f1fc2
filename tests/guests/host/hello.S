# The smallest lguest Guest: LGUEST_INIT, a line on the early console, then power off.
	.code32
	.text
	.globl start
start:
	movl $1, %eax			# LHCALL_LGUEST_INIT: here is my lguest_data
	movl $lguest_data, %ebx
	int $0x1f
	movl $17, %eax			# LHCALL_NOTIFY: a string below the Guest's memory is console output
	movl $hello, %ebx
	int $0x1f
	movl $2, %eax			# LHCALL_SHUTDOWN, LGUEST_SHUTDOWN_POWEROFF
	movl $bye, %ebx
	movl $1, %ecx
	int $0x1f
1:	jmp 1b

	.data
hello:	.asciz "Hello from the Guest!\n"
bye:	.asciz "Power down"
	.include "lguest_data.inc"
