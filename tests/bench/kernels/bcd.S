# Decimal arithmetic: a Fibonacci sequence in 16-digit packed BCD (adc + daa per byte), a countdown by
# subtraction (sbb + das), sums and differences of 8-digit unpacked numbers (aaa, aas), and aam / aad to
# split a binary byte into digits and join them again. The carry runs from byte to byte through dec and
# lea, which leave CF alone; only flags each adjustment defines reach the checksum.
	.include "bench.inc"
	.ifndef ITERS
	.set ITERS, 75000
	.endif
	.set NB, 8			# bytes per number
bench_main:
	movl $ITERS, iter
	movb $1, fib_b
	movl $0x99999999, down
	movl $0x99999999, down + 4
	movl $0x05030701, digits_a
	movl $0x09020406, digits_a + 4
	movl $0x08010904, digits_b
	movl $0x02070305, digits_b + 4
1:	# fib: c = a + b, digit pairs from the lowest byte up
	movl $fib_a, %esi
	movl $fib_b, %edi
	movl $fib_c, %ebx
	movl $NB, %ecx
	clc
2:	movb (%esi), %al
	adcb (%edi), %al
	daa
	movb %al, (%ebx)
	leal 1(%esi), %esi
	leal 1(%edi), %edi
	leal 1(%ebx), %ebx
	decl %ecx
	jnz 2b
	adcl $0, %ebp			# the carry out of the top digit
	movl fib_b, %eax		# a = b, b = c
	movl %eax, fib_a
	movl fib_b + 4, %eax
	movl %eax, fib_a + 4
	movl fib_c, %eax
	movl %eax, fib_b
	movl fib_c + 4, %eax
	movl %eax, fib_b + 4
	# countdown: down -= 0x...0137 in packed BCD
	movl $down, %esi
	movl $step, %edi
	movl $NB, %ecx
	clc
3:	movb (%esi), %al
	sbbb (%edi), %al
	das
	movb %al, (%esi)
	leal 1(%esi), %esi
	leal 1(%edi), %edi
	decl %ecx
	jnz 3b
	adcl $0, %ebp
	# unpacked: a = a + b (aaa), then b = a - b (aas), digit by digit
	xorl %edx, %edx			# dl: the carry
	xorl %esi, %esi
4:	movzbl digits_a(%esi), %eax	# ah = 0
	addb %dl, %al
	addb digits_b(%esi), %al
	aaa
	movb %al, digits_a(%esi)
	movb %ah, %dl
	incl %esi
	cmpl $NB, %esi
	jb 4b
	xorl %edx, %edx			# dl: the borrow
	xorl %esi, %esi
5:	movzbl digits_a(%esi), %eax
	movb digits_b(%esi), %bl
	addb %dl, %bl
	subb %bl, %al
	aas
	movb %al, digits_b(%esi)
	movb %ah, %dl
	andb $1, %dl
	incl %esi
	cmpl $NB, %esi
	jb 5b
	# aam and aad: split a byte into decimal (and hex) digits and join them again
	movl iter, %eax
	aam
	pushfl
	popl %ecx
	andl $0xc4, %ecx		# SF ZF PF
	addl %ecx, %ebp
	movzwl %ax, %ecx
	addl %ecx, %ebp
	aad
	movzbl %al, %ecx
	xorl %ecx, %ebp
	movl iter, %eax
	aam $16
	aad $16
	movzbl %al, %ecx
	addl %ecx, %ebp
	roll $1, %ebp
	decl iter
	jnz 1b
	movl fib_b, %eax
	xorl fib_b + 4, %eax
	addl down, %eax
	xorl down + 4, %eax
	addl digits_a, %eax
	addl digits_a + 4, %eax
	xorl digits_b, %eax
	xorl digits_b + 4, %eax
	addl %ebp, %eax
	jmp bench_done

	.data
bench_name:	.asciz "bcd"
	.balign 4
iter:	.long 0
fib_a:	.space NB
fib_b:	.space NB
fib_c:	.space NB
down:	.space NB
step:	.byte 0x37, 0x01, 0, 0, 0, 0, 0, 0
digits_a: .space NB
digits_b: .space NB
