# A Guest that never gives the Launcher anything: it makes SEND_INTERRUPTS hypercalls forever. Each one
# traps to the Host, which goes round run_guest() again; the simulation must still hand control back.
	.code32
	.text
	.globl start
start:
	movl $1, %eax
	movl $lguest_data, %ebx
	int $0x1f
1:	movl $19, %eax			# LHCALL_SEND_INTERRUPTS
	int $0x1f
	jmp 1b

	.data
	.balign 4096
lguest_data:
	.long 0, 0, 0, 0, 0, 0
	.fill 64, 1, 0xff
	.fill 64 * 5, 4, 0
	.long 0, 0, 0, 0, 0, 0
	.long 0x80
	.balign 4096
