# Rewrites its own code before every instruction it runs: each turn stores a new immediate into the `add`
# it is about to execute, so no decoded block lives longer than one instruction.
	.code32
	.include "prelude.inc"
	.text
	.globl start
start:
	lguest_init
	xor %ebx, %ebx
1:	inc %ebx
	movb %bl, 2f + 2	# the immediate of the add below (83 c0 ib)
2:	add $0, %eax
	jmp 1b
	.data
	.balign 16
	.space 1024
stack_top:
	.include "../host/lguest_data.inc"
