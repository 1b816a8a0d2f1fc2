# Addressing modes: absolute, base, base + disp8/disp32, index * scale (1, 2, 4, 8) + disp, base + index *
# scale + disp, esp- and ebp-based (SS), segment overrides (es, ss, fs, gs), 16-bit addressing (an addr16
# prefix: bx/bp + si/di + disp16) on a table in low memory, lea in its forms, movzx/movsx, xchg, push and
# pop of memory operands. (The Linux build, which cannot reach low memory, reads the same table through
# 32-bit addressing: the checksum is the same.)
	.include "bench.inc"
	.ifndef ITERS
	.set ITERS, 300000
	.endif
	.set LOW, 0x9000		# the table the 16-bit modes read (below 64 KB)
bench_main:
	movw %ds, %ax			# fs and gs get the data segment, so overrides through them work
	movw %ax, %fs
	movw %ax, %gs
	movl $table, %esi		# fill the table with a pattern; copy it to low memory
	xorl %ecx, %ecx
0:	leal (%ecx,%ecx,8), %eax
	xorl $0x5a5a5a5a, %eax
	roll %cl, %eax
	movl %eax, (%esi,%ecx,4)
	incl %ecx
	cmpl $256, %ecx
	jb 0b
.ifdef GUEST
	movl $LOW, %edi
.else
.ifdef MULTIBOOT
	movl $LOW, %edi
.else
	movl $low_copy, %edi
.endif
.endif
	movl %edi, low_base
	movl $256, %ecx
	rep movsl
	movl $0xcc9e2d51, %ebx
	movl $ITERS, iter
1:	movl %ebx, %eax			# xorshift
	shll $13, %eax
	xorl %eax, %ebx
	movl %ebx, %eax
	shrl $17, %eax
	xorl %eax, %ebx
	movl %ebx, %eax
	shll $5, %eax
	xorl %eax, %ebx
	movl %ebx, %esi
	andl $63, %esi			# an index 0..63
	movl $table, %edi
	addl table(,%esi,4), %ebp		# index * 4 + disp32
	xorl 8(%edi,%esi,2), %ebp		# base + index * 2 + disp8
	addl 256(%edi,%esi,1), %ebp		# base + index + disp32
	subl (%edi,%esi,8), %ebp		# base + index * 8
	movl table + 20, %eax			# absolute
	addl %eax, %ebp
	movl 40(%edi), %eax			# base + disp8
	xorl %eax, %ebp
	movl 600(%edi), %eax			# base + disp32
	addl %eax, %ebp
	movl (%edi), %eax			# base
	addl %eax, %ebp
	movzbl 3(%edi,%esi,4), %eax		# zero- and sign-extending loads
	addl %eax, %ebp
	movsbl 5(%edi,%esi,2), %eax
	addl %eax, %ebp
	movzwl 2(%edi,%esi,4), %eax
	xorl %eax, %ebp
	movswl 6(%edi,%esi,4), %eax
	addl %eax, %ebp
	movb %bl, out(%esi)			# stores of each size
	movw %bx, out+64(,%esi,2)
	movl %ebp, out+192(,%esi,4)
	leal 7(%esi,%esi,4), %eax		# lea as arithmetic
	leal (%eax,%ebx,2), %edx
	leal -3(,%esi,8), %ecx
	addl %edx, %ebp
	addl %ecx, %ebp
	movl %es:4(%edi,%esi,4), %eax		# segment overrides
	addl %eax, %ebp
	movl %fs:12(%edi), %eax
	xorl %eax, %ebp
	movl %gs:table + 44, %eax
	addl %eax, %ebp
	# the stack: esp- and ebp-based (SS), push and pop of memory, xchg
	pushl %ebp
	pushl table(,%esi,4)
	pushl %ebx
	movl 4(%esp), %eax
	addl %eax, (%esp)
	movl %esp, %edx
	xchgl %ebp, %edx
	movl 8(%ebp), %eax			# ebp-based: SS
	xchgl %ebp, %edx
	addl %ss:(%esp), %eax
	popl out+448
	popl %ecx
	popl %ecx
	addl %eax, %ebp
	xchgl out+448, %eax
	xorl %eax, %ebp
	# 16-bit addressing on the low table (its offset fits in 16 bits)
	movl %esi, %ecx
	andl $31, %ecx
.ifdef GUEST
	.set A16, 1
.endif
.ifdef MULTIBOOT
	.set A16, 1
.endif
.ifdef A16
	movl $LOW, %ebx
	pushl %ebp
	movl %ecx, %esi
	leal (%ecx,%ecx), %edi
	movl $LOW + 64, %ebp
	addr16 movl (%bx,%si), %eax
	addr16 movl (%bp,%di), %edx		# bp: SS
	addr16 addl 4(%bx,%di), %eax
	addr16 xorl 0x40(%bx,%si), %edx
	addr16 movzbl 0x100(%bx), %ecx
	popl %ebp
.else
	movl low_base, %ebx
	pushl %ebp
	movl %ecx, %esi
	leal (%ecx,%ecx), %edi
	leal 64(%ebx), %ebp
	movl (%ebx,%esi), %eax
	movl (%ebp,%edi), %edx
	addl 4(%ebx,%edi), %eax
	xorl 0x40(%ebx,%esi), %edx
	movzbl 0x100(%ebx), %ecx
	popl %ebp
.endif
	addl %eax, %ebp
	xorl %edx, %ebp
	addl %ecx, %ebp
	movl %ebp, %ebx				# the next state: keep it moving
	xorl $0x9e3779b9, %ebx
	orl $1, %ebx
	decl iter
	jnz 1b
	movl $out, %esi			# fold the stores in
	movl $116, %ecx
	movl %ebp, %edx
2:	lodsl
	addl %eax, %edx
	roll $3, %edx
	loop 2b
	movl %edx, %eax
	jmp bench_done

	.data
bench_name:	.asciz "addressing"
	.balign 4
iter:	.long 0
low_base: .long 0
	.bss
	.balign 16
table:	.space 1024
out:	.space 464
low_copy: .space 1024
