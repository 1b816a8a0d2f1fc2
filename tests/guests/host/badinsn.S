# The Host reads the instruction behind a #GP or #UD from Guest memory, and that read can itself kill the
# Guest. Built with `as --defsym CASE=n`, each case dies its own way:
#  1. a vmcall in the last three bytes below pfn_limit: is_hypercall()'s __lgread() of 3 bytes ends exactly
#     at the limit, which lguest_address_ok() refuses: "bad read address 0x2006ffd len 3".
#  2. an `in` in the very last byte: emulate_insn()'s one-byte read: "bad read address 0x2006fff len 1".
#  3. a ud2 on a page the shadow still maps after the Guest cleared its own pte (it never told the Host):
#     guest_pa() walks the Guest's tables and finds it not present: "Bad address 0x101006".
#  4. the same with the page directory entry cleared instead: "Bad address 0x101006".
# The Launcher of these tests gives the Guest 32 MB of RAM, the devices page and the console's two
# virtqueues (three pages each), so pfn_limit is 0x2007: Guest memory ends at LIMIT. The boot page tables
# map only the RAM, so cases 1 and 2 map the last page themselves, through a page table of their own in
# slot 8 (0x02000000) of the boot page directory, which the Host has not shadowed yet.
	.set LIMIT, 0x2007000
	.code32
	.text
	.globl start
start:
	movl $stack_top, %esp
	movl $1, %eax			# LHCALL_LGUEST_INIT: the Host writes the boot pgdir into lguest_data
	movl $lguest_data, %ebx
	int $0x1f
	movl lg_pgdir, %edi		# the boot page directory (RAM is mapped at the same addresses)
.if CASE <= 2
	movl $pt_top, %ecx
	orl $3, %ecx			# present, writable
	movl %ecx, 8 * 4(%edi)		# slot 8: 0x02000000-0x023fffff through pt_top
	movl $(LIMIT - 0x1000) | 3, pt_top + (((LIMIT - 0x1000) >> 12) & 1023) * 4
.endif
.if CASE == 1
	movb $0x0f, LIMIT - 3		# vmcall: 0f 01 c1, its last byte the last byte of Guest memory
	movb $0x01, LIMIT - 2
	movb $0xc1, LIMIT - 1
	movl $LIMIT - 3, %eax
	jmp *%eax
.endif
.if CASE == 2
	movb $0xec, LIMIT - 1		# in (%dx), %al: #GP(0) at ring 1
	movl $LIMIT - 1, %eax
	jmp *%eax
.endif
.if CASE == 3
	movl (%edi), %ebx		# slot 0's page table (Guest-physical = virtual here)
	andl $0xfffff000, %ebx
	movl $there, %ecx
	shrl $12, %ecx
	leal (%ebx,%ecx,4), %ebx	# the pte of the page `there` is on
	jmp there
.endif
.if CASE == 4
	movl %edi, %ebx			# slot 0 of the page directory itself
	jmp there
.endif
1:	jmp 1b

	.org 0x1000			# `there` is at 0x101000: the shadow maps its page once it runs
there:
	movl $0, (%ebx)			# c7 03 00 00 00 00: the Guest's own entry is gone, the shadow's stays
	ud2				# at 0x101006: #UD, and is_hypercall() asks guest_pa() for eip
2:	jmp 2b

	.data
	.balign 4096
pt_top:	.fill 1024, 4, 0
	.balign 16
stack:	.space 1024
stack_top:
	.include "lguest_data.inc"
