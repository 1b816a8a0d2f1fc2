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

/// Mnemonics without a size suffix, and their families (the condition-code families `j`cc, `set`cc
/// and `cmov`cc are spelled out by [`CONDITIONS`]).
const BASE: &[(&str, Fam)] = {
    use Fam::*;
    &[
        ("add", Alu(0)),
        ("or", Alu(1)),
        ("adc", Alu(2)),
        ("sbb", Alu(3)),
        ("and", Alu(4)),
        ("sub", Alu(5)),
        ("xor", Alu(6)),
        ("cmp", Alu(7)),
        ("inc", Unary(0)),
        ("dec", Unary(1)),
        ("not", Unary(2)),
        ("neg", Unary(3)),
        ("mul", Unary(4)),
        ("div", Unary(5)),
        ("idiv", Unary(6)),
        ("rol", Shift(0)),
        ("ror", Shift(1)),
        ("rcl", Shift(2)),
        ("rcr", Shift(3)),
        ("shl", Shift(4)),
        ("shr", Shift(5)),
        ("sal", Shift(6)),
        ("sar", Shift(7)),
        ("mov", Mov),
        ("test", Test),
        ("xchg", Xchg),
        ("imul", Imul),
        ("shld", ShiftDouble(true)),
        ("shrd", ShiftDouble(false)),
        ("push", Push),
        ("pop", Pop),
        ("lea", Lea),
        ("movzx", Movx { signed: false, from: 0, to: 0 }),
        ("movsx", Movx { signed: true, from: 0, to: 0 }),
        ("jmp", Jmp),
        ("call", Call),
        ("loop", Loop(0)),
        ("loope", Loop(1)),
        ("loopz", Loop(1)),
        ("loopne", Loop(2)),
        ("loopnz", Loop(2)),
        ("jecxz", Loop(3)),
        ("jcxz", Loop(4)),
        ("bswap", Bswap),
        ("xadd", Xadd),
        ("cmpxchg", Cmpxchg),
        ("bt", Bt(0)),
        ("bts", Bt(1)),
        ("btr", Bt(2)),
        ("btc", Bt(3)),
        ("bsf", BitScan(true)),
        ("bsr", BitScan(false)),
        ("int", Int),
        ("ret", Ret),
        ("enter", Enter),
        ("lgdt", Table(0)),
        ("lidt", Table(1)),
        ("sgdt", Table(2)),
        ("sidt", Table(3)),
        ("in", In),
        ("out", Out),
        ("aam", Bcd(0xd4)),
        ("aad", Bcd(0xd5)),
        ("movs", Str(0xa4)),
        ("cmps", Str(0xa6)),
        ("stos", Str(0xaa)),
        ("lods", Str(0xac)),
        ("scas", Str(0xae)),
        ("ins", Str(0x6c)),
        ("outs", Str(0x6e)),
    ]
};

/// How a condition-code family is made from a condition (`Fam::Jcc` and the like).
type FromCondition = fn(usize) -> Fam;

/// The prefixes of the condition-code families, and how each is made from a condition.
const CC_FAMILIES: [(&str, FromCondition); 3] = [("j", Fam::Jcc), ("set", Fam::Setcc), ("cmov", Fam::Cmov)];

/// A mnemonic without its size suffix.
fn base(m: &str) -> Option<Fam> {
    if let Some((_, f)) = BASE.iter().find(|(n, _)| *n == m) {
        return Some(*f);
    }
    CC_FAMILIES.iter().find_map(|(prefix, fam)| m.strip_prefix(prefix).and_then(condition).map(fam))
}

/// `movzx` and `movsx` as GNU as also spells them, with the sizes in the name.
const MOVX: [(&str, bool, u8, u8); 6] =
    [("movzbl", false, 1, 4), ("movzbw", false, 1, 2), ("movzwl", false, 2, 4), ("movsbl", true, 1, 4), ("movsbw", true, 1, 2), ("movswl", true, 2, 4)];

/// Call `f` with every spelling [`lookup`] accepts whose length is in `lengths`: the plain names
/// first, the suffixed ones last (the order in which suggestions are offered). The others are not
/// even built, so a guess for a misspelt mnemonic costs little.
pub fn each_spelling(lengths: std::ops::RangeInclusive<usize>, f: &mut dyn FnMut(&str)) {
    let mut buf = String::new();
    let mut offer = |parts: &[&str], check: bool| {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if !lengths.contains(&len) {
            return;
        }
        buf.clear();
        parts.iter().for_each(|p| buf.push_str(p));
        if !check || lookup(&buf).is_some() {
            f(&buf);
        }
    };
    for suffix in ["", "b", "w", "l"] {
        let check = !suffix.is_empty();
        for (name, _) in BASE {
            offer(&[name, suffix], check);
        }
        for (prefix, _) in CC_FAMILIES {
            for (cc, _) in CONDITIONS {
                offer(&[prefix, cc, suffix], check);
            }
        }
        for m in MOVX {
            offer(&[m.0, suffix], check);
        }
        for (name, _) in FIXED {
            offer(&[name, suffix], check);
        }
    }
}

/// Resolve a mnemonic to its family and size suffix (1, 2 or 4 bytes), if it is one we know.
pub fn lookup(m: &str) -> Option<(Fam, Option<u8>)> {
    if let Some((_, bytes)) = FIXED.iter().find(|(n, _)| *n == m) {
        return Some((Fam::Fixed(bytes), None));
    }
    if let Some((_, signed, from, to)) = MOVX.iter().find(|x| x.0 == m) {
        let (signed, from, to) = (*signed, *from, *to);
        return Some((Fam::Movx { signed, from, to }, None));
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
        Fam::Jcc(_) | Fam::Loop(_) | Fam::Int | Fam::Enter | Fam::Bcd(_) | Fam::Movx { .. } | Fam::Fixed(_) => false,
        Fam::Jmp | Fam::Call | Fam::Bswap | Fam::Table(_) => size == 4,
        Fam::Setcc(_) => size == 1,
        Fam::Cmov(_) | Fam::ShiftDouble(_) | Fam::Lea | Fam::Bt(_) | Fam::BitScan(_) | Fam::Ret => size != 1,
        _ => true,
    };
    ok.then_some((f, Some(size)))
}

/// For the layout step: jumps GNU as relaxes (short when the target is near), by condition.
pub fn relaxable(insn: &Insn) -> Option<Option<usize>> {
    let target_is_direct = matches!(insn.ops.as_slice(), [Operand::Mem(m)] if m.is_absolute() && m.seg.is_none());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_offered_is_one_lookup_knows() {
        let mut all = Vec::new();
        each_spelling(0..=usize::MAX, &mut |n| all.push(n.to_string()));
        assert!(all.iter().all(|n| lookup(n).is_some()));
        for n in ["mov", "movl", "jnz", "setneb", "cmovgw", "movzbl", "cpuid", "loopnz"] {
            assert!(all.iter().any(|s| s == n), "{n} is missing");
        }
        // Plain names before suffixed ones, so a guess offers `mov` before `movl`.
        let pos = |n: &str| all.iter().position(|s| s == n);
        assert!(pos("mov") < pos("movl"));
        // Only the lengths asked for are built.
        let mut short = Vec::new();
        each_spelling(2..=2, &mut |n| short.push(n.to_string()));
        assert!(short.iter().all(|n| n.len() == 2) && short.iter().any(|n| n == "jz"));
    }
}
