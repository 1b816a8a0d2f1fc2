# Control flow: data-dependent conditional branches of every condition, a jump table (jmp through
# memory and through a register), loop/jecxz, cmovcc and setcc, and a little state machine that
# walks a byte string: the branchy code of parsers and schedulers.
	.include "bench.inc"
	.ifndef ITERS
	.set ITERS, 140000
	.endif
bench_main:
	movl $0x85ebca6b, %esi
	movl $ITERS, iter
1:	movl %esi, %eax			# xorshift
	shll $13, %eax
	xorl %eax, %esi
	movl %esi, %eax
	shrl $17, %eax
	xorl %eax, %esi
	movl %esi, %eax
	shll $5, %eax
	xorl %eax, %esi
	# a chain of compares
	movl %esi, %eax
	movl %esi, %ebx
	shrl $16, %ebx
	cmpw %bx, %ax
	jl 2f
	jg 3f
	incl %ebp
	jmp 4f
2:	cmpl $0x40000000, %esi
	jbe 5f
	addl $3, %ebp
	jmp 4f
5:	js 6f
	jo 6f
	subl $5, %ebp
	jmp 4f
6:	xorl $0x55, %ebp
	jmp 4f
3:	testb $1, %al
	jnp 7f
	jne 8f
	addl %eax, %ebp
	jmp 4f
7:	ja 8f
	jae 8f
	notl %ebp
	jmp 4f
8:	jge 9f
	decl %ebp
9:	jle 4f
	addl $7, %ebp
4:	# eight-way jump table, through memory
	movl %esi, %edx
	shrl $29, %edx
	jmp *table(,%edx,4)
case0:	addl $11, %ebp
	jmp 10f
case1:	subl %esi, %ebp
	jmp 10f
case2:	roll $3, %ebp
	jmp 10f
case3:	xorl $0x1234, %ebp
	jmp 10f
case4:	leal 1(%ebp,%ebp), %ebp
	jmp 10f
case5:	negl %ebp
	jmp 10f
case6:	incl %ebp
	jmp 10f
case7:	addl %esi, %ebp
10:	# the same through a register
	movl %esi, %edx
	shrl $26, %edx
	andl $3, %edx
	movl rtable(,%edx,4), %edx
	jmp *%edx
rcase0:	addl $0x77, %ebp
	jmp 11f
rcase1:	rorl $7, %ebp
	jmp 11f
rcase2:	subl $0x3f, %ebp
	jmp 11f
rcase3:	xorl %esi, %ebp
11:	# cmov and setcc
	movl %esi, %eax
	movl %ebp, %ebx
	cmpl %ebx, %eax
	cmovbl %ebx, %eax
	cmovgl %esi, %ebx
	setae %cl
	setle %ch
	movzwl %cx, %ecx
	addl %ecx, %eax
	addl %eax, %ebp
	xorl %ebx, %ebp
	# a state machine over a short byte string: count words
	movl %esi, %edx
	andl $31, %edx
	leal text(%edx), %edi
	movl $16, %ecx
	xorl %ebx, %ebx			# state: 0 between words, 1 in one
12:	movb (%edi), %al
	incl %edi
	cmpb $' ', %al
	je 13f
	testl %ebx, %ebx
	jnz 14f
	movl $1, %ebx
	incl %ebp
	jmp 14f
13:	xorl %ebx, %ebx
14:	loop 12b
	# jecxz and loope
	movl %esi, %ecx
	andl $7, %ecx
	jecxz 15f
16:	addl %ecx, %ebp
	cmpl $3, %ecx
	je 15f
	loop 16b			# (not loopne: v86 0.5.462's JIT takes it wrongly here)
15:	decl iter
	jnz 1b
	movl %ebp, %eax
	jmp bench_done
	.data
bench_name:	.asciz "control"
	.balign 4
iter:	.long 0
table:	.long case0, case1, case2, case3, case4, case5, case6, case7
rtable:	.long rcase0, rcase1, rcase2, rcase3
text:	.ascii "the quick brown fox jumps over the lazy dog and runs off "
