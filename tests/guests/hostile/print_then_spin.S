# Prints a line through the early console, then computes for ever: what it printed must reach the
# terminal while it runs, not when the run ends.
	.code32
	.include "prelude.inc"
	.text
	.globl start
start:
	lguest_init
	mov $17, %eax		# LHCALL_NOTIFY of a string in RAM: the Launcher prints it
	mov $msg, %ebx
	int $LGUEST_TRAP_ENTRY
1:	jmp 1b
	.data
msg:	.asciz "hello while running\n"
	.balign 16
	.space 1024
stack_top:
	.include "../host/lguest_data.inc"
