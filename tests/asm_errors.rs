//! The assembler on broken sources: every error names its line, and nothing panics.
//!
//! Students edit Guest sources in the browser, so half-typed programs are the normal case. Each
//! test here feeds one mistake and checks the message a student would see; the last ones feed
//! seeded random token soup and random mutations of real Guests, which must give `Ok` or `Err`
//! but never a panic (a panic in wasm kills the whole page).

use lguest_sim::asm::{assemble, AsmError};

const ORIGIN: u32 = 0x100000;

fn errors(src: &str) -> Vec<AsmError> {
    match assemble(src, ORIGIN) {
        Ok(p) => panic!("expected an error, but it assembled to {:02x?}", p.image),
        Err(e) => e,
    }
}

/// The one error for `src`, as the student reads it.
fn error(src: &str) -> String {
    let e = errors(src);
    assert_eq!(e.len(), 1, "expected one error, got {e:?}");
    e[0].to_string()
}

/// An unknown name says which known ones are nearest (was: the bare "unknown instruction `movx`").
#[test]
fn unknown_instruction() {
    assert_eq!(error("nop\nnop\nmovx %eax, %ebx\n"), "line 3: unknown instruction `movx`: did you mean `mov`, `movzx` or `movsx`?");
    assert!(error("mvo %eax, %ebx\n").ends_with("did you mean `mov`?"));
    assert!(error("jnzz 1f\n1:\n").contains("did you mean `jnz`?"));
    let e = error("pushll %eax\n");
    assert!(e.contains("did you mean") && e.contains("`pushl`"), "{e}");
    assert!(error("cmovzz %eax, %ebx\n").contains("`cmovz`"));
    let far = error("fsqrt\n");
    assert!(far.contains("no floating point"), "{far}");
}

#[test]
fn operand_size_mismatch() {
    let msg = error("start:\n  movb %eax, %ebx\n");
    assert!(msg.starts_with("line 2: operand size mismatch: `movb`"), "{msg}");
    assert!(msg.contains("%eax"), "{msg}");
    let msg = error("mov %eax, %bx\n");
    assert!(msg.starts_with("line 1: operand size mismatch"), "{msg}");
}

#[test]
fn unsized_memory_operand() {
    let msg = error("mov $1, (%eax)\n");
    assert!(msg.contains("can't size `mov`"), "{msg}");
}

#[test]
fn bad_operands() {
    assert_eq!(error("lea %eax, %ebx\n"), "line 1: invalid operands for `lea`");
    assert!(error("mov (%ax), %eax\n").contains("can't be a base or index register"));
    assert!(error("mov (%eax,%esp), %eax\n").contains("`%esp` can't be an index register"));
    assert!(error("mov (%eax,%ebx,3), %eax\n").contains("scale factor of 3"));
    assert!(error("mov %eaz, %eax\n").contains("bad register `%eaz`"));
    assert!(error("hlt %eax\n").contains("`hlt` takes no operands"));
    assert!(error("je *%eax\n").contains("needs a label"));
}

#[test]
fn undefined_symbol() {
    let e = errors("start:\n  jmp nowhere\n  mov $also_missing, %eax\n");
    let text: Vec<String> = e.iter().map(|e| e.to_string()).collect();
    assert_eq!(text, ["line 2: undefined symbol `nowhere`", "line 3: undefined symbol `also_missing`"]);
    assert_eq!(error("jmp 1f\n"), "line 1: undefined symbol `1f`");
    assert_eq!(error("jmp 2b\n"), "line 1: undefined symbol `2b`");
}

#[test]
fn bad_directive() {
    // An unknown directive names the nearest known one (was: the bare "unknown directive `.bogus`").
    assert_eq!(
        error(".text\n.bogus 1\n"),
        "line 2: unknown directive `.bogus`: not one the Guest assembler knows (it has GNU as's \
         section, data, alignment, `.equ`/`.set`, `.rept` and `.if` directives)"
    );
    assert_eq!(error(".asciiz \"hi\"\n"), "line 1: unknown directive `.asciiz`: did you mean `.ascii` or `.asciz`?");
    assert!(error(".globel start\n").contains("did you mean `.globl`"));
    assert!(errors(".macro m\nnop\n.endm\n")[0].message.contains("no macros"));
    assert!(error(".irp r, eax\n").contains("repeat them with `.rept`"));
    assert!(error(".code16\n").contains("not supported"));
    assert!(error(".align 3\n").contains("not a power of 2"));
    assert!(error(".ascii 12\n").contains("expects quoted strings"));
    assert!(error(".equ X\n").contains(".equ needs a symbol name and a value"));
}

#[test]
fn unterminated_string_and_comment() {
    let e = error("nop\n.ascii \"abc\nnop\n");
    assert!(e.starts_with("line 2: unterminated string"), "{e}");
    let e = error("nop\n/* a comment\n that never ends\nhlt\n");
    assert!(e.starts_with("line 2: unterminated comment"), "{e}");
}

#[test]
fn duplicate_label() {
    assert_eq!(error("here: nop\nthere: nop\nhere: hlt\n"), "line 3: symbol `here` is already defined (line 1)");
}

#[test]
fn out_of_range_loop_and_backwards_org() {
    let e = error("top: .space 200\n loop top\n");
    assert!(e.starts_with("line 2: jump target out of range for `loop`"), "{e}");
    let e = error(".space 16\n.org 8\n");
    assert!(e.contains("move .org backwards"), "{e}");
}

#[test]
fn every_error_is_reported_with_its_column() {
    let e = errors("  movx %eax\n\tfrob\nnop\n  .ascii 1\n");
    assert_eq!(e.iter().map(|e| e.line).collect::<Vec<_>>(), [1, 2, 4]);
    assert_eq!(e[0].column, Some(3));
    assert_eq!(e[1].column, Some(2));
}

#[test]
fn encoding_errors_and_undefined_symbols_come_together() {
    let e = errors("movb %eax, %ebx\njmp nowhere\nshl $1, %cr0\n");
    assert_eq!(e.iter().map(|e| e.line).collect::<Vec<_>>(), [1, 2, 3], "{e:?}");
    assert!(e[1].message.contains("undefined symbol `nowhere`"));
}

#[test]
fn a_layout_that_never_settles_is_an_error() {
    // The space is 10 minus its own size: 0, 10, 0, 10... (5 would do, but no pass finds it).
    let e = errors("a: .space 10 - (b - a)\nb: nop\n");
    assert!(e.iter().any(|e| e.message.contains("did not settle")), "{e:?}");
}

#[test]
fn broken_repetition_and_conditionals() {
    assert_eq!(error("nop\n.rept 3\nnop\n"), "line 2: `.rept` without `.endr`");
    assert_eq!(error(".endr\n"), "line 1: `.endr` without `.rept`");
    assert_eq!(error(".if 1\nnop\n"), "line 1: `.if` without `.endif`");
    assert_eq!(error(".else\n"), "line 1: `.else` without `.if`");
    assert_eq!(error(".endif\n"), "line 1: `.endif` without `.if`");
    assert!(error(".rept later\nnop\n.endr\nlater = 3\n").contains("needs a constant"));
    assert!(error(".rept 1000000000\nnop\n.endr\n").contains("statements"));
    let deep = format!("{}nop\n{}", ".rept 1\n".repeat(40), ".endr\n".repeat(40));
    assert!(error(&deep).contains("nested more than"));
    assert!(error(".rept 5\nmovx %eax\n.endr\n").starts_with("line 2: unknown instruction `movx`:"));
    // Mistakes inside a branch that is not taken are not mistakes.
    assert!(assemble(".if 0\nmovx %eax\n.ascii \"open\n.endif\nnop\n", ORIGIN).is_ok());
}

#[test]
fn huge_space_is_an_error_not_an_allocation() {
    assert!(error(".space 0x7fffffff\n").contains("more than"));
    assert!(error("x: .fill 0x10000000, 8, 1\n").contains("more than"));
}

// ---------------------------------------------------------------------------------------------
// Never panic. A small xorshift keeps the soup the same on every run (and the test deterministic).

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SOUP: &[&str] = &[
    "mov",
    "movl",
    "movb",
    "movw",
    "add",
    "addl",
    "sub",
    "cmp",
    "test",
    "xchg",
    "lea",
    "push",
    "pop",
    "jmp",
    "je",
    "jne",
    "call",
    "ret",
    "int",
    "loop",
    "jecxz",
    "shl",
    "sar",
    "rol",
    "imul",
    "div",
    "movzbl",
    "movsx",
    "movzx",
    "setne",
    "cmovl",
    "bswap",
    "xadd",
    "cmpxchg",
    "bt",
    "shld",
    "in",
    "out",
    "enter",
    "lgdt",
    "rep",
    "lock",
    "movsb",
    "stosl",
    "iret",
    "hlt",
    "nop",
    "aam",
    "%eax",
    "%ax",
    "%al",
    "%ah",
    "%esp",
    "%ebp",
    "%cl",
    "%dx",
    "%es",
    "%cs",
    "%fs",
    "%cr0",
    "%cr3",
    "%bogus",
    "$",
    "*",
    "(",
    ")",
    ",",
    ":",
    ";",
    "\n",
    "+",
    "-",
    "<<",
    ">>",
    "~",
    "!",
    "&",
    "|",
    "/",
    "%",
    "=",
    "0",
    "1",
    "-1",
    "0x7fffffff",
    "0xffffffff",
    "4",
    "8",
    "3",
    "255",
    "256",
    "1f",
    "1b",
    "2f",
    "1:",
    "2:",
    "lbl",
    "lbl:",
    "other",
    ".",
    ".text",
    ".data",
    ".section",
    ".byte",
    ".word",
    ".long",
    ".quad",
    ".ascii",
    ".asciz",
    "\"str\"",
    "\"open",
    "'a",
    "'",
    ".space",
    ".fill",
    ".align",
    ".balign",
    ".p2align",
    ".org",
    ".equ",
    ".set",
    ".globl",
    "/*",
    "*/",
    "#",
    "@",
    "start:",
    ".rept",
    ".endr",
    ".if",
    ".else",
    ".elseif",
    ".endif",
    ".ifdef",
    ".ifeq",
    "==",
    "<=",
    "&&",
    "_start",
    "x = 4",
    "\\",
    "é",
    "\t",
];

#[test]
fn random_token_soup_never_panics() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut accepted = 0;
    for _ in 0..4000 {
        let n = 1 + rng.below(30);
        let mut src = String::new();
        for _ in 0..n {
            src += SOUP[rng.below(SOUP.len())];
            src.push(if rng.below(4) == 0 { '\n' } else { ' ' });
        }
        if assemble(&src, ORIGIN).is_ok() {
            accepted += 1;
        }
    }
    // Some soup is valid assembly; most is not. Both ends must be reached.
    assert!(accepted > 0 && accepted < 4000, "accepted {accepted} of 4000");
}

#[test]
fn mutated_guests_never_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons/guests");
    let mut sources: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "S"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    sources.sort();
    assert!(!sources.is_empty());
    let mut rng = Rng(0xfeed_beef_0000_0042);
    for _ in 0..1500 {
        let mut bytes: Vec<char> = sources[rng.below(sources.len())].chars().collect();
        for _ in 0..1 + rng.below(6) {
            let at = rng.below(bytes.len().max(1));
            match rng.below(3) {
                0 if !bytes.is_empty() => {
                    bytes.remove(at.min(bytes.len() - 1));
                }
                1 => bytes.insert(at.min(bytes.len()), "$%(),:;*#\"'0123456789abx.\n".chars().nth(rng.below(27)).unwrap_or(' ')),
                _ => {
                    let word = SOUP[rng.below(SOUP.len())];
                    for (k, c) in word.chars().enumerate() {
                        bytes.insert((at + k).min(bytes.len()), c);
                    }
                }
            }
        }
        let src: String = bytes.into_iter().collect();
        let _ = assemble(&src, ORIGIN);
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!("mov ${}1{}, %eax\n", "(".repeat(100), ")".repeat(100));
    assert!(error(&deep).contains("nested too deeply"));
    let fine = format!("mov ${}1{}, %eax\n", "(".repeat(20), ")".repeat(20));
    assert!(assemble(&fine, ORIGIN).is_ok());
    let minus = format!(".long {}1\n", "-".repeat(500));
    assert!(error(&minus).contains("nested too deeply"));
    let long = format!(".long {}\n", vec!["1"; 5000].join("+"));
    assert!(error(&long).contains("too long"));
    let stars = format!("jmp {}%eax\n", "*".repeat(5000));
    assert!(error(&stars).contains("`*` written twice"));
}

#[test]
fn random_instructions_never_panic() {
    const MNEMONICS: &[&str] = &[
        "mov",
        "movb",
        "movw",
        "movl",
        "add",
        "orw",
        "adcb",
        "sbbl",
        "and",
        "subw",
        "xorb",
        "cmpl",
        "test",
        "testb",
        "xchg",
        "xchgw",
        "inc",
        "decb",
        "notw",
        "negl",
        "mul",
        "divb",
        "idivw",
        "imul",
        "imulw",
        "imull",
        "rol",
        "rorb",
        "rclw",
        "rcrl",
        "shl",
        "shrb",
        "salw",
        "sarl",
        "shld",
        "shrdw",
        "push",
        "pushw",
        "pushl",
        "pop",
        "popw",
        "lea",
        "leaw",
        "movzx",
        "movsx",
        "movzbl",
        "movzbw",
        "movzwl",
        "movsbl",
        "movsbw",
        "movswl",
        "jmp",
        "jmpl",
        "call",
        "calll",
        "je",
        "jnz",
        "loop",
        "loope",
        "jecxz",
        "jcxz",
        "sete",
        "setneb",
        "cmovl",
        "cmovgw",
        "bswap",
        "xadd",
        "cmpxchgb",
        "bt",
        "btsw",
        "btrl",
        "btc",
        "bsf",
        "bsrw",
        "int",
        "ret",
        "retw",
        "enter",
        "lgdt",
        "sidt",
        "in",
        "inb",
        "out",
        "outl",
        "aam",
        "aad",
        "movs",
        "movsb",
        "stosw",
        "lodsl",
        "cmps",
        "scasb",
        "insb",
        "outsl",
        "hlt",
        "iret",
        "pushf",
        "nop",
        "cpuid",
        "vmcall",
        "int3",
        "rep movsb",
        "lock incl",
        "lock",
        "repne scasb",
    ];
    const OPERANDS: &[&str] = &[
        "%eax",
        "%ebx",
        "%esp",
        "%ax",
        "%si",
        "%al",
        "%ah",
        "%cl",
        "%dx",
        "%es",
        "%ds",
        "%cs",
        "%ss",
        "%fs",
        "%cr0",
        "%cr3",
        "$0",
        "$1",
        "$3",
        "$-1",
        "$127",
        "$128",
        "$0x7fffffff",
        "$0xffffffff",
        "$lbl",
        "$(lbl - 2)",
        "$undefined",
        "(%eax)",
        "4(%ebp)",
        "-8(%esp)",
        "(%eax,%ebx,4)",
        "(,%ecx,2)",
        "lbl",
        "lbl(,%eax,4)",
        "%es:(%edi)",
        "%fs:4(%eax)",
        "(%esi)",
        "(%dx)",
        "*%eax",
        "*(%ebx)",
        "*lbl",
        "0x1000",
        "1b",
        "1f",
        "(%ax)",
        "(%eax,%esp)",
        "%gs:lbl",
    ];
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut accepted = 0;
    for _ in 0..8000 {
        let mut src = String::from("1: lbl: nop\n");
        for _ in 0..1 {
            src += MNEMONICS[rng.below(MNEMONICS.len())];
            let n = rng.below(4);
            for k in 0..n {
                src += if k == 0 { " " } else { ", " };
                src += OPERANDS[rng.below(OPERANDS.len())];
            }
            src.push('\n');
        }
        src += "1: hlt\n";
        if assemble(&src, ORIGIN).is_ok() {
            accepted += 1;
        }
    }
    assert!(accepted > 500, "only {accepted} of 8000 random instructions assembled");
}

#[test]
fn data_that_does_not_fit_is_an_error() {
    assert_eq!(error(".byte 1, 256\n"), "line 1: value 0x100 does not fit in 8 bits");
    assert_eq!(error("x: .word 0x10000\n"), "line 1: value 0x10000 does not fit in 16 bits");
    assert!(error("lbl: .byte lbl\n").contains("does not fit in 8 bits")); // 0x100000 at origin
    assert!(error(".space 2, 300\n").contains("does not fit in a byte"));
    assert!(error("movb $0x1234, %al\n").contains("does not fit in 8 bits"));
    assert!(error("int $256\n").contains("out of range"));
    assert!(assemble(".byte 255, -1, -128\n.word 0xffff, -32768\n.long 0xffffffff\n", ORIGIN).is_ok());
}

#[test]
fn what_gnu_as_only_warns_about_is_an_error_here() {
    assert!(error("jmp %eax\n").contains("needs `*`"));
    assert!(error("lock incl %eax\n").contains("`lock` can't be used"));
    assert!(error("lock movl %eax, (%ebx)\n").contains("`lock` can't be used"));
    assert!(error("rep incl %eax\n").contains("`rep` can't be used"));
    assert!(error("movsb (%edi), (%esi)\n").contains("expects `(%esi)`"));
    assert!(error("lea %fs:4(%eax), %eax\n").contains("segment override on `lea`"));
    assert!(error("movl %ds, (%eax)\n").contains("as a word"));
    assert!(error("mov $(1 <= 2), %eax\n").contains("`<=` can't be used in an instruction operand"));
}

#[test]
fn any_origin_is_safe() {
    let src = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/asm/torture.S")).unwrap();
    for origin in [0, 1, 0x7fff_ffff, 0xffff_f000, 0xffff_ffff] {
        // Near the top of the address space labels wrap; an error is fine, a panic is not.
        let _ = assemble(&src, origin);
        let _ = assemble("jmp x\n.space 300\nx: loop x\n", origin);
    }
    assert_eq!(assemble("start: jmp start", 0).unwrap().image, [0xeb, 0xfe]);
}

#[test]
fn include_errors_name_the_file_and_its_line() {
    use lguest_sim::asm::assemble_with_includes;
    let files = |name: &str| match name {
        "defs.inc" => Some(".equ A, 1\n\nmovx %eax\n".to_string()),
        "loop.inc" => Some(".include \"loop.inc\"\n".to_string()),
        "ok.inc" => Some(".equ B, 2\nlbl: .long B\n".to_string()),
        _ => None,
    };
    let e = assemble_with_includes("nop\n.include \"defs.inc\"\n", ORIGIN, &files).unwrap_err();
    assert!(e[0].to_string().starts_with("line 2: in defs.inc, line 3: unknown instruction `movx`:"));
    let e = assemble_with_includes(".include \"nope.inc\"\n", ORIGIN, &files).unwrap_err();
    assert_eq!(e[0].to_string(), "line 1: cannot find `nope.inc` to include");
    let e = assemble_with_includes(".include \"loop.inc\"\n", ORIGIN, &files).unwrap_err();
    assert!(e[0].message.contains("nested more than"), "{e:?}");
    assert_eq!(error(".include \"x.inc\"\n"), "line 1: cannot find `x.inc` to include");
    let p = assemble_with_includes("nop\n.include \"ok.inc\"\nmov $B, %eax\n", ORIGIN, &files).unwrap();
    assert_eq!(p.symbols["lbl"], ORIGIN + 1);
    assert_eq!(p.lines, [(ORIGIN, 1), (ORIGIN + 1, 2), (ORIGIN + 5, 3)]);
}

#[test]
fn messages_say_how_to_go_on() {
    let e = error("mov $12q, %eax\n");
    assert!(e.contains("bad number `12q`: numbers are decimal"), "{e}");
    let e = error(".long 1 2\n");
    assert!(e.contains("junk `2` after expression (is an operator or a comma missing"), "{e}");
    let e = error("$1\n");
    assert!(e.contains("found `$` (a label ends with `:`"), "{e}");
    let deep = format!("{}nop\n{}", ".rept 1\n".repeat(20), ".endr\n".repeat(20));
    assert!(error(&deep).contains("multiply their counts into one"));
}
