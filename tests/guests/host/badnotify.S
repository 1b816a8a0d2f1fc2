# A NOTIFY above the Guest's memory that is no device: the Launcher gives up ("Bad NOTIFY").
	.code32
	.text
	.globl start
start:
	movl $1, %eax
	movl $lguest_data, %ebx
	int $0x1f
	movl $17, %eax
	movl $0x7ff0000, %ebx
	int $0x1f
1:	jmp 1b

	.data
	.include "lguest_data.inc"
