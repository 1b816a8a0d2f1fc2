# set_guest_interrupt() pushes each word of a reflected trap's frame with its own lgwrite(), below the
# physical address of the stack pointer. With %esp at 8, at the very bottom of Guest memory, two words fit
# (eflags at 4, cs at 0) and the rest wrap to 0xfffffffc and below, outside the Guest: the first of those
# kills it ("bad write address 0xfffffffc len 4"), the next is refused too (and its reason dropped), and
# the Host still sets esp, cs and eip as if the frame were whole.
# int $0x40 at ring 1 meets the Switcher's privilege-0 gate: #GP(0x202), which comes to the Host and is
# reflected through the Guest's interrupt gate for 13 with its error code: four words.
	.code32
	.text
	.globl start
start:
	movl $stack_top, %esp
	movl $1, %eax			# LHCALL_LGUEST_INIT
	movl $lguest_data, %ebx
	int $0x1f
	movl $13, %ebx			# LHCALL_LOAD_IDT_ENTRY(13, h_gp, interrupt gate, DPL 1)
	movl $h_gp, %edx
	movl %edx, %ecx
	andl $0xffff, %ecx
	orl $0x00610000, %ecx
	andl $0xffff0000, %edx
	orl $0xae00, %edx
	movl $6, %eax
	int $0x1f
	movl $8, %esp
	int $0x40
1:	jmp 1b

h_gp:					# never runs: the Guest died pushing its frame
	movl $2, %eax
	movl $bye, %ebx
	movl $1, %ecx
	int $0x1f
2:	jmp 2b

	.data
bye:	.asciz "Power down"
	.balign 16
stack:	.space 1024
stack_top:
	.include "lguest_data.inc"
