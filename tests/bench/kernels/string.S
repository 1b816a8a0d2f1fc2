# String instructions: rep movsb/movsw/movsl and rep stosb/stosl of short and medium lengths, forwards and
# (with std) backwards and overlapping, lodsb/stosb loops, repe cmpsb and repne scasb searches: the work
# of memcpy, memset, memcmp and strlen.
	.include "bench.inc"
	.ifndef ITERS
	.set ITERS, 60000
	.endif
bench_main:
	movl $0x1b873593, %ebx
	movl $ITERS, iter
	movl $buf_a, %edi		# some text to work on
	movl $512, %ecx
	movl $0x61, %eax
0:	stosb
	incl %eax
	cmpb $0x7b, %al
	jb 1f
	movb $0x61, %al
1:	loop 0b
1:	movl %ebx, %eax			# xorshift in %ebx picks lengths and offsets
	shll $13, %eax
	xorl %eax, %ebx
	movl %ebx, %eax
	shrl $17, %eax
	xorl %eax, %ebx
	movl %ebx, %eax
	shll $5, %eax
	xorl %eax, %ebx
	# memcpy of 1..64 bytes, then of 8..135 dwords
	movl %ebx, %ecx
	andl $63, %ecx
	incl %ecx
	movl %ebx, %esi
	shrl $8, %esi
	andl $127, %esi
	addl $buf_a, %esi
	movl $buf_b + 3, %edi
	rep movsb
	movl %ebx, %ecx
	shrl $16, %ecx
	andl $127, %ecx
	addl $8, %ecx
	movl $buf_a, %esi
	movl $buf_b + 256, %edi
	rep movsl
	# memset
	movl %ebx, %eax
	movl %ebx, %ecx
	shrl $24, %ecx
	andl $31, %ecx
	movl $buf_c, %edi
	rep stosl
	movl %ecx, %eax
	movb %bl, %al
	movl $37, %ecx
	rep stosb
	# memmove backwards over an overlap (std), then words forwards
	std
	movl $buf_b + 300, %esi
	movl $buf_b + 304, %edi
	movl $40, %ecx
	rep movsb
	cld
	movl $buf_b + 2, %esi
	movl $buf_c + 64, %edi
	movl $20, %ecx
	rep movsw
	# copy with a transform: lodsb / stosb
	movl $buf_a + 64, %esi
	movl $buf_c + 200, %edi
	movl $24, %ecx
2:	lodsb
	xorb %bl, %al
	stosb
	decl %ecx
	jnz 2b
	# memcmp: repe cmpsb over equal prefixes
	movl $buf_a, %esi
	movl $buf_b + 256, %edi
	movl $32, %ecx
	repe cmpsb
	adcl %ecx, %ebp
	# strlen-like: repne scasb for a byte
	movl $buf_a, %edi
	movb %bh, %al
	andb $0x0f, %al
	addb $0x61, %al
	movl $64, %ecx
	repne scasb
	addl %ecx, %ebp
	movl buf_b + 8, %eax
	xorl buf_c + 70, %eax
	addl %eax, %ebp
	roll $5, %ebp
	decl iter
	jnz 1b
	movl $buf_b, %esi		# fold the buffers in
	movl $(buf_end - buf_b) / 4, %ecx
	movl %ebp, %edx
3:	lodsl
	addl %eax, %edx
	roll $1, %edx
	loop 3b
	movl %edx, %eax
	jmp bench_done

	.data
bench_name:	.asciz "string"
	.balign 4
iter:	.long 0
	.bss
	.balign 16
buf_a:	.space 1024
buf_b:	.space 1024
buf_c:	.space 512
buf_end:
