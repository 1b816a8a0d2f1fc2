# Multiply and divide: mul and imul (one, two and three operands) and div and idiv in 8, 16 and 32 bits,
# from registers and memory, with divisors chosen so no quotient overflows. Only CF and OF of the
# multiplies are defined, so only they reach the checksum (through adc and seto).
	.include "bench.inc"
	.ifndef ITERS
	.set ITERS, 250000
	.endif
bench_main:
	movl $0x6c078965, %esi
	movl $ITERS, iter
1:	imull $0x41c64e6d, %esi, %esi	# the state moves on by a multiply-add
	addl $12345, %esi
	movl %esi, %eax
	movl %esi, %ebx
	rorl $13, %ebx
	mull %ebx			# edx:eax = eax * ebx
	adcl %edx, %ebp
	xorl %eax, %ebp
	movl %ebx, %eax
	imull %esi			# signed edx:eax
	seto %cl
	movzbl %cl, %ecx
	addl %ecx, %ebp
	addl %edx, %ebp
	imull %esi, %ebx		# two operands
	adcl %ebx, %ebp
	imull $-7, %ebp, %edx		# three operands
	xorl %edx, %ebp
	# 32-bit divides: edx < divisor (div), positive divisor >= 3 (idiv)
	movl %esi, %ecx
	orl $0x80000000, %ecx
	movl %ebp, %edx
	andl $0x7fffffff, %edx
	movl %esi, %eax
	divl %ecx
	addl %eax, %ebp
	xorl %edx, %ebp
	movl %ebp, %eax
	cltd
	movl %esi, %ecx
	shrl $5, %ecx
	orl $3, %ecx
	movl %ecx, divisor
	idivl divisor
	addl %eax, %ebp
	addl %edx, %ebp
	# 16 bits
	movl %esi, %eax
	movw %bp, %bx
	mulw %bx			# dx:ax = ax * bx
	adcw %dx, %ax
	movzwl %ax, %eax
	addl %eax, %ebp
	movw %si, %ax
	movw $-300, %cx
	imulw %cx
	seto %cl
	movzwl %dx, %edx
	addl %edx, %ebp
	movzbl %cl, %ecx
	addl %ecx, %ebp
	imulw $1000, %bx, %ax
	movzwl %ax, %eax
	xorl %eax, %ebp
	movl %esi, %ebx
	orw $0x8000, %bx
	movl %ebp, %edx
	andw $0x7fff, %dx
	movw %si, %ax
	divw %bx
	movzwl %ax, %eax
	addl %eax, %ebp
	movzwl %dx, %edx
	addl %edx, %ebp
	movw %bp, %ax
	cwtd
	movw %si, %bx
	andw $0x7fff, %bx
	orw $3, %bx
	idivw %bx
	movzwl %ax, %eax
	addl %eax, %ebp
	# 8 bits
	movl %esi, %eax
	movb %ah, %bl
	mulb %bl			# ax = al * bl
	adcl $0, %ebp
	movzwl %ax, %eax
	addl %eax, %ebp
	movb %bl, scratch
	movl %ebp, %eax
	imulb scratch
	seto %cl
	movzbl %cl, %ecx
	addl %ecx, %ebp
	movzwl %ax, %eax
	xorl %eax, %ebp
	movl %esi, %ebx
	orb $0x80, %bl
	movl %ebp, %eax
	andb $0x7f, %ah
	divb %bl			# al = ax / bl, ah = ax % bl
	movzwl %ax, %eax
	addl %eax, %ebp
	movl %ebp, %eax
	cbtw
	movl %esi, %ebx
	andb $0x7f, %bl
	orb $3, %bl
	idivb %bl
	movzwl %ax, %eax
	addl %eax, %ebp
	roll $3, %ebp
	decl iter
	jnz 1b
	movl %ebp, %eax
	jmp bench_done

	.data
bench_name:	.asciz "muldiv"
	.balign 4
iter:	.long 0
divisor: .long 0
scratch: .long 0
