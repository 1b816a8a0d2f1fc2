# Once a hang: the statement cap counted statements, and an empty body has none, so the
# 4 000 000 000 copies ran for ever.
# expect: error make the count of the `.rept` at line 4 smaller
.rept 4000000000
.endr
