# Sections and data directives: .text first, then the others in the order they appear, each
# aligned as its largest .align asks; switching back and forth continues where it left off.
	.section .rodata
banner:	.asciz "sections after .text come in the order they first appear"
	.text
	.globl start
start:
	mov $banner, %esi
	mov table_end - table, %ecx	# a memory operand, not an immediate
	mov $(table_end - table) / 4, %ecx
	call show
	je after_org			# a label in another section: always the near form
	jmp table
	jmp done
	.data
	.p2align 3
table:	.long 1, 2, 3
	.quad -1, 0x8000000000000000
table_end:
	.fill 2, 8, -1
	.fill 1, 3, 0x11223344
	.fill 1, 6, 0xaabbccdd
	.byte 'A, '\n, '\\, 0
	.word -1, 0xffff
	.org table + 0x40, 0xee
	.balign 16, 0x55
after_org:
	.long after_org - table
	.text
show:
	push %esi
	lodsb
	test %al, %al
	jnz show + 1
	pop %esi
	ret
done:
	.byte 0xf4
	.p2align 4
	.section .rodata
	.balign 8
more:	.string "second part of .rodata"
	.long start, show, done, more
	.data
	.long more - banner
	.section .text
	movl $more, %eax
	hlt
