# Direct traps and the gates the Host builds (interrupts_and_traps.c: set_trap(), copy_traps(),
# direct_trap(), default_idt_entry()). Each case prints one line through the early console.
#  1. int3 through a trap gate: straight to the Guest; the CPU pushes the real eflags (IF always on), even
#     though the Guest's virtual irq_enabled is 0.
#  2. int $4 through an interrupt gate: back to the Host, which reflects it with set_guest_interrupt(),
#     whose frame takes IF from irq_enabled (off).
#  3. int $0x40: the Switcher's gate for a Host vector has privilege 0: #GP(0x40 << 3 | 2).
#  4. int $0x80 with no Guest entry: the default gate has privilege 0: #GP(0x402).
#  5. int $0x80 through a trap gate: straight to the Guest (the system call's fast path).
#  6. int $0x80 through an interrupt gate: the Switcher's stub sends it back like a Host interrupt, and
#     lguest_arch_handle_trap() only does cond_resched(): no handler runs.
	.code32
	.text
	.globl start
start:
	movl $stack_top, %esp
	movl $1, %eax			# LHCALL_LGUEST_INIT
	movl $lguest_data, %ebx
	int $0x1f
	movl $0, irq_enabled		# the Guest's interrupts off (the real IF stays on)

	movl $3, %ebx
	movl $h_direct, %edx
	movl $0xaf00, %edi		# present, DPL 1, trap gate
	call set_gate
	int3

	movl $4, %ebx
	movl $h_reflected, %edx
	movl $0xae00, %edi		# present, DPL 1, interrupt gate
	call set_gate
	int $4

	movl $13, %ebx
	movl $h_gp, %edx
	movl $0xae00, %edi
	call set_gate
	int $0x40
	int $0x80

	movl $0x80, %ebx
	movl $h_syscall, %edx
	movl $0xaf00, %edi
	call set_gate
	int $0x80

	movl $0x80, %ebx
	movl $h_syscall, %edx
	movl $0xae00, %edi
	call set_gate
	int $0x80
	movl $m_nothing, %ebx
	call say

	movl $2, %eax			# LHCALL_SHUTDOWN
	movl $bye, %ebx
	movl $1, %ecx
	int $0x1f
1:	jmp 1b

# LHCALL_LOAD_IDT_ENTRY(%ebx, handler %edx, flags %edi) in __KERNEL_CS (0x61).
set_gate:
	movl %edx, %ecx
	andl $0xffff, %ecx
	orl $0x00610000, %ecx
	andl $0xffff0000, %edx
	orl %edi, %edx
	movl $6, %eax
	int $0x1f
	ret

# LHCALL_NOTIFY(%ebx): the string goes to the Launcher's stdout.
say:
	pushl %eax
	movl $17, %eax
	int $0x1f
	popl %eax
	ret

h_direct:
	movl $m_direct_on, %ebx
	testl $0x200, 8(%esp)		# the frame: eip, cs, eflags
	jnz 1f
	movl $m_direct_off, %ebx
1:	call say
	iret

h_reflected:
	movl $m_refl_off, %ebx
	testl $0x200, 8(%esp)
	jz 1f
	movl $m_refl_on, %ebx
1:	call say
	iret

h_gp:					# the frame: error code, eip (at the int), cs, eflags
	movl $m_gp_other, %ebx
	cmpl $0x202, (%esp)
	jne 1f
	movl $m_gp_202, %ebx
1:	cmpl $0x402, (%esp)
	jne 2f
	movl $m_gp_402, %ebx
2:	call say
	addl $4, %esp			# drop the error code
	addl $2, (%esp)			# step over the two-byte int
	iret

h_syscall:
	movl $m_syscall, %ebx
	call say
	iret

	.data
m_direct_on:	.asciz "int3 went straight to the Guest (frame IF on)\n"
m_direct_off:	.asciz "int3 went straight to the Guest (frame IF off)\n"
m_refl_on:	.asciz "int $4 was reflected by the Host (frame IF on)\n"
m_refl_off:	.asciz "int $4 was reflected by the Host (frame IF off)\n"
m_gp_202:	.asciz "#GP(0x202) for int $0x40\n"
m_gp_402:	.asciz "#GP(0x402) for int $0x80\n"
m_gp_other:	.asciz "#GP with another error code\n"
m_syscall:	.asciz "int $0x80 went straight to the Guest\n"
m_nothing:	.asciz "int $0x80 through an interrupt gate: cond_resched(), no handler ran\n"
bye:		.asciz "Power down"
	.balign 16
stack:	.space 4096
stack_top:
	.include "lguest_data.inc"
