# The FPU and TS (x86/core.c: lguest_arch_run_guest(), math_state_restore(), lguest_arch_handle_trap()
# case 7; boot.c: lguest_write_cr0() and lguest_clts() send LHCALL_TS). The Guest runs under the host
# CPU's cr0, whose TS is set while the Launcher's FPU state is not loaded. The FPU's registers are not
# modelled: an FPU instruction that gets past TS is #UD, which the Host reflects to the handler below.
#  1. cpu->ts clear, TS set (the Launcher has not used the FPU): fwait is #NM, trap 7 to the Host, which
#     runs math_state_restore() and lets the Guest go on at the fwait, now with TS clear: it does nothing.
#  2. fld1 with TS clear reaches the FPU: #UD (not modelled), reflected.
#  3. LHCALL_TS 8 (the Guest's write_cr0() with TS): unlazy_fpu() before the next run sets TS; fld1 is
#     trap 7 and, the Guest having asked, reflected; its handler clears TS (LHCALL_TS 0, as clts does) and
#     returns to the fld1, which traps 7 once more (unlazy_fpu() saved the Launcher's state), this time the
#     Host's alone, and then reaches the FPU: #UD.
	.code32
	.text
	.globl start
start:
	movl $stack_top, %esp
	movl $1, %eax			# LHCALL_LGUEST_INIT
	movl $lguest_data, %ebx
	int $0x1f

	movl $6, %ebx
	movl $h_ud, %edx
	call set_gate
	movl $7, %ebx
	movl $h_nm, %edx
	call set_gate

	fwait
	movl $m_fwait, %ebx
	call say
	.byte 0xd9, 0xe8		# fld1 (spelt in bytes: our assembler, like the core, has no x87)

	movl $8, %eax			# LHCALL_TS
	movl $8, %ebx			# X86_CR0_TS
	int $0x1f
	.byte 0xd9, 0xe8		# fld1 (spelt in bytes: our assembler, like the core, has no x87)

	movl $2, %eax			# LHCALL_SHUTDOWN
	movl $bye, %ebx
	movl $1, %ecx
	int $0x1f
1:	jmp 1b

# LHCALL_LOAD_IDT_ENTRY(%ebx, handler %edx): an interrupt gate in __KERNEL_CS (0x61), DPL 1.
set_gate:
	movl %edx, %ecx
	andl $0xffff, %ecx
	orl $0x00610000, %ecx
	andl $0xffff0000, %edx
	orl $0xae00, %edx
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

h_ud:					# the frame: eip (at the fld1), cs, eflags
	movl $m_ud, %ebx
	call say
	addl $2, (%esp)			# step over the two-byte fld1
	iret

h_nm:					# the frame: eip (at the fld1), cs, eflags; no error code
	movl $m_nm, %ebx
	call say
	movl $8, %eax			# LHCALL_TS 0: the Guest's clts
	movl $0, %ebx
	int $0x1f
	iret				# and the fld1 again

	.data
m_fwait:	.asciz "fwait ran after the Host's trap 7\n"
m_ud:		.asciz "fld1: #UD (the FPU is not modelled)\n"
m_nm:		.asciz "#NM reflected to the Guest\n"
bye:		.asciz "Power down"
	.balign 16
stack:	.space 4096
stack_top:
	.include "lguest_data.inc"
