# SYSENTER around the world switch (x86/core.c lguest_arch_run_guest()): the Host writes 0 into
# MSR_IA32_SYSENTER_CS before each trip into the Guest and __KERNEL_CS back after it. With a null segment
# there the CPU refuses `sysenter` with #GP(0) instead of entering the Host's ring 0; the trap comes to the
# Host (13 never goes direct), emulate_insn() finds no in/out or cli there, and it is reflected to the
# Guest's handler, error code 0. The same for `sysexit`, which also needs ring 0.
	.code32
	.text
	.globl start
start:
	movl $stack_top, %esp
	movl $1, %eax			# LHCALL_LGUEST_INIT
	movl $lguest_data, %ebx
	int $0x1f

	movl $13, %ebx			# an interrupt gate for #GP
	movl $h_gp, %edx
	movl $0xae00, %edi
	call set_gate
	movl $m_sysenter, %esi
	.byte 0x0f, 0x34		# sysenter (our assembler has no mnemonic for it)
	movl $m_sysexit, %esi
	.byte 0x0f, 0x35		# sysexit

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

h_gp:					# the frame: error code, eip (at the instruction), cs, eflags
	movl %esi, %ebx
	cmpl $0, (%esp)
	je 1f
	movl $m_other, %ebx
1:	movl $17, %eax			# LHCALL_NOTIFY: the line goes to the Launcher's stdout
	int $0x1f
	addl $4, %esp			# drop the error code
	addl $2, (%esp)			# step over the two-byte instruction
	iret

	.data
m_sysenter:	.asciz "sysenter: #GP(0), SYSENTER_CS is 0 while the Guest runs\n"
m_sysexit:	.asciz "sysexit: #GP(0)\n"
m_other:	.asciz "#GP with another error code\n"
bye:		.asciz "Power down"
	.balign 16
stack:	.space 4096
stack_top:
	.include "lguest_data.inc"
