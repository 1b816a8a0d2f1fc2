# Computes for just under one time slice, then makes a hypercall that does nothing, for ever: each trip
# back into the Guest starts a fresh slice, so only the call's work budget bounds a `read` of it.
	.code32
	.include "prelude.inc"
	.text
	.globl start
start:
	lguest_init
1:	mov $49990, %ecx	# `loop` is two units a turn here: just under 100,000 a trip
2:	loop 2b
	xor %eax, %eax		# LHCALL_FLUSH_ASYNC: nothing to do
	int $LGUEST_TRAP_ENTRY
	jmp 1b
	.data
	.balign 16
	.space 1024
stack_top:
	.include "../host/lguest_data.inc"
