# Once a hang: a body of comments is empty once the comments are gone.
# expect: error steps of work
.rept 4000000000
# nothing
/* nothing either */
.endr
