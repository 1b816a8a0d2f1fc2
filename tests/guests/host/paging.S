# A Guest that pages: it first loads the boot page tables the Host built and writes through their
# 0xc0000000 alias; then it builds its own page directory (its first 4 MB mapped at the same addresses, plus
# a second name for one data page at 0x40000000), loads it with LHCALL_NEW_PGTABLE, writes through the
# alias and reads back through the identity mapping, checks that the Host set the accessed and dirty bits
# in its page table entries, flushes and re-points the alias with SET_PTE, then touches an address nothing
# maps: the Host reflects the page fault to the handler in its IDT, which prints cr2 from lguest_data.
	.code32
	.text
	.globl start
start:
	movl $stack_top, %esp
	movl $0xc0000000, kernel_address	# everything we map lies below: "user" mappings
	movl $1, %eax			# LHCALL_LGUEST_INIT
	movl $lguest_data, %ebx
	int $0x1f

	movl $7, %eax			# LHCALL_SET_STACK: our stack, one page, kept mapped by the Host
	movl $0x69, %ebx
	movl $stack_top, %ecx
	movl $1, %edx
	int $0x1f

	# First the boot page tables the Host built (lguest_data.pgdir): RAM at 0 and at 0xc0000000. The
	# Host already shadows them (pgdirs[0]); from now on every page we touch faults in from them.
	movl $4, %eax			# LHCALL_NEW_PGTABLE
	movl lg_pgdir, %ebx
	int $0x1f
	movl $0x1234, 0xc0000000 + counter	# the same page through PAGE_OFFSET
	cmpl $0x1234, counter
	jne fail
	movl $0, counter
	# Run a little code through the 0xc0000000 mapping: the Host must find the bytes of `in` and
	# `vmcall` at Guest-physical eip - 0xc0000000 (guest_pa()), not at eip.
	movl $high + 0xc0000000, %eax
	jmp *%eax
back:

	movl $pf_handler, %ecx		# vector 14: an interrupt gate (type 0xE, DPL 1) in __KERNEL_CS (0x61)
	movl %ecx, %edx
	andl $0xffff, %ecx
	orl $0x00610000, %ecx
	andl $0xffff0000, %edx
	orl $0xae00, %edx
	movl $14, %ebx
	movl $6, %eax			# LHCALL_LOAD_IDT_ENTRY
	int $0x1f

	# pt0 maps 0..4 MB at the same addresses: present, writable, user (7).
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	shll $12, %eax
	orl $7, %eax
	movl %eax, pt0(,%ecx,4)
	incl %ecx
	cmpl $1024, %ecx
	jb 1b
	movl $pt0, %eax
	orl $7, %eax
	movl %eax, pgdir		# slot 0: 0x00000000
	movl $pt1, %eax
	orl $7, %eax
	movl %eax, pgdir + 256 * 4	# slot 256: 0x40000000
	movl $shared, %eax
	orl $3, %eax			# present, writable; not accessed, not dirty
	movl %eax, pt1			# 0x40000000 -> shared

	movl $4, %eax			# LHCALL_NEW_PGTABLE: "load cr3" with our own
	movl $pgdir, %ebx
	int $0x1f
	movl $17, %eax
	movl $m_on, %ebx
	int $0x1f

	# Write through the alias, read back through the identity mapping.
	movl $0x12345678, 0x40000000
	cmpl $0x12345678, shared
	jne fail
	movl pt1, %eax			# the Host marked the alias accessed (0x20) and dirty (0x40)
	andl $0x60, %eax
	cmpl $0x60, %eax
	jne fail
	# A read maps a page read-only; the first write faults again and only then sets dirty.
	movl counter, %eax
	movl $counter, %ebx
	shrl $12, %ebx
	movl pt0(,%ebx,4), %edx
	testl $0x40, %edx
	jnz fail
	incl counter
	movl pt0(,%ebx,4), %edx
	testl $0x40, %edx
	jz fail
	movl $17, %eax
	movl $m_alias, %ebx
	int $0x1f

	# Throw the user mappings away (they all fault back in), then re-point the alias with SET_PTE.
	movl $5, %eax			# LHCALL_FLUSH_TLB 0: user mappings only
	xorl %ebx, %ebx
	int $0x1f
	cmpl $0x12345678, 0x40000000	# faults back in: the alias still names shared
	jne fail
	movl $other, %eax
	orl $0x23, %eax			# present, writable, accessed: the Host may install it at once
	movl %eax, pt1
	movl %eax, %edx
	movl $14, %eax			# LHCALL_SET_PTE(pgdir, vaddr, pte)
	movl $pgdir, %ebx
	movl $0x40000000, %ecx
	int $0x1f
	cmpl $0xcafef00d, 0x40000000
	jne fail
	movl $17, %eax
	movl $m_setpte, %ebx
	int $0x1f

	# Nothing maps 0x80000000: the Host cannot fix this fault, so it is ours.
	movl $0x80000000, %ebx
	movl (%ebx), %eax
fail:
	movl $17, %eax
	movl $m_fail, %ebx
	int $0x1f
	jmp shutdown

high:	inb $0x21, %al			# emulated (in at ring 1 is #GP): reads 0xff
	cmpb $0xff, %al
	jne fail
	movl $17, %eax
	movl $m_boot, %ebx
	vmcall				# #UD: rewritten to int $0x1f; nop where it is, then a NOTIFY
	movl $back, %eax
	jmp *%eax

pf_handler:
	movl lg_cr2, %eax		# lguest_data.cr2: where the fault was
	movl $hex + 9, %edi
	movl $8, %ecx
2:	movl %eax, %edx
	andl $15, %edx
	movb digits(%edx), %dl
	movb %dl, (%edi)
	decl %edi
	shrl $4, %eax
	loop 2b
	movl $17, %eax
	movl $m_pf, %ebx
	int $0x1f
shutdown:
	movl $2, %eax			# LHCALL_SHUTDOWN
	movl $bye, %ebx
	movl $1, %ecx
	int $0x1f
3:	jmp 3b

	.data
m_boot:	.asciz "boot tables\n"
m_on:	.asciz "paging on\n"
m_alias: .asciz "alias ok\n"
m_setpte: .asciz "set_pte ok\n"
m_fail:	.asciz "FAILED\n"
m_pf:	.ascii "page fault at "
hex:	.asciz "0x????????\n"
digits:	.ascii "0123456789abcdef"
bye:	.asciz "Power down"
	.balign 4096
pgdir:	.fill 1024, 4, 0
pt0:	.fill 1024, 4, 0
pt1:	.fill 1024, 4, 0
shared:	.long 0
	.balign 4096
other:	.long 0xcafef00d
	.balign 4096
counter: .long 0
	.balign 4096
stack:	.space 4096
stack_top:
	.include "lguest_data.inc"
