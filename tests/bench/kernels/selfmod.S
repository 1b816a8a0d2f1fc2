# Self-modifying code: each pass rewrites the immediates of two instructions in a routine and runs it
# (so every decoded copy of it goes stale), and every 16th pass copies a routine into a buffer, patches
# its constant and calls the copy a few times, as a loader or a code generator would. The code that is
# written lives in its own writable section, away from the code that writes it.
	.include "bench.inc"
	.ifndef ITERS
	.set ITERS, 800000
	.endif
bench_main:
	movl $0x2f6b1c3d, %ebx
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
	movl %ebx, patch_a + 1		# the imm32 of "movl $imm, %eax"
	movb %bl, patch_b + 2		# the imm8 of "addl $imm8, %eax"
	call patched
	addl %eax, %ebp
	testl $15, iter
	jnz 3f
	movl $template, %esi		# generate: copy the template and set its constant
	movl $generated, %edi
	movl $template_end - template, %ecx
	rep movsb
	movl %ebp, generated + (template_k - template) + 1
	movl $4, %ecx
2:	movl %ecx, %eax
	call generated
	addl %eax, %ebp
	loop 2b
3:	roll $3, %ebp
	decl iter
	jnz 1b
	movl %ebp, %eax
	jmp bench_done

	.section .smc, "awx"
patched:
patch_a: movl $0, %eax			# b8 imm32
	xorl %ebp, %eax
patch_b: addl $0, %eax			# 83 c0 imm8
	roll $7, %eax
	leal 3(%eax,%eax,2), %eax
	xorl $0x5bd1e995, %eax
	movl %eax, %edx
	shrl $13, %edx
	xorl %edx, %eax
	ret
template:
	imull $0x01000193, %eax, %eax
template_k:
	.byte 0x05			# addl $imm32, %eax, spelled out so the constant is 32 bits wide
	.long 0
	ret
template_end:
	.balign 64
generated:
	.space 64

	.data
bench_name:	.asciz "selfmod"
	.balign 4
iter:	.long 0
