# Memory-heavy code with paging on: a pointer chase through 32,768 nodes of 64 bytes spread over 2 MB
# (512 pages, visited in the order of a full-period LCG, so nearly every step lands on another page),
# read-modify-write of each node's payload, scattered stores into a 256 KB hash table, and a sweep that
# steps a page and a line at a time. The lguest Guest runs on the page tables the Host built for it at
# boot (everything mapped at 0 as well as at 0xc0000000); the multiboot kernel builds its own identity map
# of the first 16 MB.
	.include "bench.inc"
	.ifndef ITERS
	.set ITERS, 100000
	.endif
	.set NODES, 32768
bench_main:
.ifdef GUEST
	movl $4, %eax			# LHCALL_NEW_PGTABLE: the boot page tables
	movl lg_pgdir, %ebx
	int $0x1f
.endif
.ifdef MULTIBOOT
	xorl %ecx, %ecx			# 4096 ptes: frame k at k * 4 KB, present and writable
1:	movl %ecx, %eax
	shll $12, %eax
	orl $3, %eax
	movl %eax, ptes(,%ecx,4)
	incl %ecx
	cmpl $4096, %ecx
	jb 1b
	xorl %ecx, %ecx			# 4 directory entries
2:	movl %ecx, %eax
	shll $12, %eax
	addl $ptes, %eax
	orl $3, %eax
	movl %eax, pgdir(,%ecx,4)
	incl %ecx
	cmpl $4, %ecx
	jb 2b
	movl $pgdir, %eax
	movl %eax, %cr3
	movl %cr0, %eax
	orl $0x80000000, %eax
	movl %eax, %cr0
.endif
	# link node k to node (k * 0x4e6d + 0x3039) mod NODES: one cycle through them all
	xorl %ecx, %ecx
3:	movl %ecx, %eax
	imull $0x4e6d, %eax, %eax
	addl $0x3039, %eax
	andl $NODES - 1, %eax
	shll $6, %eax
	addl $nodes, %eax
	movl %ecx, %edx
	shll $6, %edx
	movl %eax, nodes(%edx)
	movl %ecx, nodes + 4(%edx)
	incl %ecx
	cmpl $NODES, %ecx
	jb 3b
	movl $nodes, %esi
	movl $ITERS, iter
4:	movl $16, %ecx			# the chase
5:	movl (%esi), %esi
	movl 4(%esi), %eax
	addl %eax, %ebp
	addl %ebp, 8(%esi)
	movl 36(%esi), %edx
	xorl %edx, %ebp
	movl %ebp, 40(%esi)
	decl %ecx
	jnz 5b
	movl %ebp, %eax			# scattered stores into the hash table
	movl $8, %ecx
6:	imull $0x9e3779b1, %eax, %eax
	movl %eax, %edx
	shrl $16, %edx			# 64 K dwords
	xorl %ecx, table(,%edx,4)
	addl table + 4(,%edx,4), %ebp
	decl %ecx
	jnz 6b
	movl iter, %edx			# a sweep, a page and a line per step
	andl $127, %edx
	shll $6, %edx
	addl $nodes, %edx
	movl $8, %ecx
7:	addl 12(%edx), %ebp
	addl $4096 + 64, %edx
	decl %ecx
	jnz 7b
	roll $1, %ebp
	decl iter
	jnz 4b
	movl %ebp, %eax
	xorl table + 1000, %eax
	addl 8(%esi), %eax
	jmp bench_done

	.data
bench_name:	.asciz "memory"
	.balign 4
iter:	.long 0
	.bss
	.balign 4096
.ifdef MULTIBOOT
pgdir:	.space 4096
ptes:	.space 4 * 4096
.endif
nodes:	.space NODES * 64
table:	.space 65536 * 4 + 8
