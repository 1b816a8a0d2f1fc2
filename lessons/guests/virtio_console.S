# virtio_console.S: a Guest that prints through the Launcher's virtio console.
#
# The Launcher describes its devices on a page just above our RAM. Each device is a
# struct lguest_device_desc: five bytes (type, num_vq, feature_len, config_len, status), then
# num_vq struct lguest_vqconfig {u16 num; u16 irq; u32 pfn}, then feature and config bytes.
# Type 0 ends the list; type 3 is a console, whose queue 0 is input and queue 1 output.
#
# A Linux Guest finds the page at max_pfn << PAGE_SHIFT, its RAM size from the boot e820 map. We
# have no boot map to read: this Guest is built for the course's 32 MB, so the page is at 32 MB.
#
# The steps: tell the Launcher our status (each change NOTIFYs the descriptor's address), put
# one buffer in the output ring and kick it (NOTIFY the ring's address), sleep until the
# device's interrupt says the buffer came back, print a line the old way, and power off.

	.equ LHCALL_LGUEST_INIT, 1
	.equ LHCALL_SHUTDOWN, 2
	.equ LHCALL_LOAD_IDT_ENTRY, 6
	.equ LHCALL_HALT, 10
	.equ LHCALL_NOTIFY, 17
	.equ LGUEST_TRAP_ENTRY, 0x1f
	.equ LHCALL_SET_PGD, 15
	.equ LG_PGDIR, 0x560		# lguest_data.pgdir: the boot page directory, which the Host fills in
	.equ DEVICES_PGD, 8		# DEVICES >> 22: its page directory slot
	.equ DEVICE_PAGES_USED, 7	# the devices page and the console's two rings of three pages each
	.equ PTE_FLAGS, 7		# present, writable, user

	.equ DEVICES, 0x2000000		# 32 MB: the first page above RAM
	.equ VIRTIO_ID_CONSOLE, 3
	.equ STATUS, 4			# offset of the status byte in the descriptor
	.equ OUT_VQ, 5 + 8		# the output queue's lguest_vqconfig
	.equ S_ACKNOWLEDGE, 1
	.equ S_DRIVER, 2
	.equ S_DRIVER_OK, 4

	# The ring of 256 descriptors at pfn << 12: descriptors, then the available ring, then
	# (at the next 4096-byte boundary) the used ring.
	.equ AVAIL, 16 * 256
	.equ AVAIL_IDX, AVAIL + 2
	.equ AVAIL_RING, AVAIL + 4
	.equ USED, 0x2000
	.equ USED_IDX, USED + 2
	.equ VRING_USED_F_NO_NOTIFY, 1

	.equ KERNEL_CS, 0x61
	.equ GATE_FLAGS, 0xae00		# present, DPL 1, 32-bit interrupt gate
	.equ X86_EFLAGS_IF, 512

	.text
	.globl start
start:
	mov $stack_top, %esp
	mov $LHCALL_LGUEST_INIT, %eax
	mov $lguest_data, %ebx
	int $LGUEST_TRAP_ENTRY
	call map_devices

	# The console should be the first device; check its type.
	mov $DEVICES, %esi
	cmpb $VIRTIO_ID_CONSOLE, (%esi)
	jne power_off

	# The output queue's irq and ring address.
	movzwl OUT_VQ + 2(%esi), %eax
	mov %eax, out_irq
	mov OUT_VQ + 4(%esi), %eax
	shl $12, %eax
	mov %eax, out_ring

	# Status, one bit at a time, as a driver does: the Launcher sees each change.
	movb $S_ACKNOWLEDGE, STATUS(%esi)
	call notify_status
	movb $S_ACKNOWLEDGE | S_DRIVER, STATUS(%esi)
	call notify_status

	# The queue's interrupt arrives on vector 32 + irq: a gate for it, then interrupts on.
	mov $used_interrupt, %edx
	mov %edx, %ecx
	and $0xffff, %ecx
	or $(KERNEL_CS << 16), %ecx
	and $0xffff0000, %edx
	or $GATE_FLAGS, %edx
	mov out_irq, %ebx
	add $32, %ebx
	mov $LHCALL_LOAD_IDT_ENTRY, %eax
	int $LGUEST_TRAP_ENTRY
	movl $X86_EFLAGS_IF, lguest_data

	# DRIVER_OK: now the Launcher starts a thread for each queue.
	movb $S_ACKNOWLEDGE | S_DRIVER | S_DRIVER_OK, STATUS(%esi)
	call notify_status

	# Descriptor 0 holds our message: address (64 bits), length, flags 0 (the device reads it).
	mov out_ring, %edi
	movl $msg, (%edi)
	movl $0, 4(%edi)
	movl $msg_end - msg, 8(%edi)
	movl $0, 12(%edi)
	# Offer it: avail->ring[avail->idx % 256] = 0, then avail->idx++.
	movzwl AVAIL_IDX(%edi), %eax
	movzbl %al, %ecx
	movw $0, AVAIL_RING(%edi,%ecx,2)
	inc %eax
	movw %ax, AVAIL_IDX(%edi)
	# Kick, unless the device thread said it is awake anyway.
	testw $VRING_USED_F_NO_NOTIFY, USED(%edi)
	jnz wait_used
	mov $LHCALL_NOTIFY, %eax
	mov %edi, %ebx
	int $LGUEST_TRAP_ENTRY

	# Sleep until the used ring's index says the buffer came back.
wait_used:
	mov out_ring, %edi
	cmpw $1, USED_IDX(%edi)
	je sent
	mov $LHCALL_HALT, %eax
	int $LGUEST_TRAP_ENTRY
	jmp wait_used

sent:
	mov $LHCALL_NOTIFY, %eax	# the early console still works: an address below RAM's end
	mov $back, %ebx
	int $LGUEST_TRAP_ENTRY
power_off:
	mov $LHCALL_SHUTDOWN, %eax
	mov $bye, %ebx
	mov $1, %ecx
	int $LGUEST_TRAP_ENTRY
1:	hlt
	jmp 1b

notify_status:
	mov $LHCALL_NOTIFY, %eax	# the descriptor's address: "my status changed"
	mov $DEVICES, %ebx
	int $LGUEST_TRAP_ENTRY
	ret

# The gate turned irq_enabled off; count the interrupt and turn it back on.
used_interrupt:
	incl irqs
	movl $X86_EFLAGS_IF, lguest_data
	iret

# The boot page tables the Host built (lguest_data.pgdir: the page directory it wrote just below the top
# of RAM) map our RAM at 0 and at 0xc0000000, and nothing above it. So before we touch the devices page we
# map it ourselves: a page table of our own for the 4 MB at DEVICES, identity-mapping the devices page and
# the ring pages the Launcher handed out above it, hung in the boot page directory. LHCALL_SET_PGD tells the
# Host that directory entry changed. (A Linux Guest maps the page with lguest_map() instead.)
map_devices:
	mov lguest_data + LG_PGDIR, %edi
	mov $devices_pt, %eax
	or $PTE_FLAGS, %eax
	mov %eax, DEVICES_PGD * 4(%edi)
	mov $DEVICES | PTE_FLAGS, %eax
	xor %ecx, %ecx
1:	mov %eax, devices_pt(,%ecx,4)
	add $4096, %eax
	inc %ecx
	cmp $DEVICE_PAGES_USED, %ecx
	jne 1b
	mov $LHCALL_SET_PGD, %eax
	mov lguest_data + LG_PGDIR, %ebx
	mov $DEVICES_PGD, %ecx
	int $LGUEST_TRAP_ENTRY
	ret

	.data
out_irq:	.long 0
out_ring:	.long 0
irqs:		.long 0
msg:	.ascii "Hello through virtio\n"
msg_end:
back:	.asciz "back in the used ring\n"
bye:	.asciz "Power down"
	.balign 16
stack:	.space 4096
stack_top:
	.balign 4096
devices_pt:	.fill 1024, 4, 0	# our page table for the devices' 4 MB

	# struct lguest_data, shared with the Host: the async hypercall slots (from byte 24) start free.
	.balign 4096
lguest_data:
	.long 0, 0, 0, 0, 0, 0		# irq_enabled, blocked_interrupts, cr2, time, irq_pending
	.fill 64, 1, 0xff		# hcall_status[64]: all free
	.fill 64 * 5, 4, 0		# hcalls[64]
	.long 0, 0, 0, 0, 0, 0		# reserve_mem .. kernel_address
	.long 0x80			# syscall_vec: the Host insists on 0x80
	.balign 4096
