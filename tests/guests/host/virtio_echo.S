# A Guest that uses both queues of the Launcher's console: it offers an input buffer before DRIVER_OK (as a
# driver's probe does), waits for the input thread to fill it from the Launcher's stdin, then sends
# "got: " and those bytes back as one two-descriptor chain on the output queue. Built for 32 MB, so the
# devices page is at 0x2000000 (see virtio_console.S).
	.equ DEVICES, 0x2000000
	.code32
	.text
	.globl start
start:
	movl $stack_top, %esp
	movl $1, %eax			# LHCALL_LGUEST_INIT
	movl $lguest_data, %ebx
	int $0x1f
	call map_devices

	movl $DEVICES, %esi
	cmpb $3, (%esi)			# the console comes first
	jne power_off
	movl 9(%esi), %eax		# vqconfig[0] (input) pfn, at 5 + 4
	shll $12, %eax
	movl %eax, in_ring
	movl 17(%esi), %eax		# vqconfig[1] (output) pfn, at 5 + 8 + 4
	shll $12, %eax
	movl %eax, out_ring

	movl $1, %ebx			# gates for irq 1 (input) and irq 2 (output), one handler
	call set_gate
	movl $2, %ebx
	call set_gate
	movl $512, irq_enabled

	movb $3, 4(%esi)		# ACKNOWLEDGE | DRIVER
	call notify_status

	movl in_ring, %edi		# descriptor 0 of the input ring: 64 bytes the device writes
	movl $inbuf, 0(%edi)
	movl $0, 4(%edi)
	movl $64, 8(%edi)
	movl $2, 12(%edi)		# flags VRING_DESC_F_WRITE, next 0
	movw $0, 0x1004(%edi)		# avail->ring[0] = 0
	movw $1, 0x1002(%edi)		# avail->idx = 1

	movb $7, 4(%esi)		# DRIVER_OK: the threads start, and the input thread finds our buffer
	call notify_status

wait_input:
	movl in_ring, %edi
	cmpw $1, 0x2002(%edi)		# used->idx
	je got_input
	movl $10, %eax			# LHCALL_HALT
	int $0x1f
	jmp wait_input

got_input:
	movl 0x2008(%edi), %ecx		# used->ring[0].len: how many bytes the Launcher wrote
	movl out_ring, %edi
	movl $prefix, 0(%edi)		# descriptor 0: "got: ", chained to descriptor 1
	movl $0, 4(%edi)
	movl $5, 8(%edi)
	movl $0x00010001, 12(%edi)	# flags VRING_DESC_F_NEXT, next 1
	movl $inbuf, 16(%edi)		# descriptor 1: the input, as it came
	movl $0, 20(%edi)
	movl %ecx, 24(%edi)
	movl $0, 28(%edi)
	movw $0, 0x1004(%edi)
	movw $1, 0x1002(%edi)
	testw $1, 0x2000(%edi)		# VRING_USED_F_NO_NOTIFY
	jnz wait_output
	movl $17, %eax
	movl %edi, %ebx
	int $0x1f

wait_output:
	movl out_ring, %edi
	cmpw $1, 0x2002(%edi)
	je power_off
	movl $10, %eax
	int $0x1f
	jmp wait_output

power_off:
	movl $2, %eax
	movl $bye, %ebx
	movl $1, %ecx
	int $0x1f
1:	jmp 1b

notify_status:
	movl $17, %eax
	movl $DEVICES, %ebx
	int $0x1f
	ret

set_gate:				# %ebx = irq: an interrupt gate for vector 32 + irq
	movl $irq_handler, %ecx
	movl %ecx, %edx
	andl $0xffff, %ecx
	orl $0x00610000, %ecx
	andl $0xffff0000, %edx
	orl $0xae00, %edx
	addl $32, %ebx
	movl $6, %eax			# LHCALL_LOAD_IDT_ENTRY
	int $0x1f
	ret

irq_handler:
	incl irqs
	movl $512, irq_enabled
	iret

# The boot page tables the Host built (lguest_data.pgdir) map RAM only: map the devices page and the
# console's six ring pages above it ourselves, identity, in the boot page directory's slot 8 (0x2000000),
# and tell the Host with LHCALL_SET_PGD.
map_devices:
	movl lg_pgdir, %edi
	movl $devices_pt, %eax
	orl $7, %eax
	movl %eax, 32(%edi)
	movl $DEVICES + 7, %eax
	xorl %ecx, %ecx
1:	movl %eax, devices_pt(,%ecx,4)
	addl $4096, %eax
	incl %ecx
	cmpl $7, %ecx
	jne 1b
	movl $15, %eax			# LHCALL_SET_PGD(pgdir, 8)
	movl lg_pgdir, %ebx
	movl $8, %ecx
	int $0x1f
	ret

	.data
in_ring:	.long 0
out_ring:	.long 0
irqs:		.long 0
prefix:	.ascii "got: "
bye:	.asciz "Power down"
inbuf:	.space 64
	.balign 16
stack:	.space 4096
stack_top:
	.balign 4096
devices_pt:	.fill 1024, 4, 0
	.include "lguest_data.inc"
