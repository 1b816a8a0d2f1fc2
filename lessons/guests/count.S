# count.S: a Guest that computes something and prints the answer in decimal.
#
# It adds up the squares 1*1 + 2*2 + ... + 10*10 in a loop, turns the sum into decimal digits
# (dividing by 10 gives the digits from the right), and NOTIFYs the Launcher with the text.

	.equ LHCALL_LGUEST_INIT, 1
	.equ LHCALL_SHUTDOWN, 2
	.equ LHCALL_NOTIFY, 17
	.equ LGUEST_TRAP_ENTRY, 0x1f
	.equ LAST, 10			# sum the squares of 1..LAST

	.text
	.globl start
start:
	mov $LHCALL_LGUEST_INIT, %eax
	mov $lguest_data, %ebx
	int $LGUEST_TRAP_ENTRY

	# Sum of squares: %ecx counts 1..LAST, %esi holds the running total.
	xor %esi, %esi
	mov $1, %ecx
1:	mov %ecx, %eax
	imul %ecx, %eax			# eax = ecx * ecx
	add %eax, %esi
	inc %ecx
	cmp $LAST, %ecx
	jbe 1b

	# Write the digits backwards into the buffer, ending just before its newline.
	mov %esi, %eax
	mov $digits_end, %edi
	mov $10, %ebx
2:	xor %edx, %edx
	div %ebx			# eax = eax / 10, edx = the digit
	add $'0, %dl
	dec %edi
	movb %dl, (%edi)
	test %eax, %eax
	jnz 2b

	# Print the label, then the digits (they start at %edi).
	mov $LHCALL_NOTIFY, %eax
	mov $label, %ebx
	int $LGUEST_TRAP_ENTRY
	mov $LHCALL_NOTIFY, %eax
	mov %edi, %ebx
	int $LGUEST_TRAP_ENTRY

	mov $LHCALL_SHUTDOWN, %eax
	mov $bye, %ebx
	mov $1, %ecx
	int $LGUEST_TRAP_ENTRY
3:	hlt
	jmp 3b

	.data
label:	.asciz "sum of squares 1..10 = "
	.space 10			# room for the digits, written right to left
digits_end:
	.asciz "\n"
bye:	.asciz "Power down"

	.balign 4096
lguest_data:
	# struct lguest_data, shared with the Host. Before LGUEST_INIT a Guest marks every slot of the
	# async hypercall ring free (0xff) and asks for the usual system-call vector (0x80): the Host
	# checks it. Everything else starts at zero.
	.long 0, 0, 0, 0, 0, 0		# irq_enabled, blocked_interrupts, cr2, time (2 words), irq_pending
	.fill 64, 1, 0xff		# hcall_status[64]: all free
	.fill 64 * 5, 4, 0		# hcalls[64]
	.long 0, 0, 0			# reserve_mem, tsc_khz, pgdir (the Host fills these in)
	.long 0, 0, 0			# noirq_start, noirq_end, kernel_address
	.long 0x80			# syscall_vec
	.balign 4096
