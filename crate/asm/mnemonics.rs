//! Mnemonics: what each name means, before any operand is looked at.
//!
//! GNU as spells one instruction many ways: `add`, `addl`, `addw`; `jz` and `je`; `movzbl` and
//! `movzx`; `sal` for `shl`. [`lookup`] takes a mnemonic as written to its family ([`Fam`], one
//! encoding routine in `encode.rs` each) and the size its suffix names, if any. Instructions
//! without operands are one table, [`FIXED`], of the bytes GNU as emits for them.

use super::parse::{Insn, Operand};

/// Instruction families: one encoding routine each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fam {
    /// add or adc sbb and sub xor cmp, by their /digit.
    Alu(usize),
    Mov,
    Test,
    Xchg,
    /// inc dec not neg mul div idiv (and one-operand imul).
    Unary(usize),
    Imul,
    /// rol ror rcl rcr shl shr sal sar, by their /digit.
    Shift(usize),
    /// shld (true) / shrd (false)
    ShiftDouble(bool),
    Push,
    Pop,
    Lea,
    /// movzx/movsx; `from`/`to` are byte sizes, 0 when the registers decide.
    Movx {
        signed: bool,
        from: u8,
        to: u8,
    },
    Jmp,
    Call,
    Jcc(usize),
    /// loop loope loopne jecxz jcxz
    Loop(usize),
    Setcc(usize),
    Cmov(usize),
    Bswap,
    Xadd,
    Cmpxchg,
    /// bt bts btr btc
    Bt(usize),
    /// bsf (true) / bsr (false)
    BitScan(bool),
    Int,
    Ret,
    Enter,
    /// lgdt lidt sgdt sidt
    Table(usize),
    In,
    Out,
    /// aam (d4) / aad (d5) with an optional base
    Bcd(u8),
    /// String instructions by their byte-sized opcode: movs a4, cmps a6, stos aa, lods ac, scas ae, ins 6c, outs 6e.
    Str(u8),
    Fixed(&'static [u8]),
}

/// Instructions without operands, as the bytes GNU as emits in 32-bit code.
pub const FIXED: &[(&str, &[u8])] = &[
    ("nop", &[0x90]),
    ("hlt", &[0xf4]),
    ("cli", &[0xfa]),
    ("sti", &[0xfb]),
    ("clc", &[0xf8]),
    ("stc", &[0xf9]),
    ("cmc", &[0xf5]),
    ("cld", &[0xfc]),
    ("std", &[0xfd]),
    ("iret", &[0xcf]),
    ("iretl", &[0xcf]),
    ("iretw", &[0x66, 0xcf]),
    ("pushf", &[0x9c]),
    ("pushfl", &[0x9c]),
    ("pushfw", &[0x66, 0x9c]),
    ("popf", &[0x9d]),
    ("popfl", &[0x9d]),
    ("popfw", &[0x66, 0x9d]),
    ("pusha", &[0x60]),
    ("pushal", &[0x60]),
    ("pushaw", &[0x66, 0x60]),
    ("popa", &[0x61]),
    ("popal", &[0x61]),
    ("popaw", &[0x66, 0x61]),
    ("leave", &[0xc9]),
    ("leavel", &[0xc9]),
    ("leavew", &[0x66, 0xc9]),
    ("cpuid", &[0x0f, 0xa2]),
    ("rdtsc", &[0x0f, 0x31]),
    ("rdmsr", &[0x0f, 0x32]),
    ("wrmsr", &[0x0f, 0x30]),
    ("vmcall", &[0x0f, 0x01, 0xc1]),
    ("cwtl", &[0x98]),
    ("cwde", &[0x98]),
    ("cltd", &[0x99]),
    ("cdq", &[0x99]),
    ("cbtw", &[0x66, 0x98]),
    ("cbw", &[0x66, 0x98]),
    ("cwtd", &[0x66, 0x99]),
    ("cwd", &[0x66, 0x99]),
    ("sahf", &[0x9e]),
    ("lahf", &[0x9f]),
    ("daa", &[0x27]),
    ("das", &[0x2f]),
    ("aaa", &[0x37]),
    ("aas", &[0x3f]),
    ("int3", &[0xcc]),
    ("into", &[0xce]),
    ("ud2", &[0x0f, 0x0b]),
    ("wbinvd", &[0x0f, 0x09]),
    ("invd", &[0x0f, 0x08]),
    ("clts", &[0x0f, 0x06]),
    ("pause", &[0xf3, 0x90]),
    ("xlat", &[0xd7]),
    ("xlatb", &[0xd7]),
    ("wait", &[0x9b]),
    ("fwait", &[0x9b]),
];

/// Condition codes in encoding order; several spellings share a number.
const CONDITIONS: &[(&str, usize)] = &[
    ("o", 0),
    ("no", 1),
    ("b", 2),
    ("c", 2),
    ("nae", 2),
    ("ae", 3),
    ("nb", 3),
    ("nc", 3),
    ("e", 4),
    ("z", 4),
    ("ne", 5),
    ("nz", 5),
    ("be", 6),
    ("na", 6),
    ("a", 7),
    ("nbe", 7),
    ("s", 8),
    ("ns", 9),
    ("p", 10),
    ("pe", 10),
    ("np", 11),
    ("po", 11),
    ("l", 12),
    ("nge", 12),
    ("ge", 13),
    ("nl", 13),
    ("le", 14),
    ("ng", 14),
    ("g", 15),
    ("nle", 15),
];

fn condition(s: &str) -> Option<usize> {
    CONDITIONS.iter().find(|(n, _)| *n == s).map(|(_, c)| *c)
}

/// A mnemonic without its size suffix.
fn base(m: &str) -> Option<Fam> {
    use Fam::*;
    const ALU: [&str; 8] = ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"];
    const UNARY: [&str; 7] = ["inc", "dec", "not", "neg", "mul", "div", "idiv"];
    const SHIFT: [&str; 8] = ["rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar"];
    if let Some(i) = ALU.iter().position(|x| *x == m) {
        return Some(Alu(i));
    }
    if let Some(i) = UNARY.iter().position(|x| *x == m) {
        return Some(Unary(i));
    }
    if let Some(i) = SHIFT.iter().position(|x| *x == m) {
        return Some(Shift(i));
    }
    Some(match m {
        "mov" => Mov,
        "test" => Test,
        "xchg" => Xchg,
        "imul" => Imul,
        "shld" => ShiftDouble(true),
        "shrd" => ShiftDouble(false),
        "push" => Push,
        "pop" => Pop,
        "lea" => Lea,
        "movzx" => Movx {
            signed: false,
            from: 0,
            to: 0,
        },
        "movsx" => Movx {
            signed: true,
            from: 0,
            to: 0,
        },
        "jmp" => Jmp,
        "call" => Call,
        "loop" => Loop(0),
        "loope" | "loopz" => Loop(1),
        "loopne" | "loopnz" => Loop(2),
        "jecxz" => Loop(3),
        "jcxz" => Loop(4),
        "bswap" => Bswap,
        "xadd" => Xadd,
        "cmpxchg" => Cmpxchg,
        "bt" => Bt(0),
        "bts" => Bt(1),
        "btr" => Bt(2),
        "btc" => Bt(3),
        "bsf" => BitScan(true),
        "bsr" => BitScan(false),
        "int" => Int,
        "ret" => Ret,
        "enter" => Enter,
        "lgdt" => Table(0),
        "lidt" => Table(1),
        "sgdt" => Table(2),
        "sidt" => Table(3),
        "in" => In,
        "out" => Out,
        "aam" => Bcd(0xd4),
        "aad" => Bcd(0xd5),
        "movs" => Str(0xa4),
        "cmps" => Str(0xa6),
        "stos" => Str(0xaa),
        "lods" => Str(0xac),
        "scas" => Str(0xae),
        "ins" => Str(0x6c),
        "outs" => Str(0x6e),
        _ => {
            if let Some(cc) = m.strip_prefix('j').and_then(condition) {
                return Some(Jcc(cc));
            }
            if let Some(cc) = m.strip_prefix("set").and_then(condition) {
                return Some(Setcc(cc));
            }
            if let Some(cc) = m.strip_prefix("cmov").and_then(condition) {
                return Some(Cmov(cc));
            }
            return None;
        }
    })
}

/// Resolve a mnemonic to its family and size suffix (1, 2 or 4 bytes), if it is one we know.
pub fn lookup(m: &str) -> Option<(Fam, Option<u8>)> {
    if let Some((_, bytes)) = FIXED.iter().find(|(n, _)| *n == m) {
        return Some((Fam::Fixed(bytes), None));
    }
    let movx = |signed, from, to| Some((Fam::Movx { signed, from, to }, None));
    match m {
        "movzbl" => return movx(false, 1, 4),
        "movzbw" => return movx(false, 1, 2),
        "movzwl" => return movx(false, 2, 4),
        "movsbl" => return movx(true, 1, 4),
        "movsbw" => return movx(true, 1, 2),
        "movswl" => return movx(true, 2, 4),
        _ => {}
    }
    if let Some(f) = base(m) {
        return Some((f, None));
    }
    let size = match m.chars().last()? {
        'b' => 1,
        'w' => 2,
        'l' => 4,
        _ => return None,
    };
    let f = base(&m[..m.len() - 1])?;
    let ok = match f {
        Fam::Jcc(_)
        | Fam::Loop(_)
        | Fam::Int
        | Fam::Enter
        | Fam::Bcd(_)
        | Fam::Movx { .. }
        | Fam::Fixed(_) => false,
        Fam::Jmp | Fam::Call | Fam::Bswap | Fam::Table(_) => size == 4,
        Fam::Setcc(_) => size == 1,
        Fam::Cmov(_) | Fam::ShiftDouble(_) | Fam::Lea | Fam::Bt(_) | Fam::BitScan(_) | Fam::Ret => {
            size != 1
        }
        _ => true,
    };
    ok.then_some((f, Some(size)))
}

/// For the layout step: jumps GNU as relaxes (short when the target is near), by condition.
pub fn relaxable(insn: &Insn) -> Option<Option<usize>> {
    let target_is_direct =
        matches!(insn.ops.as_slice(), [Operand::Mem(m)] if m.is_absolute() && m.seg.is_none());
    match lookup(&insn.mnemonic)?.0 {
        Fam::Jmp if target_is_direct => Some(None),
        Fam::Jcc(cc) if target_is_direct => Some(Some(cc)),
        _ => None,
    }
}

/// Size in bytes of a relaxable jump in its short or near form.
pub fn branch_size(cc: Option<usize>, near: bool) -> u32 {
    match (cc, near) {
        (_, false) => 2,
        (None, true) => 5,
        (Some(_), true) => 6,
    }
}
