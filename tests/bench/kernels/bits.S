# Bit operations: bt, bts, btr, btc on registers and on a memory bitmap (with register bit offsets that
# reach any dword of it), bsf and bsr, bswap, setcc, test, and a population count by clearing the lowest
# set bit. Flags reach the checksum only where they are defined (CF of bt*, ZF of bsf/bsr and test).
	.include "bench.inc"
	.ifndef ITERS
	.set ITERS, 240000
	.endif
bench_main:
	movl $0x3c6ef372, %esi
	movl $ITERS, iter
1:	movl %esi, %eax			# xorshift
	shll $7, %eax
	xorl %eax, %esi
	movl %esi, %eax
	shrl $9, %eax
	xorl %eax, %esi
	movl %esi, %ebx
	andl $2047, %ebx		# a bit number inside the 2048-bit map
	btsl %ebx, bitmap
	adcl $0, %ebp
	movl %ebx, %ecx
	xorl $0x155, %ecx
	btcl %ecx, bitmap
	adcl $0, %ebp
	btl %ebx, bitmap
	sbbl $0, %ebp
	movl %ebx, %edx
	shrl $3, %edx
	btrw $5, bitmap(%edx)
	adcl %edx, %ebp
	btl $3, %esi
	adcl $0, %ebp
	movl %esi, %eax
	btsl %ebx, %eax			# register forms: the offset is taken modulo 32
	btrl $17, %eax
	btcl %ecx, %eax
	adcl %eax, %ebp
	bsfl %esi, %edx
	setz %cl
	bsrl %eax, %edi
	jz 2f
	addl %edi, %ebp
2:	movzbl %cl, %ecx
	addl %ecx, %ebp
	addl %edx, %ebp
	bsfw %si, %dx
	jz 3f
	movzwl %dx, %edx
	addl %edx, %ebp
3:	movl %esi, %eax
	bswap %eax
	xorl %eax, %ebp
	movl %esi, %eax			# popcount of the low 16 bits
	andl $0xffff, %eax
	xorl %ecx, %ecx
4:	testl %eax, %eax
	jz 5f
	leal -1(%eax), %edx
	andl %edx, %eax
	incl %ecx
	jmp 4b
5:	addl %ecx, %ebp
	testb $0x81, %bl
	setnz %al
	setp %ah
	movzwl %ax, %eax
	addl %eax, %ebp
	roll $1, %ebp
	decl iter
	jnz 1b
	movl $64, %ecx			# fold the bitmap in
	movl %ebp, %eax
6:	xorl bitmap - 4(,%ecx,4), %eax
	roll $3, %eax
	loop 6b
	jmp bench_done

	.data
bench_name:	.asciz "bits"
	.balign 4
iter:	.long 0
bitmap:	.space 256 + 4
