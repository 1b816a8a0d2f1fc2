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
//! - `encode.rs`: one instruction to bytes through iced-x86's encoder, choosing forms as GNU as does.
//!
//! Errors are values: every problem in a source becomes an [`AsmError`] naming its line, and no
//! input makes the assembler panic.

mod encode;
mod expr;
mod layout;
mod lex;
mod parse;

use std::collections::BTreeMap;

use serde::Serialize;

/// Largest image the assembler builds, so that `.space 0x7fffffff` is an error and not an allocation.
pub const MAX_IMAGE: u32 = 16 << 20;
/// Layout passes before we give up (jump relaxation settles in a handful).
pub const MAX_PASSES: usize = 64;

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
        AsmError {
            line,
            column,
            message: message.into(),
        }
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
    let (stmts, mut errors) = lex::split_statements(source);
    let (items, parse_errors) = parse::parse(&stmts);
    errors.extend(parse_errors);
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        return Err(errors);
    }
    layout::assemble_items(&items, origin)
}
