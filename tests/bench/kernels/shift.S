# Shifts and rotates: shl, shr, sar, rol, ror, rcl, rcr by one, by an immediate and by %cl, in 8, 16 and
# 32 bits, on registers and memory, and the double shifts shld/shrd. Only defined flags reach the
# checksum: CF of every shift, OF of the one-bit forms.
	.include "bench.inc"
	.ifndef ITERS
	.set ITERS, 380000
	.endif
bench_main:
	movl $0x9e3779b9, %esi
	movl $0x7f4a7c15, %edi
	movl $ITERS, iter
1:	movl %esi, %eax
	movl %edi, %ebx
	movl %esi, %ecx
	shrl $27, %ecx			# a count 0..31 in %cl
	shll $1, %eax
	rcll $1, %ebx			# CF in
	rcrl $3, %edx
	adcl $0, %ebp
	shrl %cl, %eax
	adcl %eax, %ebp
	sarl $5, %ebx
	adcl %ebx, %ebp
	roll %cl, %edx
	xorl %edx, %ebp
	rorl $9, %esi
	adcl $0, %ebp
	shldl $7, %edi, %esi
	shrdl %cl, %esi, %edi
	addl %edi, %ebp
	addl %esi, %ebp
	# 16 bits
	movw %bp, %ax
	shlw $1, %ax
	seto %dl
	rolw $4, %ax
	rcrw $1, %bx
	seto %dh
	sarw %cl, %ax
	shrw $2, %bx
	adcw %ax, %bx
	shldw $5, %bx, %ax
	movzwl %ax, %eax
	movzwl %bx, %ebx
	addl %eax, %ebp
	xorl %ebx, %ebp
	movzwl %dx, %edx
	addl %edx, %ebp
	# 8 bits
	movb %cl, %al
	rolb $3, %al
	rcrb $1, %ah
	shlb %cl, %bl
	sarb $1, %bh
	seto %dl
	rorb %cl, %bh
	shrb $1, %dh
	rclb $2, %dh
	movzbl %al, %eax
	addl %eax, %ebp
	movzbl %bl, %eax
	addl %eax, %ebp
	movzbl %bh, %eax
	xorl %eax, %ebp
	movzbl %dl, %eax
	addl %eax, %ebp
	movzbl %dh, %eax
	addl %eax, %ebp
	# memory
	movl %ebp, %eax
	andl $15, %eax
	roll $1, cells(,%eax,4)
	adcl $0, %ebp
	shrl $3, cells+4(,%eax,4)
	sarw %cl, cells+2(,%eax,4)
	rclb $1, cells+1(,%eax,4)
	xorl cells(,%eax,4), %ebp
	roll $7, %ebp
	decl iter
	jnz 1b
	movl $20, %ecx
	movl %ebp, %eax
3:	addl cells - 4(,%ecx,4), %eax
	loop 3b
	jmp bench_done

	.data
bench_name:	.asciz "shift"
	.balign 4
iter:	.long 0
cells:	.long 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20
