# Page-faults for ever: it touches memory past the end of its RAM, and its page-fault handler returns to
# the same instruction without changing anything.
	.code32
	.include "prelude.inc"
	.text
	.globl start
start:
	lguest_init
	gate 14, fault
1:	movl 0x7ff00000, %eax	# far past pfn_limit
	jmp 1b
fault:	incl faults
	add $4, %esp		# the error code
	iret
	.data
faults:	.long 0
	.balign 16
	.space 1024
stack_top:
	.include "../host/lguest_data.inc"
