# ALU work in 8, 16 and 32 bits: add, adc, sub, sbb, and, or, xor, cmp, test, inc, dec, neg, not on
# registers, immediates and memory, with the carry chained and the defined flags folded into the checksum.
	.include "bench.inc"
	.ifndef ITERS
	.set ITERS, 400000
	.endif
bench_main:
	movl $0x2545f491, %esi		# xorshift state
	movl $ITERS, iter
1:	movl %esi, %eax			# next pseudo-random word
	shll $13, %eax
	xorl %eax, %esi
	movl %esi, %eax
	shrl $17, %eax
	xorl %eax, %esi
	movl %esi, %eax
	shll $5, %eax
	xorl %eax, %esi
	movl %esi, %eax
	movl %esi, %ebx
	rorl $11, %ebx
	# 8 bits
	movb %al, %cl
	addb %bh, %cl
	adcb $0x5a, %ch
	subb %bl, %dl
	sbbb %ah, %dh
	andb $0x7e, %cl
	orb %dl, %ch
	xorb %cl, %dh
	cmpb %dh, %ch
	adcb $0, %dl
	incb %cl
	decb %dh
	negb %ch
	notb %dl
	movzbl %ch, %edi
	andl $63, %edi
	addb %cl, bytes(%edi)
	xorb %dh, bytes(%edi)
	subb bytes+1(%edi), %al
	# 16 bits
	addw %ax, %bx
	adcw $0x1234, %cx
	subw %dx, %bx
	sbbw %cx, %ax
	xorw %bx, words(,%edi,2)
	orw words+2(,%edi,2), %dx
	andw $0xf0f0, %ax
	cmpw %ax, %bx
	sbbw $0, %dx
	incw %cx
	decw %bx
	negw %dx
	notw %ax
	addw %ax, words+4(,%edi,2)
	# 32 bits
	addl %eax, %ebp
	adcl %ebx, %ebp
	subl %ecx, %ebp
	sbbl $0x11, %ebp
	andl %esi, %edx
	orl %edx, %ebx
	xorl %ebx, %ebp
	addl dwords(,%edi,4), %ebp
	subl %eax, dwords+4(,%edi,4)
	adcl $7, dwords+8(,%edi,4)
	testl $0x100, %esi
	jz 2f
	incl %ebp
	negl %eax
2:	cmpl %ecx, %edx
	adcl %eax, %ebp
	notl %ebx
	addl %ebx, %ebp
	pushfl				# OF SF ZF AF PF CF of the add: all defined
	popl %eax
	andl $0x8d5, %eax
	addl %eax, %ebp
	decl iter
	jnz 1b
	movl $66, %ecx			# fold the memory in
	xorl %eax, %eax
3:	addl dwords - 4(,%ecx,4), %eax
	roll $1, %eax
	loop 3b
	movl $40, %ecx
4:	xorl words - 4(,%ecx,4), %eax
	loop 4b
	addl %ebp, %eax
	jmp bench_done

	.data
bench_name:	.asciz "alu"
	.balign 4
iter:	.long 0
bytes:	.space 80
words:	.space 160
dwords:	.space 64 * 4 * 4 + 16
