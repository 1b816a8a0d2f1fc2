# Once a hang: nested empty .repts multiply (10^10 copies of nothing).
# expect: error `.rept` at line 3
.rept 100000
.rept 100000
.endr
.endr
