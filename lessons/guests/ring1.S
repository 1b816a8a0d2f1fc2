# ring1.S: what a Guest kernel, running at ring 1, cannot do for itself, and what the Host does instead.
# Each part says what happened through the early console (LHCALL_NOTIFY), so every read() returns a line.
	.equ LHCALL_LGUEST_INIT, 1
	.equ LHCALL_SHUTDOWN, 2
	.equ LHCALL_LOAD_IDT_ENTRY, 6
	.equ LHCALL_SET_PMD, 13		# only a PAE Host knows it
	.equ LHCALL_LOAD_TLS, 16
	.equ LHCALL_NOTIFY, 17

	.text
	.globl start
start:
	movl $stack_top, %esp
	movl $LHCALL_LGUEST_INIT, %eax
	movl $lguest_data, %ebx
	int $0x1f

	# 1. cli at ring 1 is a #GP(0): the Host's emulate_insn() steps over it.
	cli
	movl $m_cli, %ebx
	call say

	# 2. in at ring 1 is a #GP(0) too: emulated, with the value an empty port gives.
	movl $0x12345678, %eax
	inb $0x60, %al
	movl %eax, 0x5000		# where the lesson looks (expect mem.0x5000)
	movl $m_in, %ebx
	call say

	# 3. out is emulated as well: the byte goes nowhere.
	outb %al, $0x80
	movl $m_out, %ebx
	call say

	# 4. Our own #GP handler (vector 13, an interrupt gate of privilege 1), then an int through a gate
	#    the Guest may not use: 0x40 is one of the Host's.
	movl $13, %ebx
	movl $h_gp, %edx
	movl %edx, %ecx
	andl $0xffff, %ecx
	orl $0x00610000, %ecx		# __KERNEL_CS (0x61) and the handler's low half
	andl $0xffff0000, %edx
	orl $0xae00, %edx		# present, privilege 1, interrupt gate, and the handler's high half
	movl $LHCALL_LOAD_IDT_ENTRY, %eax
	int $0x1f
	int $0x40

	# 5. Three thread-local-storage descriptors, written with privilege 0.
	movl $LHCALL_LOAD_TLS, %eax
	movl $tls, %ebx
	int $0x1f
	movl $m_tls, %ebx
	call say

	# 6. A hypercall this (non-PAE) Host does not have.
	movl $LHCALL_SET_PMD, %eax
	movl $0x8000, %ebx
	int $0x1f

	movl $LHCALL_SHUTDOWN, %eax
	movl $bye, %ebx
	movl $1, %ecx
	int $0x1f
1:	jmp 1b

say:
	pushl %eax
	movl $LHCALL_NOTIFY, %eax
	int $0x1f
	popl %eax
	ret

h_gp:					# the frame: error code, eip (at the int), cs, eflags
	movl $m_gp_other, %ebx
	cmpl $0x202, (%esp)
	jne 1f
	movl $m_gp_202, %ebx
1:	call say
	addl $4, %esp			# drop the error code
	addl $2, (%esp)			# step over the two-byte int
	iret

	.data
m_cli:	.asciz "cli was skipped\n"
m_in:	.asciz "inb came back\n"
m_out:	.asciz "outb went nowhere\n"
m_gp_202: .asciz "#GP(0x202) for int $0x40\n"
m_gp_other: .asciz "#GP with another error code\n"
m_tls:	.asciz "TLS loaded\n"
bye:	.asciz "Power down"
	.balign 8
tls:	.long 0x0000ffff, 0x00cf9200	# a flat data segment of privilege 0, three times
	.long 0x0000ffff, 0x00cf9200
	.long 0x0000ffff, 0x00cf9200
	.balign 16
	.space 1024
stack_top:

	# struct lguest_data, the page the Guest shares with the Host (LHCALL_LGUEST_INIT).
	.balign 4096
lguest_data:
	.long 0, 0, 0, 0, 0, 0		# irq_enabled, blocked_interrupts, cr2, time (2 words), irq_pending
	.fill 64, 1, 0xff		# hcall_status: every async slot free
	.fill 64 * 5, 4, 0		# hcalls
	.long 0, 0, 0, 0, 0, 0		# reserve_mem, tsc_khz, pgdir, noirq_start, noirq_end, kernel_address
	.long 0x80			# syscall_vec
	.balign 4096
