# The Guest dies while a NOTIFY is pending: its async ring holds a hypercall the Host does not know
# (which kills it), then a NOTIFY (which the Host still records). read() returns the NOTIFY; the next
# read() finds the Guest dead and copies as much of the reason as the Launcher's 4-byte buffer holds,
# which the Launcher reads as an address, as the real one does: "Bad NOTIFY 0x20646142" ("Bad ").
	.code32
	.text
	.globl start
start:
	movl $1, %eax
	movl $lguest_data, %ebx
	int $0x1f
	movl $99, hcalls		# slot 0: no such hypercall
	movl $17, hcalls + 20		# slot 1: LHCALL_NOTIFY of msg
	movl $msg, hcalls + 24
	movb $0, hcall_status		# both slots are ready
	movb $0, hcall_status + 1
	movl $0, %eax			# LHCALL_FLUSH_ASYNC: leaving the Guest runs the ring
	int $0x1f
1:	jmp 1b

	.data
msg:	.asciz "printed before the Launcher sees the death\n"
	.include "../host/lguest_data.inc"
