# Torture test for the Guest assembler: every addressing mode, suffix, directive and
# instruction family it supports, assembled by both our assembler and GNU as --32.
	.code32
	.text
	.globl _start
	.type _start, @function
_start:
	/* ALU: register, immediate (imm8, accumulator short form, full), memory, all sizes */
	add %eax, %ebx; add %bx, %cx; add %dl, %dh
	addl $1, %eax; add $0x100, %eax; add $0x100, %ebx; add $-1, %esi
	addw $1, %ax; addw $0x1234, %ax; addw $0x1234, %si; addw $0xffff, %bx
	addb $1, %al; addb $0x7f, %bl; add $200, %cl
	or %eax, (%ebx); orl $3, 4(%ebx); orb $0x80, (%esi,%edi)
	adc 8(%ebp), %eax; sbb %eax, -4(%ebp); and $0xfffffff0, %esp
	sub $4, %esp; subl $1000, 0x10(%esp); xor %eax, %eax; xorw %ax, %ax
	cmp $10, %ecx; cmpb $'a, (%esi); cmpl $big, %eax; cmp %al, %bl
	cmp value, %eax; cmpw value, %ax; cmp $value, %edx
	/* every addressing mode */
	mov (%eax), %ecx; mov 4(%eax), %ecx; mov -4(%eax), %ecx; mov 0x1000(%eax), %ecx
	mov (%esp), %eax; mov 8(%esp), %eax; mov (%ebp), %eax; mov 12(%ebp), %eax
	mov (%eax,%ebx), %ecx; mov (%eax,%ebx,2), %ecx; mov 8(%eax,%ebx,4), %ecx
	mov -8(%ebp,%esi,8), %edx; mov (,%ebx,4), %eax; mov 0x10(,%ebx,8), %eax
	mov table(,%ecx,4), %eax; mov table+4(%ebx), %eax; mov 0(%eax), %edx
	mov value, %eax; mov %eax, value; mov value, %ebx; movb value, %al; movw %ax, value
	mov %es:(%edi), %eax; mov %fs:4(%eax), %ebx; mov %ds:(%ebp), %eax; mov %ss:(%esp), %eax
	mov %gs:0x14, %eax; mov %ds:(%eax), %eax; mov %cs:value, %ecx
	/* mov forms */
	mov %eax, %ebx; movl %ecx, %edx; mov %ax, %bx; mov %al, %ah; movb %bl, %cl
	mov $0x12345678, %eax; mov $1, %bl; movw $0x55aa, %dx; movl $value, %esi
	movl $7, (%eax); movw $7, 2(%eax); movb $7, -1(%eax); movl $table, 4(%ebx,%ecx,4)
	mov %ds, %eax; movw %ds, %ax; mov %eax, %ds; movw %ax, %es; mov %ss, (%eax); mov (%eax), %fs
	mov $N, %ecx; mov $(N * 4 + 2), %edx; mov $(1 << 9), %eax; mov $~0xff & 0xffff, %eax
	mov $(msg_end - msg), %ecx; push $(msg_end - msg)
	/* test, xchg */
	test %eax, %ebx; test %al, %al; testl $0x200, %eax; test $0x10, %bl; test $0x10, %ebx
	testw $0x10, %bx; testb $1, (%eax); test %ecx, (%edx); test (%edx), %ecx; test $1, %al
	xchg %eax, %ebx; xchg %ebx, %eax; xchg %ecx, %edx; xchg %ax, %bx; xchg %al, %bl
	xchg %ecx, (%eax); xchg (%eax), %ecx; xchgl %esi, 4(%ebp)
	/* one-operand families */
	inc %eax; inc %cx; inc %al; incl (%ebx); incw 2(%ebx); incb (%ebx)
	dec %edi; dec %si; dec %bh; decl value
	not %eax; notb %al; neg %ecx; negl (%eax); mul %ebx; mulb %cl; mull 4(%esp)
	div %ecx; divl (%esi); idiv %ebx; idivw %cx; imul %ecx; imulb %dl
	/* imul forms */
	imul %ebx, %eax; imul (%ecx), %edx; imul $10, %eax; imul $1000, %eax
	imul $3, %ebx, %eax; imul $-2, (%esi), %edx; imul $300, 4(%esi), %ecx; imulw $5, %ax, %bx
	/* shifts and rotates */
	shl %eax; shl $1, %eax; sal $1, %ebx; shl $4, %eax; shll $2, (%ebx); shl %cl, %edx
	shr %cl, %eax; shrb $1, %al; sar $31, %eax; sarw %cl, %ax; rol $8, %ax; ror %eax
	rcl $1, %ecx; rcr $3, %ebx; roll %cl, 4(%eax); shrl (%eax)
	shld $4, %eax, %ebx; shrd %cl, %edx, %eax; shldw $2, %ax, %bx
	/* push and pop */
	push %eax; push %bp; pushl (%eax); pushl 4(%esp); push $1; push $-128; push $128
	push $value; pushw $5; pushw $0x1234; pushl $0; push %ds; push %es; push %fs; push %gs; push %cs; push %ss
	pop %ebx; pop %si; popl (%eax); pop %ds; pop %es; pop %fs; pop %gs; pop %ss
	pushf; popf; pushfl; popfl; pusha; popa; pushal; popal
	/* lea, zero/sign extension */
	lea 4(%esp), %eax; lea (%eax,%ebx,2), %ecx; lea value, %edx; leal -1(%ecx), %ecx; lea (%eax), %ax
	movzbl %al, %eax; movzbl (%esi), %ecx; movzwl %ax, %ebx; movzwl 2(%esi), %ecx; movzbw %al, %dx
	movsbl %al, %eax; movsbl (%esi), %ecx; movswl %ax, %ebx; movsbw %dl, %ax; movswl -2(%ebp), %eax
	movzx %al, %eax; movzx %ax, %ecx; movsx %bl, %edx; movsx %cx, %eax
	/* conditional moves and sets, bit operations */
	cmove %eax, %ebx; cmovne (%esi), %edx; cmovl %ecx, %eax; cmovgw %ax, %bx; cmovael %edx, %ecx
	sete %al; setne %bl; setg (%eax); setl %ch; setae %dl; setbe 3(%esi)
	bswap %eax; bswap %edi; bswapl %ecx
	xadd %eax, %ebx; xadd %ecx, (%esi); xaddb %al, %bl
	cmpxchg %ecx, (%edx); cmpxchgl %ebx, %eax; cmpxchgb %bl, (%edi)
	lock cmpxchg %ecx, (%edx); lock xaddw %ax, (%ebx); lock incl (%eax); lock; decl (%ecx)
	bt $3, %eax; bts %ecx, (%eax); btrl $31, (%ebx); btcl $1, 4(%esi); btw %ax, %bx
	bsf %eax, %ebx; bsr (%esi), %ecx; bsfw %ax, %dx
	/* string operations and prefixes */
	movsb; movsw; movsl; stosb; stosw; stosl; lodsb; lodsw; lodsl
	cmpsb; cmpsw; cmpsl; scasb; scasw; scasl; insb; insl; outsb; outsw
	rep movsb; rep movsl; rep stosl; repe cmpsb; repz cmpsw; repne scasb; repnz scasl; rep stosw
	rep; movsb
	movsl %fs:(%esi), %es:(%edi); lodsb %es:(%esi), %al; stos %eax, %es:(%edi); movsb (%esi), %es:(%edi)
	/* control flow: short, near, local labels, indirect */
1:	jmp 1f
	jmp 1b
	je 1b; jne 1f; jz 2f; jnz 2f; ja 1f; jae 1f; jb 1f; jbe 1f; jc 1f; jnc 1f
	jg 1f; jge 1f; jl 1f; jle 1f; jo 1f; jno 1f; js 1f; jns 1f; jp 1f; jnp 1f; jpe 1f; jpo 1f
	jna 1f; jnae 1f; jnb 1f; jnbe 1f; jng 1f; jnge 1f; jnl 1f; jnle 1f
1:	call func; call *%eax; call *(%ebx); call *4(%ebx,%ecx,4); calll *value; jmp *%edx; jmp *(%ebx); jmp *table(,%eax,4)
	loop 1b; loope 1b; loopne 1b; loopz 1b; loopnz 1b; jecxz 1b; jcxz 1b
2:	jmp far_away; jne far_away; jmp back_target
	/* interrupts, system, BCD, misc */
	int $0x1f; int $3; int3; int $LHCALL_VEC; into
	vmcall; hlt; cli; sti; iret; iretl; cpuid; rdtsc; clc; stc; cmc; cld; std; nop; pause
	daa; das; aaa; aas; aam; aad; aam $16; aad $16; cwtl; cltd; cbtw; cwtd; cwde; cdq; sahf; lahf
	ret; ret $8; retl $4; enter $16, $0; enter $8, $1; leave
	lgdt gdt_desc; lidt (%eax); sgdt 2(%esp); sidt idt_desc; lgdtl (%ebx)
	in $0x60, %al; inb %dx, %al; in (%dx), %eax; inw $0x40, %ax; out %al, $0x80; outl %eax, (%dx); outb %al, %dx
	mov %cr0, %eax; mov %eax, %cr3; mov %cr2, %ebx; xlat
	ud2
back_target:
	/* alignment with GNU as's no-op padding, in several gaps */
	nop
	.align 4
	nop; nop
	.balign 16
	ret
	.p2align 5
	hlt
	.p2align 4,,3
	.balign 8, 0x90
	.balign 8, 0xcc
func:
	push %ebp; mov %esp, %ebp; sub $16, %esp; mov 8(%ebp), %eax; leave; ret
	.space 200, 0x90
far_away:
	ret
	.fill 3, 1, 0xf4
	.fill 2, 4, 0x11223344
	.fill 1, 2
	.skip 3
	.org 0x600
after_org:
	jmp _start
	jmp 3f
	.byte 1, 2, 'z, -1, 0x7f + 1
3:	.word 0x1234, -2, after_org - _start
	.short 7
	.long value, table + 8, 1f, 0xdeadbeef
	.int 9
	.quad 0x1122334455667788
	.ascii "abc", "d\n\t\"\\"
	.asciz "zero-terminated"
	.string "also zero"
	.ascii "\101\x42\0"
1:	.equ N, 5
	.set LHCALL_VEC, 0x1f
	big = 0x12345678
	N2 = N * 2
	mov $N2, %eax; add $N2, %ebx; push $N2
	.long (1 == 1), (1 == 2), (1 < 2), (2 <> 2), (3 >= 2), (1 && 2), (0 || 0), 1 + 2 == 3, 5 > 3 + 1
	.long 1 || 0 && 0, (N <= 5) & 0x10, -(N != 4), 7 % 3, 1 ! 2, 6 ^ 3
	/* repetition and conditional assembly */
	.set counter, 0
	.rept 4
	.byte counter * 3
	.set counter, counter + 1
	.endr
	.rept 2
1:	jmp 1b
	.rept 2
	nop
	.endr
	.endr
	.rept 0
	hlt
	.endr
	.if N > 3
	mov $1, %eax
	.elseif N == 2
	mov $2, %eax
	.else
	mov $3, %eax
	.endif
	.if N == 2
	ud2
	.elseif N == 5
	mov $5, %edx
	.else
	ud2
	.endif
	.if 0
	.if 1
	ud2
	.else
	ud2
	.endif
	.endif
	.ifdef N
	inc %eax
	.endif
	.ifndef NOPE
	dec %eax
	.endif
	.ifdef NOPE
	ud2
	.endif
	.ifeq N - 5
	nop
	.endif
	.ifne N - 5
	ud2
	.endif
	.equ IS_FIVE, (N == 5) & 1
	mov $(N > 3), %eax; push $IS_FIVE; cmpl $(N < 6 && N <> 0 || 0), %ecx; mov (1 < 2)(%eax), %eax
	.size _start, . - _start

	.data
	.align 16
value:	.long 42
table:	.long 1, 2, 3, 4
gdt_desc:
	.word 0x17
	.long table
idt_desc:
	.word 0x7ff
	.long 0
msg:	.ascii "Hello"
msg_end:
	.p2align 3
	.byte 0xaa
