# The async hypercall ring: the Guest queues a NOTIFY in lguest_data's ring and flushes it.
	.code32
	.text
	.globl start
start:
	movl $1, %eax
	movl $lguest_data, %ebx
	int $0x1f
	movl $17, hcalls		# slot 0: LHCALL_NOTIFY of msg
	movl $msg, hcalls + 4
	movb $0, hcall_status		# slot 0 is ready
	movl $0, %eax			# LHCALL_FLUSH_ASYNC: leaving the Guest runs the ring
	int $0x1f
	movzbl hcall_status, %eax	# the Host handed the slot back (0xff)
	cmpl $0xff, %eax
	jne 1f
	movl $17, %eax
	movl $ok, %ebx
	int $0x1f
1:	movl $2, %eax
	movl $bye, %ebx
	movl $1, %ecx
	int $0x1f
2:	jmp 2b

	.data
msg:	.asciz "queued in the ring\n"
ok:	.asciz "slot handed back\n"
bye:	.asciz "Power down"
	.include "lguest_data.inc"
