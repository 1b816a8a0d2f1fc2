# A Guest that drives the Launcher's virtio console: find it on the devices page, set its status
# (each change NOTIFYs the descriptor), put one buffer in the output queue and kick the ring, sleep until
# the device thread's interrupt says the buffer came back, then say so through the early console.
#
# Where the devices page is: the Launcher puts it at the first page above RAM. A Linux Guest learns its RAM
# size from the e820 map in boot_params (max_pfn); this Guest is simply built for 32 MB (lguest-sim run
# --mem 32, or launch(image, 32)), so the page is at 0x2000000.
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

	movl $DEVICES, %esi		# walk the descriptors until type 0 (the end) or 3 (a console)
find:
	movzbl (%esi), %eax
	testl %eax, %eax
	jz no_console
	cmpl $3, %eax
	je found
	movzbl 1(%esi), %eax		# next = this + 5 + 8 * num_vq + 2 * feature_len + config_len
	shll $3, %eax
	movzbl 2(%esi), %ecx
	addl %ecx, %eax
	addl %ecx, %eax
	movzbl 3(%esi), %ecx
	addl %ecx, %eax
	leal 5(%esi,%eax), %esi
	jmp find

found:
	movl %esi, console
	movzwl 15(%esi), %eax		# vqconfig[1] (output) starts at 5 + 8: irq at +2, pfn at +4
	movl %eax, out_irq
	movl 17(%esi), %eax
	shll $12, %eax
	movl %eax, out_ring

	movb $1, 4(%esi)		# ACKNOWLEDGE
	call notify_status
	movb $3, 4(%esi)		# ... | DRIVER
	call notify_status

	movl $irq_handler, %ecx		# an interrupt gate for vector 32 + irq
	movl %ecx, %edx
	andl $0xffff, %ecx
	orl $0x00610000, %ecx
	andl $0xffff0000, %edx
	orl $0xae00, %edx
	movl out_irq, %ebx
	addl $32, %ebx
	movl $6, %eax			# LHCALL_LOAD_IDT_ENTRY
	int $0x1f
	movl $512, irq_enabled

	movl console, %esi
	movb $7, 4(%esi)		# ... | DRIVER_OK: the Launcher starts the device's threads
	call notify_status

	movl out_ring, %edi		# descriptor 0: the message, for the device to read
	movl $msg, 0(%edi)
	movl $0, 4(%edi)
	movl $msg_end - msg, 8(%edi)
	movw $0, 12(%edi)
	movw $0, 14(%edi)
	movzwl 0x1002(%edi), %eax	# avail ring (after 256 descriptors): ring[idx % 256] = 0, then idx++
	movzbl %al, %ecx
	movw $0, 0x1004(%edi,%ecx,2)
	incl %eax
	movw %ax, 0x1002(%edi)
	testw $1, 0x2000(%edi)		# used->flags & VRING_USED_F_NO_NOTIFY: the thread is awake already
	jnz wait_used
	movl $17, %eax			# kick: NOTIFY the ring's address
	movl %edi, %ebx
	int $0x1f

wait_used:
	movl out_ring, %edi
	cmpw $1, 0x2002(%edi)		# used->idx
	je done
	movl $10, %eax			# LHCALL_HALT until the irq
	int $0x1f
	jmp wait_used

done:
	movl $17, %eax
	movl $back, %ebx
	int $0x1f
no_console:
	movl $2, %eax
	movl $bye, %ebx
	movl $1, %ecx
	int $0x1f
1:	jmp 1b

notify_status:
	movl $17, %eax
	movl console, %ebx
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
console:	.long 0
out_irq:	.long 0
out_ring:	.long 0
irqs:		.long 0
msg:	.ascii "Hello through virtio\n"
msg_end:
back:	.asciz "The used ring gave the buffer back\n"
bye:	.asciz "Power down"
	.balign 16
stack:	.space 4096
stack_top:
	.balign 4096
devices_pt:	.fill 1024, 4, 0
	.include "lguest_data.inc"
