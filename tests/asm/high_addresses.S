# Absolute addresses at and above 0x80000000 (a Guest kernel's PAGE_OFFSET is 0xc0000000): without a
# base register they are addresses, not negative displacements.
	.text
	.globl start
start:
	movl 0x80000000, %eax
	movl %eax, 0xfffff000
	movl $1, 0x90000000(%ebx)
	movl 0xc0000000(,%ecx,4), %edx
	movl -4(%ebp), %eax
	movl 0x7ffffffc, %eax
	incl 0xc0100000
	cmpb $0, 0xffc00000
