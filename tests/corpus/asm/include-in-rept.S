# Once a hang: a file was lexed again for every copy, and paid for none of it.
# expect: error `.rept` at line 3 smaller
.rept 100000
.include "comment-10k.inc"
.endr
