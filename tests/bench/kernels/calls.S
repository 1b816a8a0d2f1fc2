# Call-heavy code: a recursive Fibonacci with C-style frames (push %ebp / leave), an Ackermann-like
# recursion with arguments on the stack and `ret $8` (the callee pops them), calls through a register and
# through a table of function pointers, enter/leave, pusha/popa around a helper, and many tiny leaf calls.
	.include "bench.inc"
	.ifndef ITERS
	.set ITERS, 550
	.endif
bench_main:
	movl $ITERS, iter
1:	pushl $16			# fib(16) the naive way: about 3,200 calls
	call fib
	addl $4, %esp
	addl %eax, %ebp
	pushl $3			# walk(3, 5): deep and narrow, the callee pops its arguments
	pushl $5
	call walk
	addl %eax, %ebp
	movl iter, %esi			# through a table of function pointers and through a register
	andl $3, %esi
	movl %ebp, %eax
	call *ops(,%esi,4)
	movl ops + 4, %edx
	call *%edx
	addl %eax, %ebp
	movl $40, %ecx			# leaf calls in a loop
2:	movl %ecx, %eax
	call leaf
	addl %eax, %ebp
	loop 2b
	call framed
	addl %eax, %ebp
	decl iter
	jnz 1b
	movl %ebp, %eax
	jmp bench_done

# fib(n) = n < 2 ? n : fib(n-1) + fib(n-2), one cdecl argument.
fib:	pushl %ebp
	movl %esp, %ebp
	pushl %ebx
	movl 8(%ebp), %eax
	cmpl $2, %eax
	jb 9f
	leal -1(%eax), %ebx
	pushl %ebx
	call fib
	addl $4, %esp
	xchgl %eax, %ebx		# ebx = fib(n-1), eax = n-1
	decl %eax
	pushl %eax
	call fib
	addl $4, %esp
	addl %ebx, %eax
9:	popl %ebx
	leave
	ret

# walk(k, m): k > 0 ? walk(k-1, m+1) + walk(k-1, m/2) + 1 : m, arguments popped by the callee.
walk:	pushl %ebp
	movl %esp, %ebp
	subl $4, %esp
	movl 12(%ebp), %eax		# k (pushed first)
	movl 8(%ebp), %edx		# m
	testl %eax, %eax
	jnz 3f
	movl %edx, %eax
	leave
	ret $8
3:	decl %eax
	pushl %eax
	leal 1(%edx), %ecx
	pushl %ecx
	call walk
	movl %eax, -4(%ebp)
	movl 12(%ebp), %eax
	decl %eax
	pushl %eax
	movl 8(%ebp), %edx
	shrl $1, %edx
	pushl %edx
	call walk
	addl -4(%ebp), %eax
	incl %eax
	leave
	ret $8

op0:	addl $13, %eax
	ret
op1:	roll $5, %eax
	ret
op2:	notl %eax
	ret
op3:	imull $3, %eax, %eax
	ret

leaf:	leal 1(%eax,%eax,2), %eax
	ret

# framed: enter/leave with locals, pusha/popa around a helper that uses every register.
framed:	enter $16, $0
	movl %eax, -4(%ebp)
	movl $7, -8(%ebp)
	pusha
	call clobber
	popa
	movl -8(%ebp), %eax
	addl -4(%ebp), %eax
	leave
	ret
clobber:
	movl $1, %eax
	movl $2, %ebx
	movl $3, %ecx
	movl $4, %edx
	movl $5, %esi
	movl $6, %edi
	ret

	.data
bench_name:	.asciz "calls"
	.balign 4
iter:	.long 0
ops:	.long op0, op1, op2, op3
