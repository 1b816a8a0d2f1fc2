# Once quadratic: 100 000 copies of two mistakes were sorted by line with insertion sort.
# expect: error line 4: unknown instruction `movx`
.rept 50000
movx %eax
movy %ebx
.endr
