# virtio_echo.S: a Guest that reads a line from the Launcher's terminal through the console's
# input queue and sends it back through the output queue.
#
# A driver offers input buffers before it says DRIVER_OK, so the device has somewhere to put
# the first key as soon as it starts. The input queue is the console's queue 0, the output
# queue its queue 1; each lguest_vqconfig is {u16 num; u16 irq; u32 pfn}, after the 5-byte
# descriptor. Built for the course's 32 MB: the devices page is at 32 MB.

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

	.equ DEVICES, 0x2000000
	.equ VIRTIO_ID_CONSOLE, 3
	.equ STATUS, 4
	.equ IN_PFN, 5 + 4		# vqconfig[0].pfn
	.equ OUT_PFN, 5 + 8 + 4		# vqconfig[1].pfn

	# Ring layout for 256 descriptors (see virtio_console.S).
	.equ AVAIL_IDX, 0x1002
	.equ AVAIL_RING, 0x1004
	.equ USED_FLAGS, 0x2000
	.equ USED_IDX, 0x2002
	.equ USED_RING, 0x2004		# {u32 id; u32 len} each
	.equ VRING_DESC_F_NEXT, 1
	.equ VRING_DESC_F_WRITE, 2
	.equ VRING_USED_F_NO_NOTIFY, 1

	.equ KERNEL_CS, 0x61
	.equ GATE_FLAGS, 0xae00
	.equ X86_EFLAGS_IF, 512

	.text
	.globl start
start:
	mov $stack_top, %esp
	mov $LHCALL_LGUEST_INIT, %eax
	mov $lguest_data, %ebx
	int $LGUEST_TRAP_ENTRY
	call map_devices

	mov $DEVICES, %esi
	cmpb $VIRTIO_ID_CONSOLE, (%esi)
	jne power_off
	mov IN_PFN(%esi), %eax
	shl $12, %eax
	mov %eax, in_ring
	mov OUT_PFN(%esi), %eax
	shl $12, %eax
	mov %eax, out_ring

	# The input queue has irq 1, the output queue irq 2: one handler for both.
	mov $1, %ebx
	call set_gate
	mov $2, %ebx
	call set_gate
	movl $X86_EFLAGS_IF, lguest_data

	movb $3, STATUS(%esi)		# ACKNOWLEDGE | DRIVER
	call notify_status

	# Offer 64 bytes for the device to write: descriptor 0, flags VRING_DESC_F_WRITE.
	mov in_ring, %edi
	movl $inbuf, (%edi)
	movl $0, 4(%edi)
	movl $64, 8(%edi)
	movl $VRING_DESC_F_WRITE, 12(%edi)
	movw $0, AVAIL_RING(%edi)
	movw $1, AVAIL_IDX(%edi)

	movb $7, STATUS(%esi)		# DRIVER_OK: the threads start
	call notify_status

	# Sleep until the input thread hands the buffer back.
wait_input:
	mov in_ring, %edi
	cmpw $1, USED_IDX(%edi)
	je got_input
	mov $LHCALL_HALT, %eax
	int $LGUEST_TRAP_ENTRY
	jmp wait_input

	# used->ring[0].len says how many bytes came. Send "got: " and then those bytes, as
	# one chain of two descriptors (the first says NEXT, and next = 1).
got_input:
	mov USED_RING + 4(%edi), %ecx
	mov out_ring, %edi
	movl $prefix, (%edi)
	movl $0, 4(%edi)
	movl $5, 8(%edi)
	movl $(1 << 16) | VRING_DESC_F_NEXT, 12(%edi)
	movl $inbuf, 16(%edi)
	movl $0, 20(%edi)
	mov %ecx, 24(%edi)
	movl $0, 28(%edi)
	movw $0, AVAIL_RING(%edi)
	movw $1, AVAIL_IDX(%edi)
	testw $VRING_USED_F_NO_NOTIFY, USED_FLAGS(%edi)
	jnz wait_output
	mov $LHCALL_NOTIFY, %eax
	mov %edi, %ebx
	int $LGUEST_TRAP_ENTRY

wait_output:
	mov out_ring, %edi
	cmpw $1, USED_IDX(%edi)
	je power_off
	mov $LHCALL_HALT, %eax
	int $LGUEST_TRAP_ENTRY
	jmp wait_output

power_off:
	mov $LHCALL_SHUTDOWN, %eax
	mov $bye, %ebx
	mov $1, %ecx
	int $LGUEST_TRAP_ENTRY
1:	hlt
	jmp 1b

notify_status:
	mov $LHCALL_NOTIFY, %eax
	mov $DEVICES, %ebx
	int $LGUEST_TRAP_ENTRY
	ret

# %ebx = irq: an interrupt gate for vector 32 + irq.
set_gate:
	mov $irq_handler, %edx
	mov %edx, %ecx
	and $0xffff, %ecx
	or $(KERNEL_CS << 16), %ecx
	and $0xffff0000, %edx
	or $GATE_FLAGS, %edx
	add $32, %ebx
	mov $LHCALL_LOAD_IDT_ENTRY, %eax
	int $LGUEST_TRAP_ENTRY
	ret

irq_handler:
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
devices_pt:	.fill 1024, 4, 0	# our page table for the devices' 4 MB

	.balign 4096
lguest_data:
	.long 0, 0, 0, 0, 0, 0		# irq_enabled, blocked_interrupts, cr2, time, irq_pending
	.fill 64, 1, 0xff		# hcall_status[64]: all free
	.fill 64 * 5, 4, 0		# hcalls[64]
	.long 0, 0, 0, 0, 0, 0		# reserve_mem .. kernel_address
	.long 0x80			# syscall_vec: the Host insists on 0x80
	.balign 4096
