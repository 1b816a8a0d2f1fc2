# Once quadratic: the address map of text and data copies, interleaved, was sorted by
# insertion (here about 4.5·10^8 swaps; at the old 200 000-statement limit, 10^10).
# expect: ok
# (4 999 copies since the item limit became 20 000; one copy more is over it.)
.rept 4999
.text
nop
.data
.byte 1
.endr
