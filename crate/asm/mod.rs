//! The Guest assembler: the AT&T-syntax source of a lesson's Guest program to the bytes the Guest runs.
//!
//! Lessons let students edit small 32-bit Guest programs and run them again in the browser, so we
//! need an assembler inside the simulator. It accepts what GNU `as --32` accepts for such programs
//! and emits the same bytes, which `tests/asm_gnu.rs` checks against the real `as` and `ld`.
//!
//! The journey of a source through this module, one file per step:
//! - `lex.rs`: comments out, statements split at newlines and `;`, statements into tokens;
//! - `parse.rs`: tokens into items (labels, directives, instructions with AT&T operands);
//! - `expr.rs`: the expressions inside them, with GNU as's precedence;
//! - `layout.rs`: addresses, short-or-near jumps, sections, and the final image;
//! - `mnemonics.rs` and `opcodes.rs`: what each mnemonic means, and the opcode forms of each operation;
//! - `encode.rs`: one instruction to bytes through iced-x86's encoder, choosing forms as GNU as does.
//!
//! Errors are values: every problem in a source becomes an [`AsmError`] naming its line and saying
//! what to change, and no input makes the assembler panic. Nor hang: `budget.rs` bounds the work,
//! the items and the errors of one assembly (limits in `params.rs`), and `tests/asm_hostile.rs`
//! holds the worst sources we know of to it.
//!
//! What it accepts (GNU as, AT&T syntax, `--32`):
//! - comments `#` and `/* */`; `;` between statements; labels `name:` and numeric `1:` with `1f`/`1b`;
//!   `sym = expr`, `.equ`, `.set`;
//! - directives `.text .data .bss .section .globl .global .type .size .code32 .byte .word .short
//!   .long .int .quad .ascii .asciz .string .space .skip .fill .align .balign .p2align .org`,
//!   repetition `.rept`/`.endr` and conditionals `.if .ifeq .ifne .ifdef .ifndef .elseif .else .endif`;
//! - expressions with numbers (`42 0x2a 052 0b101 'a`), symbols, `.`, `+ - * / % << >> & | ^ ~ !`,
//!   comparisons and `&& ||`, in GNU as's precedence;
//! - operands `%reg`, `$imm`, `disp(%base,%index,scale)`, `%es:(%edi)`, `*%eax`, `*(%ebx)`;
//! - the integer instruction set of a 32-bit Guest: arithmetic and logic, moves (segment and
//!   control registers too), `test`, `xchg`, `lea`, `movzx`/`movsx` in every spelling, shifts and
//!   rotates, `shld`/`shrd`, all `imul` forms, `push`/`pop`, jumps, `jcc`, `call`, `ret`, `loop`,
//!   `jecxz`, `setcc`, `cmovcc`, bit tests and scans, `bswap`, `xadd`, `cmpxchg`, string
//!   instructions with `rep`/`repe`/`repne`, `lock`, `int`, `iret`, `enter`/`leave`, `in`/`out`,
//!   `lgdt`/`lidt`/`sgdt`/`sidt`, BCD, `cpuid`, `rdtsc`, `vmcall` and the other one-byte classics.
//!
//! `.include "file"` works when the caller supplies the files ([`assemble_with_includes`]).
//!
//! What it refuses, though GNU as would take it: macros (`.macro`, `.irp`), 16-bit
//! addressing and `.code16`, far jumps and calls, floating point and SIMD, and whatever GNU as
//! only accepts with a warning (an indirect `jmp` without `*`, an operand with no
//! size, a value it would shorten): a student gets an error instead of a surprise.

mod budget;
mod encode;
mod expr;
mod layout;
mod lex;
mod mnemonics;
mod nearest;
mod opcodes;
mod parse;

use std::collections::BTreeMap;

use serde::Serialize;

/// Largest image the assembler builds (`params::ASM_MAX_IMAGE`, named here as before).
pub const MAX_IMAGE: u32 = crate::params::ASM_MAX_IMAGE;
/// Layout passes before we give up (`params::ASM_MAX_PASSES`, named here as before).
pub const MAX_PASSES: usize = crate::params::ASM_MAX_PASSES;

/// An assembled Guest program: a flat image to load at `origin`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Program {
    /// The bytes, starting at `origin`; gaps between sections are zero.
    pub image: Vec<u8>,
    pub origin: u32,
    /// The address of `_start` or `start` if defined, else `origin`.
    pub entry: u32,
    /// Labels and assigned symbols with their values (numeric local labels left out).
    pub symbols: BTreeMap<String, u32>,
    /// `(address, source line)` of each instruction and data directive, sorted by address, so the UI
    /// can highlight the line of the current EIP.
    pub lines: Vec<(u32, usize)>,
    /// Where each section landed: `.text` first, then the others in order of first appearance.
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Section {
    pub name: String,
    pub start: u32,
    pub size: u32,
    /// The largest alignment any `.align` in it asked for.
    pub align: u32,
}

impl Program {
    /// The source line that produced the byte at `addr`, if any (the nearest item at or before it).
    pub fn line_of(&self, addr: u32) -> Option<usize> {
        let i = self.lines.partition_point(|(a, _)| *a <= addr);
        i.checked_sub(1).map(|i| self.lines[i].1)
    }
}

/// One problem in a source, with the 1-based line (0 when it belongs to no line) and column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AsmError {
    pub line: usize,
    pub column: Option<usize>,
    pub message: String,
}

impl AsmError {
    pub fn at(line: usize, column: Option<usize>, message: impl Into<String>) -> Self {
        AsmError { line, column, message: message.into() }
    }
}

/// `error` as an editor or a terminal shows it: `file:line: message`, or `file: message` for a problem of
/// no one line (the layout running out of work, say).
pub fn located(file: &str, error: &AsmError) -> String {
    match error.line {
        0 => format!("{file}: {}", error.message),
        n => format!("{file}:{n}: {}", error.message),
    }
}

impl std::fmt::Display for AsmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

/// Assemble AT&T-syntax 32-bit source for loading at `origin`.
pub fn assemble(source: &str, origin: u32) -> Result<Program, Vec<AsmError>> {
    assemble_with_includes(source, origin, &|_| None)
}

/// [`assemble`], with `include` giving the text of each file an `.include "name"` asks for
/// (None when there is no such file). Items from an included file belong to the `.include` line.
pub fn assemble_with_includes(source: &str, origin: u32, include: &dyn Fn(&str) -> Option<String>) -> Result<Program, Vec<AsmError>> {
    assemble_counting(source, origin, include).0
}

/// [`assemble_with_includes`], also telling how many of its [`crate::params::ASM_WORK`] steps of
/// work the assembly took (for benchmarks, and for tests of how close the worst sources come).
pub fn assemble_counting(source: &str, origin: u32, include: &dyn Fn(&str) -> Option<String>) -> (Result<Program, Vec<AsmError>>, u64) {
    let mut budget = budget::Budget::new();
    let result = assemble_within(source, origin, include, &mut budget);
    (result, budget.spent())
}

fn assemble_within(source: &str, origin: u32, include: &dyn Fn(&str) -> Option<String>, budget: &mut budget::Budget) -> Result<Program, Vec<AsmError>> {
    let mut errors = budget::Errors::new();
    // Lexing is linear in the source: pay for all of it before reading any (a pasted 100 MB file is
    // refused at once).
    if !budget.spend(source.len()) {
        errors.push_limit(budget::out_of_work(0, &format!("the source is {} characters long; make it shorter", source.len())));
        return Err(errors.into_sorted());
    }
    let (stmts, lex_errors) = lex::split_statements(source);
    for e in lex_errors {
        errors.push(e);
    }
    let items = parse::parse(&stmts, include, budget, &mut errors);
    if !errors.is_empty() {
        return Err(errors.into_sorted());
    }
    layout::assemble_items(&items, origin, budget, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(src: &str) -> Vec<u8> {
        match assemble(src, 0x100000) {
            Ok(p) => p.image,
            Err(e) => panic!("{src}: {e:?}"),
        }
    }

    #[test]
    fn gnu_as_encoding_choices() {
        assert_eq!(bytes("mov %eax, %ebx"), [0x89, 0xc3]); // store form, not 8b d8
        assert_eq!(bytes("add $1, %eax"), [0x83, 0xc0, 0x01]); // sign-extended imm8
        assert_eq!(bytes("add $0x100, %eax"), [0x05, 0x00, 0x01, 0x00, 0x00]); // eax short form
        assert_eq!(bytes("add $0x100, %ebx"), [0x81, 0xc3, 0x00, 0x01, 0x00, 0x00]);
        assert_eq!(bytes("xchg %ebx, %eax"), [0x93]);
        assert_eq!(bytes("test $1, %al"), [0xa8, 0x01]);
        assert_eq!(bytes("shl $1, %eax"), [0xd1, 0xe0]); // the d1 form for a shift by one
        assert_eq!(bytes("int $3"), [0xcc]);
        assert_eq!(bytes("int $0x1f"), [0xcd, 0x1f]);
        assert_eq!(bytes("inc %ecx"), [0x41]);
        assert_eq!(bytes("mov foo, %eax\nfoo: .long 0"), [0xa1, 0x05, 0x00, 0x10, 0x00, 0, 0, 0, 0]); // moffs
        assert_eq!(bytes("mov %ds:(%eax), %eax"), [0x8b, 0x00]); // default segment dropped
        assert_eq!(bytes("mov %es:(%edi), %eax"), [0x26, 0x8b, 0x07]);
        assert_eq!(bytes("lock xaddw %ax, (%ebx)"), [0x66, 0xf0, 0x0f, 0xc1, 0x03]); // GNU prefix order
        assert_eq!(bytes("rep stosl"), [0xf3, 0xab]);
        assert_eq!(bytes("vmcall"), [0x0f, 0x01, 0xc1]);
    }

    #[test]
    fn known_values_pick_short_forms_and_labels_do_not() {
        // push $4: 6a 04; push $label: 68 + 4 bytes, even when the label's address is small.
        assert_eq!(bytes(".equ N, 4\npush $N"), [0x6a, 0x04]);
        assert_eq!(bytes("push $N\n.equ N, 4"), [0x68, 4, 0, 0, 0]); // forward: not known while reading
        assert_eq!(bytes("a: nop\nb: push $(b - a)"), [0x90, 0x6a, 0x01]);
        // A constant .space keeps the distance known; an alignment makes it unknown.
        assert_eq!(bytes("a: nop\n.space 100\nb: push $(b - a - 100)")[101..], [0x6a, 0x01]);
        assert_eq!(bytes("a: nop\n.p2align 2\nb: push $(b - a)")[4..], [0x68, 4, 0, 0, 0]);
        assert_eq!(bytes("a: jmp a\nb: push $(b - a)"), [0xeb, 0xfe, 0x68, 2, 0, 0, 0]);
        // across a jump
    }

    #[test]
    fn jumps_relax_to_near_only_when_needed() {
        // 127 bytes ahead: short. 128: near.
        assert_eq!(bytes("jmp x\n.space 127\nx:")[..2], [0xeb, 0x7f]);
        assert_eq!(bytes("jmp x\n.space 128\nx:")[..5], [0xe9, 0x80, 0, 0, 0]);
        assert_eq!(bytes("je x\n.space 128\nx:")[..6], [0x0f, 0x84, 0x80, 0, 0, 0]);
        // Backwards: -128 is the last short one.
        let b = bytes("x: .space 126\njmp x");
        assert_eq!(b[126..], [0xeb, 0x80]);
        let b = bytes("x: .space 127\njmp x");
        assert_eq!(b[127..], [0xe9, 0x7c, 0xff, 0xff, 0xff]);
        // One jump growing pushes another out of range: with `jmp x` short, `jmp y` would reach
        // (126 bytes); `jmp x` cannot (134), and its 3 extra bytes put `y` out of reach too.
        let b = bytes("jmp y\njmp x\n.space 124\ny: .space 10\nx:");
        assert_eq!(b[0], 0xe9);
        assert_eq!(b[5], 0xe9);
    }

    #[test]
    fn alignment_absorbs_growth_as_in_gnu_as() {
        // `jmp back` is in reach (-126) only once `jmp far` has grown and moved `back` by 3 while
        // the .balign kept `jmp back` where it was. GNU as updates in source order and keeps it
        // short; judged on the all-short layout it would look out of reach (-129).
        let b = bytes("jmp far\nback: .space 121\n.balign 8\nnop\njmp back\n.space 200\nfar:");
        assert_eq!(b[..5], [0xe9, 0x46, 0x01, 0, 0]); // as --32: e9 46 01 00 00
        assert_eq!(b[0x81..0x83], [0xeb, 0x82]); // as --32: eb 82
                                                 // `.p2align 4,,0`: a maximum of 0 means no maximum.
        assert_eq!(bytes("nop\n.p2align 4,,0\nhlt").len(), 17);
    }

    #[test]
    fn program_metadata() {
        let src = ".text\n.globl start\nstart:\n  mov $msg, %ebx\n  int $0x1f\n1: jmp 1b\n.data\nmsg: .asciz \"hi\"\n";
        let p = assemble(src, 0x100000).unwrap();
        assert_eq!(p.entry, 0x100000);
        assert_eq!(p.symbols["start"], 0x100000);
        assert_eq!(p.symbols["msg"], 0x100009); // .data right after 9 bytes of .text
        assert!(p.symbols.keys().all(|k| !k.contains('\u{1}')), "local labels stay private");
        assert_eq!(p.lines, [(0x100000, 4), (0x100005, 5), (0x100007, 6), (0x100009, 8)]);
        assert_eq!(p.line_of(0x100006), Some(5));
        assert_eq!(p.line_of(0xfffff), None);
        assert_eq!(p.sections.iter().map(|s| (s.name.as_str(), s.start, s.size)).collect::<Vec<_>>(), [(".text", 0x100000, 9), (".data", 0x100009, 3)]);
        // `_start` wins over `start`; neither means the origin.
        assert_eq!(assemble("nop\n_start: nop\nstart: nop", 0x2000).unwrap().entry, 0x2001);
        assert_eq!(assemble("nop", 0x2000).unwrap().entry, 0x2000);
    }

    #[test]
    fn data_sections_start_at_their_alignment() {
        let p = assemble("nop\n.data\n.balign 4096\nd: .long 1\n", 0x100000).unwrap();
        assert_eq!(p.symbols["d"], 0x101000);
        assert_eq!(p.image.len(), 0x1004);
        assert_eq!(p.image[0x1000..], [1, 0, 0, 0]);
    }

    #[test]
    fn errors_display_with_their_line() {
        let e = assemble("nop\n  movx %eax, %ebx\n", 0).unwrap_err();
        assert_eq!(e[0].to_string(), "line 2: unknown instruction `movx`: did you mean `mov`, `movzx` or `movsx`?");
        assert_eq!(e[0].column, Some(3));
    }
}
