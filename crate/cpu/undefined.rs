//! Flags an instruction leaves architecturally undefined: where the SDM says "undefined", Intel and AMD
//! parts (and generations of each) produce different values, and the core computes one of them (see
//! `exec/alu.rs`). The Guest CPU pane uses this to say so rather than show that value as fact.
//!
//! Our own table, by mnemonic and, for shifts and rotates, by the masked count: not iced-x86's
//! instruction-info tables, which the page's size budget left out.

use iced_x86::{Instruction, Mnemonic as M, OpKind, Register};

use super::flags::{AF, CF, OF, PF, SF, ZF};
use super::CpuState;

/// The mask of EFLAGS bits `ins` leaves undefined when run from `before` (the state just before it): 0 for
/// an instruction that defines every flag it writes, and for a shift or rotate by a masked count of 0 (it
/// changes no flag at all).
pub fn undefined_mask(ins: &Instruction, before: &CpuState) -> u32 {
    undefined(ins, before).0
}

/// The same flags by name, each with the sentence the page shows ("OF undefined after shl by 3: vendors
/// differ").
pub fn undefined_flags(ins: &Instruction, before: &CpuState) -> Vec<(&'static str, String)> {
    let (mask, after) = undefined(ins, before);
    [(CF, "CF"), (PF, "PF"), (AF, "AF"), (ZF, "ZF"), (SF, "SF"), (OF, "OF")]
        .into_iter()
        .filter(|(bit, _)| mask & bit != 0)
        .map(|(_, f)| (f, format!("{f} undefined after {after}: vendors differ")))
        .collect()
}

/// The mask, and the instruction as the sentence names it (`shl by 3`, `mul`).
fn undefined(ins: &Instruction, before: &CpuState) -> (u32, String) {
    let m = ins.mnemonic();
    let size = match ins.op0_kind() {
        OpKind::Register => ins.op0_register().size() as u32,
        OpKind::Memory => ins.memory_size().size() as u32,
        _ => 4,
    };
    // The count of a shift or rotate (operand 1, or 2 for shld/shrd), masked to 5 bits as the CPU does.
    let count = |n: u32| -> u32 {
        let c = match ins.op_kind(n) {
            OpKind::Immediate8 => ins.immediate8() as u32,
            OpKind::Register if ins.op_register(n) == Register::CL => before.regs[super::ECX] & 0xff,
            _ => 1,
        };
        c & 0x1f
    };
    let name = crate::cpu::att::base_name(m);
    match m {
        M::Shl | M::Sal | M::Shr | M::Sar => {
            let c = count(1);
            let mut f = if c == 0 { 0 } else { AF };
            if c > 1 {
                f |= OF;
            }
            // shl and shr by the operand's width or more leave CF undefined too (sar's is the sign).
            if m != M::Sar && c >= size * 8 {
                f |= CF;
            }
            (f, format!("{name} by {c}"))
        }
        M::Rol | M::Ror | M::Rcl | M::Rcr => {
            let c = count(1);
            (if c > 1 { OF } else { 0 }, format!("{name} by {c}"))
        }
        M::Shld | M::Shrd => {
            let c = count(2);
            let mut f = if c == 0 { 0 } else { AF };
            if c > 1 {
                f |= OF;
            }
            // A 16-bit count past the operand size leaves the result and every flag undefined.
            if c > size * 8 {
                f |= CF | OF | SF | ZF | PF;
            }
            (f, format!("{name} by {c}"))
        }
        M::Mul | M::Imul => (SF | ZF | AF | PF, name),
        M::Div | M::Idiv => (CF | OF | SF | ZF | AF | PF, name),
        M::Bsf | M::Bsr => (CF | OF | SF | AF | PF, if ins.has_rep_prefix() { format!("rep {name}") } else { name }),
        M::Bt | M::Bts | M::Btr | M::Btc => (OF | SF | AF | PF, name),
        M::And | M::Or | M::Xor | M::Test => (AF, name),
        M::Aaa | M::Aas => (OF | SF | ZF | PF, name),
        M::Aam | M::Aad => (OF | AF | CF, name),
        M::Daa | M::Das => (OF, name),
        _ => (0, name),
    }
}
